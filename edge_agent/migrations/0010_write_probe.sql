-- The write probe (issue #13, failure 2): the agent rewrites this one row every few seconds, so
-- /healthz and the systemd watchdog know whether the store can still commit (disk full, a lock held
-- by another writer), not only whether it can be read. Holds a counter and a time, nothing else.
CREATE TABLE write_probe (
    only       INTEGER PRIMARY KEY CHECK (only = 1),
    seq        INTEGER NOT NULL,
    written_at REAL NOT NULL
);
