-- Exact duplicates are found through the LSH tables (identical texts share every band), so the
-- text hash is only compared, never looked up; its index cost a random page write per insert.
DROP INDEX feedback_signals_text_hash;
