"""SSH hosts (Paperspace or any machine with OpenSSH), through paramiko.  One module per seam:

* ``profiles``: host profiles in ``<workspace>/ssh_hosts.json`` (never a password), key files,
  remote paths;
* ``tcp``: the TCP connection, its failures explained;
* ``host_keys``: ``<workspace>/known_hosts`` only: unknown keys refused with their fingerprint,
  trusted only by an explicit ``trust``; a changed key refused;
* ``connection``: authenticated paramiko clients (key file, agent, password), remote commands and
  remote sha256;
* ``transfer``: SFTP upload / download with resume and sha256 checks on both ends, listings.

This package re-exports their public names (``from engine.sync.ssh import connect``, ``ssh.upload``);
modules of this package import each other by their own names, never through it.
"""
from __future__ import annotations

from engine.sync.ssh.connection import connect, remote_sha256, run_command
from engine.sync.ssh.host_keys import (
    KNOWN_HOSTS_LIMIT,
    HostKeyChanged,
    UnknownHostKey,
    _known_hosts,
    check_fingerprint,
    fingerprint,
    forget,
    host_key_status,
    scan_host_key,
    trust,
)
from engine.sync.ssh.profiles import (
    KEY_FILE_LIMIT,
    HostProfile,
    check_key_file,
    hosts_path,
    load_profiles,
    remote_path,
    remove_profile,
    resolve,
    save_profile,
)
from engine.sync.ssh.transfer import CHUNK, Progress, Transfer, download, listdir, sftp_makedirs, upload
from storage.manifest import sha256_file

__all__ = [
    "CHUNK", "KEY_FILE_LIMIT", "KNOWN_HOSTS_LIMIT", "HostKeyChanged", "HostProfile", "Progress", "Transfer",
    "UnknownHostKey", "_known_hosts", "check_fingerprint", "check_key_file", "connect", "download", "fingerprint",
    "forget", "host_key_status", "hosts_path", "listdir", "load_profiles", "remote_path", "remote_sha256",
    "remove_profile", "resolve", "run_command", "save_profile", "scan_host_key", "sftp_makedirs", "sha256_file",
    "trust", "upload",
]
