//! The single writer task: takes write requests in arrival order, applies whatever has queued up
//! in one transaction, commits once, then answers every request of the batch.
//!
//! A request whose own check fails (an unknown id, say) gets its error without affecting the rest
//! of the batch, because every check runs before that request writes anything. A failure of the
//! database itself rolls the whole batch back and fails every request in it, so nothing is ever
//! acknowledged that was not committed.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::cache::WriterCache;
use super::checkpoint::LogLength;
use super::history::{BatchView, NewItem, SignalState};
use super::linkage::Linkage;
use super::pending::insert_survey;
use super::{review as review_rows, rows};
use crate::error::{Error, Result};
use crate::model::{Feedback, Resolution, SurveyResponse};
use crate::review::{self, ReviewCommand, ReviewItem};
use crate::signals::Fingerprint;

/// The most expired claims returned to their queue in one write.
const MAX_EXPIRED_PER_WRITE: i64 = 500;

pub(super) enum WriteOp {
    InsertFeedback(Box<(Feedback, Fingerprint)>),
    RecordSurvey(Box<SurveyResponse>),
    ResolveFeedback {
        id: String,
        resolution: Resolution,
    },
    /// A reviewer's change to a review item.
    Review {
        id: String,
        command: ReviewCommand,
        actor: String,
        is_admin: bool,
        now: DateTime<Utc>,
    },
    /// Returns claims whose lease ended by `now` to OPEN.
    ExpireLeases {
        now: DateTime<Utc>,
    },
    /// Stop after everything queued before this request has been committed.
    Close,
}

pub(super) enum WriteReply {
    Feedback {
        feedback: Box<Feedback>,
        already_existed: bool,
    },
    Survey {
        response: Box<SurveyResponse>,
        already_existed: bool,
    },
    Review(Box<ReviewItem>),
    /// How many claims [`WriteOp::ExpireLeases`] returned to OPEN.
    Expired(usize),
    /// Answer to [`WriteOp::Close`]: everything before it is committed and the writer has stopped.
    Closed,
}

pub(super) struct WriteRequest {
    pub op: WriteOp,
    pub reply: oneshot::Sender<Result<WriteReply>>,
}

/// What the writer owns besides its connection.
pub(super) struct WriterState {
    pub signals: SignalState,
    /// The next feedback change sequence number.
    pub next_sequence: i64,
    /// The next review change sequence number.
    pub next_review_sequence: i64,
    /// Review items changed by the batch in progress, published once it commits.
    pub changed_reviews: Vec<ReviewItem>,
    /// How long the write-ahead log has grown (the checkpointer measures it).
    pub log_length: LogLength,
    /// The connection's page cache, grown with the store.
    pub cache: WriterCache,
    /// What keeps the per-day counts of unlinked survey answers.
    pub linkage: Linkage,
}

impl WriterState {
    fn take_review_sequence(&mut self) -> i64 {
        let sequence = self.next_review_sequence;
        self.next_review_sequence += 1;
        sequence
    }
}

