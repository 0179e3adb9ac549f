"""`kiosk run`: configure the window, start simulated hardware if asked, run the app until it closes."""

from __future__ import annotations

import argparse
import logging
import signal

from edge_agent.config import SiteConfig

from . import window


def run(site: SiteConfig, *, simulate: bool = False, windowed: bool = False, size: tuple[int, int] | None = None) -> int:
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

    app = KioskApp(site, device_configs=device_configs)
    # systemd stops the kiosk with SIGTERM: close devices and simulators as on a normal exit.
    signal.signal(signal.SIGTERM, lambda *_: Clock.schedule_once(lambda _dt: app.stop()))
    try:
        app.run()
    finally:
        if lobby is not None:
            lobby.stop()
    return 0


def parse_size(value: str) -> tuple[int, int]:
    width, _, height = value.lower().partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, got {value!r}")
    return int(width), int(height)


def main(args: argparse.Namespace, site: SiteConfig) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return run(site, simulate=args.simulate, windowed=args.windowed, size=args.size)
