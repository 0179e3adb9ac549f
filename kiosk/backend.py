"""Carries out the flow's effects off the UI thread: the agent, the spool, the printer, the heartbeat.

One worker thread does everything in order, so a new check-in can never overtake one still in the
spool. Results go back through `deliver(step)`, which the app runs on its own thread: `step` calls the
flow and returns the flow's next effects.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from lobby_core.contract import CheckinRequest, DeviceHealth, Heartbeat, HelpRequest

from .agent_client import AgentClient, AgentRefused, AgentUnreachable
from .flow import Effect, Flow, Lookup, PrintTicket, ReportHealth, RequestHelp, SubmitCheckin
from .spool import Delivery, Spool

if TYPE_CHECKING:
    from .support import KioskSupport, SupportChannel

log = logging.getLogger("kiosk.backend")

FlowStep = Callable[[], list[Effect]]
PrintFunction = Callable[[PrintTicket], bool]  # True when the printer took the ticket


class KioskBackend:
    def __init__(
        self,
        flow: Flow,
        spool: Spool,
        connect: Callable[[], AgentClient | None],
        deliver: Callable[[FlowStep], None],
        *,
        print_ticket: PrintFunction | None = None,
        device_health: Callable[[], list[DeviceHealth]] = list,
        heartbeat_s: float = 10.0,
        app_version: str = "",
    ):
        self._flow = flow
        self.spool = spool
        self._connect = connect
        self._deliver = deliver
        self._print_ticket = print_ticket
        self._device_health = device_health
        self._heartbeat_s = heartbeat_s
        self._app_version = app_version
        self._client: AgentClient | None = None
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._work, name="kiosk-backend", daemon=True)
        self._ticker = threading.Thread(target=self._tick, name="kiosk-heartbeat", daemon=True)
        self.support: SupportChannel | None = None

    def attach_support(self, support: "KioskSupport", state_dir: Path) -> None:
        """Remote support (kiosk/support.py) on its own agent connection, started and stopped with this."""
        from .support import SupportChannel

        self.support = SupportChannel(self._connect, support, state_dir)

    def start(self) -> None:
        self._worker.start()
        self._ticker.start()
        self._jobs.put(self._heartbeat)
        if self.support is not None:
            self.support.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stopping.set()
        if self.support is not None:
            self.support.stop()
        self._jobs.put(None)
        self._worker.join(timeout_s)
        if self._client is not None:
            self._client.close()

    def run(self, effects: list[Effect]) -> None:
        for effect in effects:
            self._jobs.put(lambda effect=effect: self._carry_out(effect))

    # --- the worker -------------------------------------------------------------------------------

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:  # a bug in one job must not stop check-ins; no PHI in the message
                log.exception("backend job failed")

    def _tick(self) -> None:
        while not self._stopping.wait(self._heartbeat_s):
            self._jobs.put(self._heartbeat)

    def _carry_out(self, effect: Effect) -> None:
        flow = self._flow
        if isinstance(effect, Lookup):
            try:
                answer = self._agent().lookup(effect.request)
                self._deliver(lambda: flow.lookup_answered(answer))
            except AgentUnreachable:
                self._deliver(lambda: flow.lookup_failed(unreachable=True))
            except AgentRefused:
                self._deliver(lambda: flow.lookup_failed(unreachable=False))
        elif isinstance(effect, SubmitCheckin):
            self._submit(effect.request)
        elif isinstance(effect, PrintTicket):
            ok = self._print_ticket is not None and self._print_ticket(effect)
            self._deliver(lambda: flow.printed(ok))
        elif isinstance(effect, RequestHelp):
            delivered = self._try(lambda agent: agent.help(HelpRequest(kiosk_id=flow.settings.kiosk_id, screen=effect.screen, language=effect.language)))
            self._deliver(lambda: flow.help_answered(delivered))
        elif isinstance(effect, ReportHealth):
            self._heartbeat()

    def _submit(self, request: CheckinRequest) -> None:
        flow = self._flow
        if self.spool.depth() == 0:
            try:
                answer = self._agent().checkin(request)
                self._deliver(lambda: flow.checkin_answered(answer, offline=False))
                return
            except AgentUnreachable:
                pass
            except AgentRefused as refused:
                log.warning("agent refused a check-in: %s", refused)
                self._deliver(flow.checkin_refused)
                return
        answer = self.spool.add(request, dt.datetime.now(dt.timezone.utc))
        self._deliver(lambda: flow.checkin_answered(answer, offline=True))
        self.forward_spool()

    def _heartbeat(self) -> None:
        beat = Heartbeat(
            kiosk_id=self._flow.settings.kiosk_id,
            app_version=self._app_version,
            devices=self._device_health(),
            spool_depth=self.spool.depth(),
            screen=self._flow.step.value,
        )
        if self._try(lambda agent: agent.heartbeat(beat)):
            self.forward_spool()
            self._refresh_board()

    def _refresh_board(self) -> None:
        try:
            board = self._agent().board()
        except (AgentUnreachable, AgentRefused):
            return
        self._deliver(lambda: self._flow.board_updated(board))

    def forward_spool(self) -> Delivery:
        """Send spooled check-ins oldest first with their own idempotency keys; stop at the first outage."""
        delivered = rejected = 0
        for request in self.spool.pending():
            try:
                self._agent().checkin(request)
            except AgentUnreachable:
                break
            except AgentRefused as refused:
                if refused.status == 429:  # throttled (the lookup's rate limit): not a verdict, try again later
                    break
                if not already_checked_in(refused):
                    self.spool.rejected(request.checkin_id, str(refused))
                    rejected += 1
                    continue
            self.spool.delivered(request.checkin_id)
            delivered += 1
        return Delivery(delivered, rejected, self.spool.depth())

    def _try(self, call: Callable[[AgentClient], None]) -> bool:
        try:
            call(self._agent())
        except (AgentUnreachable, AgentRefused):
            self._deliver(lambda: self._flow.agent_reachable(False))
            return False
        self._deliver(lambda: self._flow.agent_reachable(True))
        return True

    def _agent(self) -> AgentClient:
        if self._client is None:
            self._client = self._connect()
        if self._client is None:
            raise AgentUnreachable("no agent found")
        return self._client


def already_checked_in(refused: AgentRefused) -> bool:
    """The agent committed this check-in before it went away (its answer was lost): it has it already."""
    return refused.status == 409 and refused.problem is not None and refused.problem.error == "idempotency_key_reused"
