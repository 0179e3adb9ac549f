"""`edge-agent`: run the site service and administer it.

Each subcommand is a small function that imports what it needs, so `edge-agent check-config` does not
pay for FastAPI and `--help` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from . import config as site_config


def _load(args: argparse.Namespace) -> site_config.SiteConfig:
    try:
        return site_config.load(args.config)
    except site_config.ConfigError as exc:
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        raise SystemExit(2)


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        site_config.load(args.file)
    except site_config.ConfigError as exc:
        for problem in exc.problems:
            print(f"{args.file}: {problem}")
        return 1
    print(f"{args.file}: ok")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-agent", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler, help: str, with_config: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        if with_config:
            sub.add_argument("--config", metavar="FILE", help="site TOML (default: $CHECKIN_CONFIG or built-in defaults)")
        sub.set_defaults(handler=handler)
        return sub

    check = command("check-config", cmd_check_config, "validate a site TOML, one line per problem", with_config=False)
    check.add_argument("file")

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args) or 0


if __name__ == "__main__":
    sys.exit(main())
