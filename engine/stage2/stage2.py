"""Stage 2: LightGBM 4-class classifier of the pivot type (0 HH, 1 LH, 2 HL, 3 LL; never 1..4)
on the bars Stage 1 lets through that are real pivots.

* Inputs: the feature set's features at the signal bar (optionally Stage 1's class
  probabilities), standardised by a scaler fitted on the training samples (saved as JSON).
* Splits: the chronological plan of Stage 1 when it was trained on the same feature set (so
  the test period is unseen by both stages), otherwise a fresh one; purge gap as in
  :mod:`engine.stage2.data`.
* Early stopping on the validation samples (multi_logloss, with multi_error recorded: the
  seed stopped on multi_error, which is flat for many rounds and stops too early).
* 5-fold time-ordered cross-validation (``engine.splits.time_ordered_kfold``: every
  validation block after its training rows, purge respected; never shuffled or stratified)
  over the development samples (train + val), each fold with its own scaler and the number
  of rounds found by early stopping; the test split is never touched by CV.
* Metrics: accuracy, macro F1 / precision / recall, confusion matrix on the Stage 2 samples
  (signal bars that were pivots: the "pivot-only" figures), and what a trader would get
  (:mod:`engine.stage2.evidence`): accuracy / macro-F1 over ALL signal bars of val and test ("no
  pivot" is its own class, always wrong), bootstrap CIs and three baselines on the same bars; a
  summary report with the seed's sections; predictions on every test-split signal bar for the backtest.
* A target pass rate sets the threshold on the VALIDATION split (never on train, where Stage 1's
  probabilities are out-of-fold or in-sample); the pass rate of every split is reported.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import Field

from config import settings
from config.errors import BadInput
from config.typed import check_fields
from engine.splits import SPLITS, SplitPlan, time_ordered_kfold
from engine.stage2 import evidence as ev
from engine.stage2.data import LABEL_NAMES, PairData, label_counts
from engine.stage2.filtering import check_threshold, pass_rates, signal_mask, threshold_for_rate
from engine.stage2.progress import progress
from engine.stage2.stage1 import signal_probability

MODEL_FILE = "model.txt"
SCALER_FILE = "scaler.json"
SUMMARY_FILE = "summary.txt"
CV_FILE = "cv.csv"
PREDICTIONS_FILE = "predictions.parquet"
SIGNALS_FILE = "signals.parquet"
CONFUSION_FILE = "confusion_matrix.csv"
IMPORTANCE_FILE = "feature_importance.csv"
PROBA_COLUMNS = [f"p_{n}" for n in LABEL_NAMES]


Positive = Annotated[int, Field(ge=1)]
Fraction = Annotated[float, Field(gt=0.0, le=1.0)]


@dataclass
class Stage2Config:
    """LightGBM Stage 2 options; the ranges are the annotations (``check`` runs them through pydantic)."""

    threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    # when set: the threshold letting this share of the VALIDATION split through
    pass_rate: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    use_stage1_probs: bool = True
    features: list[str] | None = None  # default: the feature set's usable features
    cv_folds: Annotated[int, Field(ge=2)] = 5
    num_boost_round: Positive = 200
    early_stopping_rounds: Annotated[int, Field(ge=0)] = 20
    learning_rate: Fraction = 0.05
    max_depth: int = 8  # <= 0: no limit (LightGBM)
    num_leaves: Annotated[int, Field(ge=2)] = 31
    feature_fraction: Fraction = 0.8
    bagging_fraction: Fraction = 0.8
    bagging_freq: Annotated[int, Field(ge=0)] = 5
    min_data_in_leaf: Positive = 20
    min_train_samples: Positive = 30
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 42

    def check(self) -> Stage2Config:
        check_threshold(self.threshold)  # its wording ("signal threshold must be between 0 and 1") is the CLI's contract
        return check_fields(self, "stage2")

    def lgb_params(self) -> dict[str, Any]:
        # one thread by default: Stage 2 trains on hundreds to thousands of rows, where OpenMP's
        # thread start-up and spinning cost far more than they bring (measured 0.06 s vs 2.9 s)
        threads = settings.LGB_THREADS.get()
        # the seed's parameters; labels 0..3 with num_class=4
        return {"objective": "multiclass", "num_class": 4, "metric": ["multi_logloss", "multi_error"],
                "learning_rate": self.learning_rate, "max_depth": self.max_depth, "num_leaves": self.num_leaves,
                "feature_fraction": self.feature_fraction, "bagging_fraction": self.bagging_fraction,
                "bagging_freq": self.bagging_freq, "min_data_in_leaf": self.min_data_in_leaf, "seed": self.seed,
                "deterministic": True, "force_col_wise": True, "num_threads": threads, "verbose": -1}


# -- scaler as JSON (never pickle) ---------------------------------------------------------------------
def scaler_to_json(scaler, feature_names: list[str]) -> dict[str, Any]:
    return {"type": "sklearn.preprocessing.StandardScaler", "feature_names": list(feature_names),
            "mean": [float(v) for v in scaler.mean_], "scale": [float(v) for v in scaler.scale_],
            "var": [float(v) for v in scaler.var_], "n_samples_seen": int(np.max(scaler.n_samples_seen_))}


def scaler_from_json(doc: dict[str, Any]):
    """A fitted StandardScaler rebuilt from :func:`scaler_to_json` (for inference on new data)."""
    from sklearn.preprocessing import StandardScaler

    try:
        mean, scale, var = (np.asarray(doc[k], dtype="float64") for k in ("mean", "scale", "var"))
        names = list(doc["feature_names"])
    except (KeyError, TypeError, ValueError) as e:
        raise BadInput(f"scaler.json is malformed: {e}") from None
    if not (len(mean) == len(scale) == len(var) == len(names)):
        raise BadInput("scaler.json: mean, scale, var and feature_names differ in length")
    s = StandardScaler()
    s.mean_, s.scale_, s.var_ = mean, scale, var
    s.n_features_in_ = len(names)
    s.n_samples_seen_ = int(doc.get("n_samples_seen", 0))
    return s


def lgb_names(names: list[str]) -> list[str]:
    """LightGBM refuses some characters in feature names (JSON specials); the originals stay in scaler.json."""
    out = [re.sub(r"[^A-Za-z0-9_]+", "_", n) for n in names]
    seen: dict[str, int] = {}
    for i, n in enumerate(out):
        if n in seen:
            seen[n] += 1
            out[i] = f"{n}_{seen[n]}"
        else:
            seen[n] = 0
    return out


# -- metrics ----------------------------------------------------------------------------------------
def classification_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

    if len(y) == 0:
        return {"n": 0}
    labels = list(range(4))
    return {"n": len(y), "accuracy": float(accuracy_score(y, pred)),
            "f1_macro": float(f1_score(y, pred, labels=labels, average="macro", zero_division=0)),
            "precision_macro": float(precision_score(y, pred, labels=labels, average="macro", zero_division=0)),
            "recall_macro": float(recall_score(y, pred, labels=labels, average="macro", zero_division=0)),
            "f1_per_class": {n: float(v) for n, v in zip(LABEL_NAMES, f1_score(y, pred, labels=labels, average=None,
                                                                                zero_division=0))},
            "confusion_matrix": confusion_matrix(y, pred, labels=labels).tolist()}


def _fit(X: np.ndarray, y: np.ndarray, names: list[str], cfg: Stage2Config, *, valid: tuple | None = None,
         rounds: int | None = None):
    import lightgbm as lgb
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(X)
    lnames = lgb_names(names)
    dtrain = lgb.Dataset(scaler.transform(X), label=y, feature_name=lnames, free_raw_data=True)
    callbacks, valid_sets = [], []
    if valid is not None:
        valid_sets = [lgb.Dataset(scaler.transform(valid[0]), label=valid[1], reference=dtrain)]
        callbacks = [lgb.early_stopping(cfg.early_stopping_rounds, first_metric_only=True, verbose=False)]
    booster = lgb.train(cfg.lgb_params(), dtrain, num_boost_round=rounds or cfg.num_boost_round,
                        valid_sets=valid_sets, valid_names=["val"] if valid_sets else None, callbacks=callbacks)
    return booster, scaler


def _predict(booster, scaler, X: np.ndarray) -> np.ndarray:
    if len(X) == 0:
        return np.zeros((0, 4))
    return booster.predict(scaler.transform(X), num_iteration=booster.best_iteration or None)


# -- training -------------------------------------------------------------------------------------------
def stage1_prob_columns(class_names: list[str]) -> list[str]:
    return [f"s1_p_{c}" for c in class_names]


def train_stage2(pair: PairData, proba: np.ndarray, stage1_classes: list[str], plan: SplitPlan,
                 cfg: Stage2Config, *, oof: np.ndarray | None = None) -> dict[str, Any]:
    """Filter, train, evaluate and cross-validate in memory (:func:`save_stage2` writes it all).
    ``oof``: per bar, True where ``proba`` comes from an out-of-fold Stage 1 (stored as ``s1_oof``)."""
    cfg.check()
    names, s1_cols, X = _input_matrix(pair, proba, stage1_classes, cfg)
    all_names = names + s1_cols
    sig_prob = signal_probability(proba)
    split = pair.split_of(plan)
    threshold = _signal_threshold(sig_prob, split, cfg)
    signals = signal_mask(sig_prob, threshold)
    samples = signals & (pair.pivot == 1)
    y_all = pair.pivot_label.astype("int64")
    idx = {s: np.flatnonzero(samples & (split == s)) for s in SPLITS}
    counts = _sample_counts(pair, sig_prob, split, threshold, signals, samples, y_all, idx, cfg)
    _check_samples(pair, y_all, idx, threshold, cfg)
    progress(0.55, f"training LightGBM on {len(idx['train'])} samples ({len(all_names)} features)")
    booster, scaler = _fit(X[idx["train"]], y_all[idx["train"]], all_names, cfg,
                           valid=(X[idx["val"]], y_all[idx["val"]]))
    best = int(booster.best_iteration or booster.current_iteration())
    perf = {s: classification_metrics(y_all[idx[s]], _predict(booster, scaler, X[idx[s]]).argmax(axis=1))
            for s in SPLITS}
    progress(0.7, f"{cfg.cv_folds}-fold time-ordered cross-validation")
    cv = cross_validate(pair, X, y_all, np.concatenate([idx["train"], idx["val"]]), all_names, cfg, rounds=best)
    majority = int(np.bincount(y_all[idx["train"]], minlength=4).argmax())
    base = ev.baseline_predictions(pair.ts_ns, pair.pivot_label, pair.confirm_ns, majority, _candles(pair))
    s2_pred, evidence, (test_rows, p_test) = _score_signals(pair, booster, scaler, X, signals, split, base)
    pred = _test_predictions(pair, sig_prob, y_all, base, test_rows, p_test)
    importance = pd.DataFrame({"feature": all_names, "gain": booster.feature_importance("gain"),
                               "split_count": booster.feature_importance("split")}).sort_values("gain", ascending=False)
    signals_df = _signals_frame(pair, split, sig_prob, signals, s2_pred, base, stage1_classes, proba, oof)
    return {"booster": booster, "scaler": scaler, "feature_names": all_names, "input_features": names,
            "stage1_features": s1_cols, "threshold": float(threshold), "counts": counts, "performance": perf,
            "cv": cv, "best_iteration": best, "predictions": pred, "importance": importance,
            "signals": signals_df, "plan": plan, "evidence": evidence, "majority_class": majority}


def _input_matrix(pair: PairData, proba: np.ndarray, stage1_classes: list[str], cfg: Stage2Config
                  ) -> tuple[list[str], list[str], np.ndarray]:
    """The input feature names, the Stage 1 probability columns added to them (if any) and the matrix."""
    names = list(cfg.features or pair.feature_names)
    if not names:
        raise BadInput("no input features for Stage 2")
    if proba.shape != (pair.n, len(stage1_classes)):
        raise BadInput(f"Stage 1 probabilities have shape {proba.shape}, expected ({pair.n}, {len(stage1_classes)})")
    X = pair.matrix(names)
    s1_cols = stage1_prob_columns(stage1_classes) if cfg.use_stage1_probs else []
    if s1_cols:
        X = np.hstack([X, proba.astype("float64")])
    return names, s1_cols, X


def _signal_threshold(sig_prob: np.ndarray, split: np.ndarray, cfg: Stage2Config) -> float:
    """The given threshold, or the one that passes ``pass_rate`` of the validation bars."""
    if cfg.pass_rate is None:
        return cfg.threshold
    threshold = threshold_for_rate(sig_prob[split == "val"], cfg.pass_rate)  # chosen on validation, never on train
    if threshold is None:
        raise BadInput("Stage 1 scored no bar of the validation split; cannot set a threshold from a pass rate")
    return threshold


def _sample_counts(pair: PairData, sig_prob: np.ndarray, split: np.ndarray, threshold: float, signals: np.ndarray,
                   samples: np.ndarray, y_all: np.ndarray, idx: dict[str, np.ndarray], cfg: Stage2Config
                   ) -> dict[str, Any]:
    rates = pass_rates(sig_prob, split, threshold)
    return {"bars": pair.n, "scored": int(np.isfinite(sig_prob).sum()), "signals": int(signals.sum()),
            "samples": int(samples.sum()), "threshold": float(threshold),
            "threshold_chosen_on": "validation" if cfg.pass_rate is not None else "given",
            "per_split": {s: rates[s] | {"samples": len(idx[s]), "labels": label_counts(y_all[idx[s]])}
                          for s in SPLITS}}


def _check_samples(pair: PairData, y_all: np.ndarray, idx: dict[str, np.ndarray], threshold: float,
                   cfg: Stage2Config) -> None:
    short = [f"{s} {len(idx[s])}" for s in SPLITS if len(idx[s]) < (cfg.min_train_samples if s == "train" else 5)]
    if short:
        raise BadInput(f"{pair.symbol} {pair.timeframe}: too few Stage 2 samples (signal bars that are real pivots) at "
                       f"threshold {threshold:.3f}: " + ", ".join(short) +
                       f" (need >= {cfg.min_train_samples} train, 5 val and 5 test)",
                       hint="lower the threshold, use a better Stage 1 or more data")
    if len(np.unique(y_all[idx["train"]])) < 2:
        raise BadInput(f"{pair.symbol} {pair.timeframe}: the training samples hold a single pivot type")


def _score_signals(pair: PairData, booster, scaler, X: np.ndarray, signals: np.ndarray, split: np.ndarray,
                   base: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, Any], tuple[np.ndarray, np.ndarray]]:
    """Stage 2 on every val / test signal bar (real pivot or not: at trading time nobody knows yet): the
    predicted class per bar (-1 where none), the evidence per split, and the test rows with their
    probabilities."""
    truth = ev.signal_truth(pair.pivot_label)
    s2_pred = np.full(pair.n, -1, dtype="int64")
    evidence: dict[str, Any] = {}
    ts = pair.frame["timestamp"]
    scored = {}
    for s in ("val", "test"):
        rows = np.flatnonzero(signals & (split == s))
        p = _predict(booster, scaler, X[rows])
        scored[s] = (rows, p)
        s2_pred[rows] = p.argmax(axis=1) if len(rows) else 0
        in_split = split == s
        days = ((ts[in_split].max() - ts[in_split].min()) / pd.Timedelta(days=1) + pair.step_ns / 86_400e9
                if in_split.any() else 0.0)
        evidence[s] = ev.split_evidence(s, truth[rows], s2_pred[rows], {b: v[rows] for b, v in base.items()},
                                        bars=int(in_split.sum()), days=days)
    return s2_pred, evidence, scored["test"]


def _test_predictions(pair: PairData, sig_prob: np.ndarray, y_all: np.ndarray, base: dict[str, np.ndarray],
                      test_rows: np.ndarray, p_test: np.ndarray) -> pd.DataFrame:
    pred = pd.DataFrame({"timestamp": pair.frame["timestamp"].to_numpy()[test_rows], "symbol": pair.symbol,
                         "split": "test", "stage1_prob": sig_prob[test_rows].astype("float64"),
                         "pred_class": p_test.argmax(axis=1).astype("int64") if len(test_rows) else np.zeros(0, "int64")})
    for j, c in enumerate(PROBA_COLUMNS):
        pred[c] = p_test[:, j] if len(test_rows) else np.zeros(0)
    pred["true_class"] = y_all[test_rows]
    for b, v in base.items():
        pred[f"base_{b}"] = v[test_rows]
    return pred


def _signals_frame(pair: PairData, split: np.ndarray, sig_prob: np.ndarray, signals: np.ndarray, s2_pred: np.ndarray,
                   base: dict[str, np.ndarray], stage1_classes: list[str], proba: np.ndarray,
                   oof: np.ndarray | None) -> pd.DataFrame:
    """One row per bar: split, Stage 1 signal probability and decision, the pivot truth, Stage 2's class,
    the baselines and the Stage 1 probabilities."""
    signals_df = pd.DataFrame({"timestamp": pair.frame["timestamp"].to_numpy(), "split": split,
                               "signal_prob": sig_prob, "signal": signals, "pivot": pair.pivot,
                               "pivot_label": pair.pivot_label,
                               "confirm_time": pd.Series(pair.confirm_ns.astype("datetime64[ns]")).dt.tz_localize("UTC")
                               .where(pair.confirm_ns >= 0),
                               "pred_class": s2_pred})
    for b, v in base.items():
        signals_df[f"base_{b}"] = v
    for c, col in zip(stage1_prob_columns(stage1_classes), proba.T):
        signals_df[c] = col
    signals_df["s1_oof"] = np.zeros(pair.n, bool) if oof is None else np.asarray(oof, bool)
    return signals_df


def _candles(pair: PairData) -> pd.DataFrame | None:
    """high, low, close aligned to the pair's bars for the price heuristic (None when the pair has no candles)."""
    try:
        m = pair.matrix(["high", "low", "close"])
    except BadInput:
        return None
    return pd.DataFrame(m, columns=["high", "low", "close"])


