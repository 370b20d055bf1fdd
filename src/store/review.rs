//! Review items and their audit events in the store: SQL, row mapping, the writer's review
//! operations, and the queries behind listing, watching and queue statistics.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqliteRow};
use sqlx::{Row, Sqlite};

use super::pending::statement;
use super::rows::{from_micros, placeholders, to_micros};
use crate::error::{Error, Result};
use crate::model::{Flag, FlagKind};
use crate::review::{Queue, ReviewEvent, ReviewItem, ReviewState, Transition};

const SELECT_ITEM: &str = "SELECT id, seq, queue, feedback_id, flags, priority, state, assignee, \
     lease_expires_at, version, created_at, updated_at, first_claimed_at, decision_note \
     FROM review_items";

/// Which review items a listing wants. Empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq, Hash)]
pub struct ReviewFilter {
    pub queue: Option<Queue>,
    pub states: Vec<ReviewState>,
    pub flag_kinds: Vec<FlagKind>,
    pub assignee: String,
    pub priorities: Vec<u8>,
}

/// Where a page of a listing starts: after this (priority, created_at, id).
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewCursor {
    pub priority: u8,
    pub created_at: DateTime<Utc>,
    pub id: String,
}

/// Decisions taken on items carrying one flag kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecisionCounts {
    pub confirmed: i64,
    pub dismissed: i64,
    pub escalated: i64,
}

/// The numbers of one queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueFacts {
    pub state_counts: Vec<(ReviewState, i64)>,
    pub oldest_open: Option<DateTime<Utc>>,
    /// Creation to first claim, for every item claimed at least once.
    pub first_claim_delays: Vec<TimeDelta>,
    pub decisions: Vec<(FlagKind, DecisionCounts)>,
}

fn corrupt(what: &str, value: &str) -> Error {
    Error::Corrupt(format!("unknown {what} {value:?} in review_items"))
}

fn item_from_row(row: &SqliteRow) -> Result<ReviewItem> {
    let queue: String = row.try_get("queue")?;
    let state: String = row.try_get("state")?;
    let flags: String = row.try_get("flags")?;
    let optional_time = |column: &str| -> Result<Option<DateTime<Utc>>> {
        row.try_get::<Option<i64>, _>(column)?
            .map(|micros| from_micros(micros, column))
            .transpose()
    };
    Ok(ReviewItem {
        id: row.try_get("id")?,
        queue: Queue::parse(&queue).ok_or_else(|| corrupt("queue", &queue))?,
        feedback_id: row.try_get("feedback_id")?,
        flags: serde_json::from_str::<Vec<Flag>>(&flags)
            .map_err(|e| Error::Corrupt(format!("review item flags: {e}")))?,
        priority: u8::try_from(row.try_get::<i64, _>("priority")?).unwrap_or(0),
        state: ReviewState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        assignee: row.try_get("assignee")?,
        lease_expires_at: optional_time("lease_expires_at")?,
        version: row.try_get("version")?,
        created_at: from_micros(row.try_get("created_at")?, "created_at")?,
        updated_at: from_micros(row.try_get("updated_at")?, "updated_at")?,
        first_claimed_at: optional_time("first_claimed_at")?,
        decision_note: row.try_get("decision_note")?,
        sequence: row.try_get("seq")?,
    })
}

fn event_from_row(row: &SqliteRow) -> Result<ReviewEvent> {
    let state = |column: &str| -> Result<Option<ReviewState>> {
        row.try_get::<Option<String>, _>(column)?
            .map(|s| ReviewState::parse(&s).ok_or_else(|| corrupt("state", &s)))
            .transpose()
    };
    Ok(ReviewEvent {
        id: row.try_get("id")?,
        review_item_id: row.try_get("review_item_id")?,
        actor: row.try_get("actor")?,
        time: from_micros(row.try_get("time")?, "time")?,
        from_state: state("from_state")?,
        to_state: state("to_state")?.ok_or_else(|| corrupt("state", "NULL"))?,
        note: row.try_get("note")?,
    })
}

/// The columns of a new review item, for an insert of one or many rows (`ITEM_ROW` each).
pub(super) const ITEM_COLUMNS: &str = "INSERT INTO review_items (id, seq, queue, feedback_id, \
     flags, priority, state, assignee, lease_expires_at, version, created_at, updated_at, \
     first_claimed_at, decision_note) VALUES ";
pub(super) const ITEM_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/// The columns of a review event, for an insert of one or many rows (`EVENT_ROW` each).
pub(super) const EVENT_COLUMNS: &str = "INSERT INTO review_events (id, review_item_id, actor, \
     time, from_state, to_state, note) VALUES ";
pub(super) const EVENT_ROW: &str = "(?, ?, ?, ?, ?, ?, ?)";

