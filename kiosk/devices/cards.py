"""PC/SC smart-card reader (pyscard): health cards and eIDs become an Identity the moment they are inserted.

Readers come and go (ReaderMonitor), cards are inserted and pulled (CardMonitor). A card pulled out
mid-read, or any card we do not read, gives a CardInserted with no identity and a message key for the
patient; nothing half-read ever leaves this module.
"""

from __future__ import annotations

import threading
import time

from smartcard.CardMonitoring import CardMonitor, CardMonitoringThread, CardObserver
from smartcard.Exceptions import CardConnectionException, NoCardException, SmartcardException
from smartcard.ReaderMonitoring import ReaderMonitor, ReaderObserver
from smartcard.System import readers as list_readers

from . import egk, eid
from .apdu import CardError
from .base import CardInserted, CardRemoved, DeviceState
from .connection_loop import ReconnectingDevice
from .identity import Identity

READER_CHECK_S = 1.0
NOT_SUPPORTED = "card.not_supported"
REMOVED_TOO_SOON = "card.removed_too_soon"
UNREADABLE = "card.unreadable"
CARD_READERS = (egk.read, eid.read)


class _CardObserver(CardObserver):
    def __init__(self, reader: "CardReader"):
        self._reader = reader

    def update(self, observable, changes):
        self._reader._cards_changed(*changes)


class _ReaderObserver(ReaderObserver):
    def __init__(self, reader: "CardReader"):
        self._reader = reader

    def update(self, observable, changes):
        self._reader._readers_changed(*changes)


def read_identity(transmit) -> tuple[Identity | None, str]:
    """Try each card kind in turn: (identity, "") or (None, message key)."""
    for read in CARD_READERS:
        try:
            return read(transmit), ""
        except CardError as exc:
            if exc.sw in (0x6A82, 0x6A86, 0x6D00, 0x6E00):
                continue  # not this kind of card: its application or file is absent
            return None, UNREADABLE
        except (egk.CardDataError, ValueError):
            return None, UNREADABLE
    return None, NOT_SUPPORTED


def _live_card_monitor() -> CardMonitor:
    """pyscard's CardMonitor, with its process-wide thread restarted if it died.

    The thread ends for good when pcscd goes away (SCARD_E_NO_SERVICE); after pcscd comes back a new
    one is needed or no card is ever reported again. pyscard offers no public way to do this.
    """
    monitor = CardMonitor()
    with CardMonitoringThread.lock:
        thread = CardMonitoringThread.instance
        dead = thread is not None and not thread.is_alive()
        if dead:
            CardMonitoringThread.instance = None
    if dead:
        monitor.instance.rmthread = CardMonitoringThread(monitor.instance)
    return monitor


def close_connection(connection) -> None:
    """Disconnect and release the PC/SC context now, not in a destructor after pcscd may be gone."""
    for step in (connection.disconnect, getattr(connection, "release", None)):
        try:
            if step is not None:
                step()
        except SmartcardException:
            pass


def _connect_when_powered(connection, attempts: int = 30, pause_s: float = 0.1) -> bool:
    """Connect to an announced card; False when no card is there at all (a stale or instant removal).

    Readers announce a card a moment before it is powered, so "unpowered" is retried briefly.
    """
    for attempt in range(attempts):
        try:
            connection.connect()
            return True
        except NoCardException:
            return False
        except CardConnectionException:
            if attempt == attempts - 1:
                raise
            time.sleep(pause_s)
    return False


class CardReader(ReconnectingDevice):
    kind = "card_reader"

    def __init__(self, config, on_event):
        super().__init__(config, on_event)
        self._card_observer, self._reader_observer = _CardObserver(self), _ReaderObserver(self)
        self._monitors: list = []
        self._reader_name = ""
        self._reader_present = threading.Event()
        self._reading = threading.Lock()

    def _matches(self, reader) -> bool:
        return self.config.reader in str(reader) if self.config.reader else True

    def _connect(self) -> None:
        try:
            present = [reader for reader in list_readers() if self._matches(reader)]
        except Exception as exc:  # noqa: BLE001 - pyscard raises several kinds when pcscd is absent
            raise ConnectionError("PC/SC service not running") from exc
        if not present:
            raise ConnectionError("no card reader")
        self._reader_name = str(present[0])
        self._reader_present.set()
        reader_monitor, card_monitor = ReaderMonitor(), _live_card_monitor()
        reader_monitor.addObserver(self._reader_observer)
        card_monitor.addObserver(self._card_observer)
        self._monitors = [reader_monitor, card_monitor]
        self._set_status(DeviceState.ONLINE)

    def _serve(self) -> None:
        while not self._stopping.wait(READER_CHECK_S):
            if not self._reader_present.is_set():
                raise ConnectionError("card reader unplugged")
            try:
                still_there = any(str(reader) == self._reader_name for reader in list_readers())
            except Exception as exc:  # noqa: BLE001
                raise ConnectionError("PC/SC service stopped") from exc
            if not still_there:
                raise ConnectionError("card reader unplugged")

    def _disconnect(self) -> None:
        monitors, self._monitors = self._monitors, []
        for monitor, observer in zip(monitors, (self._reader_observer, self._card_observer)):
            monitor.deleteObserver(observer)

    def _absent_reason(self, exc: Exception) -> str:
        return str(exc) if isinstance(exc, ConnectionError) else "no card reader"

    _lost_reason = _absent_reason

    # -- observer callbacks (pyscard's monitor threads) ---------------------------------------------

    def _readers_changed(self, added, removed) -> None:
        if any(str(reader) == self._reader_name for reader in removed):
            self._reader_present.clear()

    def _cards_changed(self, added, removed) -> None:
        for card in removed:
            if str(card.reader) == self._reader_name:
                self._emit(CardRemoved(self.name))
        for card in added:
            if str(card.reader) == self._reader_name and self._reading.acquire(blocking=False):
                # One read at a time: a second "added" for the same slot while reading is the same card.
                threading.Thread(target=self._read_card, args=(card,), name="card-read", daemon=True).start()

    def _read_card(self, card) -> None:
        try:
            outcome = self._identity_from(card)
        finally:
            self._reading.release()
        if outcome is not None:
            self._emit(CardInserted(self.name, *outcome))

    @staticmethod
    def _identity_from(card, attempts: int = 2) -> tuple[Identity | None, str] | None:
        """(identity, "") or (None, message key); None when the slot turned out to be empty.

        A failed exchange with the card still in the slot (a transient reader error, e.g. just after
        pcscd restarted) is read once more from the start; a card that has left is "removed too soon".
        """
        outcome: tuple[Identity | None, str] | None = None
        for _attempt in range(attempts):
            try:
                connection = card.createConnection()
            except SmartcardException:
                return None, UNREADABLE
            try:
                if not _connect_when_powered(connection):
                    return outcome  # nothing (any more) in the slot
                return read_identity(connection.transmit)
            except (NoCardException, CardConnectionException):
                outcome = (None, REMOVED_TOO_SOON)
            except SmartcardException:
                return None, UNREADABLE
            finally:
                close_connection(connection)
        return outcome
