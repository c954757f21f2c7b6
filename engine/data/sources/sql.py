"""PostgreSQL (or any SQLAlchemy database) as a candle source, like the seed's
``raw_market_data`` table: URL + table or query + column mapping, read in chunks.

The table name is quoted by SQLAlchemy (never formatted into SQL); a user query runs as
given inside a READ ONLY transaction on PostgreSQL.  Passwords in URLs are masked in every
message and manifest (config/secrets.py).  ``data import-sql`` takes the URL from ``--url`` or, when
that is absent, from ``KLINELAB_SQL_URL`` (how the Data page passes it: never on the job's command line).
"""
from __future__ import annotations

import pandas as pd

from config.errors import BadInput, NotFound, RemoteError
from config.secrets import mask_url, parse_url
from config.secrets import scrub as _scrub
from engine.argtypes import csv_list
from engine.data.names import check_symbol
from engine.data.normalize import normalize
from engine.data.sources.base import DataSource, Series, finish, parse_mapping
from engine.data.timeframes import parse_timeframe
from engine.progress import progress


class SqlSource(DataSource):
    name = "sql"

    def __init__(self, url: str, *, table: str | None = None, query: str | None = None, symbol: str | None = None,
                 symbol_column: str | None = None, symbols: list[str] | None = None, timeframe: str | None = None,
                 timeframe_column: str | None = None, mapping: dict[str, str] | None = None, chunksize: int = 100_000,
                 timezone: str | None = None, schema: str | None = None, now: float | None = None):
        if not url or "://" not in url:
            raise BadInput("a database URL is needed, e.g. postgresql+psycopg://user:password@host:5432/db")
        parsed = parse_url(url)
        if parsed.get_backend_name() == "sqlite":
            from pathlib import Path

            db = parsed.database
            # SQLite creates a missing file on connect: a mistyped path must not leave an empty database behind
            if db and db != ":memory:" and not db.startswith("file:") and not Path(db).is_file():
                raise NotFound(f"SQLite database {db} does not exist", hint="check the path (sqlite:////abs/path.db)")
        if bool(table) == bool(query):
            raise BadInput("give either a table or a query (not both, not neither)")
        if not symbol and not symbol_column:
            raise BadInput("give --symbol, or --symbol-column when the table holds several symbols")
        if chunksize < 1:
            raise BadInput(f"chunk size must be positive, got {chunksize}")
        self.url, self.table, self.query, self.schema = parsed, table, query, schema
        self.symbol = check_symbol(symbol) if symbol else None
        self.symbol_column = symbol_column
        self.symbols = {check_symbol(s) for s in symbols} if symbols else None
        self.timeframe = parse_timeframe(timeframe) if timeframe else None
        self.timeframe_column = timeframe_column
        self.mapping = mapping
        self.chunksize = chunksize
        self.timezone = timezone
        self.now = now

    def _engine(self):
        import sqlalchemy as sa

        try:
            return sa.create_engine(self.url, pool_pre_ping=True)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as e:
            raise BadInput(f"cannot use database URL {mask_url(self.url)}: {_scrub(str(e), self.url)}") from None

    def read_raw(self) -> pd.DataFrame:
        import sqlalchemy as sa

        eng = self._engine()
        chunks = []
        try:
            with eng.connect() as con:
                if eng.dialect.name == "postgresql":
                    con.exec_driver_sql("SET TRANSACTION READ ONLY")
                if self.table:
                    insp = sa.inspect(con)
                    if not insp.has_table(self.table, schema=self.schema):
                        raise NotFound(f"table {self.table!r} does not exist in {mask_url(self.url)}")
                    tbl = sa.Table(self.table, sa.MetaData(), schema=self.schema, autoload_with=con)
                    stmt = sa.select(tbl)
                    if self.symbols and self.symbol_column:
                        stmt = stmt.where(tbl.c[self.symbol_column].in_(sorted(self.symbols)))
                    if self.timeframe and self.timeframe_column:
                        stmt = stmt.where(tbl.c[self.timeframe_column] == self.timeframe)
                else:
                    stmt = sa.text(self.query)
                result = con.execution_options(stream_results=True).execute(stmt)
                cols = list(result.keys())
                n = 0
                while True:
                    rows = result.fetchmany(self.chunksize)
                    if not rows:
                        break
                    chunks.append(pd.DataFrame.from_records(rows, columns=cols))
                    n += len(rows)
                    progress(None, f"read {n:,} rows from the database")
        except (NotFound, BadInput):
            raise
        except KeyError as e:
            raise BadInput(f"column {e} is not in table {self.table!r}") from e
        except sa.exc.OperationalError as e:
            raise RemoteError(f"cannot reach the database {mask_url(self.url)}: "
                              f"{_scrub(str(e.orig).strip().splitlines()[0], self.url)}") from None
        except sa.exc.ProgrammingError as e:
            raise BadInput(f"the database refused the query: {_scrub(str(e.orig).strip().splitlines()[0], self.url)}") from None
        except sa.exc.SQLAlchemyError as e:
            raise RemoteError(f"database error from {mask_url(self.url)}: {_scrub(str(e).splitlines()[0], self.url)}") from None
        finally:
            eng.dispose()
        if not chunks:
            what = f"table {self.table!r}" if self.table else "the query"
            raise BadInput(f"{what} returned no rows")
        return pd.concat(chunks, ignore_index=True)

    def read(self) -> list[Series]:
        raw = self.read_raw()
        label = f"sql:{self.table or 'query'}"
        src = {"type": "sql", "url": mask_url(self.url), "table": self.table, "query": self.query}
        groups: list[tuple[str, pd.DataFrame]]
        if self.symbol_column:
            if self.symbol_column not in raw.columns:
                raise BadInput(f"symbol column {self.symbol_column!r} is not in the result", hint=f"columns: {', '.join(raw.columns)}")
            groups = []
            for sym, g in raw.groupby(self.symbol_column, sort=True):
                s = check_symbol(str(sym))
                if self.symbols and s not in self.symbols:
                    continue
                groups.append((s, g.drop(columns=[self.symbol_column])))
            if not groups:
                raise BadInput(f"none of the symbols {sorted(self.symbols or [])} is in the result")
        else:
            groups = [(self.symbol, raw)]
        out = []
        for sym, g in groups:
            if self.timeframe_column and self.timeframe_column in g.columns:
                g = g.drop(columns=[self.timeframe_column])
            norm = normalize(g.reset_index(drop=True), f"{label} {sym}", timezone=self.timezone, mapping=self.mapping)
            out.append(finish(norm, symbol=sym, timeframe=self.timeframe, label=f"{label} {sym}", source=src, now=self.now))
        return out


def run_import(ws, opts):
    """``data import-sql ...`` (engine/data/sources/registry.py)."""
    from engine.data.importer import import_sources

    src = SqlSource(opts.url, table=opts.table, query=opts.query, symbol=opts.symbol, symbol_column=opts.symbol_column,
                    symbols=csv_list(opts.symbols) or None, timeframe=opts.timeframe,
                    timeframe_column=opts.timeframe_column, mapping=parse_mapping(opts.map), chunksize=opts.chunksize,
                    timezone=opts.timezone, schema=opts.schema)
    return import_sources(ws, [src], replace=opts.replace, dry_run=opts.dry_run)
