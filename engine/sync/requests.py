"""Typed ``sync`` requests: what ``python -m engine sync hub ...`` / ``sync ssh ...`` parse and what the Cloud
Sync page builds (engine/requests.py; field names are the argparse ``dest`` names of engine/sync/hub_cli.py
and engine/sync/ssh_cli.py).  Secrets never are fields: the Hub token and the SSH password reach a job
through its environment only."""
from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from engine.requests import CliRequest


# -- the Hugging Face Hub ----------------------------------------------------------------------------
class _Hub(CliRequest):
    repo_id: str = Field(..., min_length=1, description="owner/name")
    repo_type: Literal["dataset", "model"] = "dataset"
    revision: str = "main"
    endpoint: str | None = None
    token_file: str | None = None


class HubTestRequest(_Hub):
    """``sync hub test --repo-id R``: token, repository, what each group holds."""

    command: ClassVar[tuple[str, ...]] = ("sync", "hub", "test")


class _HubPlan(_Hub):
    dry_run: bool = False
    commit_message: str | None = None


class _HubGroup(_HubPlan):
    group: str = Field(..., min_length=1)
    ids: list[str] = Field(default_factory=list)
    symbols: list[str] = Field(default_factory=list)
    timeframes: list[str] = Field(default_factory=list)
    no_scalers: bool = False
    ticks_dir: str | None = None


class HubUploadRequest(_HubGroup):
    """``sync hub upload --repo-id R --group G [selection] [--prune] [--private] [--dry-run]``."""

    command: ClassVar[tuple[str, ...]] = ("sync", "hub", "upload")
    prune: bool = False
    private: bool = False


class HubDownloadRequest(_HubGroup):
    """``sync hub download --repo-id R --group G [selection] [--replace] [--dry-run]``."""

    command: ClassVar[tuple[str, ...]] = ("sync", "hub", "download")
    local_dir: str | None = None
    replace: bool = False


class HubDeleteRequest(_HubGroup):
    """``sync hub delete --repo-id R --group G [selection] [--dry-run]``."""

    command: ClassVar[tuple[str, ...]] = ("sync", "hub", "delete")


class HubDeleteAllRequest(_HubPlan):
    """``sync hub delete-all --repo-id R [--dry-run | --confirm R]``."""

    command: ClassVar[tuple[str, ...]] = ("sync", "hub", "delete-all")
    confirm: str | None = None


HUB_OPS: dict[str, type[_HubPlan]] = {"upload": HubUploadRequest, "download": HubDownloadRequest,
                                      "delete": HubDeleteRequest, "delete-all": HubDeleteAllRequest}


# -- SSH hosts --------------------------------------------------------------------------------------
class _Conn(CliRequest):
    host: str = Field(..., min_length=1, description="a saved host profile, or user@host")
    port: int | None = Field(None, ge=1, le=65_535)
    user: str | None = None
    key_file: str | None = None


class SshTestRequest(_Conn):
    """``sync ssh test --host H``: host key, login, remote folder, KlineLab on the host."""

    command: ClassVar[tuple[str, ...]] = ("sync", "ssh", "test")


class SshTrustRequest(_Conn):
    """``sync ssh trust --host H --fingerprint SHA256:...``."""

    command: ClassVar[tuple[str, ...]] = ("sync", "ssh", "trust")
    fingerprint: str = Field(...)  # the format (and an empty value) is checked by the trust step: "invalid fingerprint"


class SshListRequest(_Conn):
    """``sync ssh list --host H [--path DIR]``."""

    command: ClassVar[tuple[str, ...]] = ("sync", "ssh", "list")
    path: str | None = None


class SshDownloadRequest(_Conn):
    """``sync ssh download --host H --path FILE ...``: fetch, unpack safely, index."""

    command: ClassVar[tuple[str, ...]] = ("sync", "ssh", "download")
    path: str | None = None
    local_path: str | None = None
    no_import: bool = False
    replace: bool = False
    sha256: str | None = None


class _ArchiveOpts(CliRequest):
    ids: list[str] = Field(default_factory=list)
    include_ticks: bool = False
    no_ask_ticks: bool = False
    include_cache: bool = False
    compression: int = Field(1, ge=0, le=9, description="gzip level")

    def archive_args(self) -> dict:
        return {"ids": self.ids or None, "include_ticks": self.include_ticks, "include_cache": self.include_cache,
                "compresslevel": self.compression}


class SshUploadRequest(_Conn, _ArchiveOpts):
    """``sync ssh upload --host H [--archive ID | --file F] [--path DEST]`` (default: a new training archive)."""

    command: ClassVar[tuple[str, ...]] = ("sync", "ssh", "upload")
    path: str | None = None
    archive: str | None = None
    file: str | None = None


class ArchiveTrainingRequest(_ArchiveOpts):
    """``sync ssh archive-training [--ids ...] [--include-ticks] [--include-cache]``."""

    command: ClassVar[tuple[str, ...]] = ("sync", "ssh", "archive-training")
    output: str | None = None


class ArchiveResultsRequest(CliRequest):
    """``sync ssh archive-results [--ids ...] [--kinds ...]``."""

    command: ClassVar[tuple[str, ...]] = ("sync", "ssh", "archive-results")
    ids: list[str] = Field(default_factory=list)
    kinds: list[str] = Field(default_factory=list)
    output: str | None = None
    compression: int = Field(1, ge=0, le=9, description="gzip level")
