"""SSH hosts (Paperspace or any machine with OpenSSH), through paramiko.

* Host profiles (host, port, user, key file, remote folder, KlineLab checkout and python on
  the host) live in ``<workspace>/ssh_hosts.json``; passwords are never stored (they come
  from the page's session-only field or ``KLINELAB_SSH_PASSWORD`` for one run).
* Host keys: ``<workspace>/known_hosts`` only.  An unknown key is refused with its SHA256
  fingerprint; it is trusted only by an explicit ``trust`` naming that fingerprint; a key that
  differs from the trusted one is refused (paramiko's BadHostKeyException).
* Auth by key file, SSH agent or password; connection errors explained (refused, timeout,
  unknown name, auth failed, host key unknown / changed, not an SSH server).
* SFTP upload / download through a ``.partial`` file that an interrupted transfer resumes
  (after checking the part already there against the source), verified by sha256 on both
  ends before the final rename; pipelined requests for speed.
"""
from __future__ import annotations

import base64
import getpass
import hashlib
import json
import logging
import os
import posixpath
import queue
import shlex
import socket
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from config import settings
from config.bounded import check_small_file, read_small_text, short_repr
from config.errors import BadInput, KlineLabError, NotFound, Refused, RemoteError
from storage.manifest import sha256_file, write_json_atomic
from storage.workspace import Workspace

# paramiko's transport thread logs every failed handshake (a port that is not SSH, a reset) with a
# traceback at ERROR; with no handler configured Python prints it on stderr, breaking the CLI's
# one-line error contract.  Every such failure is raised to the caller as a KlineLab error instead.
_PARAMIKO_LOG = logging.getLogger("paramiko")
_PARAMIKO_LOG.addHandler(logging.NullHandler())
_PARAMIKO_LOG.propagate = False

CHUNK = 1 << 20
# OpenSSH's sftp-server accepts messages up to 256 KiB (and answers reads that large since 8.3);
# the SFTP minimum every server takes is paramiko's 32 KiB.  Fewer, larger requests = less Python per MB.
BIG_REQUEST = 128 * 1024


def _big_requests(client, *, reads: bool = False) -> bool:
    import re

    m = re.search(r"OpenSSH_(\d+)\.(\d+)", client.get_transport().remote_version or "")
    return bool(m) and (not reads or (int(m.group(1)), int(m.group(2))) >= (8, 3))
Progress = Callable[[int, int], None]  # (bytes done, total)


# -- host profiles -----------------------------------------------------------------------------
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


# -- host keys ---------------------------------------------------------------------------------
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


KEY_FILE_LIMIT = 64 * 1024  # an OpenSSH private key is a few KB (RSA 16384: ~13 KB)
KNOWN_HOSTS_LIMIT = 4 << 20


def check_key_file(path: str) -> Path:
    """A private key file that exists, is a regular file and is small (before paramiko reads it)."""
    return check_small_file(path, "key file", KEY_FILE_LIMIT)


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


