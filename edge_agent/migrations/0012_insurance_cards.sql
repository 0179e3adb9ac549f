-- A plastic insurance card the patient scanned at the kiosk (issue #17): both sides as JPEG and each
-- field as the patient confirmed it, sealed like every other PHI column (key rotation re-encrypts them,
-- edge_agent/key_rotation.py). One card per check-in, written in the check-in's own transaction; the
-- sealed values are emptied by the retention purge once the check-in's events are delivered.
-- Width and height are no PHI: the desk shows the images at their size without unsealing to measure.
CREATE TABLE insurance_cards (
    checkin_id    TEXT PRIMARY KEY REFERENCES arrivals(checkin_id),
    front_sealed  BLOB NOT NULL,
    back_sealed   BLOB,
    fields_sealed BLOB NOT NULL,
    front_size    TEXT NOT NULL,  -- "WxH" in pixels
    back_size     TEXT,
    review_count  INTEGER NOT NULL DEFAULT 0,  -- fields marked needs_review (the arrivals row's marker)
    created_at    TEXT NOT NULL
);
