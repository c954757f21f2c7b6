"""Loss gradients: the trading loss is differentiable end to end (the gradient reaches every
parameter, also with the P&L term alone), lowering the fee moves the optimum towards larger
positions on a toy problem, and null targets are masked."""
import itertools
import math

import pytest
import torch

from engine.training.dataset import TargetSpec
from engine.training.losses import DirectionalTradingLoss, MultiTaskLoss
from engine.training.models import DirectionPredictor, UnifiedPatchTST

NAN = float("nan")


def _grads_everywhere(model):
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()
               or p.grad.abs().sum() == 0]
    return missing


@pytest.mark.parametrize("ce_weight", [1.0, 0.0])
def test_trading_loss_gradient_reaches_every_parameter(ce_weight):
    torch.manual_seed(0)
    model = DirectionPredictor(n_features=6, context=24, n_horizons=2, hidden=8, n_blocks=2)
    x = torch.randn(32, 24, 6)
    labels = torch.randint(0, 3, (32, 2)).float()
    labels[0, 1] = NAN  # masked
    returns = torch.randn(32, 2) * 0.01
    returns[3, 0] = NAN
    loss_fn = DirectionalTradingLoss(fee=0.001, ce_weight=ce_weight, pnl_weight=1.0, return_scale=[0.01, 0.01])
    loss, parts = loss_fn(model(x), labels, returns)
    assert torch.isfinite(loss) and parts.shape == (2,)
    loss.backward()
    assert _grads_everywhere(model) == []


def test_multitask_loss_gradient_reaches_every_parameter_of_patchtst():
    torch.manual_seed(0)
    specs = [TargetSpec("r", "regression"), TargetSpec("d", "multiclass", 3), TargetSpec("b", "binary")]
    model = UnifiedPatchTST(n_features=5, context=32, head_sizes=[1, 3, 1], d_model=16, n_heads=2, n_layers=2, d_ff=32,
                            patch_len=8, patch_stride=4, channel_summary=4, hidden=16)
    y = torch.tensor([[0.3, 2, 1], [NAN, 0, 0], [-1.0, NAN, 1], [0.1, 1, NAN]] * 4)
    loss, parts = MultiTaskLoss(specs)(model(torch.randn(16, 32, 5)), y)
    loss.backward()
    assert _grads_everywhere(model) == [] and parts.shape == (3,)


def test_multitask_loss_masks_null_targets_for_that_target_only():
    specs = [TargetSpec("r", "regression"), TargetSpec("d", "multiclass", 3)]
    fn = MultiTaskLoss(specs, regression="mse")
    out = torch.tensor([[1.0, 0.0, 0.0, 0.0], [2.0, 5.0, 0.0, 0.0]], requires_grad=True)
    y = torch.tensor([[0.0, NAN], [NAN, 0.0]])
    loss, parts = fn(out, y)
    ce = torch.nn.functional.cross_entropy(torch.tensor([[5.0, 0.0, 0.0]]), torch.tensor([0]))
    assert parts[0].item() == pytest.approx(1.0)  # only row 0 counts for r: (1 - 0)^2
    assert parts[1].item() == pytest.approx(ce.item())  # only row 1 counts for d
    assert loss.item() == pytest.approx((1.0 + ce.item()) / 2)
    loss.backward()
    assert out.grad[1, 0] == 0 and out.grad[0, 1:].abs().sum() == 0  # masked entries get no gradient
    # a target absent from the whole batch leaves the others' mean unchanged
    loss2, _ = fn(out, torch.tensor([[0.0, NAN], [NAN, NAN]]))
    assert loss2.item() == pytest.approx(1.0)


def test_soft_position_has_a_gradient_where_argmax_has_none():
    logits = torch.tensor([[[0.1, 0.2, 0.3]]], requires_grad=True)
    fn = DirectionalTradingLoss(fee=0.0, ce_weight=0.0, pnl_weight=1.0)
    loss, _ = fn(logits, torch.tensor([[NAN]]), torch.tensor([[0.01]]))
    loss.backward()
    assert logits.grad.abs().sum() > 0
    assert logits.grad[0, 0, 2] < 0 < logits.grad[0, 0, 0]  # descending the loss raises P(up), lowers P(down)


@pytest.fixture
def one_thread():
    """Tiny tensors: one thread avoids thread hand-off costs on a shared 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _optimum_position(fee, ce_weight, *, steps=150):
    """A constant policy (free logits) on returns with a small positive drift: the position that
    minimises the loss."""
    g = torch.Generator().manual_seed(1)
    r = 0.002 + 0.01 * torch.randn(2000, 1, generator=g)
    labels = torch.where(r > 0.003, 2.0, torch.where(r < -0.003, 0.0, 1.0))
    theta = torch.zeros(3, requires_grad=True)
    fn = DirectionalTradingLoss(fee=fee, ce_weight=ce_weight, pnl_weight=1.0, return_scale=0.01)
    opt = torch.optim.Adam([theta], lr=0.1)
    for _ in range(steps):
        opt.zero_grad()
        loss, _ = fn(theta.expand(len(r), 1, 3), labels, r)
        loss.backward()
        opt.step()
    return DirectionalTradingLoss.position(theta.detach()).item()


def test_lower_fee_moves_the_optimum_towards_larger_positions(one_thread):
    # P&L term alone: the optimum is all-in long when the fee is below the drift, flat above it
    assert _optimum_position(0.0005, 0.0) > 0.9
    assert abs(_optimum_position(0.004, 0.0)) < 0.1
    # with cross-entropy too the optimum is interior, and it grows as the fee falls
    pos = [_optimum_position(fee, 1.0) for fee in (0.004, 0.002, 0.001, 0.0)]
    assert all(a < b for a, b in itertools.pairwise(pos)), pos
    assert math.isfinite(pos[0])
