"""Authenticated SSH connections through paramiko (key file, SSH agent or password; host keys
checked against the workspace's known_hosts), every failure explained as a KlineLab error
(refused, timeout, unknown name, auth failed, host key unknown / changed, not an SSH server);
remote commands and remote sha256."""
from __future__ import annotations

import logging
import shlex
import time

from config import settings
from config.errors import BadInput, KlineLabError, Refused, RemoteError
from engine.sync.ssh.host_keys import HostKeyChanged, UnknownHostKey, _known_hosts, fingerprint
from engine.sync.ssh.profiles import HostProfile, check_key_file
from engine.sync.ssh.tcp import open_socket
from storage.workspace import Workspace

# paramiko's transport thread logs every failed handshake (a port that is not SSH, a reset) with a
# traceback at ERROR; with no handler configured Python prints it on stderr, breaking the CLI's
# one-line error contract.  Every such failure is raised to the caller as a KlineLab error instead.
_PARAMIKO_LOG = logging.getLogger("paramiko")
_PARAMIKO_LOG.addHandler(logging.NullHandler())
_PARAMIKO_LOG.propagate = False


def _transport_factory(sock, **kw):
    import paramiko

    # bigger windows than paramiko's 2 MB default keep a fast link busy; AES-GCM (no separate MAC) first
    t = paramiko.Transport(sock, default_window_size=64 * 1024 * 1024, **kw)
    opts = t.get_security_options()
    gcm = [c for c in ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com") if c in opts.ciphers]
    opts.ciphers = tuple(gcm + [c for c in opts.ciphers if c not in gcm])
    return t


def connect(ws: Workspace, profile: HostProfile, *, password: str | None = None, timeout: float = 15.0):
    """An authenticated paramiko.SSHClient; every failure is a KlineLab error that says why."""
    import paramiko

    class RefuseUnknown(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client, hostname, key):
            raise UnknownHostKey(profile, key)

    password = password or settings.SSH_PASSWORD.get()
    pkey = None
    if profile.key_file:
        kp = check_key_file(profile.key_file)
        try:
            pkey = paramiko.PKey.from_path(str(kp), settings.SSH_KEY_PASSPHRASE.get())
        except paramiko.PasswordRequiredException:
            raise BadInput(f"key file {kp} is encrypted", hint="load it into ssh-agent, or set KLINELAB_SSH_KEY_PASSPHRASE") from None
        except (paramiko.SSHException, ValueError, OSError) as e:
            raise BadInput(f"key file {kp} cannot be read: {e}") from None
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(RefuseUnknown())
    hk = _known_hosts(ws)
    for name in hk:
        for ktype, key in hk[name].items():
            client.get_host_keys().add(name, ktype, key)
    sock = open_socket(profile, timeout)
    try:
        client.connect(profile.host, profile.port, username=profile.user, pkey=pkey, password=password, sock=sock,
                       allow_agent=profile.agent, look_for_keys=profile.look_for_keys and pkey is None, timeout=timeout,
                       banner_timeout=timeout, auth_timeout=timeout, transport_factory=_transport_factory)
    except KlineLabError:
        client.close()
        raise
    except paramiko.BadHostKeyException as e:
        client.close()
        raise HostKeyChanged(
            f"{profile.label}: the host key CHANGED: it now presents {fingerprint(e.key)}, the trusted key is "
            f"{fingerprint(e.expected_key)}. Refused: this is what a man-in-the-middle attack looks like (or the "
            f"server was reinstalled)",
            hint=f"only if you know why it changed: `python -m engine sync ssh forget --host {profile.name}` and trust "
                 "the new key") from None
    except paramiko.AuthenticationException as e:
        client.close()
        how = ", ".join(x for x in (f"key file {profile.key_file}" if profile.key_file else "",
                                    "SSH agent" if profile.agent else "", "password" if password else "",
                                    "default keys (~/.ssh)" if profile.look_for_keys and pkey is None else "") if x)
        raise Refused(f"{profile.label}: authentication failed (tried: {how or 'nothing'}): {e}",
                      hint="check the user name, that the public key is in the host's authorized_keys, or the password") from None
    except (paramiko.SSHException, EOFError) as e:
        client.close()
        raise RemoteError(f"{profile.label}: SSH handshake failed: {e}",
                          hint="is it an SSH server, and is the port right?") from None
    except TimeoutError:
        client.close()
        raise RemoteError(f"{profile.label}: timed out during the SSH handshake") from None
    except OSError as e:
        client.close()
        raise RemoteError(f"{profile.label}: connection lost: {e}") from None
    return client


def run_command(client, command: str, *, timeout: float | None = 600, check: bool = True) -> tuple[int, str, str]:
    """Run a shell command on the host; (exit status, stdout, stderr)."""
    chan = client.get_transport().open_session()
    chan.settimeout(timeout)
    try:
        chan.exec_command(command)
        out, err = bytearray(), bytearray()
        while True:
            if chan.recv_ready():
                out += chan.recv(65536)
            if chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                break
            time.sleep(0.01)
        rc = chan.recv_exit_status()
    except TimeoutError:
        raise RemoteError(f"remote command timed out after {timeout} s: {command[:120]}") from None
    finally:
        chan.close()
    o, e = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    if check and rc != 0:
        raise RemoteError(f"remote command failed (exit {rc}): {command[:160]}: {e.strip()[-400:] or o.strip()[-400:]}")
    return rc, o, e


def remote_sha256(client, path: str, length: int | None = None) -> str:
    """sha256 of a remote file (or of its first ``length`` bytes), computed on the host."""
    q = shlex.quote(path)
    n = int(length) if length is not None else -1
    py = ("import hashlib,sys;h=hashlib.sha256();f=open(sys.argv[1],'rb');n=int(sys.argv[2]);r=0\n"
          "while n<0 or r<n:\n b=f.read(1<<20 if n<0 else min(1<<20,n-r))\n if not b: break\n h.update(b);r+=len(b)\n"
          "print(h.hexdigest())")
    first = f"sha256sum -- {q}" if n < 0 else f"head -c {n} -- {q} | sha256sum"
    cmd = f"{first} 2>/dev/null || python3 -c {shlex.quote(py)} {q} {n}"
    rc, out, err = run_command(client, cmd, check=False)
    digest = out.split()[0] if out.split() else ""
    if rc != 0 or len(digest) != 64:
        raise RemoteError(f"cannot compute the sha256 of {path} on the host: {err.strip()[-200:] or 'no sha256sum / python3'}")
    return digest
