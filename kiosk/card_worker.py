"""Carries out the flow's CaptureCard off the UI thread: the scanner (or hot folder), Tesseract, JPEG.

One thread, one capture at a time; Tesseract's model is loaded on it at the first card. The answer goes
back through `deliver(step)` like the backend's. Nothing of a card stays here after a capture: each job's
images and fields live in that job's frame only, and the flow wipes an answer it no longer wants.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable

from lobby_core.contract import DeviceHealth

from .backend import FlowStep
from .card_capture import CaptureFailed, CardCapture, CardSource, TesseractReader, encode_jpeg, scanner_health
from .flow import CaptureCard, Flow, Step

log = logging.getLogger("kiosk.card")


class CardWorker:
    def __init__(self, flow: Flow, source: CardSource, deliver: Callable[[FlowStep], None], *,
                 before_capture: Callable[[], object] | None = None,
                 reader_factory: Callable[[], TesseractReader] = TesseractReader):  # fmt: skip
        """`before_capture`: the simulated scanner's card put in (`kiosk run --simulate`)."""
        self._flow, self.source, self._deliver = flow, source, deliver
        self._before_capture = before_capture
        self._reader_factory = reader_factory
        self._reader: TesseractReader | None = None
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="kiosk-card", daemon=True)
        self.busy = threading.Event()
        self.name = "card-scanner"
        self._last_problem = ""  # the last capture's failure other than "no card came" (for the desk)

    def start(self) -> "CardWorker":
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self.cancel()
        self._jobs.put(None)
        self._thread.join(timeout_s)
        if self._reader is not None and not self._thread.is_alive():
            self._reader.close()

    def capture(self, effect: CaptureCard) -> None:
        self._jobs.put(lambda: self._capture(effect))

    def cancel(self) -> None:
        """The patient left the reading screen: a capture waiting for a card stops."""
        cancel = getattr(self.source, "cancel", None)
        if cancel is not None:
            cancel()

    def forget(self) -> None:
        """After a session: delete any card image a vendor scanner left in its folder (in order, after a capture)."""
        wipe = getattr(self.source, "wipe", None)
        if wipe is not None:
            self._jobs.put(wipe)

    def health(self) -> DeviceHealth:
        """For the heartbeat and `kiosk doctor` (the scanner itself is not opened: it may be scanning)."""
        return scanner_health(self.name, self.source, last_problem=self._last_problem)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            self.busy.set()
            try:
                job()
            except Exception:  # a bug must not stop the next card; no card data in the message
                log.exception("card job failed")
            finally:
                self.busy.clear()

    def _wanted(self, effect: CaptureCard) -> bool:
        flow = self._flow
        return flow.step is Step.CARD_READING and (flow.session.checkin_id, flow.session.card_attempt) == (effect.checkin_id, effect.attempt)

    def _capture(self, effect: CaptureCard) -> None:
        flow = self._flow
        arm = getattr(self.source, "arm", None)
        if arm is not None:
            arm()  # from here on, the patient's Skip stops the capture
        if not self._wanted(effect):  # skipped before the scanner got to it
            return
        try:
            if self._before_capture is not None:
                self._before_capture()
            if self._reader is None:
                self._reader = self._reader_factory()
            reading = CardCapture(self.source, self._reader).read_card()
        except CaptureFailed as failed:
            log.info("no insurance card read: %s", failed)
            self._last_problem = str(failed)[:120] if str(failed).startswith("scanner") else ""
            self._deliver(lambda: flow.card_failed(effect.checkin_id, effect.attempt))
            return
        except Exception:
            log.exception("insurance card capture failed")
            self._last_problem = "card reading failed"
            self._deliver(lambda: flow.card_failed(effect.checkin_id, effect.attempt))
            return
        self._last_problem = ""
        front = encode_jpeg(reading.sides.front)
        back = encode_jpeg(reading.sides.back) if reading.sides.back is not None else None
        self._deliver(lambda: flow.card_read(effect.checkin_id, effect.attempt, reading, front, back))
