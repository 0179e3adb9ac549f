"""How fast the device layer turns raw bytes into meaning, beside the bare minimum for the same input.

Also end to end through the simulators: scan-to-event latency over a pseudo-terminal (baseline: a raw
read of the same pty), and a ticket print with its two status checks over TCP (baseline: sending the
same bytes on a raw socket).

    .venv/bin/python bench/devices_parsing.py [--before REF] [--aamva-only]

AAMVA: `kiosk.devices.aamva.parse` over the sample corpus vs. a baseline that only splits the text into
element id -> value (no header, dates, names, problems), and beside the parser as it was at git REF
(default HEAD, so uncommitted work is compared with the last commit): the share of corpus samples each
reads correctly (tests/devices/aamva_samples/expected.json) and the time each takes per barcode. ESC/POS: the simulator's interpreter over a
rendered ticket vs. a plain scan of the same bytes. A kiosk scans a licence every few seconds at most;
the figures show how much headroom that leaves on these 2-core machines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from escpos.printer import Dummy  # noqa: E402

from kiosk.devices import aamva  # noqa: E402
from kiosk.devices.ticket import Ticket, render  # noqa: E402
from kiosk.simulators.escpos_interpreter import EscposInterpreter  # noqa: E402
from tests.devices.aamva_samples.corpus import TODAY, expectations, mismatches, sample_text  # noqa: E402


def rate(function, items, seconds: float = 1.5) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for item in items:
            function(item)
        count += len(items)
    return count / (time.perf_counter() - start)


def bare_split(text: str) -> dict[str, str]:
    return {token[:3]: token[3:] for token in re.split(r"[\n\r]+", text) if len(token) > 3}


def fastest_us_per_item(functions, items, rounds: int = 7) -> list[float]:
    """Microseconds per item, best of `rounds` short runs taken in turn, so that load on a shared
    machine falls on every function alike."""
    best = [float("inf")] * len(functions)
    for _ in range(rounds):
        for index, function in enumerate(functions):
            best[index] = min(best[index], 1e6 / rate(function, items, seconds=0.2))
    return best


def parser_at(ref: str) -> types.ModuleType:
    """`kiosk/devices/aamva.py` as committed at `ref`, loaded beside the current one."""
    source = subprocess.run(
        ["git", "show", f"{ref}:kiosk/devices/aamva.py"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    module = types.ModuleType("kiosk.devices.aamva_at_ref")
    module.__package__ = "kiosk.devices"
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{ref}:kiosk/devices/aamva.py", "exec"), module.__dict__)
    return module


def read_correctly(parse, corpus: dict[str, tuple[str, dict]]) -> int:
    return sum(1 for text, expected in corpus.values() if not mismatches(parse(text, today=TODAY), expected))


def compare_aamva(before_ref: str) -> None:
    corpus = {name: (sample_text(name), expected) for name, expected in expectations().items()}
    texts = [text for text, _ in corpus.values()]
    before = parser_at(before_ref)
    total = len(corpus)
    right_before, right_now = read_correctly(before.parse, corpus), read_correctly(aamva.parse, corpus)
    print(f"AAMVA corpus     read correctly: {right_before}/{total} ({right_before / total:.0%}) at {before_ref}"
          f"   now {right_now}/{total} ({right_now / total:.0%})")
    per_barcode_before, per_barcode_now, per_split = fastest_us_per_item((before.parse, aamva.parse, bare_split), texts)
    print(f"AAMVA parse      {per_barcode_now:>10.1f} µs/barcode  at {before_ref} {per_barcode_before:.1f} µs"
          f"   baseline (bare split) {per_split:.1f} µs   ({total} samples)")


def median_ms(samples: list[float]) -> float:
    return sorted(samples)[len(samples) // 2] * 1000


def scan_latency(rounds: int = 40) -> tuple[float, float]:
    import tempfile

    import serial

    from lobby_core.site_config import DeviceConfig
    from kiosk.devices.base import Scanned
    from kiosk.devices.connection_loop import wait_until
    from kiosk.devices.scanner import IdScanner
    from kiosk.simulators.serial_emitters import SimulatedScanner

    with tempfile.TemporaryDirectory() as folder:
        sim = SimulatedScanner(Path(folder) / "scanner.tty", suffix="\r\n")
        sim.start()
        raw = serial.Serial(str(sim.link), timeout=1)
        baseline = []
        for _ in range(rounds):
            start = time.perf_counter()
            sim.scan("CHK1.bench")
            raw.read_until(b"\n")
            baseline.append(time.perf_counter() - start)
        raw.close()
        arrivals: list[float] = []
        driver = IdScanner(
            DeviceConfig(kind="id_scanner", port=str(sim.link)),
            lambda event: isinstance(event, Scanned) and arrivals.append(time.perf_counter()),
        )
        driver.open()
        wait_until(lambda: driver.status.usable, 5)
        measured = []
        for round_number in range(rounds):
            start = time.perf_counter()
            sim.scan("CHK1.bench")
            wait_until(lambda: len(arrivals) > round_number, 5, interval=0.0002)
            measured.append(arrivals[round_number] - start)
        driver.close()
        sim.stop()
    return median_ms(measured), median_ms(baseline)


def print_latency(rounds: int = 20) -> tuple[float, float]:
    import socket

    from lobby_core.site_config import DeviceConfig
    from kiosk.devices.connection_loop import wait_until
    from kiosk.devices.receipt_printer import ReceiptPrinter
    from kiosk.simulators.receipt_printer import SimulatedReceiptPrinter

    ticket = Ticket("Riverside Family Clinic", "K1-042", "https://checkin.example/q/K1-042", dt.datetime.now())
    dummy = Dummy()
    render(ticket, dummy)
    sim = SimulatedReceiptPrinter()
    sim.start()
    baseline = []
    with socket.create_connection(("127.0.0.1", sim.port)) as raw:
        for _ in range(rounds):
            start = time.perf_counter()
            raw.sendall(dummy.output + b"\x10\x04\x04")
            raw.recv(1)  # wait for the peer to have taken the whole job
            baseline.append(time.perf_counter() - start)
    driver = ReceiptPrinter(DeviceConfig(kind="receipt_printer", transport="tcp", tcp_port=sim.port), lambda e: None)
    driver.open()
    wait_until(lambda: driver.status.usable, 5)
    measured = []
    for _ in range(rounds):
        start = time.perf_counter()
        assert driver.print_ticket(ticket).printed
        measured.append(time.perf_counter() - start)
    driver.close()
    sim.stop()
    return median_ms(measured), median_ms(baseline)


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--before", default="HEAD", help="git ref of the AAMVA parser to compare with")
    arguments.add_argument("--aamva-only", action="store_true", help="only the AAMVA comparison")
    options = arguments.parse_args()
    compare_aamva(options.before)
    if options.aamva_only:
        return

    dummy = Dummy()
    render(Ticket("Riverside Family Clinic", "K1-042", "https://checkin.example/q/K1-042", dt.datetime.now(), "es"), dummy)
    job = dummy.output
    interpreted = rate(lambda data: EscposInterpreter().feed(data), [job])
    scanned = rate(lambda data: data.count(b"\n"), [job])
    print(f"ESC/POS peer     {interpreted:>10,.0f} tickets/s    baseline (byte count)  {scanned:>10,.0f}/s"
          f"   ({len(job)} bytes per ticket)")

    scan_ms, raw_ms = scan_latency()
    print(f"scan -> event    {scan_ms:>10.2f} ms median      baseline (raw pty read) {raw_ms:>8.2f} ms")
    ticket_ms, raw_ms = print_latency()
    print(f"print ticket     {ticket_ms:>10.2f} ms median      baseline (raw socket)   {raw_ms:>8.2f} ms"
          "   (driver adds two DLE EOT status rounds)")


if __name__ == "__main__":
    main()
