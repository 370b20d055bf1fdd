//! The signal state's rows in the store: inserting an item's `feedback_signals` row, putting an
//! item into a cluster, reading customer histories that memory does not hold, and filling in the
//! rows of items stored before the table existed.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use rustc_hash::FxHashMap;
use sqlx::Row;
use sqlx::sqlite::SqliteConnection;

use super::candidates::item_number;
use super::customers::{SharedCustomerItems, json_items};
use super::history::{NewItem, is_complaint};
use super::pending::SignalsRow;
use super::rows;
use crate::error::Result;
use crate::model::{Feedback, FeedbackKind, Sentiment};
use crate::signals::dedup::{self, DedupParams};
use crate::signals::repeats::{self, HistoryParams, PastItem};
use crate::signals::{Fingerprint, fingerprint};

/// The most of a customer's items read to judge repeats and bursts.
pub(super) const MAX_HISTORY: i64 = 200;
/// Items whose signals one start-up step computes and writes (one transaction).
const BACKFILL_PAGE: i64 = 5_000;
/// How often the signals backfill logs its progress.
const BACKFILL_PROGRESS: std::time::Duration = std::time::Duration::from_secs(5);

/// The stored facts of an item that its signals row repeats.
pub(super) struct Subject<'a> {
    pub feedback_id: &'a str,
    pub customer_id: &'a str,
    pub created_at: DateTime<Utc>,
    pub complaint: bool,
    pub cluster_id: &'a str,
}

