"""Stopping a job's processes (engine.jobs.state.stop_process_group, used by the cancel of local jobs
and of the local follower of a remote job): SIGTERM, then SIGKILL after the grace period, process tree
included."""
from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager

import psutil

from engine import jobs
from engine.jobs.state import JobState, job_dir, proc_start_time, stop_process_group, write_state

# a process that ignores SIGTERM and has a child that ignores it too; prints the child's pid when both are ready
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c",
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(120)"],
    stdout=subprocess.PIPE, text=True)
child.stdout.readline()
print(child.pid, flush=True)
time.sleep(120)
"""
POLITE = "import sys, time; print(0, flush=True); time.sleep(120)"
# a job leader that starts another job (its own session, its own KLINELAB_JOB_ID), as `jobs.submit` from
# inside a job does; prints that job's pid
SUBMITS = """
import os, subprocess, sys, time
env = dict(os.environ, KLINELAB_JOB_ID="job-other-20260101-000000-abcdef")
other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], env=env, start_new_session=True)
print(other.pid, flush=True)
time.sleep(120)
"""


def _dead(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@contextmanager
def _started(code: str):
    """(the process, the pid it printed) in a session of its own; whatever still lives at the end is killed."""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True)
    child = int(proc.stdout.readline())
    try:
        yield proc, child
    finally:
        for pid in {proc.pid, child} - {0}:
            if not _dead(pid):
                psutil.Process(pid).kill()
        proc.wait(timeout=10)


def test_a_process_ignoring_sigterm_is_killed_after_the_grace_period_with_its_children():
    with _started(STUBBORN) as (proc, child):
        t0 = time.monotonic()
        assert stop_process_group(proc.pid, proc_start_time(proc.pid), grace_s=1.0) is True
        assert time.monotonic() - t0 >= 1.0
        proc.wait(timeout=10)
        assert _dead(proc.pid) and _dead(child)


def test_a_process_that_honours_sigterm_is_not_killed():
    with _started(POLITE) as (proc, _):
        t0 = time.monotonic()
        assert stop_process_group(proc.pid, proc_start_time(proc.pid), grace_s=10.0) is False
        assert time.monotonic() - t0 < 5.0
        proc.wait(timeout=10)


def test_a_reused_pid_is_never_signalled():
    with _started(POLITE) as (proc, _):
        assert stop_process_group(proc.pid, "not-its-start-token", grace_s=0.5) is False
        assert proc.poll() is None  # still running: it is not the process the job recorded


def test_cancel_kills_a_job_that_ignores_sigterm(ws):
    jid = "job-stubborn-20260101-000000-abcdef"
    job_dir(ws, jid).mkdir(parents=True)
    with _started(STUBBORN) as (proc, child):
        write_state(ws, JobState(id=jid, command=["jobs", "sleep"], status="running", pid=proc.pid,
                                 proc_start=proc_start_time(proc.pid)))
        st = jobs.cancel(ws, jid, grace_s=1.0)
        assert st.status == "cancelled"
        proc.wait(timeout=10)
        assert _dead(proc.pid) and _dead(child)


def test_another_job_started_from_inside_the_job_is_not_stopped():
    with _started(SUBMITS) as (proc, other):
        assert stop_process_group(proc.pid, proc_start_time(proc.pid), grace_s=2.0) is False  # it honours SIGTERM
        proc.wait(timeout=10)
        assert not _dead(other)  # the other job runs on: it is not this job's to stop
