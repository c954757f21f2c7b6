"""The trainer (SPEC 6): AdamW, OneCycle stepped per optimizer step, gradient clipping and
accumulation, AMP (bf16 / fp16) and TF32 on CUDA, early stopping, best and last
checkpoints, resume after a kill, deterministic seeds, TensorBoard logs, per-epoch trading
metrics on the validation split, device auto (CUDA / MPS / CPU).

Resume is exact: the data order of an epoch is a function of (seed, epoch) alone, and
``last.pt`` holds everything else that changes while training (model, optimizer,
scheduler, AMP scaler, torch RNG states, position inside the epoch, running sums, history,
early-stopping state).  A run killed at any point and resumed ends with the same weights
and metrics as an uninterrupted one (bit for bit on CPU).

Checkpoints contain state dicts and plain Python values only, so they load with
``torch.load(path, weights_only=True)``; they are written to a temporary file and renamed
into place, so a kill during a save leaves the previous checkpoint intact.
"""
from __future__ import annotations

import csv
import math
import os
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from config.errors import BadInput
from engine.training.config import TrainingConfig
from engine.training.models import build_model
from engine.training.tasks import Task

CHECKPOINT_FORMAT = 1
LOWER_IS_BETTER = {"val_loss"}


def pick_device(pref: str = "auto") -> torch.device:
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if pref == "cuda" and not torch.cuda.is_available():
        raise BadInput("training.device is cuda but no CUDA device is available", hint="use device: auto or cpu")
    if pref == "mps" and not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
        raise BadInput("training.device is mps but MPS is not available", hint="use device: auto or cpu")
    return torch.device(pref)


def amp_dtype(device: torch.device, amp: str) -> torch.dtype | None:
    """Mixed precision only on CUDA: bf16 where supported (auto), or as configured."""
    if device.type != "cuda" or amp == "off":
        return None
    if amp == "fp16":
        return torch.float16
    if amp == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)  # also seeds every CUDA device
    np.random.seed(seed % (2**32))


def save_atomic(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (no arbitrary code from the file)."""
    try:
        ck = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - any unpickling problem is a bad file for the user
        raise BadInput(f"cannot load checkpoint {path}: {type(e).__name__}: {e}") from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise BadInput(f"{path} is not a KlineLab checkpoint (format {CHECKPOINT_FORMAT})")
    return ck


def summary_writer(log_dir: Path, purge_step: int | None = None):
    """torch's SummaryWriter without importing TensorFlow: tensorboard imports TF when it is
    installed (it is, for Stage 1) unless ``tensorboard.compat.notf`` exists; registering
    that module selects tensorboard's own stub, as its no-TensorFlow build does."""
    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)


