"""Administration from the command line, working on the files directly (the agent may be stopped).

- `enroll_kiosk(config, kiosk_id)`: a new token (shown once, only its hash is kept) and the [kiosk]
  lines for that kiosk's site file, with the agent's TLS fingerprint to pin.
- `revoke_kiosk(config, kiosk_id)`: its token stops working at once, in a running agent too (audited).
- `status_report(config)`: queue size, outbox depth, oldest pending age, dead letters, last sync.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time

from . import arrivals, auth, tls
from .config import SiteConfig
from .keys import SiteKey
from .store import Store


def agent_url(config: SiteConfig) -> str:
    host = config.agent.host
    host = f"[{host}]" if ":" in host else host
    return f"{'https' if config.uses_tls else 'http'}://{host}:{config.agent.port}"


KIOSK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


def enroll_kiosk(config: SiteConfig, kiosk_id: str) -> str:
    if not KIOSK_ID.match(kiosk_id):
        raise ValueError(f"kiosk id {kiosk_id!r}: use 1-32 letters, digits, '-' or '_', starting with a letter or digit")
    fingerprint = tls.fingerprint(tls.ensure_certificate(config)[0]) if config.uses_tls else ""
    store = Store(config.store_path, SiteKey.load_or_create(config.key_file))
    try:
        token = store.write_sync(lambda conn: auth.enroll(conn, kiosk_id))
    finally:
        store.close()
    auth.tokens_changed(config.store_path)  # a running agent drops the old token at once
    return "\n".join([
        f"# Kiosk {kiosk_id} enrolled at site {config.site.id}. The token is shown only this once:",
        "# put these lines in the kiosk's site file ([kiosk] section).",
        "[kiosk]",
        f'id = "{kiosk_id}"',
        f'token = "{token}"',
        f'agent_url = "{agent_url(config)}"',
        f'agent_fingerprint = "{fingerprint}"',
    ])  # fmt: skip


def revoke_kiosk(config: SiteConfig, kiosk_id: str) -> None:
    """Revoke a kiosk's token (audited); a running agent refuses it from its next request on."""
    from .desk import audit

    store = Store(config.store_path, SiteKey.load_or_create(config.key_file))

    def work(conn: sqlite3.Connection) -> None:
        if not auth.revoke(conn, kiosk_id):
            known = conn.execute("SELECT 1 FROM kiosks WHERE kiosk_id = ?", (kiosk_id,)).fetchone()
            raise ValueError(f"kiosk {kiosk_id!r} is {'already revoked' if known else 'not enrolled'}")
        audit.record(conn, "cli", "kiosk.revoke", kiosk_id)

    try:
        store.write_sync(work)
    finally:
        store.close()
    auth.tokens_changed(config.store_path)


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.0f} s"


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")
    return f"{moment} ({time.time() - timestamp:.0f} s ago)"


def status_report(config: SiteConfig) -> tuple[str, bool]:
    """(text, ok): ok is False when there is no database to report on."""
    path = config.store_path
    if not path.exists():
        return f"no agent database at {path} (never started with this config?)", False
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        day = arrivals.site_day(config.site.timezone)
        counts = dict(conn.execute("SELECT status, COUNT(*) FROM arrivals WHERE day = ? GROUP BY status", (day,)).fetchall())
        outbox = dict(conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
        oldest = conn.execute("SELECT MIN(created_at) FROM outbox WHERE status = 'pending'").fetchone()[0]
        success = conn.execute("SELECT value FROM meta WHERE key = 'last_sync_success_at'").fetchone()
        kiosks = conn.execute("SELECT COUNT(*) FROM kiosks WHERE revoked_at IS NULL").fetchone()[0]
        certificate_lines = tls.rotation_report(config, conn)
    finally:
        conn.close()
    lines = [
        f"site:                 {config.site.id} ({config.site.name})",
        f"database:             {path}",
        f"queue ({day}):   waiting {counts.get('waiting', 0)}, called {counts.get('called', 0)},"
        f" roomed {counts.get('roomed', 0)}, done {counts.get('done', 0)}, no-show {counts.get('no_show', 0)}",
        f"outbox depth:         {outbox.get('pending', 0)}",
        f"oldest pending age:   {_age(None if oldest is None else max(0.0, time.time() - oldest))}",
        f"dead letters:         {outbox.get('dead', 0)}",
        f"delivered:            {outbox.get('delivered', 0)}",
        f"last successful sync: {_when(float(success[0]) if success else None)}",
        f"enrolled kiosks:      {kiosks}",
        *certificate_lines,
    ]
    return "\n".join(lines), True
