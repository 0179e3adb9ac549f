"""Tell systemd how the agent is doing: READY=1 once serving, WATCHDOG=1 while healthy, STOPPING=1 on exit.

The protocol is one datagram per message on the AF_UNIX socket named by $NOTIFY_SOCKET (a leading '@'
means the abstract namespace). Without $NOTIFY_SOCKET (tests, the demo, a terminal) every call is a no-op.
The watchdog pings only while `healthy()` says so; when it stops saying so systemd restarts the unit after
WatchdogSec.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Awaitable, Callable

log = logging.getLogger(__name__)

HealthProbe = Callable[[], Awaitable[bool]]


def notify(message: str) -> bool:
    """Send one state line ('READY=1', ...). True when systemd was told, False without a notify socket."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.connect(address)
        sock.sendall(message.encode())
    return True


def ready() -> bool:
    return notify("READY=1")


def stopping() -> bool:
    return notify("STOPPING=1")


def watchdog_interval_s() -> float | None:
    """Half of WatchdogSec, as systemd recommends; None when this process has no watchdog."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1_000_000 / 2


async def feed_watchdog(healthy: HealthProbe, interval_s: float | None = None) -> None:
    """Ping WATCHDOG=1 every interval while `healthy()` answers True in time; run until cancelled."""
    interval_s = interval_s or watchdog_interval_s()
    if interval_s is None:
        return
    while True:
        try:
            ok = await asyncio.wait_for(healthy(), timeout=interval_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the probe means "not healthy"
            log.warning("watchdog probe failed: %s", type(exc).__name__)
            ok = False
        if ok:
            notify("WATCHDOG=1")
        else:
            log.warning("agent unhealthy: withholding the systemd watchdog ping")
        await asyncio.sleep(interval_s)
