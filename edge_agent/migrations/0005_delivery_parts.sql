-- The parts of an outbox event that central confirmed, when the event goes out in several requests
-- (a server that limits transaction size, or offers none). A crash between parts resends only the rest.
-- `resolved`: JSON {fullUrl: "Type/id"} of what those parts created, for references from later parts.
CREATE TABLE delivery_parts (
    outbox_id    INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    part         TEXT NOT NULL,
    resolved     TEXT NOT NULL DEFAULT '{}',
    confirmed_at REAL NOT NULL,
    PRIMARY KEY (outbox_id, part)
);
