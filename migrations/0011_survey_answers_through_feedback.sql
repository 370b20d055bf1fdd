-- Survey answers linked to a feedback item of the same customer (every score sent with a
-- feedback item, and recorded answers naming such an item) leave the customer index: a customer's
-- answers are found through the customer's feedback instead (issue "Repeated and duplicate
-- feedback"). Once a store outgrows the page cache, every insert into a random-key index writes
-- about one page of its own; this one was a quarter of the pages a commit wrote with a million
-- items stored. The new `feedback_id` index is keyed by time-ordered ids, so its inserts append.
ALTER TABLE survey_responses ADD COLUMN via_feedback INTEGER NOT NULL DEFAULT 0;
UPDATE survey_responses SET via_feedback = 1
WHERE feedback_id IS NOT NULL
  AND customer_id = (SELECT f.customer_id FROM feedback f WHERE f.id = survey_responses.feedback_id);
DROP INDEX survey_responses_customer;
CREATE INDEX survey_responses_customer ON survey_responses (customer_id, kind, responded_at)
    WHERE via_feedback = 0;
CREATE INDEX survey_responses_feedback ON survey_responses (feedback_id) WHERE via_feedback = 1;
-- Every answer with the customer it counts for; filtered by customer, each arm uses an index
-- (`survey_responses_customer`, or `feedback_customer_history` then `survey_responses_feedback`).
-- `response_order` breaks ties of `responded_at` in the order answers were stored.
CREATE VIEW customer_survey_responses AS
SELECT customer_id, kind, value, responded_at, rowid AS response_order
FROM survey_responses WHERE via_feedback = 0
UNION ALL
SELECT f.customer_id, s.kind, s.value, s.responded_at, s.rowid
FROM feedback f JOIN survey_responses s ON s.feedback_id = f.id AND s.via_feedback = 1;
