-- The customer index on feedback leaves the database (issue "Repeated and duplicate feedback"):
-- every new item put an entry at a random leaf of it, and once a store outgrew the page cache
-- that was a page written to the log (and copied again by the checkpointer) for every item; a
-- million-item store ingested 26% slower with it than without (docs/PERFORMANCE.md, session 20).
-- The store keeps each customer's items in memory instead (src/store/customers.rs), rebuilt from
-- feedback_signals at start-up, and reads rows by key.
--
-- Everything that read a customer's feedback through the index goes too: the two triggers that
-- counted unlinked survey answers toward the keys of the customer's recent feedback (the writer
-- keeps those counts now, src/store/linkage.rs) and the view of every answer by customer (the
-- readers build it from the map, src/store/surveys.rs).
DROP TRIGGER survey_daily_keys_unlinked;
DROP TRIGGER survey_daily_keys_retroactive;
DROP VIEW customer_survey_responses;
DROP INDEX feedback_customer_history;
