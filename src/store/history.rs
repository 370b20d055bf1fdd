//! The signal state the writer owns (DESIGN.md §2): LSH tables and stem frequencies over every
//! stored item, and the store queries behind `REPEAT_COMPLAINT`, `DUPLICATE_TEXT` and `BURST`.
//!
//! The writer judges each new item against everything committed before it and everything earlier
//! in its own batch, in arrival order, so two near-identical texts arriving together still see
//! each other. The in-memory tables are rebuilt from `feedback_signals` at start-up; if a batch
//! rolls back they may keep entries for items that were never stored, which is harmless: every
//! candidate is verified against the stored signature before it counts.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use rustc_hash::{FxHashMap, FxHashSet};
use sqlx::Row;
use sqlx::sqlite::SqliteConnection;

use super::activity::RecentActivity;
use super::candidates::{CandidateRow, RecentRows, Wanted, candidate_rows, item_number, low_bytes};
use super::customers::{CustomerItems, SharedCustomerItems};
use super::pending::PendingRows;
use super::rows;
use super::screens::{Screen, ScreenFile};
use super::signal_rows::{
    MAX_HISTORY, Subject, backfill, cluster_sizes, customer_histories, history_window,
    join_cluster, signals_row,
};
use crate::error::Result;
use crate::model::{Feedback, FeedbackKind, Flag, FlagKind, Sentiment, TextSpan};
use crate::signals::Fingerprint;
use crate::signals::dedup::{self, DedupParams};
use crate::signals::lsh::{self, Candidate, LshTables};
use crate::signals::repeats::{self, DocumentFrequencies, HistoryParams, PastItem};

/// The most candidates verified per new item.
const MAX_CANDIDATES: usize = 32;
/// Evidence of a duplicate quotes the text up to this many characters.
const MAX_EVIDENCE_CHARS: usize = 1000;
/// The most recent items held in memory for repeats and bursts: at about 370 bytes an item
/// (measured) 185 MB, and five times what a window of 30 days holds at 3,000 items a day.
const MAX_HELD_ITEMS: usize = 500_000;
/// Screens the start-up load writes at a time.
const SCREENS_PER_WRITE: usize = 8192;

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
    /// Candidates whose screens show that none of the batch's items that met them can match.
    ruled_out: FxHashSet<u32>,
    /// The screens of the batch's own stored items, written just before it commits.
    screens: Vec<Screen>,
    /// Each new item's scored LSH candidates among the items stored before the batch, by the
    /// item's position in the batch.
    scored: HashMap<usize, Vec<Candidate>>,
    /// The band keys of the items stored earlier in this batch: band key → items.
    batch_bands: FxHashMap<u32, Vec<u32>>,
    /// Members the batch added to each cluster (its new items and first members).
    cluster_joins: FxHashMap<String, u32>,
    /// The batch's new rows, not yet written.
    pub pending: PendingRows,
}

/// A new item of a batch: its position, the item and its fingerprint.
pub(super) type NewItem<'a> = (usize, &'a Feedback, &'a Fingerprint);

pub(super) struct SignalState {
    dedup: DedupParams,
    history: HistoryParams,
    lsh: LshTables,
    frequencies: DocumentFrequencies,
    recent: RecentRows,
    /// The screens of every stored item, written afresh at start-up.
    screens: ScreenFile,
    activity: RecentActivity,
    /// Every stored item by customer, shared with the store's readers.
    customers: SharedCustomerItems,
    /// The LSH item number the next new item gets.
    next_item: u32,
    /// Members of every cluster. Counting a cluster's rows in the store for each new member
    /// grew with the cluster: with a million items stored a campaign's clusters hold thousands
    /// of items and one count took some 250 µs of the writer's time.
    cluster_sizes: FxHashMap<String, u32>,
    /// The last committed batch's view, emptied: its tables keep their memory for the next
    /// batch. Built afresh for every batch they grew into newly mapped pages each time, the
    /// writer's largest source of page faults with a million items stored (docs/PERFORMANCE.md,
    /// session 13).
    spare: BatchView,
}

/// The candidates worth verifying, best first, at most [`MAX_CANDIDATES`].
fn to_verify(scored: &mut [Candidate]) -> Vec<u32> {
    let mut candidates = lsh::select_candidates(scored);
    candidates.truncate(MAX_CANDIDATES);
    candidates
}

pub(super) fn is_complaint(kind: FeedbackKind, sentiment: Sentiment) -> bool {
    kind == FeedbackKind::Complaint || sentiment == Sentiment::Negative
}

