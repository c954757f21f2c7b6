"""Stage 1 / Stage 2 on a year of real BTCUSDT 15m candles (the bundled sample, 35,040 bars).

SPEC 14 sets no speed target for this area; the figures show what a user waits for and
compare two implementation choices with the obvious alternative, side by side:

* Stage 1 inference over every bar: windows gathered per batch from the normalised table
  (ours) vs the seed-notebook style (a Python list of every window, stacked, then
  ``model.predict``), same model, same numbers;
* LightGBM Stage 2 fit on the real Stage 2 samples: 1 thread (our default) vs 2 threads.

    .venv/bin/python benchmarks/bench_stage2.py
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

S1_FEATURES = ["logret_1", "logret_4", "high_ret_1", "low_ret_1", "close_location", "rsi_14", "stoch_k_14",
               "willr_14", "bb_pctb_20", "dc_pos_20", "atr_pct_14", "volume_z_20"]


def timed(fn, *a, **k):
    t = time.perf_counter()
    out = fn(*a, **k)
    return out, time.perf_counter() - t


def main() -> int:
    from engine.data.sources.sample import import_sample
    from engine.features.pipeline import build_feature_set
    from engine.stage2.data import load_pair
    from engine.stage2.pipeline import train_stage1_pair, train_stage2_pair
    from engine.stage2.progress import scoped
    from engine.stage2.stage1 import window_ends
    from engine.stage2.stage1_io import load_stage1
    from engine.stage2.stage1_train import Stage1TrainConfig
    from engine.stage2.stage2 import Stage2Config
    from storage.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="bench-stage2-") as tmp, scoped(0, 1, ""):
        os.environ["KLINELAB_HOME"] = tmp
        ws = Workspace.open(tmp)
        import_sample(ws)
        fs, t_fs = timed(build_feature_set, ws, ["BTCUSDT"], "15m")
        fsid = fs["featureset_id"]
        s1, t_s1 = timed(train_stage1_pair, ws, "BTCUSDT", "15m",
                         Stage1TrainConfig(sequence_length=32, units=32, epochs=3, features=S1_FEATURES), featureset_id=fsid)
        s2, t_s2 = timed(train_stage2_pair, ws, "BTCUSDT", "15m", Stage2Config(pass_rate=0.1), featureset_id=fsid)

        # -- Stage 1 inference: ours vs the seed-notebook style --------------------------------------
        model, _ = load_stage1(ws, s1["stage1_id"])
        pair = load_pair(ws, fsid, "BTCUSDT")
        X = pair.matrix(S1_FEATURES)
        valid = window_ends(pair.ts_ns, pair.step_ns, np.isfinite(X).all(axis=1), 32)
        model.predict_proba(X[:5000], valid[:5000])  # warm-up (graph tracing)
        ours, t_ours = timed(model.predict_proba, X, valid)

        def seed_style():
            Xn = ((X - model.spec.mean) / model.spec.std).astype("float32")
            ends = np.flatnonzero(valid)
            windows = np.array([Xn[i - 31:i + 1] for i in ends])  # every window materialised at once
            p = model.model.predict(windows, batch_size=4096, verbose=0)
            out = np.full((len(X), 2), np.nan, dtype="float32")
            out[ends] = p
            return out, windows.nbytes

        (ref, ref_bytes), t_ref = timed(seed_style)
        assert np.allclose(ours, ref, atol=1e-5, equal_nan=True)
        ours_bytes = 4096 * 32 * len(S1_FEATURES) * 4

        # -- LightGBM threads on the real Stage 2 samples ---------------------------------------------
        import json

        import lightgbm as lgb
        import pandas as pd

        d = ws.artifact_dir("stage2", s2["stage2_id"])
        sig = pd.read_parquet(d / "signals.parquet")
        names = json.loads((d / "scaler.json").read_text())["feature_names"]
        rows = (sig["signal"] & (sig["pivot"] == 1)).to_numpy()
        feats = pair.frame[[n for n in names if not n.startswith("s1_p_")]].to_numpy("float64")[rows]
        Xs = np.hstack([feats, sig.loc[rows, [n for n in names if n.startswith("s1_p_")]].to_numpy()])
        ys = sig.loc[rows, "pivot_label"].to_numpy()
        cfg = Stage2Config()
        fit_t = {}
        for threads in (1, 2):
            params = cfg.lgb_params() | {"num_threads": threads}
            best = float("inf")
            for _ in range(3):
                _, t = timed(lgb.train, params, lgb.Dataset(Xs, ys), 200)
                best = min(best, t)
            fit_t[threads] = best

    n_bars = len(X)
    print(f"BTCUSDT 15m, {n_bars:,} bars (bundled sample), {os.cpu_count()} CPU cores")
    print(f"feature set (1 symbol, all families):           {t_fs:7.1f} s")
    print(f"Stage 1 training (12 feat x 32 bars, 3 epochs):  {t_s1:7.1f} s  (incl. TensorFlow import)")
    print(f"Stage 2 training (+ 5-fold CV, report):          {t_s2:7.1f} s  ({s2['counts']['samples']} samples)")
    print()
    print(f"{'Stage 1 inference, every bar':<44}{'ours':>10}{'seed-style':>12}{'ratio':>8}")
    print(f"{'  seconds':<44}{t_ours:>10.2f}{t_ref:>12.2f}{t_ref / t_ours:>7.2f}x")
    print(f"{'  windows per second':<44}{valid.sum() / t_ours:>10,.0f}{valid.sum() / t_ref:>12,.0f}")
    print(f"{'  window memory (MB)':<44}{ours_bytes / 2**20:>10.1f}{ref_bytes / 2**20:>12.1f}{ref_bytes / ours_bytes:>7.1f}x")
    print()
    print(f"{'LightGBM Stage 2 fit, 200 rounds':<44}{'1 thread':>10}{'2 threads':>12}{'ratio':>8}")
    print(f"{f'  seconds ({len(ys)} samples x {Xs.shape[1]} features)':<44}{fit_t[1]:>10.3f}{fit_t[2]:>12.3f}"
          f"{fit_t[2] / fit_t[1]:>7.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