pub(super) async fn run(
    mut connection: SqliteConnection,
    mut state: WriterState,
    mut queue: mpsc::Receiver<WriteRequest>,
    max_batch: usize,
    committed: watch::Sender<i64>,
    review_changes: broadcast::Sender<Arc<ReviewItem>>,
) {
    let mut close_reply = None;
    while close_reply.is_none() {
        let Some(first) = queue.recv().await else {
            break;
        };
        let mut batch = Vec::with_capacity(max_batch.min(64));
        for request in std::iter::once(first).chain(std::iter::from_fn(|| queue.try_recv().ok())) {
            if matches!(request.op, WriteOp::Close) {
                close_reply = Some(request.reply);
                break;
            }
            batch.push(request);
            if batch.len() >= max_batch {
                break;
            }
        }
        if batch.is_empty() {
            continue;
        }
        let first_sequence = state.next_sequence;
        let first_review_sequence = state.next_review_sequence;
        let started = std::time::Instant::now();
        let applied = apply_batch(&mut connection, &mut state, &batch).await;
        // The writer's busy time: with the store's single writer the ceiling of the write rate.
        metrics::histogram!("triage_store_batch_seconds").record(started.elapsed().as_secs_f64());
        match applied {
            Ok(replies) => {
                if state.next_sequence != first_sequence {
                    committed.send_replace(state.next_sequence - 1);
                }
                for item in state.changed_reviews.drain(..) {
                    // Nobody watching is fine; a slow watcher lags on its own.
                    let _ = review_changes.send(Arc::new(item));
                }
                for (request, reply) in batch.into_iter().zip(replies) {
                    let _ = request.reply.send(reply);
                }
                if let Err(error) = state.log_length.restart_if_long(&mut connection).await {
                    tracing::warn!(%error, "restarting the write-ahead log");
                }
                let items = state.signals.items();
                if let Err(error) = state.cache.fit(&mut connection, items).await {
                    tracing::warn!(%error, "resizing the writer's page cache");
                }
            }
            Err(error) => {
                tracing::error!(%error, size = batch.len(), "write batch rolled back");
                state.next_sequence = first_sequence;
                state.next_review_sequence = first_review_sequence;
                state.changed_reviews.clear();
                for request in batch {
                    let _ = request.reply.send(Err(Error::Corrupt(format!(
                        "the write could not be committed: {error}"
                    ))));
                }
            }
        }
    }
    queue.close();
    // Requests that raced with the close are refused rather than left hanging.
    while let Ok(request) = queue.try_recv() {
        let _ = request.reply.send(Err(Error::ShuttingDown));
    }
    if let Err(error) = connection.close().await {
        tracing::warn!(%error, "closing the writer connection");
    }
    if let Some(reply) = close_reply {
        let _ = reply.send(Ok(WriteReply::Closed));
    }
}

/// Applies a batch in one transaction. The outer error means the transaction failed and nothing
/// of the batch was committed; inner errors belong to single requests.
async fn apply_batch(
    connection: &mut SqliteConnection,
    state: &mut WriterState,
    batch: &[WriteRequest],
) -> Result<Vec<Result<WriteReply>>> {
    // IMMEDIATE takes the write lock up front, waiting (busy timeout) while the checkpointer
    // restarts the log; a deferred transaction that read first would fail on upgrading instead.
    let mut transaction = connection.begin_with("BEGIN IMMEDIATE").await?;
    let new_items: Vec<NewItem> = batch
        .iter()
        .enumerate()
        .filter_map(|(position, request)| match &request.op {
            WriteOp::InsertFeedback(item) => Some((position, &item.0, &item.1)),
            _ => None,
        })
        .collect();
    let mut known = known_external_ids(&mut transaction, &new_items).await?;
    let fresh: Vec<NewItem> = new_items
        .into_iter()
        .filter(|(_, feedback, _)| !known.contains(&feedback.external_id))
        .collect();
    let mut view = state.signals.prefetch(&mut transaction, &fresh).await?;
    let mut replies = Vec::with_capacity(batch.len());
    for (position, request) in batch.iter().enumerate() {
        if !matches!(request.op, WriteOp::InsertFeedback(_)) {
            // Requests of other kinds read and change stored rows.
            view.pending.write(&mut transaction, &state.linkage).await?;
        }
        let reply = match &request.op {
            WriteOp::InsertFeedback(item) => {
                let (feedback, fingerprint) = &**item;
                let new = NewFeedback {
                    position,
                    feedback,
                    fingerprint,
                };
                let batch = BatchRows {
                    view: &mut view,
                    known: &mut known,
                };
                insert_feedback(&mut transaction, state, batch, new).await
            }
            WriteOp::ResolveFeedback { id, resolution } => {
                resolve_feedback(&mut transaction, id, resolution, &mut state.next_sequence).await
            }
            WriteOp::RecordSurvey(response) => {
                record_survey(&mut transaction, &mut state.linkage, response).await
            }
            WriteOp::Review {
                id,
                command,
                actor,
                is_admin,
                now,
            } => {
                change_review_item(&mut transaction, state, id, command, actor, *is_admin, *now)
                    .await
            }
            WriteOp::ExpireLeases { now } => expire_leases(&mut transaction, state, *now).await,
            WriteOp::Close => unreachable!("close requests never enter a batch"),
        };
        match reply {
            Err(error @ (Error::Storage(_) | Error::Corrupt(_))) => return Err(error),
            other => replies.push(other),
        }
    }
    view.pending.write(&mut transaction, &state.linkage).await?;
    state.signals.write_screens(&view)?;
    let started = std::time::Instant::now();
    transaction.commit().await?;
    metrics::histogram!("triage_store_commit_seconds").record(started.elapsed().as_secs_f64());
    // Only now do the rows the batch read and wrote match the store.
    state.signals.committed(view);
    metrics::histogram!("triage_store_batch_size").record(batch.len() as f64);
    Ok(replies)
}

