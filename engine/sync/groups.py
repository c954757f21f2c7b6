"""The Hub groups of the seed and how each maps onto the workspace.

Artifacts travel whole, with their ``manifest.json`` (lineage, params, metrics, file
checksums), under ``<prefix><artifact id>/``; two groups use the layouts the seeds read:

=========  ===========================================  ====================================================
group      remote layout                                workspace side
=========  ===========================================  ====================================================
ticks      ``ticks/<files>``                            raw tick / trade files in ``<ws>/raw/ticks`` (or
                                                        ``--ticks-dir``); not artifacts, so not indexed
training   ``training/<featureset id>/`` + per set      feature sets (feature tables + targets, kind
           ``excluded_features.txt``,                   ``features``); the exclusion lists of the newest
           ``included_features.txt``,                   analysis report of the set and (unless
           ``scalers/<model id>.json``                  ``--no-scalers``) the scalers fitted on it
analysis   ``analysis/<report id>/``                    feature-analysis reports (kind ``analysis``)
models     ``models/<model id>/``                       deep models (kind ``model``)
stage1     ``v1_model/{SYMBOL}/{tf}/classification.h5``  Stage 1 models (kind ``stage1``), seed layout
           ``+ params.json``
stage2     ``stage2/<model id>/``                       Stage 2 models (kind ``stage2``)
klines     ``klines/{SYMBOL}/{BASE}_{tf}.parquet``       candle series (kind ``ohlcv``), written with
                                                        Binance's kline column names, read back through
                                                        the data importer
=========  ===========================================  ====================================================
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from config.errors import BadInput
from storage.manifest import MANIFEST, Manifest, sha256_file
from storage.workspace import Workspace


@dataclass(frozen=True)
class Group:
    name: str
    prefix: str
    kinds: tuple[str, ...]
    title: str
    upload_message: str
    delete_message: str


GROUPS: dict[str, Group] = {g.name: g for g in [
    Group("ticks", "ticks/", (), "Ticks (raw tick / trade files)", "Upload tick data", "Delete tick data"),
    Group("training", "training/", ("features",), "Training data (feature tables, exclusion lists, scalers)",
          "Upload training data", "Delete training data"),
    Group("analysis", "analysis/", ("analysis",), "Feature analysis reports", "Upload feature analysis results",
          "Delete feature analysis results"),
    Group("models", "models/", ("model",), "Deep models (PatchTST / direction)", "Upload deep models", "Delete deep models"),
    Group("stage1", "v1_model/", ("stage1",), "Stage 1 models (v1_model/{SYMBOL}/{tf}/)", "Upload Stage 1 models",
          "Delete Stage 1 models"),
    Group("stage2", "stage2/", ("stage2",), "Stage 2 models", "Upload Stage 2 models", "Delete Stage 2 models"),
    Group("klines", "klines/", ("ohlcv",), "Klines (klines/{SYMBOL}/{BASE}_{tf}.parquet)", "Upload klines", "Delete klines"),
]}
# the seed's command names (hf-upload-features = the feature analysis) and a few obvious synonyms
ALIASES = {"features": "analysis", "feature-analysis": "analysis", "analysis-of-features": "analysis",
           "training-data": "training", "deep": "models", "model": "models", "v1_model": "stage1", "ohlcv": "klines",
           "candles": "klines", "tick": "ticks"}
KEEP = (".gitattributes",)  # never deleted by delete-all (git configuration of the repo, e.g. LFS patterns)


def get_group(name: str) -> Group:
    key = ALIASES.get(name, name)
    if key not in GROUPS:
        raise BadInput(f"unknown group {name!r}", hint=f"use one of {', '.join(GROUPS)}")
    return GROUPS[key]


@dataclass
class Selection:
    """Which part of a group an operation covers (empty = all)."""

    ids: list[str] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    timeframes: list[str] = field(default_factory=list)
    scalers: bool = True
    ticks_dir: Path | None = None

    def __post_init__(self) -> None:
        from engine.data.names import check_symbol
        from engine.data.timeframes import parse_timeframe
        from storage.workspace import check_id

        self.ids = [check_id(i) for i in self.ids]
        self.symbols = [check_symbol(s) for s in self.symbols]
        self.timeframes = [parse_timeframe(t) for t in self.timeframes]

    @property
    def empty(self) -> bool:
        return not (self.ids or self.symbols or self.timeframes)

    def wants(self, artifact_id: str | None, symbols: list[str], timeframe: str | None) -> bool:
        if self.ids and artifact_id not in self.ids:
            return False
        if self.symbols and not set(self.symbols) & set(symbols or []):
            return False
        return not (self.timeframes and timeframe not in self.timeframes)

    def to_dict(self) -> dict:
        return {"ids": self.ids, "symbols": self.symbols, "timeframes": self.timeframes, "scalers": self.scalers,
                "ticks_dir": str(self.ticks_dir) if self.ticks_dir else None}


@dataclass
class LocalFile:
    path: str  # path in the repo
    source: Path  # the file on disk
    size: int
    sha256: str
    artifact_id: str | None = None
    note: str = ""


def ticks_dir(ws: Workspace, sel: Selection) -> Path:
    return Path(sel.ticks_dir).expanduser().resolve() if sel.ticks_dir else ws.ticks_dir


def verified_dir(ws: Workspace, m: Manifest, purpose: str = "uploading") -> Path:
    """The artifact's folder, after checking every file against its manifest (sizes, sha256)."""
    d = ws.artifact_dir(m.kind, m.id)
    problems = m.verify_files(d)
    if problems:
        raise BadInput(f"artifact {m.id} does not match its manifest: {'; '.join(problems[:3])}",
                       hint=f"it was changed or damaged after it was written; rebuild it before {purpose}")
    return d


