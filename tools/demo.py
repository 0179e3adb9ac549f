"""The demo: a FHIR sandbox as the clinic's central system, an edge agent, and a kiosk with simulated devices.

    bash scripts/demo.sh                 # what the README's quick start runs
    .venv/bin/python tools/demo.py --help

Everything lives under data/demo/ (recreated on every run) and listens on 127.0.0.1 only. With a display
the kiosk opens as a window for you to touch. Without one, the demo says so, runs the kiosk on a virtual
display (Xvfb) and walks scripted patients through it, so that the dashboard and the lobby board fill.
It runs until Ctrl-C (or --stop-after SECONDS).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import zoneinfo
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lobby_core.appointments import ScheduledAppointment  # noqa: E402
from lobby_core.demo import rooms_toml  # noqa: E402
from edge_agent.schedule import demo_appointments  # noqa: E402
from kiosk.simulators.licence import licence_text  # noqa: E402

DEMO_DIR = REPO / "data" / "demo"
AGENT_PORT, CENTRAL_PORT = 8470, 8480
SITE_ID, SITE_NAME, TIMEZONE = "demo-clinic", "Riverside Family Clinic", "UTC"
# Every shipped language (a site's default stays ["en", "es"]): the demo shows the picker grid.
DEMO_LANGUAGES = ", ".join(f'"{lang}"' for lang in ("en", "es", "zh-Hans", "zh-Hant", "vi", "ko", "tl", "ru", "ar", "ht", "fr", "pt", "de"))
STAFF = {"frontdesk": ("demo-frontdesk", "front_desk"), "admin": ("demo-admin", "admin")}
BIN = Path(sys.executable).parent


class Demo:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.agent_url = f"http://127.0.0.1:{AGENT_PORT}"
        self.central_url = f"http://127.0.0.1:{CENTRAL_PORT}"
        self.logs = DEMO_DIR / "logs"
        self.kiosk_log_read = 0
        self.central_said = ""

    # --- processes -------------------------------------------------------------------------------

    def start(self, name: str, command: list[str], env: dict | None = None) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
            start_new_session=True,
        )  # fmt: skip
        self.processes.append((name, process))
        return process

    def stop_all(self) -> None:
        """One at a time, newest first: the kiosk closes its simulators (and pcscd) while its display lives."""
        for name, process in reversed(self.processes):
            if process.poll() is not None:
                continue
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                print(f"  {name} did not stop in time; killed")

    def wait_http(self, name: str, url: str, process: subprocess.Popen, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"demo: {name} exited early; see {self.logs / (name + '.log')}")
            try:
                if httpx.get(url, timeout=2).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"demo: {name} did not answer at {url}; see {self.logs / (name + '.log')}")

    def cli(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [str(BIN / "edge-agent"), *args], cwd=REPO, input=stdin, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise SystemExit(f"demo: edge-agent {args[0]} failed:\n{result.stderr}")
        return result.stdout

    # --- the parts -------------------------------------------------------------------------------

    def prepare(self) -> None:
        for port in (AGENT_PORT, CENTRAL_PORT):
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            except httpx.TransportError:
                continue
            raise SystemExit(f"demo: port {port} on 127.0.0.1 is taken (is another demo running?)")
        shutil.rmtree(DEMO_DIR, ignore_errors=True)
        self.logs.mkdir(parents=True)

    def start_central(self) -> None:
        process = self.start(
            "central", [sys.executable, "-m", "tools.fhir_sandbox", "--port", str(CENTRAL_PORT), "--data", str(DEMO_DIR / "central.db")]
        )  # fmt: skip
        self.wait_http("central", f"{self.central_url}/metadata", process)
        today = dt.datetime.now(zoneinfo.ZoneInfo(TIMEZONE)).date()
        resources = schedule_resources(demo_appointments(SITE_ID, today, zoneinfo.ZoneInfo(TIMEZONE)))
        httpx.post(f"{self.central_url}/_control/seed", json={"resources": resources}, timeout=30).raise_for_status()

    def start_agent(self) -> None:
        site = DEMO_DIR / "site.toml"
        site.write_text(
            f'[site]\nid = "{SITE_ID}"\nname = "{SITE_NAME}"\ntimezone = "{TIMEZONE}"\nlanguages = [{DEMO_LANGUAGES}]\n\n'
            f'[agent]\nlisten = "127.0.0.1:{AGENT_PORT}"\ndata_dir = "agent"\n\n'
            f'[central]\nkind = "fhir"\nbase_url = "{self.central_url}"\ntimeout_s = 5\n\n'
            f'[schedule]\nsource = "central"\nrefresh_s = 60\nscope = "whole-server"\n'
        )  # fmt: skip
        for username, (password, role) in STAFF.items():
            self.cli("add-staff", username, "--role", role, "--password-stdin", "--config", str(site), stdin=password + "\n")
        enrollment = self.cli("enroll-kiosk", "kiosk-1", "--config", str(site))
        process = self.start("agent", [str(BIN / "edge-agent"), "serve", "--config", str(site)])
        self.wait_http("agent", f"{self.agent_url}/healthz", process)
        (DEMO_DIR / "kiosk.toml").write_text(
            f'[site]\nid = "{SITE_ID}"\nname = "{SITE_NAME}"\ntimezone = "{TIMEZONE}"\nlanguages = [{DEMO_LANGUAGES}]\n\n'
            f'[kiosk]\nid = "kiosk-1"\nagent_url = "{self.agent_url}"\ntoken = "{token_from(enrollment)}"\n'
            f'spool_dir = "kiosk"\nticket_prefix = "K1"\norientation = "portrait"\n\n{rooms_toml()}'
        )  # fmt: skip

    def start_kiosk(self) -> subprocess.Popen:
        command = [str(BIN / "kiosk"), "run", "--simulate", "--windowed", "--config", str(DEMO_DIR / "kiosk.toml")]
        if has_display():
            return self.start("kiosk", command)
        display = self.start_virtual_display()
        screens = DEMO_DIR / "screens"
        command += ["--size", "1080x1920", "--autopilot", str(self.args.patients), "--screenshots", str(screens)]
        return self.start("kiosk", command, env={"DISPLAY": display})

    def start_virtual_display(self) -> str:
        for number in range(99, 140):
            if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
                break
        process = self.start("xvfb", ["Xvfb", f":{number}", "-screen", "0", "1080x1920x24", "-nolisten", "tcp"])
        deadline = time.monotonic() + 15
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"demo: Xvfb did not start; see {self.logs / 'xvfb.log'}")
            time.sleep(0.1)
        return f":{number}"

    # --- what to look at -------------------------------------------------------------------------

    def print_welcome(self) -> None:
        print(
            f"""
