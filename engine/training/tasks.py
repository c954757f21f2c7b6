"""What differs between the two models, behind one small interface the trainer drives
(as FreqAI's base class drives its ~50-line models): which targets, which model, which
loss, which metrics, which prediction columns."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from engine.training.config import TrainConfig
from engine.training.dataset import TargetSpec, WindowSet, target_specs
from engine.training.losses import DirectionalTradingLoss, MultiTaskLoss
from engine.training.metrics import (
    binary_metrics,
    class_prior,
    classification_metrics,
    mean_of,
    pool,
    regression_metrics,
    trade_pnl,
    trading_metrics,
)

CLASS_NAMES = ("down", "flat", "up")


def direction_target(h: str) -> str:
    return f"direction_{h}"


def return_target(h: str) -> str:
    return f"future_return_{h}"


def run_costs(cfg: TrainConfig, symbols: list[str]) -> dict[str, Any]:
    """The costs a run uses, from the one cost model (``engine.costs``): the round trip of the run's
    symbols' market, 2 x (taker fee + slippage), for the DirectionalTradingLoss and the per-epoch
    trading metrics; ``loss.direction.fee`` / ``training.trading_fee`` (round-trip fractions) override
    it when set. Recorded in run.json and the model manifest (``extra.costs``)."""
    from engine.costs import load_costs

    cm = load_costs()
    rt = cm.round_trip(list(symbols))
    lf, tf = cfg.loss.direction.fee, cfg.training.trading_fee
    return {"cost_model": cm.to_dict(), "symbols": sorted(symbols), "round_trip": rt,
            "loss_fee": float(rt if lf is None else lf), "trading_fee": float(rt if tf is None else tf),
            "overrides": {k: v for k, v in (("loss.direction.fee", lf), ("training.trading_fee", tf)) if v is not None}}


class Task:
    """What a model kind learns and how it is scored. A new kind subclasses this (or a task it resembles),
    sets ``kind`` to its registered name (engine/model_kinds.py) and implements the methods below; the
    class methods say, before anything is built, which targets a run learns and which raw columns ride along."""

    kind = ""
    part_names: Sequence[str] = ()  # subclasses set a tuple or, per instance, a list
    loss_fn: torch.nn.Module
    pooled_classes = False  # headline accuracy / macro-F1 pooled over all class targets (else per target)

    # what a run learns (used by engine.training.run.prepare before any window is built) ---------------
    @classmethod
    def choose_targets(cls, cfg: TrainConfig, available: list[str], requested: list[str] | None) -> list[str]:
        """The target columns a run learns: ``--targets``, else data.targets, else all of the feature set."""
        return list(requested or cfg.data.targets or available)

    @classmethod
    def target_specs_for(cls, cfg: TrainConfig, meta: dict[str, dict], names: list[str]) -> list[TargetSpec]:
        return target_specs(meta, names)

    @classmethod
    def aux_for(cls, cfg: TrainConfig, names: list[str]) -> list[str]:
        """Target columns carried raw beside the learned ones (the future returns the trading metrics use)."""
        return [return_target(h) for h in cfg.data.horizons if return_target(h) in names or direction_target(h) in names]

    @classmethod
    def horizons_for(cls, cfg: TrainConfig, specs: list[TargetSpec]) -> list[str]:
        """The horizons a finished model predicts (manifest ``extra.horizons``)."""
        from engine.training.config import HORIZONS

        return [h for h in HORIZONS if h in {s.horizon for s in specs}]

    def __init__(self, data: WindowSet, cfg: TrainConfig, costs: dict[str, Any] | None = None):
        self.data, self.cfg = data, cfg
        self.costs = costs or run_costs(cfg, sorted({str(x) for x in np.unique(data.symbols)}))
        self.fee = self.costs["trading_fee"]

    def model_kwargs(self) -> dict[str, Any]:
        raise NotImplementedError

    def loss(self, out: torch.Tensor, y: torch.Tensor, aux: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def metrics(self, out: np.ndarray, ends: np.ndarray) -> dict[str, Any]:
        raise NotImplementedError

    def prediction_columns(self, out: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def to(self, device: torch.device) -> Task:
        self.loss_fn.to(device)
        return self

    # shared helpers ------------------------------------------------------------------
    def _aux(self, name: str, ends: np.ndarray) -> np.ndarray:
        return self.data.aux[torch.as_tensor(ends, device=self.data.aux.device), self.data.aux_names.index(name)].cpu().numpy()

    @staticmethod
    def _trading_summary(per_h: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Pooled over the horizons (total gains / total losses, wins / trades ...), never a mean of
        the per-horizon ratios; those stay beside it as ``<metric>_<h>``."""
        out: dict[str, Any] = pool(list(per_h.values()))
        for key in ("directional_accuracy", "win_rate", "profit_factor", "trade_rate", "pnl_per_trade", "trades"):
            for h, m in per_h.items():
                out[f"{key}_{h}"] = m.get(key)
        return out

    def trading_predictions(self, out: np.ndarray) -> dict[str, np.ndarray]:
        """{horizon: predicted class 0 DOWN / 1 FLAT / 2 UP} of the horizons that are traded."""
        raise NotImplementedError

    def class_pairs(self, out: np.ndarray, ends: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray, int, int]]:
        """[(target, labels (NaN = unknown), predicted class, k, train majority class)] of the class targets."""
        raise NotImplementedError

    def trade_table(self, out: np.ndarray, ends: np.ndarray) -> pd.DataFrame:
        """One row per trade of the windows ``ends``: timestamp, symbol, horizon, hold_seconds, side,
        ret (realised), pnl (after the round-trip fee)."""
        from engine.data.timeframes import bars_for, tf_seconds

        ts = pd.to_datetime(self.data.timestamps[ends], utc=True)
        sym = np.asarray(self.data.symbols[ends]).astype(str)
        frames = []
        for h, pred in self.trading_predictions(out).items():
            r = self._aux(return_target(h), ends)
            idx, side, pnl = trade_pnl(pred, r, self.fee)
            frames.append(pd.DataFrame({"timestamp": ts[idx], "symbol": sym[idx], "horizon": h,
                                        "hold_seconds": bars_for(h, self.data.timeframe) * tf_seconds(self.data.timeframe),
                                        "side": side.astype("int8"), "ret": r[idx].astype("float64"), "pnl": pnl}))
        cols = ["timestamp", "symbol", "horizon", "hold_seconds", "side", "ret", "pnl"]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)

    def class_table(self, out: np.ndarray, ends: np.ndarray) -> pd.DataFrame:
        """One row per known label of each class target: target, timestamp, symbol, y, pred, base (majority), k."""
        ts = pd.to_datetime(self.data.timestamps[ends], utc=True)
        sym = np.asarray(self.data.symbols[ends]).astype(str)
        frames = []
        for name, labels, pred, k, major in self.class_pairs(out, ends):
            ok = np.isfinite(labels)
            frames.append(pd.DataFrame({"target": name, "timestamp": ts[ok], "symbol": sym[ok],
                                        "y": labels[ok].astype("int8"), "pred": pred[ok].astype("int8"),
                                        "base": np.int8(major), "k": np.int8(k)}))
        cols = ["target", "timestamp", "symbol", "y", "pred", "base", "k"]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


