"""A debug monitor of event-loop stalls: a task that wakes every 10 ms and keeps the largest delay seen.

    EDGE_AGENT_LOOP_LAG_MONITOR=1 edge-agent serve ...   # /metrics: edge_agent_event_loop_lag_max_seconds

Anything that runs on the event loop without yielding (a blocking SQLite call, heavy CPU work, a lock or
disk wait) delays the monitor's wake-up by as long as it ran. Time the loop's thread spent waiting for a
CPU (Linux schedstat) is taken off: a busy machine is not a blocked loop. Startup does not count (the
server resets the monitor once it serves: startup ends with one deliberate full garbage collection).
Off unless the variable is set: tests turn it on.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Callable, Mapping

ENV_VAR = "EDGE_AGENT_LOOP_LAG_MONITOR"
INTERVAL_S = 0.010
METRIC = "edge_agent_event_loop_lag_max_seconds"


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get(ENV_VAR, "") not in ("", "0")


def cpu_wait_clock() -> Callable[[], float]:
    """Seconds the calling thread has spent runnable but waiting for a CPU (0.0 where Linux does not say)."""
    path = f"/proc/self/task/{threading.get_native_id()}/schedstat"  # run time, run-queue wait, slices (ns)

    def waited_s() -> float:
        try:
            with open(path, "rb") as stat:
                return int(stat.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return 0.0

    return waited_s


class LoopLagMonitor:
    def __init__(self, interval_s: float = INTERVAL_S):
        self.interval_s = interval_s
        self.max_lag_s = 0.0
        self._forget_current = False

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        cpu_waited = cpu_wait_clock()
        while True:
            due = loop.time() + self.interval_s
            waited_before = cpu_waited()
            self._forget_current = False
            await asyncio.sleep(self.interval_s)
            lag = loop.time() - due - (cpu_waited() - waited_before)
            if not self._forget_current:
                self.max_lag_s = max(self.max_lag_s, lag)

    def reset(self) -> None:
        """Forget what was seen so far, the wait in progress too (the server calls it once startup is over)."""
        self.max_lag_s = 0.0
        self._forget_current = True