/// Binds a new item's values, in the order of [`ITEM_COLUMNS`]. The trigger
/// `review_item_flag_kinds` fills `review_item_flags` from the inserted row.
pub(super) fn bind_item<'q>(
    query: Query<'q, Sqlite, SqliteArguments>,
    item: &'q ReviewItem,
) -> Result<Query<'q, Sqlite, SqliteArguments>> {
    Ok(query
        .bind(&item.id)
        .bind(item.sequence)
        .bind(item.queue.as_str())
        .bind(&item.feedback_id)
        .bind(flags_json(&item.flags)?)
        .bind(i64::from(item.priority))
        .bind(item.state.as_str())
        .bind(&item.assignee)
        .bind(item.lease_expires_at.map(to_micros))
        .bind(item.version)
        .bind(to_micros(item.created_at))
        .bind(to_micros(item.updated_at))
        .bind(item.first_claimed_at.map(to_micros))
        .bind(&item.decision_note))
}

/// Binds an event's values, in the order of [`EVENT_COLUMNS`].
pub(super) fn bind_event<'q>(
    query: Query<'q, Sqlite, SqliteArguments>,
    event: &'q ReviewEvent,
) -> Query<'q, Sqlite, SqliteArguments> {
    query
        .bind(&event.id)
        .bind(&event.review_item_id)
        .bind(&event.actor)
        .bind(to_micros(event.time))
        .bind(event.from_state.map(ReviewState::as_str))
        .bind(event.to_state.as_str())
        .bind(&event.note)
}

fn flags_json(flags: &[Flag]) -> Result<String> {
    serde_json::to_string(flags).map_err(|e| Error::Corrupt(format!("serializing flags: {e}")))
}

