"""Background work that survives its own failures, and whether the store can still write.

    supervisor = Supervisor(failures=metrics.task_failures)
    supervisor.spawn("retention", lambda: retention.keep_purging(..., beat=supervisor.beater("retention")),
                     stale_after_s=2 * PURGE_EVERY_S + 300)
    supervisor.problems()            # ["retention:failing", "schedule-refresh:stale", ...]; [] when all is well

`spawn` runs the coroutine the factory makes; when it raises, the failure is logged (the task's name and
the exception's type only: messages may quote patient data), counted in the Prometheus counter
`lobby_background_task_failures_total{task}`, and a new coroutine is started after a backoff (1 s, doubling
up to BACKOFF_MAX_S; back to 1 s once a run lasted BACKOFF_RESET_S). A coroutine that returns is done
(a one-shot task, or a feature switched off). A task that `beat`s after each cycle and has not for
`stale_after_s` is stale: alive maybe, but not working.

`WriteProbe` rewrites the one row of `write_probe` (migration 0010) every PROBE_EVERY_S, each time
within PROBE_TIMEOUT_S, and checks that the data directory keeps MIN_FREE_BYTES free: a full disk or
another process holding the write lock shows up within seconds, while reads still work. /healthz
(edge_agent/observability.py) and the systemd watchdog (edge_agent/app.py `Agent.healthy`) use both.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Coroutine

from prometheus_client import Counter

from .store import Store

log = logging.getLogger(__name__)

BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 60.0
BACKOFF_RESET_S = 60.0
PROBE_EVERY_S = 5.0
PROBE_TIMEOUT_S = 10.0  # above the agent's lock wait (store.AGENT_LOCK_WAIT_S): a lock shows as "locked"
MIN_FREE_BYTES = 1_000_000  # below this SQLite may fail any write (a WAL frame, a checkpoint)

TaskFactory = Callable[[], Coroutine[object, object, None]]


@dataclass
class _TaskState:
    name: str
    stale_after_s: float | None
    failures: int = 0
    restarting: bool = False  # the last run raised; waiting out the backoff or not yet proven working
    last_beat: float | None = None
    started: float = 0.0


class Supervisor:
    def __init__(self, failures: Counter | None = None, *, backoff_start_s: float = BACKOFF_START_S,
                 clock: Callable[[], float] = time.monotonic):  # fmt: skip
        self._failures = failures
        self._backoff_start_s = backoff_start_s
        self._clock = clock
        self._states: dict[str, _TaskState] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def spawn(self, name: str, factory: TaskFactory, *, stale_after_s: float | None = None) -> asyncio.Task[None]:
        """Run `factory()` for the agent's lifetime, restarted with backoff whenever it raises."""
        state = self._states[name] = _TaskState(name, stale_after_s, started=self._clock())
        task = asyncio.create_task(self._supervise(state, factory), name=name)
        self.tasks.append(task)
        return task

    def beater(self, name: str) -> Callable[[], None]:
        """What a task calls after each cycle that worked."""
        return lambda: self.beat(name)

    def beat(self, name: str) -> None:
        state = self._states[name]
        state.last_beat = self._clock()
        state.restarting = False

    async def _supervise(self, state: _TaskState, factory: TaskFactory) -> None:
        backoff = self._backoff_start_s
        while True:
            started = self._clock()
            try:
                await factory()
                return  # finished on its own: a one-shot task
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - logged, counted, restarted
                state.failures += 1
                state.restarting = True
                if self._clock() - started >= BACKOFF_RESET_S:
                    backoff = self._backoff_start_s
                log.error("background task failed; restarting", extra={
                    "event": state.name, "error": type(exc).__name__, "retry_in_s": backoff, "count": state.failures,
                })  # fmt: skip
                if self._failures is not None:
                    self._failures.labels(task=state.name).inc()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)
            if state.stale_after_s is None:
                state.restarting = False  # nothing to prove it works but that it runs again

    def alive(self, name: str) -> bool:
        """The task exists, is not done, and is not waiting out a failure."""
        state = self._states.get(name)
        task = next((t for t in self.tasks if t.get_name() == name), None)
        return state is not None and task is not None and not task.done() and not state.restarting

    def problems(self) -> list[str]:
        """`name:failing` for a task whose last run raised (until it works again), `name:stale` for one
        that has not beaten for its `stale_after_s`, `name:stopped` for one that ended by a failure."""
        now = self._clock()
        found = []
        for task in self.tasks:
            state = self._states[task.get_name()]
            if task.done() and not task.cancelled() and task.exception() is not None:
                found.append(f"{state.name}:stopped")
            elif state.restarting:
                found.append(f"{state.name}:failing")
            elif state.stale_after_s is not None and now - (state.last_beat or state.started) > state.stale_after_s:
                found.append(f"{state.name}:stale")
        return found

    def failure_counts(self) -> dict[str, int]:
        return {name: state.failures for name, state in self._states.items()}


