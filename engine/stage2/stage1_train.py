"""Stage 1 training (Keras 3 on TensorFlow): an LSTM over windows of the last
``sequence_length`` bars of features that predicts whether the window's last bar is a ZigZag
pivot (2 classes: none / pivot) or which pivot it is (5 classes: none, HH, LH, HL, LL).

* Chronological train / val / test split (``engine.splits``) over the labelled bars, purge gap
  = the longer of the feature set's longest horizon and the longest pivot confirmation delay.
* Normalisation mean/std from the training rows only, saved in params.json with the feature
  names, the sequence length, the class names and balanced class weights.
* Windows are gathered per batch from the normalised table (never materialised all at once),
  never cross a gap in time or a row with missing inputs.
* Early stopping on the validation loss (best weights restored); saved as
  ``v1_model/{SYMBOL}/{tf}/classification.h5`` (legacy HDF5, as the seed's) + params.json,
  plus the class probabilities of every bar (``probabilities.parquet``) for threshold tuning.
* Out-of-fold probabilities of the train split (``oof_p_<class>``, ``oof_fold``): the train split's
  window ends are cut by ``engine.splits.time_ordered_kfold`` (k = ``oof_folds``, purge = the pair's
  purge gap); fold j's model (same architecture, as many epochs as the final model's best epoch, its
  own normalisation from its training rows) trains on the earlier blocks and predicts block j.  The
  first block has no earlier data, so it has no out-of-fold probability (NaN, ``oof_fold`` -1).
  Stage 2 trains on these instead of the final model's in-sample probabilities.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from config.errors import BadInput
from config.typed import check_fields
from engine.splits import chronological_split
from engine.stage2.data import PairData
from engine.stage2.filtering import pass_rates, split_metrics, threshold_for_rate
from engine.stage2.progress import progress
from engine.stage2.stage1 import (
    CLASS_NAMES,
    MODEL_FILE,
    PARAMS_FILE,
    Stage1Model,
    Stage1Params,
    Stage1Spec,
    hub_dir,
    model_summary,
    predict_proba,
    signal_probability,
    window_ends,
)
from storage.artifacts import create_artifact
from storage.manifest import write_json_atomic
from storage.workspace import Workspace

PROBA_FILE = "probabilities.parquet"


@dataclass
class Stage1TrainConfig:
    """LSTM Stage 1 options; the ranges are the annotations (``check`` runs them through pydantic)."""

    classes: Literal[2, 5] = 2
    sequence_length: Annotated[int, Field(ge=1)] = 32
    units: Annotated[int, Field(ge=1)] = 32
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    epochs: Annotated[int, Field(ge=1)] = 10
    batch_size: Annotated[int, Field(ge=1)] = 256
    learning_rate: Annotated[float, Field(gt=0.0)] = 1e-3
    patience: Annotated[int, Field(ge=0)] = 3
    train_frac: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.70
    val_frac: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.15
    features: list[str] | None = None  # default: the feature set's usable features
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 42
    oof_folds: Annotated[int, Field(ge=2)] = 4  # time-ordered folds for the out-of-fold probabilities of the train split

    def check(self) -> Stage1TrainConfig:
        return check_fields(self, "stage1")


def stage1_targets(pair: PairData, classes: int) -> np.ndarray:
    return (pair.pivot if classes == 2 else pair.pivot_label + 1).astype("int64")


def build_model(n_features: int, cfg: Stage1TrainConfig):
    from engine.stage2.tfkeras import keras

    k = keras()
    k.utils.set_random_seed(cfg.seed)
    model = k.Sequential([
        k.Input((cfg.sequence_length, n_features)),
        k.layers.LSTM(cfg.units),
        k.layers.Dropout(cfg.dropout),
        k.layers.Dense(cfg.classes, activation="softmax"),
    ], name="stage1_lstm")
    model.compile(optimizer=k.optimizers.Adam(cfg.learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _windows_dataset(Xn: np.ndarray, ends: np.ndarray, y: np.ndarray, length: int, batch: int, *,
                     shuffle: bool, seed: int):
    """A keras PyDataset gathering (batch, length, features) windows ending at ``ends``."""
    from engine.stage2.tfkeras import keras

    k = keras()
    offsets = np.arange(-length + 1, 1)

    class Windows(k.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.order = ends.copy()
            self.rng = np.random.default_rng(seed)
            if shuffle:
                self.rng.shuffle(self.order)

        def __len__(self):
            return int(np.ceil(len(self.order) / batch))

        def __getitem__(self, i):
            idx = self.order[i * batch:(i + 1) * batch]
            return Xn[idx[:, None] + offsets], y[idx]

        def on_epoch_end(self):
            if shuffle:
                self.rng.shuffle(self.order)

    return Windows()


def train_stage1(pair: PairData, cfg: Stage1TrainConfig) -> dict[str, Any]:
    """Train in memory; returns the model, spec, params, split plan, probabilities and metrics
    (:func:`save_stage1` writes them)."""
    cfg.check()
    names = list(cfg.features or pair.feature_names)
    if not names:
        raise BadInput("no input features for Stage 1")
    X = pair.matrix(names)
    labelled = pair.labelled
    if labelled.sum() < 50:
        raise BadInput(f"{pair.symbol} {pair.timeframe}: only {int(labelled.sum())} labelled bars (pivots confirmed); "
                       "Stage 1 needs more data")
    plan = chronological_split(pair.frame["timestamp"][labelled], pair.timeframe, purge_bars=pair.purge_bars,
                               train_frac=cfg.train_frac, val_frac=cfg.val_frac)
    split = pair.split_of(plan)
    mean, std = _train_standardization(X, names, split == "train")
    class_names = list(CLASS_NAMES[cfg.classes])
    spec = Stage1Spec(feature_names=names, sequence_length=cfg.sequence_length, class_names=class_names,
                      mean=mean, std=std, sources={k: "trained" for k in ("feature_names", "sequence_length", "class_names")})
    Xn = ((X - mean) / std).astype("float32")
    valid = window_ends(pair.ts_ns, pair.step_ns, np.isfinite(Xn).all(axis=1), cfg.sequence_length)
    y = stage1_targets(pair, cfg.classes)
    ends = _split_window_ends(pair, valid & labelled, split, y)
    class_weight = _class_weights(y[ends["train"]], cfg.classes)
    model, history = _fit_keras(Xn, y, ends, class_weight, len(names), cfg)
    progress(0.72, "predicting every bar")
    proba = predict_proba(model, spec, X, valid)
    best_epoch = int(history["val_loss"].to_numpy().argmin()) + 1 if "val_loss" in history else len(history)
    try:
        oof, oof_fold, oof_info = out_of_fold(pair, X, names, split, valid & labelled, y, cfg, epochs=best_epoch)
    except BadInput as e:  # too little training data for k folds with purge: the model stands, Stage 2 is warned
        oof, oof_fold, oof_info = None, None, {"folds": 0, "error": f"no out-of-fold probabilities: {e}"}
    params = Stage1Params(mean=mean, std=std, class_weights={str(c): v for c, v in class_weight.items()},
                          feature_names=names, sequence_length=cfg.sequence_length, class_names=class_names, raw={})
    metrics = split_metrics(proba, y, pair.pivot, split, labelled, threshold=0.5)
    sig = signal_probability(proba)
    suggested = threshold_for_rate(sig[split == "val"], 0.04)
    params.metrics = metrics
    params.raw = {"mean": mean.tolist(), "std": std.tolist(), "class_weights": params.class_weights, "metrics": metrics}
    return {"model": Stage1Model(model, spec, params), "plan": plan, "split": split, "proba": proba, "metrics": metrics,
            "oof": oof, "oof_fold": oof_fold, "oof_info": oof_info,
            "history": history, "suggested_threshold": suggested, "class_weight": class_weight,
            "windows": {s: len(e) for s, e in ends.items()},
            "pass_rates": pass_rates(sig, split, suggested) if suggested is not None else {}}


def _train_standardization(X: np.ndarray, names: list[str], train_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of every input over the training rows (a constant input: std 1)."""
    with np.errstate(all="ignore"):
        mean = np.nanmean(X[train_rows], axis=0)
        std = np.nanstd(X[train_rows], axis=0)
    empty = [n for n, m in zip(names, mean) if not np.isfinite(m)]
    if empty:
        raise BadInput(f"{len(empty)} input(s) have no value in the training period: {', '.join(empty[:8])}",
                       hint="leave them out with --features")
    return mean, np.where(std > 0, std, 1.0)


