"""The low-level pieces every command group shares (no group imports ``engine.cli``, which
loads the groups): the argparse parser that reports a usage problem as one ``error:`` line."""
from __future__ import annotations

import argparse

from config.errors import BadInput


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):  # one `error:` line and exit 2 instead of argparse's usage dump
        raise BadInput(f"{self.prog}: {message}", hint=f"see `{self.prog} --help`")
