"""`edge-agent`: run the site service and administer it.

Each subcommand is a small function that imports what it needs, so `edge-agent check-config` does not
pay for FastAPI and `--help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from . import config as site_config


def _load(args: argparse.Namespace) -> site_config.SiteConfig:
    try:
        return site_config.load(args.config)
    except site_config.ConfigError as exc:
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        raise SystemExit(2)


def _consent_problems(config: site_config.SiteConfig) -> list[str]:
    from .consents.documents import ConsentConfigError, load_folder

    try:
        load_folder(config.consents_dir)
    except ConsentConfigError as exc:
        return [f"consents_dir: {problem}" for problem in exc.problems]
    return []


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        problems = _consent_problems(site_config.load(args.file))
    except site_config.ConfigError as exc:
        problems = exc.problems
    for problem in problems:
        print(problem if problem.startswith(f"{args.file}:") else f"{args.file}: {problem}")  # one line each
    if problems:
        return 1
    print(f"{args.file}: ok")
    return 0


def cmd_add_staff(args: argparse.Namespace) -> int:
    import getpass

    from .desk.auth import StaffError, create_staff
    from .keys import SiteKey
    from .store import Store

    config = _load(args)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.username}: ")
        if getpass.getpass("again: ") != password:
            print("passwords differ; nothing changed", file=sys.stderr)
            return 1
    store = Store(config.store_path, SiteKey.load_or_create(config.key_file))
    try:
        create_staff(store, args.username, password, args.role)
    except StaffError as exc:
        print(f"add-staff: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"staff account {args.username!r} ({args.role}) ready")
    return 0


BACKUP_PASSPHRASE_ENV = "EDGE_AGENT_BACKUP_PASSPHRASE"


def _passphrase(confirm: bool) -> str:
    """From $EDGE_AGENT_BACKUP_PASSPHRASE (automation, Ansible Vault) or asked on the terminal."""
    import getpass
    import os

    if passphrase := os.environ.get(BACKUP_PASSPHRASE_ENV):
        return passphrase
    passphrase = getpass.getpass("backup passphrase: ")
    if confirm and getpass.getpass("again: ") != passphrase:
        print("passphrases differ", file=sys.stderr)
        raise SystemExit(2)
    return passphrase


def cmd_backup(args: argparse.Namespace) -> int:
    from . import backup

    try:
        manifest = backup.create(_load(args), args.file, _passphrase(confirm=True))
    except backup.BackupError as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"{args.file}: site {manifest.site_id}, schema {manifest.schema_version}, {manifest.outbox_pending} pending in outbox")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from . import backup

    config = _load(args)
    try:
        manifest = backup.restore(config, args.file, _passphrase(confirm=False), force=args.force)
    except backup.BackupError as exc:
        print(f"restore failed: {exc}", file=sys.stderr)
        return 1
    print(f"restored site {manifest.site_id} into {config.store_path}; {manifest.outbox_pending} pending will be delivered")
    return 0


def cmd_verify_consent(args: argparse.Namespace) -> int:
    from .consents import verify

    return verify.run(args.file, _load(args).key_file)


def cmd_serve(args: argparse.Namespace) -> int:
    from .central.credentials import startup_problems
    from .server import serve

    config = _load(args)
    if problems := _consent_problems(config) + startup_problems(config):
        for problem in problems:
            print(f"config error: {problem}", file=sys.stderr)
        return 2
    serve(config)
    return 0


def cmd_central_check(args: argparse.Namespace) -> int:
    """`edge-agent central check`: the server's capabilities, the delivery strategy that follows, and
    a non-zero exit for a strategy or schedule scope the server cannot do."""
    from .central.check import run_check

    result = run_check(_load(args), with_auth=True)
    for line in result.lines:
        print(line)
    if result.unreachable:
        print(f"central check: cannot read the server's capabilities: {result.unreachable}", file=sys.stderr)
        return 1
    for refusal in result.refusals:
        print(f"refused: {refusal}", file=sys.stderr)
    return 0 if result.ok else 1


def cmd_enroll_kiosk(args: argparse.Namespace) -> int:
    from .admin import enroll_kiosk

    try:
        print(enroll_kiosk(_load(args), args.kiosk_id))
    except ValueError as exc:
        print(f"enroll-kiosk: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_revoke_kiosk(args: argparse.Namespace) -> int:
    from .admin import revoke_kiosk

    try:
        revoke_kiosk(_load(args), args.kiosk_id)
    except ValueError as exc:
        print(f"revoke-kiosk: {exc}", file=sys.stderr)
        return 2
    print(f"kiosk {args.kiosk_id!r} revoked; its token is refused from now on (enroll-kiosk issues a new one)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .admin import status_report

    text, ok = status_report(_load(args))
    print(text)
    return 0 if ok else 1


# --- `edge-agent central ...`: the agent's credentials for the central system ----------------------


def cmd_central_keygen(args: argparse.Namespace) -> int:
    import json

    from .central.credentials import smart_key_dir
    from .central.smart_keys import KeyRing, KeyRingError

    config = _load(args)
    ring = KeyRing(smart_key_dir(config))
    try:
        if args.retire_old:
            retired = ring.retire_old()
            print(f"retired {len(retired)} key(s) older than the working key {ring.working_kid()}: {', '.join(retired) or '-'}",
                  file=sys.stderr)  # fmt: skip
        else:
            key = ring.generate(args.alg)
            print(f"new {key.alg} key {key.kid} in {ring.folder}; register this JWKS (all current keys) with the EHR:",
                  file=sys.stderr)  # fmt: skip
    except KeyRingError as exc:
        print(f"central keygen: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(ring.jwks(), indent=2))
    return 0


def add_central_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    central = commands.add_parser("central", help="the central system (EHR): credentials, capabilities")
    group = central.add_subparsers(dest="central_command", required=True, metavar="COMMAND")
    keygen = group.add_parser(
        "keygen", help="add a signing key to central.key_dir and print the JWKS to register with the EHR",
        description="Adds a new key (older keys stay valid until the new one works); prints the public JWKS.",
    )  # fmt: skip
    keygen.add_argument("--config", metavar="FILE", help="site TOML (default: $CHECKIN_CONFIG or built-in defaults)")
    keygen.add_argument("--alg", choices=["ES384", "RS384"], default="ES384")
    keygen.add_argument("--retire-old", action="store_true", help="remove the keys older than the one that last got a token")
    keygen.set_defaults(handler=cmd_central_keygen)
    check = group.add_parser(
        "check", help="what the FHIR server supports, its authentication, and the delivery strategy that follows;"
        " exit 1 if refused",
    )  # fmt: skip
    check.add_argument("--config", metavar="FILE", help="site TOML (default: $CHECKIN_CONFIG or built-in defaults)")
    check.set_defaults(handler=cmd_central_check)

def cmd_kiosk_support(args: argparse.Namespace) -> int:
    """`edge-agent kiosk ACTION KIOSK_ID`: queue a support command, wait for the kiosk's answer, print it."""
    import getpass
    import json
    from pathlib import Path

    from . import support
    from .keys import SiteKey
    from .store import Store

    config = _load(args)
    store = Store(config.store_path, SiteKey.load_or_create(config.key_file))
    actor = f"cli:{getpass.getuser()}"
    try:
        try:
            command_id = store.write_sync(lambda c: support.queue(
                c, args.kiosk_id, args.action.replace("-", "_"), actor, lines=args.lines, ttl_s=max(args.timeout, 5.0)))
        except support.SupportError as exc:
            print(f"kiosk: {exc}", file=sys.stderr)
            return 2
        print(f"command {command_id} queued for {args.kiosk_id}; waiting up to {args.timeout:.0f} s", file=sys.stderr)
        state = support.wait_for(store, command_id, args.timeout)
        if state is None or not state.finished:
            print(f"kiosk: no answer from {args.kiosk_id} within {args.timeout:.0f} s (is it online?)", file=sys.stderr)
            return 1
        reason = state.result.get("reason", "")
        print(f"{state.action} on {state.kiosk_id}: {state.outcome}{f' ({reason})' if reason else ''}")
        for device in state.result.get("devices", []):
            print(f"  {device['name']} ({device['kind']}): {device['state']}{' - ' + device['reason'] if device['reason'] else ''}")
        for line in state.result.get("log_lines", []):
            print(json.dumps(line, ensure_ascii=False))
        if state.has_screenshot:
            png = store.read_sync(lambda c: support.screenshot(c, command_id)) or b""
            target = Path(args.output or f"{state.kiosk_id}-screenshot-{command_id}.png")
            target.write_bytes(png)
            print(f"screenshot: {target} ({len(png)} bytes)")
        return 0 if state.outcome == "ok" else 1
    finally:
        store.close()


