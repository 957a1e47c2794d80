"""systemd's readiness and watchdog protocol (``sd_notify``), without libsystemd.

The unit's ``Type=notify`` waits for ``READY=1``; ``WatchdogSec=`` restarts an agent whose loop
stops sending ``WATCHDOG=1``. The protocol is one datagram of ``KEY=VALUE`` lines to the socket
named by ``$NOTIFY_SOCKET`` (a path, or an abstract socket when it starts with ``@``), per
https://www.freedesktop.org/software/systemd/man/latest/sd_notify.html . Outside systemd the
variable is unset and this does nothing.
"""

from __future__ import annotations

import math
import os
import socket
import time

import structlog

log = structlog.get_logger(__name__)

SEND_TIMEOUT_SECONDS = 1.0
#: Feed the watchdog at most this often when systemd does not say (``$WATCHDOG_USEC``) how often.
WATCHDOG_EVERY_SECONDS = 5.0
_last_watchdog = -math.inf


def notify(*states: str) -> bool:
    """Send ``states`` (e.g. ``"READY=1"``) to systemd; returns whether a socket was there to send to."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address or not hasattr(socket, "AF_UNIX"):
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            # A reader that stops reading fills the socket's queue (10 datagrams by default): a
            # blocking send would then hang the agent, SIGTERM included. Give up after a second.
            sock.settimeout(SEND_TIMEOUT_SECONDS)
            sock.connect(address)
            sock.sendall("\n".join(states).encode())
    except OSError as exc:  # a missing socket must not stop the agent; systemd will say it timed out
        log.warning("sd_notify_failed", socket=os.environ.get("NOTIFY_SOCKET"), error=str(exc))
        return False
    return True


def watchdog() -> bool:
    """Send ``WATCHDOG=1``, at most twice per ``WatchdogSec=`` (systemd passes it as
    ``$WATCHDOG_USEC``) and at most every 5 seconds: a loop going round several times a second
    must not flood the socket. Returns whether a message was sent."""
    global _last_watchdog
    usec = os.environ.get("WATCHDOG_USEC", "")
    every = min(WATCHDOG_EVERY_SECONDS, int(usec) / 2e6) if usec.isdigit() and int(usec) else WATCHDOG_EVERY_SECONDS
    now = time.monotonic()
    if now - _last_watchdog < every:
        return False
    _last_watchdog = now
    return notify("WATCHDOG=1")
