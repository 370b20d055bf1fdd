-- Per-day counts by language, topic and flag kind, so grouped reports over millions of survey
-- responses read a few thousand rows instead of joining every response to the customer's
-- feedback. Kept current by triggers, following the report linkage rule (src/satisfaction.rs):
-- a response counts toward the keys of the feedback it is linked to, or, unlinked, toward each
-- distinct key of the customer's feedback created in the 30 days (2,592,000,000,000 µs) up to
-- the response. `day` is the UTC day's first microsecond.

-- Every (dimension, key) of every feedback item.
CREATE VIEW feedback_keys AS
    SELECT id, customer_id, created_at, 'language' AS dimension, language AS key FROM feedback
    UNION ALL
    SELECT f.id, f.customer_id, f.created_at, 'topic', j.value
    FROM feedback f, json_each(f.topics) j
    UNION ALL
    SELECT f.id, f.customer_id, f.created_at, 'flag_kind', json_extract(j.value, '$.kind')
    FROM feedback f, json_each(f.flags) j;

CREATE TABLE survey_daily_keys (
    day       INTEGER NOT NULL,
    dimension TEXT NOT NULL,
    key       TEXT NOT NULL,
    channel   TEXT NOT NULL,
    kind      TEXT NOT NULL,
    value     INTEGER NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (day, dimension, key, channel, kind, value)
) WITHOUT ROWID;

CREATE TABLE feedback_daily_keys (
    day        INTEGER NOT NULL,
    dimension  TEXT NOT NULL,
    key        TEXT NOT NULL,
    channel    TEXT NOT NULL,
    n          INTEGER NOT NULL,
    complaints INTEGER NOT NULL,
    PRIMARY KEY (day, dimension, key, channel)
) WITHOUT ROWID;

-- Unlinked responses of a customer in a time range (the retroactive linkage below).
CREATE INDEX survey_responses_unlinked ON survey_responses (customer_id, responded_at)
    WHERE feedback_id IS NULL;

INSERT INTO feedback_daily_keys (day, dimension, key, channel, n, complaints)
SELECT k.created_at / 86400000000 * 86400000000, k.dimension, k.key, f.channel, COUNT(*),
       SUM(CASE WHEN f.kind = 'complaint' THEN 1 ELSE 0 END)
FROM feedback_keys k JOIN feedback f ON f.id = k.id
GROUP BY 1, 2, 3, 4;

INSERT INTO survey_daily_keys (day, dimension, key, channel, kind, value, n)
SELECT day, dimension, key, channel, kind, value, COUNT(*) FROM (
    SELECT s.rowid, s.responded_at / 86400000000 * 86400000000 AS day, k.dimension, k.key,
           s.channel, s.kind, s.value
    FROM survey_responses s JOIN feedback_keys k ON k.id = s.feedback_id
    UNION
    SELECT s.rowid, s.responded_at / 86400000000 * 86400000000, k.dimension, k.key,
           s.channel, s.kind, s.value
    FROM survey_responses s JOIN feedback_keys k ON k.customer_id = s.customer_id
         AND k.created_at BETWEEN s.responded_at - 2592000000000 AND s.responded_at
    WHERE s.feedback_id IS NULL
) GROUP BY 1, 2, 3, 4, 5, 6;

CREATE TRIGGER feedback_daily_keys_count AFTER INSERT ON feedback
BEGIN
    INSERT OR IGNORE INTO feedback_daily_keys (day, dimension, key, channel, n, complaints)
    SELECT NEW.created_at / 86400000000 * 86400000000, k.dimension, k.key, NEW.channel, 0, 0
    FROM feedback_keys k WHERE k.id = NEW.id;
    UPDATE feedback_daily_keys
    SET n = n + 1, complaints = complaints + (CASE WHEN NEW.kind = 'complaint' THEN 1 ELSE 0 END)
    WHERE day = NEW.created_at / 86400000000 * 86400000000 AND channel = NEW.channel
      AND (dimension, key) IN (SELECT k.dimension, k.key FROM feedback_keys k WHERE k.id = NEW.id);
END;