def cmd_rotate_site_key(args: argparse.Namespace) -> int:
    """Replace the site key and re-encrypt the store (agent stopped); a run cut short is finished by rerunning."""
    from . import key_rotation

    def report(progress: key_rotation.Progress) -> None:
        print(f"re-encrypted {progress.reencrypted} in {progress.table}.{progress.column}", flush=True)

    try:
        new_id = key_rotation.rotate(_load(args), batch_rows=args.batch_rows, report=report)
    except key_rotation.RotationError as exc:
        print(f"rotate-site-key: {exc}", file=sys.stderr)
        return 1
    print(f"site key rotated: now {new_id}; the old key is retired (kept only to verify consent PDFs it sealed)")
    return 0


def cmd_rotate_tls(args: argparse.Namespace) -> int:
    """Begin a certificate rotation (kiosks learn the next pin), or --activate it now."""
    from . import tls

    config = _load(args)
    try:
        if args.activate:
            print(f"now serving {tls.activate(config)} (the running agent switches within {tls.WATCH_S:.0f} s)")
        else:
            upcoming = tls.begin_rotation(config)
            print(f"next certificate {upcoming}: kiosks learn it from their heartbeats; the agent switches when every"
                  f" kiosk seen in the last {tls.RECENT_S / 3600:.0f} h has it, or run `edge-agent rotate-tls --activate`")
    except tls.RotationError as exc:
        print(f"rotate-tls: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-agent", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], help: str, with_config: bool = True
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        if with_config:
            sub.add_argument("--config", metavar="FILE", help="site TOML (default: $CHECKIN_CONFIG or built-in defaults)")
        sub.set_defaults(handler=handler)
        return sub

    command("serve", cmd_serve, "run the edge agent (kiosk API, desk, board, sync)")
    enroll = command("enroll-kiosk", cmd_enroll_kiosk, "enroll (or re-key) a kiosk; prints its token once")
    enroll.add_argument("kiosk_id", metavar="KIOSK_ID")
    revoke = command("revoke-kiosk", cmd_revoke_kiosk, "revoke a kiosk's token at once (a running agent refuses it)")
    revoke.add_argument("kiosk_id", metavar="KIOSK_ID")
    command("status", cmd_status, "queue size, outbox depth, oldest pending age, dead letters, last sync")
    check = command("check-config", cmd_check_config, "validate a site TOML, one line per problem", with_config=False)
    check.add_argument("file")

    backup = command("backup", cmd_backup, f"write an encrypted backup of the store and site key (passphrase: ${BACKUP_PASSPHRASE_ENV} or prompt)")
    backup.add_argument("file")
    restore = command("restore", cmd_restore, "restore a backup into the configured data dir and key path")
    restore.add_argument("file")
    restore.add_argument("--force", action="store_true", help="replace an existing store and key (stop the agent first)")

    add_staff = command("add-staff", cmd_add_staff, "create a front-desk account (or reset its password)")
    add_staff.add_argument("username")
    add_staff.add_argument("--role", choices=["front_desk", "admin"], default="front_desk")
    add_staff.add_argument("--password-stdin", action="store_true", help="read the password from stdin (scripts)")

    verify_consent = command("verify-consent", cmd_verify_consent, "check a signed consent PDF's seal; exit 1 if altered")
    verify_consent.add_argument("file", metavar="FILE.pdf")

    add_central_commands(commands)

    rotate_tls = command("rotate-tls", cmd_rotate_tls, "rotate the agent's TLS certificate with an overlap kiosks learn from")
    rotate_tls.add_argument("--activate", action="store_true", help="switch to the next certificate now")

    rotate_key = command("rotate-site-key", cmd_rotate_site_key, "new site key, every sealed value re-encrypted (stop the agent first)")
    rotate_key.add_argument("--batch-rows", type=int, default=200, help="rows per transaction (default 200)")

    kiosk = command("kiosk", cmd_kiosk_support, "remote support: act on a kiosk and print its answer (audited; no PHI)")
    kiosk.add_argument("action", choices=["print-test-ticket", "device-check", "restart", "logs", "screenshot"])
    kiosk.add_argument("kiosk_id", metavar="KIOSK_ID")
    kiosk.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the kiosk's answer (default 60)")
    kiosk.add_argument("--lines", type=int, default=100, help="logs: how many of the newest lines (1-500)")
    kiosk.add_argument("--output", metavar="FILE.png", help="screenshot: where to save it")

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args) or 0


if __name__ == "__main__":
    sys.exit(main())
