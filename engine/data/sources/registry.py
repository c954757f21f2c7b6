"""The data-source registry: one declarative spec per place candles come from (files, PostgreSQL,
the Hugging Face Hub, the bundled sample).

A :class:`SourceSpec` names the ``data`` command that imports from it, its options (each an
:class:`Option`: CLI flag, page label, widget, default, whether it is required) and the function that
runs the import (``"module:function"``, imported on first use, called as ``run(ws, opts)`` with the
parsed options; it returns an :class:`engine.data.importer.ImportResult`). The ``data`` CLI builds one
sub-command per spec from its options (``engine/data/cli.py``) and the Data page renders one form per
spec from the same options and builds the same command (``pages/data.py``): neither branches on a
source's name. Adding a source = its module (a :class:`~engine.data.sources.base.DataSource` and a
``run_import``) + one entry in :data:`SOURCES` (or ``register``).

No streamlit here (pages render the specs); nothing heavier than the sources' constants is imported.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import settings
from config.errors import BadInput
from config.settings import EnvVar
from engine.argtypes import int_in
from engine.data.sources.base import parse_mapping
from engine.data.sources.files import FORMATS
from engine.data.sources.hub import DEFAULT_REPO
from engine.data.timeframes import TIMEFRAMES

WIDGETS = ("text", "password", "textarea", "select", "multiselect", "number", "checkbox", "path")


@dataclass(frozen=True)
class Option:
    """One option of a source: ``flag`` None = a positional argument of the command."""

    dest: str
    flag: str | None
    label: str  # page label
    widget: str = "text"
    help: str = ""
    required: bool = False  # the CLI requires it; the page refuses the form without it (``missing``)
    missing: str = ""  # the page's message when a required value is empty
    default: Any = None  # CLI default
    page_default: Any = None  # the form's initial value (None: ``default``)
    choices: tuple = ()  # select / multiselect options on the page
    cli_choices: bool = False  # the CLI also restricts the value to ``choices``
    blank: str | None = None  # a select's first entry meaning "not given"
    placeholder: str = ""
    argtype: Callable | None = None  # CLI type (engine.argtypes)
    bounds: tuple[float, float, float] | None = None  # number on the page: (min, max, step)
    group: str | None = None  # options of one group are exclusive alternatives (exactly one is given)
    row: int | None = None  # options sharing a row sit side by side on the page
    page: bool = True  # shown on the page (else CLI only)
    upload_label: str = ""  # widget "path": the file uploader's label
    env: EnvVar | None = None  # a secret: the page passes it in this variable of the job's environment, never as
    #                            an argument; the CLI reads the variable when the option is absent


@dataclass(frozen=True)
class SourceSpec:
    name: str
    label: str  # page label
    command: str  # `data COMMAND`
    help: str
    run: Any  # "module:function" | function (ws, opts) -> ImportResult
    options: tuple[Option, ...] = ()
    merges: bool = True  # imports merge into stored series: --replace / --dry-run
    description: str = ""  # shown above the page's form
    button: str = "Import"
    job: Callable[[dict[str, Any]], str] | str = "import"  # the job's name from the form values
    groups: dict[str, str] = field(default_factory=dict)  # group -> the page's message when not exactly one is given
    nothing_text: str = ""  # the CLI's text when nothing was imported

    def load_run(self) -> Callable:
        if not isinstance(self.run, str):
            return self.run
        module, _, attr = self.run.partition(":")
        return getattr(importlib.import_module(module), attr)

    def page_options(self) -> list[Option]:
        return [o for o in self.options if o.page]

    # -- the CLI ------------------------------------------------------------------------------
    def add_to(self, subparsers) -> Any:
        """Add ``data COMMAND`` with this source's options; returns the parser."""
        p = subparsers.add_parser(self.command, help=self.help)
        groups: dict[str, Any] = {}
        for o in self.options:
            target = p
            if o.group:
                if o.group not in groups:
                    groups[o.group] = p.add_mutually_exclusive_group(required=any(x.required for x in self.options
                                                                                      if x.group == o.group))
                target = groups[o.group]
            kw: dict[str, Any] = {"help": o.help or None}
            if o.widget == "checkbox":
                kw["action"] = "store_true"
            else:
                if o.argtype is not None:
                    kw["type"] = o.argtype
                if o.default is not None:
                    kw["default"] = o.default
                if o.cli_choices:
                    kw["choices"] = o.choices
            if o.flag is None:
                target.add_argument(o.dest, **kw)
                continue
            if o.env is not None:
                kw["help"] = f"{o.help or o.label}; default ${o.env.name} (keeps it out of `ps` and job records)"
            elif o.required and not o.group:
                kw["required"] = True
            target.add_argument(o.flag, dest=o.dest, **kw)
        if self.merges:
            p.add_argument("--replace", action="store_true", help="replace the stored series instead of merging")
            p.add_argument("--dry-run", action="store_true")
        return p

    # -- the page -----------------------------------------------------------------------------
    def check_values(self, values: dict[str, Any]) -> str | None:
        """The page's refusal of a form (a message), or None when the command can be built."""
        for o in self.page_options():
            if o.required and not o.group and _empty(values.get(o.dest), o):
                return o.missing or f"{o.label} is required."
        for g, message in self.groups.items():
            given = [o for o in self.page_options() if o.group == g and not _empty(values.get(o.dest), o)]
            if len(given) != 1:
                return message
        return None

    def request(self, values: dict[str, Any], *, replace: bool = False):
        """The typed request of a filled form (values by ``dest``; empty ones are left out; BadInput on a
        bad value): its :meth:`~engine.requests.CliRequest.argv` is the job's ``data`` command.  Secret options
        (``env``) are not in it: :meth:`job_env` carries them."""
        from engine.data.requests import source_request

        fields: dict[str, Any] = {}
        for o in self.page_options():
            v = values.get(o.dest)
            if _empty(v, o) or o.env is not None:
                continue
            if o.widget == "multiselect":
                v = ",".join(str(x) for x in v)
            elif o.widget == "number" and isinstance(v, float) and v.is_integer():
                v = int(v)  # a number input's 20000.0 is the integer option's 20000
            elif o.widget != "checkbox":
                v = str(v).strip()
            fields[o.dest] = v
        if replace and self.merges:
            fields["replace"] = True
        return source_request(self).build(**fields)

    def job_env(self, values: dict[str, Any]) -> dict[str, str]:
        """The job's extra environment: the form's secret options (``env``) by variable name."""
        return {o.env.name: str(values[o.dest]).strip() for o in self.page_options()
                if o.env is not None and not _empty(values.get(o.dest), o)}

    def from_env(self, req):
        """The request with each absent secret option read from its variable (the CLI's side of :meth:`job_env`);
        BadInput when a required one is in neither."""
        for o in self.options:
            if o.env is None or getattr(req, o.dest, None) is not None:
                continue
            v = o.env.get()
            if v is None and o.required:
                raise BadInput(f"{o.flag} is required (or set {o.env.name})",
                               hint=f"{o.env.name} in the environment keeps it out of `ps` and the job's records")
            if v is not None:
                req = req.with_fields(**{o.dest: v.strip()})
        return req

    def job_name(self, values: dict[str, Any]) -> str:
        return self.job(values) if callable(self.job) else self.job


