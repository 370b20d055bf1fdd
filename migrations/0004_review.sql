-- Review queues (DESIGN.md §7). Items are never deleted; events are append-only.
-- `seq` is the review change sequence number of the item's latest change (watchers resume by it);
-- `version` is the etag. Timestamps are microseconds since the Unix epoch, UTC.
CREATE TABLE review_items (
    id               TEXT PRIMARY KEY NOT NULL,
    seq              INTEGER NOT NULL,
    queue            TEXT NOT NULL,
    feedback_id      TEXT NOT NULL REFERENCES feedback (id),
    flags            TEXT NOT NULL,
    priority         INTEGER NOT NULL,
    state            TEXT NOT NULL,
    assignee         TEXT NOT NULL DEFAULT '',
    lease_expires_at INTEGER,
    version          INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    first_claimed_at INTEGER,
    decision_note    TEXT NOT NULL DEFAULT ''
);

CREATE UNIQUE INDEX review_items_seq ON review_items (seq);
CREATE UNIQUE INDEX review_items_feedback_queue ON review_items (feedback_id, queue);
-- A queue in work order: highest priority (lowest number) first, then oldest.
CREATE INDEX review_items_order ON review_items (queue, priority, created_at, id);
CREATE INDEX review_items_state ON review_items (queue, state, created_at);
-- Claims whose lease may have ended.
CREATE INDEX review_items_lease ON review_items (lease_expires_at) WHERE state = 'claimed';

-- The flag kinds of each item, for filtering and decision rates per kind.
CREATE TABLE review_item_flags (
    review_item_id TEXT NOT NULL REFERENCES review_items (id),
    flag_kind      TEXT NOT NULL,
    PRIMARY KEY (review_item_id, flag_kind)
) WITHOUT ROWID;

CREATE INDEX review_item_flags_kind ON review_item_flags (flag_kind, review_item_id);

CREATE TABLE review_events (
    id             TEXT PRIMARY KEY NOT NULL,
    review_item_id TEXT NOT NULL REFERENCES review_items (id),
    actor          TEXT NOT NULL,
    time           INTEGER NOT NULL,
    from_state     TEXT,
    to_state       TEXT NOT NULL,
    note           TEXT NOT NULL
);

CREATE INDEX review_events_item ON review_events (review_item_id, id);

-- Events can be added, never changed or removed.
CREATE TRIGGER review_events_append_only_update BEFORE UPDATE ON review_events
BEGIN
    SELECT RAISE(ABORT, 'review events are append-only');
END;
CREATE TRIGGER review_events_append_only_delete BEFORE DELETE ON review_events
BEGIN
    SELECT RAISE(ABORT, 'review events are append-only');
END;
CREATE TRIGGER review_items_never_deleted BEFORE DELETE ON review_items
BEGIN
    SELECT RAISE(ABORT, 'review items are never deleted');
END;
