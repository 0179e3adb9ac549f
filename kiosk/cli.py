"""`kiosk`: run the lobby touchscreen app and look after its devices."""

from __future__ import annotations

import argparse
import sys

from edge_agent import config as site_config


def load_config(path: str | None) -> site_config.SiteConfig:
    try:
        return site_config.load(path)
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
    _ = command
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args) or 0


if __name__ == "__main__":
    sys.exit(main())
