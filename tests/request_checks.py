"""Checks shared by the per-area request tests (tests/<area>/test_requests.py): a typed request's
command line parses back into the same request through the CLI's real parser, and the parser's options
of a command are the request's fields (so an option cannot be added to one and not the other)."""
from __future__ import annotations

import argparse

from engine.cli import build_parser


def subparser(*words: str) -> argparse.ArgumentParser:
    """The parser of ``python -m engine WORDS...`` (e.g. ``subparser("stage2", "batch")``)."""
    p = build_parser()
    for w in words:
        p = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices[w]
    return p


def dests(*words: str) -> set[str]:
    return {a.dest for a in subparser(*words)._actions if a.dest != "help"}


def round_trip(req) -> list[str]:
    """``req.argv()`` parsed by the real CLI and read back with ``from_args`` is ``req``; returns the argv."""
    argv = req.argv()
    assert all(isinstance(w, str) for w in argv), argv
    assert list(argv[:len(type(req).command)]) == list(type(req).command)
    back = type(req).from_args(build_parser().parse_args(argv))
    assert back == req, (argv, back, req)
    return argv


def unset_fields(cls, reqs) -> list[str]:
    """Fields that every request of ``reqs`` leaves at its default (a round trip would not check them)."""
    return [k for k, f in cls.model_fields.items() if all(getattr(r, k) == f.get_default(call_default_factory=True) for r in reqs)]


def check_contract(cls, cases: list[dict]) -> list[list[str]]:
    """The contract of a typed request with its CLI command: each case builds, its argv parses back into
    the same request, the cases together set every field away from its default, and the command's
    options are the request's fields. Returns the cases' argvs."""
    reqs = [cls.build(**c) for c in cases]
    argvs = [round_trip(r) for r in reqs]
    assert unset_fields(cls, reqs) == [], (cls.__name__, "cases leave these fields at their defaults")
    assert dests(*cls.command) == set(cls.model_fields), cls.__name__
    return argvs
