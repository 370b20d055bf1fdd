//! The store: the system of record (DESIGN.md §2, §8).
//!
//! SQLite in WAL mode with `synchronous=FULL`. All writes go through one writer task that owns
//! the only writing connection and commits whatever requests have queued up in one transaction
//! (group commit), so durability costs one fsync per batch rather than one per request, and
//! idempotency checks see every earlier write in order. Reads use a separate pool of read-only
//! connections and never wait for the writer.

mod activity;
mod cache;
mod candidates;
mod checkpoint;
mod customers;
mod history;
mod linkage;
mod pending;
mod review;
mod rows;
mod screens;
mod signal_rows;
mod surveys;
#[cfg(test)]
mod upgrade_tests;
mod writer;

pub use review::{DecisionCounts, QueueFacts, ReviewCursor, ReviewFilter};
pub use surveys::{
    FeedbackCount, FeedbackFacts, ProfileFacts, ReportDimension, ResponseFacts, ScoreCount,
};

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Row};
use tokio::sync::{Mutex, broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use self::cache::WriterCache;
use self::checkpoint::{Checkpointer, LogLength};
use self::customers::SharedCustomerItems;
use self::linkage::Linkage;
use crate::error::{Error, Result};
use crate::model::{Feedback, Resolution, SurveyResponse};
use crate::review::{Queue, ReviewCommand, ReviewEvent, ReviewItem, ReviewState};
use crate::scheduling::BatchScheduling;
use crate::signals::Fingerprint;
use crate::signals::dedup::DedupParams;
use crate::signals::repeats::HistoryParams;
use history::SignalState;
use writer::{WriteOp, WriteReply, WriteRequest, WriterState};

/// Review changes kept for watchers that are momentarily behind; one further behind is told it
/// lagged and catches up from the store.
const REVIEW_CHANGE_BUFFER: usize = 1024;

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "triage.db";

/// Tuning of the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How many write requests may wait for the writer before callers are held back.
    pub write_queue_capacity: usize,
    /// The most write requests committed in one transaction.
    pub max_batch: usize,
    /// Read-only connections for queries.
    pub reader_connections: u32,
    /// How near-duplicate texts are found.
    pub dedup: DedupParams,
    /// When a customer's items are repeats or a burst.
    pub history: HistoryParams,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            write_queue_capacity: 4096,
            max_batch: 512,
            reader_connections: 4,
            dedup: DedupParams::default(),
            history: HistoryParams::default(),
        }
    }
}

/// Result of storing a feedback item.
#[derive(Debug, Clone)]
pub struct Stored {
    pub feedback: Feedback,
    /// True when an item with the same external id was already stored; nothing was written.
    pub already_existed: bool,
}

/// A change of a feedback item, as derived state (the search index) reads it.
#[derive(Debug, Clone)]
pub struct Change {
    pub sequence: i64,
    pub feedback: Feedback,
    /// The change inserted the item: no derived state built from earlier changes holds it.
    /// False for updates, and for items stored before the store recorded this.
    pub inserted: bool,
}

