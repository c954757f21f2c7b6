"""Issue 17, SSH edge cases (defects 12, 14, 16, 18): a non-UTF-8 known_hosts, a missing key file,
an MD5 fingerprint, a port that is not SSH (stderr one line: paramiko's logger is silenced) and
`sync ssh test` exiting non-zero on an unknown or changed host key (a real loopback sshd)."""
from __future__ import annotations

import json
import socket
import threading

import pytest

from tests.conftest import error_line, run_cli
from tests.fixtures.sshd import sshd  # noqa: F401 - fixture


def _one_line(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr[-3000:]  # no paramiko traceback, no log lines
    line = error_line(r.stderr)
    for n in needles:
        assert n in line, line
    return line


def test_non_utf8_known_hosts_is_one_line_exit_2(ws):
    ws.root.mkdir(parents=True, exist_ok=True)
    ws.known_hosts_path.write_bytes(b"\xff\xfe[127.0.0.1]:2222 ssh-ed25519 \xc3\x28garbage\n")
    _one_line(run_cli("sync", "ssh", "forget", "--host", "127.0.0.1"), "known_hosts", "not UTF-8")


def test_host_add_with_a_missing_key_file_is_refused(ws, tmp_path):
    _one_line(run_cli("sync", "ssh", "host-add", "box", "--host", "example.org", "--key-file",
                      str(tmp_path / "id_nope")), "key file", "does not exist")
    _one_line(run_cli("sync", "ssh", "host-add", "box", "--host", "example.org", "--key-file", "/dev/zero"),
              "not a regular file")
    assert not ws.ssh_hosts_path.exists()
    key = tmp_path / "id_ok"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    assert run_cli("sync", "ssh", "host-add", "box", "--host", "example.org", "--key-file", str(key)).returncode == 0


@pytest.mark.parametrize("fp,needle", [("md5:xx", "only SHA256"), ("MD5:16:27:ac:a5", "only SHA256"),
                                       ("SHA256:short", "invalid fingerprint"), ("", "invalid fingerprint"),
                                       ("SHA256:" + "A" * 500, "invalid fingerprint")])
def test_trust_refuses_non_sha256_fingerprints_before_connecting(ws, fp, needle):
    # port 1 on loopback: nothing listens, so a connection attempt would say "connection refused"
    line = _one_line(run_cli("sync", "ssh", "trust", "--host", "127.0.0.1", "--port", "1", "--fingerprint", fp), needle)
    assert len(line) < 300
    assert not ws.known_hosts_path.exists()


@pytest.fixture
def not_ssh_port():
    """A loopback TCP server that answers like an HTTP server, not SSH."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            try:
                c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            finally:
                c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(2)
    srv.close()


def test_a_port_that_is_not_ssh_gives_one_stderr_line(ws, not_ssh_port):
    for cmd in ("test", "list"):
        _one_line(run_cli("sync", "ssh", cmd, "--host", "127.0.0.1", "--port", str(not_ssh_port)), "SSH", "port right")


def test_ssh_test_exits_2_on_an_unknown_then_changed_host_key(sshd, ws):
    from engine.sync.ssh import HostProfile, save_profile, trust

    prof = save_profile(ws, HostProfile(name="loop", host=sshd.host, port=sshd.port, user=sshd.user,
                                        key_file=str(sshd.client_key)))
    fp = sshd.host_key_fingerprint()  # by ssh-keygen, independently of our code
    r = run_cli("sync", "ssh", "test", "--host", "loop", "--json")
    line = _one_line(r, "UNKNOWN", fp, f"trust --host loop --fingerprint {fp}")
    doc = json.loads(r.stdout)  # the refusal still carries the key for the page's Trust button
    assert doc["ok"] is False and doc["host_key"]["status"] == "unknown" and doc["host_key"]["fingerprint"] == fp
    assert line.startswith("error: ")
    trust(ws, prof, fp)
    r = run_cli("sync", "ssh", "test", "--host", "loop", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["host_key"]["status"] == "trusted"
    sshd.rotate_host_key()
    r = run_cli("sync", "ssh", "test", "--host", "loop")
    _one_line(r, "CHANGED", sshd.host_key_fingerprint(), "forget --host loop")
