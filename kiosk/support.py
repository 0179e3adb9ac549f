"""Remote support, the kiosk's side: collect staff's commands from the agent, carry them out, answer.

The kiosk only talks to the agent outbound: `SupportChannel` keeps one long poll open
(`GET /api/v1/kiosk/commands?wait=25`, its own connection, so check-ins never queue behind it), and
posts each result. What `KioskSupport` does, and never with PHI:

- `print_test_ticket`: a ticket numbered TEST-0000 on the receipt printer;
- `device_check`: asks every open device for its status now, and sends a heartbeat so the desk sees it;
- `logs`: the newest lines of `RecentLogs` (message templates and allow-listed fields only: never a
  log call's arguments, never an exception's text);
- `screenshot`: a PNG of the attract screen (ticket numbers only);
- `restart`: the app stops and starts again (kiosk/launch.py re-executes it); the result is posted by
  the new process, which proves it came back.

Printing, restarting and the screenshot are refused (`patient_session`) unless the kiosk is at rest:
the attract screen with nothing of a patient in the session. The check and the action run together on
the UI thread (`on_ui`), so a patient cannot step in between.
"""

from __future__ import annotations

import base64
import collections
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, TypeVar

from lobby_core.contract import DeviceHealth, SupportCommand, SupportLogLine, SupportResult

from .agent_client import AgentClient, AgentRefused, AgentUnreachable
from .flow import Flow, PrintTicket, Step

log = logging.getLogger("kiosk.support")
T = TypeVar("T")
TEST_TICKET = "TEST-0000"
RESTART_STATE = "support-restart.json"
LONG_POLL_S = 25.0
RETRY_S = 5.0
RING_LINES = 1000
LOG_FIELDS = frozenset({"kiosk_id", "checkin_id", "ticket", "device", "kind", "state", "reason", "screen",
                        "outcome", "status", "error", "code", "count", "depth", "spool_depth", "command", "action"})  # fmt: skip