def _socket(profile: HostProfile, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((profile.host, profile.port), timeout=timeout)
    except socket.gaierror as e:
        raise RemoteError(f"{profile.label}: unknown host name {profile.host!r} ({e.strerror})",
                          hint="check the host name or IP address") from None
    except ConnectionRefusedError:
        raise RemoteError(f"{profile.label}: connection refused: nothing listens on port {profile.port}",
                          hint="is the machine running and its SSH server started? is the port right?") from None
    except TimeoutError:
        raise RemoteError(f"{profile.label}: no answer within {timeout:.0f} s (machine off, wrong address or a firewall)",
                          hint="check that the machine is running and reachable") from None
    except OSError as e:
        raise RemoteError(f"{profile.label}: cannot connect: {e.strerror or e}") from None
    sock.settimeout(None)
    return sock


def scan_host_key(profile: HostProfile, timeout: float = 15.0):
    """The key the host presents (no authentication)."""
    import paramiko

    t = paramiko.Transport(_socket(profile, timeout))
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


# -- connections -------------------------------------------------------------------------------
def _transport_factory(sock, **kw):
    import paramiko

    # bigger windows than paramiko's 2 MB default keep a fast link busy; AES-GCM (no separate MAC) first
    t = paramiko.Transport(sock, default_window_size=64 * 1024 * 1024, **kw)
    opts = t.get_security_options()
    gcm = [c for c in ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com") if c in opts.ciphers]
    opts.ciphers = tuple(gcm + [c for c in opts.ciphers if c not in gcm])
    return t


def connect(ws: Workspace, profile: HostProfile, *, password: str | None = None, timeout: float = 15.0):
    """An authenticated paramiko.SSHClient; every failure is a KlineLab error that says why."""
    import paramiko

    class RefuseUnknown(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client, hostname, key):
            raise UnknownHostKey(profile, key)

    password = password or settings.SSH_PASSWORD.get()
    pkey = None
    if profile.key_file:
        kp = check_key_file(profile.key_file)
        try:
            pkey = paramiko.PKey.from_path(str(kp), settings.SSH_KEY_PASSPHRASE.get())
        except paramiko.PasswordRequiredException:
            raise BadInput(f"key file {kp} is encrypted", hint="load it into ssh-agent, or set KLINELAB_SSH_KEY_PASSPHRASE") from None
        except (paramiko.SSHException, ValueError, OSError) as e:
            raise BadInput(f"key file {kp} cannot be read: {e}") from None
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(RefuseUnknown())
    hk = _known_hosts(ws)
    for name in hk:
        for ktype, key in hk[name].items():
            client.get_host_keys().add(name, ktype, key)
    sock = _socket(profile, timeout)
    try:
        client.connect(profile.host, profile.port, username=profile.user, pkey=pkey, password=password, sock=sock,
                       allow_agent=profile.agent, look_for_keys=profile.look_for_keys and pkey is None, timeout=timeout,
                       banner_timeout=timeout, auth_timeout=timeout, transport_factory=_transport_factory)
    except KlineLabError:
        client.close()
        raise
    except paramiko.BadHostKeyException as e:
        client.close()
        raise HostKeyChanged(
            f"{profile.label}: the host key CHANGED: it now presents {fingerprint(e.key)}, the trusted key is "
            f"{fingerprint(e.expected_key)}. Refused: this is what a man-in-the-middle attack looks like (or the "
            f"server was reinstalled)",
            hint=f"only if you know why it changed: `python -m engine sync ssh forget --host {profile.name}` and trust "
                 "the new key") from None
    except paramiko.AuthenticationException as e:
        client.close()
        how = ", ".join(x for x in (f"key file {profile.key_file}" if profile.key_file else "",
                                    "SSH agent" if profile.agent else "", "password" if password else "",
                                    "default keys (~/.ssh)" if profile.look_for_keys and pkey is None else "") if x)
        raise Refused(f"{profile.label}: authentication failed (tried: {how or 'nothing'}): {e}",
                      hint="check the user name, that the public key is in the host's authorized_keys, or the password") from None
    except (paramiko.SSHException, EOFError) as e:
        client.close()
        raise RemoteError(f"{profile.label}: SSH handshake failed: {e}",
                          hint="is it an SSH server, and is the port right?") from None
    except TimeoutError:
        client.close()
        raise RemoteError(f"{profile.label}: timed out during the SSH handshake") from None
    except OSError as e:
        client.close()
        raise RemoteError(f"{profile.label}: connection lost: {e}") from None
    return client


def run_command(client, command: str, *, timeout: float | None = 600, check: bool = True) -> tuple[int, str, str]:
    """Run a shell command on the host; (exit status, stdout, stderr)."""
    chan = client.get_transport().open_session()
    chan.settimeout(timeout)
    try:
        chan.exec_command(command)
        out, err = bytearray(), bytearray()
        while True:
            if chan.recv_ready():
                out += chan.recv(65536)
            if chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                break
            time.sleep(0.01)
        rc = chan.recv_exit_status()
    except TimeoutError:
        raise RemoteError(f"remote command timed out after {timeout} s: {command[:120]}") from None
    finally:
        chan.close()
    o, e = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    if check and rc != 0:
        raise RemoteError(f"remote command failed (exit {rc}): {command[:160]}: {e.strip()[-400:] or o.strip()[-400:]}")
    return rc, o, e


def remote_sha256(client, path: str, length: int | None = None) -> str:
    """sha256 of a remote file (or of its first ``length`` bytes), computed on the host."""
    q = shlex.quote(path)
    n = int(length) if length is not None else -1
    py = ("import hashlib,sys;h=hashlib.sha256();f=open(sys.argv[1],'rb');n=int(sys.argv[2]);r=0\n"
          "while n<0 or r<n:\n b=f.read(1<<20 if n<0 else min(1<<20,n-r))\n if not b: break\n h.update(b);r+=len(b)\n"
          "print(h.hexdigest())")
    first = f"sha256sum -- {q}" if n < 0 else f"head -c {n} -- {q} | sha256sum"
    cmd = f"{first} 2>/dev/null || python3 -c {shlex.quote(py)} {q} {n}"
    rc, out, err = run_command(client, cmd, check=False)
    digest = out.split()[0] if out.split() else ""
    if rc != 0 or len(digest) != 64:
        raise RemoteError(f"cannot compute the sha256 of {path} on the host: {err.strip()[-200:] or 'no sha256sum / python3'}")
    return digest


class _FollowingHash:
    """sha256 of a remote file computed on the host WHILE it is being written (the host reads
    it from its page cache as it grows), so that verifying an upload costs no extra pass."""

    SCRIPT = ("import hashlib,sys,time\np,n=sys.argv[1],int(sys.argv[2]);h=hashlib.sha256();r=0;idle=0\n"
              "f=open(p,'rb')\nwhile r<n:\n b=f.read(min(1<<20,n-r))\n if b:\n  h.update(b);r+=len(b);idle=0\n"
              " else:\n  idle+=1\n  if idle>1200: sys.exit(3)\n  time.sleep(0.05)\nprint(h.hexdigest())")

    def __init__(self, client, path: str, size: int):
        self.chan = client.get_transport().open_session()
        self.chan.exec_command(f"python3 -c {shlex.quote(self.SCRIPT)} {shlex.quote(path)} {int(size)}")

    def result(self, timeout: float = 600) -> str | None:
        self.chan.settimeout(timeout)
        out = bytearray()
        try:
            while True:
                b = self.chan.recv(4096)
                if not b:
                    break
                out += b
            ok = self.chan.recv_exit_status() == 0
        except TimeoutError:
            return None
        digest = out.decode("ascii", "replace").strip()
        return digest if ok and len(digest) == 64 else None

    def close(self) -> None:
        self.chan.close()


def _local_prefix_sha(path: Path, length: int, h=None) -> str:
    """sha256 of the first ``length`` bytes (``h``: a hash object to feed, kept for continuing)."""
    h = h if h is not None else hashlib.sha256()
    with open(path, "rb") as f:
        left = length
        while left > 0:
            b = f.read(min(CHUNK, left))
            if not b:
                break
            h.update(b)
            left -= len(b)
    return h.hexdigest()


def sftp_makedirs(sftp, path: str) -> None:
    parts = []
    p = path.rstrip("/")
    while p and p not in ("/", "."):
        try:
            if stat.S_ISDIR(sftp.stat(p).st_mode):
                break
            raise RemoteError(f"{p} exists on the host and is not a folder")
        except FileNotFoundError:
            parts.append(p)
            p = posixpath.dirname(p)
    for d in reversed(parts):
        sftp.mkdir(d)


@dataclass
class Transfer:
    path: str
    bytes: int
    sent: int
    resumed_from: int
    sha256: str
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mb_per_s"] = round(self.sent / 1e6 / self.seconds, 1) if self.seconds > 0 else None
        return d


def upload(client, local: Path, remote: str, *, progress: Progress | None = None, local_sha: str | None = None) -> Transfer:
    """Upload through ``remote + '.partial'`` (resumed when a checked part is there), verify, rename."""
    local = Path(local)
    if not local.is_file():
        raise NotFound(f"no such file: {local}")
    size = local.stat().st_size
    sha = local_sha or sha256_file(local)
    sftp = client.open_sftp()
    t0 = time.monotonic()
    notes: list[str] = []
    try:
        sftp_makedirs(sftp, posixpath.dirname(remote))
        partial = remote + ".partial"
        try:
            if sftp.stat(remote).st_size == size and remote_sha256(client, remote) == sha:
                return Transfer(remote, size, 0, size, sha, 0.0, ["already on the host, identical"])
        except FileNotFoundError:
            pass
        offset = 0
        try:
            offset = sftp.stat(partial).st_size
        except FileNotFoundError:
            pass
        if offset > size or (offset and remote_sha256(client, partial, offset) != _local_prefix_sha(local, offset)):
            notes.append(f"the partial copy on the host ({offset} bytes) does not match: starting again")
            offset = 0
        elif offset:
            notes.append(f"resuming after {offset} bytes")
        hasher = None
        try:
            with sftp.open(partial, "r+b" if offset else "wb") as f, open(local, "rb") as src:
                f.set_pipelined(True)
                if _big_requests(client):
                    f.MAX_REQUEST_SIZE = BIG_REQUEST
                hasher = _FollowingHash(client, partial, size)
                f.seek(offset)
                src.seek(offset)
                done = offset
                while True:
                    b = src.read(CHUNK)
                    if not b:
                        break
                    f.write(b)
                    done += len(b)
                    if progress:
                        progress(done, size)
            got = hasher.result()
            if got != sha:  # no python3 there, or writes landed out of order: hash the finished file
                got = remote_sha256(client, partial)
        finally:
            if hasher is not None:
                hasher.close()
        if got != sha:
            sftp.remove(partial)
            raise RemoteError(f"{remote}: checksum mismatch after upload (host {got[:12]}, local {sha[:12]}); the partial "
                              "copy was removed", hint="upload again")
        try:
            sftp.posix_rename(partial, remote)
        except OSError:
            sftp.rename(partial, remote)
        return Transfer(remote, size, size - offset, offset, sha, time.monotonic() - t0, notes)
    finally:
        sftp.close()


def _stream_download(client, remote: str, offset: int, size: int, sink) -> bool:
    """Bytes ``offset..size`` of a remote file through an exec channel (``tail -c +N``): about
    twice the throughput of paramiko's SFTP reads, whose per-request bookkeeping is Python.
    Returns False (nothing delivered) when the host runs no commands, so SFTP takes over."""
    chan = client.get_transport().open_session(window_size=64 * 1024 * 1024, max_packet_size=32768)
    try:
        chan.exec_command(f"tail -c +{int(offset) + 1} -- {shlex.quote(remote)}")
        done = offset
        while True:
            b = chan.recv(CHUNK)
            if not b:
                break
            done += len(b)
            if done > size:
                raise RemoteError(f"{remote} grew while it was being downloaded")
            sink(b, done)
        rc = chan.recv_exit_status()
    finally:
        chan.close()
    if done == offset and rc != 0:
        return False
    if rc != 0 or done != size:
        raise RemoteError(f"{remote}: the host sent {done - offset} of {size - offset} bytes (exit {rc})",
                          hint="download again: it resumes")
    return True


def download(client, remote: str, local: Path, *, progress: Progress | None = None, expected_sha: str | None = None) -> Transfer:
    """Download into ``local + '.partial'`` (resumed when a checked part is there), verify, rename."""
    local = Path(local)
    local.parent.mkdir(parents=True, exist_ok=True)
    sftp = client.open_sftp()
    t0 = time.monotonic()
    notes: list[str] = []
    try:
        try:
            size = sftp.stat(remote).st_size
        except FileNotFoundError:
            raise NotFound(f"no file {remote} on the host", hint="see `python -m engine sync ssh list`") from None
        partial = local.with_name(local.name + ".partial")
        offset = partial.stat().st_size if partial.is_file() else 0
        h = hashlib.sha256()  # hashed while it arrives: no second pass over the file
        if offset > size or (offset and remote_sha256(client, remote, offset) != _local_prefix_sha(partial, offset, h)):
            notes.append(f"the partial local copy ({offset} bytes) does not match: starting again")
            offset = 0
            h = hashlib.sha256()
        elif offset:
            notes.append(f"resuming after {offset} bytes")
        # the host hashes its copy while we transfer (a second SSH channel), and our own hashing
        # runs in a thread (hashlib releases the GIL), so verifying adds almost no time
        remote_hash = None if expected_sha else _FollowingHash(client, remote, size)
        chunks: queue.Queue = queue.Queue(maxsize=64)

        def hash_worker() -> None:
            while (b := chunks.get()) is not None:
                h.update(b)

        hasher = threading.Thread(target=hash_worker, daemon=True)
        hasher.start()
        try:
            with open(partial, "r+b" if offset else "wb") as out:
                out.seek(offset)
                out.truncate()

                def sink(b: bytes, done: int) -> None:
                    out.write(b)
                    chunks.put(b)
                    if progress:
                        progress(done, size)

                if not _stream_download(client, remote, offset, size, sink):
                    with sftp.open(remote, "rb") as f:  # hosts that allow SFTP only
                        if _big_requests(client, reads=True):
                            f.MAX_REQUEST_SIZE = BIG_REQUEST
                        f.seek(offset)
                        f.prefetch(size, max_concurrent_requests=64)
                        done = offset
                        while done < size:
                            b = f.read(CHUNK)
                            if not b:
                                break
                            done += len(b)
                            sink(b, done)
        finally:
            chunks.put(None)
            hasher.join()
        sha = h.hexdigest()
        want = expected_sha
        if want is None:
            want = remote_hash.result() or remote_sha256(client, remote)
            remote_hash.close()
        if sha != want:
            partial.unlink()
            raise RemoteError(f"{remote}: checksum mismatch after download (local {sha[:12]}, expected {want[:12]}); "
                              "the partial copy was removed", hint="download again")
        os.replace(partial, local)
        return Transfer(remote, size, size - offset, offset, sha, time.monotonic() - t0, notes)
    finally:
        sftp.close()


def listdir(client, path: str) -> list[dict[str, Any]]:
    sftp = client.open_sftp()
    try:
        try:
            entries = sftp.listdir_attr(path)
        except FileNotFoundError:
            raise NotFound(f"no folder {path} on the host") from None
        except PermissionError:
            raise Refused(f"no permission to list {path} on the host") from None
        return sorted(({"name": e.filename, "size": e.st_size, "dir": stat.S_ISDIR(e.st_mode or 0),
                        "modified": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.st_mtime or 0))}
                       for e in entries), key=lambda d: (not d["dir"], d["name"]))
    finally:
        sftp.close()


def remote_path(profile: HostProfile, path: str | None) -> str:
    """An absolute path on the host: relative paths are under the profile's remote folder."""
    if not path:
        return profile.remote_dir
    return path if path.startswith("/") else posixpath.join(profile.remote_dir, path)
