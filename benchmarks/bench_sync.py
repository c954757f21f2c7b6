"""SFTP transfer of a 200 MB archive (KlineLab's paramiko upload / download, with resume support
and sha256 verification on both ends) vs OpenSSH ``scp`` of the same file, both against the
same OpenSSH server on loopback, side by side with the ratio (SPEC 14: at least half of scp's
speed).

    .venv/bin/python benchmarks/bench_sync.py [--mb 200] [--repeat 2]

The archive is a real tar.gz of incompressible data (like parquet files, which are compressed
already). Each side is run ``--repeat`` times; the best run counts.  The sshd is started on a
free port with its own keys (tests/fixtures/sshd.py), as the tests do.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_archive(path: Path, mb: int) -> Path:
    src = path.parent / "payload"
    src.mkdir()
    left = mb * 1024 * 1024
    i = 0
    while left > 0:
        n = min(left, 16 * 1024 * 1024)
        (src / f"part-{i:03d}.parquet").write_bytes(os.urandom(n))
        left -= n
        i += 1
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        tar.add(src, arcname="artifacts")
    shutil.rmtree(src)
    return path


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    from tests.fixtures.sshd import Sshd, why_unavailable

    reason = why_unavailable()
    if reason or shutil.which("scp") is None:
        print(f"skipped: {reason or 'scp not installed'}")
        return 0
    from engine.sync import ssh
    from storage.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    server = Sshd(tmp / "sshd").start()
    try:
        archive = make_archive(tmp / "training_data.tar.gz", a.mb)
        size = archive.stat().st_size
        remote = tmp / "remote"
        remote.mkdir()
        ws = Workspace.open(tmp / "ws")
        prof = ssh.HostProfile(name="bench", host=server.host, port=server.port, user=server.user,
                               key_file=str(server.client_key), remote_dir=str(remote) + "/", agent=False, look_for_keys=False)
        ssh.trust(ws, prof, server.host_key_fingerprint())
        client = ssh.connect(ws, prof)
        sha = ssh.sha256_file(archive)
        cipher = client.get_transport().remote_cipher

        def ours_up():
            (remote / "a.tar.gz").unlink(missing_ok=True)
            ssh.upload(client, archive, str(remote / "a.tar.gz"), local_sha=sha)

        def ours_down():
            (tmp / "back.tar.gz").unlink(missing_ok=True)
            ssh.download(client, str(remote / "a.tar.gz"), tmp / "back.tar.gz", expected_sha=sha)

        def raw_up():  # the transfer alone (no checksums, no resume bookkeeping), same code path
            sftp = client.open_sftp()
            with sftp.open(str(remote / "raw.bin"), "wb") as f, open(archive, "rb") as src:
                f.set_pipelined(True)
                for b in iter(lambda: src.read(ssh.CHUNK), b""):
                    f.write(b)
            sftp.close()

        opts = ["-q", "-i", str(server.client_key), "-P", str(server.port), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", f"UserKnownHostsFile={tmp / 'scp_known_hosts'}"]

        def scp_up():
            subprocess.run(["scp", *opts, str(archive), f"{server.user}@{server.host}:{remote / 's.tar.gz'}"], check=True)

        def scp_down():
            subprocess.run(["scp", *opts, f"{server.user}@{server.host}:{remote / 's.tar.gz'}", str(tmp / 's-back.tar.gz')],
                           check=True)

        scp_up()  # warm caches / known_hosts once
        rows = []
        for label, ours, ref in (("upload", ours_up, scp_up), ("download", ours_down, scp_down)):
            t_ours, t_ref = best(ours, a.repeat), best(ref, a.repeat)
            rows.append((label, size / t_ours / 1e6, size / t_ref / 1e6))
        t_raw = best(raw_up, a.repeat)
        assert (tmp / "back.tar.gz").read_bytes() == archive.read_bytes()
        client.close()
        print(f"archive: {size / 1e6:.0f} MB tar.gz; loopback OpenSSH; paramiko cipher {cipher}; best of {a.repeat}")
        print(f"{'':<40}{'KlineLab MB/s':>15}{'scp MB/s':>12}{'ratio':>8}")
        for label, ours_mbs, ref_mbs in rows:
            print(f"{label + ' (resumable, sha256 both ends)':<40}{ours_mbs:>15.1f}{ref_mbs:>12.1f}{ours_mbs / ref_mbs:>8.2f}")
        up_ref = rows[0][2]
        print(f"{'upload, transfer only':<40}{size / t_raw / 1e6:>15.1f}{up_ref:>12.1f}{size / t_raw / 1e6 / up_ref:>8.2f}")
        print("target: ratio >= 0.5 (SPEC 14)")
        return 0
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