impl SignalState {
    /// Fills in `feedback_signals` for items stored before it existed, then rebuilds the
    /// in-memory tables and the screens file at `screens_path` from it.
    pub async fn load(
        connection: &mut SqliteConnection,
        screens_path: &Path,
        dedup: DedupParams,
        history: HistoryParams,
    ) -> Result<SignalState> {
        let started = Instant::now();
        backfill(connection, &dedup).await?;
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(created_at) FROM feedback")
            .fetch_one(&mut *connection)
            .await?;
        let newest = newest
            .map(|micros| rows::from_micros(micros, "created_at"))
            .transpose()?;
        let mut state = SignalState {
            lsh: LshTables::new(&dedup),
            frequencies: DocumentFrequencies::default(),
            recent: RecentRows::default(),
            screens: ScreenFile::create(screens_path)?,
            activity: RecentActivity::new(history.reach(), newest, MAX_HELD_ITEMS),
            customers: SharedCustomerItems::default(),
            // Numbered from 1, as SQLite numbers rows.
            next_item: 1,
            cluster_sizes: cluster_sizes(connection).await?,
            spare: BatchView::default(),
            dedup,
            history,
        };
        let mut items = 0usize;
        // The first item memory holds: in a store filled in time order the held items are the
        // last ones, so the second pass reads only them. The other history columns are not
        // read in the first pass: copying them for every item made the start 50% slower. The
        // customer is, for the customer map (0.6 s more with a million items, 3.6 → 4.2 s).
        let mut first_held: Option<u32> = None;
        let mut customers = CustomerItems::default();
        let mut screens = Vec::with_capacity(SCREENS_PER_WRITE);
        {
            let mut rows = sqlx::query(
                "SELECT item, signature, text_hash, stems, created_at, customer_id \
                 FROM feedback_signals",
            )
            .fetch(&mut *connection);
            while let Some(row) = rows.try_next().await? {
                let item = item_number(row.try_get("item")?)?;
                state.next_item = state.next_item.max(item + 1);
                let signature = dedup::signature_from_bytes(row.try_get("signature")?);
                state.lsh.push_unsorted(item, &signature);
                screens.push(Screen {
                    item,
                    text_hash: row.try_get("text_hash")?,
                    low_bytes: low_bytes(&signature),
                });
                if screens.len() == SCREENS_PER_WRITE {
                    state.screens.write(&screens)?;
                    screens.clear();
                }
                state
                    .frequencies
                    .add(&repeats::stems_from_bytes(row.try_get("stems")?));
                let created_at: i64 = row.try_get("created_at")?;
                if first_held.is_none()
                    && state
                        .activity
                        .holds(rows::from_micros(created_at, "created_at")?)
                {
                    first_held = Some(item);
                }
                customers.push_unsorted(row.try_get("customer_id")?, created_at, item);
                items += 1;
            }
        }
        state.screens.write(&screens)?;
        state.customers = customers.seal();
        if let Some(first_held) = first_held {
            let mut rows = sqlx::query(
                "SELECT feedback_id, customer_id, created_at, complaint, stems \
                 FROM feedback_signals WHERE item >= ? AND created_at >= ?",
            )
            .bind(i64::from(first_held))
            .bind(rows::to_micros(state.activity.horizon()))
            .fetch(&mut *connection);
            while let Some(row) = rows.try_next().await? {
                let customer_id: &str = row.try_get("customer_id")?;
                state.activity.add(
                    customer_id,
                    PastItem {
                        feedback_id: row.try_get("feedback_id")?,
                        created_at: rows::from_micros(row.try_get("created_at")?, "created_at")?,
                        complaint: row.try_get("complaint")?,
                        stems: repeats::stems_from_bytes(row.try_get("stems")?),
                    },
                );
            }
        }
        state.lsh.seal();
        tracing::info!(
            items,
            recent_items = state.activity.held(),
            lsh_bytes = state.lsh.memory_bytes(),
            stem_bytes = state.frequencies.memory_bytes(),
            clusters = state.cluster_sizes.len(),
            customer_items = state.customers.read().len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "duplicate and repeat tables rebuilt"
        );
        Ok(state)
    }

    /// Every stored item by customer, as the store's readers share it.
    pub fn customers(&self) -> SharedCustomerItems {
        self.customers.clone()
    }