Lobby check-in demo is running (everything on 127.0.0.1; data and logs in {DEMO_DIR.relative_to(REPO)}/).

  Front desk dashboard  {self.agent_url}/desk     sign in as frontdesk / demo-frontdesk  (admin / demo-admin)
  Lobby board           {self.agent_url}/board
  Agent health          {self.agent_url}/healthz   metrics: {self.agent_url}/metrics
  Central system (FHIR) {self.central_url}/Encounter   {self.central_url}/Consent
""",
            flush=True,
        )
        if has_display():
            print("  Kiosk                 the 'Check-in' window. Scan a licence or insert a card with the simulators:")
        else:
            print(
                "  Kiosk                 no display found: the kiosk runs on a virtual display (Xvfb) and scripted\n"
                f"                        patients check in; screenshots of each screen go to {(DEMO_DIR / 'screens').relative_to(REPO)}/.\n"
                "                        Inject device events yourself with:"
            )
        licence = DEMO_DIR / "licence-johnson.txt"
        licence.write_text(licence_text("JOHNSON", "ROBERT", dt.date(1944, 2, 29)), encoding="utf-8")
        sim = f".venv/bin/kiosk sim --data-dir {(DEMO_DIR / 'kiosk').relative_to(REPO)}"
        print(
            f"                        {sim} scan @{licence.relative_to(REPO)}   (a scheduled patient's licence)\n"
            f"                        {sim} insert-card egk | remove-card | printer paper-out | sign\n"
            "                        or type a scheduled patient: Rossi, born 03/03/1962; Okafor, born 10/10/1995\n"
            "\nPress Ctrl-C to stop.\n",
            flush=True,
        )

    def report_progress(self, seen: set[str]) -> None:
        """Print each new ticket as it reaches the board, and what the central system holds."""
        try:
            board = httpx.get(f"{self.agent_url}/api/v1/board", timeout=2).json()
            counts = httpx.get(f"{self.central_url}/_control/stats", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return
        tickets = set(board.get("waiting", [])) | {call["ticket"] for call in board.get("now_calling", [])}
        held = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.get("resources", counts).items()) if kind in ("Encounter", "Consent", "Provenance"))
        for ticket in sorted(tickets - seen):
            seen.add(ticket)
            print(f"[{time.strftime('%H:%M:%S')}] ticket {ticket} is in the queue; central system holds: {held or 'nothing yet'}", flush=True)
            self.central_said = held
        if held != self.central_said:  # deliveries reach central a moment after the ticket
            print(f"[{time.strftime('%H:%M:%S')}] central system now holds: {held}", flush=True)
            self.central_said = held

    def relay_autopilot(self) -> None:
        """The scripted patient's progress lines (no patient data in them) from the kiosk's log."""
        log = self.logs / "kiosk.log"
        if not log.exists():
            return
        with log.open("rb") as file:
            file.seek(self.kiosk_log_read)
            new = file.read()
        complete = new[: new.rfind(b"\n") + 1]
        self.kiosk_log_read += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            if line.startswith("autopilot:"):
                print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def token_from(enrollment_output: str) -> str:
    """enroll-kiosk prints the lines for the kiosk's site file; take the token from them."""
    try:
        return tomllib.loads(enrollment_output)["kiosk"]["token"]
    except (tomllib.TOMLDecodeError, KeyError):
        raise SystemExit(f"demo: enroll-kiosk printed no token:\n{enrollment_output}")


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def schedule_resources(appointments: list[ScheduledAppointment]) -> list[dict]:
    """The demo schedule as the central system holds it: Patient, Appointment and Coverage resources."""
    resources: list[dict] = []
    for appointment in appointments:
        address = appointment.demographics.address
        patient = {
            "resourceType": "Patient",
            "id": appointment.patient_id,
            "identifier": [{"system": "urn:demo:mrn", "value": appointment.mrn}],
            "name": [{"family": appointment.family, "given": appointment.given.split()}],
            "birthDate": appointment.birth_date.isoformat(),
            "telecom": [{"system": "phone", "value": appointment.demographics.phone}],
        }
        if address:
            patient["address"] = [
                {"line": [address.street], "city": address.city, "state": address.state,
                 "postalCode": address.postal_code, "country": address.country}
            ]  # fmt: skip
        resources.append(patient)
        start = appointment.start.replace(microsecond=0)
        resources.append(
            {
                "resourceType": "Appointment",
                "id": appointment.appointment_id,
                "status": "booked",
                "start": start.isoformat(),
                "end": (start + dt.timedelta(minutes=20)).isoformat(),
                "participant": [
                    {"actor": {"reference": f"Patient/{appointment.patient_id}"}, "status": "accepted"},
                    {"actor": {"reference": f"Practitioner/{slug(appointment.clinician)}", "display": appointment.clinician},
                     "status": "accepted"},
                    {"actor": {"reference": f"Location/{slug(appointment.location)}", "display": appointment.location},
                     "status": "accepted"},
                ],
            }
        )
        if appointment.coverage:
            resources.append(
                {
                    "resourceType": "Coverage",
                    "id": f"cov-{appointment.patient_id}",
                    "status": "active",
                    "beneficiary": {"reference": f"Patient/{appointment.patient_id}"},
                    "payor": [{"display": appointment.coverage.payor}],
                    "subscriberId": appointment.coverage.member_id,
                }
            )
    return resources


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=3, help="scripted patients when there is no display (default 3)")
    parser.add_argument("--no-kiosk", action="store_true", help="agent, central system and pages only")
    parser.add_argument("--stop-after", type=float, metavar="SECONDS", help="stop by itself (for smoke tests)")
    args = parser.parse_args(argv)

    demo = Demo(args)
    demo.prepare()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        print("Starting the central system (FHIR sandbox), the edge agent and the kiosk ...", flush=True)
        demo.start_central()
        demo.start_agent()
        kiosk = None if args.no_kiosk else demo.start_kiosk()
        demo.print_welcome()
        seen: set[str] = set()
        deadline = None if args.stop_after is None else time.monotonic() + args.stop_after
        while deadline is None or time.monotonic() < deadline:
            demo.relay_autopilot()
            demo.report_progress(seen)
            if kiosk is not None and kiosk.poll() is not None:
                print(f"The kiosk has stopped (exit {kiosk.returncode}); the agent and pages keep running. Log: {demo.logs / 'kiosk.log'}")
                kiosk = None
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nStopping the demo ...", flush=True)
        demo.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
