-- Per-day counts that reports read instead of scanning every response or feedback item of a
-- period: survey responses by day, channel and score, feedback by day and channel. The writer
-- keeps them up to date in the transaction of every insert. `day` is the UTC day's first
-- microsecond since the Unix epoch.
CREATE TABLE survey_daily (
    day     INTEGER NOT NULL,
    channel TEXT NOT NULL,
    kind    TEXT NOT NULL,
    value   INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (day, channel, kind, value)
) WITHOUT ROWID;

INSERT INTO survey_daily (day, channel, kind, value, n)
SELECT responded_at / 86400000000 * 86400000000, channel, kind, value, COUNT(*)
FROM survey_responses GROUP BY 1, 2, 3, 4;

CREATE TABLE feedback_daily (
    day        INTEGER NOT NULL,
    channel    TEXT NOT NULL,
    n          INTEGER NOT NULL,
    complaints INTEGER NOT NULL,
    PRIMARY KEY (day, channel)
) WITHOUT ROWID;

INSERT INTO feedback_daily (day, channel, n, complaints)
SELECT created_at / 86400000000 * 86400000000, channel, COUNT(*),
       SUM(CASE WHEN kind = 'complaint' THEN 1 ELSE 0 END)
FROM feedback GROUP BY 1, 2;

-- Kept current by triggers, inside SQLite: no extra statement per insert for the writer.
CREATE TRIGGER feedback_daily_count AFTER INSERT ON feedback
BEGIN
    INSERT OR IGNORE INTO feedback_daily (day, channel, n, complaints)
    VALUES (NEW.created_at / 86400000000 * 86400000000, NEW.channel, 0, 0);
    UPDATE feedback_daily
    SET n = n + 1, complaints = complaints + (CASE WHEN NEW.kind = 'complaint' THEN 1 ELSE 0 END)
    WHERE day = NEW.created_at / 86400000000 * 86400000000 AND channel = NEW.channel;
END;

CREATE TRIGGER survey_daily_count AFTER INSERT ON survey_responses
BEGIN
    INSERT OR IGNORE INTO survey_daily (day, channel, kind, value, n)
    VALUES (NEW.responded_at / 86400000000 * 86400000000, NEW.channel, NEW.kind, NEW.value, 0);
    UPDATE survey_daily SET n = n + 1
    WHERE day = NEW.responded_at / 86400000000 * 86400000000 AND channel = NEW.channel
      AND kind = NEW.kind AND value = NEW.value;
END;

-- The flag kinds of a review item, from its flags, without a statement per kind.
CREATE TRIGGER review_item_flag_kinds AFTER INSERT ON review_items
BEGIN
    INSERT OR IGNORE INTO review_item_flags (review_item_id, flag_kind)
    SELECT NEW.id, json_extract(value, '$.kind') FROM json_each(NEW.flags);
END;