    /// Reads the stored history and duplicate candidates of a batch's new items.
    pub async fn prefetch(
        &mut self,
        connection: &mut SqliteConnection,
        items: &[NewItem<'_>],
    ) -> Result<BatchView> {
        let mut view = std::mem::take(&mut self.spare);
        let (params, dedup, lsh) = (&self.history, &self.dedup, &self.lsh);
        // A live feed's items find their whole history in memory; older ones read the store.
        let mut unheld: Vec<NewItem> = Vec::new();
        for item @ (position, feedback, _) in items {
            let (from, to) = history_window(feedback.created_at, params);
            match self
                .activity
                .history(&feedback.customer_id, from, to, MAX_HISTORY as usize)
            {
                Some(past) if past.is_empty() => {}
                Some(past) => {
                    view.history.insert(*position, past);
                }
                None => unheld.push(*item),
            }
        }
        metrics::counter!("triage_history_reads_total", "source" => "memory")
            .increment((items.len() - unheld.len()) as u64);
        metrics::counter!("triage_history_reads_total", "source" => "store")
            .increment(unheld.len() as u64);
        let histories = customer_histories(connection, &unheld, params, &self.customers);
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
                        &fingerprint.text,
                        lsh.scored_candidates(&fingerprint.text.signature),
                    )
                })
                .collect::<Vec<_>>()
        };
        let (histories, searched) = tokio::join!(histories, search);
        view.history.extend(histories?);
        let mut wanted = Wanted::default();
        for (position, text, mut scored) in searched {
            for item in to_verify(&mut scored) {
                wanted.entry(item).or_default().push(text);
            }
            view.scored.insert(position, scored);
        }
        let reads = candidate_rows(
            connection,
            &self.screens,
            &mut self.recent,
            &wanted,
            dedup.threshold,
        )
        .await?;
        view.candidates.extend(reads.rows);
        view.ruled_out.extend(reads.ruled_out);
        Ok(view)
    }

    /// Writes the screens of the batch's own stored items: call just before the batch commits,
    /// so that a failed write rolls the batch back.
    pub fn write_screens(&mut self, view: &BatchView) -> Result<()> {
        self.screens.write(&view.screens)
    }

    /// Keeps what a committed batch read and added for the next batches: its candidate rows
    /// and its items, as history.
    pub fn committed(&mut self, mut view: BatchView) {
        self.recent.keep(view.candidates.drain());
        for (cluster_id, joined) in view.cluster_joins.drain() {
            *self.cluster_sizes.entry(cluster_id).or_default() += joined;
        }
        for (customer_id, added) in view.added_history.drain() {
            for item in added {
                self.activity.add(&customer_id, item);
            }
        }
        metrics::gauge!("triage_history_items_held").set(self.activity.held() as f64);
        view.clear();
        self.spare = view;
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
                .duplicate(connection, view, position, feedback, fingerprint)
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
        let missing: Wanted = candidates
            .iter()
            .filter(|item| !view.candidates.contains_key(item) && !view.ruled_out.contains(item))
            .map(|item| (*item, vec![&fingerprint.text]))
            .collect();
        if !missing.is_empty() {
            let reads = candidate_rows(
                connection,
                &self.screens,
                &mut self.recent,
                &missing,
                self.dedup.threshold,
            )
            .await?;
            view.candidates.extend(reads.rows);
            view.ruled_out.extend(reads.ruled_out);
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
            // The first member may be an item of this batch that is not written yet.
            if !view.pending.join_cluster(best_id, best_id) {
                join_cluster(connection, best_id, best_id).await?;
            }
            if let Some(row) = view.candidates.get_mut(best_item) {
                row.cluster_id = best_id.clone();
            }
            *view.cluster_joins.entry(best_id.clone()).or_default() += 1;
            best_id.clone()
        } else {
            best_cluster.clone()
        };
        let members = self.cluster_sizes.get(&cluster_id).copied().unwrap_or(0)
            + view.cluster_joins.get(&cluster_id).copied().unwrap_or(0);
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

    /// About how many items the store holds (numbers of rolled-back batches are counted too).
    pub fn items(&self) -> u64 {
        u64::from(self.next_item - 1)
    }

    /// Records a new item so later items (of this batch too) are judged against it, and adds its
    /// signals row to the batch's pending rows.
    pub fn record(&mut self, view: &mut BatchView, feedback: &Feedback, fingerprint: &Fingerprint) {
        let subject = Subject::of(feedback);
        // Numbers of a batch that rolls back are not used again: the LSH tables may still hold
        // them, and a number that names no stored row is skipped when verified.
        let item = self.next_item;
        self.next_item += 1;
        self.customers.add(
            &feedback.customer_id,
            rows::to_micros(feedback.created_at),
            item,
        );
        view.pending
            .add_signals(signals_row(item, &subject, fingerprint));
        if !feedback.analysis.cluster_id.is_empty() {
            *view
                .cluster_joins
                .entry(feedback.analysis.cluster_id.clone())
                .or_default() += 1;
        }
        view.screens.push(Screen {
            item,
            text_hash: fingerprint.text.exact_hash as i64,
            low_bytes: low_bytes(&fingerprint.text.signature),
        });
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
    }
}

impl BatchView {
    /// Empties every table, keeping its memory.
    fn clear(&mut self) {
        self.history.clear();
        self.added_history.clear();
        self.candidates.clear();
        self.ruled_out.clear();
        self.screens.clear();
        self.scored.clear();
        self.batch_bands.clear();
        self.cluster_joins.clear();
    }

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
