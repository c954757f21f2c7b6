"""DuckDB catalog indexing every manifest in the workspace (SPEC 2).

* Files are the truth; the catalog is an index that ``rebuild`` recreates from the
  manifests alone (nothing is lost: every manifest field is stored, the whole manifest too).
* ``refresh`` is incremental: it compares each manifest's mtime with the indexed one and
  re-reads only new or changed manifests; removed artifacts are dropped.
* DuckDB lets one process write a database file at a time.  Every connection here is
  short-lived (opened, used, closed), opening retries with back-off while another process
  holds the lock, and readers that still cannot get in fall back to an in-memory index
  built from the manifests, so a concurrently writing job never crashes a page.
* Every query is parameterised (``?`` placeholders); nothing user-typed is formatted into SQL.
"""
from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import tenacity

from config.errors import BadInput, Busy, NotFound
from storage.manifest import MANIFEST
from storage.workspace import KINDS, Workspace

# 2: artifacts.tags, artifacts.note; 3: params under the glossary's names (storage.schema.LEGACY_PARAMS).
# A catalog of another version is re-indexed from the manifests on its next write (or read).
SCHEMA_VERSION = "3"


class CatalogUnreadable(Busy):
    """The catalog file cannot be opened (not a lock): readers fall back to the manifests."""

_DDL = [
    """CREATE TABLE IF NOT EXISTS artifacts(
        id VARCHAR PRIMARY KEY, kind VARCHAR, name VARCHAR, created_at TIMESTAMP,
        symbols VARCHAR[], timeframe VARCHAR, origin VARCHAR, path VARCHAR,
        manifest_mtime DOUBLE, size_bytes BIGINT, n_files INTEGER,
        data_start TIMESTAMP, data_end TIMESTAMP, code_version VARCHAR,
        params JSON, metrics JSON, manifest JSON, tags VARCHAR[], note VARCHAR)""",
    "CREATE TABLE IF NOT EXISTS lineage(child VARCHAR, parent VARCHAR)",
    "CREATE TABLE IF NOT EXISTS metrics(artifact_id VARCHAR, key VARCHAR, value DOUBLE)",
    "CREATE TABLE IF NOT EXISTS files(artifact_id VARCHAR, path VARCHAR, size BIGINT, sha256 VARCHAR)",
    "CREATE TABLE IF NOT EXISTS problems(path VARCHAR, message VARCHAR)",
    "CREATE TABLE IF NOT EXISTS meta(key VARCHAR PRIMARY KEY, value VARCHAR)",
]

_ART_SCHEMA = pa.schema([
    ("id", pa.string()), ("kind", pa.string()), ("name", pa.string()), ("created_at", pa.timestamp("us")),
    ("symbols", pa.list_(pa.string())), ("timeframe", pa.string()), ("origin", pa.string()), ("path", pa.string()),
    ("manifest_mtime", pa.float64()), ("size_bytes", pa.int64()), ("n_files", pa.int32()),
    ("data_start", pa.timestamp("us")), ("data_end", pa.timestamp("us")), ("code_version", pa.string()),
    ("params", pa.string()), ("metrics", pa.string()), ("manifest", pa.string()),
    ("tags", pa.list_(pa.string())), ("note", pa.string()),
])

LIST_COLUMNS = ("id, kind, name, created_at, symbols, timeframe, origin, path, size_bytes, n_files, data_start, data_end, "
                "metrics, params, tags, note")
_TABLES = ("artifacts", "lineage", "metrics", "files", "problems")


@dataclass
class RefreshResult:
    scanned: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    problems: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {path, reason}: manifests not indexed
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"scanned": self.scanned, "added": self.added, "updated": self.updated, "removed": self.removed,
                "problems": self.problems, "skipped": self.skipped, "seconds": round(self.seconds, 4)}


def _is_lock_error(e: Exception) -> bool:
    s = str(e).lower()
    return "lock" in s or "conflicting" in s or "being used" in s


