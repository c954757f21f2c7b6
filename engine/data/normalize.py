"""Raw table (from a file, SQL or the Hub) -> canonical OHLCV, with every decision reported.

Detection covers the real formats in ../shared/data and Binance's own dumps:
column names (synonyms, MetaTrader ``<DATE>``/``<TIME>`` pairs), time units of integer
epochs (s / ms / us / ns by magnitude), timezone-aware and naive times.  Anything that
cannot be decided safely raises :class:`BadInput` naming the problem; naive times are read
as UTC (crypto exchanges publish UTC) and that is stated in the notes, except for
MetaTrader exports, whose broker server time is never guessed: ``--timezone`` is required.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from config.errors import BadInput
from engine.data.canonical import IGNORED, MAX_TIME_CHARS, OPTIONAL, REQUIRED, SYNONYMS, TS_DTYPE, short

_OFFSET_RE = re.compile(r"(?:Z|[+-]\d{2}(?::?\d{2})?|UTC|GMT)\s*$", re.IGNORECASE)
_DATE_ONLY_RE = re.compile(r"^\d{4}[./-]\d{1,2}[./-]\d{1,2}$")


@dataclass
class Normalized:
    df: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    column_map: dict[str, str] = field(default_factory=dict)  # source column -> canonical
    time_unit: str | None = None
    source_timezone: str = "UTC"
    kind: str = "candles"  # candles | funding


def _clean(name: object) -> str:
    s = str(name).strip().strip("<>").strip().lower()
    return re.sub(r"[\s\-]+", "_", s)


def _is_trades(cols: set[str]) -> bool:
    return ("price" in cols and ({"amount", "side", "qty", "quantity", "size"} & cols)) and not ({"open", "close"} <= cols)


def map_columns(columns: list, name: str, *, mapping: dict[str, str] | None = None,
                funding: bool = False) -> tuple[dict[str, str], list[str]]:
    """Source column -> canonical name.  ``mapping`` (canonical=source) overrides detection."""
    notes: list[str] = []
    cleaned = {c: _clean(c) for c in columns}
    out: dict[str, str] = {}
    if mapping:
        for canon, src in mapping.items():
            if canon not in SYNONYMS:
                raise BadInput(f"unknown canonical column {canon!r} in the column mapping",
                               hint=f"map onto {', '.join(SYNONYMS)}")
            match = [c for c in columns if str(c) == src or cleaned[c] == _clean(src)]
            if not match:
                raise BadInput(f"{name}: mapped column {src!r} (for {canon}) is not in the data",
                               hint=f"columns found: {', '.join(map(str, columns))}")
            out[match[0]] = canon
    cset = set(cleaned.values())
    if _is_trades(cset):
        raise BadInput(f"{name} holds individual trades (columns {', '.join(map(str, columns))}), not candles",
                       hint="import candles (OHLCV) files; trades belong to the Hub 'ticks' group")
    used = set(out.values())
    _currency_volumes(columns, cleaned, out, used, notes)
    for canon, syns in SYNONYMS.items():
        if canon in used:
            continue
        if canon == "funding_rate" and not funding:
            pass
        cands = [c for c in columns if c not in out and cleaned[c] in syns]
        if not cands:
            continue
        cands.sort(key=lambda c: syns.index(cleaned[c]))
        if canon == "timestamp" and len(cands) > 1:
            names = [cleaned[c] for c in cands]
            if "date" in names and "time" in names:
                out[cands[names.index("date")]] = "__date"
                out[cands[names.index("time")]] = "__time"
                used.add(canon)
                continue
            top = syns.index(cleaned[cands[0]])
            if syns.index(cleaned[cands[1]]) - top < 2 and cleaned[cands[0]] != "open_time":
                raise BadInput(f"{name}: both {cands[0]!r} and {cands[1]!r} could be the bar time",
                               hint="name the time column with --map timestamp=COLUMN")
        if canon == "volume" and cleaned[cands[0]] in ("tick_volume", "tickvol"):
            notes.append(f"volume taken from {cands[0]!r} (MetaTrader tick volume: ticks, not traded units)")
        out[cands[0]] = canon
        used.add(canon)
    required = ["timestamp", "funding_rate"] if funding else ["timestamp", *REQUIRED]
    missing = [c for c in required if c not in out.values() and not (c == "timestamp" and "__date" in out.values())]
    if missing:
        raise BadInput(f"{name}: missing column(s) {', '.join(missing)}",
                       hint=f"columns found: {', '.join(map(str, columns)) or 'none'}; map them with --map CANONICAL=COLUMN")
    dropped = [str(c) for c in columns if c not in out and cleaned[c] not in IGNORED]
    if dropped:
        notes.append(f"ignored column(s): {', '.join(dropped)}")
    return out, notes


# quote currencies, most "quote-like" first: of two "Volume XXX" columns the one whose currency comes first
# here is the quote volume (CryptoDataDownload: "Volume BTC, Volume USD"; "Volume ETH, Volume BTC" for ETHBTC)
_QUOTE_RANK = ["usd", "usdt", "usdc", "busd", "fdusd", "tusd", "dai", "eur", "gbp", "jpy", "krw", "try", "aud", "cad",
               "chf", "btc", "eth", "bnb"]
_CCY_VOL_RE = re.compile(r"^(?:volume|vol)_([a-z0-9]{2,10})$|^([a-z0-9]{2,10})_(?:volume|vol)$")


def _currency_volumes(columns: list, cleaned: dict, out: dict, used: set, notes: list[str]) -> None:
    """``Volume BTC`` / ``Volume USD`` (CryptoDataDownload) -> volume (base) and quote_volume, when the
    table has no plain volume column.  The currency names say which is which."""
    if "volume" in used or any(cleaned[c] in SYNONYMS["volume"] for c in columns if c not in out):
        return
    cands = []
    for c in columns:
        if c in out:
            continue
        m = _CCY_VOL_RE.match(cleaned[c])
        if m:
            ccy = m.group(1) or m.group(2)
            if ccy not in ("base", "quote", "taker", "buy", "sell", "tick", "real", "asset", "usd_equiv"):
                cands.append((c, ccy))
    if not cands or len(cands) > 2:
        return
    if len(cands) == 2:
        rank = [(_QUOTE_RANK.index(ccy) if ccy in _QUOTE_RANK else len(_QUOTE_RANK), i) for i, (_, ccy) in enumerate(cands)]
        if rank[0][0] == rank[1][0]:
            return
        q = min(rank)[1]
        base_col, quote_col = cands[1 - q][0], cands[q][0]
        out[base_col], out[quote_col] = "volume", "quote_volume"
        used.update(("volume", "quote_volume"))
        notes.append(f"volume read from {str(base_col)!r} (base currency), quote volume from {str(quote_col)!r}")
    else:
        out[cands[0][0]] = "volume"
        used.add("volume")
        notes.append(f"volume read from {str(cands[0][0])!r}")


def _numeric(s: pd.Series, col: str, name: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s):
        raise BadInput(f"{name}: column {col!r} holds true/false values, not numbers")
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype="float64", na_value=np.nan)
    conv = pd.to_numeric(s, errors="coerce")
    bad = conv.isna() & s.notna() & (s.astype("string").str.strip().str.lower().isin(["", "nan", "null", "none", "na"]) == False)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise BadInput(f"{name}: column {col!r} has text where numbers belong ({int(bad.sum())} values; row {i + 1}: {str(s.iloc[i])[:40]!r})")
    return conv.to_numpy(dtype="float64", na_value=np.nan)


def _epoch_unit(values: np.ndarray, name: str, col: str) -> str:
    v = np.abs(values[np.isfinite(values)])
    if len(v) == 0:
        raise BadInput(f"{name}: time column {col!r} is empty")
    lo, hi = float(v.min()), float(v.max())

    def unit(x: float) -> str:
        if x < 1e11:
            return "s"
        if x < 1e14:
            return "ms"
        if x < 1e17:
            return "us"
        return "ns"

    if unit(lo) != unit(hi):
        raise BadInput(f"{name}: time column {col!r} mixes epoch units (values from {lo:.0f} to {hi:.0f}: "
                       f"{unit(lo)} and {unit(hi)})", hint="split the file or convert it to one unit")
    return unit(hi)


def parse_times(s: pd.Series, name: str, col: str, *, timezone: str | None, require_tz: str | None = None
                ) -> tuple[np.ndarray, str | None, str, list[str]]:
    """-> (epoch ns int64 array, unit or None, source timezone, notes)."""
    notes: list[str] = []
    if s.isna().any():
        i = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise BadInput(f"{name}: time column {col!r} has {int(s.isna().sum())} empty value(s) (first at row {i + 1})")
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        vals = s.to_numpy(dtype="float64")
        if not np.all(np.isfinite(vals)):
            raise BadInput(f"{name}: time column {col!r} has non-finite values")
        u = _epoch_unit(vals, name, col)
        mult = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}[u]
        ns = (s.to_numpy(dtype="int64") * mult).astype("int64")
        notes.append(f"time column {col!r}: integer epoch in {u}, UTC")
        return ns, u, "UTC", notes
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        ts = pd.DatetimeIndex(s).tz_convert("UTC")
        tzname = str(s.dtype.tz)
        if tzname not in ("UTC", "utc"):
            notes.append(f"times converted from {tzname} to UTC")
        return ts.as_unit("ns").asi8.copy(), None, tzname, notes
    if pd.api.types.is_datetime64_dtype(s):
        return _localize(pd.DatetimeIndex(s), name, timezone, require_tz, notes), None, timezone or "UTC", notes
    # strings
    st = s.astype("string").str.strip()
    lens = st.str.len().to_numpy(dtype="float64", na_value=0)
    if len(lens) and lens.max() > MAX_TIME_CHARS:
        i = int(np.argmax(lens))
        raise BadInput(f"{name}: time column {col!r} row {i + 1} holds {int(lens[i])} characters ({str(st.iloc[i])[:24]!r}...); "
                       f"a date/time is at most {MAX_TIME_CHARS}", hint="check that the file's columns are separated as the header says")
    # a date alone ("2019-06-02") ends in what looks like an offset ("-02"): it carries none
    has_off = (st.str.contains(_OFFSET_RE, regex=True, na=False) & ~st.str.match(_DATE_ONLY_RE, na=False)).to_numpy()
    if has_off.any() and not has_off.all():
        i = int(np.flatnonzero(~has_off)[0])
        raise BadInput(f"{name}: mixed timezones in {col!r}: {int(has_off.sum())} times carry a UTC offset, "
                       f"{int((~has_off).sum())} do not (first without at row {i + 1}: {short(st.iloc[i])})",
                       hint="make every time UTC, or all with an offset")
    try:
        if has_off.all():
            ts = pd.to_datetime(st, utc=True, format="ISO8601")
            return pd.DatetimeIndex(ts).as_unit("ns").asi8.copy(), None, "offsets in the data", notes + ["times with UTC offsets converted to UTC"]
        try:
            ts = pd.to_datetime(st, format="ISO8601")
        except (ValueError, TypeError):
            ts = pd.to_datetime(st, format="mixed", dayfirst=False)
    except (ValueError, TypeError, OverflowError) as e:
        bad = pd.to_datetime(st, errors="coerce", format="mixed").isna().to_numpy()
        i = int(np.flatnonzero(bad)[0]) if bad.any() else 0
        raise BadInput(f"{name}: cannot read the time column {col!r} (row {i + 1}: {short(st.iloc[i])})") from e
    return _localize(pd.DatetimeIndex(ts), name, timezone, require_tz, notes), None, timezone or "UTC", notes


def _localize(idx: pd.DatetimeIndex, name: str, timezone: str | None, require_tz: str | None, notes: list[str]) -> np.ndarray:
    if idx.tz is not None:
        return idx.tz_convert("UTC").as_unit("ns").asi8.copy()
    if timezone is None and require_tz:
        raise BadInput(require_tz, hint="pass --timezone, e.g. --timezone Europe/Athens (EET/EEST) or --timezone Etc/GMT-2")
    tz = timezone or "UTC"
    if tz.upper() == "UTC":
        notes.append("naive times read as UTC (pass --timezone if they are local or broker time)")
        return idx.as_unit("ns").asi8.copy()
    try:
        loc = idx.tz_localize(tz, ambiguous="raise", nonexistent="raise")
    except Exception as e:  # pytz/zoneinfo raise several types
        msg = str(e)
        if "unknown" in msg.lower() or "not a valid" in msg.lower() or "no time zone" in msg.lower():
            raise BadInput(f"unknown timezone {timezone!r}", hint="use an IANA name such as UTC, Europe/Athens, Etc/GMT-2") from e
        raise BadInput(f"{name}: local time {msg} cannot be placed in {tz} (DST change)") from e
    notes.append(f"naive times read in {tz} and converted to UTC")
    return loc.tz_convert("UTC").as_unit("ns").asi8.copy()


def normalize(raw: pd.DataFrame, name: str, *, timezone: str | None = None, mapping: dict[str, str] | None = None,
              mt5: bool = False, funding: bool = False) -> Normalized:
    if raw is None or raw.shape[1] == 0:
        raise BadInput(f"{name}: no columns (empty or unreadable file)")
    if len(raw) == 0:
        raise BadInput(f"{name}: no rows (the file is empty or holds only a header)")
    if timezone:
        _check_tz(timezone)
    cmap, notes = map_columns(list(raw.columns), name, mapping=mapping, funding=funding)
    inv = {v: k for k, v in cmap.items()}
    cleaned = {_clean(c) for c in raw.columns}
    require_tz = None
    if mt5 or "tick_volume" in cleaned or "__date" in inv:
        require_tz = (f"{name} looks like a MetaTrader export: its times are the broker's server time "
                      "(often UTC+2 / UTC+3 with daylight saving), which the file does not state")
    if "__date" in inv:
        d, t = raw[inv["__date"]].astype("string").str.strip(), raw[inv["__time"]].astype("string").str.strip()
        tcol = d + " " + t
        tname = f"{inv['__date']}+{inv['__time']}"
    else:
        tcol, tname = raw[inv["timestamp"]], str(inv["timestamp"])
    ns, unit, src_tz, tnotes = parse_times(tcol, name, tname, timezone=timezone, require_tz=require_tz)
    notes += tnotes
    out = {"timestamp": pd.DatetimeIndex(ns, tz="UTC").as_unit("ms")}
    if (ns % 1_000_000).any():
        notes.append("sub-millisecond parts of times dropped")
    cols = ["funding_rate"] if funding else REQUIRED + [c for c in OPTIONAL if c in inv]
    for c in cols:
        out[c] = _numeric(raw[inv[c]], str(inv[c]), name)
    df = pd.DataFrame(out)
    df["timestamp"] = df["timestamp"].astype(TS_DTYPE)
    if len(ns) > 1:
        d = np.diff(ns)
        if (d <= 0).all() and (d < 0).any():
            # newest bar first (CryptoDataDownload, many REST dumps): the order is read backwards, not refused;
            # a partly unsorted table is still refused by validation, and duplicates are still reported
            df = df.iloc[::-1].reset_index(drop=True)
            notes.append(f"newest bar first: the {len(df)} rows were put in time order (oldest first)")
    return Normalized(df=df, notes=notes, column_map={str(k): v for k, v in cmap.items()}, time_unit=unit,
                      source_timezone=src_tz, kind="funding" if funding else "candles")


def _check_tz(tz: str) -> None:
    try:
        pd.Timestamp("2024-01-01").tz_localize(tz)
    except Exception as e:
        raise BadInput(f"unknown timezone {tz!r}", hint="use an IANA name such as UTC, Europe/Athens, Etc/GMT-2") from e