def _num(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        v = v.item()
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v


@dataclass
class FitResult:
    history: list[dict[str, Any]]
    best_epoch: int
    best_score: float | None
    stopped_early: bool
    device: str
    amp: str | None


class Trainer:
    """Trains ``task``'s model on its windows; files go to ``workdir`` (checkpoints/,
    metrics.csv, steps.csv, tensorboard/)."""

    def __init__(self, task: Task, cfg: TrainingConfig, workdir: Path, *,
                 progress: Callable[[float, str], None] | None = None, fraction: tuple[float, float] = (0.0, 1.0)):
        self.task, self.cfg, self.workdir = task, cfg, Path(workdir)
        self.ckpt_dir = self.workdir / "checkpoints"
        self.progress = progress or (lambda f, m: None)
        self.fraction = fraction  # the share of the whole job this fit covers (walk-forward folds)
        self.device = pick_device(cfg.device)
        self.amp = amp_dtype(self.device, cfg.amp)
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = cfg.tf32
            torch.backends.cudnn.allow_tf32 = cfg.tf32

    # -- model --------------------------------------------------------------------------
    def new_model(self) -> torch.nn.Module:
        seed_everything(self.cfg.seed)
        return build_model(self.task.kind, self.task.model_kwargs()).to(self.device)

    def _batches(self, epoch: int) -> tuple[np.ndarray, int]:
        """The train window ends of ``epoch`` in their order (a function of seed and epoch only)."""
        ends = self.task.data.ends["train"]
        perm = np.random.default_rng([self.cfg.seed, epoch]).permutation(len(ends))
        nb = math.ceil(len(ends) / self.cfg.batch_size)
        if self.cfg.max_batches_per_epoch:
            nb = min(nb, self.cfg.max_batches_per_epoch)
        return ends[perm], nb

    def steps_per_epoch(self) -> int:
        nb = self._batches(0)[1]
        return math.ceil(nb / self.cfg.accumulation_steps)

    @torch.no_grad()
    def predict(self, model: torch.nn.Module, ends: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """Outputs (float32 numpy) for the windows ending at ``ends``, the mean loss and the
        mean loss parts over them."""
        model.eval()
        outs, losses, parts, weights = [], [], [], []
        bs = self.cfg.eval_batch_size
        for i in range(0, len(ends), bs):
            x, y, a = self.task.data.batch(ends[i:i + bs])
            with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
                out = model(x)
            loss, p = self.task.loss(out.float(), y, a)
            outs.append(out.float().cpu())
            losses.append(loss.float().cpu())
            parts.append(p.float().cpu())
            weights.append(len(x))
        if not outs:
            return np.empty((0,)), float("nan"), np.empty(0)
        w = torch.tensor(weights, dtype=torch.float32) / sum(weights)
        return (torch.cat(outs).numpy(), float((torch.stack(losses) * w).sum()),
                (torch.stack(parts) * w[:, None]).sum(0).numpy())

    def evaluate(self, model: torch.nn.Module, split: str) -> tuple[dict[str, Any], np.ndarray]:
        """Metrics of ``split`` and the model's outputs for its windows."""
        ends = self.task.data.ends[split]
        out, loss, parts = self.predict(model, ends)
        res = {"loss": loss} | {f"loss_{n}": float(v) for n, v in zip(self.task.part_names, parts)}
        return res | self.task.metrics(out, ends), out

    # -- fit ----------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> FitResult:
        cfg = self.cfg
        data = self.task.data
        if len(data.ends["train"]) == 0 or len(data.ends["val"]) == 0:
            raise BadInput(f"not enough windows to train: {data.counts()}",
                           hint="use more data, a shorter context window or other split fractions")
        if self.device.type != "cpu":
            data.to(self.device)
        self.task.to(self.device)
        model = self.new_model()
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        steps_per_epoch = self.steps_per_epoch()
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch,
                                                    pct_start=cfg.pct_start)
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp == torch.float16)
        st: dict[str, Any] = {"epoch": 0, "batch": 0, "global_step": 0, "history": [], "best_score": None,
                              "best_epoch": 0, "bad_epochs": 0, "done": False, "stopped_early": False,
                              "run_loss": torch.zeros(()), "run_parts": torch.zeros(len(self.task.part_names)),
                              "run_n": 0, "epoch_time": 0.0}
        last = self.ckpt_dir / "last.pt"
        if resume and last.is_file():
            ck = load_checkpoint(last, self.device)
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            sched.load_state_dict(ck["scheduler"])
            if ck.get("grad_scaler"):
                scaler.load_state_dict(ck["grad_scaler"])
            torch.set_rng_state(ck["rng"]["torch"].cpu())
            if self.device.type == "cuda" and ck["rng"].get("cuda"):
                torch.cuda.set_rng_state_all([t.cpu() for t in ck["rng"]["cuda"]])
            st.update({k: ck["state"][k] for k in st if k in ck["state"]})
            self.progress(self._frac(st["epoch"], st["batch"]),
                          f"resuming at epoch {st['epoch'] + 1}, batch {st['batch']} (step {st['global_step']})")
        self._trim_steps_log(st["global_step"])
        writer = summary_writer(self.workdir / "tensorboard", purge_step=st["global_step"] if resume else None)
        try:
            if not st["done"]:
                self._loop(model, opt, sched, scaler, st, writer)
        finally:
            writer.close()
        return FitResult(st["history"], st["best_epoch"], st["best_score"], st["stopped_early"], str(self.device),
                         None if self.amp is None else str(self.amp).replace("torch.", ""))

    def _frac(self, epoch: int, batch: int) -> float:
        nb = self._batches(0)[1]
        a, b = self.fraction
        return a + (b - a) * min(1.0, (epoch + batch / max(nb, 1)) / self.cfg.epochs)

    def _loop(self, model, opt, sched, scaler, st: dict[str, Any], writer) -> None:
        """The epochs from ``st`` on: the train batches (an optimizer step every ``accumulation_steps``),
        then validation, checkpoints and the early-stopping decision."""
        cfg = self.cfg
        last_report = 0.0
        steps_log = open(self.workdir / "steps.csv", "a", newline="")  # noqa: SIM115 - closed in the finally below
        try:
            for epoch in range(st["epoch"], cfg.epochs):
                order, nb = self._batches(epoch)
                model.train()
                t0 = time.monotonic() - st["epoch_time"]
                for b in range(st["batch"], nb):
                    self._train_batch(model, scaler, st, order[b * cfg.batch_size:(b + 1) * cfg.batch_size])
                    if (b + 1) % cfg.accumulation_steps == 0 or b == nb - 1:
                        self._optimizer_step(model, opt, sched, scaler, st, writer, steps_log, epoch, b, nb, t0)
                    now = time.monotonic()
                    if now - last_report > 1.0:
                        last_report = now
                        self.progress(self._frac(epoch, b + 1), f"epoch {epoch + 1}/{cfg.epochs} batch {b + 1}/{nb} "
                                                                 f"loss {float(st['run_loss'] / st['run_n']):.4f}")
                if self._end_epoch(model, opt, sched, scaler, st, writer, epoch, t0):
                    break
        finally:
            steps_log.close()

    def _train_batch(self, model, scaler, st: dict[str, Any], ends: np.ndarray) -> None:
        """Forward and backward of one batch (gradients accumulate); the running train loss in ``st``."""
        x, y, a = self.task.data.batch(ends)
        with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
            out = model(x)
        loss, parts = self.task.loss(out, y, a)
        scaler.scale(loss / self.cfg.accumulation_steps).backward()
        st["run_loss"] = st["run_loss"] + loss.detach().float().cpu()
        st["run_parts"] = st["run_parts"] + parts.float().cpu()
        st["run_n"] += 1

    def _optimizer_step(self, model, opt, sched, scaler, st: dict[str, Any], writer, steps_log, epoch: int, b: int,
                        nb: int, t0: float) -> None:
        """One optimizer step after batch ``b``: clip, step, log every 10 steps, checkpoint mid-epoch."""
        cfg = self.cfg
        if cfg.grad_clip > 0:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        sched.step()
        st["global_step"] += 1
        gs = st["global_step"]
        if gs % 10 == 0 or b == nb - 1:
            lr = sched.get_last_lr()[0]
            mean = float(st["run_loss"] / st["run_n"])
            steps_log.write(f"{gs},{epoch + 1},{mean:.6g},{lr:.6g}\n")
            steps_log.flush()
            writer.add_scalar("train/loss_running", mean, gs)
            writer.add_scalar("train/lr", lr, gs)
        if cfg.checkpoint_every_steps and gs % cfg.checkpoint_every_steps == 0 and b < nb - 1:
            st["batch"], st["epoch"] = b + 1, epoch
            st["epoch_time"] = time.monotonic() - t0
            self._save_last(model, opt, sched, scaler, st)

    def _end_epoch(self, model, opt, sched, scaler, st: dict[str, Any], writer, epoch: int, t0: float) -> bool:
        """Validate, keep the best checkpoint, log, save the last one; True when training stops here."""
        cfg, task = self.cfg, self.task
        train_loss = float(st["run_loss"] / max(st["run_n"], 1))
        train_parts = (st["run_parts"] / max(st["run_n"], 1)).tolist()
        val, _ = self.evaluate(model, "val")
        rec: dict[str, Any] = {"epoch": epoch + 1, "step": st["global_step"], "lr": sched.get_last_lr()[0],
                               "train_loss": train_loss}
        rec |= {f"train_loss_{n}": v for n, v in zip(task.part_names, train_parts)}
        rec |= {f"val_{k}": _num(v) for k, v in val.items()}
        rec["epoch_time_s"] = round(time.monotonic() - t0, 3)
        st["history"].append(rec)
        better = self._keep_if_best(model, st, rec, epoch)
        stop = bool(cfg.early_stopping_patience and st["bad_epochs"] >= cfg.early_stopping_patience)
        st.update({"epoch": epoch + 1, "batch": 0, "run_loss": torch.zeros(()),
                   "run_parts": torch.zeros(len(task.part_names)), "run_n": 0, "epoch_time": 0.0,
                   "stopped_early": stop and epoch + 1 < cfg.epochs, "done": stop or epoch + 1 >= cfg.epochs})
        for k, v in rec.items():
            if k not in ("epoch", "step") and isinstance(v, (int, float)):
                writer.add_scalar(("val/" + k[4:]) if k.startswith("val_") else f"epoch/{k}", v, st["global_step"])
        self._write_metrics(st["history"])
        self._save_last(model, opt, sched, scaler, st)
        self.progress(self._frac(epoch + 1, 0), f"epoch {epoch + 1}/{cfg.epochs}: train {train_loss:.4f}, "
                                                f"val {rec['val_loss']:.4f}" + (" (best)" if better else ""))
        return stop

    def _keep_if_best(self, model, st: dict[str, Any], rec: dict[str, Any], epoch: int) -> bool:
        """Compare the epoch's monitored score with the best so far; write best.pt when it is better (or
        when there is no best yet).  True when it is better."""
        cfg, monitor = self.cfg, self.cfg.monitor
        score = rec.get(monitor)
        better = score is not None and (
            st["best_score"] is None
            or (score < st["best_score"] - cfg.min_delta if monitor in LOWER_IS_BETTER
                else score > st["best_score"] + cfg.min_delta))
        if better or st["best_epoch"] == 0:  # no score yet (e.g. no trade, no profit factor): keep one
            if better:
                st["best_score"], st["bad_epochs"] = score, 0
            else:
                st["bad_epochs"] += 1
            st["best_epoch"] = epoch + 1
            save_atomic({"format": CHECKPOINT_FORMAT, "kind": self.task.kind, "model_kwargs": model.kwargs,
                         "model": model.state_dict(), "epoch": epoch + 1, "monitor": monitor, "score": score,
                         "metrics": {k: v for k, v in rec.items() if isinstance(v, (int, float)) or v is None}},
                        self.ckpt_dir / "best.pt")
        else:
            st["bad_epochs"] += 1
        return better

    def _save_last(self, model, opt, sched, scaler, st) -> None:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state_all()
        save_atomic({"format": CHECKPOINT_FORMAT, "kind": self.task.kind, "model_kwargs": model.kwargs,
                     "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                     "grad_scaler": scaler.state_dict() if scaler.is_enabled() else {}, "rng": rng, "state": dict(st)},
                    self.ckpt_dir / "last.pt")

    def _write_metrics(self, history: list[dict[str, Any]]) -> None:
        keys = list(dict.fromkeys(k for r in history for k in r))
        tmp = self.workdir / ".metrics.csv.tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(history)
        os.replace(tmp, self.workdir / "metrics.csv")

    def _trim_steps_log(self, global_step: int) -> None:
        """steps.csv keeps the rows up to the checkpoint being resumed from (a killed run may
        have logged steps past it that will be run again)."""
        p = self.workdir / "steps.csv"
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not p.is_file() or p.stat().st_size == 0:
            p.write_text("step,epoch,train_loss,lr\n")
            return
        lines = p.read_text().splitlines()
        keep = [lines[0]] + [ln for ln in lines[1:] if ln and ln.split(",")[0].isdigit() and int(ln.split(",")[0]) <= global_step]
        p.write_text("\n".join(keep) + "\n")

    def load_best(self) -> torch.nn.Module:
        ck = load_checkpoint(self.ckpt_dir / "best.pt", self.device)
        model = build_model(ck["kind"], ck["model_kwargs"]).to(self.device)
        model.load_state_dict(ck["model"])
        return model.eval()