class DirectionTask(Task):
    """DOWN / FLAT / UP per horizon, trained with :class:`DirectionalTradingLoss`."""

    kind = "direction"
    part_names = ("ce", "pnl")
    pooled_classes = True

    def __init__(self, data: WindowSet, cfg: TrainConfig, costs: dict[str, Any] | None = None):
        super().__init__(data, cfg, costs)
        self.horizons = list(cfg.data.horizons)
        train = data.ends["train"]
        r = data.aux[torch.as_tensor(train)].numpy()
        scale = [float(np.nanstd(r[:, i])) if np.isfinite(r[:, i]).sum() > 1 else 1.0 for i in range(r.shape[1])]
        lc = cfg.loss.direction
        self.loss_fn = DirectionalTradingLoss(fee=self.costs["loss_fee"], ce_weight=lc.ce_weight, pnl_weight=lc.pnl_weight,
                                              return_scale=[s or 1.0 for s in scale], label_smoothing=lc.label_smoothing)
        self.priors = [class_prior(data.y_raw[train, j], 3) for j in range(len(self.horizons))]

    @staticmethod
    def specs(horizons: list[str]) -> list[TargetSpec]:
        return [TargetSpec(direction_target(h), "multiclass", 3, h) for h in horizons]

    @staticmethod
    def aux_names(horizons: list[str]) -> list[str]:
        return [return_target(h) for h in horizons]

    @classmethod
    def choose_targets(cls, cfg, available, requested):
        return [direction_target(h) for h in cfg.data.horizons]

    @classmethod
    def target_specs_for(cls, cfg, meta, names):
        return cls.specs(list(cfg.data.horizons))

    @classmethod
    def aux_for(cls, cfg, names):
        return cls.aux_names(list(cfg.data.horizons))

    @classmethod
    def horizons_for(cls, cfg, specs):
        return list(cfg.data.horizons)

    def model_kwargs(self) -> dict[str, Any]:
        m = self.cfg.model.direction
        return {"n_features": len(self.data.feature_names), "context": self.data.context, "n_horizons": len(self.horizons),
                "hidden": m.hidden, "n_blocks": m.n_blocks, "kernel_size": m.kernel_size, "dropout": m.dropout}

    def loss(self, out, y, aux):
        return self.loss_fn(out, y, aux)

    def metrics(self, out: np.ndarray, ends: np.ndarray) -> dict[str, Any]:
        proba = _softmax(out)  # (N, H, 3)
        res: dict[str, Any] = {}
        per_h = {}
        cls = {}
        for j, h in enumerate(self.horizons):
            labels = self.data.y_raw[ends, j]
            cls[h] = classification_metrics(proba[:, j], labels, self.priors[j])
            per_h[h] = trading_metrics(proba[:, j].argmax(1), self._aux(return_target(h), ends), self.fee)
        for key in ("accuracy", "baseline_accuracy", "log_loss", "baseline_log_loss", "macro_f1"):
            res[key] = mean_of([c.get(key) for c in cls.values()])
            for h, c in cls.items():
                res[f"{key}_{h}"] = c.get(key)
        # accuracy pooled over every (window, horizon) prediction, not a mean of per-horizon accuracies
        n = sum(c.get("n", 0) for c in cls.values())
        if n:
            for key in ("accuracy", "baseline_accuracy"):
                res[key] = float(sum(c[key] * c["n"] for c in cls.values() if c.get("n")) / n)
        return res | self._trading_summary(per_h)

    def trading_predictions(self, out: np.ndarray) -> dict[str, np.ndarray]:
        proba = _softmax(out)
        return {h: proba[:, j].argmax(1) for j, h in enumerate(self.horizons)}

    def class_pairs(self, out, ends):
        proba = _softmax(out)
        return [(direction_target(h), self.data.y_raw[ends, j], proba[:, j].argmax(1), 3, int(np.argmax(self.priors[j])))
                for j, h in enumerate(self.horizons)]

    def prediction_columns(self, out: np.ndarray) -> dict[str, np.ndarray]:
        proba = _softmax(out)
        return {f"p_{c}_{h}": proba[:, j, k].astype("float32") for j, h in enumerate(self.horizons)
                for k, c in enumerate(CLASS_NAMES)}


