//! The signal state's rows in the store: inserting an item's `feedback_signals` row, putting an
//! item into a cluster, reading customer histories that memory does not hold, writing the
//! items' duplicate screens, and filling in the rows of items stored before either table existed.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use rustc_hash::FxHashMap;
use sqlx::Row;
use sqlx::sqlite::SqliteConnection;

use super::candidates::{item_number, low_bytes};
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
/// Screens one statement writes (three parameters each).
const SCREENS_PER_INSERT: usize = 1000;
/// Items whose screens one start-up step fills in (one transaction).
const SCREEN_FILL_STEP: i64 = 10_000;
/// Items whose signals one start-up step computes and writes (one transaction).
const BACKFILL_PAGE: i64 = 5_000;
/// How often the signals backfill logs its progress.
const BACKFILL_PROGRESS: std::time::Duration = std::time::Duration::from_secs(5);
/// Screens filled in between two progress lines in the log (about half a second's work).
const SCREEN_FILL_PROGRESS: usize = 100_000;

/// An item's row of `signature_screens` (see `candidates`).
pub(super) struct Screen {
    pub item: u32,
    pub text_hash: i64,
    pub low_bytes: Vec<u8>,
}

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

/// Writes items' screens. A screen replaces one left by an item of a batch that rolled back.
pub(super) async fn insert_screens(
    connection: &mut SqliteConnection,
    screens: &[Screen],
) -> Result<()> {
    for chunk in screens.chunks(SCREENS_PER_INSERT) {
        let sql = format!(
            "INSERT OR REPLACE INTO signature_screens (item, text_hash, low_bytes) VALUES {}",
            vec!["(?, ?, ?)"; chunk.len()].join(", ")
        );
        // Only placeholders are formatted in; every value is bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for screen in chunk {
            query = query
                .bind(i64::from(screen.item))
                .bind(screen.text_hash)
                .bind(&screen.low_bytes);
        }
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

/// Writes the screens of stored items that have none (a data dir from before the screens
/// existed), given how many signals rows are stored. Returns how many it wrote.
pub(super) async fn fill_screens(
    connection: &mut SqliteConnection,
    stored: usize,
) -> Result<usize> {
    // Counting a column reads every row, which also brings the small table into the writer's
    // cache, where the duplicate check wants it.
    let screens: i64 = sqlx::query_scalar("SELECT COUNT(low_bytes) FROM signature_screens")
        .fetch_one(&mut *connection)
        .await?;
    let missing = stored.saturating_sub(screens as usize);
    if missing == 0 {
        return Ok(0);
    }
    let started = Instant::now();
    tracing::info!(missing, "writing the duplicate screens of older items");
    let (mut after, mut filled) = (0i64, 0usize);
    loop {
        let step = sqlx::query(
            "SELECT s.item, s.text_hash, s.signature FROM feedback_signals s \
             WHERE s.item > ? AND NOT EXISTS \
               (SELECT 1 FROM signature_screens c WHERE c.item = s.item) \
             ORDER BY s.item LIMIT ?",
        )
        .bind(after)
        .bind(SCREEN_FILL_STEP)
        .fetch_all(&mut *connection)
        .await?;
        let Some(last) = step.last() else {
            break;
        };
        after = last.try_get("item")?;
        let screens = step
            .iter()
            .map(|row| {
                Ok(Screen {
                    item: item_number(row.try_get("item")?)?,
                    text_hash: row.try_get("text_hash")?,
                    low_bytes: low_bytes(&dedup::signature_from_bytes(row.try_get("signature")?)),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut transaction = sqlx::Connection::begin(&mut *connection).await?;
        insert_screens(&mut transaction, &screens).await?;
        transaction.commit().await?;
        let before = filled;
        filled += screens.len();
        if filled / SCREEN_FILL_PROGRESS != before / SCREEN_FILL_PROGRESS {
            tracing::info!(filled, missing, "duplicate screens written");
        }
    }
    tracing::info!(
        filled,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "duplicate screens of older items written"
    );
    Ok(filled)
}
