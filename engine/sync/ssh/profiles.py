"""SSH host profiles (host, port, user, key file, remote folder, KlineLab checkout and python on
the host) in ``<workspace>/ssh_hosts.json``; passwords are never stored (they come from the
page's session-only field or ``KLINELAB_SSH_PASSWORD`` for one run)."""
from __future__ import annotations

import getpass
import json
import posixpath
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from config.bounded import check_small_file, read_small_text, short_repr
from config.errors import BadInput, NotFound
from storage.manifest import write_json_atomic
from storage.workspace import Workspace


@dataclass
class HostProfile:
    name: str
    host: str
    port: int = 22
    user: str | None = None
    key_file: str | None = None
    remote_dir: str = "/storage/"  # the seed's default path on Paperspace
    project_dir: str | None = None  # a KlineLab checkout on the host (remote jobs)
    python: str = "python3"  # its python
    remote_home: str | None = None  # KLINELAB_HOME on the host (default <remote_dir>/klinelab-workspace)
    agent: bool = True
    look_for_keys: bool = True

    def __post_init__(self) -> None:
        import re

        if not self.host or not re.fullmatch(r"[A-Za-z0-9._:\[\]-]{1,253}", self.host):
            raise BadInput(f"invalid host {short_repr(self.host)}", hint="a host name or IP address")
        try:
            self.port = int(self.port)
        except (TypeError, ValueError):
            raise BadInput(f"invalid port {short_repr(self.port)}") from None
        if not 0 < self.port < 65536:
            raise BadInput(f"invalid port {self.port}")
        if not self.name or not re.fullmatch(r"[A-Za-z0-9._@:-]{1,100}", self.name):
            raise BadInput(f"invalid host profile name {short_repr(self.name)}", hint="letters, digits, '.', '_', '-'")
        self.user = self.user or getpass.getuser()

    @property
    def label(self) -> str:
        return f"{self.user}@{self.host}" + (f":{self.port}" if self.port != 22 else "")

    @property
    def known_hosts_name(self) -> str:
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    @property
    def home(self) -> str:
        return self.remote_home or posixpath.join(self.remote_dir, "klinelab-workspace")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def hosts_path(ws: Workspace) -> Path:
    return ws.ssh_hosts_path


def load_profiles(ws: Workspace) -> dict[str, HostProfile]:
    p = hosts_path(ws)
    if not p.is_file():
        return {}
    text = read_small_text(p, "SSH host profiles file", 1 << 20)
    try:
        data = json.loads(text)
        names = {f.name for f in fields(HostProfile)}
        return {k: HostProfile(**{kk: vv for kk, vv in v.items() if kk in names}) for k, v in data.get("hosts", {}).items()}
    except (ValueError, TypeError, AttributeError) as e:
        raise BadInput(f"{p} is damaged: {e}", hint="fix or delete the file; profiles can be added again") from None


def save_profile(ws: Workspace, profile: HostProfile) -> HostProfile:
    if profile.key_file:  # a profile that names a missing key would fail at every connection
        check_key_file(profile.key_file)
    profiles = load_profiles(ws)
    profiles[profile.name] = profile
    ws.root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(hosts_path(ws), {"hosts": {k: v.to_dict() for k, v in sorted(profiles.items())}})
    return profile


def remove_profile(ws: Workspace, name: str) -> None:
    profiles = load_profiles(ws)
    if name not in profiles:
        raise NotFound(f"no host profile named {name!r}", hint="see `python -m engine sync ssh hosts`")
    del profiles[name]
    write_json_atomic(hosts_path(ws), {"hosts": {k: v.to_dict() for k, v in sorted(profiles.items())}})


def resolve(ws: Workspace, host: str, **overrides: Any) -> HostProfile:
    """A saved profile by name (with overrides), or an ad-hoc profile for a host name."""
    if not host:
        raise BadInput("no host given", hint="--host NAME (a saved profile) or a host name")
    over = {k: v for k, v in overrides.items() if v is not None}
    profiles = load_profiles(ws)
    if host in profiles:
        d = profiles[host].to_dict()
        d.update(over)
        return HostProfile(**d)
    user = over.pop("user", None)
    if "@" in host and not user:
        user, host = host.split("@", 1)
    return HostProfile(name=host, host=host, user=user, **over)


KEY_FILE_LIMIT = 64 * 1024  # an OpenSSH private key is a few KB (RSA 16384: ~13 KB)


def check_key_file(path: str) -> Path:
    """A private key file that exists, is a regular file and is small (before paramiko reads it)."""
    return check_small_file(path, "key file", KEY_FILE_LIMIT)


def remote_path(profile: HostProfile, path: str | None) -> str:
    """An absolute path on the host: relative paths are under the profile's remote folder."""
    if not path:
        return profile.remote_dir
    return path if path.startswith("/") else posixpath.join(profile.remote_dir, path)
