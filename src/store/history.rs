//! The signal state the writer owns (DESIGN.md §2): LSH tables and stem frequencies over every
//! stored item, and the store queries behind `REPEAT_COMPLAINT`, `DUPLICATE_TEXT` and `BURST`.
//!
//! The writer judges each new item against everything committed before it and everything earlier
//! in its own batch, in arrival order, so two near-identical texts arriving together still see
//! each other. The in-memory tables are rebuilt from `feedback_signals` at start-up; if a batch
//! rolls back they may keep entries for items that were never stored, which is harmless: every
//! candidate is verified against the stored signature before it counts.

use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::Row;
use sqlx::sqlite::SqliteConnection;

use super::rows;
use crate::error::{Error, Result};
use crate::model::{Feedback, FeedbackKind, Flag, FlagKind, Sentiment, TextSpan};
use crate::signals::dedup::{self, DedupParams, LshTables};
use crate::signals::repeats::{self, DocumentFrequencies, HistoryParams, PastItem};
use crate::signals::{Fingerprint, fingerprint};

/// The most of a customer's items read to judge repeats and bursts.
const MAX_HISTORY: i64 = 200;
/// The most candidates verified per new item.
const MAX_CANDIDATES: usize = 32;
/// Evidence of a duplicate quotes the text up to this many characters.
const MAX_EVIDENCE_CHARS: usize = 1000;

pub(super) struct SignalState {
    dedup: DedupParams,
    history: HistoryParams,
    lsh: LshTables,
    frequencies: DocumentFrequencies,
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

    /// Adds the history flags of a new item (not yet inserted) and its cluster id; puts an
    /// earlier item into the new cluster when it is the cluster's first member.
    pub async fn judge(
        &self,
        connection: &mut SqliteConnection,
        feedback: &mut Feedback,
        fingerprint: &Fingerprint,
        next_sequence: &mut i64,
    ) -> Result<()> {
        let created_at = feedback.created_at;
        let past =
            customer_history(connection, &feedback.customer_id, created_at, &self.history).await?;
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
                .duplicate(connection, feedback, fingerprint, next_sequence)
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
        &self,
        connection: &mut SqliteConnection,
        feedback: &Feedback,
        fingerprint: &Fingerprint,
        next_sequence: &mut i64,
    ) -> Result<Option<(Flag, String)>> {
        let signature = &fingerprint.text.signature;
        // Identical texts share every band, so exact duplicates come first.
        let mut candidates = self.lsh.candidates(signature);
        candidates.truncate(MAX_CANDIDATES);
        let mut matches: Vec<(f64, String, String)> = Vec::new();
        if !candidates.is_empty() {
            // One query for all candidates: every statement is a round trip to SQLite's thread.
            let sql = format!(
                "SELECT feedback_id, customer_id, words, text_hash, signature, cluster_id \
                 FROM feedback_signals WHERE item IN ({})",
                vec!["?"; candidates.len()].join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for item in &candidates {
                query = query.bind(i64::from(*item));
            }
            for row in query.fetch_all(&mut *connection).await? {
                let customer: &str = row.try_get("customer_id")?;
                let words: i64 = row.try_get("words")?;
                if customer == feedback.customer_id || words < self.dedup.min_words as i64 {
                    continue;
                }
                // Equal exact hashes are equal texts; the estimate could only agree.
                let similarity =
                    if row.try_get::<i64, _>("text_hash")? == fingerprint.text.exact_hash as i64 {
                        1.0
                    } else {
                        dedup::estimated_similarity(
                            signature,
                            &dedup::signature_from_bytes(row.try_get("signature")?),
                        )
                    };
                if similarity >= self.dedup.threshold {
                    matches.push((
                        similarity,
                        row.try_get("feedback_id")?,
                        row.try_get("cluster_id")?,
                    ));
                }
            }
        }
        if matches.is_empty() {
            return Ok(None);
        }
        matches.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (similarity, best_id, best_cluster) = &matches[0];
        // A cluster is named after its first member.
        let cluster_id = if best_cluster.is_empty() {
            join_cluster(connection, best_id, best_id, next_sequence).await?;
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
            related_feedback_ids: matches.iter().map(|m| m.1.clone()).collect(),
        };
        Ok(Some((flag, cluster_id)))
    }

    /// Records a new, inserted item so later items are judged against it.
    pub async fn record(
        &mut self,
        connection: &mut SqliteConnection,
        feedback: &Feedback,
        fingerprint: &Fingerprint,
    ) -> Result<()> {
        let item = insert_signals(connection, &Subject::of(feedback), fingerprint).await?;
        self.lsh.insert(item, &fingerprint.text.signature);
        self.frequencies.add(&fingerprint.stems.hashes);
        Ok(())
    }
}

fn item_number(item: i64) -> Result<u32> {
    u32::try_from(item)
        .map_err(|_| Error::Corrupt(format!("feedback_signals item {item} out of range")))
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

async fn customer_history(
    connection: &mut SqliteConnection,
    customer_id: &str,
    created_at: DateTime<Utc>,
    params: &HistoryParams,
) -> Result<Vec<PastItem>> {
    let from = created_at - params.repeat_window.max(params.burst_window);
    let to = created_at + params.burst_window;
    let rows = sqlx::query(
        "SELECT feedback_id, created_at, complaint, stems FROM feedback_signals \
         WHERE customer_id = ? AND created_at BETWEEN ? AND ? ORDER BY created_at DESC LIMIT ?",
    )
    .bind(customer_id)
    .bind(rows::to_micros(from))
    .bind(rows::to_micros(to))
    .bind(MAX_HISTORY)
    .fetch_all(connection)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(PastItem {
                feedback_id: row.try_get("feedback_id")?,
                created_at: rows::from_micros(row.try_get("created_at")?, "created_at")?,
                complaint: row.try_get("complaint")?,
                stems: repeats::stems_from_bytes(row.try_get("stems")?),
            })
        })
        .collect()
}

/// Computes signals rows for items stored before the table existed (an upgraded data dir).
async fn backfill(connection: &mut SqliteConnection, params: &DedupParams) -> Result<()> {
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
