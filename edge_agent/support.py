"""Remote support without PHI: commands staff queue for one kiosk, and what the kiosk answers.

Kiosks only talk to the agent outbound, so a command waits in `support_commands` until its kiosk
collects it (`GET /api/v1/kiosk/commands`, a long poll: edge_agent/support_routes.py) and posts its
result. The desk and `edge-agent kiosk ACTION KIOSK_ID` both go through this module:

    command_id = store.write_sync(lambda c: support.queue(c, "kiosk-1", "logs", "cli:root"))
    state = support.wait_for(store, command_id, timeout_s=60)     # CommandState, finished or not

Every request and every outcome (ok / refused / failed / expired) is in the audit log with who asked,
which kiosk and which action. A command not carried out within its time to live expires. Log lines are
filtered again on the way in (`LogFilter`): only allow-listed fields, and any word that is a name on
today's schedule, anything date-like and long digit runs are redacted, whatever the kiosk sent.
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Iterable, TypedDict

from lobby_core.appointments import ScheduledAppointment
from lobby_core.contract import (
    MAX_SUPPORT_LOG_LINES,
    SUPPORT_ACTIONS,
    LogValue,
    SupportCommand,
    SupportLogLine,
    SupportResult,
)

from . import matching
from .desk import audit
from .json_types import JsonObject
from .observability import SAFE_FIELDS
from .store import Store

COMMAND_TTL_S = 120.0
# A command handed out but not answered within this goes out again: the poll that took it may have been
# left behind by a kiosk that restarted or lost its network (kiosks ignore a command they already ran).
REDELIVER_S = 10.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SCREENSHOT_BYTES = 3_000_000
REDACTED = "[redacted]"
# Fields a kiosk log line may carry besides the agent's own allow-list (observability.SAFE_FIELDS).
KIOSK_LOG_FIELDS = SAFE_FIELDS | {"device", "kind", "state", "exception", "command", "spool_depth"}
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_DATE_LIKE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_LONG_DIGITS = re.compile(r"\d{6,}")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?Z?$")


class SupportError(Exception):
    """A command that cannot be queued (unknown kiosk, unknown action); the message says why."""


class FilteredLogLine(TypedDict):
    """A kiosk log line as kept after `LogFilter`."""

    ts: str
    level: str
    logger: str
    msg: str
    fields: dict[str, LogValue]


@dataclass(frozen=True)
class CommandState:
    id: int
    kiosk_id: str
    action: str
    requested_by: str
    requested_at: float
    expires_at: float
    delivered_at: float | None
    finished_at: float | None
    outcome: str | None
    result: JsonObject = field(default_factory=dict)  # as stored by `finish`: reason, devices, log_lines
    has_screenshot: bool = False

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    def as_json(self) -> JsonObject:
        return {
            "id": self.id, "kiosk_id": self.kiosk_id, "action": self.action, "requested_by": self.requested_by,
            "requested_at": self.requested_at, "expires_at": self.expires_at, "delivered": self.delivered_at is not None,
            "finished": self.finished, "outcome": self.outcome, "reason": self.result.get("reason", ""),
            "devices": self.result.get("devices", []), "log_lines": self.result.get("log_lines", []),
            "has_screenshot": self.has_screenshot,
        }  # fmt: skip


# --- staff side ----------------------------------------------------------------------------------


def queue(conn: sqlite3.Connection, kiosk_id: str, action: str, requested_by: str, *, lines: int = 100,
          ttl_s: float = COMMAND_TTL_S, now: float | None = None) -> int:  # fmt: skip
    """Queue a command inside the caller's write (audited with it); returns its id."""
    if action not in SUPPORT_ACTIONS:
        raise SupportError(f"unknown action {action!r}; one of {', '.join(SUPPORT_ACTIONS)}")
    if not 1 <= lines <= MAX_SUPPORT_LOG_LINES:
        raise SupportError(f"lines must be 1..{MAX_SUPPORT_LOG_LINES}")
    enrolled = conn.execute("SELECT 1 FROM kiosks WHERE kiosk_id = ? AND revoked_at IS NULL", (kiosk_id,)).fetchone()
    if enrolled is None:
        raise SupportError(f"no enrolled kiosk {kiosk_id!r}")
    now = time.time() if now is None else now
    command_id: int = conn.execute(
        "INSERT INTO support_commands(kiosk_id, action, lines, requested_by, requested_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (kiosk_id, action, lines, requested_by, now, now + ttl_s),
    ).fetchone()[0]
    audit.record(conn, requested_by, "support.request", kiosk_id, {"action": action, "command": command_id})
    return command_id


