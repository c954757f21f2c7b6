"""The trainer on windows of real candles: checkpoints load with weights_only=True and
rebuild the model, an interrupted run resumed from last.pt ends exactly like an
uninterrupted one, early stopping, gradient accumulation and the per-step OneCycle."""

import numpy as np
import pandas as pd
import pytest
import torch

from config.errors import BadInput
from engine.splits import chronological_split
from engine.training.dataset import build_windows, target_specs
from engine.training.models import build_model
from engine.training.tasks import DirectionTask, PatchTSTTask
from engine.training.trainer import Trainer, amp_dtype, load_checkpoint, pick_device


def make_task(kind, tables, cfg):
    f, t, meta = tables
    plan = chronological_split(f.timestamp, "15m", purge_bars=48)
    if kind == "direction":
        specs, aux = DirectionTask.specs(cfg.data.horizons), DirectionTask.aux_names(cfg.data.horizons)
    else:
        names = ["future_return_1h", "direction_1h", "direction_4h", "long_reach_1pct_4h"]
        specs, aux = target_specs(meta, names), PatchTSTTask.aux_names(names, cfg.data.horizons)
    ws = build_windows(f, t, input_names=[c for c in f.columns if c not in ("timestamp", "symbol")], specs=specs,
                       plan=plan, timeframe="15m", context=cfg.data.context_window, aux_names=aux)
    return (DirectionTask if kind == "direction" else PatchTSTTask)(ws, cfg)


def _drop_times(history):
    return [{k: v for k, v in r.items() if k != "epoch_time_s"} for r in history]


@pytest.mark.parametrize("kind", ["direction", "patchtst"])
def test_checkpoints_round_trip_with_weights_only(kind, real_tables, tiny_cfg, tmp_path):
    task = make_task(kind, real_tables, tiny_cfg)
    tr = Trainer(task, tiny_cfg.training, tmp_path)
    res = tr.fit()
    assert len(res.history) == 2 and res.best_epoch in (1, 2) and res.device == "cpu"
    for name in ("best.pt", "last.pt"):
        ck = torch.load(tmp_path / "checkpoints" / name, weights_only=True)  # plain state: no pickle of code
        assert ck["kind"] == kind and isinstance(ck["model"], dict)
    last = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert last["state"]["done"] and last["state"]["global_step"] == 16 and len(last["state"]["history"]) == 2
    best = load_checkpoint(tmp_path / "checkpoints" / "best.pt")
    model = build_model(best["kind"], best["model_kwargs"])
    model.load_state_dict(best["model"])
    again = tr.load_best()
    x, _, _ = task.data.batch(task.data.ends["test"][:16])
    model.eval()
    assert torch.equal(model(x), again(x))
    # validation metrics of the best epoch are stored with it and equal a fresh evaluation
    assert tr.evaluate(again, "val")[0]["loss"] == pytest.approx(best["metrics"]["val_loss"], rel=1e-6)
    assert (tmp_path / "metrics.csv").is_file() and list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    hist = pd.read_csv(tmp_path / "metrics.csv")
    assert list(hist.epoch) == [1, 2] and {"val_win_rate", "val_profit_factor", "val_directional_accuracy"} <= set(hist.columns)


class Interrupt(BaseException):
    pass


def test_interrupted_run_resumes_to_identical_results(real_tables, tiny_cfg, tmp_path):
    cfg = tiny_cfg.training.model_copy(update={"epochs": 3, "checkpoint_every_steps": 3, "max_batches_per_epoch": 7})
    full = Trainer(make_task("direction", real_tables, tiny_cfg), cfg, tmp_path / "full")
    ref = full.fit()

    task = make_task("direction", real_tables, tiny_cfg)
    calls = {"n": 0}
    loss = task.loss

    def dying_loss(*a):
        calls["n"] += 1
        if calls["n"] == 12:  # epoch 2, batch 5: the last checkpoint is step 9 (epoch 2, batch 2)
            raise Interrupt
        return loss(*a)

    task.loss = dying_loss
    with pytest.raises(Interrupt):
        Trainer(task, cfg, tmp_path / "cut").fit()
    ck = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")
    assert (ck["state"]["epoch"], ck["state"]["batch"], ck["state"]["global_step"]) == (1, 2, 9)
    task.loss = loss
    res = Trainer(task, cfg, tmp_path / "cut").fit(resume=True)
    assert _drop_times(res.history) == _drop_times(ref.history)
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = pd.read_csv(tmp_path / "cut" / "steps.csv")
    assert steps.step.is_unique and steps.step.is_monotonic_increasing
    # resuming a finished run trains nothing more
    again = Trainer(task, cfg, tmp_path / "cut").fit(resume=True)
    assert _drop_times(again.history) == _drop_times(ref.history)


