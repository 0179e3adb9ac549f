"""Where card images come from: a SANE scanner, or the hot folder a vendor scanner writes into.

Either source hands back both sides in memory and leaves nothing on the kiosk's disk: the hot folder's
files are deleted as soon as they are read.
"""

from __future__ import annotations

import ctypes
import io
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from PIL import Image

CARD_MM = (85.6, 54.0)  # ID-1
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")


@dataclass(frozen=True)
class CardSides:
    front: Image.Image
    back: Image.Image | None


class CardSource(Protocol):
    def capture(self) -> CardSides: ...


class CaptureFailed(Exception):
    """No card came (feeder empty, jam, time-out); the message names the reason, never the card."""


def _keep_sigpipe_ignored() -> None:
    """SANE's reader thread (sanei_thread, used by the `test` backend and many real ones) leaves SIGPIPE at
    its default action, which kills the whole kiosk at its next write to a socket the agent has closed.
    Python ignores SIGPIPE (a closed socket is a BrokenPipeError); put that back. libc's signal() rather
    than signal.signal(), which only the main thread may call."""
    if signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN:
        libc_signal = ctypes.CDLL(None).signal
        libc_signal.restype, libc_signal.argtypes = ctypes.c_void_p, (ctypes.c_int, ctypes.c_void_p)
        libc_signal(signal.SIGPIPE, 1)  # SIG_IGN


def _load(path: Path) -> Image.Image:
    data = path.read_bytes()
    path.unlink()
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@dataclass
class HotFolderSource:
    """Waits for `<stem>_front.<ext>` (and its `_back`), reads both and deletes them."""

    folder: Path
    timeout_s: float = 30.0
    settle_s: float = 0.2  # a scanner writes the back shortly after the front
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _cancelled: threading.Event = field(default_factory=threading.Event, repr=False)

    def _front(self) -> Path | None:
        fronts = sorted(p for p in self.folder.iterdir()
                        if p.suffix.lower() in IMAGE_SUFFIXES and p.stem.lower().endswith("front"))
        return fronts[0] if fronts else None

    def arm(self) -> None:
        """Before a capture: forget an earlier cancel (a cancel after this stops the capture, even one
        that comes before `capture` is called)."""
        self._cancelled.clear()

    def cancel(self) -> None:
        """Stop a capture waiting for a card (the patient skipped): it raises CaptureFailed."""
        self._cancelled.set()

    def capture(self) -> CardSides:
        deadline = self.clock() + self.timeout_s
        while (front := self._front()) is None:
            if self._cancelled.is_set():
                raise CaptureFailed("cancelled")
            if self.clock() > deadline:
                raise CaptureFailed("no card in the hot folder")
            self.sleep(0.05)
        stem = front.stem[: -len("front")]
        back_deadline = self.clock() + self.settle_s
        back = None
        while back is None and self.clock() <= back_deadline:
            back = next((p for p in self.folder.glob(stem + "back.*") if p.suffix.lower() in IMAGE_SUFFIXES), None)
            if back is None:
                self.sleep(0.02)
        return CardSides(front=_load(front), back=_load(back) if back else None)

    def wipe(self) -> None:
        """Delete any card image left in the folder (a side scanned after the patient left)."""
        for path in self.folder.iterdir():
            if path.suffix.lower() in IMAGE_SUFFIXES:
                path.unlink(missing_ok=True)


@dataclass
class SaneSource:
    """A SANE device (`scanimage -L` names it): front then back through the feeder, card-sized, 300 dpi."""

    device: str
    resolution: int = 300
    mode: str = "Color"
    feeder: bool = True

    def check(self) -> str:
        """'' when the device opens (nothing is scanned); else SANE's reason. For `kiosk doctor` with no
        kiosk running: a running kiosk's scanner is only known at a scan, it is not opened beside it."""
        import sane  # kiosk-only dependency

        sane.init()
        try:
            sane.open(self.device).close()
        except Exception as error:
            return f"scanner: {error}"
        finally:
            _keep_sigpipe_ignored()
        return ""

    def _scan(self, scanner) -> Image.Image:
        try:
            return scanner.scan()
        except Exception as error:  # python-sane raises _sane.error with SANE's status text
            raise CaptureFailed(f"scanner: {error}") from None

    def capture(self) -> CardSides:
        import sane  # kiosk-only dependency

        sane.init()
        try:
            scanner = sane.open(self.device)
        except Exception as error:
            raise CaptureFailed(f"scanner: {error}") from None
        try:
            scanner.mode, scanner.resolution = self.mode, self.resolution
            scanner.br_x, scanner.br_y = CARD_MM
            if self.feeder and "source" in scanner.opt and "Automatic Document Feeder" in (scanner.opt["source"].constraint or ()):
                scanner.source = "Automatic Document Feeder"
            front = self._scan(scanner)
            back = self._scan(scanner) if self.feeder else None
            return CardSides(front=front, back=back)
        finally:
            scanner.close()
            _keep_sigpipe_ignored()
