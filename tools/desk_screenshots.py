"""Screenshots of the front-desk dashboard and the lobby board for the README (synthetic patients).

Starts a throwaway agent, checks a few demo patients in through the kiosk API, calls one, reports a
printer low on paper, then photographs the pages in headless Chromium.

    .venv/bin/python tools/desk_screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.desk.conftest import CHROMIUM_ARGS, FRONT_DESK, AgentProcess, Kiosk, Staff, today_appointments  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    appointments = today_appointments()
    with tempfile.TemporaryDirectory(prefix="desk-shots-") as root:
        agent = AgentProcess(Path(root))
        agent.prepare()
        agent.start()
        kiosk, staff = Kiosk(agent), Staff(agent, *FRONT_DESK)
        try:
            kiosk.heartbeat([
                {"name": "receipt", "kind": "receipt_printer", "state": "degraded", "reason": "paper low"},
                {"name": "scanner", "kind": "id_scanner", "state": "online"},
                {"name": "card reader", "kind": "card_reader", "state": "offline", "reason": "reader missing"},
            ])  # fmt: skip
            tickets = [kiosk.check_in(appointments[0])]
            tickets.append(kiosk.check_in(appointments[1], coverage={"payor": "Acme Health", "member_id": "NEW1",
                                                                     "source": "card"}))
            tickets += [kiosk.check_in(appointment) for appointment in appointments[2:7]]
            staff.post(f"/api/v1/queue/{tickets[0]['checkin_id']}/call", {"room": "2"}).raise_for_status()
            staff.post(f"/api/v1/queue/{tickets[0]['checkin_id']}/room").raise_for_status()
            staff.post(f"/api/v1/queue/{tickets[2]['checkin_id']}/call", {"room": "3"}).raise_for_status()
            kiosk.ask_for_help()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                desk = browser.new_page(viewport={"width": 1600, "height": 900})
                desk.goto(f"{agent.url}/desk/login")
                desk.fill("#username", FRONT_DESK[0])
                desk.fill("#password", FRONT_DESK[1])
                desk.click("#sign-in")
                desk.wait_for_selector('#live[data-state="live"]')
                desk.wait_for_selector("li.kiosk")
                desk.wait_for_selector("#stats dt")
                desk.screenshot(path=str(out / "desk-dashboard.png"), full_page=True)
                for name, size in (("board-landscape.png", (1920, 1080)), ("board-portrait.png", (1080, 1920))):
                    board = browser.new_page(viewport={"width": size[0], "height": size[1]})
                    board.goto(f"{agent.url}/board")
                    board.wait_for_function("t => document.getElementById('now-ticket').textContent === t",
                                            arg=tickets[2]["ticket"])
                    board.screenshot(path=str(out / name))
                browser.close()
        finally:
            kiosk.close()
            staff.close()
            agent.stop()
    print(f"screenshots written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