/// Which of the batch's external ids are already stored, in one statement: a retry is rare, so
/// only its stored row is then read.
async fn known_external_ids(
    connection: &mut SqliteConnection,
    items: &[NewItem<'_>],
) -> Result<HashSet<String>> {
    let mut known = HashSet::new();
    // SQLite limits bound parameters per statement; 500 stays well inside it.
    for chunk in items.chunks(500) {
        let sql = format!(
            "SELECT external_id FROM feedback WHERE external_id IN ({})",
            rows::placeholders(chunk.len())
        );
        // Only placeholders are formatted in; the ids are bound.
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
        for (_, feedback, _) in chunk {
            query = query.bind(&feedback.external_id);
        }
        known.extend(query.fetch_all(&mut *connection).await?);
    }
    Ok(known)
}

/// What the batch in progress has read and decided so far.
struct BatchRows<'a> {
    view: &'a mut BatchView,
    /// External ids stored before the batch or earlier in it.
    known: &'a mut HashSet<String>,
}

/// A feedback item to insert and its position in the write batch.
struct NewFeedback<'a> {
    position: usize,
    feedback: &'a Feedback,
    fingerprint: &'a Fingerprint,
}

async fn insert_feedback(
    connection: &mut SqliteConnection,
    state: &mut WriterState,
    batch: BatchRows<'_>,
    new: NewFeedback<'_>,
) -> Result<WriteReply> {
    let BatchRows { view, known } = batch;
    let NewFeedback {
        position,
        feedback,
        fingerprint,
    } = new;
    if known.contains(&feedback.external_id) {
        // The stored item may be one of this batch's.
        view.pending.write(connection, &state.linkage).await?;
        let row = sqlx::query(rows::SELECT_FEEDBACK_BY_EXTERNAL_ID)
            .bind(&feedback.external_id)
            .fetch_one(&mut *connection)
            .await?;
        return Ok(WriteReply::Feedback {
            feedback: Box::new(rows::feedback_from_row(&row)?),
            already_existed: true,
        });
    }
    let mut feedback = feedback.clone();
    state
        .signals
        .judge(connection, view, position, &mut feedback, fingerprint)
        .await?;
    view.pending
        .add_feedback(state.next_sequence, feedback.clone());
    state.next_sequence += 1;
    state.signals.record(view, &feedback, fingerprint);
    known.insert(feedback.external_id.clone());
    // Flagged feedback enters its review queues in the same transaction.
    for (mut item, event) in review::new_items(
        &feedback.id,
        &feedback.analysis.flags,
        feedback.analysis.priority,
        feedback.received_at,
    ) {
        item.sequence = state.take_review_sequence();
        state.changed_reviews.push(item.clone());
        view.pending.add_review(item, event);
    }
    // A score sent with the text is a survey answer too, linked to it, in the same transaction.
    if let Some(score) = feedback.score {
        view.pending.add_survey(SurveyResponse {
            id: uuid::Uuid::now_v7().to_string(),
            external_id: format!("feedback:{}", feedback.external_id),
            customer_id: feedback.customer_id.clone(),
            score,
            responded_at: feedback.created_at,
            channel: feedback.channel.clone(),
            feedback_id: Some(feedback.id.clone()),
        });
    }
    Ok(WriteReply::Feedback {
        feedback: Box::new(feedback),
        already_existed: false,
    })
}