# --- the write probe ----------------------------------------------------------------------------------


def store_error_code(exc: BaseException) -> str:
    """A fixed code for why a write failed (never the message: it may quote data)."""
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "timeout"
    message = str(exc).lower()
    if isinstance(exc, sqlite3.OperationalError) and ("full" in message):
        return "disk_full"
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in message or "busy" in message):
        return "locked"
    if isinstance(exc, OSError) and exc.errno == 28:
        return "disk_full"
    if isinstance(exc, (sqlite3.DatabaseError, OSError)):
        return "io_error"
    return type(exc).__name__


def _probe(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "INSERT INTO write_probe(only, seq, written_at) VALUES (1, 1, ?)"
        " ON CONFLICT(only) DO UPDATE SET seq = seq + 1, written_at = excluded.written_at RETURNING seq",
        (time.time(),),
    ).fetchone()
    return int(row[0])


class WriteProbe:
    """Whether the store committed a tiny write lately: `ok`, `error` (a code), `last_ok_at` (epoch s)."""

    def __init__(self, store: Store, data_dir: Path, *, every_s: float = PROBE_EVERY_S,
                 timeout_s: float = PROBE_TIMEOUT_S, min_free_bytes: int = MIN_FREE_BYTES):  # fmt: skip
        self.store = store
        self.data_dir = Path(data_dir)
        self.every_s = every_s
        self.timeout_s = timeout_s
        self.min_free_bytes = min_free_bytes
        self.ok: bool | None = None  # None until the first probe
        self.error = ""
        self.last_ok_at: float | None = None

    async def check(self) -> bool:
        """One probe now; records and returns the outcome."""
        try:
            free = await asyncio.to_thread(_free_bytes, self.data_dir)
            if free < self.min_free_bytes:
                raise OSError(28, "no space left on the data directory")
            await asyncio.wait_for(self.store.write(_probe), timeout=self.timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the outcome is the point
            code = store_error_code(exc)
            if self.ok is not False or code != self.error:
                log.error("store cannot write", extra={"reason": code})
            self.ok, self.error = False, code
            return False
        if self.ok is False:
            log.info("store writes again", extra={"reason": self.error})
        self.ok, self.error, self.last_ok_at = True, "", time.time()
        return True

    @property
    def disk_full(self) -> bool:
        """The last probe found the data directory below MIN_FREE_BYTES (or SQLite said it is full)."""
        return self.ok is False and self.error == "disk_full"

    @property
    def healthy(self) -> bool:
        """The last probe worked and is recent (a stuck probe is a failing one)."""
        if not self.ok or self.last_ok_at is None:
            return False
        return time.time() - self.last_ok_at <= self.every_s + self.timeout_s + 5.0

    async def run(self, beat: Callable[[], None] | None = None) -> None:
        while True:
            if await self.check() and beat is not None:
                beat()
            await asyncio.sleep(self.every_s)


def _free_bytes(folder: Path) -> int:
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize
