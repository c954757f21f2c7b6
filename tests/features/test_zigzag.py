"""ZigZag on a hand-made zigzag series: pivots, types, confirmation bars and labels."""
import numpy as np
import pandas as pd

from engine.features.zigzag import pivot_labels, zigzag_pivots

NS = 900 * 10 ** 9


def path():
    # close path (high = low = close): 100 -> 110 (bar 5) -> 104 (bar 8) -> 115 (bar 12) -> 107 (bar 16)
    # -> 112 (bar 19) -> 100 (bar 24) -> 105 (bar 27)
    pts = [(0, 100), (5, 110), (8, 104), (12, 115), (16, 107), (19, 112), (24, 100), (27, 105)]
    x = np.interp(np.arange(28), [p[0] for p in pts], [p[1] for p in pts])
    return x


def test_pivots_types_and_confirmation_bars():
    x = path()
    t = np.arange(len(x), dtype=np.int64) * NS
    p = zigzag_pivots(t, x, x, 3.0)
    # raw pivots: L0 (bar 0) H5 L8 H12 L16 H19 L24; the first high (5) and first low (0) are not typed
    assert p["pivot_idx"].tolist() == [8, 12, 16, 19, 24]
    assert p["type"].tolist() == ["HL", "HH", "HL", "LH", "LL"]
    assert p["label"].tolist() == [2, 0, 2, 1, 3]
    assert p["side"].tolist() == ["low", "high", "low", "high", "low"]
    assert p["price"].tolist() == [104.0, 115.0, 107.0, 112.0, 100.0]
    # confirmation = first bar reversing by >= 3 % from the extreme
    conf = p["confirm_idx"].tolist()
    for (i, c), price, side in zip(zip(p["pivot_idx"], conf), p["price"], p["side"]):
        assert c > i
        seg = x[i + 1:c + 1]
        if side == "high":
            assert seg[-1] <= price * 0.97 and (seg[:-1] > price * 0.97).all()
        else:
            assert seg[-1] >= price * 1.03 and (seg[:-1] < price * 1.03).all()
    assert conf == [10, 14, 18, 21, 26]
    assert (p["confirm_time"] > p["pivot_time"]).all()
    assert p["pivot_time"].iloc[0] == pd.Timestamp(8 * NS, unit="ns", tz="UTC")


def test_small_moves_below_the_deviation_make_no_pivot():
    x = 100 + np.sin(np.arange(200) / 3.0)  # +-1 %
    t = np.arange(200, dtype=np.int64) * NS
    assert len(zigzag_pivots(t, x, x, 3.0)) == 0
    assert len(zigzag_pivots(t, x, x, 1.0)) > 10


def test_uses_high_for_highs_low_for_lows_and_not_the_same_bar():
    high = np.array([100, 100, 101, 100, 99, 99, 100.5, 103, 100])
    low = np.array([99.5, 99.5, 99.5, 99, 97, 98, 99.5, 95, 99])
    # bar 4: low 97 <= 101 x 0.97 confirms the high of bar 2; bar 6: high 100.5 >= 97 x 1.03 confirms the
    # low of bar 4; bar 7 makes a new high AND a low 95 far below it: the order inside the bar is unknown,
    # so bar 7 confirms nothing; bar 8 (low 99 <= 103 x 0.97) confirms the high of bar 7
    from engine.features.zigzag import _zigzag

    piv, conf, side = _zigzag(high, low, 0.03)
    assert piv.tolist() == [2, 4, 7] and conf.tolist() == [4, 6, 8] and side.tolist() == [1, -1, 1]
    t = np.arange(len(high), dtype=np.int64) * NS
    p = zigzag_pivots(t, high, low, 3.0)
    assert p["pivot_idx"].tolist() == [7] and p["type"].tolist() == ["HH"] and p["price"].tolist() == [103.0]


def test_labels_mark_pivot_bars_with_their_knowable_time():
    x = path()
    t = np.arange(len(x), dtype=np.int64) * NS
    p = zigzag_pivots(t, x, x, 3.0)
    ts = pd.to_datetime(t, utc=True).as_unit("ms")
    lab = pivot_labels(len(x), p, ts)
    assert lab["pivot"].sum() == 5 and lab.loc[lab["pivot"] == 1].index.tolist() == [8, 12, 16, 19, 24]
    assert lab.loc[12, "pivot_label"] == 0 and lab.loc[0, "pivot_label"] == -1
    assert lab.loc[12, "confirm_time"] == ts[14]
    assert lab.loc[lab["pivot"] == 0, "confirm_time"].isna().all()
