"""PNG screenshots of every kiosk screen, in every catalogue language, portrait and landscape.

    .venv/bin/python tools/screenshots.py [--out docs/screenshots]

Runs the real app under Xvfb at the real panel size (1080x1920 / 1920x1080; one process per orientation,
each on its own display) and walks the check-in flow through every step with sample data, in both
themes, then saves `kiosk-<orientation>-<theme>-<language>-<nn>-<step>.png` (palette-quantised PNGs:
flat colours, small files). No agent is needed: the tool drives the flow directly and does not carry out
its effects.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZES = {"portrait": (1080, 1920), "landscape": (1920, 1080)}
THEMES = ("standard", "high_contrast")
SAMPLE_SITE = {
    "rooms": {"Room 1": {"en": "Room 1", "es": "Sala 1"}, "Room 2": {"en": "Room 2", "es": "Sala 2"}},
    "welcome_line": {"en": "Free parking behind the building.", "es": "Aparcamiento gratuito detrás del edificio."},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--worker", choices=sorted(SIZES), help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=sorted(SIZES), help="one orientation")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.worker:
        return worker(args.worker, args.out)
    for orientation, (width, height) in SIZES.items():
        if args.only and orientation != args.only:
            continue
        with tempfile.TemporaryDirectory(prefix="kiosk-shots-") as home:
            env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_HOME": home, "KIVY_NO_CONSOLELOG": "1"}
            command = ["xvfb-run", "-a", "-s", f"-screen 0 {width}x{height}x24", sys.executable, __file__,
                       "--worker", orientation, "--out", str(args.out)]  # fmt: skip
            subprocess.run(command, env=env, check=True, timeout=300)
    print(f"{len(list(args.out.glob('*.png')))} screenshots in {args.out}")
    return 0


def worker(orientation: str, out: Path) -> int:
    sys.path.insert(0, str(REPO))
    from lobby_core import site_config
    from kiosk import window

    with tempfile.TemporaryDirectory(prefix="kiosk-shots-spool-") as spool:
        kiosk = {"spool_dir": spool, "orientation": orientation, "agent_url": "http://127.0.0.1:9", **SAMPLE_SITE}
        site = site_config.from_mapping({"kiosk": kiosk}, site_config.KioskSiteConfig)
        window.configure(orientation, windowed=True, size=SIZES[orientation])
        from kivy.clock import Clock
        from kivy.core.window import Window

        from kiosk.app import KioskApp

        app = KioskApp(site, device_configs=[])
        app.flow.agent_reachable = lambda reachable: []  # the tool decides which shots show the offline banner
        shots = walk_through(app, orientation, out)

        def next_shot(_dt):
            try:
                delay = next(shots)
            except StopIteration:
                app.stop()
                return
            Clock.schedule_once(next_shot, delay)

        def start(*_args):
            Window.unbind(on_flip=start)
            Clock.schedule_once(next_shot, 0.5)

        Window.bind(on_flip=start)
        Clock.schedule_once(lambda _dt: app.stop(), 240)  # watchdog
        app.run()
    return 0


def walk_through(app, orientation: str, out: Path):
    """Every screen of kiosk.autopilot.tour, in both themes and every language: draw, save. Yields seconds to wait."""
    from dataclasses import replace

    from kivy.core.window import Window
    from PIL import Image

    from kiosk.autopilot import tour
    from kiosk.devices.base import DeviceState, DeviceStatus

    flow = app.flow
    flow.settings = replace(flow.settings, device_kinds={"scanner": "id_scanner"})  # a scanner that works
    for theme_name, language in [(t, lang) for t in THEMES for lang in flow.settings.languages]:
        if app.high_contrast != (theme_name == "high_contrast"):
            app.toggle_high_contrast()
        for number, (name, online) in enumerate(tour(app, language), start=1):
            flow.agent_online = online
            flow.devices["scanner"] = DeviceStatus(DeviceState.ONLINE)
            app.refresh()
            yield 0.3
            while app.root.ids.steps.transition.is_active:
                yield 0.1
            yield 0.4  # layout and text textures settle over a few frames
            saved = Window.screenshot(name=str(out / "shot.png"))
            target = out / f"kiosk-{orientation}-{theme_name}-{flow.language}-{number:02d}-{name}.png"
            Image.open(saved).convert("RGB").quantize(colors=64, dither=Image.Dither.NONE).save(target, optimize=True)
            os.remove(saved)


if __name__ == "__main__":
    sys.exit(main())
