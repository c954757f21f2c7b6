"""Issue 17, bounded resources: the YAML alias bomb (defect 3) and ``--token-file /dev/zero``
(defect 15) each finish in under 5 s and 300 MB, measured with ``getrusage(RUSAGE_CHILDREN)`` of
the CLI child process; small untrusted files are read with a size limit and only when regular."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT, error_line, run_cli

MAX_SECONDS = 5.0
MAX_RSS_MB = 300.0

# The child is started by a small wrapper process so that RUSAGE_CHILDREN covers the CLI alone
# (the pytest process has other, larger children: its own RUSAGE_CHILDREN is a maximum over all).
_MEASURE = textwrap.dedent("""
    import json, resource, subprocess, sys, time
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "engine", *sys.argv[1:]], capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - t
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"rc": p.returncode, "stderr": p.stderr, "stdout": p.stdout, "wall_s": wall,
                      "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_mb": ru.ru_maxrss / 1024}))
""")


def measured_cli(*args: str) -> dict:
    r = subprocess.run([sys.executable, "-c", _MEASURE, *args], cwd=str(ROOT), env=dict(os.environ),
                       capture_output=True, text=True, timeout=180, check=False)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def yaml_bomb(levels: int = 9, fanout: int = 9) -> str:
    """A 'billion laughs' inside ``data.exclude`` of a training config (about 0.5 KB; the report's
    was 885 bytes): level k is a list of ``fanout`` aliases to level k-1, so it expands to fanout**levels
    strings (9**9 = 387 million)."""
    anchors = [f"&l0 [{', '.join(['lol'] * fanout)}]"]
    for k in range(1, levels):
        anchors.append(f"&l{k} [{', '.join([f'*l{k - 1}'] * fanout)}]")
    return "# alias bomb (issue 17, defect 3)\ndata:\n  exclude: [" + ", ".join(anchors) + f", *l{levels - 1}]\n"


def test_yaml_alias_bomb_in_a_training_config_is_refused_fast_and_small(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(yaml_bomb())
    assert bomb.stat().st_size < 1024
    m = measured_cli("train", "patchtst", "--config", str(bomb), "--featureset", "fs-x")
    assert m["rc"] == 2, m
    line = error_line(m["stderr"])
    assert "aliases" in line and "not allowed" in line and len(line) < 400
    assert len(m["stderr"].strip().splitlines()) == 1
    assert m["wall_s"] < MAX_SECONDS, m
    assert m["maxrss_mb"] < MAX_RSS_MB, m


def test_token_file_dev_zero_is_refused_unread_fast_and_small():
    m = measured_cli("sync", "hub", "test", "--repo-id", "someone/data", "--token-file", "/dev/zero")
    assert m["rc"] == 2, m
    line = error_line(m["stderr"])
    assert "/dev/zero" in line and "not a regular file" in line
    assert m["wall_s"] < MAX_SECONDS, m
    assert m["maxrss_mb"] < MAX_RSS_MB, m


def test_refused_config_path_imports_no_torch():
    """The config is validated before the training stack (torch) is imported: measure it."""
    code = ("import sys\nfrom engine.cli import main\nrc = main(['train', 'patchtst', '--config', '/dev/null/x', "
            "'--featureset', 'x'])\nprint(rc, 'torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.stdout.split() == ["2", "False"], (r.stdout, r.stderr)


@pytest.mark.parametrize("make,expect", [
    (lambda d: "/dev/zero", "not a regular file"),
    (lambda d: str(d), "is a directory"),
    (lambda d: str(d / "missing-token"), "does not exist"),
    (lambda d: (d / "big").write_bytes(b"x" * (65 * 1024)) and str(d / "big"), "too large"),
    (lambda d: (d / "bin").write_bytes(b"\xff\xfe\x00token") and str(d / "bin"), "not UTF-8"),
    (lambda d: (d / "empty").write_text("  \n") is not None and str(d / "empty"), "is empty"),
])
def test_token_file_bad_cases_are_one_line_exit_2(tmp_path, make, expect):
    path = make(tmp_path)
    r = run_cli("sync", "hub", "test", "--repo-id", "someone/data", "--token-file", path)
    assert r.returncode == 2 and expect in error_line(r.stderr), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_fifo_token_file_does_not_block(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    r = run_cli("sync", "hub", "test", "--repo-id", "someone/data", "--token-file", str(fifo), timeout=30)
    assert r.returncode == 2 and "not a regular file" in error_line(r.stderr)


def test_read_small_reads_at_most_the_limit(tmp_path):
    from config.bounded import read_small, read_small_text
    from config.errors import BadInput, NotFound

    p = tmp_path / "t"
    p.write_bytes(b"abc" * 10)
    assert read_small(p, "token file", limit=30) == b"abc" * 10
    with pytest.raises(BadInput, match="too large"):
        read_small(p, "token file", limit=29)
    with pytest.raises(NotFound):
        read_small_text(tmp_path / "nope", "key file")


def test_yaml_loader_refuses_aliases_but_reads_plain_configs():
    from config.bounded import load_yaml
    from config.errors import BadInput

    assert load_yaml("a: &x 1\nb: 2\n") == {"a": 1, "b": 2}  # an anchor alone is harmless
    with pytest.raises(BadInput, match=r"aliases \(\*x\) are not allowed.*line 2"):
        load_yaml("a: &x [1, 2]\nb: *x\n", "cfg.yaml")
    with pytest.raises(BadInput, match="not valid YAML"):
        load_yaml("a: !!python/object:os.system {}\n")  # SafeLoader: no Python objects
    with pytest.raises(BadInput, match="too large"):
        load_yaml("a: 1\n" + "#" * (1 << 20))
    for name in ("base", "production", "test", "anti_overfit", "features"):  # every shipped config loads
        assert isinstance(load_yaml((ROOT / "config" / f"{name}.yaml").read_text()), dict)


def test_validator_messages_never_format_unbounded_values():
    from config.errors import BadInput
    from engine.training.config import from_dict

    huge = ["x" * 1000] * 10_000
    with pytest.raises(BadInput) as e:
        from_dict({"data": {"context_window": huge}})
    assert len(str(e.value)) < 400 and "data.context_window" in str(e.value)
    with pytest.raises(BadInput) as e:
        from_dict({"data": {"exclude": [list(range(100))] * 1000}})
    assert len(str(e.value)) < 400


def test_known_hosts_and_key_file_are_bounded(ws, tmp_path):
    from config.errors import BadInput, NotFound
    from engine.sync.ssh import HostProfile, _known_hosts, save_profile

    ws.root.mkdir(parents=True, exist_ok=True)
    ws.known_hosts_path.write_bytes(b"x" * (5 << 20))
    with pytest.raises(BadInput, match="too large"):
        _known_hosts(ws)
    ws.known_hosts_path.unlink()
    os.symlink("/dev/zero", ws.known_hosts_path)
    with pytest.raises(BadInput, match="not a regular file"):
        _known_hosts(ws)
    with pytest.raises(BadInput, match="not a regular file"):
        save_profile(ws, HostProfile(name="z", host="example.org", key_file="/dev/zero"))
    with pytest.raises(NotFound, match="key file .* does not exist"):
        save_profile(ws, HostProfile(name="z", host="example.org", key_file=str(tmp_path / "id_missing")))
    assert not ws.ssh_hosts_path.exists()
