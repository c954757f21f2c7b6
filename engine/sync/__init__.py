"""Cloud Sync: Hugging Face Hub groups as single commits, SSH hosts (archives, SFTP with resume
and checksums, safe extraction, host keys), remote training jobs.

Importing this package registers the remote-job canceller with the job layer
(``engine.jobs.remote``), so ``engine.jobs.cancel`` can cancel a job running on an SSH host
without the runner importing sync."""
from __future__ import annotations

from engine.jobs.remote import register_remote_canceller


def _cancel_remote(ws, job_state):
    from engine.sync.remote_jobs import cancel_remote  # paramiko etc. only when a remote job is cancelled

    return cancel_remote(ws, job_state)


register_remote_canceller(_cancel_remote)
