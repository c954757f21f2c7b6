"""Model artifacts that follow docs/CONTRACTS.md ("Model artifacts and predictions"), built
from REAL sample candles, for backtest tests: a noisy predictor that peeks at the real
future return (so its signals carry real information and every code path runs for real
through vectorbt), with the split plan recorded the way training records it."""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.store import load_candles, series_id
from engine.data.timeframes import bars_for
from engine.splits import chronological_split, walk_forward
from storage.artifacts import create_artifact

HORIZONS = ("1h", "4h")


def _future_return(close: np.ndarray, h: int) -> np.ndarray:
    fr = np.full(len(close), np.nan)
    fr[:-h] = close[h:] / close[:-h] - 1
    return fr


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _plans(ts, tf, walk_forward_folds):
    if walk_forward_folds:
        return walk_forward(ts, tf, n_folds=walk_forward_folds, purge_bars=48, initial_frac=0.6)
    return [chronological_split(ts, tf, purge_bars=48)]


def _rows(ws, symbols, tf, plans, all_splits, wf):
    """Per symbol: candles and, for each row to predict, its split / fold label."""
    out = []
    for sym in symbols:
        c = load_candles(ws, sym, tf)
        ts = c["timestamp"]
        if wf:
            for i, p in enumerate(plans):
                m = p.mask(ts, "test")
                out.append((sym, c[m].index.to_numpy(), c, "test", i))
                if all_splits:  # rows the fold trained on, labelled as such (must be ignored)
                    mt = p.mask(ts, "train")
                    out.append((sym, c[mt].index.to_numpy(), c, "train", i))
        else:
            lab = plans[0].assign(ts)
            keep = lab != "" if all_splits else lab == "test"
            out.append((sym, np.flatnonzero(keep), c, None, None))
    return out


def make_model(ws, kind: str = "direction", symbols=("BTCUSDT",), *, tf: str = "15m", noise: float = 1.0, seed: int = 0,
               all_splits: bool = False, walk_forward_folds: int = 0, parents=(), split_override=None,
               poison_train: bool = False, fold_base: int = 0, return_head: bool = True) -> str:
    """Create a ``model`` (direction | patchtst) or ``stage2`` artifact; returns its id.

    ``noise``: std of the noise added to the peeked signal (larger = less accurate).
    ``all_splits``: also write train/val prediction rows (labelled) that the backtest must ignore.
    ``poison_train``: the ignored rows carry inverted signals, so using them would show.
    ``fold_base``: walk-forward fold labels count from 0 or 1 (training writes 1, 2, ...).
    ``return_head``: a PatchTST model without a future-return head has only class probabilities.
    """
    rng = np.random.default_rng(seed)
    base = load_candles(ws, symbols[0], tf)
    plans = split_override or _plans(base["timestamp"], tf, walk_forward_folds)
    wf = bool(walk_forward_folds)
    frames = []
    for sym, idx, c, split_label, fold in _rows(ws, symbols, tf, plans, all_splits, wf):
        close = c["close"].to_numpy("float64")
        labels = plans[0].assign(c["timestamp"]) if not wf else None
        df = pd.DataFrame({"timestamp": c["timestamp"].to_numpy()[idx], "symbol": sym})
        df["split"] = split_label if wf else labels[idx]
        if wf:
            df["fold"] = fold + fold_base
        sign = np.where(df["split"].to_numpy() == "test", 1.0, -1.0 if poison_train else 1.0)
        if kind == "direction":
            for h in HORIZONS:
                fr = _future_return(close, bars_for(h, tf))[idx]
                z = np.nan_to_num(fr / np.nanstd(fr), nan=0.0) * sign
                logits = np.column_stack([-2 * z, np.zeros(len(z)), 2 * z]) + rng.normal(0, noise, (len(z), 3))
                p = _softmax(logits)
                df[f"p_down_{h}"], df[f"p_flat_{h}"], df[f"p_up_{h}"] = p[:, 0], p[:, 1], p[:, 2]
        elif kind == "patchtst":
            for h in HORIZONS:
                fr = _future_return(close, bars_for(h, tf))[idx]
                sd = np.nanstd(fr)
                z = np.nan_to_num(fr / sd, nan=0.0) * sign
                if return_head:
                    df[f"pred_future_return_{h}"] = np.nan_to_num(fr, nan=0.0) * 0.5 * sign + rng.normal(0, noise * sd, len(fr))
                p = _softmax(np.column_stack([-2 * z, np.zeros(len(z)), 2 * z]) + rng.normal(0, noise, (len(z), 3)))
                for k in range(3):  # the class head of direction_<h>: 0 DOWN, 1 FLAT, 2 UP
                    df[f"p_direction_{h}_{k}"] = p[:, k]
        elif kind == "stage2":
            # pivots of the real series (perfect foresight over +-16 bars): lows -> HL/LL, highs -> HH/LH
            s = pd.Series(close)
            lo = (s == s.rolling(33, center=True).min()).to_numpy()[idx]
            hi = (s == s.rolling(33, center=True).max()).to_numpy()[idx]
            flip = rng.random(len(idx)) < min(0.45, 0.1 * noise)  # some wrong calls
            lo, hi = np.where(flip, hi, lo), np.where(flip, lo, hi)
            ev = lo | hi
            cls = np.where(lo, 2 + (rng.random(len(idx)) < 0.5), np.where(hi, rng.random(len(idx)) < 0.5, -1))
            if poison_train:
                cls = np.where(sign < 0, np.where(cls >= 2, 0, np.where(cls >= 0, 2, -1)), cls)
            df = df[ev].copy()
            cls = cls[ev]
            conf = rng.uniform(0.4, 0.95, len(df))
            probs = np.full((len(df), 4), 0.0)
            probs[np.arange(len(df)), cls] = conf
            probs += ((1 - conf) / 4)[:, None]
            probs /= probs.sum(axis=1, keepdims=True)
            df["stage1_prob"] = rng.uniform(0.5, 1.0, len(df))
            df["pred_class"] = cls
            for j, name in enumerate(("HH", "LH", "HL", "LL")):
                df[f"p_{name}"] = probs[:, j]
            df["true_class"] = cls
        else:
            raise ValueError(kind)
        frames.append(df)
    pred = pd.concat(frames, ignore_index=True)
    art_kind = "stage2" if kind == "stage2" else "model"
    params = {} if kind == "stage2" else {"model": kind}
    with create_artifact(ws, art_kind, name=f"fake {kind}", symbols=list(symbols), timeframe=tf, params=params,
                         parents=list(parents) or [series_id(s, tf) for s in symbols]) as d:
        pred.to_parquet(d.path("predictions.parquet"), index=False)
        if wf:
            d.manifest.extra = {"folds": [p.to_dict() for p in plans], "horizons": list(HORIZONS)}
        else:
            d.manifest.extra = {"split": plans[0].to_dict(), "horizons": list(HORIZONS)}
        return d.id


def make_stage1(ws, *, symbol="BTCUSDT", tf="15m", split=None) -> str:
    """A Stage 1 artifact (only its manifest matters to the backtest): with a split plan when
    trained locally, without one when imported from the Hub."""
    with create_artifact(ws, "stage1", name="fake stage1", symbols=[symbol], timeframe=tf,
                         origin="local" if split is not None else "huggingface:someone/v1_model") as d:
        d.path("v1_model/params.json").write_text("{}")
        d.manifest.extra = {"split": split.to_dict()} if split is not None else {}
        return d.id