def cross_validate(pair: PairData, X: np.ndarray, y: np.ndarray, dev_rows: np.ndarray, names: list[str],
                   cfg: Stage2Config, *, rounds: int) -> pd.DataFrame:
    """Time-ordered k-fold over the development samples (rows of ``pair``), purge = ``pair.purge_bars``."""
    dev_rows = np.sort(dev_rows)
    ts = pair.frame["timestamp"].to_numpy()[dev_rows]
    folds = time_ordered_kfold(ts, pair.timeframe, k=cfg.cv_folds, purge_bars=pair.purge_bars, min_train=10)
    rows = []
    for j, (tr, va) in enumerate(folds, start=1):
        booster, scaler = _fit(X[dev_rows[tr]], y[dev_rows[tr]], names, cfg, rounds=rounds)
        m = classification_metrics(y[dev_rows[va]], _predict(booster, scaler, X[dev_rows[va]]).argmax(axis=1))
        rows.append({"fold": j, "n_train": len(tr), "n_val": len(va),
                     "train_start": pd.Timestamp(ts[tr].min()), "train_end": pd.Timestamp(ts[tr].max()),
                     "val_start": pd.Timestamp(ts[va].min()), "val_end": pd.Timestamp(ts[va].max()),
                     "accuracy": m["accuracy"], "f1_macro": m["f1_macro"], "precision_macro": m["precision_macro"],
                     "recall_macro": m["recall_macro"]})
    return pd.DataFrame(rows)


