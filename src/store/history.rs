//! The signal state the writer owns (DESIGN.md §2): LSH tables and stem frequencies over every
//! stored item, and the store queries behind `REPEAT_COMPLAINT`, `DUPLICATE_TEXT` and `BURST`.
//!
//! The writer judges each new item against everything committed before it and everything earlier
//! in its own batch, in arrival order, so two near-identical texts arriving together still see
//! each other. The in-memory tables are rebuilt from `feedback_signals` at start-up; if a batch
//! rolls back they may keep entries for items that were never stored, which is harmless: every
//! candidate is verified against the stored signature before it counts.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use rustc_hash::{FxHashMap, FxHashSet};
use sqlx::Row;
use sqlx::sqlite::SqliteConnection;

use super::candidates::{CandidateRow, RecentRows, candidate_rows, item_number};
use super::rows;
use crate::error::{Error, Result};
use crate::model::{Feedback, FeedbackKind, Flag, FlagKind, Sentiment, TextSpan};
use crate::signals::dedup::{self, Candidate, DedupParams, LshTables};
use crate::signals::repeats::{self, DocumentFrequencies, HistoryParams, PastItem};
use crate::signals::{Fingerprint, fingerprint};

/// The most of a customer's items read to judge repeats and bursts.
const MAX_HISTORY: i64 = 200;
/// The most candidates verified per new item.
const MAX_CANDIDATES: usize = 32;
/// Evidence of a duplicate quotes the text up to this many characters.
const MAX_EVIDENCE_CHARS: usize = 1000;
/// New items whose history one statement reads (four parameters each).
const HISTORY_ITEMS_PER_READ: usize = 200;

/// What one write batch reads before its first item (one statement for all its items instead
/// of one per item and question: every statement is a round trip to SQLite's thread), kept
/// current with what the batch's own items add.
#[derive(Default)]
pub(super) struct BatchView {
    /// Each new item's stored history, by the item's position in the batch.
    history: HashMap<usize, Vec<PastItem>>,
    /// Items stored earlier in this batch, by customer.
    added_history: HashMap<String, Vec<PastItem>>,
    /// Stored rows of the LSH candidates of the batch's items, and of its own stored items.
    candidates: FxHashMap<u32, CandidateRow>,
    /// Each new item's scored LSH candidates among the items stored before the batch, by the
    /// item's position in the batch.
    scored: HashMap<usize, Vec<Candidate>>,
    /// The band keys of the items stored earlier in this batch: band key → items.
    batch_bands: FxHashMap<u32, Vec<u32>>,
}

/// A new item of a batch: its position, the item and its fingerprint.
pub(super) type NewItem<'a> = (usize, &'a Feedback, &'a Fingerprint);

pub(super) struct SignalState {
    dedup: DedupParams,
    history: HistoryParams,
    lsh: LshTables,
    frequencies: DocumentFrequencies,
    recent: RecentRows,
}

/// The candidates worth verifying, best first, at most [`MAX_CANDIDATES`].
fn to_verify(scored: &mut [Candidate]) -> Vec<u32> {
    let mut candidates = dedup::select_candidates(scored);
    candidates.truncate(MAX_CANDIDATES);
    candidates
}

fn is_complaint(kind: FeedbackKind, sentiment: Sentiment) -> bool {
    kind == FeedbackKind::Complaint || sentiment == Sentiment::Negative
}