def state(conn: sqlite3.Connection, command_id: int) -> CommandState | None:
    row = conn.execute(
        "SELECT id, kiosk_id, action, requested_by, requested_at, expires_at, delivered_at, finished_at, outcome,"
        " result, screenshot IS NOT NULL AS has_screenshot FROM support_commands WHERE id = ?",
        (command_id,),
    ).fetchone()
    if row is None:
        return None
    return CommandState(
        row["id"], row["kiosk_id"], row["action"], row["requested_by"], row["requested_at"], row["expires_at"],
        row["delivered_at"], row["finished_at"], row["outcome"], json.loads(row["result"]), bool(row["has_screenshot"]),
    )  # fmt: skip


def screenshot(conn: sqlite3.Connection, command_id: int) -> bytes | None:
    row = conn.execute("SELECT screenshot FROM support_commands WHERE id = ?", (command_id,)).fetchone()
    return row[0] if row else None


def expire_overdue(conn: sqlite3.Connection, now: float | None = None) -> int:
    """Close every unfinished command past its time as `expired` (audited); returns how many."""
    now = time.time() if now is None else now
    overdue = conn.execute(
        "UPDATE support_commands SET finished_at = ?, outcome = 'expired', result = '{\"reason\":\"no_answer\"}'"
        " WHERE finished_at IS NULL AND expires_at <= ? RETURNING id, kiosk_id, action, requested_by",
        (now, now),
    ).fetchall()
    for row in overdue:
        _audit_outcome(conn, row["requested_by"], row["kiosk_id"], row["action"], row["id"], "expired", "no_answer")
    return len(overdue)


def wait_for(store: Store, command_id: int, timeout_s: float, poll_s: float = 0.2) -> CommandState | None:
    """Block until the command finished (or expired) or `timeout_s` passed; its state then."""
    deadline = time.monotonic() + timeout_s
    while True:
        store.write_sync(expire_overdue)
        current = store.read_sync(lambda c: state(c, command_id))
        if current is None or current.finished or time.monotonic() >= deadline:
            return current
        time.sleep(poll_s)


# --- kiosk side ----------------------------------------------------------------------------------


_WAITING = ("kiosk_id = ? AND finished_at IS NULL AND expires_at > ?"
            " AND (delivered_at IS NULL OR delivered_at <= ?)")


def take_waiting(conn: sqlite3.Connection, kiosk_id: str, now: float | None = None) -> list[SupportCommand]:
    """The kiosk's open commands not handed out (or handed out REDELIVER_S ago), marked delivered now."""
    now = time.time() if now is None else now
    rows = conn.execute(
        f"UPDATE support_commands SET delivered_at = ? WHERE {_WAITING} RETURNING id, action, lines, expires_at",
        (now, kiosk_id, now, now - REDELIVER_S),
    ).fetchall()
    return sorted(
        (SupportCommand(id=r["id"], action=r["action"], lines=r["lines"], expires_at=r["expires_at"]) for r in rows),
        key=lambda command: command.id,
    )


def has_waiting(conn: sqlite3.Connection, kiosk_id: str, now: float | None = None) -> bool:
    now = time.time() if now is None else now
    return conn.execute(
        f"SELECT 1 FROM support_commands WHERE {_WAITING} LIMIT 1", (kiosk_id, now, now - REDELIVER_S)
    ).fetchone() is not None


