-- Every consent document version the agent has served, with its exact texts (no PHI). A record signed on
-- a version replaced since, even across restarts, is still checked against its own text; and a version
-- label, once served, always means the same text.
CREATE TABLE consent_versions (
    document_id     TEXT NOT NULL,
    version         TEXT NOT NULL,
    document        TEXT NOT NULL,  -- JSON: titles, texts, hashes and rules of this version
    first_served_at TEXT NOT NULL,
    PRIMARY KEY (document_id, version)
);
