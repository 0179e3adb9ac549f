-- Insurance eligibility answers, one per patient per day of service (edge_agent/eligibility/).
-- request_sealed holds what is asked (member id, name, birth date, payer); summary_sealed the parsed answer.
-- state / error / control_number carry no PHI: they are what logs and metrics may see.

CREATE TABLE eligibility_checks (
    patient_key     TEXT NOT NULL,   -- pseudonym of the patient
    day             TEXT NOT NULL,   -- site-local date of service, YYYY-MM-DD
    coverage_key    TEXT NOT NULL,   -- pseudonym of (payer, member id) asked about: a new card means a new check
    state           TEXT NOT NULL CHECK (state IN ('pending', 'verified', 'inactive', 'not_verified')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,            -- due time of the next inquiry; NULL: nothing to do
    checked_at      REAL,            -- when the last answer (or failure) came
    answered_at     REAL,            -- when the last real answer came (for max_age)
    control_number  TEXT NOT NULL DEFAULT '',
    error           TEXT NOT NULL DEFAULT '',
    request_sealed  BLOB NOT NULL,
    summary_sealed  BLOB,
    PRIMARY KEY (patient_key, day)
);
CREATE INDEX eligibility_checks_due ON eligibility_checks(next_attempt_at);

-- The arrivals row's eligibility cell (DeskView JSON), sealed to the arrival like its details.
ALTER TABLE arrivals ADD COLUMN eligibility_sealed BLOB;