async fn record_survey(
    connection: &mut SqliteConnection,
    linkage: &mut Linkage,
    response: &SurveyResponse,
) -> Result<WriteReply> {
    let existing = sqlx::query(rows::SELECT_SURVEY_BY_EXTERNAL_ID)
        .bind(&response.external_id)
        .fetch_optional(&mut *connection)
        .await?;
    if let Some(row) = existing {
        return Ok(WriteReply::Survey {
            response: Box::new(rows::survey_from_row(&row)?),
            already_existed: true,
        });
    }
    let mut response = response.clone();
    let mut via_feedback = false;
    if let Some(feedback_id) = &response.feedback_id {
        let linked: Option<(String, String)> =
            sqlx::query_as("SELECT channel, customer_id FROM feedback WHERE id = ?")
                .bind(feedback_id)
                .fetch_optional(&mut *connection)
                .await?;
        let Some((channel, customer_id)) = linked else {
            return Err(Error::invalid(
                "response.feedback_id",
                format!("no feedback with id {feedback_id:?}"),
            ));
        };
        // A response that names no channel came through its feedback's.
        if response.channel.is_empty() {
            response.channel = channel;
        }
        via_feedback = customer_id == response.customer_id;
    }
    insert_survey(connection, &response, via_feedback).await?;
    if response.feedback_id.is_none() {
        linkage.count_unlinked(connection, &response).await?;
    }
    Ok(WriteReply::Survey {
        response: Box::new(response),
        already_existed: false,
    })
}

async fn change_review_item(
    connection: &mut SqliteConnection,
    state: &mut WriterState,
    id: &str,
    command: &ReviewCommand,
    actor: &str,
    is_admin: bool,
    now: DateTime<Utc>,
) -> Result<WriteReply> {
    let item = review_rows::load_item(&mut *connection, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no review item with id {id:?}")))?;
    let mut transition = review::apply(&item, command, actor, is_admin, now)?;
    transition.item.sequence = state.take_review_sequence();
    review_rows::write_transition(connection, &transition).await?;
    state.changed_reviews.push(transition.item.clone());
    Ok(WriteReply::Review(Box::new(transition.item)))
}

async fn expire_leases(
    connection: &mut SqliteConnection,
    state: &mut WriterState,
    now: DateTime<Utc>,
) -> Result<WriteReply> {
    let expired = review_rows::expired_claims(connection, now, MAX_EXPIRED_PER_WRITE).await?;
    let mut count = 0;
    for item in expired {
        if let Some(mut transition) = review::expire(&item, now) {
            transition.item.sequence = state.take_review_sequence();
            review_rows::write_transition(connection, &transition).await?;
            state.changed_reviews.push(transition.item);
            count += 1;
        }
    }
    Ok(WriteReply::Expired(count))
}

async fn resolve_feedback(
    connection: &mut SqliteConnection,
    id: &str,
    resolution: &Resolution,
    next_sequence: &mut i64,
) -> Result<WriteReply> {
    let sequence = *next_sequence;
    let updated = sqlx::query(rows::UPDATE_RESOLUTION)
        .bind(sequence)
        .bind(&resolution.text)
        .bind(&resolution.resolved_by)
        .bind(rows::to_micros(resolution.resolved_at))
        .bind(id)
        .execute(&mut *connection)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(Error::NotFound(format!("no feedback with id {id:?}")));
    }
    *next_sequence += 1;
    let row = sqlx::query(rows::SELECT_FEEDBACK_BY_ID)
        .bind(id)
        .fetch_one(&mut *connection)
        .await?;
    Ok(WriteReply::Feedback {
        feedback: Box::new(rows::feedback_from_row(&row)?),
        already_existed: false,
    })
}
