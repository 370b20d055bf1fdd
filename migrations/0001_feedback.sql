-- Feedback items. `seq` is the store's change sequence number: every insert or update of a row
-- takes the next number, so derived state (the search index) can tail the table by `seq`.
-- Timestamps are microseconds since the Unix epoch, UTC.
CREATE TABLE feedback (
    id                  TEXT PRIMARY KEY NOT NULL,
    seq                 INTEGER NOT NULL,
    external_id         TEXT NOT NULL,
    customer_id         TEXT NOT NULL,
    text                TEXT NOT NULL,
    kind                TEXT NOT NULL,
    channel             TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    received_at         INTEGER NOT NULL,
    language_hint       TEXT NOT NULL,
    score_kind          TEXT,
    score_value         INTEGER,
    attributes          TEXT NOT NULL,
    language            TEXT NOT NULL,
    language_confidence REAL NOT NULL,
    resolution          TEXT,
    resolved_by         TEXT,
    resolved_at         INTEGER,
    topics              TEXT NOT NULL DEFAULT '[]',
    sentiment           TEXT NOT NULL DEFAULT 'unspecified',
    polarity            REAL NOT NULL DEFAULT 0,
    priority            INTEGER NOT NULL DEFAULT 0,
    flags               TEXT NOT NULL DEFAULT '[]',
    cluster_id          TEXT NOT NULL DEFAULT ''
);

CREATE UNIQUE INDEX feedback_external_id ON feedback (external_id);
CREATE UNIQUE INDEX feedback_seq ON feedback (seq);
CREATE INDEX feedback_customer_created ON feedback (customer_id, created_at);