class RecentLogs(logging.Handler):
    """The kiosk's newest log records, kept in memory as PHI-free lines for `logs`.

    A line keeps the record's time, level, logger and message template (`record.msg`, not the formatted
    message: arguments may carry data), the allow-listed `extra` fields, and an exception's type only.
    """

    def __init__(self, capacity: int = RING_LINES):
        super().__init__(logging.INFO)
        self._lines: collections.deque[SupportLogLine] = collections.deque(maxlen=capacity)

    @classmethod
    def install(cls) -> "RecentLogs":
        root = logging.getLogger()
        for handler in root.handlers:
            if isinstance(handler, cls):
                return handler
        handler = cls()
        root.addHandler(handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        return handler

    def emit(self, record: logging.LogRecord) -> None:
        fields = {key: value for key, value in record.__dict__.items()
                  if key in LOG_FIELDS and isinstance(value, (str, int, float, bool, type(None)))}  # fmt: skip
        if record.exc_info and record.exc_info[0] is not None:
            fields["exception"] = record.exc_info[0].__name__
        self._lines.append(SupportLogLine(
            ts=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            level=record.levelname.lower(), logger=record.name[:200], msg=str(record.msg)[:300], fields=fields,
        ))  # fmt: skip

    def newest(self, count: int) -> list[SupportLogLine]:
        return list(self._lines)[-count:]


def at_rest(flow: Flow) -> bool:
    """The attract screen with nothing of a patient held: the only state remote support may touch."""
    session = flow.session
    return (
        flow.step is Step.ATTRACT and session.identity is None and session.lookup is None
        and not session.typed.family and not session.typed.birth_digits and not session.consents
    )  # fmt: skip


def direct(work: Callable[[], T]) -> T:
    return work()


class KioskSupport:
    """Carries out one support command. `on_ui` runs a function on the UI thread and returns its value."""

    def __init__(
        self,
        flow: Flow,
        *,
        logs: RecentLogs,
        on_ui: Callable[[Callable[[], object]], object] = direct,
        print_ticket: Callable[[PrintTicket], bool] | None = None,
        device_check: Callable[[], list[DeviceHealth]] = list,
        screenshot: Callable[[], bytes] | None = None,
        restart: Callable[[], None] | None = None,
    ):
        self._flow = flow
        self._logs = logs
        self._on_ui = on_ui
        self._print_ticket = print_ticket
        self._device_check = device_check
        self._screenshot = screenshot
        self._restart = restart

    def carry_out(self, command: SupportCommand) -> SupportResult | None:
        """The result to post, or None when it is posted later (after a restart)."""
        try:
            return getattr(self, f"_do_{command.action}")(command)
        except Exception as exc:  # a broken device must not stop the channel; the type is enough
            log.warning("support command failed", extra={"action": command.action, "error": type(exc).__name__})
            return SupportResult(outcome="failed", reason=type(exc).__name__)

    def _when_at_rest(self, work: Callable[[], SupportResult | None]) -> SupportResult | None:
        return self._on_ui(lambda: work() if at_rest(self._flow) else SupportResult(outcome="refused", reason="patient_session"))  # type: ignore[return-value]

    def _do_print_test_ticket(self, _command: SupportCommand) -> SupportResult | None:
        job = PrintTicket(ticket=TEST_TICKET, position=0, estimated_wait_min=0, language=self._flow.language)

        def print_it() -> SupportResult:
            if self._print_ticket is None:
                return SupportResult(outcome="failed", reason="no_printer")
            return SupportResult(outcome="ok") if self._print_ticket(job) else SupportResult(outcome="failed", reason="not_printed")

        return self._when_at_rest(print_it)

    def _do_device_check(self, _command: SupportCommand) -> SupportResult:
        return SupportResult(outcome="ok", devices=self._device_check())

    def _do_logs(self, command: SupportCommand) -> SupportResult:
        return SupportResult(outcome="ok", log_lines=self._logs.newest(command.lines))

    def _do_screenshot(self, _command: SupportCommand) -> SupportResult | None:
        def take() -> SupportResult:
            if self._screenshot is None:
                return SupportResult(outcome="failed", reason="no_display")
            return SupportResult(outcome="ok", screenshot_png=base64.b64encode(self._screenshot()).decode())

        return self._when_at_rest(take)

    def _do_restart(self, _command: SupportCommand) -> SupportResult | None:
        def go() -> SupportResult | None:
            if self._restart is None:
                return SupportResult(outcome="failed", reason="cannot_restart")
            self._restart()
            return None  # the next process answers

        return self._when_at_rest(go)


class SupportChannel:
    """The long poll for commands, on its own thread and its own agent connection."""

    def __init__(self, connect: Callable[[], AgentClient | None], support: KioskSupport, state_dir: Path,
                 *, long_poll_s: float = LONG_POLL_S, retry_s: float = RETRY_S):  # fmt: skip
        self._connect = connect
        self._support = support
        self._restart_file = Path(state_dir) / RESTART_STATE
        self._long_poll_s = long_poll_s
        self._retry_s = retry_s
        self._client: AgentClient | None = None
        self._handled: collections.deque[int] = collections.deque(maxlen=200)  # the agent may hand one out twice
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kiosk-support", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stopping.set()
        if self._client is not None:
            self._client.close()  # ends a long poll in flight
        self._thread.join(timeout_s)

    def remember_restart(self, command_id: int) -> None:
        """Before restarting: the next process answers the command (written durably first)."""
        self._restart_file.parent.mkdir(parents=True, exist_ok=True)
        scratch = self._restart_file.with_suffix(".tmp")
        with scratch.open("w", encoding="utf-8") as handle:
            json.dump({"command": command_id, "at": time.time()}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(scratch, self._restart_file)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                client = self._agent()
                self._answer_restart(client)
                for command in client.support_commands(self._long_poll_s).commands:
                    if command.id in self._handled or self._stopping.is_set():
                        continue
                    self._handled.append(command.id)
                    if command.action == "restart":
                        self.remember_restart(command.id)
                    result = self._support.carry_out(command)
                    if result is not None:
                        if command.action == "restart":
                            self._restart_file.unlink(missing_ok=True)  # refused: no restart is coming
                        self._post(client, command.id, result)
            except Exception as exc:  # noqa: BLE001 - unreachable, refused, or the client closed by stop()
                if self._stopping.is_set():
                    return
                log.info("support channel waiting for the agent", extra={"error": type(exc).__name__})
                self._client = None
                self._stopping.wait(self._retry_s)

    def _answer_restart(self, client: AgentClient) -> None:
        if not self._restart_file.exists():
            return
        try:
            command_id = int(json.loads(self._restart_file.read_text(encoding="utf-8"))["command"])
        except (ValueError, KeyError, TypeError):
            self._restart_file.unlink(missing_ok=True)
            return
        self._handled.append(command_id)
        self._post(client, command_id, SupportResult(outcome="ok", reason="restarted"))
        self._restart_file.unlink(missing_ok=True)

    def _post(self, client: AgentClient, command_id: int, result: SupportResult) -> None:
        try:
            client.support_result(command_id, result)
        except AgentRefused as refused:  # expired or already answered: nothing more to do
            log.info("support result not taken", extra={"command": command_id, "status": refused.status})
        log.info("support command answered", extra={"command": command_id, "outcome": result.outcome})

    def _agent(self) -> AgentClient:
        if self._client is None:
            self._client = self._connect()
        if self._client is None:
            raise AgentUnreachable("no agent found")
        return self._client


def for_app(app) -> KioskSupport:
    """The support actions of the running Kivy app (`KioskApp`): its printer, devices and window."""
    import tempfile

    from kivy.clock import Clock
    from kivy.core.window import Window

    from .flow import ReportHealth

    first_frame = threading.Event()  # before it, a screenshot would be of an empty (black) buffer

    def on_flip(*_args) -> None:
        first_frame.set()
        Window.unbind(on_flip=on_flip)

    Window.bind(on_flip=on_flip)

    def on_ui(work: Callable[[], T]) -> T:
        if not first_frame.wait(30.0):
            raise TimeoutError("the window never drew a frame")
        done, box = threading.Event(), {}

        def run(_dt) -> None:
            try:
                box["value"] = work()
            except BaseException as exc:  # noqa: BLE001 - re-raised on the asking thread
                box["error"] = exc
            finally:
                done.set()

        Clock.schedule_once(run)
        if not done.wait(10.0):
            raise TimeoutError("the UI thread did not answer")
        if "error" in box:
            raise box["error"]
        return box["value"]

    def screenshot() -> bytes:
        with tempfile.TemporaryDirectory(prefix="kiosk-support-") as folder:
            taken = Path(Window.screenshot(name=str(Path(folder) / "attract.png")))
            return taken.read_bytes()

    def device_check() -> list[DeviceHealth]:
        report = []
        for device in list(app.devices):
            if hasattr(device, "refresh_status"):
                device.refresh_status()
            report.append(device.health())
        app.backend.run([ReportHealth()])
        return report

    def restart() -> None:
        app.restart_requested = True
        app.stop()

    return KioskSupport(app.flow, logs=RecentLogs.install(), on_ui=on_ui, print_ticket=app._print_ticket,
                        device_check=device_check, screenshot=screenshot, restart=restart)  # fmt: skip
