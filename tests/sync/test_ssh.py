"""SSH / SFTP against a real OpenSSH server on loopback: host keys (unknown refused until
trusted by fingerprint, changed refused), auth (key file, agent, password) and explained
errors, archive -> upload -> download -> safe extraction -> identical files, transfers cut
off mid-way that resume and verify, and archives with traversal / outside links refused."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli, snapshot
from tests.fixtures.sshd import sshd  # noqa: F401 - fixture


@pytest.fixture
def host(sshd, ws, tmp_path):
    """A saved host profile 'loop' for the loopback server (its key not trusted yet)."""
    from engine.sync.ssh import HostProfile, save_profile

    remote = tmp_path / "remote"
    remote.mkdir()
    return save_profile(ws, HostProfile(name="loop", host=sshd.host, port=sshd.port, user=sshd.user,
                                        key_file=str(sshd.client_key), remote_dir=str(remote) + "/", project_dir=str(ROOT),
                                        python=sys.executable, remote_home=str(tmp_path / "remote-ws"), agent=False,
                                        look_for_keys=False))


@pytest.fixture
def trusted(host, sshd, ws):
    from engine.sync.ssh import trust

    trust(ws, host, sshd.host_key_fingerprint())
    return host


def test_unknown_host_key_is_refused_until_trusted_and_a_changed_key_is_refused(host, sshd, ws):
    from config.errors import Refused
    from engine.sync import ssh, ssh_ops

    r = run_cli("sync", "ssh", "list", "--host", "loop")
    assert r.returncode == 2
    fp = sshd.host_key_fingerprint()  # computed by ssh-keygen, independently of our code
    assert "unknown host key" in r.stderr and fp in r.stderr and r.stderr.count("error:") == 1
    assert not ws.known_hosts_path.exists()
    doc = ssh_ops.test(ws, host)
    assert doc["ok"] is False and doc["host_key"] == {"host": host.label, "key_type": "ssh-ed25519", "fingerprint": fp,
                                                      "status": "unknown", "trusted_fingerprints": []}
    assert fp in doc["_text"] and "trust" in doc["_text"]
    r = run_cli("sync", "ssh", "trust", "--host", "loop", "--fingerprint", "SHA256:" + "A" * 43)
    assert r.returncode == 2 and "not the SHA256:AAAA" in r.stderr and not ws.known_hosts_path.exists()
    ssh.trust(ws, host, fp)
    assert f"[{sshd.host}]:{sshd.port} ssh-ed25519" in ws.known_hosts_path.read_text()
    doc = ssh_ops.test(ws, host)
    assert doc["ok"] is True and doc["host_key"]["status"] == "trusted" and doc["klinelab"]
    # the server gets another key: refused, and it cannot simply be trusted over the old one
    sshd.rotate_host_key()
    r = run_cli("sync", "ssh", "list", "--host", "loop")
    assert r.returncode == 2 and "host key CHANGED" in r.stderr and fp in r.stderr
    new_fp = sshd.host_key_fingerprint()
    assert ssh_ops.test(ws, host)["host_key"]["status"] == "changed"
    with pytest.raises(Refused, match="forget it first"):
        ssh.trust(ws, host, new_fp)
    ssh.forget(ws, host)
    ssh.trust(ws, host, new_fp)
    assert ssh_ops.list_remote(ws, host, None)["entries"] == []


def test_auth_methods_and_explained_errors(trusted, sshd, ws, tmp_path, hub_server):
    from dataclasses import replace

    from config.errors import Refused, RemoteError
    from engine.sync.ssh import connect, run_command

    c = connect(ws, trusted)
    assert run_command(c, "echo ok")[1].strip() == "ok"
    c.close()
    with pytest.raises(Refused, match="authentication failed"):
        connect(ws, replace(trusted, key_file=str(sshd.stranger_key)))
    with pytest.raises(Refused, match="authentication failed .*password"):
        connect(ws, replace(trusted, key_file=None), password="not-the-password")
    # the SSH agent: the key is loaded into a real ssh-agent, the profile names no key file
    agent_dir = tmp_path / "agent"
    agent_dir.mkdir()
    sock = agent_dir / "sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if sock.exists():
                break
            import time

            time.sleep(0.05)
        env = dict(os.environ, SSH_AUTH_SOCK=str(sock))
        subprocess.run(["ssh-add", str(sshd.client_key)], env=env, check=True, capture_output=True)
        os.environ["SSH_AUTH_SOCK"] = str(sock)
        try:
            c = connect(ws, replace(trusted, key_file=None, agent=True))
            assert run_command(c, "echo agent")[1].strip() == "agent"
            c.close()
        finally:
            del os.environ["SSH_AUTH_SOCK"]
    finally:
        agent.terminate()
        agent.wait(timeout=10)
    # connection problems, each explained
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    with pytest.raises(RemoteError, match="connection refused"):
        connect(ws, replace(trusted, port=closed_port))
    with pytest.raises(RemoteError, match="unknown host name"):
        connect(ws, replace(trusted, host="no-such-host.invalid"))
    port = int(hub_server.url.rsplit(":", 1)[1])  # an HTTP server, not SSH
    with pytest.raises(RemoteError, match="does not speak SSH|SSH handshake failed"):
        connect(ws, replace(trusted, port=port), timeout=3)
    import time

    with socket.socket() as silent:  # accepts TCP connections but never says anything
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        t0 = time.monotonic()
        with pytest.raises(RemoteError, match="SSH handshake failed|timed out"):
            connect(ws, replace(trusted, port=silent.getsockname()[1]), timeout=1.0)
        assert time.monotonic() - t0 < 10


def test_archive_upload_download_extract_identical(artifacts, sample_ws, trusted, tmp_path):
    from storage.workspace import Workspace

    r = run_cli("sync", "ssh", "archive-training", "--ids", artifacts["features"], "--include-cache", "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 0, r.stderr
    names = {a["id"] for a in doc["artifacts"]}
    assert names == {artifacts["features"], artifacts["analysis"], "ohlcv-BTCUSDT-15m"}
    with tarfile.open(doc["path"]) as tar:
        first = tar.next()
        assert first.name == "klinelab_archive.json"
        index = json.load(tar.extractfile(first))
    assert all(len(f["sha256"]) == 64 for f in index["files"]) and len(index["files"]) == doc["files"]
    up = json.loads(run_cli("sync", "ssh", "upload", "--host", "loop", "--archive", doc["archive_id"], "--json").stdout)
    remote_file = Path(up["transfer"]["path"])
    assert remote_file.read_bytes() == Path(doc["path"]).read_bytes() and up["transfer"]["sha256"] == doc["sha256"]
    listing = json.loads(run_cli("sync", "ssh", "list", "--host", "loop", "--json").stdout)
    assert [e["name"] for e in listing["entries"]] == [doc["file"]]
    # into another workspace: downloaded, checked, unpacked, indexed with origin ssh:<host>
    other = Workspace.open(tmp_path / "other")
    other.root.mkdir(parents=True)
    shutil.copy(sample_ws.root / "ssh_hosts.json", other.root / "ssh_hosts.json")
    shutil.copy(sample_ws.known_hosts_path, other.known_hosts_path)
    keep = tmp_path / "kept"
    keep.mkdir()
    r = run_cli("sync", "ssh", "download", "--host", "loop", "--path", doc["file"], "--local-path", str(keep), "--json",
                env={"KLINELAB_HOME": str(other.root)})
    assert r.returncode == 0, r.stderr
    down = json.loads(r.stdout)
    assert {a["id"] for a in down["artifacts"]} == names and all(a["status"] == "created" for a in down["artifacts"])
    assert (keep / doc["file"]).read_bytes() == Path(doc["path"]).read_bytes()
    from storage.catalog import Catalog

    for a in down["artifacts"]:
        mine = snapshot(sample_ws.artifact_dir(a["kind"], a["id"]))
        theirs = snapshot(other.artifact_dir(a["kind"], a["id"]))
        mine.pop("manifest.json")
        theirs.pop("manifest.json")
        assert mine == theirs
        assert Catalog(other).get(a["id"])["origin"] == f"ssh:{trusted.host}"
    hist = [json.loads(x) for x in sample_ws.sync_history_path.read_text().splitlines()]
    assert [(h["op"], h["status"]) for h in hist] == [("upload", "succeeded")]


class _Cut(Exception):
    pass


def _cut_after(fraction):
    def cb(done, total):
        if done >= total * fraction:
            raise _Cut()

    return cb


def test_transfers_cut_off_mid_way_resume_and_verify(trusted, ws, tmp_path):
    from engine.sync import ssh

    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(6 * 1024 * 1024 + 123))
    c = ssh.connect(ws, trusted)
    try:
        remote = f"{trusted.remote_dir}in/big.bin"
        with pytest.raises(_Cut):
            ssh.upload(c, src, remote, progress=_cut_after(0.4))
        partial = Path(remote + ".partial")
        assert partial.is_file() and 0 < partial.stat().st_size < src.stat().st_size and not Path(remote).exists()
        t = ssh.upload(c, src, remote)
        assert t.resumed_from > 0 and t.sent == src.stat().st_size - t.resumed_from and "resuming" in t.notes[0]
        assert Path(remote).read_bytes() == src.read_bytes() and not partial.exists()
        # a damaged partial copy is not trusted: the transfer starts again and still verifies
        Path(remote).unlink()
        partial.write_bytes(b"x" * 1000)
        t = ssh.upload(c, src, remote)
        assert t.resumed_from == 0 and "does not match" in t.notes[0] and Path(remote).read_bytes() == src.read_bytes()
        # download, cut off, resumed
        dst = tmp_path / "back" / "big.bin"
        with pytest.raises(_Cut):
            ssh.download(c, remote, dst, progress=_cut_after(0.5))
        assert (tmp_path / "back" / "big.bin.partial").stat().st_size > 0 and not dst.exists()
        t = ssh.download(c, remote, dst)
        assert t.resumed_from > 0 and dst.read_bytes() == src.read_bytes()
        # a file that changed on the host after a partial download: the wrong checksum is caught
        with pytest.raises(_Cut):
            ssh.download(c, remote, tmp_path / "again.bin", progress=_cut_after(0.5))
        data = bytearray(src.read_bytes())
        data[-10] ^= 0xFF
        Path(remote).write_bytes(bytes(data))
        t = ssh.download(c, remote, tmp_path / "again.bin")
        assert (tmp_path / "again.bin").read_bytes() == bytes(data) and t.resumed_from > 0
        from config.errors import RemoteError

        with pytest.raises(RemoteError, match="checksum mismatch"):
            ssh.download(c, remote, tmp_path / "third.bin", expected_sha="0" * 64)
        assert not (tmp_path / "third.bin").exists() and not (tmp_path / "third.bin.partial").exists()
    finally:
        c.close()


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for ti, data in members:
            if data is not None:
                ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data) if data is not None else None)
    return path


def _info(name, kind=tarfile.REGTYPE, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = linkname
    ti.mode = 0o644
    return ti


@pytest.mark.parametrize("case,message", [
    ("dotdot", "climbs out"), ("absolute", "absolute path"), ("symlink-out", "outside"),
    ("symlink-abs", "absolute"), ("hardlink-out", "outside"), ("device", "device"), ("fifo", "device or fifo"),
    ("nested-dotdot", "climbs out"),
])
def test_malicious_archives_are_refused_and_write_nothing(ws, tmp_path, case, message):
    from config.errors import Refused
    from engine.sync.archives import import_archive

    ok_member = (_info("artifacts/analysis/x/manifest.json"), b"{}")
    bad = {"dotdot": (_info("../evil.txt"), b"owned"),
           "absolute": (_info("/tmp/klinelab-evil.txt"), b"owned"),
           "symlink-out": (_info("raw/ticks/link", tarfile.SYMTYPE, "../../../../etc/passwd"), None),
           "symlink-abs": (_info("raw/ticks/link", tarfile.SYMTYPE, "/etc/passwd"), None),
           "hardlink-out": (_info("raw/ticks/hard", tarfile.LNKTYPE, "../../../etc/passwd"), None),
           "device": (_info("raw/ticks/dev", tarfile.CHRTYPE), None),
           "fifo": (_info("raw/ticks/fifo", tarfile.FIFOTYPE), None),
           "nested-dotdot": (_info("artifacts/../../evil.txt"), b"owned")}[case]
    archive = _tar(tmp_path / f"{case}.tar.gz", [ok_member, bad])
    with pytest.raises(Refused, match=message):
        import_archive(ws, archive)
    assert snapshot(ws.root) == {}  # nothing extracted, nothing left in tmp/
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/klinelab-evil.txt").exists()
    if case == "dotdot":  # as a user meets it: one error line, exit 2
        r = run_cli("sync", "ssh", "import-archive", str(archive))
        assert r.returncode == 2 and "climbs out" in r.stderr and r.stderr.count("error:") == 1


def test_damaged_or_foreign_archives_are_refused(artifacts, sample_ws, tmp_path):
    from config.errors import BadInput, Refused
    from engine.sync.archives import create, import_archive

    doc = create(sample_ws, "results", ids=[artifacts["stage2"]])
    data = Path(doc["path"]).read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInput, match="truncated|damaged|not a readable"):
        import_archive(sample_ws, tmp_path / "cut.tar.gz")
    # a member whose content does not match the archive's sha256 list
    with tarfile.open(doc["path"]) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    members = [(m, b"tampered" if m.name.endswith("summary.txt") else d) for m, d in members]
    with pytest.raises(BadInput, match="does not match its sha256"):
        import_archive(sample_ws, _tar(tmp_path / "tampered.tar.gz", members))
    # an extra file slipped in
    members = [(m, d) for m, d in members if not m.name.endswith("summary.txt")] + [(_info("raw/ticks/extra.txt"), b"x")]
    with pytest.raises((Refused, BadInput)):
        import_archive(sample_ws, _tar(tmp_path / "extra.tar.gz", members))
    with pytest.raises(BadInput, match="not a KlineLab archive"):
        import_archive(sample_ws, _tar(tmp_path / "plain.tar.gz", [(_info("a.txt"), b"a")]))


def test_manifest_paths_cannot_escape_the_artifact(ws, tmp_path):
    """The tar members are clean, but the manifest inside lists a file outside the artifact folder."""
    from config.errors import Refused
    from engine.sync.archives import import_archive
    from storage.manifest import FileEntry, Manifest

    m = Manifest(id="analysis-evil", kind="analysis", files=[FileEntry("../../../escape.txt", 1, "0" * 64)])
    raw = json.dumps(m.to_dict()).encode()
    index = {"format": 1, "kind": "results", "artifacts": [{"id": m.id, "kind": m.kind}],
             "files": [{"path": "artifacts/analysis/analysis-evil/manifest.json", "size": len(raw),
                        "sha256": __import__("hashlib").sha256(raw).hexdigest()}]}
    idx = json.dumps(index).encode()
    archive = _tar(tmp_path / "escape.tar.gz", [(_info("klinelab_archive.json"), idx),
                                                 (_info("artifacts/analysis/analysis-evil/manifest.json"), raw)])
    with pytest.raises(Refused, match="unsafe path"):
        import_archive(ws, archive)
    assert not list(ws.root.rglob("escape.txt")) and not (tmp_path / "escape.txt").exists()


def test_download_falls_back_to_sftp_on_hosts_without_commands(trusted, ws, tmp_path, monkeypatch):
    """Downloads stream through an exec channel (faster); a host that runs no commands gets SFTP,
    with the same resume and checksum behaviour."""
    from engine.sync import ssh
    from engine.sync.ssh import transfer

    src = tmp_path / "data.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    remote = f"{trusted.remote_dir}fallback/data.bin"
    Path(remote).parent.mkdir(parents=True, exist_ok=True)
    Path(remote).write_bytes(src.read_bytes())
    used = []
    real = transfer._stream_download
    monkeypatch.setattr(transfer, "_stream_download", lambda *a, **k: used.append("exec") or False)
    c = ssh.connect(ws, trusted)
    try:
        dst = tmp_path / "out" / "data.bin"
        with pytest.raises(_Cut):
            ssh.download(c, remote, dst, progress=_cut_after(0.5))
        t = ssh.download(c, remote, dst)
        assert used == ["exec", "exec"] and t.resumed_from > 0 and dst.read_bytes() == src.read_bytes()
        monkeypatch.setattr(transfer, "_stream_download", real)
        t = ssh.download(c, remote, tmp_path / "out2.bin")  # the exec path itself delivers the same bytes
        assert (tmp_path / "out2.bin").read_bytes() == src.read_bytes() and t.resumed_from == 0
    finally:
        c.close()