impl<'a> Subject<'a> {
    pub fn of(feedback: &'a Feedback) -> Subject<'a> {
        Subject {
            feedback_id: &feedback.id,
            customer_id: &feedback.customer_id,
            created_at: feedback.created_at,
            complaint: is_complaint(feedback.kind, feedback.analysis.sentiment),
            cluster_id: &feedback.analysis.cluster_id,
        }
    }
}

pub(super) async fn insert_signals(
    connection: &mut SqliteConnection,
    subject: &Subject<'_>,
    fingerprint: &Fingerprint,
) -> Result<u32> {
    let done = sqlx::query(
        "INSERT INTO feedback_signals (feedback_id, customer_id, created_at, complaint, words, \
         text_hash, signature, stems, cluster_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(subject.feedback_id)
    .bind(subject.customer_id)
    .bind(rows::to_micros(subject.created_at))
    .bind(subject.complaint)
    .bind(fingerprint.text.words as i64)
    .bind(fingerprint.text.exact_hash as i64)
    .bind(dedup::signature_to_bytes(&fingerprint.text.signature))
    .bind(repeats::stems_to_bytes(&fingerprint.stems.hashes))
    .bind(subject.cluster_id)
    .execute(connection)
    .await?;
    item_number(done.last_insert_rowid())
}

/// A new item's `feedback_signals` row, to be written with its batch.
pub(super) fn signals_row(
    item: u32,
    subject: &Subject<'_>,
    fingerprint: &Fingerprint,
) -> SignalsRow {
    SignalsRow {
        item,
        feedback_id: subject.feedback_id.to_string(),
        customer_id: subject.customer_id.to_string(),
        created_at: rows::to_micros(subject.created_at),
        complaint: subject.complaint,
        words: fingerprint.text.words as i64,
        text_hash: fingerprint.text.exact_hash as i64,
        signature: dedup::signature_to_bytes(&fingerprint.text.signature),
        stems: repeats::stems_to_bytes(&fingerprint.stems.hashes),
        cluster_id: subject.cluster_id.to_string(),
    }
}

/// Puts a stored item into a cluster. The change gets no sequence number: sequence numbers
/// tell the index what to index again, and the index holds no cluster ids (search reads its hits
/// from the store), so indexing the item again would only cost a delete and an add
/// (docs/PERFORMANCE.md, session 20).
pub(super) async fn join_cluster(
    connection: &mut SqliteConnection,
    feedback_id: &str,
    cluster_id: &str,
) -> Result<()> {
    sqlx::query("UPDATE feedback_signals SET cluster_id = ? WHERE feedback_id = ?")
        .bind(cluster_id)
        .bind(feedback_id)
        .execute(&mut *connection)
        .await?;
    sqlx::query("UPDATE feedback SET cluster_id = ? WHERE id = ?")
        .bind(cluster_id)
        .bind(feedback_id)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// How many items each cluster holds, read once at start-up (the writer keeps the counts since).
pub(super) async fn cluster_sizes(
    connection: &mut SqliteConnection,
) -> Result<FxHashMap<String, u32>> {
    // The literal condition lets SQLite read only the partial index on clustered items.
    let sizes: Vec<(String, i64)> = sqlx::query_as(
        "SELECT cluster_id, COUNT(*) FROM feedback_signals WHERE cluster_id <> '' \
         GROUP BY cluster_id",
    )
    .fetch_all(connection)
    .await?;
    Ok(sizes
        .into_iter()
        .map(|(cluster_id, size)| (cluster_id, size as u32))
        .collect())
}

/// The span of a customer's items that matters to a new item created at `created_at`.
pub(super) fn history_window(
    created_at: DateTime<Utc>,
    params: &HistoryParams,
) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        created_at - params.reach(),
        created_at + params.burst_window,
    )
}

/// The stored history of each new item (at most [`MAX_HISTORY`] of its customer's items in its
/// window, newest first), by position: the items come from `customers`, their rows from one
/// statement.
pub(super) async fn customer_histories(
    connection: &mut SqliteConnection,
    items: &[NewItem<'_>],
    params: &HistoryParams,
    customers: &SharedCustomerItems,
) -> Result<HashMap<usize, Vec<PastItem>>> {
    let mut histories = HashMap::with_capacity(items.len());
    let wanted: Vec<(usize, Vec<u32>)> = {
        let customers = customers.read();
        items
            .iter()
            .map(|(position, feedback, _)| {
                let (from, to) = history_window(feedback.created_at, params);
                let found = customers.newest_between(
                    &feedback.customer_id,
                    rows::to_micros(from),
                    rows::to_micros(to),
                    MAX_HISTORY as usize,
                );
                (*position, found)
            })
            .filter(|(_, found)| !found.is_empty())
            .collect()
    };
    if wanted.is_empty() {
        return Ok(histories);
    }
    let mut all: Vec<u32> = wanted
        .iter()
        .flat_map(|(_, found)| found)
        .copied()
        .collect();
    all.sort_unstable();
    all.dedup();
    let mut past: FxHashMap<u32, PastItem> = FxHashMap::default();
    let mut rows = sqlx::query(
        "SELECT item, feedback_id, created_at, complaint, stems FROM feedback_signals \
         WHERE item IN (SELECT value FROM json_each(?))",
    )
    .bind(json_items(&all))
    .fetch(connection);
    while let Some(row) = rows.try_next().await? {
        past.insert(
            item_number(row.try_get("item")?)?,
            PastItem {
                feedback_id: row.try_get("feedback_id")?,
                created_at: rows::from_micros(row.try_get("created_at")?, "created_at")?,
                complaint: row.try_get("complaint")?,
                stems: repeats::stems_from_bytes(row.try_get("stems")?),
            },
        );
    }
    for (position, found) in wanted {
        // An item of a batch that rolled back has no row.
        let history: Vec<PastItem> = found
            .iter()
            .filter_map(|item| past.get(item).cloned())
            .collect();
        if !history.is_empty() {
            histories.insert(position, history);
        }
    }
    Ok(histories)
}

/// Computes signals rows for items stored before the table existed (an upgraded data dir).
pub(super) async fn backfill(
    connection: &mut SqliteConnection,
    params: &DedupParams,
) -> Result<()> {
    backfill_in_pages(connection, params, BACKFILL_PAGE).await
}

/// [`backfill`], `page` items per step.
pub(super) async fn backfill_in_pages(
    connection: &mut SqliteConnection,
    params: &DedupParams,
    page: i64,
) -> Result<()> {
    // Both tables only grow and every signals row belongs to one feedback item, so equal counts
    // mean nothing is missing; counting reads two small indexes, where looking for a missing row
    // joined every item (2 of the 6 seconds a start took with a million items stored).
    let (feedback, signals): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM feedback), (SELECT COUNT(*) FROM feedback_signals)",
    )
    .fetch_one(&mut *connection)
    .await?;
    if feedback == signals {
        return Ok(());
    }
    let missing = feedback - signals;
    let started = Instant::now();
    let mut last_report = Instant::now();
    let (mut done, mut after) = (0usize, 0i64);
    loop {
        // Pages go on from the last item found, so the items before it are not read again: a
        // query from the start for each page made a million-item upgrade quadratic.
        let rows = sqlx::query(
            "SELECT f.rowid AS position, f.id, f.customer_id, f.created_at, f.kind, f.sentiment, \
             f.text, f.language, f.cluster_id FROM feedback f \
             WHERE f.rowid > ? \
               AND NOT EXISTS (SELECT 1 FROM feedback_signals s WHERE s.feedback_id = f.id) \
             ORDER BY f.rowid LIMIT ?",
        )
        .bind(after)
        .bind(page)
        .fetch_all(&mut *connection)
        .await?;
        let Some(last) = rows.last() else {
            tracing::info!(
                items = done,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "duplicate signatures of older items computed"
            );
            return Ok(());
        };
        after = last.try_get("position")?;
        let texts = rows
            .iter()
            .map(|row| Ok((row.try_get("text")?, row.try_get("language")?)))
            .collect::<Result<Vec<(&str, &str)>>>()?;
        let prints = fingerprints(&texts, params);
        let mut transaction = sqlx::Connection::begin(&mut *connection).await?;
        for (row, print) in rows.iter().zip(&prints) {
            let kind: &str = row.try_get("kind")?;
            let sentiment: &str = row.try_get("sentiment")?;
            let subject = Subject {
                feedback_id: row.try_get("id")?,
                customer_id: row.try_get("customer_id")?,
                created_at: rows::from_micros(row.try_get("created_at")?, "created_at")?,
                complaint: is_complaint(
                    FeedbackKind::parse(kind).unwrap_or_default(),
                    Sentiment::parse(sentiment).unwrap_or_default(),
                ),
                cluster_id: row.try_get("cluster_id")?,
            };
            insert_signals(&mut transaction, &subject, print).await?;
        }
        transaction.commit().await?;
        done += rows.len();
        if last_report.elapsed() >= BACKFILL_PROGRESS {
            tracing::info!(
                done,
                missing,
                "computing duplicate signatures of older items"
            );
            last_report = Instant::now();
        }
    }
}

/// The fingerprints of `texts` (text, language), computed on every core: each takes tens of
/// microseconds, a minute of one core for a million items.
fn fingerprints(texts: &[(&str, &str)], params: &DedupParams) -> Vec<Fingerprint> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = texts.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = texts
            .chunks(per_thread)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|(text, language)| fingerprint(text, language, params))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}