class ResultRefused(Exception):
    """A result the agent does not take: `status` is the HTTP status to answer with."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code = status, code


def finish(conn: sqlite3.Connection, kiosk_id: str, command_id: int, result: SupportResult, log_filter: "LogFilter",
           now: float | None = None) -> CommandState:  # fmt: skip
    """Record a kiosk's result (filtered), audited with the outcome. Only the kiosk the command is for may."""
    now = time.time() if now is None else now
    row = conn.execute(
        "SELECT action, requested_by, finished_at, outcome, expires_at FROM support_commands WHERE id = ? AND kiosk_id = ?",
        (command_id, kiosk_id),
    ).fetchone()
    if row is None:  # another kiosk's command looks exactly like no command at all
        raise ResultRefused(404, "no_such_command", "No such command for this kiosk.")
    if row["finished_at"] is not None:
        code = "command_expired" if row["outcome"] == "expired" else "already_answered"
        raise ResultRefused(409 if code == "already_answered" else 410, code, "The command is already closed.")
    png = _screenshot_bytes(result) if row["action"] == "screenshot" and result.outcome == "ok" else None
    stored: dict[str, object] = {"reason": result.reason}
    if row["action"] == "device_check":
        stored["devices"] = [device.model_dump(mode="json") for device in result.devices]
    if row["action"] == "logs":
        stored["log_lines"] = log_filter.lines(result.log_lines)
    conn.execute(
        "UPDATE support_commands SET finished_at = ?, outcome = ?, result = ?, screenshot = ? WHERE id = ?",
        (now, result.outcome, json.dumps(stored, separators=(",", ":")), png, command_id),
    )
    _audit_outcome(conn, row["requested_by"], kiosk_id, row["action"], command_id, result.outcome, result.reason)
    finished = state(conn, command_id)
    assert finished is not None
    return finished


def _screenshot_bytes(result: SupportResult) -> bytes:
    try:
        png = base64.b64decode(result.screenshot_png, validate=True)
    except ValueError:
        raise ResultRefused(422, "invalid_screenshot", "screenshot_png is not base64.") from None
    if not png.startswith(PNG_SIGNATURE) or len(png) > MAX_SCREENSHOT_BYTES:
        raise ResultRefused(422, "invalid_screenshot", "screenshot_png must be a PNG of at most 3 MB.")
    return png


def _audit_outcome(conn: sqlite3.Connection, actor: str, kiosk_id: str, action: str, command_id: int, outcome: str,
                   reason: str) -> None:  # fmt: skip
    detail = {"command": command_id, "outcome": outcome, **({"reason": reason} if reason else {})}
    audit.record(conn, actor, f"support.{action}", kiosk_id, detail)


# --- what leaves a kiosk's logs --------------------------------------------------------------------


class LogFilter:
    """The allow-list filter for kiosk log lines, applied by the agent whatever the kiosk already did.

    A line keeps its timestamp, level, logger, message and only the allow-listed fields with scalar
    values. Every text is scrubbed: words that are a scheduled patient's name, date-like strings and
    runs of six or more digits become `[redacted]`.
    """

    def __init__(self, names: Iterable[str] = ()):
        self._names = frozenset(
            word for name in names for word in matching.name_words(name) if len(word) >= 2
        )

    @classmethod
    def for_schedule(cls, appointments: Iterable[ScheduledAppointment]) -> LogFilter:
        return cls(name for a in appointments for name in (a.family, a.given))

    def scrub(self, text: str) -> str:
        text = _DATE_LIKE.sub(REDACTED, text)
        text = _LONG_DIGITS.sub(REDACTED, text)

        def word(match: re.Match[str]) -> str:
            return REDACTED if set(matching.name_words(match.group())) & self._names else match.group()

        return _WORD.sub(word, text)

    def line(self, line: SupportLogLine) -> FilteredLogLine:
        fields: dict[str, LogValue] = {}
        for key, value in line.fields.items():
            if key in KIOSK_LOG_FIELDS:
                fields[key] = self.scrub(value)[:200] if isinstance(value, str) else value
        return {
            "ts": line.ts if _TIMESTAMP.match(line.ts) else "",
            "level": self.scrub(line.level)[:10],
            "logger": self.scrub(line.logger)[:60],
            "msg": self.scrub(line.msg),
            "fields": fields,
        }

    def lines(self, lines: Iterable[SupportLogLine]) -> list[FilteredLogLine]:
        return [self.line(line) for line in lines]