impl SignalState {
    /// Fills in `feedback_signals` for items stored before it existed, then rebuilds the
    /// in-memory tables from it.
    pub async fn load(
        connection: &mut SqliteConnection,
        dedup: DedupParams,
        history: HistoryParams,
    ) -> Result<SignalState> {
        let started = Instant::now();
        backfill(connection, &dedup).await?;
        let mut state = SignalState {
            lsh: LshTables::new(&dedup),
            frequencies: DocumentFrequencies::default(),
            recent: RecentRows::default(),
            dedup,
            history,
        };
        let mut items = 0usize;
        {
            let mut rows = sqlx::query("SELECT item, signature, stems FROM feedback_signals")
                .fetch(&mut *connection);
            while let Some(row) = rows.try_next().await? {
                let item = item_number(row.try_get("item")?)?;
                let signature = dedup::signature_from_bytes(row.try_get("signature")?);
                state.lsh.push_unsorted(item, &signature);
                state
                    .frequencies
                    .add(&repeats::stems_from_bytes(row.try_get("stems")?));
                items += 1;
            }
        }
        state.lsh.seal();
        tracing::info!(
            items,
            lsh_bytes = state.lsh.memory_bytes(),
            stem_bytes = state.frequencies.memory_bytes(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "duplicate and repeat tables rebuilt"
        );
        Ok(state)
    }

    /// Reads the stored history and duplicate candidates of a batch's new items.
    pub async fn prefetch(
        &mut self,
        connection: &mut SqliteConnection,
        items: &[NewItem<'_>],
    ) -> Result<BatchView> {
        let mut view = BatchView::default();
        let (params, dedup, lsh) = (&self.history, &self.dedup, &self.lsh);
        let histories = async {
            let mut histories = HashMap::new();
            for chunk in items.chunks(HISTORY_ITEMS_PER_READ) {
                histories.extend(customer_histories(connection, chunk, params).await?);
            }
            Ok::<_, Error>(histories)
        };
        // The search needs no store, so it runs while SQLite's thread answers the history reads
        // (it yields first so the reads are sent before it starts): with a million items stored
        // both take tens of microseconds per item of the writer's time.
        let search = async {
            tokio::task::yield_now().await;
            items
                .iter()
                .filter(|(_, _, fingerprint)| fingerprint.text.words >= dedup.min_words)
                .map(|(position, _, fingerprint)| {
                    (
                        *position,
                        lsh.scored_candidates(&fingerprint.text.signature),
                    )
                })
                .collect::<Vec<_>>()
        };
        let (histories, searched) = tokio::join!(histories, search);
        view.history = histories?;
        let mut wanted: FxHashSet<u32> = FxHashSet::default();
        for (position, mut scored) in searched {
            wanted.extend(to_verify(&mut scored));
            view.scored.insert(position, scored);
        }
        let wanted: Vec<u32> = wanted.into_iter().collect();
        view.candidates = candidate_rows(connection, &mut self.recent, &wanted).await?;
        Ok(view)
    }

    /// Keeps the candidate rows of a committed batch for the next ones.
    pub fn keep_rows(&mut self, view: BatchView) {
        self.recent.keep(view.candidates);
    }

    /// Adds the history flags of a new item (not yet inserted) and its cluster id; puts an
    /// earlier item into the new cluster when it is the cluster's first member.
    pub async fn judge(
        &mut self,
        connection: &mut SqliteConnection,
        view: &mut BatchView,
        position: usize,
        feedback: &mut Feedback,
        fingerprint: &Fingerprint,
        next_sequence: &mut i64,
    ) -> Result<()> {
        let created_at = feedback.created_at;
        let past = view.history_of(position, &feedback.customer_id, created_at, &self.history);
        let mut flags: Vec<Flag> = Vec::new();
        if is_complaint(feedback.kind, feedback.analysis.sentiment) {
            flags.extend(repeats::repeat_complaint(
                &feedback.text,
                &fingerprint.stems,
                created_at,
                &past,
                &self.frequencies,
                &self.history,
            ));
        }
        flags.extend(repeats::burst(created_at, &past, &self.history));
        if fingerprint.text.words >= self.dedup.min_words
            && let Some((flag, cluster_id)) = self
                .duplicate(
                    connection,
                    view,
                    position,
                    feedback,
                    fingerprint,
                    next_sequence,
                )
                .await?
        {
            flags.push(flag);
            feedback.analysis.cluster_id = cluster_id;
        }
        feedback.analysis.flags.extend(flags);
        feedback.analysis.flags.sort_by_key(|f| f.kind);
        Ok(())
    }

    async fn duplicate(
        &mut self,
        connection: &mut SqliteConnection,
        view: &mut BatchView,
        position: usize,
        feedback: &Feedback,
        fingerprint: &Fingerprint,
        next_sequence: &mut i64,
    ) -> Result<Option<(Flag, String)>> {
        let signature = &fingerprint.text.signature;
        // The candidates found before the batch plus those among its own earlier items: the
        // tables are searched once per item, not again here (with a million items stored that
        // search is a tenth of an item's cost). Identical texts share every band, so exact
        // duplicates come first.
        let mut scored = view.scored.remove(&position).unwrap_or_default();
        scored.extend(
            self.lsh
                .scored_batch_candidates(signature, &view.batch_bands),
        );
        let candidates = to_verify(&mut scored);
        // The batch's own items can only push older candidates out of the LSH buckets, so the
        // rows read before the batch normally cover every candidate; read any that are not.
        let missing: Vec<u32> = candidates
            .iter()
            .copied()
            .filter(|item| !view.candidates.contains_key(item))
            .collect();
        if !missing.is_empty() {
            view.candidates
                .extend(candidate_rows(connection, &mut self.recent, &missing).await?);
        }
        let mut matches: Vec<(f64, u32, String, String)> = Vec::new();
        for item in candidates {
            let Some(row) = view.candidates.get(&item) else {
                // In the LSH tables but not stored: an item of a batch that rolled back.
                continue;
            };
            if row.customer_id == feedback.customer_id || row.words < self.dedup.min_words as i64 {
                continue;
            }
            // Equal exact hashes are equal texts; the estimate could only agree.
            let similarity = if row.text_hash == fingerprint.text.exact_hash as i64 {
                1.0
            } else {
                dedup::estimated_similarity(signature, &row.signature)
            };
            if similarity >= self.dedup.threshold {
                matches.push((
                    similarity,
                    item,
                    row.feedback_id.clone(),
                    row.cluster_id.clone(),
                ));
            }
        }
        if matches.is_empty() {
            return Ok(None);
        }
        matches.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (similarity, best_item, best_id, best_cluster) = &matches[0];
        // A cluster is named after its first member.
        let cluster_id = if best_cluster.is_empty() {
            join_cluster(connection, best_id, best_id, next_sequence).await?;
            if let Some(row) = view.candidates.get_mut(best_item) {
                row.cluster_id = best_id.clone();
            }
            best_id.clone()
        } else {
            best_cluster.clone()
        };
        let members: i64 = sqlx::query_scalar(
            // The literal condition lets SQLite use the partial index on clustered items.
            "SELECT COUNT(*) FROM feedback_signals WHERE cluster_id = ? AND cluster_id <> ''",
        )
        .bind(&cluster_id)
        .fetch_one(&mut *connection)
        .await?;
        let size = members + 1;
        let quoted: String = feedback.text.chars().take(MAX_EVIDENCE_CHARS).collect();
        let flag = Flag {
            kind: FlagKind::DuplicateText,
            confidence: *similarity,
            reason: format!(
                "Near-identical text (similarity {similarity:.2}) was already sent by other \
                 customers: this is member {size} of cluster {cluster_id}, first seen in \
                 feedback {cluster_id}."
            ),
            evidence: vec![TextSpan {
                start: 0,
                end: quoted.chars().count(),
                text: quoted,
            }],
            related_feedback_ids: matches.iter().map(|m| m.2.clone()).collect(),
        };
        Ok(Some((flag, cluster_id)))
    }

    /// Records a new, inserted item so later items (of this batch too) are judged against it.
    pub async fn record(
        &mut self,
        connection: &mut SqliteConnection,
        view: &mut BatchView,
        feedback: &Feedback,
        fingerprint: &Fingerprint,
    ) -> Result<()> {
        let subject = Subject::of(feedback);
        let item = insert_signals(connection, &subject, fingerprint).await?;
        for key in self.lsh.insert(item, &fingerprint.text.signature) {
            view.batch_bands.entry(key).or_default().push(item);
        }
        self.frequencies.add(&fingerprint.stems.hashes);
        view.candidates.insert(
            item,
            CandidateRow {
                feedback_id: feedback.id.clone(),
                customer_id: feedback.customer_id.clone(),
                words: fingerprint.text.words as i64,
                text_hash: fingerprint.text.exact_hash as i64,
                signature: fingerprint.text.signature.clone(),
                cluster_id: feedback.analysis.cluster_id.clone(),
            },
        );
        view.added_history
            .entry(feedback.customer_id.clone())
            .or_default()
            .push(PastItem {
                feedback_id: feedback.id.clone(),
                created_at: feedback.created_at,
                complaint: subject.complaint,
                stems: fingerprint.stems.hashes.clone(),
            });
        Ok(())
    }
}

impl BatchView {
    /// The customer's items around a new one, newest first: what was stored before the batch
    /// plus what the batch stored before it, within the repeat and burst windows.
    fn history_of(
        &mut self,
        position: usize,
        customer_id: &str,
        created_at: DateTime<Utc>,
        params: &HistoryParams,
    ) -> Vec<PastItem> {
        let mut past = self.history.remove(&position).unwrap_or_default();
        if let Some(added) = self.added_history.get(customer_id) {
            let (from, to) = history_window(created_at, params);
            past.extend(
                added
                    .iter()
                    .filter(|p| (from..=to).contains(&p.created_at))
                    .cloned(),
            );
            past.sort_by_key(|p| std::cmp::Reverse(p.created_at));
            past.truncate(MAX_HISTORY as usize);
        }
        past
    }
}

/// The stored facts of an item that its signals row repeats.
struct Subject<'a> {
    feedback_id: &'a str,
    customer_id: &'a str,
    created_at: DateTime<Utc>,
    complaint: bool,
    cluster_id: &'a str,
}

impl<'a> Subject<'a> {
    fn of(feedback: &'a Feedback) -> Subject<'a> {
        Subject {
            feedback_id: &feedback.id,
            customer_id: &feedback.customer_id,
            created_at: feedback.created_at,
            complaint: is_complaint(feedback.kind, feedback.analysis.sentiment),
            cluster_id: &feedback.analysis.cluster_id,
        }
    }
}

async fn insert_signals(
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

/// Puts a stored item into a cluster; its change gets a new sequence number so the index sees it.
async fn join_cluster(
    connection: &mut SqliteConnection,
    feedback_id: &str,
    cluster_id: &str,
    next_sequence: &mut i64,
) -> Result<()> {
    sqlx::query("UPDATE feedback_signals SET cluster_id = ? WHERE feedback_id = ?")
        .bind(cluster_id)
        .bind(feedback_id)
        .execute(&mut *connection)
        .await?;
    sqlx::query("UPDATE feedback SET cluster_id = ?, seq = ? WHERE id = ?")
        .bind(cluster_id)
        .bind(*next_sequence)
        .bind(feedback_id)
        .execute(&mut *connection)
        .await?;
    *next_sequence += 1;
    Ok(())
}

/// The span of a customer's items that matters to a new item created at `created_at`.
fn history_window(
    created_at: DateTime<Utc>,
    params: &HistoryParams,
) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        created_at - params.repeat_window.max(params.burst_window),
        created_at + params.burst_window,
    )
}

/// The stored history of each new item (at most [`MAX_HISTORY`] of its customer's items in its
/// window, newest first), by position, in one statement.
async fn customer_histories(
    connection: &mut SqliteConnection,
    items: &[NewItem<'_>],
    params: &HistoryParams,
) -> Result<HashMap<usize, Vec<PastItem>>> {
    let mut histories = HashMap::with_capacity(items.len());
    if items.is_empty() {
        return Ok(histories);
    }
    let sql = format!(
        "WITH wanted(position, customer_id, low, high) AS (VALUES {}) \
         SELECT position, feedback_id, created_at, complaint, stems FROM ( \
           SELECT w.position AS position, f.id AS feedback_id, f.created_at AS created_at, \
             s.complaint, s.stems, \
             ROW_NUMBER() OVER (PARTITION BY w.position ORDER BY f.created_at DESC) AS recency \
           FROM wanted w JOIN feedback f \
             ON f.customer_id = w.customer_id AND f.created_at BETWEEN w.low AND w.high \
           JOIN feedback_signals s ON s.feedback_id = f.id) \
         WHERE recency <= ? ORDER BY position, created_at DESC",
        vec!["(?, ?, ?, ?)"; items.len()].join(", ")
    );
    // Only placeholders are formatted in; every value is bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (position, feedback, _) in items {
        let (from, to) = history_window(feedback.created_at, params);
        query = query
            .bind(*position as i64)
            .bind(&feedback.customer_id)
            .bind(rows::to_micros(from))
            .bind(rows::to_micros(to));
    }
    for row in query.bind(MAX_HISTORY).fetch_all(connection).await? {
        let position: i64 = row.try_get("position")?;
        histories
            .entry(position as usize)
            .or_insert_with(Vec::new)
            .push(PastItem {
                feedback_id: row.try_get("feedback_id")?,
                created_at: rows::from_micros(row.try_get("created_at")?, "created_at")?,
                complaint: row.try_get("complaint")?,
                stems: repeats::stems_from_bytes(row.try_get("stems")?),
            });
    }
    Ok(histories)
}

/// Computes signals rows for items stored before the table existed (an upgraded data dir).
async fn backfill(connection: &mut SqliteConnection, params: &DedupParams) -> Result<()> {
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
    loop {
        let missing = sqlx::query(
            "SELECT f.id, f.customer_id, f.created_at, f.kind, f.sentiment, f.text, f.language, \
             f.cluster_id FROM feedback f LEFT JOIN feedback_signals s ON s.feedback_id = f.id \
             WHERE s.item IS NULL LIMIT 1000",
        )
        .fetch_all(&mut *connection)
        .await?;
        if missing.is_empty() {
            return Ok(());
        }
        tracing::info!(
            items = missing.len(),
            "computing duplicate signatures of older items"
        );
        let mut transaction = sqlx::Connection::begin(&mut *connection).await?;
        for row in &missing {
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
            let print = fingerprint(row.try_get("text")?, row.try_get("language")?, params);
            insert_signals(&mut transaction, &subject, &print).await?;
        }
        transaction.commit().await?;
    }
}
