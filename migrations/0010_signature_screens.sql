-- A narrow copy of what rules out a near-duplicate candidate without its `feedback_signals` row
-- (issue "Repeated and duplicate feedback"): the low byte of each of the item's 128 MinHash
-- slots and its exact text hash, about 150 bytes a row against about 780. With a million items
-- stored most LSH candidates are months-old chance hits whose signals rows are in no cache; this
-- table stays in the writer's cache and rules most of them out. `item` is feedback_signals' item.
-- Rows of items stored before this table existed are filled in at start-up.
CREATE TABLE signature_screens (
    item      INTEGER PRIMARY KEY,
    text_hash INTEGER NOT NULL,
    low_bytes BLOB NOT NULL
);
