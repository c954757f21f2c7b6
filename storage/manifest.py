"""``manifest.json``: the record of one artifact (SPEC 2).

Fields: id, kind, name, created_at, symbols, timeframe, params, metrics, parents (lineage),
files (path, size, sha256), origin (local | huggingface:<repo> | ssh:<host>), code_version,
plus ``start`` / ``end`` (time range of the data it covers) and ``extra`` for kind-specific
details (feature names, split dates, ...), and what a user adds: ``tags`` (list), ``note`` (free
text) and ``edited_at`` (when name / tags / note were last changed; storage.artifacts.edit_artifact).  Manifests are written atomically, last, after
every file of the artifact is in place.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.errors import BadInput
from config.version import code_version
from storage.workspace import check_id, check_kind

MANIFEST = "manifest.json"
SCHEMA_VERSION = 1


def utc_now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def _jsonable(value: Any) -> Any:
    """Plain JSON values only: numpy scalars become floats/ints, NaN/inf become None, timestamps ISO strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "isoformat"):
        with contextlib.suppress(Exception):  # not a usable isoformat(): fall through to str
            ts = value.isoformat()
            return ts.replace("+00:00", "Z")
    if hasattr(value, "item"):  # numpy scalar
        return _jsonable(value.item())
    if isinstance(value, Path):
        return str(value)
    return str(value)


@dataclass
class FileEntry:
    path: str
    size: int
    sha256: str


@dataclass
class Manifest:
    id: str
    kind: str
    name: str = ""
    created_at: str = field(default_factory=utc_now_iso)
    symbols: list[str] = field(default_factory=list)
    timeframe: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    parents: list[str] = field(default_factory=list)
    files: list[FileEntry] = field(default_factory=list)
    origin: str = "local"
    code_version: str = field(default_factory=code_version)
    start: str | None = None
    end: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)   # user labels (catalog tag); indexed, filterable
    note: str = ""                                  # free text (catalog note)
    edited_at: str | None = None                    # when name / tags / note were last changed by a user
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        check_id(self.id)
        check_kind(self.kind)

    # -- (de)serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return _jsonable(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "manifest") -> Manifest:
        """A manifest from its JSON form, checked against the one schema (storage.schema): BadInput
        naming the first bad field (wrong type, unsafe file path, bad size / sha256, ...)."""
        from storage.schema import validate_manifest

        checked = validate_manifest(d, source=source)
        known = {f for f in cls.__dataclass_fields__}
        kw = {k: checked[k] for k in d if k in known}
        kw["files"] = [FileEntry(f["path"], f["size"], f["sha256"]) for f in checked["files"]]
        try:
            return cls(**kw)
        except (TypeError, KeyError) as e:
            raise BadInput(f"{source} is malformed: {e}") from e

    @classmethod
    def read(cls, path: Path, *, check_folder: bool = True) -> Manifest:
        """Read and check ``<dir>/manifest.json``; with ``check_folder`` its id and kind must match the
        folder it lies in (``artifacts/<kind>/<id>/`` or ``jobs/<id>/``)."""
        p = Path(path)
        if p.is_dir():
            p = p / MANIFEST
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as e:
            raise BadInput(f"cannot read manifest {p}: {str(e)[:200]}") from e
        m = cls.from_dict(data, source=str(p))
        if check_folder:
            from storage.schema import check_folder as _check

            _check(m.id, m.kind, p.parent, source=str(p))
        return m

    def write(self, directory: Path) -> Path:
        """Atomically (temp file + rename) write manifest.json into ``directory``."""
        return write_json_atomic(Path(directory) / MANIFEST, self.to_dict())

    # -- files ------------------------------------------------------------------------
    def hash_files(self, directory: Path) -> None:
        """Record path, size and sha256 of every file under ``directory`` (manifest excluded)."""
        directory = Path(directory)
        entries: list[FileEntry] = []
        for root, _dirs, files in os.walk(directory):
            for fn in sorted(files):
                p = Path(root) / fn
                rel = p.relative_to(directory).as_posix()
                if rel == MANIFEST or p.is_symlink():
                    continue
                entries.append(FileEntry(rel, p.stat().st_size, sha256_file(p)))
        self.files = sorted(entries, key=lambda e: e.path)

    def verify_files(self, directory: Path) -> list[str]:
        """Problems found comparing the files on disk with the manifest (empty list = all good)."""
        problems = []
        for e in self.files:
            p = Path(directory) / e.path
            if not p.is_file():
                problems.append(f"missing {e.path}")
            elif p.stat().st_size != e.size:
                problems.append(f"size of {e.path} is {p.stat().st_size}, manifest says {e.size}")
            elif sha256_file(p) != e.sha256:
                problems.append(f"sha256 of {e.path} does not match the manifest")
        return problems

    @property
    def size_bytes(self) -> int:
        return sum(f.size for f in self.files)


def write_json_atomic(path: Path, data: Any, *, indent: int | None = 2) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(_jsonable(data), f, indent=indent, sort_keys=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path
