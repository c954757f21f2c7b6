"""Cross-asset: correlation and beta to BTC, relative strength, BTC's recent returns, sector
mean return excluding the symbol itself, the equal-weight market return excluding the symbol,
cross-sectional rank and dispersion.

All symbols are placed on one regular time grid (the timeframe's step), so a value at time t
only ever uses other symbols' bars at the same timestamps (<= t); a bar missing from a symbol
is NaN there, never the neighbouring bar.  Returns on the grid span exactly k steps (NaN when
either end is missing).  Rolling statistics are pairwise-complete (NaN-aware prefix sums)."""
from __future__ import annotations

import warnings

import numpy as np

from engine.features.context import Universe
from engine.features.kernels import rolling_beta, rolling_corr
from engine.features.registry import Family


def _grid_ret(close: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(close, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[k:] = np.log(close[k:] / close[:-k])
    return out


def _nanmean_excluding(m: np.ndarray, j: int, cols: list[int]) -> np.ndarray:
    others = [c for c in cols if c != j]
    if not others:
        return np.full(m.shape[0], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(m[:, others], axis=1)


def _xs_rank(m: np.ndarray) -> np.ndarray:
    """Cross-sectional rank of each column among the valid ones, scaled to 0 (lowest) .. 1."""
    valid = ~np.isnan(m)
    filled = np.where(valid, m, np.inf)
    ranks = filled.argsort(axis=1, kind="stable").argsort(axis=1).astype(np.float64)
    nvalid = valid.sum(axis=1, keepdims=True).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = ranks / (nvalid - 1.0)
    out[~valid | (nvalid < 2).repeat(m.shape[1], axis=1)] = np.nan
    return out


def _shared(u: Universe) -> dict[str, np.ndarray]:
    """Grid returns of every column and the cross-sectional statistics of the set's symbols."""
    sel = [u.col(s) for s in u.symbols]
    sh = {f"r{k}": _grid_ret(u.close, k) for k in (1, 4, 16, 96)}
    if len(u.symbols) >= 2:
        sh["rank16"], sh["rank96"] = _xs_rank(sh["r16"][:, sel]), _xs_rank(sh["r96"][:, sel])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            disp = np.nanstd(sh["r16"][:, sel], axis=1)
        disp[(~np.isnan(sh["r16"][:, sel])).sum(axis=1) < 2] = np.nan
        sh["disp"] = disp
    return sh


def compute(u: Universe, cfg, symbols: list[str] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """{symbol: {feature: values at the symbol's own rows}} for the features whose inputs exist,
    for ``symbols`` (all of the set when None; the per-symbol build asks for one at a time, the
    grid returns and ranks are computed once per universe)."""
    sel = [u.col(s) for s in u.symbols]
    sh = u.cached("cross_asset", lambda: _shared(u))
    r1, r4, r16, r96 = sh["r1"], sh["r4"], sh["r16"], sh["r96"]
    have_btc = u.btc is not None
    have_universe = len(u.symbols) >= 2
    out: dict[str, dict[str, np.ndarray]] = {}
    if have_btc:
        jb = u.col(u.btc)
    for i, s in enumerate(u.symbols):
        if symbols is not None and s not in symbols:
            continue
        j = u.col(s)
        rows = u.rows[s]
        f: dict[str, np.ndarray] = {}
        if have_btc:
            f["btc_corr_32"] = rolling_corr(r1[:, j], r1[:, jb], 32, 24)
            f["btc_corr_96"] = rolling_corr(r1[:, j], r1[:, jb], 96, 72)
            f["btc_beta_96"] = rolling_beta(r1[:, j], r1[:, jb], 96, 72)
            f["rel_strength_btc_16"] = r16[:, j] - r16[:, jb]
            f["rel_strength_btc_96"] = r96[:, j] - r96[:, jb]
            f["btc_ret_1"] = r1[:, jb]
            f["btc_ret_4"] = r4[:, jb]
            f["btc_ret_16"] = r16[:, jb]
        if have_universe:
            sector = u.sectors.get(s)
            peers = [u.col(p) for p in u.symbols if p != s and sector is not None and u.sectors.get(p) == sector]
            group = peers if peers else [c for c in sel if c != j]  # no peer of its sector: the rest of the set
            f["sector_mean_ret_1"] = _nanmean_excluding(r1, j, group)
            f["sector_mean_ret_16"] = _nanmean_excluding(r16, j, group)
            f["sector_rel_16"] = r16[:, j] - f["sector_mean_ret_16"]
            f["market_mean_ret_1"] = _nanmean_excluding(r1, j, sel)
            f["xs_rank_ret_16"] = sh["rank16"][:, i]
            f["xs_rank_ret_96"] = sh["rank96"][:, i]
            f["xs_dispersion_16"] = sh["disp"]
        out[s] = {k: v[rows] for k, v in f.items()}
    return out


FAMILY = Family("cross_asset", "Cross-asset", compute, scope="universe").declare([
    ("btc_corr_32", 32, "close btc", "correlation of one-bar returns with BTC over 32 bars"),
    ("btc_corr_96", 96, "close btc", "correlation of one-bar returns with BTC over 96 bars"),
    ("btc_beta_96", 96, "close btc", "beta of one-bar returns to BTC over 96 bars"),
    ("rel_strength_btc_16", 16, "close btc", "16-bar log return minus BTC's"),
    ("rel_strength_btc_96", 96, "close btc", "96-bar log return minus BTC's"),
    ("btc_ret_1", 1, "btc", "BTC's one-bar log return at the same bar (BTC leads the market)"),
    ("btc_ret_4", 4, "btc", "BTC's 4-bar log return"),
    ("btc_ret_16", 16, "btc", "BTC's 16-bar log return"),
    ("sector_mean_ret_1", 1, "close universe", "mean one-bar return of the symbol's sector peers in the set, excluding itself"),
    ("sector_mean_ret_16", 16, "close universe", "mean 16-bar return of the sector peers, excluding itself"),
    ("sector_rel_16", 16, "close universe", "16-bar return minus the sector peers' mean"),
    ("market_mean_ret_1", 1, "close universe", "equal-weight mean one-bar return of the other symbols of the set"),
    ("xs_rank_ret_16", 16, "close universe", "cross-sectional rank of the 16-bar return in the set (0 lowest .. 1 highest)"),
    ("xs_rank_ret_96", 96, "close universe", "cross-sectional rank of the 96-bar return in the set"),
    ("xs_dispersion_16", 16, "close universe", "cross-sectional std of the 16-bar returns in the set"),
])