def test_early_stopping_accumulation_and_one_cycle_per_step(real_tables, tiny_cfg, tmp_path):
    # min_delta huge: only the first epoch counts as an improvement -> patience 1 stops after epoch 2
    cfg = tiny_cfg.training.model_copy(update={"epochs": 5, "early_stopping_patience": 1, "min_delta": 1e9,
                                               "accumulation_steps": 3, "max_batches_per_epoch": 7})
    res = Trainer(make_task("direction", real_tables, tiny_cfg), cfg, tmp_path).fit()
    assert res.stopped_early and len(res.history) == 2 and res.best_epoch == 1
    assert [r["step"] for r in res.history] == [3, 6]  # ceil(7 / 3) optimizer steps per epoch
    # OneCycle is stepped per optimizer step: the learning rate changes inside an epoch
    cfg2 = tiny_cfg.training.model_copy(update={"epochs": 1, "max_batches_per_epoch": 40})
    Trainer(make_task("direction", real_tables, tiny_cfg), cfg2, tmp_path / "lr").fit()
    steps = pd.read_csv(tmp_path / "lr" / "steps.csv")
    assert steps.epoch.eq(1).all() and steps.lr.nunique() == len(steps) >= 4
    assert steps.lr.iloc[-1] < steps.lr.max() / 100  # annealed to the end of the cycle


def test_data_order_is_a_function_of_seed_and_epoch(real_tables, tiny_cfg, tmp_path):
    task = make_task("direction", real_tables, tiny_cfg)
    a, b = Trainer(task, tiny_cfg.training, tmp_path), Trainer(task, tiny_cfg.training, tmp_path)
    assert np.array_equal(a._batches(3)[0], b._batches(3)[0])
    assert not np.array_equal(a._batches(3)[0], a._batches(4)[0])


def test_device_and_mixed_precision_choices():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(BadInput, match="no CUDA device"):
            pick_device("cuda")
    cuda = torch.device("cuda")
    assert amp_dtype(torch.device("cpu"), "bf16") is None  # AMP only on CUDA
    assert amp_dtype(cuda, "off") is None
    assert amp_dtype(cuda, "fp16") is torch.float16 and amp_dtype(cuda, "bf16") is torch.bfloat16


def test_bad_checkpoint_files_are_refused(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(BadInput, match="cannot load checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"model": {}}, tmp_path / "foreign.pt")
    with pytest.raises(BadInput, match="not a KlineLab checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")

    class Evil:  # a pickled object: weights_only refuses to build it
        def __reduce__(self):
            return (print, ("code ran",))

    torch.save({"format": 1, "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(BadInput, match="cannot load checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")


def test_a_monitor_without_values_still_keeps_a_best_checkpoint(real_tables, tiny_cfg, tmp_path):
    task = make_task("direction", real_tables, tiny_cfg)
    metrics = task.metrics
    task.metrics = lambda out, ends: metrics(out, ends) | {"profit_factor": None}  # e.g. no losing trade at all
    cfg = tiny_cfg.training.model_copy(update={"monitor": "val_profit_factor"})
    tr = Trainer(task, cfg, tmp_path)
    res = tr.fit()
    assert res.best_epoch == 1 and res.best_score is None
    assert load_checkpoint(tmp_path / "checkpoints" / "best.pt")["epoch"] == 1


def test_attention_in_chunks_equals_one_call():
    """Above SDPA_MAX_SEQUENCES (window x channel) sequences attention runs in chunks (the fused CUDA
    kernels' grid limit, found on an H200); the chunked result is the same as one call."""
    import torch

    from engine.training import models

    torch.manual_seed(0)
    m = models.UnifiedPatchTST(n_features=5, context=32, head_sizes=[3, 1], d_model=16, n_heads=2, n_layers=2,
                               d_ff=32).eval()
    x = torch.randn(4, 32, 5)
    whole = m(x)
    old = models.SDPA_MAX_SEQUENCES
    try:
        models.SDPA_MAX_SEQUENCES = 7  # 4 windows x 5 channels = 20 sequences -> 3 chunks
        chunked = m(x)
    finally:
        models.SDPA_MAX_SEQUENCES = old
    assert torch.equal(whole, chunked)
