"""Losses.

* :class:`MultiTaskLoss` (UnifiedPatchTST): one loss per target by type (Huber or MSE on
  robust-scaled regression targets, cross-entropy for k-class targets, BCE-with-logits
  for binary ones), weighted per type and per target; a target that is null at a window's
  last bar is masked out for that target only.
* :class:`DirectionalTradingLoss` (DirectionPredictor): cross-entropy plus the expected
  P&L of the position implied by the predicted probabilities, net of a round-trip fee.
  The position is ``P(up) - P(down)`` in [-1, 1] and the P&L ``position * r - fee * |position|``
  for the realised return ``r`` of that horizon: differentiable with respect to every logit
  (the seed took the argmax, which has no gradient).  The P&L is divided by a per-horizon
  return scale (the train std of the returns) so its weight is comparable with the CE's.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from engine.training.dataset import TargetSpec


class MultiTaskLoss(nn.Module):
    """Targets of one type (and one class count) are computed together, masked elementwise,
    so a step costs a handful of kernels and no host synchronisation, whatever the number
    of targets."""

    def __init__(self, specs: list[TargetSpec], *, type_weights: dict[str, float] | None = None,
                 target_weights: dict[str, float] | None = None, regression: str = "huber", huber_delta: float = 1.0,
                 label_smoothing: float = 0.0):
        super().__init__()
        tw = {"regression": 1.0, "multiclass": 1.0, "binary": 1.0} | dict(type_weights or {})
        self.specs = list(specs)
        self.names = [s.name for s in self.specs]
        self.register_buffer("weights", torch.tensor(
            [tw[s.type] * float((target_weights or {}).get(s.name, 1.0)) for s in self.specs], dtype=torch.float32))
        self.regression, self.delta, self.smoothing = regression, huber_delta, label_smoothing
        starts, i = [], 0
        for s in self.specs:
            starts.append(i)
            i += s.n_classes
        self.n_outputs = i
        # groups: (kind, k, target columns, output columns (n_t, k))
        self.groups: list[tuple[str, int, torch.Tensor, torch.Tensor]] = []
        keys = sorted({(s.type, s.n_classes) for s in self.specs})
        for t, k in keys:
            cols = [j for j, s in enumerate(self.specs) if (s.type, s.n_classes) == (t, k)]
            outs = [[starts[j] + c for c in range(k)] for j in cols]
            self.groups.append((t, k, torch.tensor(cols), torch.tensor(outs)))

    def forward(self, out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``out`` (B, n_outputs), ``y`` (B, targets) with NaN where unknown.  Returns the
        weighted mean over the targets present in the batch, and the per-target losses
        (a detached vector in ``self.names`` order)."""
        out = out.float()
        per_target = out.new_zeros(len(self.specs))
        present = out.new_zeros(len(self.specs))
        for t, k, cols, outs in self.groups:
            cols, outs = cols.to(out.device), outs.to(out.device)
            yt = y[:, cols]  # (B, n_t)
            m = torch.isfinite(yt)
            yz = torch.where(m, yt, torch.zeros_like(yt))
            o = out[:, outs]  # (B, n_t, k)
            if t == "regression":
                o = o[..., 0]
                el = F.huber_loss(o, yz, delta=self.delta, reduction="none") if self.regression == "huber" \
                    else F.mse_loss(o, yz, reduction="none")
            elif t == "multiclass":
                el = F.cross_entropy(o.reshape(-1, k), yz.long().reshape(-1), reduction="none",
                                     label_smoothing=self.smoothing).view_as(yz)
            else:
                tt = yz * (1 - self.smoothing) + 0.5 * self.smoothing
                el = F.binary_cross_entropy_with_logits(o[..., 0], tt, reduction="none")
            n = m.sum(0)
            per_target[cols] = (el * m).sum(0) / n.clamp_min(1)
            present[cols] = (n > 0).float()
        w = self.weights * present
        total = (per_target * w).sum() / w.sum().clamp_min(1e-12)
        return total, per_target.detach()


class DirectionalTradingLoss(nn.Module):
    def __init__(self, *, fee: float = 0.001, ce_weight: float = 1.0, pnl_weight: float = 0.5,
                 return_scale: torch.Tensor | list[float] | None = None, label_smoothing: float = 0.0):
        super().__init__()
        self.fee, self.ce_weight, self.pnl_weight, self.smoothing = float(fee), float(ce_weight), float(pnl_weight), label_smoothing
        scale = torch.as_tensor(1.0 if return_scale is None else return_scale, dtype=torch.float32)
        self.register_buffer("return_scale", scale.clamp_min(1e-12))

    @staticmethod
    def position(logits: torch.Tensor) -> torch.Tensor:
        """The soft position P(up) - P(down) implied by (..., 3) logits (classes DOWN, FLAT, UP)."""
        p = torch.softmax(logits.float(), dim=-1)
        return p[..., 2] - p[..., 0]

    def expected_pnl(self, logits: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
        """Per sample and horizon: position * return - fee * |position| (NaN where the return is unknown)."""
        pos = self.position(logits)
        return pos * returns - self.fee * pos.abs()

    names = ("ce", "pnl")  # a tuple: class attributes stay immutable

    def forward(self, logits: torch.Tensor, labels: torch.Tensor, returns: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``logits`` (B, H, 3); ``labels`` (B, H) class indices with NaN where unknown;
        ``returns`` (B, H) realised future returns with NaN where unknown.  Returns the loss
        and the detached vector (cross-entropy, mean scaled P&L)."""
        logits = logits.float()
        ml = torch.isfinite(labels)
        lz = torch.where(ml, labels, torch.zeros_like(labels)).long()
        el = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), lz.reshape(-1), reduction="none",
                             label_smoothing=self.smoothing).view_as(lz)
        ce = (el * ml).sum() / ml.sum().clamp_min(1)
        mr = torch.isfinite(returns)
        r = torch.where(mr, returns, torch.zeros_like(returns))
        pnl = self.expected_pnl(logits, r) / self.return_scale
        pnl_mean = (pnl * mr).sum() / mr.sum().clamp_min(1)
        loss = self.ce_weight * ce - self.pnl_weight * pnl_mean
        return loss, torch.stack([ce.detach(), pnl_mean.detach()])
