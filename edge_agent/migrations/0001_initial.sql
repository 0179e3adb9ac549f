-- The first schema. Never edit a released migration: add a new numbered file.
-- Columns named *_sealed hold AES-GCM ciphertext under the site key; *_key columns hold pseudonyms.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE kiosks (
    kiosk_id     TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL,
    enrolled_at  TEXT NOT NULL,
    revoked_at   TEXT,
    last_seen_at TEXT,
    heartbeat    TEXT            -- last Heartbeat JSON (device states, no PHI)
);

-- Today's schedule cache, so lookups keep working while the central system is down.
CREATE TABLE appointments (
    appointment_id TEXT PRIMARY KEY,
    day            TEXT NOT NULL,  -- site-local YYYY-MM-DD
    start          TEXT NOT NULL,
    clinician      TEXT NOT NULL,
    location       TEXT NOT NULL,
    patient_key    TEXT NOT NULL,  -- pseudonym of the patient
    details_sealed BLOB NOT NULL,  -- patient name, birth date, demographics, coverage on file
    updated_at     TEXT NOT NULL
);
CREATE INDEX appointments_day ON appointments(day);

-- Ticket numbers are per site per day and never reused that day.
CREATE TABLE ticket_counters (
    day      TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);

CREATE TABLE arrivals (
    checkin_id        TEXT PRIMARY KEY,
    day               TEXT NOT NULL,
    ticket            TEXT NOT NULL,
    kiosk_id          TEXT NOT NULL,
    appointment_id    TEXT,
    appointment_start TEXT,
    clinician         TEXT NOT NULL DEFAULT '',
    identity_source   TEXT NOT NULL,
    language          TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('waiting', 'called', 'roomed', 'done', 'no_show')),
    room              TEXT NOT NULL DEFAULT '',
    flags             TEXT NOT NULL DEFAULT '[]',  -- JSON list of flag codes, no PHI
    offline           INTEGER NOT NULL DEFAULT 0,
    arrived_at        TEXT NOT NULL,
    called_at         TEXT,
    roomed_at         TEXT,
    finished_at       TEXT,
    patient_key       TEXT NOT NULL,
    details_sealed    BLOB NOT NULL,  -- name, birth date, coverage, demographics, answers
    UNIQUE (day, ticket)
);
CREATE INDEX arrivals_day_status ON arrivals(day, status);

-- A retried submit returns the stored answer and stores nothing new.
CREATE TABLE idempotency (
    key          TEXT PRIMARY KEY,
    kiosk_id     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response     TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE consents (
    consent_id     TEXT PRIMARY KEY,
    checkin_id     TEXT NOT NULL REFERENCES arrivals(checkin_id),
    patient_key    TEXT NOT NULL,
    document_id    TEXT NOT NULL,
    version        TEXT NOT NULL,
    language       TEXT NOT NULL,
    text_sha256    TEXT NOT NULL,
    decision       TEXT NOT NULL CHECK (decision IN ('accepted', 'declined')),
    signed_at      TEXT NOT NULL,
    kiosk_id       TEXT NOT NULL,
    record_sealed  BLOB NOT NULL,  -- the ConsentRecord with its strokes
    pdf_sealed     BLOB            -- the sealed PDF, once rendered
);
CREATE INDEX consents_patient ON consents(patient_key, document_id);

-- Events for the central system, committed in the same transaction as the business change.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_type      TEXT NOT NULL,
    aggregate_id    TEXT NOT NULL,
    patient_key     TEXT NOT NULL,   -- delivery is in order per patient
    payload_sealed  BLOB NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    created_at      REAL NOT NULL,
    delivered_at    REAL,
    last_error      TEXT NOT NULL DEFAULT '',
    outcome         TEXT NOT NULL DEFAULT ''  -- the server's OperationOutcome for dead letters
);
CREATE INDEX outbox_pending ON outbox(status, next_attempt_at);
CREATE INDEX outbox_patient ON outbox(patient_key, status, id);
