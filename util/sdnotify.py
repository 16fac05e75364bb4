"""The systemd notify protocol (sd_notify(3)) in a few lines.

Under a `Type=notify` unit systemd passes $NOTIFY_SOCKET, an AF_UNIX datagram
socket (a path, or an abstract name written with a leading '@'), and reads
newline-separated `KEY=value` assignments from each datagram: READY=1,
STATUS=..., WATCHDOG=1, STOPPING=1. With `WatchdogSec=` it also passes
$WATCHDOG_USEC (and $WATCHDOG_PID, the process it expects the pings from).

Outside systemd (no $NOTIFY_SOCKET) every call does nothing and returns False,
so the daemon calls these unconditionally. A failed send is logged, never
raised: the service manager going away must not stop the sending.

Written here rather than taken from PyPI: the protocol is these few lines, the
packages that wrap it are either unmaintained (sdnotify, sd-notify) or need
libsystemd and a compiler (cysystemd, systemd-python).
"""
from __future__ import annotations

import logging
import os
import socket
from typing import Optional

logger = logging.getLogger(__name__)


def notify(*assignments: str) -> bool:
    """Send the assignments (e.g. "READY=1") in one datagram; True when sent."""
    address = _socket_address(os.environ.get("NOTIFY_SOCKET", ""))
    if address is None:
        return False
    payload = "\n".join(assignments).encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(payload, address)
    except OSError as error:
        logger.warning("systemd notification %s not delivered to %s: %s",
                       assignments[0].split("=", 1)[0], os.environ["NOTIFY_SOCKET"], error)
        return False
    return True


def _socket_address(value: str) -> Optional[str]:
    """The address to send to; None when there is none this code can use."""
    if value.startswith("@"):
        return "\0" + value[1:]  # the Linux abstract namespace
    if value.startswith("/"):
        return value
    if value:
        logger.warning("NOTIFY_SOCKET=%s is neither a path nor an abstract name: not notifying",
                       value)
    return None


def ready() -> bool:
    """Start-up is complete (the lock is held and the jobs run)."""
    return notify("READY=1")


def status(text: str) -> bool:
    """The one line `systemctl status` shows; a newline would end the assignment."""
    return notify("STATUS=" + " ".join(text.splitlines()))


def watchdog() -> bool:
    """Still healthy: systemd restarts the service when these stop coming."""
    return notify("WATCHDOG=1")


def stopping() -> bool:
    """Shutdown has begun."""
    return notify("STOPPING=1")


def watchdog_timeout() -> Optional[float]:
    """Seconds after which systemd kills a service that sent no WATCHDOG=1,
    or None when it expects no pings from this process. Ping every half of it,
    as sd_watchdog_enabled(3) recommends."""
    pid = os.environ.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None  # set for another process (we were started by it)
    try:
        microseconds = int(os.environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return microseconds / 1e6 if microseconds > 0 else None
