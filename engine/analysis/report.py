"""Reading reports back (the page, training, reports downloaded from the Hub) and editing the
whitelist.

* :func:`open_report` -> :class:`ReportView` of any ``analysis`` artifact in the workspace,
  whatever its origin (``local``, ``huggingface:<repo>``, ``ssh:<host>``).
* :func:`included_features` -> the whitelist training uses with ``--report ID``: the report's
  ``included_features.txt`` as it is now (a user may edit it by hand), checked against the
  feature set when one is given.
* :func:`save_whitelist` -> a NEW report artifact, identical but for ``included_features.txt``
  (parents: the original report and its feature set).  The original stays as computed, so a
  report downloaded from the Hub is never altered in place and lineage says which list a model
  was trained with.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from config.errors import BadInput, NotFound
from engine.analysis.exclusions import parse_feature_list, write_included
from engine.analysis.html import build_html
from engine.analysis.view import HTML, INCLUDED_TXT, ReportView, report_meta
from storage.artifacts import artifact_path, create_artifact, read_manifest
from storage.manifest import MANIFEST
from storage.workspace import Workspace, new_id


def _catalog(ws: Workspace):
    """The catalog, refreshed when it is free (a busy one answers from the manifests)."""
    from config.errors import Busy
    from storage.catalog import Catalog

    cat = Catalog(ws)
    try:
        cat.refresh(timeout=1.0)
    except Busy:
        pass
    return cat


def list_reports(ws: Workspace) -> pd.DataFrame:
    """Reports in the catalog, newest first: id, name, target, featureset_id, symbols, timeframe, origin, created_at."""
    df = _catalog(ws).query(kind="analysis", limit=None)
    cols = ["id", "name", "target", "featureset_id", "symbols", "timeframe", "origin", "created_at"]
    if not len(df):
        return pd.DataFrame(columns=cols)
    params = df["params"].map(lambda s: json.loads(s) if isinstance(s, str) else (s or {}))
    df = df.assign(target=params.map(lambda p: p.get("target", "")), featureset_id=params.map(lambda p: p.get("featureset_id", "")))
    return df.sort_values("created_at", ascending=False)[cols].reset_index(drop=True)


def open_report(ws: Workspace, report_id: str) -> ReportView:
    m = read_manifest(ws, report_id, "analysis")
    return ReportView.read(artifact_path(ws, report_id, "analysis"), report_meta(m))


def report_file(ws: Workspace, report_id: str, name: str) -> Path:
    """Path of one file of a report (for downloads); NotFound when absent."""
    folder = artifact_path(ws, report_id, "analysis")
    p = (folder / name).resolve()
    if folder.resolve() not in p.parents or not p.is_file():
        raise NotFound(f"report {report_id} has no file {name!r}")
    return p


def report_files(ws: Workspace, report_id: str) -> list[str]:
    """Relative paths of a report's files (CSVs and lists first, then the HTML and images)."""
    folder = artifact_path(ws, report_id, "analysis")
    files = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST]
    return sorted(files, key=lambda f: (not f.endswith((".csv", ".txt")), f))


def included_features(ws: Workspace, report_id: str, available: Iterable[str] | None = None) -> list[str]:
    """The report's whitelist.  With ``available`` (the feature set's feature names), names not in
    it are an error that lists them (a whitelist edited by hand may have a typo)."""
    folder = artifact_path(ws, report_id, "analysis")
    p = folder / INCLUDED_TXT
    if not p.is_file():
        raise NotFound(f"report {report_id} has no {INCLUDED_TXT}", hint="run the analysis again or download the whole report")
    names = parse_feature_list(p.read_text(encoding="utf-8"), source=f"{INCLUDED_TXT} of {report_id}")
    if not names:
        raise BadInput(f"{INCLUDED_TXT} of report {report_id} lists no feature", hint="add at least one feature")
    if available is not None:
        have = set(available)
        unknown = [n for n in names if n not in have]
        if unknown:
            raise BadInput(f"{INCLUDED_TXT} of report {report_id} names feature(s) the feature set does not have: "
                           f"{', '.join(unknown[:8])}", hint="fix the whitelist (one feature name per line)")
    return names


def save_whitelist(ws: Workspace, report_id: str, features: list[str], *, note: str = "") -> str:
    """Copy the report with a new whitelist; returns the new report id."""
    m = read_manifest(ws, report_id, "analysis")
    src = artifact_path(ws, report_id, "analysis")
    view = ReportView.read(src, report_meta(m))
    known = set(view.features)
    feats = [str(f).strip() for f in features if str(f).strip()]
    unknown = [f for f in feats if f not in known]
    if unknown:
        raise BadInput(f"not features of report {report_id}: {', '.join(unknown[:8])}")
    if not feats:
        raise BadInput("the whitelist needs at least one feature")
    if len(set(feats)) != len(feats):
        raise BadInput("the whitelist names a feature twice")
    target = m.extra.get("target", m.params.get("target", ""))
    new = new_id("analysis", f"{target}-edited")
    with create_artifact(ws, "analysis", artifact_id=new, name=f"{m.name} (edited whitelist)", symbols=m.symbols,
                         timeframe=m.timeframe, params={**m.params, "whitelist_of": report_id},
                         parents=[report_id, *m.parents], origin="local") as d:
        for p in sorted(src.rglob("*")):
            rel = p.relative_to(src).as_posix()
            if p.is_file() and rel not in (MANIFEST, INCLUDED_TXT, HTML):
                shutil.copy2(p, d.path(rel))
        write_included(d.path(INCLUDED_TXT), feats, report_id=new, target=target,
                       note=note or f"edited from report {report_id}: {len(feats)} of {len(known)} features")
        d.manifest.metrics = {**m.metrics, "n_included": len(feats)}
        d.manifest.extra = {**m.extra, "whitelist_of": report_id}
        d.manifest.start, d.manifest.end = m.start, m.end
        view.meta, view.included = report_meta(d.manifest), feats
        d.path(HTML).write_text(build_html(view), encoding="utf-8")
    return new



def report_zip(ws: Workspace, report_id: str) -> bytes:
    """All files of a report (manifest included) as one zip, for the page's download button."""
    import io
    import zipfile

    folder = artifact_path(ws, report_id, "analysis")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, f"{report_id}/{p.relative_to(folder).as_posix()}")
    return buf.getvalue()


def featuresets(ws: Workspace) -> pd.DataFrame:
    """Feature sets a report can be made of: id, symbols, timeframe, created_at, targets (list), n_features."""
    df = _catalog(ws).query(kind="features", limit=None)
    cols = ["id", "symbols", "timeframe", "created_at", "targets", "n_features"]
    if not len(df):
        return pd.DataFrame(columns=cols)
    extra = [read_manifest(ws, i, "features").extra for i in df["id"]]
    df = df.assign(targets=[list(x.get("target_names", [])) for x in extra],
                   n_features=[len(x.get("feature_names", [])) for x in extra])
    return df.sort_values("created_at", ascending=False)[cols].reset_index(drop=True)
