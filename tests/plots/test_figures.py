"""The figure builders of engine/plots tell the truth at any window: ZigZag labels thinned to the
largest swings (markers on every pivot), long windows OHLC-aggregated with a note, TensorBoard's
smoothing and log scale on training curves, Stage 1 curves on whole epochs, funding rates."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest

from engine.plots.features import CHART_BARS, MAX_PIVOT_LABELS, feature_figure, significant_pivots
from engine.plots.funding import funding_figure
from engine.plots.stage2 import stage1_history_figure
from engine.plots.training import compare_figure, loss_figure, metrics_figure, smooth


def _bars(days: int, step: str = "15min") -> pd.DataFrame:
    ts = pd.date_range("2025-01-01", periods=int(pd.Timedelta(days=days) / pd.Timedelta(step)), freq=step, tz="UTC")
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, len(ts))))
    op = np.r_[close[0], close[:-1]]
    return pd.DataFrame({"timestamp": ts, "open": op, "high": np.maximum(op, close) * 1.001,
                         "low": np.minimum(op, close) * 0.999, "close": close, "volume": 1.0, "f": np.sin(np.arange(len(ts)))})


def _pivots(bars: pd.DataFrame, every: int = 24) -> pd.DataFrame:
    """Alternating highs / lows every ``every`` bars, with swings of growing size."""
    idx = np.arange(every, len(bars), every)
    hi = np.arange(len(idx)) % 2 == 0
    price = np.where(hi, bars["high"].to_numpy()[idx], bars["low"].to_numpy()[idx])
    types = np.where(hi, np.where(np.arange(len(idx)) % 4 == 0, "HH", "LH"), np.where(np.arange(len(idx)) % 4 == 1, "HL", "LL"))
    t = bars["timestamp"].to_numpy()[idx]
    return pd.DataFrame({"pivot_time": pd.to_datetime(t, utc=True), "confirm_time": pd.to_datetime(t, utc=True),
                         "price": price, "type": types})


def _pivot_traces(fig):
    return [t for t in fig.data if t.type == "scatter" and t.mode == "markers+text"]


def test_significant_pivots_keeps_the_largest_swings():
    p = pd.DataFrame({"price": [100.0, 101.0, 100.5, 120.0, 119.0, 119.5]})
    keep = significant_pivots(p, 2)
    assert keep.sum() == 2 and keep[3] and keep[2]  # the 100.5 -> 120 swing is the only large one
    assert significant_pivots(p, 10).all() and significant_pivots(p, 0).sum() == 0


@pytest.mark.parametrize("days", [3, 90])
def test_zigzag_labels_bounded_and_every_pivot_keeps_its_marker(days):
    bars = _bars(days)
    piv = _pivots(bars, every=12)
    fig = feature_figure(bars, bars[["timestamp", "f"]], "f", pivots=piv, title="t")
    traces = _pivot_traces(fig)
    markers = sum(len(t.x) for t in traces)
    labels = sum(bool(s) for t in traces for s in t.text)
    assert markers == len(piv)  # markers on every pivot in view
    assert labels == min(len(piv), MAX_PIVOT_LABELS)
    assert fig.layout.meta["pivots"] == len(piv) and fig.layout.meta["labelled"] == labels
    if days == 3:
        assert labels == len(piv)  # a short window labels every pivot
    else:
        assert len(piv) > 5 * MAX_PIVOT_LABELS


def test_long_window_is_aggregated_with_a_note_and_the_feature_keeps_every_value():
    bars = _bars(90)  # 8,640 bars
    fig = feature_figure(bars, bars[["timestamp", "f"]], "f", title="t")
    candle = next(t for t in fig.data if t.type == "candlestick")
    line = next(t for t in fig.data if t.name == "f")
    assert len(candle.x) <= CHART_BARS < len(bars)
    assert max(candle.high) == bars["high"].max() and min(candle.low) == bars["low"].min()  # no extreme lost
    assert len(line.y) == len(bars)
    meta = fig.layout.meta
    assert meta["every"] > 1 and "OHLC-aggregated" in meta["note"] and meta["note"] in fig.layout.title.text
    # one shared date axis, times sent as numbers (ms since the epoch), not one string per point
    assert fig.layout.xaxis.type == "date" and fig.layout.xaxis.matches == "x2" and fig.layout.xaxis2.type == "date"
    assert candle.x[0] == bars["timestamp"].iloc[0].value // 1_000_000
    spec = json.loads(pio.to_json(fig, validate=False))
    assert spec["data"][-1]["x"].get("bdata")  # a binary array
    short = feature_figure(bars.tail(500), bars[["timestamp", "f"]].tail(500), "f")
    assert short.layout.meta["every"] == 1 and short.layout.meta["note"] == ""


def test_smoothing_is_tensorboards_debiased_ema():
    v = np.array([1.0, 0.5, 0.25, np.nan, 0.3])
    w = 0.6
    out = smooth(v, w)
    last, want = 0.0, []
    for i, x in enumerate([1.0, 0.5, 0.25]):
        last = last * w + (1 - w) * x
        want.append(last / (1 - w ** (i + 1)))
    assert np.allclose(out[:3], want) and out[0] == 1.0 and np.isnan(out[3])
    assert np.isclose(out[4], (last * w + (1 - w) * 0.3) / (1 - w ** 4))
    assert np.array_equal(smooth(v[:3], 0.0), v[:3])


def test_training_curves_smoothing_and_log_scale():
    h = pd.DataFrame({"epoch": [1, 2, 3, 4], "train_loss": [1.0, 0.5, 0.3, 0.2], "val_loss": [1.1, 0.7, 0.6, 0.65],
                      "val_accuracy": [0.5, 0.55, 0.56, 0.57]})
    plain = loss_figure(h)
    assert plain.layout.yaxis.type != "log" and len(plain.data) == 2
    fig = loss_figure(h, smoothing=0.8, log_y=True)
    assert fig.layout.yaxis.type == "log"
    raw = [t for t in fig.data if t.name.endswith("(raw)")]
    sm = [t for t in fig.data if not t.name.endswith("(raw)")]
    assert len(raw) == len(sm) == 2 and all(t.showlegend is False for t in raw)
    for r, s in zip(raw, sm):
        assert r.line.color == s.line.color and r.opacity < 1  # faint raw under the smoothed line, same colour
        assert list(r.y) == list(h[s.name == "train" and "train_loss" or "val_loss"])
        assert np.allclose(s.y, smooth(r.y, 0.8))
    assert metrics_figure(h, log_y=True).layout.yaxis.type == "log"
    cmp = compare_figure({"a": h, "b": h}, "val_loss", smoothing=0.5, log_y=True)
    assert cmp.layout.yaxis.type == "log" and len(cmp.data) == 4 and cmp.layout.meta["smoothing"] == 0.5


def test_stage1_history_on_whole_epochs_with_the_best_epoch_marked():
    h = pd.DataFrame({"epoch": [1, 2, 3, 4], "loss": [0.9, 0.7, 0.6, 0.55], "accuracy": [0.5, 0.6, 0.65, 0.7],
                      "val_loss": [0.95, 0.8, 0.85, 0.9], "val_accuracy": [0.5, 0.55, 0.54, 0.53]})
    fig = stage1_history_figure(h)
    assert [t.name for t in fig.data] == ["train", "validation", "train", "validation"]
    assert fig.layout.xaxis.tickformat == "d" and fig.layout.xaxis.dtick == 1 and fig.layout.xaxis2.tickformat == "d"
    assert [s.x0 for s in fig.layout.shapes] == [2, 2]
    assert any(a.text == "best epoch 2" for a in fig.layout.annotations)
    assert fig.layout.legend.y < 0
    no_epoch = stage1_history_figure(h.drop(columns="epoch"))
    assert list(no_epoch.data[0].x) == [1, 2, 3, 4]


def test_funding_rates_per_event_and_cumulative():
    ts = pd.date_range("2025-01-01", periods=6, freq="8h", tz="UTC")
    f = pd.DataFrame({"timestamp": ts, "funding_rate": [1e-4, -2e-4, 1e-4, np.nan, 3e-4, 1e-4]})
    fig = funding_figure(f, "BTCUSDT-PERP funding rate")
    pos, neg, cum = fig.data
    assert np.allclose(np.nan_to_num(pos.y), [0.01, 0, 0.01, 0.03, 0.01])
    assert np.allclose(np.nan_to_num(neg.y), [0, -0.02, 0, 0, 0])
    assert np.isclose(cum.y[-1], 0.04)
    meta = fig.layout.meta
    assert meta["events"] == 5 and meta["interval_h"] == 8 and np.isclose(meta["mean_pct"], 0.008)
    assert np.isclose(meta["annualised_pct"], 0.008 * 3 * 365.25) and meta["positive_share"] == 0.8