def _empty(v: Any, o: Option) -> bool:
    if o.widget == "checkbox":
        return not v
    if v is None or (o.blank is not None and v == o.blank):
        return True
    if isinstance(v, str):
        return not v.strip()
    if isinstance(v, (list, tuple)):
        return not v
    return False


SOURCES: dict[str, SourceSpec] = {}


def register(spec: SourceSpec, *, replace: bool = False) -> SourceSpec:
    if spec.name in SOURCES and not replace:
        raise BadInput(f"data source {spec.name!r} is already registered")
    clash = [s.name for s in SOURCES.values() if s.command == spec.command and s.name != spec.name]
    if clash:
        raise BadInput(f"data source {spec.name!r}: command `data {spec.command}` is taken by {clash[0]}")
    bad = [o.dest for o in spec.options if o.widget not in WIDGETS]
    if bad:
        raise BadInput(f"data source {spec.name!r}: unknown widget for {', '.join(bad)}", hint=f"one of {', '.join(WIDGETS)}")
    SOURCES[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    SOURCES.pop(name, None)


def get(name: str) -> SourceSpec:
    try:
        return SOURCES[name]
    except KeyError:
        raise BadInput(f"unknown data source {name!r}", hint=f"use one of {', '.join(SOURCES)}") from None


def sources() -> list[SourceSpec]:
    return list(SOURCES.values())


def run_file_import(ws, opts):
    """``data import PATH ...``: a file or a folder of files (engine.data.importer reads folders with
    :class:`~engine.data.sources.files.FileSource`, which is why this runner lives here, above both)."""
    from engine.data.canonical import parse_utc
    from engine.data.importer import import_path

    parse_utc(opts.exported_at, "--exported-at")  # a bad value is refused before any file is read
    return import_path(ws, opts.path, symbol=opts.symbol, timeframe=opts.timeframe, source_format=opts.source_format,
                       timezone=opts.timezone, mapping=parse_mapping(opts.map), skip_bad=opts.skip_bad,
                       replace=opts.replace, dry_run=opts.dry_run, exported_at=opts.exported_at)


_TZ = "timezone of naive times (required for MetaTrader exports)"
_MAP = "column mapping CANONICAL=SOURCE,... e.g. timestamp=ts"

for _spec in (
    SourceSpec(
        "file", "File", "import", "import a candle file or a folder of files", "engine.data.sources.registry:run_file_import",
        options=(
            Option("path", None, "... or a path on this machine (file or folder)", widget="path", required=True,
                   missing="Choose a file to upload or type a path.",
                   upload_label="Candle file (CSV, Parquet, Feather, JSON, Binance .zip)"),
            Option("symbol", "--symbol", "Symbol (blank: from the file name)", row=1),
            Option("timeframe", "--timeframe", "Timeframe", widget="select", choices=tuple(TIMEFRAMES),
                   blank="(from the name / spacing)", row=1),
            Option("source_format", "--source-format", "Format", widget="select", choices=FORMATS, default="auto",
                   cli_choices=True, row=1),
            Option("timezone", "--timezone", "Timezone of naive times (required for MetaTrader exports)", help=_TZ,
                   placeholder="UTC", row=2),
            Option("map", "--map", "Column mapping", help=_MAP, placeholder="timestamp=ts,volume=vol", row=2),
            Option("exported_at", "--exported-at", "Exported at (UTC)", page=False,
                   help="when the file was exported (UTC), to flag a last bar still open then; "
                        "default: the file's own statement, else its modification time"),
            Option("skip_bad", "--skip-bad", "Folder: import the good files, list the bad ones", widget="checkbox",
                   help="import the good files of a folder, list the others"),
        ),
        job=lambda v: f"import {Path(str(v.get('path') or '')).name}"),
    SourceSpec(
        "sql", "PostgreSQL", "import-sql", "import from PostgreSQL (or any SQLAlchemy URL)",
        "engine.data.sources.sql:run_import",
        options=(
            Option("url", "--url", "SQLAlchemy URL", widget="password", required=True,
                   missing="The database URL is required.", help="database URL (SQLAlchemy)",
                   placeholder="postgresql+psycopg://user:password@host:5432/db", env=settings.SQL_URL),
            Option("table", "--table", "Table", group="what", required=True, placeholder="raw_market_data", row=1),
            Option("query", "--query", "... or a query", widget="textarea", group="what", required=True, row=1),
            Option("schema", "--schema", "Schema", page=False),
            Option("symbol", "--symbol", "Symbol (one-symbol table)", row=2),
            Option("symbol_column", "--symbol-column", "Symbol column (several symbols)", row=2),
            Option("symbols", "--symbols", "Only these symbols (comma separated)",
                   help="only these symbols (with --symbol-column)", row=2),
            Option("timeframe", "--timeframe", "Timeframe", widget="select", choices=tuple(TIMEFRAMES),
                   blank="(from the spacing)", row=3),
            Option("timeframe_column", "--timeframe-column", "Timeframe column (optional)", row=3),
            Option("chunksize", "--chunksize", "Rows per chunk", widget="number", default=100_000,
                   argtype=int_in(1, 10_000_000), bounds=(1000, 2_000_000, 10_000), row=3),
            Option("map", "--map", "Column mapping", placeholder="timestamp=datetime,volume=vol"),
            Option("timezone", "--timezone", "Timezone of naive times", page=False),
        ),
        groups={"what": "Give either a table or a query."}, job="import from SQL"),
    SourceSpec(
        "hub", "Hugging Face", "import-hub", "import klines/{SYMBOL}/{BASE}_{tf}.parquet from a Hugging Face dataset",
        "engine.data.sources.hub:run_import",
        options=(
            Option("repo_id", "--repo-id", "Dataset repo", default=DEFAULT_REPO),
            Option("symbols", "--symbols", "Symbols (comma separated)", required=True, page_default="BTCUSDT,ETHUSDT",
                   missing="Give at least one symbol and one timeframe.", row=1),
            Option("timeframes", "--timeframes", "Timeframes", widget="multiselect", required=True,
                   choices=tuple(TIMEFRAMES), page_default=("15m", "1h"),
                   missing="Give at least one symbol and one timeframe.", row=1),
            Option("revision", "--revision", "Revision", page=False),
        ),
        description="Files `klines/{SYMBOL}/{BASE}_{tf}.parquet`; a private repo needs HF_TOKEN in the environment.",
        job="import from the Hub"),
    SourceSpec(
        "sample", "Bundled sample", "import-sample", "import the bundled real sample (idempotent)",
        "engine.data.sources.sample:run_import", merges=False,
        description="A year of Binance 15m spot candles (BTC, ETH, SOL, BNB, XRP, DOGE) and the BTC perpetual with "
                    "funding.",
        button="Import the bundled sample", job="import the sample",
        nothing_text="the bundled sample is already in the workspace"),
):
    register(_spec)
