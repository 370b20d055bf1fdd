-- The keyed per-day survey counts, keyed by score before dimension: a scored item adds one to a
-- row per language, topic and flag kind of the same day, channel, kind and value, and with this
-- order those rows sit side by side on one page. Keyed by dimension first they were spread over
-- one page each; with a million items stored a third of the pages every commit wrote were this
-- table's (docs/PERFORMANCE.md, session 6). Reports read whole days of one dimension and scan the
-- days either way.

-- The triggers of 0006 name this table; renaming the copy to the old name must not rewrite them.
PRAGMA legacy_alter_table = ON;

CREATE TABLE survey_daily_keys_by_score (
    day       INTEGER NOT NULL,
    channel   TEXT NOT NULL,
    kind      TEXT NOT NULL,
    value     INTEGER NOT NULL,
    dimension TEXT NOT NULL,
    key       TEXT NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (day, channel, kind, value, dimension, key)
) WITHOUT ROWID;

INSERT INTO survey_daily_keys_by_score (day, channel, kind, value, dimension, key, n)
SELECT day, channel, kind, value, dimension, key, n FROM survey_daily_keys;

DROP TABLE survey_daily_keys;

ALTER TABLE survey_daily_keys_by_score RENAME TO survey_daily_keys;

PRAGMA legacy_alter_table = OFF;
