"""The TCP connection to an SSH host, its failures explained (unknown name, refused, timeout)."""
from __future__ import annotations

import socket

from config.errors import RemoteError
from engine.sync.ssh.profiles import HostProfile


def open_socket(profile: HostProfile, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((profile.host, profile.port), timeout=timeout)
    except socket.gaierror as e:
        raise RemoteError(f"{profile.label}: unknown host name {profile.host!r} ({e.strerror})",
                          hint="check the host name or IP address") from None
    except ConnectionRefusedError:
        raise RemoteError(f"{profile.label}: connection refused: nothing listens on port {profile.port}",
                          hint="is the machine running and its SSH server started? is the port right?") from None
    except TimeoutError:
        raise RemoteError(f"{profile.label}: no answer within {timeout:.0f} s (machine off, wrong address or a firewall)",
                          hint="check that the machine is running and reachable") from None
    except OSError as e:
        raise RemoteError(f"{profile.label}: cannot connect: {e.strerror or e}") from None
    sock.settimeout(None)
    return sock
