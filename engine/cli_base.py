"""The low-level pieces every command group shares (no group imports ``engine.cli``, which
loads the groups): the argparse parser that reports a usage problem as one ``error:`` line, and the
options several groups take, declared once (``--symbols``, ``--timeframe``, ``--featureset``): the
same spelling, type and help everywhere.  A group adds one with ``add_symbols(parser)``; values are
typed here (``--symbols a,b`` -> ``["A", "B"]``), so handlers never split strings themselves."""
from __future__ import annotations

import argparse

from config.errors import BadInput


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):  # one `error:` line and exit 2 instead of argparse's usage dump
        raise BadInput(f"{self.prog}: {message}", hint=f"see `{self.prog} --help`")


def add_symbols(p, *, required: bool = False, upper: bool = False,
                help: str = "comma-separated symbols, e.g. BTCUSDT,ETHUSDT") -> None:
    """``--symbols`` (alias ``--symbol``) -> a list of symbols ([] when not given); ``upper``: upper-cased
    here (otherwise the area's ``check_symbol`` normalises them and names the symbol as typed when refusing)."""
    from engine.argtypes import name_list, symbol_list

    p.add_argument("--symbols", "--symbol", dest="symbols", type=symbol_list if upper else name_list,
                   default=None if required else [], required=required, help=help)


def add_timeframe(p, *, required: bool = False, help: str = "timeframe, e.g. 15m") -> None:
    """``--timeframe`` (checked where it is used: ``engine.data.timeframes.parse_timeframe``)."""
    p.add_argument("--timeframe", required=required, help=help)


def add_featureset(p, *, required: bool = False, help: str = "feature set id") -> None:
    p.add_argument("--featureset", required=required, help=help)
