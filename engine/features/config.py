"""``config/features.yaml`` -> a typed, validated :class:`FeaturesConfig`.

Unknown keys, missing sections and bad values are :class:`config.errors.BadInput` naming the
key, so a typo never silently falls back to a default."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from config.bounded import load_yaml_file, short_repr
from config.errors import BadInput, NotFound
from config.version import ROOT
from engine.data.timeframes import TIMEFRAMES, parse_timeframe

DEFAULT_PATH = ROOT / "config" / "features.yaml"
HORIZONS = ("15m", "1h", "4h", "12h")


@dataclass(frozen=True)
class FeaturesConfig:
    sectors: dict[str, tuple[str, ...]]
    btc_symbol: str
    zigzag_deviation_pct: dict[str, float]
    direction_threshold_pct: dict[str, float]
    fee_pct_per_side: float | None  # None: the cost model's taker fee of each symbol's market
    audit_window_bars: int
    audit_cut_fractions: tuple[float, ...]
    audit_rtol: float
    audit_atol: float
    source: str = "config/features.yaml"

    def sector_of(self, symbol: str) -> str | None:
        from engine.data.names import base_asset

        base = base_asset(symbol)
        for name, members in self.sectors.items():
            if base in members:
                return name
        return None

    def zigzag_deviation(self, timeframe: str) -> float:
        tf = parse_timeframe(timeframe)
        if tf not in self.zigzag_deviation_pct:
            raise BadInput(f"no ZigZag deviation configured for {tf}", hint=f"add zigzag.deviation_pct.{tf} to {self.source}")
        return self.zigzag_deviation_pct[tf]

    def fingerprint(self) -> str:
        d = asdict(self)
        d.pop("source")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def _keys(section: Any, where: str, required: set[str], optional: set[str] = frozenset()) -> dict:
    if not isinstance(section, dict):
        raise BadInput(f"{where} must be a mapping")
    unknown = set(section) - required - optional
    if unknown:
        names = sorted(map(str, unknown))
        shown = ", ".join(n[:40] for n in names[:10]) + (f" (+{len(names) - 10} more)" if len(names) > 10 else "")
        raise BadInput(f"{where}: unknown key(s) {shown}",
                       hint=f"allowed: {', '.join(sorted(required | optional))}")
    missing = required - set(section)
    if missing:
        raise BadInput(f"{where}: missing key(s) {', '.join(sorted(missing))}")
    return section


def _num(v: Any, where: str, lo: float, hi: float, *, integer: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise BadInput(f"{where} must be a number, not {short_repr(v)}")
    if integer and int(v) != v:
        raise BadInput(f"{where} must be a whole number, not {short_repr(v)}")
    if not lo <= v <= hi:
        raise BadInput(f"{where} = {short_repr(v)} is out of range [{lo:g}, {hi:g}]")
    return int(v) if integer else float(v)


def parse_config(data: Any, source: str = "config/features.yaml") -> FeaturesConfig:
    d = _keys(data, source, {"sectors", "btc_symbol", "zigzag", "targets", "audit"})
    sectors: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    if not isinstance(d["sectors"], dict):
        raise BadInput(f"{source}: sectors must be a mapping of sector name -> list of base assets")
    for name, members in d["sectors"].items():
        if not isinstance(members, list) or not members or not all(isinstance(m, str) and m.strip() for m in members):
            raise BadInput(f"{source}: sectors.{name} must be a non-empty list of base assets (e.g. [ETH, SOL])")
        ms = tuple(m.strip().upper() for m in members)
        for m in ms:
            if m in seen:
                raise BadInput(f"{source}: {m} is in two sectors ({seen[m]} and {name})")
            seen[m] = str(name)
        sectors[str(name)] = ms
    from engine.data.names import check_symbol

    try:
        btc = check_symbol(d["btc_symbol"])
    except BadInput as e:
        raise BadInput(f"{source}: btc_symbol: {e.message}") from e
    z = _keys(d["zigzag"], f"{source}: zigzag", {"deviation_pct"})
    zdev = {}
    for tf, v in _keys(z["deviation_pct"], f"{source}: zigzag.deviation_pct", set(), set(TIMEFRAMES)).items():
        zdev[parse_timeframe(tf)] = _num(v, f"{source}: zigzag.deviation_pct.{tf}", 0.01, 90.0)
    t = _keys(d["targets"], f"{source}: targets", {"direction_threshold_pct", "fee_pct_per_side"})
    thr = _keys(t["direction_threshold_pct"], f"{source}: targets.direction_threshold_pct", set(HORIZONS))
    thresholds = {h: _num(thr[h], f"{source}: targets.direction_threshold_pct.{h}", 0.0, 50.0) for h in HORIZONS}
    fee = None if t["fee_pct_per_side"] is None else _num(t["fee_pct_per_side"], f"{source}: targets.fee_pct_per_side", 0.0, 5.0)
    a = _keys(d["audit"], f"{source}: audit", {"window_bars", "cut_fractions", "rtol", "atol"})
    window = _num(a["window_bars"], f"{source}: audit.window_bars", 200, 10_000_000, integer=True)
    cuts = a["cut_fractions"]
    if not isinstance(cuts, list) or not cuts:
        raise BadInput(f"{source}: audit.cut_fractions must be a non-empty list of fractions in (0, 1)")
    cuts_t = tuple(sorted(_num(c, f"{source}: audit.cut_fractions", 0.05, 0.99) for c in cuts))
    return FeaturesConfig(sectors=sectors, btc_symbol=btc, zigzag_deviation_pct=zdev,
                          direction_threshold_pct=thresholds, fee_pct_per_side=fee, audit_window_bars=window,
                          audit_cut_fractions=cuts_t, audit_rtol=_num(a["rtol"], f"{source}: audit.rtol", 0.0, 1.0),
                          audit_atol=_num(a["atol"], f"{source}: audit.atol", 0.0, 1.0), source=source)


def load_config(path: str | Path | None = None) -> FeaturesConfig:
    p = Path(path) if path else DEFAULT_PATH
    if not p.is_absolute() and not p.exists() and (ROOT / p).is_file():
        p = ROOT / p  # a path recorded in a manifest (relative to the project)
    if not p.is_file():
        from config.paths import not_a_file_reason

        why = not_a_file_reason(p)
        raise (NotFound if why.startswith("does not exist") else BadInput)(f"features config {p} {why}")
    data = load_yaml_file(p, "features config")
    return parse_config(data, str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p))
