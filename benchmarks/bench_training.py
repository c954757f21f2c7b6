"""Training step throughput: KlineLab's UnifiedPatchTST vs Hugging Face transformers'
PatchTSTForPrediction of the same size on the same batch (SPEC 14: at least equal).

Both models see the same real windows (features of the bundled sample: 171 channels x 96
bars) and have the same encoder size (d_model, heads, layers, feed-forward width, patch 16 /
stride 8).  A step = forward + loss + backward + AdamW step.  Ours predicts the 24 targets
through its multi-task heads (MultiTaskLoss); the reference forecasts 24 future steps of every
channel (its own MSE loss), its standard head.  Two rounds: dropout 0 in both (the same
computation), then dropout 0.1 where each model puts it (ours: on each sub-layer's output,
the reference: inside the feed-forward block; dropout draws cost real time on CPU).

    .venv/bin/python benchmarks/bench_training.py [--batch 64] [--steps 10] [--threads 2] [--device cpu|cuda]

A third row times KlineLab's DirectionPredictor (base config size) on the same windows (its own
cross-entropy over 4 horizons); there is no Hugging Face counterpart, so it has no ratio.
``--save-batch F.npz`` writes the real windows and stops; ``--batch-file F.npz`` reads them instead of
building a feature set (a GPU host then needs torch, transformers, numpy, pandas and scikit-learn only,
not TA-Lib); batches larger than the file are made by repeating its windows (throughput only).

On CUDA both run under bf16 autocast with TF32 matmuls.  transformers comes from
benchmarks/requirements.txt (it does not pull another torch).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch


def real_batch(batch: int, context: int):
    """Windows of a feature set built from the bundled sample, and their 24 targets."""
    from engine.data.sources.sample import import_sample
    from engine.features.pipeline import build_feature_set
    from engine.features.store import load_feature_set
    from engine.splits import chronological_split
    from engine.training.dataset import build_windows, target_specs
    from storage.workspace import Workspace

    ws = Workspace.open(Path(tempfile.mkdtemp(prefix="bench-training-")) / "workspace")
    import_sample(ws)
    res = build_feature_set(ws, ["BTCUSDT", "ETHUSDT"], "15m", start="2026-02-01", audit=False)
    fs = load_feature_set(ws, res["featureset_id"])
    feats, targs = fs.features(fs.usable_features()), fs.targets()
    plan = chronological_split(feats.timestamp, "15m", purge_bars=fs.max_horizon_bars)
    specs = target_specs(fs.target_meta, fs.target_names)
    w = build_windows(feats, targs, input_names=fs.usable_features(), specs=specs, plan=plan, timeframe="15m",
                      context=context)
    ends = np.random.default_rng(0).choice(w.ends["train"], batch, replace=False)
    x, y, _ = w.batch(ends)
    return x, y, specs


def time_steps(step, n: int, warmup: int, sync) -> list[float]:
    for _ in range(warmup):
        step()
    sync()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        step()
        sync()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--context", type=int, default=96)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--ffn", type=int, default=256)
    ap.add_argument("--save-batch", help="write the real windows to this .npz and stop")
    ap.add_argument("--batch-file", help="read the windows from this .npz (written by --save-batch)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.save_batch:
        save_batch(a.save_batch, a.batch, a.context)
        return
    import transformers

    dev = torch.device(a.device)
    x, y, specs = load_batch(a.batch_file, a.batch) if a.batch_file else real_batch(a.batch, a.context)
    x, y = x.to(dev), y.to(dev)
    c = x.shape[-1]
    amp = dev.type == "cuda"
    if amp:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"device {dev} ({torch.cuda.get_device_name() if dev.type == 'cuda' else f'{a.threads} threads'})"
          f"{', bf16 autocast + TF32' if amp else ''}; torch {torch.__version__}, transformers {transformers.__version__}; "
          f"load average {load:.1f}")
    print(f"batch {a.batch} windows x {a.context} bars x {c} channels; d_model {a.d_model}, {a.heads} heads, "
          f"{a.layers} layers, ffn {a.ffn}, patch 16 / stride 8")
    print(f"{'dropout':<8} {'model':<40} {'params':>10} {'median step':>12} {'windows/s':>10}")
    for p in (0.0, 0.1):
        ratio = compare(a, dev, amp, x, y, specs, c, p, sync)
        print(f"{'':<8} throughput ratio (ours / reference): {ratio:.2f}x  (target >= 1.0)")
    direction(a, dev, amp, x, c, sync)


def save_batch(path: str, batch: int, context: int) -> None:
    import json

    x, y, specs = real_batch(batch, context)
    np.savez(path, x=x.numpy(), y=y.numpy(), specs=json.dumps([s.to_dict() for s in specs]))
    print(f"wrote {path}: x {tuple(x.shape)}, y {tuple(y.shape)}, {len(specs)} targets")


def load_batch(path: str, batch: int):
    import json

    from engine.training.dataset import TargetSpec

    z = np.load(path)
    x, y = torch.from_numpy(z["x"]), torch.from_numpy(z["y"])
    reps = -(-batch // len(x))
    x, y = x.repeat(reps, 1, 1)[:batch].contiguous(), y.repeat(reps, 1)[:batch].contiguous()
    return x, y, [TargetSpec.from_dict(d) for d in json.loads(str(z["specs"]))]


def direction(a, dev, amp, x, c, sync) -> None:
    """Training-step time of the DirectionPredictor (base config: hidden 64, 3 blocks, 4 horizons)."""
    from torch.nn import functional as F

    from engine.training.models import DirectionPredictor

    torch.manual_seed(0)
    model = DirectionPredictor(n_features=c, context=a.context, n_horizons=4).to(dev).train()
    labels = torch.randint(0, 3, (x.shape[0], 4), generator=torch.Generator().manual_seed(2)).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            out = model(x)
        loss = F.cross_entropy(out.float().reshape(-1, 3), labels.reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    t = time_steps(step, a.steps, a.warmup, sync)
    med = statistics.median(t)
    n = sum(q.numel() for q in model.parameters())
    print(f"{0.1:<8} {'KlineLab DirectionPredictor':<40} {n:>10,} {med * 1000:>10.1f}ms {a.batch / med:>10.1f}")


def compare(a, dev, amp, x, y, specs, c, p, sync) -> float:
    from torch.nn.attention import sdpa_kernel
    from transformers import PatchTSTConfig, PatchTSTForPrediction

    from engine.training.losses import MultiTaskLoss
    from engine.training.models import SDPA_BACKENDS, UnifiedPatchTST

    torch.manual_seed(0)
    ours = UnifiedPatchTST(n_features=c, context=a.context, head_sizes=[s.n_classes for s in specs], d_model=a.d_model,
                           n_heads=a.heads, n_layers=a.layers, d_ff=a.ffn, dropout=p, head_dropout=p,
                           patch_len=16, patch_stride=8).to(dev).train()
    loss_fn = MultiTaskLoss(specs).to(dev)
    opt1 = torch.optim.AdamW(ours.parameters(), lr=1e-4)

    def step_ours():
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            out = ours(x)
        loss, _ = loss_fn(out, y)
        loss.backward()
        opt1.step()
        opt1.zero_grad(set_to_none=True)

    cfg = PatchTSTConfig(num_input_channels=c, context_length=a.context, patch_length=16, patch_stride=8,
                         d_model=a.d_model, num_attention_heads=a.heads, num_hidden_layers=a.layers, ffn_dim=a.ffn,
                         ff_dropout=p, positional_dropout=p, path_dropout=0.0, attention_dropout=0.0, head_dropout=p,
                         prediction_length=24, loss="mse", scaling="std")
    ref = PatchTSTForPrediction(cfg).to(dev).train()
    future = torch.randn(a.batch, 24, c, generator=torch.Generator().manual_seed(1)).to(dev)
    opt2 = torch.optim.AdamW(ref.parameters(), lr=1e-4)

    def step_ref():
        # the same SDPA kernels as ours (cuDNN attention fails at large batches on Hopper: engine.training.models)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp), sdpa_kernel(SDPA_BACKENDS):
            out = ref(past_values=x, future_values=future)
        out.loss.backward()
        opt2.step()
        opt2.zero_grad(set_to_none=True)

    # interleaved rounds, so a change in the machine's load hits both models alike
    times: dict[str, list[float]] = {"ours": [], "ref": []}
    ref_ok = True
    for _ in range(a.warmup):
        step_ours()
        if ref_ok:
            try:
                step_ref()
            except RuntimeError as e:  # e.g. the fused CUDA attention kernels' grid limit (see models.py)
                ref_ok = False
                print(f"{p:<8} HF PatchTSTForPrediction failed at this batch: {str(e).splitlines()[0][:120]}")
    for _ in range(a.steps):
        times["ours"] += time_steps(step_ours, 1, 0, sync)
        if ref_ok:
            times["ref"] += time_steps(step_ref, 1, 0, sync)
    if not ref_ok:
        med = statistics.median(times["ours"])
        n = sum(q.numel() for q in ours.parameters())
        print(f"{p:<8} {'KlineLab UnifiedPatchTST':<40} {n:>10,} {med * 1000:>10.1f}ms {a.batch / med:>10.1f}")
        return float("nan")
    med = {k: statistics.median(v) for k, v in times.items()}
    for key, name, model in (("ours", "KlineLab UnifiedPatchTST", ours),
                             ("ref", f"HF PatchTSTForPrediction ({ref.config._attn_implementation})", ref)):
        n = sum(q.numel() for q in model.parameters())
        print(f"{p:<8} {name:<40} {n:>10,} {med[key] * 1000:>10.1f}ms {a.batch / med[key]:>10.1f}")
    return med["ref"] / med["ours"]


if __name__ == "__main__":
    main()
