-- The SIU schedule feed (schedule.source = "hl7v2"). No PHI here: the appointments themselves are rows of
-- the `appointments` cache; these tables only make a resent message harmless and keep each one's status.

-- Every SIU message applied, by MSH-10: a message sent again is acknowledged without being applied again.
CREATE TABLE siu_messages (
    control_id  TEXT PRIMARY KEY,
    received_at TEXT NOT NULL
);
CREATE INDEX siu_messages_received ON siu_messages(received_at);

-- Appointments the feed has seen: our key (SCH-2 filler id, else SCH-1 placer id), both ids, the status
-- the latest message gave it.
CREATE TABLE siu_appointments (
    appointment_id TEXT PRIMARY KEY,
    placer_id      TEXT NOT NULL DEFAULT '',
    filler_id      TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL CHECK (status IN ('booked', 'cancelled', 'deleted', 'noshow')),
    updated_at     TEXT NOT NULL
);
CREATE INDEX siu_appointments_placer ON siu_appointments(placer_id);
