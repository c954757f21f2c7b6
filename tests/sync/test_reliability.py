"""Issue 17, untrusted manifests and archives: defects 2, 6, 7, 10 as the issue reproduces them
(real CLI / real Hub-compatible server), asserting one error line, exit 2 and nothing adopted."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zlib
from pathlib import Path

import pytest

from tests.conftest import run_cli, snapshot
from tests.fixtures.sshd import sshd  # noqa: F401 - fixture
from tests.sync.test_ssh import host, trusted  # noqa: F401 - fixtures

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _manifest(kind: str, aid: str, files: dict[str, bytes], **over) -> dict:
    from storage.manifest import FileEntry, Manifest

    m = Manifest(id=aid, kind=kind, name=aid, files=[FileEntry(p, len(b), _sha(b)) for p, b in sorted(files.items())])
    d = m.to_dict()
    d.update(over)
    return d


def _archive(path: Path, arts: list[tuple[str, str, dict[str, bytes], dict]], ticks: dict[str, bytes] | None = None,
             patch_index=None, drop: tuple[str, ...] = ()) -> Path:
    """A KlineLab archive made by hand: artifacts (kind, id, files, manifest overrides) + tick files."""
    members: dict[str, bytes] = {}
    for kind, aid, files, over in arts:
        base = f"artifacts/{kind}/{aid}"
        for p, b in files.items():
            if p not in drop:
                members[f"{base}/{p}"] = b
        members[f"{base}/manifest.json"] = json.dumps(_manifest(kind, aid, files, **over)).encode()
    for p, b in (ticks or {}).items():
        members[f"raw/ticks/{p}"] = b
    index = {"format": 1, "kind": "results", "created_at": "2026-01-01T00:00:00Z", "source": "elsewhere",
             "artifacts": [{"id": aid, "kind": kind} for kind, aid, _, _ in arts],
             "files": [{"path": p, "size": len(b), "sha256": _sha(b)} for p, b in members.items()]}
    if patch_index:
        patch_index(index)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in [("klinelab_archive.json", json.dumps(index).encode()), *members.items()]:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            tar.addfile(ti, io.BytesIO(data))
    return path


def _import(archive: Path, *extra: str):
    return run_cli("sync", "ssh", "import-archive", str(archive), *extra)


def _one_error_line(r, code: int = 2) -> str:
    assert r.returncode == code, (r.returncode, r.stderr[-2000:])
    lines = [x for x in r.stderr.strip().splitlines() if not x.startswith("[")]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def _artifacts_in(ws) -> list[str]:
    return sorted(p.parent.name for p in ws.artifacts_dir.glob("*/*/manifest.json")) if ws.artifacts_dir.exists() else []


GOOD = ("analysis", "analysis-good", {"report.csv": b"a,b\n1,2\n"}, {})


# -- defect 2: an ill-typed manifest from outside ------------------------------------------------------
def test_defect2_ill_typed_manifest_in_an_archive_is_refused_and_lists_keep_working(ws, tmp_path):
    bad = ("backtest", "backtest-bad", {"equity.parquet": b"x"}, {"metrics": [1, 2]})
    line = _one_error_line(_import(_archive(tmp_path / "a.tar.gz", [GOOD, bad])))
    assert "metrics" in line and "valid dictionary" in line
    assert _artifacts_in(ws) == []
    for group in ("features", "backtest"):
        r = run_cli(group, "list", "--json")
        assert r.returncode == 0, r.stderr


def test_defect2_ill_typed_manifest_already_in_the_workspace_is_skipped_by_lists_and_the_catalog(ws, tmp_path):
    """A manifest put in place by hand (or an older version): reported and skipped, never a traceback."""
    for kind, aid, over in (("backtest", "backtest-bad", {"metrics": [1, 2]}), ("features", "features-bad", {"extra": "x"})):
        d = ws.artifact_dir(kind, aid)
        d.mkdir(parents=True)
        (d / "manifest.json").write_text(json.dumps(_manifest(kind, aid, {}, **over)))
    for group in ("features", "backtest"):
        r = run_cli(group, "list", "--json")
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    r = run_cli("catalog", "refresh", "--json")
    assert r.returncode == 0, r.stderr
    skipped = {Path(s["path"]).parent.name: s["reason"] for s in json.loads(r.stdout)["skipped"]}
    assert "metrics" in skipped["backtest-bad"] and "extra" in skipped["features-bad"]
    assert r.stderr.count("warning: 2 manifest(s) skipped") == 1
    assert json.loads(run_cli("catalog", "query", "--json").stdout)["count"] == 0


def test_defect2_ill_typed_manifest_by_ssh_download_is_refused(ws, trusted, tmp_path):
    bad = ("backtest", "backtest-bad", {"equity.parquet": b"x"}, {"metrics": [1, 2]})
    _archive(Path(trusted.remote_dir) / "results_bad.tar.gz", [GOOD, bad])
    line = _one_error_line(run_cli("sync", "ssh", "download", "--host", "loop", "--path", "results_bad.tar.gz"))
    assert "metrics" in line and "valid dictionary" in line
    assert _artifacts_in(ws) == []
    for group in ("features", "backtest"):
        assert run_cli(group, "list").returncode == 0


def test_defect2_ill_typed_manifest_from_the_hub_is_not_adopted(ws, hub_server):
    from storage.manifest import Manifest

    good = json.dumps(_manifest(*GOOD[:3])).encode()
    bad = json.dumps(_manifest("analysis", "analysis-bad", {"report.csv": b"x"}, metrics=[1, 2])).encode()
    hub_server.seed("klinelab/rel", {"analysis/analysis-good/manifest.json": good,
                                     "analysis/analysis-good/report.csv": b"a,b\n1,2\n",
                                     "analysis/analysis-bad/manifest.json": bad, "analysis/analysis-bad/report.csv": b"x"})
    r = run_cli("sync", "hub", "download", "--repo-id", "klinelab/rel", "--group", "analysis", "--json",
                env={"KLINELAB_HUB_BACKOFF_S": "0.01", "HF_TOKEN": hub_server.token})
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads(r.stdout)
    assert any("analysis-bad" in n and "skipped" in n for n in doc["plan"]["notes"])
    assert _artifacts_in(ws) == ["analysis-good"]
    assert Manifest.read(ws.artifact_dir("analysis", "analysis-good")).origin == "huggingface:klinelab/rel"
    for group in ("features", "backtest"):
        assert run_cli(group, "list").returncode == 0


# -- defect 6: archive import is all-or-nothing; malformed index fields ----------------------------------
def test_defect6_second_artifact_naming_a_missing_file_adopts_nothing(ws, tmp_path):
    second = ("analysis", "analysis-second", {"report.csv": b"x", "gone.csv": b"y"}, {})
    line = _one_error_line(_import(_archive(tmp_path / "a.tar.gz", [GOOD, second], drop=("gone.csv",))))
    assert "gone.csv" in line
    assert _artifacts_in(ws) == [] and not list(ws.tmp_dir.glob("*.partial"))


@pytest.mark.parametrize("case,patch,message", [
    ("id-traversal", lambda i: i["artifacts"][0].update(id="../../evil"), "artifacts.0.id"),
    ("kind-traversal", lambda i: i["artifacts"][0].update(kind="../model"), "artifacts.0.kind"),
    ("artifacts-string", lambda i: i.update(artifacts="analysis-good"), "artifacts"),
    ("file-without-size", lambda i: i["files"][0].pop("size"), "files.0.size"),
    ("files-missing", lambda i: i.pop("files"), "files"),
])
def test_defect6_malformed_index_fields_are_one_line_exit_2(ws, tmp_path, case, patch, message):
    line = _one_error_line(_import(_archive(tmp_path / f"{case}.tar.gz", [GOOD], patch_index=patch)))
    assert "klinelab_archive.json is malformed" in line and message in line
    assert _artifacts_in(ws) == [] and not list(ws.root.rglob("evil*"))


# -- defect 7: tick files are not overwritten without --replace ---------------------------------------
def test_defect7_archive_import_never_overwrites_raw_ticks_without_replace(ws, tmp_path):
    ws.ticks_dir.mkdir(parents=True)
    (ws.ticks_dir / "BTCUSDT-2025-01.csv").write_bytes(b"mine\n")
    archive = _archive(tmp_path / "t.tar.gz", [GOOD], ticks={"BTCUSDT-2025-01.csv": b"theirs\n", "new.csv": b"n\n"})
    line = _one_error_line(_import(archive))
    assert "raw/ticks/BTCUSDT-2025-01.csv" in line and "--replace" in line
    assert (ws.ticks_dir / "BTCUSDT-2025-01.csv").read_bytes() == b"mine\n"
    assert not (ws.ticks_dir / "new.csv").exists() and _artifacts_in(ws) == []
    r = _import(archive, "--replace", "--json")
    assert r.returncode == 0, r.stderr
    assert (ws.ticks_dir / "BTCUSDT-2025-01.csv").read_bytes() == b"theirs\n" and (ws.ticks_dir / "new.csv").is_file()
    assert _artifacts_in(ws) == ["analysis-good"]
    # the same files again: nothing to replace, so no --replace needed
    assert _import(archive).returncode == 0


# -- defect 10: a compression bomb is refused before it is written ------------------------------------
def _bomb(path: Path, member_sizes: list[int]) -> Path:
    """A tar.gz of members full of zeros, compressed chunk by chunk (multi-member gzip), so building a
    2 GB bomb takes no time: ~2 MB on disk."""
    chunk = 16 << 20
    zchunk = gzip.compress(b"\0" * chunk, compresslevel=9)
    with open(path, "wb") as f:
        for i, size in enumerate(member_sizes):
            ti = tarfile.TarInfo(f"raw/ticks/zero{i}.bin")
            ti.size, ti.mode = size, 0o644
            f.write(gzip.compress(ti.tobuf(tarfile.PAX_FORMAT)))
            assert size % chunk == 0
            f.write(zchunk * (size // chunk))
        f.write(gzip.compress(b"\0" * 1024))
    return path


@pytest.mark.parametrize("sizes", [[2048 << 20], [256 << 20] * 8])
def test_defect10_two_megabytes_expanding_to_two_gigabytes_are_refused_before_writing(ws, tmp_path, sizes):
    from config.errors import Refused
    from engine.sync.archives import import_archive

    archive = _bomb(tmp_path / "bomb.tar.gz", sizes)
    assert archive.stat().st_size < 3 << 20
    with tarfile.open(archive) as t:  # a valid archive: the stdlib would unpack 2 GB
        assert t.next().size == sizes[0]
    with pytest.raises(Refused, match="compression bomb"):
        import_archive(ws, archive)
    assert snapshot(ws.root) == {}  # refused on the headers: not one byte unpacked
    line = _one_error_line(_import(archive))
    assert "refused" in line and "x" in line


def test_archive_caps_members_and_pax_headers(ws, tmp_path, monkeypatch):
    from config.errors import Refused
    from engine.sync.archives import import_archive

    monkeypatch.setenv("KLINELAB_ARCHIVE_MAX_MEMBERS", "3")
    with pytest.raises(Refused, match="more than 3 members"):
        import_archive(ws, _archive(tmp_path / "m.tar.gz", [GOOD], ticks={f"{i}.csv": b"x" for i in range(5)}))
    monkeypatch.delenv("KLINELAB_ARCHIVE_MAX_MEMBERS")
    # a PAX header that claims 1 GiB of header data: refused, not read into memory
    ti = tarfile.TarInfo("x")
    buf = bytearray(ti.tobuf(tarfile.USTAR_FORMAT))
    hdr = tarfile.TarInfo("././@PaxHeader")
    hdr.type, hdr.size = tarfile.XHDTYPE, 1 << 30
    raw = hdr.tobuf(tarfile.USTAR_FORMAT)
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    data = comp.compress(raw) + comp.compress(b"\0" * (64 << 20)) + comp.flush()
    (tmp_path / "pax.tar.gz").write_bytes(data)
    assert buf
    with pytest.raises(Refused, match="at once"):
        import_archive(ws, tmp_path / "pax.tar.gz")
    assert snapshot(ws.root) == {}