/// Writes the item after a transition, and the transition's events.
pub(super) async fn write_transition(
    connection: &mut SqliteConnection,
    transition: &Transition,
) -> Result<()> {
    let item = &transition.item;
    sqlx::query(
        "UPDATE review_items SET seq = ?, state = ?, assignee = ?, lease_expires_at = ?, \
         version = ?, updated_at = ?, first_claimed_at = ?, decision_note = ? WHERE id = ?",
    )
    .bind(item.sequence)
    .bind(item.state.as_str())
    .bind(&item.assignee)
    .bind(item.lease_expires_at.map(to_micros))
    .bind(item.version)
    .bind(to_micros(item.updated_at))
    .bind(item.first_claimed_at.map(to_micros))
    .bind(&item.decision_note)
    .bind(&item.id)
    .execute(&mut *connection)
    .await?;
    for event in &transition.events {
        bind_event(statement(EVENT_COLUMNS, EVENT_ROW, 1), event)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// One item by id, from the writer's connection or the reader pool.
pub(super) async fn load_item<'e>(
    executor: impl sqlx::SqliteExecutor<'e>,
    id: &str,
) -> Result<Option<ReviewItem>> {
    let sql = format!("{SELECT_ITEM} WHERE id = ?");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(executor)
        .await?
        .as_ref()
        .map(item_from_row)
        .transpose()
}

/// Claimed items whose lease ended by `now`, oldest lease first.
pub(super) async fn expired_claims(
    connection: &mut SqliteConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ReviewItem>> {
    let sql = format!(
        "{SELECT_ITEM} WHERE state = 'claimed' AND lease_expires_at <= ? \
         ORDER BY lease_expires_at LIMIT ?"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(to_micros(now))
        .bind(limit)
        .fetch_all(connection)
        .await?
        .iter()
        .map(item_from_row)
        .collect()
}

/// The highest review sequence number in use, 0 for none.
pub(super) async fn max_sequence(connection: &mut SqliteConnection) -> Result<i64> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM review_items")
        .fetch_one(connection)
        .await?;
    Ok(max.unwrap_or(0))
}

/// One page of a queue in work order.
pub(super) async fn list(
    pool: &sqlx::SqlitePool,
    filter: &ReviewFilter,
    after: Option<&ReviewCursor>,
    limit: usize,
) -> Result<Vec<ReviewItem>> {
    let mut conditions: Vec<String> = Vec::new();
    if filter.queue.is_some() {
        conditions.push("queue = ?".into());
    }
    if !filter.states.is_empty() {
        conditions.push(format!("state IN ({})", placeholders(filter.states.len())));
    }
    if !filter.flag_kinds.is_empty() {
        conditions.push(format!(
            "id IN (SELECT review_item_id FROM review_item_flags WHERE flag_kind IN ({}))",
            placeholders(filter.flag_kinds.len())
        ));
    }
    if !filter.assignee.is_empty() {
        conditions.push("assignee = ?".into());
    }
    if !filter.priorities.is_empty() {
        conditions.push(format!(
            "priority IN ({})",
            placeholders(filter.priorities.len())
        ));
    }
    if after.is_some() {
        conditions.push("(priority, created_at, id) > (?, ?, ?)".into());
    }
    let mut sql = SELECT_ITEM.to_string();
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(" ORDER BY priority, created_at, id LIMIT ?");
    // Only placeholders are formatted in; every value is bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(queue) = filter.queue {
        query = query.bind(queue.as_str());
    }
    for state in &filter.states {
        query = query.bind(state.as_str());
    }
    for kind in &filter.flag_kinds {
        query = query.bind(kind.as_str());
    }
    if !filter.assignee.is_empty() {
        query = query.bind(&filter.assignee);
    }
    for priority in &filter.priorities {
        query = query.bind(i64::from(*priority));
    }
    if let Some(cursor) = after {
        query = query
            .bind(i64::from(cursor.priority))
            .bind(to_micros(cursor.created_at))
            .bind(&cursor.id);
    }
    query
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await?
        .iter()
        .map(item_from_row)
        .collect()
}

pub(super) async fn events(pool: &sqlx::SqlitePool, id: &str) -> Result<Vec<ReviewEvent>> {
    sqlx::query(
        "SELECT id, review_item_id, actor, time, from_state, to_state, note FROM review_events \
         WHERE review_item_id = ? ORDER BY rowid",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(event_from_row)
    .collect()
}

/// Items of a queue (any queue for `None`) changed after review sequence number `after`, in
/// order of change.
pub(super) async fn changes_since(
    pool: &sqlx::SqlitePool,
    queue: Option<Queue>,
    after: i64,
    limit: usize,
) -> Result<Vec<ReviewItem>> {
    let sql =
        format!("{SELECT_ITEM} WHERE seq > ? AND (? IS NULL OR queue = ?) ORDER BY seq LIMIT ?");
    let queue = queue.map(Queue::as_str);
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(after)
        .bind(queue)
        .bind(queue)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await?
        .iter()
        .map(item_from_row)
        .collect()
}

/// How many of a queue's items are in each state (states without items are left out).
pub(super) async fn state_counts(
    pool: &sqlx::SqlitePool,
    queue: Queue,
) -> Result<Vec<(ReviewState, i64)>> {
    let mut counts = Vec::new();
    for row in
        sqlx::query("SELECT state, COUNT(*) AS n FROM review_items WHERE queue = ? GROUP BY state")
            .bind(queue.as_str())
            .fetch_all(pool)
            .await?
    {
        let state: String = row.try_get("state")?;
        counts.push((
            ReviewState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
            row.try_get::<i64, _>("n")?,
        ));
    }
    Ok(counts)
}

pub(super) async fn queue_facts(pool: &sqlx::SqlitePool, queue: Queue) -> Result<QueueFacts> {
    let state_counts = state_counts(pool, queue).await?;
    let oldest_open: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(created_at) FROM review_items WHERE queue = ? AND state = 'open'",
    )
    .bind(queue.as_str())
    .fetch_one(pool)
    .await?;
    let delays: Vec<i64> = sqlx::query_scalar(
        "SELECT first_claimed_at - created_at FROM review_items \
         WHERE queue = ? AND first_claimed_at IS NOT NULL",
    )
    .bind(queue.as_str())
    .fetch_all(pool)
    .await?;
    let mut decisions: Vec<(FlagKind, DecisionCounts)> = Vec::new();
    for row in sqlx::query(
        "SELECT f.flag_kind, r.state, COUNT(*) AS n FROM review_item_flags f \
         JOIN review_items r ON r.id = f.review_item_id \
         WHERE r.queue = ? AND r.state IN ('confirmed', 'dismissed', 'escalated') \
         GROUP BY f.flag_kind, r.state ORDER BY f.flag_kind",
    )
    .bind(queue.as_str())
    .fetch_all(pool)
    .await?
    {
        let kind: String = row.try_get("flag_kind")?;
        let kind = FlagKind::parse(&kind).ok_or_else(|| corrupt("flag kind", &kind))?;
        let state: String = row.try_get("state")?;
        let n: i64 = row.try_get("n")?;
        let index = match decisions.iter().position(|(k, _)| *k == kind) {
            Some(index) => index,
            None => {
                decisions.push((kind, DecisionCounts::default()));
                decisions.len() - 1
            }
        };
        let counts = &mut decisions[index].1;
        match ReviewState::parse(&state) {
            Some(ReviewState::Confirmed) => counts.confirmed += n,
            Some(ReviewState::Dismissed) => counts.dismissed += n,
            Some(ReviewState::Escalated) => counts.escalated += n,
            _ => return Err(corrupt("state", &state)),
        }
    }
    decisions.sort_by_key(|(kind, _)| *kind);
    Ok(QueueFacts {
        state_counts,
        oldest_open: oldest_open
            .map(|micros| from_micros(micros, "created_at"))
            .transpose()?,
        first_claim_delays: delays.into_iter().map(TimeDelta::microseconds).collect(),
        decisions,
    })
}
