-- Remote support: commands staff queue for one kiosk, which collects them with its own token (kiosks only
-- talk to the agent outbound) and posts the result back. Nothing here holds PHI: results are device
-- states, allow-list-filtered log lines, and a PNG of the attract screen (ticket numbers only).
CREATE TABLE support_commands (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kiosk_id     TEXT NOT NULL,
    action       TEXT NOT NULL CHECK (action IN ('print_test_ticket', 'device_check', 'restart', 'logs', 'screenshot')),
    lines        INTEGER NOT NULL DEFAULT 100,  -- for `logs`
    requested_by TEXT NOT NULL,                  -- a staff username, or cli:<user> for `edge-agent kiosk`
    requested_at REAL NOT NULL,
    expires_at   REAL NOT NULL,
    delivered_at REAL,
    finished_at  REAL,
    outcome      TEXT CHECK (outcome IN ('ok', 'refused', 'failed', 'expired')),
    result       TEXT NOT NULL DEFAULT '{}',     -- reason code, device states, filtered log lines (JSON)
    screenshot   BLOB                            -- PNG, `screenshot` only
);
CREATE INDEX support_commands_waiting ON support_commands(kiosk_id, finished_at, id);