class PatchTSTTask(Task):
    """All (or the chosen) targets at once with :class:`MultiTaskLoss`."""

    kind = "patchtst"

    def __init__(self, data: WindowSet, cfg: TrainConfig, costs: dict[str, Any] | None = None):
        super().__init__(data, cfg, costs)
        lc = cfg.loss
        self.specs = data.specs
        self.loss_fn = MultiTaskLoss(self.specs, type_weights=lc.type_weights, target_weights=lc.target_weights,
                                     regression=lc.regression, huber_delta=lc.huber_delta, label_smoothing=lc.label_smoothing)
        self.part_names = [s.name for s in self.specs]
        self.starts = np.cumsum([0] + [s.n_classes for s in self.specs])[:-1]
        train = data.ends["train"]
        self.priors = {s.name: class_prior(data.y_raw[train, j], max(s.n_classes, 2))
                       for j, s in enumerate(self.specs) if s.is_class}
        self.medians = {s.name: float(np.nanmedian(data.y_raw[train, j]))
                        for j, s in enumerate(self.specs) if s.type == "regression"}

    @staticmethod
    def aux_names(target_names: list[str], horizons: list[str]) -> list[str]:
        return [return_target(h) for h in horizons if return_target(h) in target_names or direction_target(h) in target_names]

    def model_kwargs(self) -> dict[str, Any]:
        m = self.cfg.model.patchtst
        return {"n_features": len(self.data.feature_names), "context": self.data.context,
                "head_sizes": [s.n_classes for s in self.specs], "d_model": m.d_model, "n_heads": m.n_heads,
                "n_layers": m.n_layers, "d_ff": m.d_ff, "dropout": m.dropout, "head_dropout": m.head_dropout,
                "patch_len": m.patch_len, "patch_stride": m.patch_stride, "revin": m.revin,
                "channel_summary": m.channel_summary, "hidden": m.hidden}

    def loss(self, out, y, aux):
        return self.loss_fn(out, y)

    def _decode(self, out: np.ndarray) -> dict[str, np.ndarray]:
        """Per target: regression values in the target's own units, class probabilities (N, k)."""
        dec = {}
        sc = self.data.scalers
        for s, i in zip(self.specs, self.starts):
            o = out[:, i:i + s.n_classes]
            if s.type == "regression":
                dec[s.name] = o[:, 0] * sc.target_scale[s.name] + sc.target_center[s.name]
            elif s.type == "multiclass":
                dec[s.name] = _softmax(o)
            else:
                p1 = 1.0 / (1.0 + np.exp(-o[:, 0].astype(np.float64)))
                dec[s.name] = np.column_stack([1 - p1, p1])
        return dec

    def metrics(self, out: np.ndarray, ends: np.ndarray) -> dict[str, Any]:
        dec = self._decode(out)
        res: dict[str, Any] = {}
        skills, accs, base_accs, lls, base_lls = [], [], [], [], []
        for j, s in enumerate(self.specs):
            truth = self.data.y_raw[ends, j]
            if s.type == "regression":
                base = 0.0 if s.name.startswith("future_return_") else self.medians[s.name]
                m = regression_metrics(dec[s.name], truth, base)
                skills.append(m.get("skill"))
                res[f"skill_{s.name}"] = m.get("skill")
            else:
                m = (classification_metrics(dec[s.name], truth, self.priors[s.name]) if s.type == "multiclass"
                     else binary_metrics(dec[s.name][:, 1], truth, float(self.priors[s.name][1])))
                accs.append(m.get("accuracy"))
                base_accs.append(m.get("baseline_accuracy"))
                lls.append(m.get("log_loss"))
                base_lls.append(m.get("baseline_log_loss"))
                res[f"accuracy_{s.name}"] = m.get("accuracy")
                res[f"log_loss_{s.name}"] = m.get("log_loss")
        res |= {"regression_skill": mean_of(skills), "accuracy": mean_of(accs), "baseline_accuracy": mean_of(base_accs),
                "log_loss": mean_of(lls), "baseline_log_loss": mean_of(base_lls)}
        per_h = {h: trading_metrics(pred, self._aux(return_target(h), ends), self.fee)
                 for h, pred in self._trading_predictions(dec).items()}
        return res | (self._trading_summary(per_h) if per_h else {})

    def _trading_predictions(self, dec: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [s.name for s in self.specs]
        out = {}
        for h in self.cfg.data.horizons:
            if return_target(h) not in self.data.aux_names:
                continue
            if direction_target(h) in names:
                out[h] = dec[direction_target(h)].argmax(1)
            elif return_target(h) in names:  # trade when the predicted move beats the round-trip cost
                p = dec[return_target(h)]
                out[h] = np.where(p > self.fee, 2, np.where(p < -self.fee, 0, 1))
        return out

    def trading_predictions(self, out: np.ndarray) -> dict[str, np.ndarray]:
        return self._trading_predictions(self._decode(out))

    def class_pairs(self, out, ends):
        dec = self._decode(out)
        return [(s.name, self.data.y_raw[ends, j], dec[s.name].argmax(1), max(s.n_classes, 2),
                 int(np.argmax(self.priors[s.name]))) for j, s in enumerate(self.specs) if s.is_class]

    def prediction_columns(self, out: np.ndarray) -> dict[str, np.ndarray]:
        cols = {}
        dec = self._decode(out)
        for s in self.specs:
            if s.type == "regression":
                cols[f"pred_{s.name}"] = dec[s.name].astype("float32")
            else:
                for k in range(dec[s.name].shape[1]):
                    cols[f"p_{s.name}_{k}"] = dec[s.name][:, k].astype("float32")
        return cols


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.float64) - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)