/// Handle to the store. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct Store {
    readers: SqlitePool,
    writes: mpsc::Sender<WriteRequest>,
    writer_task: Arc<Mutex<Option<JoinHandle<()>>>>,
    checkpointer: Arc<Mutex<Option<Checkpointer>>>,
    committed: watch::Receiver<i64>,
    review_changes: broadcast::Sender<Arc<ReviewItem>>,
    /// Every stored item by customer: how readers find a customer's feedback.
    customers: SharedCustomerItems,
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir` and applies pending migrations.
    pub async fn open(data_dir: &Path, options: StoreOptions) -> Result<Store> {
        tokio::fs::create_dir_all(data_dir).await?;
        let path = data_dir.join(DATABASE_FILE);
        let base = SqliteConnectOptions::new()
            .filename(&path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            // 64 MiB of page cache per connection: index pages of a store of millions of items
            // stay in memory instead of being read back for every insert and lookup.
            .pragma("cache_size", "-65536")
            // Statement journals (every insert that fires triggers opens one) and sort trees in
            // memory: as files they were more than half of the writer's bytes written.
            .pragma("temp_store", "memory")
            .disable_statement_logging();
        let mut writer_connection: SqliteConnection = base
            .clone()
            .create_if_missing(true)
            // The checkpointer copies the log into the database file; commits never wait for it.
            .pragma("wal_autocheckpoint", "0")
            .connect()
            .await?;
        // `run_direct` rather than `run`: the generic `Acquire` bound of `run` makes the whole
        // server future fail the `Send` check (a known higher-ranked lifetime limitation).
        sqlx::migrate!("./migrations")
            .run_direct(None, &mut writer_connection, false)
            .await?;
        let log_length = LogLength::default();
        let checkpointer = Checkpointer::start(&base, log_length.clone()).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(options.reader_connections.max(1))
            .connect_with(base.read_only(true))
            .await?;
        let next_sequence = rows::max_sequence(&mut writer_connection).await? + 1;
        // Readers keep 64 MiB each; the writer's cache grows with the store (see `cache`).
        let mut cache = WriterCache::for_stored_items(&mut writer_connection).await?;
        let signals = SignalState::load(
            &mut writer_connection,
            &data_dir.join(screens::SCREENS_FILE),
            options.dedup,
            options.history,
        )
        .await?;
        let customers = signals.customers();
        cache.fit(&mut writer_connection, signals.items()).await?;
        let (writes, queue) = mpsc::channel(options.write_queue_capacity.max(1));
        let next_review_sequence = review::max_sequence(&mut writer_connection).await? + 1;
        let (committed_sender, committed) = watch::channel(next_sequence - 1);
        let (review_changes, _) = broadcast::channel(REVIEW_CHANGE_BUFFER);
        let state = WriterState {
            signals,
            next_sequence,
            next_review_sequence,
            changed_reviews: Vec::new(),
            log_length,
            cache,
            linkage: Linkage::load(&mut writer_connection, customers.clone()).await?,
        };
        let writer = writer::run(
            writer_connection,
            state,
            queue,
            options.max_batch.max(1),
            committed_sender,
            review_changes.clone(),
        );
        // The writer waits for SQLite's thread once per statement. On a runtime worker every one
        // of those wake-ups queued behind the requests' language detection and analysis; on a
        // thread of its own the writer resumes as soon as SQLite answers (docs/PERFORMANCE.md,
        // session 5). In the batch class it takes a statement's rows in runs rather than
        // preempting SQLite's thread for each one (`scheduling`).
        let runtime = tokio::runtime::Handle::current();
        let task = tokio::task::spawn_blocking(move || {
            let _scheduling = BatchScheduling::enter();
            runtime.block_on(writer)
        });
        Ok(Store {
            readers,
            writes,
            writer_task: Arc::new(Mutex::new(Some(task))),
            checkpointer: Arc::new(Mutex::new(Some(checkpointer))),
            committed,
            review_changes,
            customers,
        })
    }

    /// Stores a new feedback item unless one with the same external id exists, in which case the
    /// stored one is returned unchanged. Returns once the write is durably committed.
    ///
    /// The writer judges the item against every stored one (repeats, duplicates, bursts) using
    /// its `fingerprint`, adds the flags it finds, and returns the item as stored.
    pub async fn insert_feedback(
        &self,
        feedback: Feedback,
        fingerprint: Fingerprint,
    ) -> Result<Stored> {
        match self
            .write(WriteOp::InsertFeedback(Box::new((feedback, fingerprint))))
            .await?
        {
            WriteReply::Feedback {
                feedback,
                already_existed,
            } => Ok(Stored {
                feedback: *feedback,
                already_existed,
            }),
            _ => Err(Error::ShuttingDown),
        }
    }

    /// Stores a survey response unless one with the same external id exists (then returns the
    /// stored one, unchanged). A `feedback_id` must name a stored item.
    pub async fn record_survey(&self, response: SurveyResponse) -> Result<(SurveyResponse, bool)> {
        match self
            .write(WriteOp::RecordSurvey(Box::new(response)))
            .await?
        {
            WriteReply::Survey {
                response,
                already_existed,
            } => Ok((*response, already_existed)),
            _ => Err(Error::ShuttingDown),
        }
    }

    /// Records (or replaces) the resolution of a feedback item.
    pub async fn resolve_feedback(&self, id: &str, resolution: Resolution) -> Result<Feedback> {
        let op = WriteOp::ResolveFeedback {
            id: id.to_string(),
            resolution,
        };
        match self.write(op).await? {
            WriteReply::Feedback { feedback, .. } => Ok(*feedback),
            _ => Err(Error::ShuttingDown),
        }
    }

    /// Applies a reviewer's command to a review item, with its audit events, in one transaction.
    pub async fn change_review_item(
        &self,
        id: &str,
        command: ReviewCommand,
        actor: &str,
        is_admin: bool,
    ) -> Result<ReviewItem> {
        let op = WriteOp::Review {
            id: id.to_string(),
            command,
            actor: actor.to_string(),
            is_admin,
            now: Utc::now(),
        };
        match self.write(op).await? {
            WriteReply::Review(item) => Ok(*item),
            _ => Err(Error::ShuttingDown),
        }
    }

    /// Returns claims whose lease has ended to OPEN; how many there were.
    pub async fn expire_leases(&self) -> Result<usize> {
        match self
            .write(WriteOp::ExpireLeases { now: Utc::now() })
            .await?
        {
            WriteReply::Expired(count) => Ok(count),
            _ => Err(Error::ShuttingDown),
        }
    }

    pub async fn review_item(&self, id: &str) -> Result<Option<ReviewItem>> {
        review::load_item(&self.readers, id).await
    }

    /// One page of review items in work order (highest priority first, then oldest).
    pub async fn list_review_items(
        &self,
        filter: &ReviewFilter,
        after: Option<&ReviewCursor>,
        limit: usize,
    ) -> Result<Vec<ReviewItem>> {
        review::list(&self.readers, filter, after, limit).await
    }

    /// The audit trail of a review item, oldest first.
    pub async fn review_events(&self, id: &str) -> Result<Vec<ReviewEvent>> {
        review::events(&self.readers, id).await
    }

    /// Review items changed after review sequence number `after`, in order of change.
    pub async fn review_changes_since(
        &self,
        queue: Option<Queue>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<ReviewItem>> {
        review::changes_since(&self.readers, queue, after, limit).await
    }

    /// Every review change as it commits.
    pub fn subscribe_review_changes(&self) -> broadcast::Receiver<Arc<ReviewItem>> {
        self.review_changes.subscribe()
    }

    pub async fn queue_facts(&self, queue: Queue) -> Result<QueueFacts> {
        review::queue_facts(&self.readers, queue).await
    }

    /// How many of a queue's items are in each state: the part of [`Store::queue_facts`] that
    /// stays cheap however many items the queue has held.
    pub async fn queue_state_counts(&self, queue: Queue) -> Result<Vec<(ReviewState, i64)>> {
        review::state_counts(&self.readers, queue).await
    }

    pub async fn get_feedback(&self, id: &str) -> Result<Option<Feedback>> {
        let row = sqlx::query(rows::SELECT_FEEDBACK_BY_ID)
            .bind(id)
            .fetch_optional(&self.readers)
            .await?;
        row.as_ref().map(rows::feedback_from_row).transpose()
    }

    /// Several items by id; unknown ids are left out.
    pub async fn get_feedback_many(&self, ids: &[String]) -> Result<HashMap<String, Feedback>> {
        let mut found = HashMap::with_capacity(ids.len());
        // SQLite limits bound parameters per statement; 500 stays well inside it.
        for chunk in ids.chunks(500) {
            let placeholders = rows::placeholders(chunk.len());
            let sql = format!("{} IN ({placeholders})", rows::SELECT_FEEDBACK_WHERE_ID);
            // Only placeholders are formatted in; the ids are bound.
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(id);
            }
            for row in query.fetch_all(&self.readers).await? {
                let feedback = rows::feedback_from_row(&row)?;
                found.insert(feedback.id.clone(), feedback);
            }
        }
        Ok(found)
    }

    /// Items changed after sequence number `after`, oldest change first: how derived state (the
    /// search index) catches up.
    pub async fn changes_since(&self, after: i64, limit: usize) -> Result<Vec<Change>> {
        let rows = sqlx::query(rows::SELECT_CHANGES_SINCE)
            .bind(after)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.readers)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Change {
                    sequence: row.try_get("seq")?,
                    feedback: rows::feedback_from_row(row)?,
                    inserted: row.try_get("inserted")?,
                })
            })
            .collect()
    }

    /// The sequence number of the latest committed change; the receiver is notified on every
    /// commit.
    pub fn committed_sequence(&self) -> watch::Receiver<i64> {
        self.committed.clone()
    }

    /// Number of stored feedback items.
    pub async fn feedback_count(&self) -> Result<i64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM feedback")
            .fetch_one(&self.readers)
            .await?;
        Ok(count)
    }

    /// Finishes every queued write, then closes all connections. Writes requested afterwards fail
    /// with [`Error::ShuttingDown`].
    pub async fn close(&self) -> Result<()> {
        let (reply, done) = oneshot::channel();
        if self
            .writes
            .send(WriteRequest {
                op: WriteOp::Close,
                reply,
            })
            .await
            .is_ok()
        {
            // The writer answers the close request only after it has stopped taking requests.
            let _ = done.await;
        }
        if let Some(task) = self.writer_task.lock().await.take()
            && let Err(join_error) = task.await
        {
            tracing::error!(error = %join_error, "store writer task failed");
        }
        if let Some(checkpointer) = self.checkpointer.lock().await.take() {
            checkpointer.stop().await;
        }
        self.readers.close().await;
        Ok(())
    }

    async fn write(&self, op: WriteOp) -> Result<WriteReply> {
        let (reply, answer) = oneshot::channel();
        self.writes
            .send(WriteRequest { op, reply })
            .await
            .map_err(|_| Error::ShuttingDown)?;
        answer.await.map_err(|_| Error::ShuttingDown)?
    }
}
