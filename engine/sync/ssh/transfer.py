"""SFTP upload / download through a ``.partial`` file that an interrupted transfer resumes
(after checking the part already there against the source), verified by sha256 on both ends
before the final rename; pipelined requests for speed; remote folder listings."""
from __future__ import annotations

import hashlib
import os
import posixpath
import queue
import shlex
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from config.errors import NotFound, Refused, RemoteError
from engine.sync.ssh.connection import remote_sha256
from storage.manifest import sha256_file

CHUNK = 1 << 20
# OpenSSH's sftp-server accepts messages up to 256 KiB (and answers reads that large since 8.3);
# the SFTP minimum every server takes is paramiko's 32 KiB.  Fewer, larger requests = less Python per MB.
BIG_REQUEST = 128 * 1024


def _big_requests(client, *, reads: bool = False) -> bool:
    import re

    m = re.search(r"OpenSSH_(\d+)\.(\d+)", client.get_transport().remote_version or "")
    return bool(m) and (not reads or (int(m.group(1)), int(m.group(2))) >= (8, 3))
Progress = Callable[[int, int], None]  # (bytes done, total)


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
