"""systemd's readiness and watchdog protocol (``sd_notify``), without libsystemd.

The unit's ``Type=notify`` waits for ``READY=1``; ``WatchdogSec=`` restarts an agent whose loop
stops sending ``WATCHDOG=1``. The protocol is one datagram of ``KEY=VALUE`` lines to the socket
named by ``$NOTIFY_SOCKET`` (a path, or an abstract socket when it starts with ``@``), per
https://www.freedesktop.org/software/systemd/man/latest/sd_notify.html . Outside systemd the
variable is unset and this does nothing.
"""

from __future__ import annotations

import os
import socket

import structlog

log = structlog.get_logger(__name__)


def notify(*states: str) -> bool:
    """Send ``states`` (e.g. ``"READY=1"``) to systemd; returns whether a socket was there to send to."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address or not hasattr(socket, "AF_UNIX"):
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(states).encode())
    except OSError as exc:  # a missing socket must not stop the agent; systemd will say it timed out
        log.warning("sd_notify_failed", socket=os.environ.get("NOTIFY_SOCKET"), error=str(exc))
        return False
    return True
