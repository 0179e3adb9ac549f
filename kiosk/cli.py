"""`kiosk`: run the lobby touchscreen app and look after its devices."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lobby_core import site_config


def load_config(path: str | None) -> site_config.KioskSiteConfig:
    try:
        return site_config.load(path, site_config.KioskSiteConfig)
    except site_config.ConfigError as exc:
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.add_argument("--config", metavar="FILE", help="site/kiosk TOML (default: $CHECKIN_CONFIG or built-in defaults)")
        sub.set_defaults(handler=handler)
        return sub

    # Subcommands are registered here, each handler imported lazily inside its own module's function.
    check = commands.add_parser("check-config", help="validate a kiosk's site TOML, one line per problem")
    check.add_argument("file")
    check.set_defaults(handler=run_check_config)
    doctor = command("doctor", run_doctor, "every device's status, asked of the running kiosk or else probed here (exit 0: all usable)")
    doctor.add_argument("--json", action="store_true", help="machine-readable report")
    sim = command("sim", run_sim, "inject an event into a running simulated kiosk (`kiosk run --simulate`)")
    sim.add_argument("--data-dir", metavar="DIR", help="the simulated kiosk's data folder (default: kiosk.spool_dir)")
    sim.add_argument("sim_command", metavar="COMMAND", help="scan, insert-card, remove-card, insurance-card, printer, sign, unplug, plug")
    sim.add_argument("sim_args", metavar="ARG", nargs="*", help="TEXT or @FILE; egk|eid|other; paper-low|paper-out|...")
    run = command("run", run_kiosk, "run the lobby touchscreen app (fullscreen unless --windowed)")
    run.add_argument("--simulate", action="store_true", help="simulated scanner, card reader, printers and signature pad")
    run.add_argument("--windowed", action="store_true", help="an ordinary window instead of fullscreen")
    run.add_argument("--size", metavar="WxH", type=_window_size, help="window size with --windowed, e.g. 1080x1920")
    run.add_argument("--autopilot", metavar="N", type=int, default=0, help="a scripted patient walks N demo patients through (with --simulate)")
    run.add_argument("--screenshots", metavar="DIR", type=Path, help="with --autopilot: a PNG of each screen the first patient sees")
    _ = command
    return parser


def _window_size(value: str) -> tuple[int, int]:
    from kiosk.launch import parse_size

    return parse_size(value)


def run_check_config(args) -> int:
    try:
        site_config.load(args.file, site_config.KioskSiteConfig)
    except site_config.ConfigError as exc:
        for problem in exc.problems:
            print(problem if problem.startswith(f"{args.file}:") else f"{args.file}: {problem}")
        return 1
    print(f"{args.file}: ok")
    return 0


def run_kiosk(args) -> int:
    from kiosk import launch

    return launch.main(args, load_config(args.config))


def run_doctor(args) -> int:
    from kiosk.devices import doctor

    return doctor.run(load_config(args.config), as_json=args.json)


def run_sim(args) -> int:
    from pathlib import Path

    from kiosk.simulators.lobby import send_command

    data_dir = Path(args.data_dir) if args.data_dir else load_config(args.config).kiosk.spool_dir
    sim_args = list(args.sim_args)
    if args.sim_command == "scan" and len(sim_args) == 1 and sim_args[0].startswith("@"):
        try:
            sim_args = [Path(sim_args[0][1:]).read_text(encoding="utf-8")]
        except OSError as exc:
            print(f"kiosk sim: cannot read {sim_args[0][1:]}: {exc.strerror}", file=sys.stderr)
            return 2
    try:
        reply = send_command(data_dir, args.sim_command, sim_args)
    except OSError:
        print(f"kiosk sim: no simulated kiosk is running with data folder {data_dir}", file=sys.stderr)
        return 2
    print(reply.get("message", ""), file=sys.stdout if reply.get("ok") else sys.stderr)
    return 0 if reply.get("ok") else 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args) or 0


if __name__ == "__main__":
    sys.exit(main())
