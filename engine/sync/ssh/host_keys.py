"""Host keys: ``<workspace>/known_hosts`` only.  An unknown key is refused with its SHA256
fingerprint; it is trusted only by an explicit ``trust`` naming that fingerprint; a key that
differs from the trusted one is refused (paramiko's BadHostKeyException, in ``connection``)."""
from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

from config.bounded import read_small_text, short_repr
from config.errors import BadInput, NotFound, Refused, RemoteError
from engine.sync.ssh.profiles import HostProfile
from engine.sync.ssh.tcp import open_socket
from storage.workspace import Workspace


def fingerprint(key) -> str:
    """OpenSSH's form: ``SHA256:<base64 without padding>``."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


class UnknownHostKey(Refused):
    def __init__(self, profile: HostProfile, key):
        self.fingerprint = fingerprint(key)
        self.key_type = key.get_name()
        super().__init__(f"{profile.label}: unknown host key ({self.key_type} {self.fingerprint}); it is not trusted yet",
                         hint=f"check the fingerprint with the host's owner, then trust it: `python -m engine sync ssh "
                              f"trust --host {profile.name} --fingerprint {self.fingerprint}`")


class HostKeyChanged(Refused):
    pass


KNOWN_HOSTS_LIMIT = 4 << 20


def _known_hosts(ws: Workspace):
    import paramiko

    hk = paramiko.HostKeys()
    p = ws.known_hosts_path
    if p.exists() or p.is_symlink():
        # bounded, regular-file, UTF-8 read first: paramiko's own reader has no limit and raises
        # UnicodeDecodeError (a traceback) on a non-UTF-8 file
        read_small_text(p, "known_hosts file", KNOWN_HOSTS_LIMIT)
        try:
            hk.load(str(p))
        except (OSError, ValueError, paramiko.SSHException) as e:
            raise BadInput(f"{p} cannot be read: {short_repr(str(e))}",
                           hint="fix or delete the file; trust the hosts again") from None
    return hk


def scan_host_key(profile: HostProfile, timeout: float = 15.0):
    """The key the host presents (no authentication)."""
    import paramiko

    t = paramiko.Transport(open_socket(profile, timeout))
    try:
        t.start_client(timeout=timeout)
        return t.get_remote_server_key()
    except paramiko.SSHException as e:
        raise RemoteError(f"{profile.label}: does not speak SSH ({e})", hint="is the port right?") from None
    finally:
        t.close()


def host_key_status(ws: Workspace, profile: HostProfile, timeout: float = 15.0) -> dict[str, Any]:
    key = scan_host_key(profile, timeout)
    known = _known_hosts(ws).lookup(profile.known_hosts_name) or {}
    trusted = known.get(key.get_name())
    status = "trusted" if trusted is not None and trusted == key else ("changed" if known else "unknown")
    return {"host": profile.label, "key_type": key.get_name(), "fingerprint": fingerprint(key), "status": status,
            "trusted_fingerprints": [fingerprint(k) for k in known.values()]}


def check_fingerprint(text: str) -> str:
    """``SHA256:<43 base64 characters>`` (the padding and the prefix may be left out); else BadInput."""
    import re

    want = (text or "").strip()
    if not want.startswith("SHA256:"):
        if re.match(r"^[A-Za-z0-9]+:", want):
            raise BadInput(f"unsupported fingerprint {short_repr(want)}: only SHA256 fingerprints are accepted",
                           hint="copy the SHA256:... fingerprint shown by `sync ssh test`")
        want = "SHA256:" + want
    want = want.rstrip("=")
    if not re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}", want):
        raise BadInput(f"invalid fingerprint {short_repr(text)}",
                       hint="SHA256: followed by 43 base64 characters, as shown by `sync ssh test`")
    return want


def trust(ws: Workspace, profile: HostProfile, expected_fingerprint: str, timeout: float = 15.0) -> dict[str, Any]:
    """Add the host's key to the workspace's known_hosts, if it has the fingerprint the user checked."""
    want = check_fingerprint(expected_fingerprint)
    key = scan_host_key(profile, timeout)
    fp = fingerprint(key)
    if fp != want:
        raise Refused(f"{profile.label} presents {key.get_name()} {fp}, not the {want} you accepted; nothing trusted",
                      hint="check the fingerprint again with the host's owner")
    hk = _known_hosts(ws)
    known = hk.lookup(profile.known_hosts_name) or {}
    if known and any(k != key for k in known.values()):
        raise HostKeyChanged(f"{profile.label} has another trusted key already; forget it first if the host was reinstalled",
                             hint=f"`python -m engine sync ssh forget --host {profile.name}` (only if you know why it changed)")
    hk.add(profile.known_hosts_name, key.get_name(), key)
    ws.root.mkdir(parents=True, exist_ok=True)
    tmp = ws.known_hosts_path.with_name(".known_hosts.tmp")
    hk.save(str(tmp))
    os.replace(tmp, ws.known_hosts_path)
    return {"host": profile.label, "key_type": key.get_name(), "fingerprint": fp, "status": "trusted"}


def forget(ws: Workspace, profile: HostProfile) -> dict[str, Any]:
    hk = _known_hosts(ws)
    if profile.known_hosts_name not in hk:
        raise NotFound(f"no trusted key for {profile.label}")
    del hk[profile.known_hosts_name]
    tmp = ws.known_hosts_path.with_name(".known_hosts.tmp")
    hk.save(str(tmp))
    os.replace(tmp, ws.known_hosts_path)
    return {"host": profile.label, "status": "forgotten"}
