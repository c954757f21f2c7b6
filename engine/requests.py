"""Typed CLI requests: one pydantic model per command, what the CLI parses and what a page builds.

A page never writes option strings by hand: it builds the request model of the command it starts
(``SomeRequest.build(field=value, ...)``, BadInput on a bad field) and starts the job with
:meth:`CliRequest.argv` (a job is a CLI process); the CLI turns its parsed ``argparse.Namespace``
back into the same model with :meth:`CliRequest.from_args`.  Field names are the argparse ``dest``
names of the command, so a field the page sets is the option the CLI reads; a test per area keeps
the two in step and round-trips every field.

Subclasses set ``command`` (the words before the options, e.g. ``("backtest", "sweep")``),
``positional`` (fields written as positional arguments, in order) and ``flags`` (the option of a
field whose flag is not ``--`` + its name with dashes, e.g. ``{"from_tf": "--from"}``).  A list
field takes a comma-separated string too (what a plain string option parses into).  Numeric ranges
live in the fields; :meth:`CliRequest.option` gives argparse the same range and default.
"""
from __future__ import annotations

import types
import typing
from typing import Any, ClassVar, Literal

import annotated_types as at
from pydantic import ConfigDict, Field, model_validator

from config.typed import Strict, validate


def _is_list(tp: Any) -> bool:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return any(_is_list(a) for a in typing.get_args(tp) if a is not type(None))
    return typing.get_origin(tp) is list or tp is list


class CliRequest(Strict):
    """Base of every typed command request (see the module docstring)."""

    model_config = ConfigDict(strict=False)  # the pages' number inputs give ints for floats, and so on
    command: ClassVar[tuple[str, ...]] = ()
    positional: ClassVar[tuple[str, ...]] = ()
    flags: ClassVar[dict[str, str]] = {}
    # True: an empty string or list is "not given" (left at its default), as None always is - for a request
    # built from a page's text inputs and multiselects
    omit_empty: ClassVar[bool] = False

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: Any) -> Any:
        """``"a, b,,c"`` -> ``["a", "b", "c"]`` for list fields (a plain string option's value)."""
        if isinstance(data, dict):
            data = {k: ([x.strip() for x in v.split(",") if x.strip()]
                        if isinstance(v, str) and k in cls.model_fields and _is_list(cls.model_fields[k].annotation) else v)
                    for k, v in data.items()}
        return data

    @classmethod
    def build(cls, **fields: Any):
        """The request from keyword fields (None values - and with ``omit_empty`` "" and [] - are left at
        their defaults); BadInput on a bad one."""

        def given(v: Any) -> bool:
            return v is not None and not (cls.omit_empty and isinstance(v, (str, list)) and len(v) == 0)

        return validate(cls, {k: v for k, v in fields.items() if given(v)},
                        f"{cls.command[0] if cls.command else 'request'} {cls.__name__}")

    @classmethod
    def from_args(cls, args):
        """The request from the CLI's parsed arguments (an ``argparse.Namespace``)."""
        return cls.build(**{k: getattr(args, k) for k in cls.model_fields if hasattr(args, k)})

    @classmethod
    def flag(cls, name: str) -> str:
        return cls.flags.get(name) or "--" + name.replace("_", "-")

    @classmethod
    def option(cls, name: str) -> dict[str, Any]:
        """argparse keywords of a numeric field: ``type`` (``int_in`` / ``float_in`` with the field's range)
        and ``default`` (the field's), so the parser's check and the model's are one."""
        from engine.argtypes import float_in, int_in

        f = cls.model_fields[name]
        lo = hi = None
        lo_open = False
        for m in f.metadata:
            if isinstance(m, (at.Ge, at.Gt)):
                lo, lo_open = (m.ge, False) if isinstance(m, at.Ge) else (m.gt, True)
            elif isinstance(m, at.Le):
                hi = m.le
        tp = f.annotation
        if typing.get_origin(tp) in (typing.Union, types.UnionType):
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
        kind = float_in(lo, hi, lo_open=lo_open) if tp is float else int_in(lo, hi)
        return {"type": kind, "default": f.get_default(call_default_factory=True)}

    def with_fields(self, **changes: Any):
        """This request with some fields changed (validated again: BadInput on a bad value)."""
        return type(self).build(**(self.model_dump() | changes))

    def argv(self) -> list[str]:
        """The command line that parses back into this request (defaults left out)."""
        out = list(self.command)
        for name in self.positional:
            v = getattr(self, name)
            out += [str(x) for x in v] if isinstance(v, list) else ([str(v)] if v is not None else [])
        for name, f in type(self).model_fields.items():
            v = getattr(self, name)
            if name in self.positional or v is None or v == f.get_default(call_default_factory=True):
                continue
            opt = self.flag(name)
            if isinstance(v, bool):
                out.append(opt)
            elif isinstance(v, list):
                out += [opt, ",".join(map(str, v))]
            elif isinstance(v, float):
                out += [opt, repr(v)]
            else:
                out += [opt, str(v)]
        return out


class ExecutorFields(CliRequest):
    """``--executor`` / ``--ray-address`` / ``--workers`` of a command that fans out
    (engine/executor/choose.py ``add_cli_options`` adds them to the parser with these ranges)."""

    executor: Literal["local", "ray"] | None = Field(None, description="where the items run (without it: the command's own default)")
    ray_address: str | None = Field(None, description="host:port of an existing Ray cluster")
    workers: int | None = Field(None, ge=1, le=1024, description="local executor: processes at once")

    def executor_spec(self) -> dict[str, Any] | None:
        """The executor these options choose, by the one rule of every fan-out command
        (``engine.executor.base.resolve_executor``: --executor, else KLINELAB_EXECUTOR, else --workers
        alone = local, --ray-address alone = ray, else None: everything in this process)."""
        from engine.executor.base import resolve_executor

        return resolve_executor(self.executor, workers=self.workers, ray_address=self.ray_address)
