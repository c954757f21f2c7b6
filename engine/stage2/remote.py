"""One Stage 2 batch pair as an executor task (local process or Ray worker).

Decision: the task never writes the driver's workspace.  It computes in a scratch workspace of
its own (under the worker's temp dir) whose inputs - the pair's feature set and Stage 1 - are
links to the driver's artifact folders when the worker sees them (same path, same manifest
hash: a local process, a Ray worker on this machine or on a shared filesystem), or unpacked
from archives the driver put into the cluster's object store (a Paperspace GPU box as a Ray
worker does not share the laptop's disk).  The artifacts it makes there go back to the driver
as archives (data), and the driver adopts them through ``create_artifact`` (engine/sync/adopt.py:
checked against their manifests, same id / lineage / params / metrics, committed atomically and
indexed).  So the workspace has one writer, a worker that dies mid-way leaves nothing in it,
and the same code serves shared and unshared disks.
"""
from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from config.errors import BadInput, NotFound
from storage.manifest import MANIFEST, Manifest
from storage.workspace import Workspace

MAX_ARCHIVE_BYTES = 2 << 30  # an artifact coming back larger than this is refused, not unpacked


def manifest_sha(d: Path) -> str:
    return hashlib.sha256((d / MANIFEST).read_bytes()).hexdigest()


def pack_dir(d: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for p in sorted(d.rglob("*")):
            if p.is_file() and not p.is_symlink():
                tar.add(p, arcname=p.relative_to(d).as_posix(), recursive=False)
    return buf.getvalue()


def unpack(data: bytes, dest: Path) -> Path:
    if len(data) > MAX_ARCHIVE_BYTES:
        raise BadInput(f"an artifact archive of {len(data)} bytes is over the {MAX_ARCHIVE_BYTES} byte limit")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        total = sum(m.size for m in tar.getmembers())
        if total > 4 * MAX_ARCHIVE_BYTES:
            raise BadInput(f"an artifact archive would unpack to {total} bytes")
        tar.extractall(dest, filter="data")  # the 'data' filter refuses links, absolute and '..' paths
    return dest


def input_spec(ws: Workspace, kind: str, artifact_id: str, executor) -> dict[str, Any]:
    """What a task needs to find input ``artifact_id``: its driver path and manifest hash, plus
    (when the executor may run on other machines) a handle to its archive in the object store."""
    d = ws.artifact_dir(kind, artifact_id)
    if not (d / MANIFEST).is_file():
        raise NotFound(f"no {kind} artifact {artifact_id}")
    return {"kind": kind, "id": artifact_id, "path": None if executor.shared_disk is False else str(d), "sha": manifest_sha(d),
            "archive": executor.put(pack_dir(d)) if executor.ships_inputs and executor.shared_disk is not True else None}


def _place_inputs(scratch: Workspace, inputs: list[dict[str, Any]]) -> str:
    """Put the inputs into the scratch workspace; 'linked', 'shipped' or 'mixed' (how they came)."""
    from engine.executor import fetch

    how = set()
    for spec in inputs:
        dest = scratch.artifact_dir(spec["kind"], spec["id"])
        dest.parent.mkdir(parents=True, exist_ok=True)
        src = Path(spec["path"]) if spec["path"] else None
        if src is not None and (src / MANIFEST).is_file() and manifest_sha(src) == spec["sha"]:
            dest.symlink_to(src, target_is_directory=True)  # this worker sees the driver's disk
            how.add("linked")
        elif spec.get("archive") is not None:
            how.add("shipped")
            unpack(fetch(spec["archive"]), dest)
            if manifest_sha(dest) != spec["sha"] or Manifest.read(dest).verify_files(dest):
                raise BadInput(f"input {spec['id']} arrived damaged on this worker")
        else:
            raise NotFound(f"this worker does not see {src or spec['id']} and the input was not shipped",
                           hint="use --executor ray (it ships inputs) or a filesystem shared by the workers")
    return how.pop() if len(how) == 1 else "mixed"


def pair_task(payload: dict[str, Any], run_pair: Callable[..., Any]) -> dict[str, Any]:
    """Run one pair in a scratch workspace with ``run_pair`` (``engine.stage2.batch._run_pair``, handed in by
    the batch so this module does not import it back); return its record fields and its new artifacts as
    archives."""
    t0 = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="klinelab-task-"))
    try:
        scratch = Workspace.open(tmp / "workspace").ensure()
        rec = dict(payload["rec"])
        rec["inputs_via"] = _place_inputs(scratch, payload["inputs"])
        run_pair(scratch, rec, payload["opts"])
        given = {(s["kind"], s["id"]) for s in payload["inputs"]}
        made = []
        for kind in ("stage1", "stage2"):  # parents first: the driver adopts in this order
            kd = scratch.kind_dir(kind)
            for d in sorted(kd.iterdir()) if kd.is_dir() else []:
                if (kind, d.name) in given or d.is_symlink():
                    continue
                _relocate(d, str(scratch.root), payload["ws_root"])
                made.append({"kind": kind, "id": d.name, "archive": pack_dir(d)})
        rec["seconds"] = round(time.monotonic() - t0, 1)
        return {"rec": rec, "artifacts": made}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _relocate(d: Path, scratch_root: str, ws_root: str) -> None:
    """Reports name the folder an artifact was written to: name the driver's, where it will live,
    and hash the files again (the manifest must match what the driver checks)."""
    changed = False
    for p in d.glob("*.txt"):
        text = p.read_text(encoding="utf-8")
        if scratch_root in text:
            p.write_text(text.replace(scratch_root, ws_root), encoding="utf-8")
            changed = True
    if changed:
        m = Manifest.read(d)
        m.hash_files(d)
        m.write(d)


def adopt_outputs(ws: Workspace, artifacts: list[dict[str, Any]], *, where: str | None) -> list[str]:
    """Driver side: bring a task's artifacts into the workspace (atomically, indexed); their ids."""
    from engine.sync.adopt import adopt

    ids = []
    for a in artifacts:
        stage = ws.staging_dir(f"adopt-{a['id']}")
        try:
            unpack(a["archive"], stage)
            m = Manifest.read(stage, check_folder=False)  # a staging folder: id and kind are checked just below
            if m.id != a["id"] or m.kind != a["kind"]:
                raise BadInput(f"a task returned {a['kind']} {a['id']} whose manifest says {m.kind} {m.id}")
            problems = m.verify_files(stage)
            if problems:
                raise BadInput(f"artifact {m.id} came back damaged: {'; '.join(problems[:3])}")
            files = {f.path: stage / f.path for f in m.files}
            adopt(ws, m, files, origin=m.origin, provenance=("executed_on", {"worker": where or "?"}))
            ids.append(m.id)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return ids