-- A response linked to a feedback item counts toward that item's keys.
CREATE TRIGGER survey_daily_keys_linked AFTER INSERT ON survey_responses
WHEN NEW.feedback_id IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO survey_daily_keys (day, dimension, key, channel, kind, value, n)
    SELECT NEW.responded_at / 86400000000 * 86400000000, k.dimension, k.key, NEW.channel,
           NEW.kind, NEW.value, 0
    FROM feedback_keys k WHERE k.id = NEW.feedback_id;
    UPDATE survey_daily_keys SET n = n + 1
    WHERE day = NEW.responded_at / 86400000000 * 86400000000 AND channel = NEW.channel
      AND kind = NEW.kind AND value = NEW.value
      AND (dimension, key) IN
          (SELECT k.dimension, k.key FROM feedback_keys k WHERE k.id = NEW.feedback_id);
END;

-- An unlinked response counts once toward each distinct key of the customer's recent feedback.
CREATE TRIGGER survey_daily_keys_unlinked AFTER INSERT ON survey_responses
WHEN NEW.feedback_id IS NULL
BEGIN
    INSERT OR IGNORE INTO survey_daily_keys (day, dimension, key, channel, kind, value, n)
    SELECT DISTINCT NEW.responded_at / 86400000000 * 86400000000, k.dimension, k.key,
           NEW.channel, NEW.kind, NEW.value, 0
    FROM feedback_keys k
    WHERE k.customer_id = NEW.customer_id
      AND k.created_at BETWEEN NEW.responded_at - 2592000000000 AND NEW.responded_at;
    UPDATE survey_daily_keys SET n = n + 1
    WHERE day = NEW.responded_at / 86400000000 * 86400000000 AND channel = NEW.channel
      AND kind = NEW.kind AND value = NEW.value
      AND (dimension, key) IN (
          SELECT k.dimension, k.key FROM feedback_keys k
          WHERE k.customer_id = NEW.customer_id
            AND k.created_at BETWEEN NEW.responded_at - 2592000000000 AND NEW.responded_at);
END;

-- Feedback arriving after unlinked responses it precedes in time (an import of older items):
-- each such response gains the new item's keys that the customer's other feedback in its window
-- did not already give it.
CREATE TRIGGER survey_daily_keys_retroactive AFTER INSERT ON feedback
WHEN EXISTS (
    SELECT 1 FROM survey_responses r
    WHERE r.customer_id = NEW.customer_id AND r.feedback_id IS NULL
      AND r.responded_at BETWEEN NEW.created_at AND NEW.created_at + 2592000000000)
BEGIN
    INSERT OR IGNORE INTO survey_daily_keys (day, dimension, key, channel, kind, value, n)
    SELECT r.responded_at / 86400000000 * 86400000000, k.dimension, k.key, r.channel, r.kind,
           r.value, 0
    FROM survey_responses r, feedback_keys k
    WHERE k.id = NEW.id AND r.customer_id = NEW.customer_id AND r.feedback_id IS NULL
      AND r.responded_at BETWEEN NEW.created_at AND NEW.created_at + 2592000000000;
    UPDATE survey_daily_keys SET n = n + (
        SELECT COUNT(*) FROM survey_responses r, feedback_keys k
        WHERE k.id = NEW.id AND r.customer_id = NEW.customer_id AND r.feedback_id IS NULL
          AND r.responded_at BETWEEN NEW.created_at AND NEW.created_at + 2592000000000
          AND r.responded_at / 86400000000 * 86400000000 = survey_daily_keys.day
          AND r.channel = survey_daily_keys.channel AND r.kind = survey_daily_keys.kind
          AND r.value = survey_daily_keys.value
          AND k.dimension = survey_daily_keys.dimension AND k.key = survey_daily_keys.key
          AND NOT EXISTS (
              SELECT 1 FROM feedback_keys o
              WHERE o.customer_id = NEW.customer_id AND o.id <> NEW.id
                AND o.created_at BETWEEN r.responded_at - 2592000000000 AND r.responded_at
                AND o.dimension = k.dimension AND o.key = k.key))
    WHERE day BETWEEN NEW.created_at / 86400000000 * 86400000000
                  AND (NEW.created_at + 2592000000000) / 86400000000 * 86400000000
      AND (dimension, key) IN (SELECT k.dimension, k.key FROM feedback_keys k WHERE k.id = NEW.id);
END;