def _ts(value: Any) -> Any:
    """ISO text (or a timestamp) -> naive UTC datetime; None when missing or unreadable."""
    if not value:
        return None
    if isinstance(value, str):
        try:  # fast path: ISO 8601 as written by the manifests
            t = datetime.fromisoformat(value)
            return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t
        except ValueError:
            pass
    try:
        t = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    if t is pd.NaT:
        return None
    if t.tzinfo is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    return t.to_pydatetime()


def _metric_rows(aid: str, metrics: dict[str, Any], prefix: str = "") -> list[tuple[str, str, float]]:
    rows = []
    for k, v in (metrics or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, bool) or isinstance(v, (int, float)) and not math.isnan(v):
            rows.append((aid, key, float(v)))
        elif isinstance(v, dict) and not prefix:
            rows.extend(_metric_rows(aid, v, prefix=f"{k}."))
    return rows


def _like_escape(text: str) -> str:
    """Literal match inside LIKE: escape the wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def scan_manifests(ws: Workspace) -> dict[str, float]:
    """Path of every manifest.json in the workspace -> mtime."""
    found: dict[str, float] = {}
    roots = [ws.artifacts_dir / k for k in KINDS] + [ws.jobs_dir]
    for root in roots:
        if not root.is_dir():
            continue
        with os.scandir(root) as it:
            for entry in it:
                if not entry.is_dir(follow_symlinks=False):
                    continue
                mp = os.path.join(entry.path, MANIFEST)
                try:
                    found[mp] = os.stat(mp).st_mtime
                except FileNotFoundError:
                    continue
    return found


def _parse(path: str, mtime: float) -> tuple[tuple, list, list, list]:
    """One manifest -> index rows, after the one schema (storage.schema) and the folder check:
    a manifest that fails is reported as skipped with the reason, never indexed."""
    from storage.schema import check_folder, validate_manifest

    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        raw = json.loads(text)
    except ValueError as e:
        raise BadInput(f"not valid JSON: {str(e)[:200]}") from None
    m = validate_manifest(raw, source="manifest")
    check_folder(m["id"], m["kind"], Path(path).parent, source="manifest")
    aid = m["id"]
    files = m["files"]
    extra = m["extra"]
    row = (aid, m["kind"], m["name"] or aid, _ts(m["created_at"]),
           list(m["symbols"]), m["timeframe"], m["origin"] or "local",
           os.path.dirname(path), mtime, int(sum(f["size"] for f in files)), len(files),
           _ts(m["start"] or extra.get("start")), _ts(m["end"] or extra.get("end")), m["code_version"],
           json.dumps(m["params"]), json.dumps(m["metrics"]), text, list(m["tags"]), m["note"] or "")
    lineage = [(aid, p) for p in m["parents"]]
    metrics = _metric_rows(aid, m["metrics"])
    frows = [(aid, f["path"], f["size"], f["sha256"]) for f in files]
    return row, lineage, metrics, frows


def _current(con) -> bool:
    """True when the catalog is empty, or has this version's columns and was indexed by this version
    (``meta.schema_version``)."""
    cols = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'artifacts'").fetchall()}
    if not cols:
        return True
    if not {"tags", "note"} <= cols:  # version 1's layout
        return False
    try:
        rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    except duckdb.CatalogException:  # no meta table: older than any versioned catalog
        return False
    return rows == [(SCHEMA_VERSION,)]


def _transient_connect_error(e: BaseException) -> bool:
    """A lock held by another process, or any I/O error (a concurrent checkpoint): worth another try."""
    return isinstance(e, duckdb.Error) and (_is_lock_error(e) or isinstance(e, duckdb.IOException))


def _connect_backoff(rs: tenacity.RetryCallState) -> float:
    """5 ms doubling up to 100 ms, each wait stretched by a random 0-100 % (processes waiting on
    the same lock do not retry in step)."""
    delay = min(0.005 * 2 ** (rs.attempt_number - 1), 0.1)
    return delay + random.random() * delay


class Catalog:
    """Short-lived connections to ``<workspace>/catalog.duckdb``."""

    def __init__(self, ws: Workspace, *, lock_timeout: float = 5.0, read_timeout: float = 1.5):
        self.ws = ws
        self.path = ws.catalog_path
        self.lock_timeout = lock_timeout
        self.read_timeout = read_timeout
        self.last_read_fallback = False  # True when the last read came from the manifests (catalog locked)

    # -- connections ------------------------------------------------------------------
    def _open(self, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
        """Connect, retrying with back-off while another process holds the file.  Any I/O error
        while connecting is retried (a concurrent checkpoint can make a read fail transiently);
        one that outlasts ``timeout`` is reported as Busy (lock) or as an unreadable catalog."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_delay(timeout), wait=_connect_backoff, sleep=time.sleep, reraise=True,
            retry=tenacity.retry_if_exception(_transient_connect_error))
        try:
            return retrying(duckdb.connect, str(self.path), read_only=read_only)
        except duckdb.Error as e:
            if _is_lock_error(e):
                raise Busy(f"the catalog {self.path} is locked by another process", hint="try again in a moment") from e
            raise CatalogUnreadable(f"the catalog {self.path} cannot be opened: {str(e).splitlines()[0][:200]}",
                                    hint="run `python -m engine catalog rebuild` (the manifests are the truth)") from e

    @contextmanager
    def writer(self, timeout: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        self.ws.ensure()
        con = self._open(False, self.lock_timeout if timeout is None else timeout)
        try:
            if not _current(con):  # an older layout: drop the index, the refresh re-reads every manifest
                for t in _TABLES:
                    con.execute(f"DROP TABLE IF EXISTS {t}")  # constant names
            for ddl in _DDL:
                con.execute(ddl)
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
            yield con
        except duckdb.IOException as e:  # e.g. the disk, or another process's checkpoint: the files stay the truth
            raise Busy(f"the catalog {self.path} could not be written: {str(e).splitlines()[0][:200]}",
                       hint="try again; `catalog rebuild` recreates it from the manifests") from e
        finally:
            con.close()

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read connection: the catalog file when it can be opened, else an in-memory index of the manifests."""
        self.last_read_fallback = False
        con = None
        if self.path.exists():
            try:
                con = self._open(True, self.read_timeout)
            except (Busy, CatalogUnreadable):
                con = None
            if con is not None and not _current(con):  # written by an older version: migrate it first
                con.close()
                con = self._refreshed_reader()
        else:
            con = self._refreshed_reader()
        if con is None:
            self.last_read_fallback = True
            con = duckdb.connect(":memory:")
            for ddl in _DDL:
                con.execute(ddl)
            self._index(con, scan_manifests(self.ws), known={}, result=RefreshResult())
        try:
            yield con
        finally:
            con.close()

    def _refreshed_reader(self) -> duckdb.DuckDBPyConnection | None:
        """Refresh (create or migrate) the catalog, then open it to read; None when either is refused."""
        try:
            self.refresh(timeout=self.read_timeout)
            return self._open(True, self.read_timeout)
        except (Busy, CatalogUnreadable):
            return None

    # -- indexing -----------------------------------------------------------------------
    def refresh(self, *, timeout: float | None = None) -> RefreshResult:
        """Incremental: index new / changed manifests, drop removed ones."""
        t0 = time.perf_counter()
        found = scan_manifests(self.ws)
        res = RefreshResult(scanned=len(found))
        with self.writer(timeout) as con:
            known = {p: (i, mt) for i, p, mt in con.execute("SELECT id, path, manifest_mtime FROM artifacts").fetchall()}
            self._index(con, found, known={os.path.join(p, MANIFEST): v for p, v in known.items()}, result=res)
            con.execute("CHECKPOINT")
        res.seconds = time.perf_counter() - t0
        return res

    def rebuild(self) -> RefreshResult:
        """Recreate the catalog from the manifests alone, then swap it in atomically."""
        t0 = time.perf_counter()
        self.ws.ensure()
        tmp = self.ws.tmp_dir / f"catalog.rebuild.{os.getpid()}.duckdb"
        for p in (tmp, Path(str(tmp) + ".wal")):
            p.unlink(missing_ok=True)
        found = scan_manifests(self.ws)
        res = RefreshResult(scanned=len(found))
        con = duckdb.connect(str(tmp))
        try:
            for ddl in _DDL:
                con.execute(ddl)
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
            self._index(con, found, known={}, result=res)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        # take the writer lock so nobody is mid-write while we swap the file
        with self.writer():
            pass
        os.replace(tmp, self.path)
        Path(str(self.path) + ".wal").unlink(missing_ok=True)
        res.seconds = time.perf_counter() - t0
        return res

    def _index(self, con, found: dict[str, float], known: dict[str, tuple[str, float]], result: RefreshResult) -> None:
        changed = [p for p, mt in found.items() if p not in known or known[p][1] != mt]
        removed_ids = [known[p][0] for p in known if p not in found]
        # ids indexed from manifests that stay as they are: a changed manifest elsewhere claiming one is a duplicate
        kept = {known[p][0]: p for p in known if p in found and p not in set(changed)}
        rank = {k: i for i, k in enumerate(KINDS)}
        rows, lineage, metrics, files = [], [], [], []
        problems = []
        parsed = []
        for p in changed:
            try:
                parsed.append((p, _parse(p, found[p])))
            except BadInput as e:
                problems.append((p, str(e)))
            except (OSError, ValueError, TypeError, AttributeError) as e:
                problems.append((p, f"{type(e).__name__}: {str(e)[:200]}"))
        # the same id in two folders (two kinds): the one `find_artifact_dir` resolves wins, the other is reported
        parsed.sort(key=lambda x: (rank.get(x[1][0][1], 99), x[0]))
        seen: dict[str, str] = {}
        for p, (r, li, me, fi) in parsed:
            other = seen.get(r[0]) or kept.get(r[0])
            if other is not None and os.path.normpath(other) != os.path.normpath(p):
                problems.append((p, (f"duplicate id {r[0]!r}: already indexed from {os.path.dirname(other)}; "
                                     "this one is skipped")))
                continue
            seen[r[0]] = p
            rows.append(r)
            lineage += li
            metrics += me
            files += fi
            if p in known:
                result.updated += 1
            else:
                result.added += 1
        # a manifest indexed before that now fails: its old entry goes (it no longer describes its folder)
        removed_ids += [known[p][0] for p, _ in problems if p in known]
        result.removed = len(removed_ids)
        result.problems = [f"{p}: {m}" for p, m in problems]
        result.skipped = [{"path": p, "reason": m} for p, m in problems]
        con.execute("BEGIN TRANSACTION")
        try:
            stale = removed_ids + [r[0] for r in rows]
            # also drop entries whose id moved to another path
            if stale:
                ids = pa.table({"id": pa.array(stale, pa.string())})
                con.register("stale_ids", ids)
                con.execute("DELETE FROM artifacts WHERE id IN (SELECT id FROM stale_ids)")
                con.execute("DELETE FROM lineage WHERE child IN (SELECT id FROM stale_ids)")
                con.execute("DELETE FROM metrics WHERE artifact_id IN (SELECT id FROM stale_ids)")
                con.execute("DELETE FROM files WHERE artifact_id IN (SELECT id FROM stale_ids)")
                con.unregister("stale_ids")
            if rows:
                # ids are unique by now (duplicates were reported above); a guard only
                dedup: dict[str, tuple] = {}
                for r in rows:
                    if r[0] not in dedup or r[8] >= dedup[r[0]][8]:
                        dedup[r[0]] = r
                cols = list(zip(*dedup.values()))
                table = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, _ART_SCHEMA)], schema=_ART_SCHEMA)
                con.register("new_rows", table)
                con.execute("INSERT INTO artifacts SELECT * FROM new_rows")
                con.unregister("new_rows")
            for name, data, cols in (("lineage", lineage, ("child", "parent")),
                                     ("metrics", metrics, ("artifact_id", "key", "value")),
                                     ("files", files, ("artifact_id", "path", "size", "sha256"))):
                if data:
                    t = pa.table({c: [row[i] for row in data] for i, c in enumerate(cols)})
                    con.register("new_" + name, t)
                    con.execute(f"INSERT INTO {name} SELECT * FROM new_{name}")  # table names are constants
                    con.unregister("new_" + name)
            con.execute("DELETE FROM problems")
            if problems:
                con.executemany("INSERT INTO problems VALUES (?, ?)", problems)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    # -- queries ------------------------------------------------------------------------
    def query(
        self,
        *,
        kind: str | None = None,
        symbol: str | None = None,
        timeframe: str | None = None,
        origin: str | None = None,
        since: Any = None,
        until: Any = None,
        text: str | None = None,
        tag: str | list[str] | None = None,
        name: str | None = None,
        metric: str | None = None,
        metric_min: float | None = None,
        metric_max: float | None = None,
        parent: str | None = None,
        order_by: str = "created_at",
        descending: bool = True,
        limit: int | None = 1000,
    ) -> pd.DataFrame:
        """Filtered listing of artifacts (parameterised SQL).  ``text``: in the name, id or note;
        ``name``: in the name (case-insensitive); ``tag``: has this tag (a list: every one of them)."""
        where, args = [], []
        if kind:
            if kind not in KINDS:
                raise BadInput(f"unknown kind {kind!r}", hint=f"use one of {', '.join(KINDS)}")
            where.append("kind = ?"); args.append(kind)
        if symbol:
            where.append("list_contains(symbols, ?)"); args.append(symbol)
        if timeframe:
            where.append("timeframe = ?"); args.append(timeframe)
        if origin:
            where.append("origin LIKE ? ESCAPE '\\'"); args.append(_like_escape(origin) + "%")
        if since is not None:
            where.append("created_at >= ?"); args.append(_ts(since))
        if until is not None:
            where.append("created_at <= ?"); args.append(_ts(until))
        if text:
            where.append("(lower(name) LIKE ? ESCAPE '\\' OR lower(id) LIKE ? ESCAPE '\\' OR lower(note) LIKE ? ESCAPE '\\')")
            args += [f"%{_like_escape(text.lower())}%"] * 3
        if name:
            where.append("lower(name) LIKE ? ESCAPE '\\'"); args.append(f"%{_like_escape(name.lower())}%")
        for t in ([tag] if isinstance(tag, str) else list(tag or [])):
            where.append("list_contains(tags, ?)"); args.append(t)
        if parent:
            where.append("id IN (SELECT child FROM lineage WHERE parent = ?)"); args.append(parent)
        if metric:
            cond, margs = ["key = ?"], [metric]
            if metric_min is not None:
                cond.append("value >= ?"); margs.append(float(metric_min))
            if metric_max is not None:
                cond.append("value <= ?"); margs.append(float(metric_max))
            where.append(f"id IN (SELECT artifact_id FROM metrics WHERE {' AND '.join(cond)})"); args += margs
        allowed = {"created_at", "name", "kind", "size_bytes", "data_start", "data_end", "id"}
        if order_by not in allowed:
            raise BadInput(f"cannot order by {order_by!r}", hint=f"use one of {', '.join(sorted(allowed))}")
        sql = f"SELECT {LIST_COLUMNS} FROM artifacts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {order_by} {'DESC' if descending else 'ASC'}, id"
        if limit:
            sql += " LIMIT ?"; args.append(int(limit))
        with self.reader() as con:
            return con.execute(sql, args).df()

    def get(self, artifact_id: str) -> dict[str, Any]:
        with self.reader() as con:
            row = con.execute("SELECT manifest, path FROM artifacts WHERE id = ?", [artifact_id]).fetchone()
        if row is None:
            raise NotFound(f"no artifact {artifact_id!r} in the catalog", hint="run `python -m engine catalog refresh`")
        from storage.schema import upgrade_legacy_names

        m = upgrade_legacy_names(json.loads(row[0]))  # the stored text is the file as written
        m["_path"] = row[1]
        return m

    def lineage(self, artifact_id: str) -> dict[str, pd.DataFrame]:
        """Ancestors (what it was made from, recursively) and descendants (what was made from it)."""
        up = """WITH RECURSIVE up(id, depth) AS (
                    SELECT parent, 1 FROM lineage WHERE child = ?
                    UNION SELECT l.parent, up.depth + 1 FROM lineage l JOIN up ON l.child = up.id WHERE up.depth < 50)
                SELECT a.id, a.kind, a.name, a.timeframe, a.symbols, min(up.depth) AS depth
                FROM up LEFT JOIN artifacts a ON a.id = up.id GROUP BY ALL ORDER BY depth, a.id"""
        down = """WITH RECURSIVE down(id, depth) AS (
                    SELECT child, 1 FROM lineage WHERE parent = ?
                    UNION SELECT l.child, down.depth + 1 FROM lineage l JOIN down ON l.parent = down.id WHERE down.depth < 50)
                SELECT a.id, a.kind, a.name, a.timeframe, a.symbols, min(down.depth) AS depth
                FROM down LEFT JOIN artifacts a ON a.id = down.id GROUP BY ALL ORDER BY depth, a.id"""
        with self.reader() as con:
            return {"ancestors": con.execute(up, [artifact_id]).df(), "descendants": con.execute(down, [artifact_id]).df()}

    def names(self, ids) -> dict[str, dict[str, Any]]:
        """``{id: {name, kind, tags, note}}`` for the ids the catalog knows (the pages' labels)."""
        ids = [str(i) for i in ids]
        if not ids:
            return {}
        with self.reader() as con:
            con.register("wanted_ids", pa.table({"id": pa.array(ids, pa.string())}))
            rows = con.execute("SELECT id, name, kind, tags, note FROM artifacts WHERE id IN (SELECT id FROM wanted_ids)").fetchall()
            con.unregister("wanted_ids")
        return {r[0]: {"name": r[1] or r[0], "kind": r[2], "tags": list(r[3] or []), "note": r[4] or ""} for r in rows}

    def tags(self) -> list[str]:
        """Every tag in use, sorted."""
        with self.reader() as con:
            return [r[0] for r in con.execute("SELECT DISTINCT unnest(tags) AS t FROM artifacts ORDER BY t").fetchall()]

    def counts(self) -> dict[str, int]:
        with self.reader() as con:
            rows = con.execute("SELECT kind, count(*) FROM artifacts GROUP BY kind").fetchall()
        out = {k: 0 for k in KINDS}
        out.update({k: int(n) for k, n in rows})
        return out

    def problems(self) -> list[tuple[str, str]]:
        with self.reader() as con:
            return [tuple(r) for r in con.execute("SELECT path, message FROM problems").fetchall()]


def index_quietly(ws: Workspace, timeout: float = 2.0) -> RefreshResult | None:
    """Best-effort incremental refresh after writing an artifact; a busy catalog is left for the next refresh."""
    try:
        return Catalog(ws).refresh(timeout=timeout)
    except Busy as e:  # also CatalogUnreadable
        print(f"note: {e}; the new artifact will be indexed by the next refresh", file=sys.stderr)
        return None
