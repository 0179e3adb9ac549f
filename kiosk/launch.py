"""`kiosk run`: configure the window, start simulated hardware if asked, run the app until it closes."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from lobby_core.site_config import KioskSiteConfig

from . import window


def run(site: KioskSiteConfig, *, simulate: bool = False, windowed: bool = False, size: tuple[int, int] | None = None,
        autopilot: int = 0, screenshots: Path | None = None) -> int:
    """`autopilot` > 0: that many scripted demo patients check in (needs `simulate`), photographed into `screenshots`."""
    window.configure(site.kiosk.orientation, windowed, size)
    lobby = None
    device_configs = None
    if simulate:
        from .devices.registry import start_simulated_lobby

        # `kiosk sim COMMAND --config FILE` finds the lobby's control socket under the kiosk's data folder.
        device_configs, lobby = start_simulated_lobby(site.kiosk.spool_dir)
        print(f"simulated devices: kiosk sim --data-dir {site.kiosk.spool_dir} COMMAND", flush=True)
    from kivy.clock import Clock

    from .app import KioskApp

    app = KioskApp(site, device_configs=device_configs, card_feeder=lobby.feed_card if lobby is not None else None)
    # Kivy holds its event handlers weakly: the driver lives as long as this call.
    pilot = start_autopilot(app, lobby, autopilot, screenshots) if autopilot else None
    # systemd stops the kiosk with SIGTERM: close devices and simulators as on a normal exit.
    signal.signal(signal.SIGTERM, lambda *_: Clock.schedule_once(lambda _dt: app.stop()))
    try:
        app.run()
    finally:
        del pilot
        if lobby is not None:
            lobby.stop()
    if app.restart_requested:
        restart_in_place()
    return 0


RESTART_EXIT_CODE = 75  # if re-executing fails: kiosk-session.service (Restart=always) starts it again


def restart_in_place() -> None:
    """Start the kiosk again in this process (same pid, so cage keeps its session): remote support's restart."""
    logging.getLogger("kiosk.launch").info("restarting for remote support")
    logging.shutdown()
    try:
        os.execv(sys.executable, [sys.executable, "-m", "kiosk.cli", *sys.argv[1:]])
    except OSError:
        os._exit(RESTART_EXIT_CODE)


def start_autopilot(app, lobby, patients: int, screenshots: Path | None):
    from .autopilot import Driver, demo_patients

    def report(event: str, **details) -> None:
        if event == "failed":
            print(f"autopilot: stopped at step {details['step']}: {details['why']}", flush=True)

    driver = Driver(app, lambda driver: demo_patients(driver, patients), lobby=lobby, screenshots=screenshots, report=report)
    return driver.start_on_first_frame()


def parse_size(value: str) -> tuple[int, int]:
    width, _, height = value.lower().partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, got {value!r}")
    return int(width), int(height)


def main(args: argparse.Namespace, site: KioskSiteConfig) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.autopilot < 0:
        raise SystemExit("kiosk run: --autopilot takes a number of patients (0 or more)")
    if args.autopilot and not args.simulate:
        raise SystemExit("kiosk run: --autopilot needs --simulate (the scripted patient uses the simulated devices)")
    return run(site, simulate=args.simulate, windowed=args.windowed, size=args.size, autopilot=args.autopilot,
               screenshots=args.screenshots)
