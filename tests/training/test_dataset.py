"""Windows never cross a gap, a symbol boundary or a row with a missing input; the scaler is
fitted on train rows only and round-trips through JSON; targets are taken at the last bar;
null targets are masked for that target only."""
import json

import numpy as np
import pandas as pd
import pytest

from config.errors import BadInput
from engine.splits import chronological_split
from engine.training.dataset import Scalers, build_windows, target_specs, window_ends
from engine.training.tasks import DirectionTask

STEP = 900 * 10**9  # 15m in ns


def _contiguous(ws, ends):
    """Every window: one symbol, consecutive 15m bars."""
    rows = ends[:, None] + np.arange(-ws.context + 1, 1)
    ts, sym = ws.timestamps[rows], ws.symbols[rows]
    return bool((np.diff(ts, axis=1) == STEP).all() and (sym == sym[:, :1]).all())


def test_window_ends_on_synthetic_gaps_symbols_and_invalid_rows():
    # symbol A: bars 0..9, a missing bar, then 11..19; symbol B: bars 0..7; row 15 of A invalid
    ts = np.r_[np.arange(10), np.arange(11, 20), np.arange(8)] * STEP
    sym = np.array(["A"] * 19 + ["B"] * 8)
    valid = np.ones(len(ts), bool)
    valid[np.flatnonzero((sym == "A") & (ts == 15 * STEP))] = False
    ends = window_ends(ts, sym, valid, context=4, step_ns=STEP)
    # A, first run (bars 0..9): ends at bars 3..9 -> rows 3..9 (7 windows)
    # A, second run (bars 11..19, 15 invalid): bars 11..14 -> end 14 (row 13); bars 16..19 -> end 19 (row 18)
    # B (rows 19..26): ends at rows 22..26
    assert ends.tolist() == [3, 4, 5, 6, 7, 8, 9, 13, 18, 22, 23, 24, 25, 26]
    assert window_ends(ts[:3], sym[:3], valid[:3], context=4, step_ns=STEP).size == 0


@pytest.fixture
def gappy(real_tables):
    """Real tables with a 7-bar hole in BTCUSDT's train part and a NaN input row in ETHUSDT."""
    f, t, meta = real_tables
    hole = f.index[(f.symbol == "BTCUSDT")][1000:1007]
    f, t = f.drop(hole).reset_index(drop=True), t.drop(hole).reset_index(drop=True)
    f = f.copy()
    eth = f.index[f.symbol == "ETHUSDT"]
    f.loc[eth[1500], "rsi_14"] = np.nan
    return f, t, meta


def _build(f, t, meta, names=None, context=32, stride=1, **kw):
    specs = target_specs(meta, names or list(meta))
    plan = chronological_split(f.timestamp, "15m", purge_bars=48)
    inputs = [c for c in f.columns if c not in ("timestamp", "symbol")]
    return build_windows(f, t, input_names=inputs, specs=specs, plan=plan, timeframe="15m", context=context,
                         stride=stride, **kw), plan


def test_no_window_crosses_a_gap_a_symbol_or_a_missing_input(gappy):
    f, t, meta = gappy
    ws, plan = _build(f, t, meta)
    for split, ends in ws.ends.items():
        assert len(ends) > 100, split
        assert _contiguous(ws, ends), split
    all_ends = np.concatenate(list(ws.ends.values()))
    # the bars right after the hole and after the NaN row start no window for 32 bars
    btc = np.flatnonzero(ws.symbols == "BTCUSDT")
    after_hole = btc[np.flatnonzero(np.diff(ws.timestamps[btc]) != STEP)[0] + 1]
    assert not np.isin(np.arange(after_hole, after_hole + 31), all_ends).any()
    assert after_hole + 31 in all_ends or plan.assign(ws.timestamps[[after_hole + 31]])[0] == ""
    nan_ts = pd.Timestamp(f.timestamp[f.symbol == "ETHUSDT"].iloc[1500]).value
    nan_row = np.flatnonzero((ws.symbols == "ETHUSDT") & (ws.timestamps == nan_ts))
    assert len(nan_row) == 1 and (ws.x.numpy()[nan_row[0]] == 0).all()
    assert not np.isin(np.arange(nan_row[0], nan_row[0] + 32), all_ends).any()
    assert nan_row[0] - 1 in all_ends or plan.assign(ws.timestamps[nan_row - 1])[0] == ""
    # every window's last bar lies in its split (purge rows start no window)
    for split, ends in ws.ends.items():
        assert (plan.assign(ws.timestamps[ends]) == split).all()