def _artifact_files(ws: Workspace, m: Manifest, prefix: str) -> list[LocalFile]:
    d = verified_dir(ws, m)
    out = [LocalFile(f"{prefix}{m.id}/{f.path}", d / f.path, f.size, f.sha256, m.id) for f in m.files]
    mp = d / MANIFEST
    out.append(LocalFile(f"{prefix}{m.id}/{MANIFEST}", mp, mp.stat().st_size, sha256_file(mp), m.id))
    return out


def _newest(manifests: list[Manifest]) -> list[Manifest]:
    return sorted(manifests, key=lambda m: (m.created_at, m.id), reverse=True)


def local_files(ws: Workspace, g: Group, sel: Selection, staging: Path) -> list[LocalFile]:
    """What an upload of the group sends (klines are converted into ``staging``)."""
    from storage.artifacts import list_manifests

    if g.name == "ticks":
        root = ticks_dir(ws, sel)
        if not root.is_dir():
            raise BadInput(f"no tick folder at {root}", hint="put the tick files there or pass --ticks-dir DIR")
        out = []
        for dirpath, _dirs, files in os.walk(root):
            for fn in sorted(files):
                p = Path(dirpath) / fn
                if p.is_symlink() or not p.is_file():
                    continue
                rel = p.relative_to(root).as_posix()
                out.append(LocalFile(f"ticks/{rel}", p, p.stat().st_size, sha256_file(p)))
        if not out:
            raise BadInput(f"the tick folder {root} is empty")
        return sorted(out, key=lambda f: f.path)

    manifests = [m for k in g.kinds for m in list_manifests(ws, k)]
    chosen = [m for m in manifests if sel.wants(m.id, m.symbols, m.timeframe)]
    missing = sorted(set(sel.ids) - {m.id for m in chosen})
    if missing:
        raise BadInput(f"no {g.name} artifact with id {', '.join(missing)} in the workspace",
                       hint="see `python -m engine catalog query`")
    out: list[LocalFile] = []
    if g.name == "klines":
        from engine.sync.klines import binance_file, kline_path

        for m in sorted(chosen, key=lambda m: m.id):
            if m.params.get("series") == "funding" or not m.timeframe:
                continue
            target = staging / "klines" / f"{m.id}.parquet"
            binance_file(ws.artifact_dir("ohlcv", m.id) / "ohlcv.parquet", m.timeframe, target)
            out.append(LocalFile(kline_path(m.symbols[0], m.timeframe), target, target.stat().st_size,
                                 sha256_file(target), m.id))
        return out
    if g.name == "stage1":
        seen: dict[str, str] = {}
        for m in _newest(chosen):
            d = verified_dir(ws, m)
            for f in m.files:
                v1 = parse_v1_path(f.path)
                if v1 is None or not sel.wants(m.id, [v1[0]], v1[1]):
                    continue
                if seen.setdefault(f"{v1[0]}/{v1[1]}", m.id) == m.id:  # the newest artifact per symbol / timeframe
                    out.append(LocalFile(f.path, d / f.path, f.size, f.sha256, m.id))
        return sorted(out, key=lambda f: f.path)
    for m in sorted(chosen, key=lambda m: m.id):
        files = _artifact_files(ws, m, g.prefix)
        out += files
        if g.name == "training":
            out += _training_extras(ws, m, {f.path for f in files}, sel.scalers)
    return out


def _training_extras(ws: Workspace, fs: Manifest, taken: set[str], scalers: bool) -> list[LocalFile]:
    """excluded / included feature lists of the newest report on this feature set, and the scalers fitted on it."""
    from storage.artifacts import list_manifests

    out = []
    reports = _newest([m for m in list_manifests(ws, "analysis") if fs.id in m.parents])
    if reports:
        d = ws.artifact_dir("analysis", reports[0].id)
        for fn in ("excluded_features.txt", "included_features.txt"):
            p = d / fn
            path = f"training/{fs.id}/{fn}"
            if p.is_file() and path not in taken:
                out.append(LocalFile(path, p, p.stat().st_size, sha256_file(p), fs.id, note=f"from report {reports[0].id}"))
    if scalers:
        for kind in ("model", "stage2"):
            for m in list_manifests(ws, kind):
                p = ws.artifact_dir(kind, m.id) / "scaler.json"
                path = f"training/{fs.id}/scalers/{m.id}.json"
                if fs.id in m.parents and p.is_file() and path not in taken:
                    out.append(LocalFile(path, p, p.stat().st_size, sha256_file(p), fs.id, note=f"scaler of {m.id}"))
    return out


# -- remote side ------------------------------------------------------------------------------
_KLINE_RE = re.compile(r"^klines/([^/]+)/([^/_]+)_([0-9]+[mhdwM])\.parquet$")
_V1_RE = re.compile(r"^v1_model/([^/]+)/([0-9]+[mhdwM])/(.+)$")


def parse_kline_path(path: str) -> tuple[str, str] | None:
    m = _KLINE_RE.match(path)
    return (m.group(1), m.group(3)) if m else None


def parse_v1_path(path: str) -> tuple[str, str, str] | None:
    m = _V1_RE.match(path)
    return (m.group(1), m.group(2), m.group(3)) if m else None


def artifact_folder(g: Group, path: str) -> tuple[str, str] | None:
    """(artifact id, path inside the artifact) for a remote path of an artifact group."""
    rest = path[len(g.prefix):] if path.startswith(g.prefix) else None
    if not rest or "/" not in rest:
        return None
    aid, inner = rest.split("/", 1)
    return aid, inner
