-- What the duplicate and repeat detection needs of every stored item (issue "Repeated and
-- duplicate feedback"). `item` is a small stable number the in-memory LSH tables refer to;
-- `signature` is the MinHash signature (128 little-endian u32), `stems` the sorted hashes of the
-- text's content stems (little-endian u32). `complaint` marks items that can be repeated.
CREATE TABLE feedback_signals (
    item        INTEGER PRIMARY KEY,
    feedback_id TEXT NOT NULL UNIQUE REFERENCES feedback (id),
    customer_id TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    complaint   INTEGER NOT NULL,
    words       INTEGER NOT NULL,
    text_hash   INTEGER NOT NULL,
    signature   BLOB NOT NULL,
    stems       BLOB NOT NULL,
    cluster_id  TEXT NOT NULL DEFAULT ''
);

-- A customer's recent items: repeats and bursts.
CREATE INDEX feedback_signals_customer ON feedback_signals (customer_id, created_at);
-- Exact duplicates.
CREATE INDEX feedback_signals_text_hash ON feedback_signals (text_hash);
-- Cluster sizes.
CREATE INDEX feedback_signals_cluster ON feedback_signals (cluster_id) WHERE cluster_id <> '';
