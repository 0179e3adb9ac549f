"""Every simulated device of one kiosk, started together, plus the control channel `kiosk sim` talks to.

    lobby = SimulatedLobby(data_dir).start()
    lobby.devices            # list[DeviceConfig] pointing the real drivers at the simulators
    lobby.command("scan", [licence_text])     # what `kiosk sim scan @FILE` does after reading FILE
    lobby.stop()

The control channel is a Unix socket, `<data_dir>/simulators/control.sock`, speaking one JSON object per
line: {"command": "printer", "args": ["paper-out"]} -> {"ok": true, "message": "..."}.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from pathlib import Path

from lobby_core.site_config import DeviceConfig

from .label_printer import SimulatedLabelPrinter
from .pcscd import Pcscd, virtual_reader, vpcd_port
from .receipt_printer import CONDITIONS, SimulatedReceiptPrinter
from .serial_emitters import SimulatedScanner, SimulatedSignaturePad
from .virtual_card import CARDS, VpcdClient

log = logging.getLogger(__name__)
CONTROL_SOCKET = "control.sock"
SIMULATOR_DIR = "simulators"
SCANNER_SUFFIX = "\r\n"
DEMO_CARD_SEEDS = (3, 5, 7)  # synthetic cards that read cleanly: the demo shows the flow, not the OCR's limits

COMMANDS_HELP = (
    "scan TEXT | scan @FILE | insert-card egk|eid|other | remove-card | insurance-card [SEED] | "
    f"printer {'|'.join(CONDITIONS)} | sign | unplug DEVICE | plug DEVICE"
)


class SimulatorError(ValueError):
    pass


def _card_corpus():
    """tools/card_corpus.py from the repository this kiosk runs from (an editable install puts only the
    packages on the path, not tools/)."""
    try:
        from tools import card_corpus
    except ImportError:
        import sys

        repo = Path(__file__).resolve().parents[2]
        if not (repo / "tools" / "card_corpus.py").exists():
            raise SimulatorError("the simulated card scanner needs the repository's tools/card_corpus.py") from None
        sys.path.append(str(repo))
        from tools import card_corpus
    return card_corpus.make_card, card_corpus.write_to_folder


def control_socket_path(data_dir: Path) -> Path:
    return Path(data_dir) / SIMULATOR_DIR / CONTROL_SOCKET


class SimulatedLobby:
    def __init__(self, data_dir: Path, with_card_reader: bool = True, card_slot: int = 0, with_card_scanner: bool = False):
        """`card_slot`: which of vpcd's virtual readers (0 or 1) holds the simulated cards.
        `with_card_scanner`: an insurance card scanner's hot folder, filled by `feed_card` (a synthetic card)."""
        self.directory = Path(data_dir) / SIMULATOR_DIR
        self.directory.mkdir(parents=True, exist_ok=True)
        self.with_card_scanner = with_card_scanner
        self.card_folder = self.directory / "card-scanner"
        self.cards_fed = 0
        self.scanner = SimulatedScanner(self.directory / "scanner.tty", suffix=SCANNER_SUFFIX)
        self.pad = SimulatedSignaturePad(self.directory / "signature-pad.tty")
        self.receipt_printer = SimulatedReceiptPrinter()
        self.label_printer = SimulatedLabelPrinter()
        self.card = VpcdClient(port=vpcd_port(card_slot))
        self.card_reader = virtual_reader(card_slot)
        self.pcscd: Pcscd | None = Pcscd(timeout_s=10) if with_card_reader and Pcscd.available() else None
        self.with_card_reader = with_card_reader
        self._control: socket.socket | None = None
        self._running = threading.Event()

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> "SimulatedLobby":
        if self.with_card_scanner:
            self.card_folder.mkdir(exist_ok=True)
        for device in (self.scanner, self.pad, self.receipt_printer, self.label_printer):
            device.start()
        if self.pcscd is not None:
            try:
                self.pcscd.start()
            except (RuntimeError, OSError) as exc:
                log.warning("simulated card reader unavailable: %s", exc)
                self.pcscd = None
        self._start_control()
        return self

    def stop(self) -> None:
        self._running.clear()
        control, self._control = self._control, None
        if control is not None:
            control.close()
        control_socket_path(self.directory.parent).unlink(missing_ok=True)
        self.card.remove()
        for device in (self.scanner, self.pad, self.receipt_printer, self.label_printer):
            device.stop()
        if self.pcscd is not None:
            self.pcscd.stop()

    def __enter__(self) -> "SimulatedLobby":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def devices(self) -> list[DeviceConfig]:
        """The `[[kiosk.devices]]` entries that point the real drivers at these simulators."""
        devices = [
            DeviceConfig(kind="id_scanner", name="scanner", transport="serial", port=str(self.scanner.link),
                         baudrate=115200, suffix=SCANNER_SUFFIX),
            DeviceConfig(kind="receipt_printer", name="receipt-printer", transport="tcp", host="127.0.0.1",
                         tcp_port=self.receipt_printer.port),
            DeviceConfig(kind="label_printer", name="label-printer", transport="tcp", host="127.0.0.1",
                         tcp_port=self.label_printer.port),
            DeviceConfig(kind="signature_pad", name="signature-pad", transport="serial", port=str(self.pad.link),
                         baudrate=19200, model="topaz-1x5"),  # real pads: parity = "O"; Linux ptys
                                                                # reject re-opening with odd parity
        ]
        if self.with_card_reader:
            devices.insert(1, DeviceConfig(kind="card_reader", name="card-reader", transport="pcsc", reader=self.card_reader))
        if self.with_card_scanner:
            devices.append(DeviceConfig(kind="card_scanner", name="card-scanner", transport="folder", folder=str(self.card_folder)))
        return devices

    def feed_card(self, seed: int | None = None) -> str:
        """What the vendor scanner does with a card put in: both sides into the hot folder. A synthetic US
        insurance card (tools/card_corpus.py, which runs from the repository: the demo's simulator only)."""
        if not self.with_card_scanner:
            raise SimulatorError("this lobby has no card scanner")
        make_card, write_to_folder = _card_corpus()
        self.cards_fed += 1
        card = make_card(DEMO_CARD_SEEDS[(self.cards_fed - 1) % len(DEMO_CARD_SEEDS)] if seed is None else seed)
        write_to_folder(card, self.card_folder, stem=f"sim{self.cards_fed}")
        return "fed an insurance card to the scanner"

    def site_toml(self) -> str:
        """A site file whose kiosk uses these simulators (for `kiosk doctor --config`)."""
        lines = []
        for device in self.devices:
            lines.append("[[kiosk.devices]]")
            for key, value in device.model_dump(exclude_defaults=True).items():
                lines.append(f"{key} = {json.dumps(value)}")
            lines.append("")
        return "\n".join(lines)

    # -- commands -----------------------------------------------------------------------------------

    def command(self, name: str, args: list[str]) -> str:
        """Do one `kiosk sim` command; return what happened, or raise SimulatorError."""
        handler = {
            "scan": self._scan, "insert-card": self._insert_card, "remove-card": self._remove_card,
            "printer": self._printer, "sign": self._sign, "unplug": self._unplug, "plug": self._plug,
            "insurance-card": self._insurance_card,
        }.get(name)
        if handler is None:
            raise SimulatorError(f"unknown command {name!r}; commands: {COMMANDS_HELP}")
        return handler(args)

    def _scan(self, args: list[str]) -> str:
        if not args:
            raise SimulatorError("scan needs TEXT or @FILE")
        text = " ".join(args)  # literal: AAMVA text itself starts with "@"; `kiosk sim` reads @FILE
        try:
            self.scanner.scan(text.rstrip("\r\n"))
        except OSError as exc:
            raise SimulatorError("the scanner is unplugged") from exc
        return f"scanned {len(text)} characters"

    def _insert_card(self, args: list[str]) -> str:
        kind = args[0] if args else ""
        if kind not in CARDS:
            raise SimulatorError(f"insert-card needs one of {', '.join(CARDS)}")
        if self.pcscd is None:
            raise SimulatorError("the card reader simulator is not running (pcscd unavailable)")
        deadline = time.monotonic() + 5
        while True:
            try:
                self.card.insert(CARDS[kind]())
                return f"inserted the {kind} card"
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise SimulatorError(f"virtual reader not reachable: {exc}") from exc
                time.sleep(0.2)

    def _insurance_card(self, args: list[str]) -> str:
        if args and not args[0].isdigit():
            raise SimulatorError("insurance-card takes a seed (a number) or nothing")
        return self.feed_card(int(args[0]) if args else None)

    def _remove_card(self, args: list[str]) -> str:
        self.card.remove()
        return "removed the card"

    def _printer(self, args: list[str]) -> str:
        try:
            self.receipt_printer.set_condition(args[0] if args else "")
        except ValueError as exc:
            raise SimulatorError(str(exc)) from exc
        return f"receipt printer is now {args[0]}"

    def _sign(self, args: list[str]) -> str:
        try:
            self.pad.sign()
        except OSError as exc:
            raise SimulatorError("the signature pad is unplugged") from exc
        return "signed on the pad"

    def _device(self, args: list[str]):
        devices = {"scanner": self.scanner, "signature-pad": self.pad, "receipt-printer": self.receipt_printer,
                   "label-printer": self.label_printer}
        if not args or args[0] not in devices:
            raise SimulatorError(f"name a device: {', '.join(devices)}")
        return devices[args[0]]

    def _unplug(self, args: list[str]) -> str:
        self._device(args).stop()
        return f"unplugged {args[0]}"

    def _plug(self, args: list[str]) -> str:
        self._device(args).start()
        return f"plugged in {args[0]}"

    # -- control channel ----------------------------------------------------------------------------

    def _start_control(self) -> None:
        path = control_socket_path(self.directory.parent)
        path.unlink(missing_ok=True)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(path))
        os.chmod(path, 0o600)
        server.listen(4)
        server.settimeout(0.2)
        self._control = server
        self._running.set()
        threading.Thread(target=self._control_loop, args=(server,), name="sim-control", daemon=True).start()

    def _control_loop(self, server: socket.socket) -> None:
        while self._running.is_set():
            try:
                client, _ = server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with client:
                client.settimeout(10)
                try:
                    request = json.loads(client.makefile("r", encoding="utf-8").readline() or "{}")
                    message = self.command(str(request.get("command", "")), [str(a) for a in request.get("args", [])])
                    reply = {"ok": True, "message": message}
                except (SimulatorError, ValueError) as exc:
                    reply = {"ok": False, "message": str(exc)}
                except OSError:
                    continue
                try:
                    client.sendall((json.dumps(reply) + "\n").encode())
                except OSError:
                    pass


def send_command(data_dir: Path, name: str, args: list[str], timeout_s: float = 15.0) -> dict:
    """Client side of the control channel (what `kiosk sim` runs)."""
    path = control_socket_path(data_dir)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout_s)
        client.connect(str(path))
        client.sendall((json.dumps({"command": name, "args": args}) + "\n").encode())
        return json.loads(client.makefile("r", encoding="utf-8").readline() or '{"ok": false, "message": "no answer"}')
