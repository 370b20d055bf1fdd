-- Survey responses (NPS, CSAT, CES). A score sent with a feedback item is stored here too,
-- linked to it through feedback_id. `channel` is the response's own channel, or the linked
-- feedback's when the response names none. Timestamps are microseconds since the Unix epoch, UTC.
CREATE TABLE survey_responses (
    id           TEXT PRIMARY KEY NOT NULL,
    external_id  TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    value        INTEGER NOT NULL,
    responded_at INTEGER NOT NULL,
    channel      TEXT NOT NULL,
    feedback_id  TEXT REFERENCES feedback (id)
);

CREATE UNIQUE INDEX survey_responses_external_id ON survey_responses (external_id);
-- Profiles and snapshots read one customer's responses, newest first.
CREATE INDEX survey_responses_customer ON survey_responses (customer_id, kind, responded_at);
-- Reports scan a time range; the index covers what ungrouped and channel reports count, so they
-- never touch the table.
CREATE INDEX survey_responses_time ON survey_responses (responded_at, channel, kind, value);
-- Reports read the feedback of a time range.
CREATE INDEX feedback_created ON feedback (created_at);
