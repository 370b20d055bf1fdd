-- One random-key index on customers instead of two (issue "Repeated and duplicate feedback"):
-- once a store outgrows the page cache, every random-key index costs about a page write per
-- stored item. The feedback index now carries the id, so the writer's history lookups read it
-- without touching the feedback rows and find the signals through feedback_signals' unique
-- feedback_id; feedback_signals' own (customer_id, created_at) index is no longer needed.
CREATE INDEX feedback_customer_history ON feedback (customer_id, created_at, id);
DROP INDEX feedback_customer_created;
DROP INDEX feedback_signals_customer;