def cv_summary(cv: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {"folds": len(cv)}
    for col in ("accuracy", "f1_macro"):
        v = cv[col].to_numpy(dtype="float64")
        out[col] = {"mean": float(v.mean()), "std": float(v.std(ddof=0)), "min": float(v.min()), "max": float(v.max())}
    return out


def flat_metrics(res: dict[str, Any]) -> dict[str, Any]:
    """Numbers for the manifest / catalog (filterable: test_accuracy, cv.accuracy_mean, ...)."""
    perf, cvs = res["performance"], cv_summary(res["cv"])
    m: dict[str, Any] = {}
    for s in SPLITS:
        if perf[s].get("n"):
            m[f"{s}_accuracy"] = perf[s]["accuracy"]
    for k in ("f1_macro", "precision_macro", "recall_macro"):
        m[f"test_{k}"] = perf["test"][k]
    m["cv"] = {"accuracy_mean": cvs["accuracy"]["mean"], "accuracy_std": cvs["accuracy"]["std"],
               "accuracy_min": cvs["accuracy"]["min"], "accuracy_max": cvs["accuracy"]["max"],
               "f1_macro_mean": cvs["f1_macro"]["mean"], "f1_macro_std": cvs["f1_macro"]["std"]}
    c = res["counts"]
    m["signals"] = c["signals"]
    m["samples"] = c["samples"]
    m["pass_rate"] = {s: c["per_split"][s]["pass_rate"] for s in SPLITS if c["per_split"][s]["pass_rate"] is not None}
    m["threshold"] = res["threshold"]
    for s, e in (res.get("evidence") or {}).items():
        for k in ("accuracy_signals", "macro_f1_signals", "accuracy_pivots"):
            if e.get(k) is not None:
                m[f"{s}_{k}"] = e[k]
        m[f"{s}_signals"] = e["signals"]
        m[f"{s}_pivots"] = e["pivots"]
        base = {k: v for k, v in e["baselines"].items() if v is not None}
        if base:
            m[f"{s}_best_baseline"] = max(base.values())
    return m


def evidence_lines(evidence: dict[str, Any]) -> list[str]:
    """The summary report's section on what a trader would get (every signal bar of val / test)."""
    def f(v, ci=None):
        txt = "-" if v is None else f"{v:.4f}"
        return txt + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")

    lines = ["What a trader would get (ALL Stage 1 signal bars; 'no pivot' bars count as wrong; 95% bootstrap CI):"]
    for s in ("val", "test"):
        e = evidence.get(s)
        if not e:
            continue
        u = e["uncertainty"]
        lines += [(f"  {s.capitalize()}: {e['signals']} signals, {e['pivots']} pivots, {e['no_pivot']} not pivots, "
                   f"{e['sample']['days']:.1f} days"),
                  f"    Accuracy (signals): {f(e['accuracy_signals'], u.get('accuracy_signals'))}",
                  f"    Macro F1 (signals): {f(e['macro_f1_signals'], u.get('macro_f1_signals'))}",
                  f"    Accuracy (pivots only, not knowable at the bar): {f(e['accuracy_pivots'], u.get('accuracy_pivots'))}",
                  "    Baselines (signals / pivots only): " + ", ".join(
                      f"{b} {f(v)} / {f(e['baselines_pivots'][b])}" for b, v in e["baselines"].items())]
    return lines


# -- report -------------------------------------------------------------------------------------------
def _size(nbytes: int) -> str:
    return f"{nbytes / 1024:.1f} KB" if nbytes < 1 << 20 else f"{nbytes / (1 << 20):.2f} MB"


def summary_report(pair: PairData, res: dict[str, Any], *, stage1_id: str, location: str,
                   files: list[tuple[str, int]], warnings: list[str]) -> str:
    """The seed's summary (data preparation, splits, performance, CV, saved files), plus the
    confusion matrix, the per-fold table and the split dates."""
    c, perf, cv = res["counts"], res["performance"], res["cv"]
    cvs = cv_summary(cv)
    bar = "=" * 80
    pct = 100.0 * c["signals"] / c["scored"] if c["scored"] else 0.0
    lines = [bar, f"STAGE 2 TRAINING SUMMARY - {pair.symbol} {pair.timeframe}", bar, "",
             "Data Preparation:",
             f"  Original K-bars: {c['bars']:,}",
             f"  Scored by Stage 1: {c['scored']:,} (model {stage1_id})",
             f"  Stage 1 Signals: {c['signals']:,} ({pct:.2f}%) at threshold {res['threshold']:.4f}",
             f"  Stage 2 Valid: {c['samples']:,} (signal bars that are real pivots)", ""]
    lines.append(f"Stage 1 pass rate per split (threshold {'chosen on validation' if c.get('threshold_chosen_on') == 'validation' else 'given'}):")
    for s in SPLITS:
        r = c["per_split"][s]
        rate = f"{100 * r['pass_rate']:.2f}%" if r["pass_rate"] is not None else "n/a"
        lines.append(f"  {s.capitalize():<5}: {r['signals']:,} / {r['scored']:,} ({rate})")
    oof = res.get("stage1_oof") or {}
    if oof.get("stage1_oof"):
        info = oof.get("stage1_oof_info") or {}
        lines.append(f"  Stage 1 probabilities on the train split: out-of-fold ({info.get('folds', '?')} time-ordered folds, "
                     f"purge {info.get('purge_bars', '?')} bars; the first block has none)")
    elif oof:
        lines.append("  Stage 1 probabilities on the train split: NOT out-of-fold (see Warnings)")
    plan = res["plan"]
    lines += ["", f"Train/Val/Test Split (chronological, purge {plan.purge_bars} bars):"]
    for s, (a, b) in plan.ranges().items():
        r = c["per_split"][s]
        labels = ", ".join(f"{k} {v}" for k, v in r["labels"].items())
        lines.append(f"  {s.capitalize()}: {r['samples']:,}  [{a:%Y-%m-%d %H:%M} -> {b:%Y-%m-%d %H:%M}]  ({labels})")
    lines += ["", "Model Performance:"]
    for s in SPLITS:
        if perf[s].get("n"):
            lines.append(f"  {s.capitalize()} Accuracy (pivots only): {perf[s]['accuracy']:.4f}")
    t = perf["test"]
    lines += [f"  Test F1-Score (macro): {t['f1_macro']:.4f}", f"  Test Precision (macro): {t['precision_macro']:.4f}",
              f"  Test Recall (macro): {t['recall_macro']:.4f}", f"  Best iteration: {res['best_iteration']}", "",
              "  Confusion matrix (test; rows = true, columns = predicted):",
              "        " + "".join(f"{n:>7}" for n in LABEL_NAMES)]
    for n, row in zip(LABEL_NAMES, t["confusion_matrix"]):
        lines.append(f"    {n:<4}" + "".join(f"{v:>7}" for v in row))
    if res.get("evidence"):
        lines += [""] + evidence_lines(res["evidence"])
    a, f = cvs["accuracy"], cvs["f1_macro"]
    lines += ["", f"Cross-Validation ({cvs['folds']}-fold, time-ordered, purge {pair.purge_bars} bars, train+val samples):",
              f"  Mean Accuracy: {a['mean']:.4f} +/- {a['std']:.4f}",
              f"  Min Accuracy: {a['min']:.4f}", f"  Max Accuracy: {a['max']:.4f}",
              f"  Mean F1 (macro): {f['mean']:.4f} +/- {f['std']:.4f}"]
    for r in cv.itertuples():
        lines.append(f"    fold {r.fold}: train {r.n_train:>5} (to {r.train_end:%Y-%m-%d}), val {r.n_val:>5} "
                     f"({r.val_start:%Y-%m-%d} -> {r.val_end:%Y-%m-%d}): accuracy {r.accuracy:.4f}, F1 {r.f1_macro:.4f}")
    if warnings:
        lines += ["", "Warnings:"] + [f"  - {w}" for w in warnings]
    lines += ["", "Models Saved:", f"  Location: {location}"]
    lines += [f"    - {name} ({_size(size)})" for name, size in files]
    lines.append(bar)
    return "\n".join(lines) + "\n"


def config_params(cfg: Stage2Config) -> dict[str, Any]:
    return {k: v for k, v in asdict(cfg).items() if k != "features"}
