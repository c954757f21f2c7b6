"""Typed ``data`` requests: what ``python -m engine data ...`` parses and what the Data page builds
(engine/requests.py; field names are the argparse ``dest`` names of engine/data/cli.py).

:class:`ResampleRequest` is ``data resample``.  The import commands are declared once per data source
(engine/data/sources/registry.py): :func:`source_request` makes each source's request model from its
options, so the CLI, the page's form and the request share one declaration."""
from __future__ import annotations

import warnings
from typing import Any, ClassVar

from pydantic import Field, create_model

from engine.requests import CliRequest


class ResampleRequest(CliRequest):
    """``data resample SYMBOL --from TF --to TF [--allow-incomplete] [--dry-run]``."""

    command: ClassVar[tuple[str, ...]] = ("data", "resample")
    positional: ClassVar[tuple[str, ...]] = ("symbol",)
    flags: ClassVar[dict[str, str]] = {"from_tf": "--from", "to_tf": "--to"}
    symbol: str
    from_tf: str
    to_tf: str
    allow_incomplete: bool = False
    dry_run: bool = False


class SourceRequest(CliRequest):
    """Base of the import request of a data source (``data import``, ``data import-sql`` ...)."""

    source: ClassVar[str] = ""


def _field(o) -> tuple[Any, Any]:
    if o.widget == "checkbox":
        return bool, False
    tp: Any = (int | float) if o.widget == "number" else str  # a multiselect is its CLI string: "15m,1h"
    if o.flag is None or (o.required and not o.group and o.env is None):  # a secret may come from its variable
        return tp, (o.default if o.default is not None else ...)
    return tp | None, o.default


def source_request(spec) -> type[SourceRequest]:
    """The request model of a data source (a ``SourceSpec``): one field per option (by ``dest``), plus
    ``replace`` / ``dry_run`` when its imports merge into stored series."""
    fields: dict[str, Any] = {o.dest: _field(o) for o in spec.options}
    if spec.merges:
        fields |= {"replace": (bool, False), "dry_run": (bool, False)}
    with warnings.catch_warnings():  # an option named like a BaseModel attribute (sql's --schema) is still a field
        warnings.simplefilter("ignore", UserWarning)
        model = create_model(f"{spec.name.title()}ImportRequest", __base__=SourceRequest,
                             **{k: (tp, Field(default)) for k, (tp, default) in fields.items()})
    model.command = ("data", spec.command)
    model.positional = tuple(o.dest for o in spec.options if o.flag is None)
    model.flags = {o.dest: o.flag for o in spec.options if o.flag}
    model.source = spec.name
    return model
