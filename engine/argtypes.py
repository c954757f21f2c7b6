"""Typed command-line values: numbers with their ranges and comma-separated lists.

Numeric options with their ranges (issue 17, "values checked at the edge"):

Every ``type=int`` / ``type=float`` option of the CLI uses :func:`int_in` / :func:`float_in`
instead, so a value out of range (``--limit -1``, ``--seconds -1``, ``--num-leaves 1``,
``--slow 10000000``) is an argparse error -> one ``error:`` line, exit 2, before any work
starts.  Floats also refuse ``nan`` and ``inf`` (``float("nan")`` parses).  A test walks the
whole parser and fails on any numeric option left without a range.

argparse has no range checking of its own (its documented way is a ``type=`` callable that
raises ``ArgumentTypeError``), so these few lines are written by hand.
"""
from __future__ import annotations

import argparse
import functools
import importlib
import math
from collections.abc import Sequence


class _Ranged:
    kind: type = int

    def __init__(self, lo: float | None, hi: float | None, *, lo_open: bool = False):
        self.lo, self.hi, self.lo_open = lo, hi, lo_open
        self.__name__ = self.kind.__name__  # argparse names the type in some messages

    def describe(self) -> str:
        what = "a whole number" if self.kind is int else "a number"

        def f(v: float) -> str:
            return f"{int(v):,}" if float(v).is_integer() and abs(v) < 1e12 else f"{v:g}"

        if self.lo is not None and self.hi is not None:
            return f"{what} in {'(' if self.lo_open else '['}{f(self.lo)}, {f(self.hi)}]"
        if self.lo is not None:
            return f"{what} {'>' if self.lo_open else '>='} {f(self.lo)}"
        if self.hi is not None:
            return f"{what} <= {f(self.hi)}"
        return what

    def __call__(self, text: str):
        s = str(text).strip()
        try:
            v = int(s) if self.kind is int else float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{s[:40]!r} is not {self.describe()}") from None
        if self.kind is float and not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{s[:40]!r} is not {self.describe()} (nan / inf are not allowed)")
        if (self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo))) or \
                (self.hi is not None and v > self.hi):
            raise argparse.ArgumentTypeError(f"{s[:40]} is out of range: must be {self.describe()}")
        return v

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"


class int_in(_Ranged):
    """``type=int_in(lo, hi)``: a whole number lo <= v <= hi (either bound may be None)."""

    kind = int


class float_in(_Ranged):
    """``type=float_in(lo, hi, lo_open=False)``: a finite number in [lo, hi] ((lo, hi] when lo_open)."""

    kind = float


def csv_list(text: str | None, *, upper: bool = False) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]`` (``upper``: symbols); None or blank -> ``[]``."""
    items = [x.strip() for x in (text or "").split(",") if x.strip()]
    return [x.upper() for x in items] if upper else items


def name_list(text: str) -> list[str]:
    """``type=name_list``: a comma-separated list of names (ids, families, targets, timeframes)."""
    return csv_list(text)


def symbol_list(text: str) -> list[str]:
    """``type=symbol_list``: a comma-separated list of symbols, upper-cased."""
    return csv_list(text, upper=True)


class lazy_choices(Sequence):
    """``choices=lazy_choices("engine.backtest.metrics", "METRICS")``: the choices of an option read from
    their module on first use (a check or a help text), so building the CLI's parser does not import the
    area's heavy modules."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    @functools.cached_property
    def _items(self) -> list:
        return list(getattr(importlib.import_module(self.module), self.name))

    def __getitem__(self, i):
        return self._items[i]

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, value) -> bool:
        return value in self._items


def unranged_numeric_options(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    """``"group command --option"`` of every option typed plain ``int`` / ``float`` (for the test)."""
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += unranged_numeric_options(sub, f"{prefix} {name}".strip())
        elif action.type in (int, float):
            out.append(f"{prefix} {'/'.join(action.option_strings) or action.dest}")
    return out