def test_scaler_fitted_on_train_rows_only(real_tables):
    f, t, meta = real_tables
    ws, plan = _build(f, t, meta)
    inputs = ws.feature_names
    train = plan.mask(f.timestamp, "train")
    x = f[inputs].to_numpy("float64")
    assert np.allclose(ws.scalers.inputs.center_, np.nanmedian(x[train], axis=0))
    q75, q25 = np.nanpercentile(x[train], [75, 25], axis=0)
    assert np.allclose(ws.scalers.inputs.scale_, q75 - q25)
    assert not np.allclose(ws.scalers.inputs.center_, np.nanmedian(x, axis=0))  # whole-data median differs
    # wrecking every non-train row changes nothing in the fit
    f2 = f.copy()
    f2.loc[~train, inputs] = f2.loc[~train, inputs] * 100 + 7
    ws2, _ = _build(f2, t, meta)
    assert np.array_equal(ws2.scalers.inputs.center_, ws.scalers.inputs.center_)
    assert np.array_equal(ws2.scalers.inputs.scale_, ws.scalers.inputs.scale_)
    assert ws.scalers.fitted_on["rows"] == int(train.sum())
    # regression targets: robust centre / scale of the train rows too
    tr = t.loc[train, "future_return_1h"].dropna().to_numpy()
    assert ws.scalers.target_center["future_return_1h"] == pytest.approx(np.median(tr))


def test_scaler_json_round_trip(real_tables):
    f, t, meta = real_tables
    ws, _ = _build(f, t, meta)
    text = json.dumps(ws.scalers.to_json())
    back = Scalers.from_json(json.loads(text))
    raw = f[ws.feature_names].to_numpy("float64")[:500]
    assert np.array_equal(back.transform(raw), ws.scalers.transform(raw), equal_nan=True)
    assert back.target_center == ws.scalers.target_center and back.feature_names == ws.feature_names
    with pytest.raises(BadInput, match="scaler file is malformed"):
        Scalers.from_json({"feature_names": ["a"], "center": [0.0], "scale": [0.0]})


def test_targets_at_the_last_context_bar_and_null_targets_masked(real_tables):
    f, t, meta = real_tables
    names = ["direction_15m", "direction_12h", "future_return_12h"]
    ws, _ = _build(f, t, meta, names)
    ends = ws.ends["test"]
    x, y, _ = ws.batch(ends[:64])
    assert tuple(x.shape) == (64, 32, len(ws.feature_names))
    assert np.array_equal(y[:, 0].numpy(), t["direction_15m"].to_numpy("float32")[ends[:64]])
    assert np.allclose(x[:, -1].numpy(), ws.x.numpy()[ends[:64]])  # last context bar = the target's row
    # the last 48 bars of each symbol have no 12h target but a 15m one: kept, 12h masked (NaN)
    last_btc = np.flatnonzero(ws.symbols == "BTCUSDT")[-1]
    tail = ends[(ends > last_btc - 48) & (ends < last_btc)]
    assert len(tail) > 40
    _, yt, _ = ws.batch(tail)
    assert np.isnan(yt[:, 1].numpy()).all() and np.isnan(yt[:, 2].numpy()).all() and np.isfinite(yt[:, 0].numpy()).all()
    # the very last bar has no target at all: no window ends there
    assert last_btc not in ends
    # nothing was filled: NaN stays NaN for the 12h target in the raw copy too
    assert np.isnan(ws.y_raw[tail, 1]).all()


def test_train_stride_and_eval_every_bar(real_tables):
    f, t, meta = real_tables
    ws1, _ = _build(f, t, meta, ["direction_1h"])
    ws4, _ = _build(f, t, meta, ["direction_1h"], stride=4)
    assert abs(len(ws4.ends["train"]) - len(ws1.ends["train"]) / 4) <= 4
    assert np.array_equal(ws4.ends["val"], ws1.ends["val"]) and np.array_equal(ws4.ends["test"], ws1.ends["test"])


def test_inputs_dropped_when_mostly_missing_or_constant(real_tables):
    f, t, meta = real_tables
    f = f.assign(sparse=np.where(np.arange(len(f)) % 3 == 0, 1.0, np.nan), flat=2.0)
    ws, _ = _build(f, t, meta, ["direction_1h"])
    assert "sparse" in ws.dropped_features and "flat" in ws.dropped_features
    assert "sparse" not in ws.feature_names and "rsi_14" in ws.feature_names


def test_bad_tables_are_refused(real_tables):
    f, t, meta = real_tables
    with pytest.raises(BadInput, match="not aligned"):
        _build(f, t.iloc[:-5], meta)
    with pytest.raises(BadInput, match="not in the feature set"):
        target_specs(meta, ["future_return_3d"])
    bad = t.copy()
    bad.loc[5, "direction_1h"] = 7
    with pytest.raises(BadInput, match="outside the classes"):
        _build(f, bad, meta, ["direction_1h"])
    specs = DirectionTask.specs(["1h"])
    assert specs[0].n_classes == 3 and specs[0].type == "multiclass"
