"""Typed CLI requests: one pydantic model per command, what the CLI parses and what a page builds.

A page never writes option strings by hand: it builds the request model of the command it starts
(``SomeRequest.build(field=value, ...)``, BadInput on a bad field) and starts the job with
:meth:`CliRequest.argv` (a job is a CLI process); the CLI turns its parsed ``argparse.Namespace``
back into the same model with :meth:`CliRequest.from_args`.  Field names are the argparse ``dest``
names of the command, so a field the page sets is the option the CLI reads; a test per area keeps
the two in step and round-trips every field.

Subclasses set ``command`` (the words before the options, e.g. ``("backtest", "sweep")``) and
``positional`` (fields written as positional arguments, in order).
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field

from config.typed import Strict, validate


class CliRequest(Strict):
    """Base of every typed command request (see the module docstring)."""

    model_config = ConfigDict(strict=False)  # the pages' number inputs give ints for floats, and so on
    command: ClassVar[tuple[str, ...]] = ()
    positional: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def build(cls, **fields: Any):
        """The request from keyword fields (None values are left at their defaults); BadInput on a bad one."""
        return validate(cls, {k: v for k, v in fields.items() if v is not None}, f"{cls.command[0] if cls.command else 'request'} {cls.__name__}")

    @classmethod
    def from_args(cls, args):
        """The request from the CLI's parsed arguments (an ``argparse.Namespace``)."""
        return cls.build(**{k: getattr(args, k) for k in cls.model_fields if hasattr(args, k)})

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
            opt = "--" + name.replace("_", "-")
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
    """The executor options of a command that fans out (``--executor`` / ``--workers`` / ``--ray-address``,
    declared once in ``engine.executor.choose.add_cli_options``); mixed into that command's request."""

    executor: Literal["local", "ray"] | None = None
    workers: int | None = Field(None, ge=1, le=1024)
    ray_address: str | None = None

    def executor_spec(self) -> dict[str, Any] | None:
        """None (everything in this process, as without the options) unless an executor option was
        given; ``--workers`` alone implies local, ``--ray-address`` alone ray."""
        if not (self.executor or self.workers or self.ray_address):
            return None
        name = self.executor or ("ray" if self.ray_address else "local")
        return {"executor": name, "workers": self.workers, "ray_address": self.ray_address}
