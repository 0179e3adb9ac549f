-- Front desk: staff accounts, their server-side sessions, the audit log, and reprint requests.

CREATE TABLE staff (
    username        TEXT PRIMARY KEY,
    password_hash   TEXT NOT NULL,              -- argon2id
    role            TEXT NOT NULL CHECK (role IN ('front_desk', 'admin')),
    created_at      REAL NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0, -- consecutive failures since the last success or lock
    locked_until    REAL NOT NULL DEFAULT 0,
    disabled        INTEGER NOT NULL DEFAULT 0
);

-- Only a hash of the cookie's token is kept: a copy of the database does not sign anyone in.
CREATE TABLE staff_sessions (
    token_hash   TEXT PRIMARY KEY,
    username     TEXT NOT NULL REFERENCES staff(username) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   REAL NOT NULL,
    last_seen_at REAL NOT NULL
);
CREATE INDEX staff_sessions_user ON staff_sessions(username);

-- Who did what, when, to which subject (a check-in id, a username, an outbox id). No PHI in detail.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      REAL NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    detail  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log(at);

-- A reprint asked for at the desk, waiting for the kiosk that drives the chosen printer to pick it up.
CREATE TABLE reprint_requests (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    checkin_id   TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('ticket', 'label')),
    kiosk_id     TEXT NOT NULL,
    printer      TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at REAL NOT NULL,
    picked_up_at REAL
);
CREATE INDEX reprint_requests_pending ON reprint_requests(kiosk_id, picked_up_at);

-- A dead letter an admin decided not to send: the outbox row stays (nothing vanishes), with the reason.
CREATE TABLE dead_letter_discards (
    outbox_id    INTEGER PRIMARY KEY REFERENCES outbox(id),
    reason       TEXT NOT NULL,
    discarded_by TEXT NOT NULL,
    discarded_at REAL NOT NULL
);
