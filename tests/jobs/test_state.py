"""Job state helpers on kept libraries: process identity through psutil (same tokens as the
/proc/<pid>/stat field written by earlier versions), the state lock through filelock."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.jobs.state import JobState, locked, pid_alive, proc_start_time, read_state, update, write_state
from tests.conftest import ROOT


def _proc_stat_start(pid: int) -> str:
    # what engine/jobs/state.py parsed by hand before psutil: field 22 of /proc/<pid>/stat
    return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[19]


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux /proc to compare against")
def test_start_token_is_the_proc_stat_field_so_old_state_files_still_match():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        for pid in (os.getpid(), child.pid, 1):
            assert proc_start_time(pid) == _proc_stat_start(pid)
        token = _proc_stat_start(child.pid)
        assert pid_alive(child.pid) and pid_alive(child.pid, token)
        assert not pid_alive(child.pid, str(int(token) + 1))  # same pid, another start: a reused pid
    finally:
        child.kill()
    time.sleep(0.2)
    assert not pid_alive(child.pid)  # a zombie (not yet reaped) is not alive
    child.wait()
    assert not pid_alive(child.pid) and proc_start_time(child.pid) is None
    assert not pid_alive(None) and not pid_alive(0) and not pid_alive(-3)


def test_state_lock_excludes_another_process(ws):
    write_state(ws, JobState(id="job-x-20260101-000000-abcdef", command=["jobs", "sleep"]))
    code = ("import sys, time\nfrom storage.workspace import Workspace\nfrom engine.jobs.state import locked\n"
            "ws = Workspace.open(sys.argv[1])\nwith locked(ws, 'job-x-20260101-000000-abcdef'):\n"
            "    print('held', flush=True)\n    time.sleep(1.5)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(ws.root)], cwd=str(ROOT), stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        update(ws, "job-x-20260101-000000-abcdef", message="after the holder")
        waited = time.monotonic() - t0
    finally:
        holder.wait(timeout=30)
    assert waited > 0.5, waited  # blocked until the other process let go
    assert read_state(ws, "job-x-20260101-000000-abcdef").message == "after the holder"
    with locked(ws, "job-x-20260101-000000-abcdef") as d:
        assert (d / ".lock").is_file()  # the lock file stays (waiters share its inode)