def _split_window_ends(pair: PairData, usable: np.ndarray, split: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """The labelled full-window ends of each split; refused when a split has under 10 or training one class."""
    ends = {s: np.flatnonzero(usable & (split == s)) for s in ("train", "val", "test")}
    for s, e in ends.items():
        if len(e) < 10:
            raise BadInput(f"{pair.symbol} {pair.timeframe}: only {len(e)} full windows in the {s} split",
                           hint="use more data or a shorter sequence length")
    if len(np.unique(y[ends["train"]])) < 2:
        raise BadInput(f"{pair.symbol} {pair.timeframe}: the training split holds a single class; no pivots to learn")
    return ends


def _class_weights(y_train: np.ndarray, classes: int) -> dict[int, float]:
    """Balanced class weights of the training labels; 1.0 for a class absent from them."""
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(y_train)
    w = compute_class_weight("balanced", classes=present, y=y_train) if len(present) > 1 else np.ones(len(present))
    return {c: 1.0 for c in range(classes)} | {int(c): float(v) for c, v in zip(present, w)}


def _fit_keras(Xn: np.ndarray, y: np.ndarray, ends: dict[str, np.ndarray], class_weight: dict[int, float],
               n_features: int, cfg: Stage1TrainConfig):
    """Build and fit the Keras model (early stopping on val_loss, best weights restored); the model and
    its per-epoch history."""
    from engine.stage2.tfkeras import keras

    k = keras()
    model = build_model(n_features, cfg)
    n_epochs = cfg.epochs

    class Progress(k.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            progress(0.1 + 0.7 * (epoch + 1) / n_epochs,
                     f"epoch {epoch + 1}/{n_epochs}: loss {logs.get('loss', float('nan')):.4f}, "
                     f"val_loss {logs.get('val_loss', float('nan')):.4f}")

    progress(0.1, f"training Stage 1 on {len(ends['train'])} windows ({n_features} features x {cfg.sequence_length} bars)")
    hist = model.fit(_windows_dataset(Xn, ends["train"], y, cfg.sequence_length, cfg.batch_size, shuffle=True, seed=cfg.seed),
                     validation_data=_windows_dataset(Xn, ends["val"], y, cfg.sequence_length, 1024, shuffle=False, seed=0),
                     epochs=cfg.epochs, class_weight=class_weight, verbose=0,
                     callbacks=[k.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience, restore_best_weights=True),
                                Progress()])
    history = pd.DataFrame(hist.history)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    return model, history


def out_of_fold(pair: PairData, X: np.ndarray, names: list[str], split: np.ndarray, usable: np.ndarray, y: np.ndarray,
                cfg: Stage1TrainConfig, *, epochs: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Out-of-fold class probabilities of the train split's bars (NaN elsewhere and in the first
    block) and the 1-based fold of each (-1: none), from ``cfg.oof_folds`` time-ordered folds with purge."""
    from engine.splits import time_ordered_kfold

    n_cls = cfg.classes
    out = np.full((pair.n, n_cls), np.nan, dtype="float32")
    fold_of = np.full(pair.n, -1, dtype="int64")
    ends = np.flatnonzero(usable & (split == "train"))
    ts = pair.ts_ns
    folds = time_ordered_kfold(pd.to_datetime(ts[ends], utc=True), pair.timeframe, k=cfg.oof_folds,
                               purge_bars=pair.purge_bars, min_train=10)
    train_split = split == "train"
    per_fold = []
    for j, (tr, va) in enumerate(folds, start=1):
        progress(0.72 + 0.2 * (j - 1) / len(folds), f"out-of-fold Stage 1, fold {j}/{len(folds)}")
        rows_tr, rows_va = ends[tr], ends[va]
        fit_rows = train_split & (ts <= ts[rows_tr].max())  # normalisation from the fold's training period only
        with np.errstate(all="ignore"):
            mean, std = np.nanmean(X[fit_rows], axis=0), np.nanstd(X[fit_rows], axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        spec = Stage1Spec(feature_names=names, sequence_length=cfg.sequence_length, class_names=list(CLASS_NAMES[n_cls]),
                          mean=mean, std=std, sources={})
        Xn = ((X - mean) / std).astype("float32")
        cw = _class_weights(y[rows_tr], n_cls)
        model = build_model(len(names), cfg)
        model.fit(_windows_dataset(Xn, rows_tr, y, cfg.sequence_length, cfg.batch_size, shuffle=True, seed=cfg.seed + j),
                  epochs=epochs, class_weight=cw, verbose=0)
        mask = np.zeros(pair.n, dtype=bool)
        mask[rows_va] = True
        p = predict_proba(model, spec, X, mask)
        out[rows_va] = p[rows_va]
        fold_of[rows_va] = j
        per_fold.append({"fold": j, "train_windows": len(rows_tr), "predicted": len(rows_va),
                         "train_end": str(pd.Timestamp(ts[rows_tr].max(), tz="UTC")),
                         "start": str(pd.Timestamp(ts[rows_va].min(), tz="UTC")),
                         "end": str(pd.Timestamp(ts[rows_va].max(), tz="UTC"))})
    info = {"folds": len(folds), "purge_bars": int(pair.purge_bars), "epochs": int(epochs),
            "method": "engine.splits.time_ordered_kfold over the train split's windows; each fold trains on earlier "
                      "blocks only (purge respected) and predicts its block",
            "train_bars": len(ends), "oof_bars": int((fold_of >= 0).sum()),
            "first_block_bars": int(len(ends) - (fold_of >= 0).sum()), "per_fold": per_fold}
    return out, fold_of, info


def probabilities_frame(pair: PairData, proba: np.ndarray, class_names: list[str], split: np.ndarray,
                        oof: np.ndarray | None = None, oof_fold: np.ndarray | None = None) -> pd.DataFrame:
    df = pd.DataFrame({"timestamp": pair.frame["timestamp"].to_numpy(), "symbol": pair.symbol, "split": split})
    for i, c in enumerate(class_names):
        df[f"p_{c}"] = proba[:, i]
    if oof is not None:
        for i, c in enumerate(class_names):
            df[f"oof_p_{c}"] = oof[:, i]
        df["oof_fold"] = oof_fold
    df["signal_prob"] = signal_probability(proba)
    df["pivot"] = pair.pivot
    df["pivot_label"] = pair.pivot_label
    df["labelled"] = pair.labelled
    return df


def save_stage1(ws: Workspace, pair: PairData, cfg: Stage1TrainConfig, res: dict[str, Any], *, name: str = "") -> dict[str, Any]:
    """Write a trained Stage 1 into a new ``stage1`` artifact (Hub layout inside)."""
    m: Stage1Model = res["model"]
    from engine.stage2.stage1_io import spec_extra  # noqa: WPS433 - small helper shared with imports

    rel = hub_dir(pair.symbol, pair.timeframe)
    params_doc = m.spec.completed_params(m.params) | {"symbol": pair.symbol, "timeframe": pair.timeframe,
                                                       "featureset_id": pair.featureset_id,
                                                       "split": res["plan"].to_dict(),
                                                       "suggested_threshold": res["suggested_threshold"]}
    parents = [pair.featureset_id] if pair.featureset_id else []
    with create_artifact(ws, "stage1", name=name or f"stage1 {pair.symbol} {pair.timeframe} (trained)",
                         symbols=[pair.symbol], timeframe=pair.timeframe, parents=parents,
                         params={"source": "trained", **{k: v for k, v in asdict(cfg).items() if k != "features"}}) as d:
        m.model.save(str(d.path(f"{rel}/{MODEL_FILE}")))
        write_json_atomic(d.path(f"{rel}/{PARAMS_FILE}"), params_doc)
        d.path("summary.txt").write_text(model_summary(m.model) + "\n", encoding="utf-8")
        res["history"].to_csv(d.path("history.csv"), index=False)
        probabilities_frame(pair, res["proba"], m.spec.class_names, res["split"], res.get("oof"),
                            res.get("oof_fold")).to_parquet(d.path(PROBA_FILE), index=False)
        d.manifest.metrics = res["metrics"]
        d.manifest.extra = spec_extra(m) | {"split": res["plan"].to_dict(), "windows": res["windows"],
                                            "class_weights": params_doc["class_weights"],
                                            "suggested_threshold": res["suggested_threshold"],
                                            "pass_rates": res["pass_rates"], "epochs_run": len(res["history"]),
                                            "oof": res.get("oof_info"),
                                            "test_prediction": m.test_prediction()}
        d.manifest.start = pair.frame["timestamp"].iloc[0]
        d.manifest.end = pair.frame["timestamp"].iloc[-1]
        aid = d.id
    path = ws.artifact_dir("stage1", aid)
    return {"stage1_id": aid, "path": str(path), "model_dir": str(path / rel), "symbol": pair.symbol,
            "timeframe": pair.timeframe, "featureset_id": pair.featureset_id, "feature_names": m.spec.feature_names,
            "sequence_length": m.spec.sequence_length, "class_names": m.spec.class_names, "metrics": res["metrics"],
            "suggested_threshold": res["suggested_threshold"], "pass_rates": res["pass_rates"],
            "windows": res["windows"], "epochs_run": len(res["history"]), "split": res["plan"].to_dict(),
            "oof": res.get("oof_info")}
