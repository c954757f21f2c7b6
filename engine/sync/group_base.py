"""A Hub group as a strategy object.  :class:`Group` itself is the common case, an *artifact
group*: artifacts travel whole, with their ``manifest.json`` (lineage, params, metrics, file
checksums), under ``<prefix><artifact id>/``; a download is checked against each remote manifest
and every artifact is created atomically (all or nothing) through ``create_artifact``.

A group with another layout (ticks, klines, Stage 1 in the seed's ``v1_model/`` layout) or with
extra files (training) subclasses it and overrides only the steps that differ
(``engine/sync/group_kinds.py``); the planning and execution code (``hub_plan`` / ``hub_execute``)
calls these methods and never asks which group it has."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from config.errors import BadInput
from engine.progress import progress
from engine.sync.plan import DownloadPlanning, Item, Landing, Plan, same_content
from engine.sync.selection import LocalFile, Selection
from storage.manifest import MANIFEST, Manifest, sha256_file
from storage.workspace import Workspace

KEEP = (".gitattributes",)  # never deleted by delete-all (git configuration of the repo, e.g. LFS patterns)
_KLINE_RE = re.compile(r"^klines/([^/]+)/([^/_]+)_([0-9]+[mhdwM])\.parquet$")
_V1_RE = re.compile(r"^v1_model/([^/]+)/([0-9]+[mhdwM])/(.+)$")


def parse_kline_path(path: str) -> tuple[str, str] | None:
    m = _KLINE_RE.match(path)
    return (m.group(1), m.group(3)) if m else None


def parse_v1_path(path: str) -> tuple[str, str, str] | None:
    m = _V1_RE.match(path)
    return (m.group(1), m.group(2), m.group(3)) if m else None


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


def newest(manifests: list[Manifest]) -> list[Manifest]:
    return sorted(manifests, key=lambda m: (m.created_at, m.id), reverse=True)


@dataclass(frozen=True)
class Group:
    """An artifact group (and the interface every group implements)."""

    name: str
    prefix: str
    kinds: tuple[str, ...]
    title: str
    upload_message: str
    delete_message: str

    # what the page and the CLI offer for the group
    local_folder: ClassVar[bool] = False  # its files live in a plain local folder (--ticks-dir / --local-dir)
    optional_scalers: ClassVar[bool] = False  # --no-scalers applies
    # files live in <prefix><id>/ with a manifest: a file left from an earlier upload of an artifact being
    # uploaded is stale (removed), and downloads are checked against the remote manifests
    whole_artifacts: ClassVar[bool] = True

    # -- upload ---------------------------------------------------------------------------------
    def local_files(self, ws: Workspace, sel: Selection, staging: Path) -> list[LocalFile]:
        """What an upload of the group sends."""
        out: list[LocalFile] = []
        for m in sorted(self.chosen(ws, sel), key=lambda m: m.id):
            files = self.artifact_files(ws, m)
            out += files + self.extras(ws, m, {f.path for f in files}, sel)
        return out

    def chosen(self, ws: Workspace, sel: Selection) -> list[Manifest]:
        """The workspace's artifacts of the group's kinds that the selection wants (named ids must exist)."""
        from storage.artifacts import list_manifests

        chosen = [m for k in self.kinds for m in list_manifests(ws, k) if sel.wants(m.id, m.symbols, m.timeframe)]
        missing = sorted(set(sel.ids) - {m.id for m in chosen})
        if missing:
            raise BadInput(f"no {self.name} artifact with id {', '.join(missing)} in the workspace",
                           hint="see `python -m engine catalog query`")
        return chosen

    def artifact_files(self, ws: Workspace, m: Manifest) -> list[LocalFile]:
        d = verified_dir(ws, m)
        out = [LocalFile(f"{self.prefix}{m.id}/{f.path}", d / f.path, f.size, f.sha256, m.id) for f in m.files]
        mp = d / MANIFEST
        out.append(LocalFile(f"{self.prefix}{m.id}/{MANIFEST}", mp, mp.stat().st_size, sha256_file(mp), m.id))
        return out

    def extras(self, ws: Workspace, m: Manifest, taken: set[str], sel: Selection) -> list[LocalFile]:
        """Files sent with artifact ``m`` beyond its own (none here)."""
        return []

    def kept_note(self, path: str, sel: Selection) -> str:
        """Why a remote file is left alone by an upload or a delete whatever else applies ('' = no reason)."""
        return ""

    # -- delete ---------------------------------------------------------------------------------
    def selected(self, path: str, sel: Selection) -> bool:
        """Whether a remote file belongs to the selection (artifact folders are selected by id:
        symbols / timeframes would need every remote manifest)."""
        af = self.artifact_folder(path)
        return af is not None and (not sel.ids or af[0] in sel.ids)

    def artifact_folder(self, path: str) -> tuple[str, str] | None:
        """(artifact id, path inside the artifact) for a remote path of the group."""
        rest = path[len(self.prefix):] if path.startswith(self.prefix) else None
        if not rest or "/" not in rest:
            return None
        aid, inner = rest.split("/", 1)
        return aid, inner

    # -- download -------------------------------------------------------------------------------
    def plan_download(self, ctx: DownloadPlanning) -> None:
        manifests = self.remote_manifests(ctx)
        by_aid: dict[str, list[str]] = {}
        for path in sorted(ctx.remote):
            af = self.artifact_folder(path)
            if af is None or af[0] not in manifests:
                has_manifest = af is not None and f"{self.prefix}{af[0]}/{MANIFEST}" in ctx.remote
                ctx.add(path, "skipped", af[0] if af else None,
                        "its manifest.json is unusable (see notes)" if has_manifest else "not in a KlineLab artifact folder")
                continue
            by_aid.setdefault(af[0], []).append(path)
        for aid, paths in by_aid.items():
            if ctx.sel.wants(aid, manifests[aid].symbols, manifests[aid].timeframe):
                self._plan_artifact(ctx, manifests[aid], paths)

    def _plan_artifact(self, ctx: DownloadPlanning, m: Manifest, paths: list[str]) -> None:
        prefix = f"{self.prefix}{m.id}/"
        inner = {x[len(prefix):]: ctx.remote[x] for x in paths}
        missing = [f.path for f in m.files if f.path not in inner or inner[f.path]["size"] != f.size
                   or (inner[f.path]["lfs_sha256"] and inner[f.path]["lfs_sha256"] != f.sha256)]
        if missing:
            for x in paths:
                ctx.add(x, "skipped", m.id, f"incomplete on the Hub: {len(missing)} file(s) missing or different")
            return
        ctx.plan.manifests[m.id] = m
        d = ctx.ws.find_artifact_dir(m.id)
        local = Manifest.read(d) if d is not None else None
        exists = local is not None
        same = exists and local.kind == m.kind and \
            {(f.path, f.sha256) for f in m.files} <= {(f.path, f.sha256) for f in local.files}
        if same:
            d = ctx.ws.artifact_dir(local.kind, m.id)
            extras = [x for x in inner if x != MANIFEST and x not in {f.path for f in m.files}]
            same = all((d / x).is_file() and same_content(d / x, None, inner[x]) for x in extras)
        status, note = ctx.decide(bool(same), exists)
        if exists and local.kind != m.kind:
            status, note = "conflict", f"a local {local.kind} artifact has this id"
        for x in paths:
            ctx.add(x, status, m.id, note)

    def remote_manifests(self, ctx: DownloadPlanning) -> dict[str, Manifest]:
        """artifact id -> its manifest on the Hub (unreadable ones and those of another kind: a note, skipped)."""
        out = {}
        paths = sorted(x for x in ctx.remote if x.endswith("/" + MANIFEST) and self.artifact_folder(x)
                       and self.artifact_folder(x)[1] == MANIFEST)
        for i, path in enumerate(paths):
            progress(None, f"reading {path} ({i + 1}/{len(paths)})")
            local = ctx.fetch(path, ctx.staging / "manifests")
            aid = self.artifact_folder(path)[0]
            try:
                m = Manifest.from_dict(json.loads(local.read_text(encoding="utf-8")), source=f"{ctx.plan.repo_id}/{path}")
            except (BadInput, ValueError) as e:
                ctx.plan.notes.append(f"{aid}: unreadable manifest, skipped ({str(e)[:120]})")
                continue
            if m.id != aid or m.kind not in self.kinds:
                ctx.plan.notes.append(f"{aid}: the manifest describes {m.kind} {m.id}, not a {self.name} artifact of "
                                      "that folder; skipped")
                continue
            out[aid] = m
        return out

    def expected_sha256(self, plan: Plan, item: Item) -> str | None:
        """The sha256 a downloaded file must have, from its artifact's manifest (None: check against the Hub's)."""
        if not self.whole_artifacts or item.artifact_id not in plan.manifests:
            return None
        inner = item.path[len(f"{self.prefix}{item.artifact_id}/"):]
        return next((f.sha256 for f in plan.manifests[item.artifact_id].files if f.path == inner), None)

    def land(self, ctx: Landing) -> list[dict[str, Any]]:
        """Bring the downloaded files into the workspace.  Artifacts: all checked and staged first, then
        published in one step (all or nothing)."""
        from storage.artifacts import discard, publish

        staged: list = []
        try:
            created = self.stage(ctx, staged)
            publish(ctx.ws, staged)
            staged = []
        finally:
            discard(staged)
        return created

    def stage(self, ctx: Landing, staged: list) -> list[dict[str, Any]]:
        from engine.sync.adopt import adopt, check_files

        created = []
        for aid in dict.fromkeys(i.artifact_id for i in ctx.plan.actionable):
            prefix = f"{self.prefix}{aid}/"
            files = {x[len(prefix):]: src for x, src in ctx.got.items() if x.startswith(prefix)}
            remote = ctx.plan.manifests[aid]
            extras = sorted(x for x in files if x != MANIFEST and x not in {f.path for f in remote.files})
            m = Manifest.from_dict(remote.to_dict())
            check_files(m, files, ctx.plan.repo_id)
            created.append(adopt(ctx.ws, m, files, origin=ctx.origin, replace=ctx.replace, staged=staged,
                                 provenance=("hub", {**ctx.provenance, "extras": extras})))
        return created
