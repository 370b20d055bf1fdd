//! The stored rows of near-duplicate candidates that the writer verifies, the screen that rules
//! most candidates out before their rows are read, and a bounded cache of the rows it met recently.
//!
//! With a million items stored an item meets about two candidates, most of them months-old chance
//! hits of texts sharing stock phrases, and reading each one's row is a random page of
//! `feedback_signals` that is in no cache. A screen (`screens`) keeps the low byte of each MinHash
//! slot (a fifth of the row), small enough to stay in the OS's file cache: slots whose full hashes
//! agree agree in their low bytes too, so a candidate whose low bytes agree too rarely would fail
//! verification and its row is not read. The screen changes no decision, only what is read.
//!
//! Many candidates that pass are recent: copies of a running campaign. The cache keeps the rows
//! of the last batches' own items and candidates, so those are not read again. It holds
//! committed state only: a batch takes the rows it uses out of it and gives them back (with any
//! cluster change) after it commits, so a batch that rolls back cannot leave a row the store does
//! not have.

use rustc_hash::{FxHashMap, FxHashSet};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnection, SqliteRow};

use super::rows;
use super::screens::ScreenFile;
use crate::error::{Error, Result};
use crate::signals::dedup::{self, TextFingerprint};

/// Candidates whose stored rows one statement reads.
const CANDIDATES_PER_READ: usize = 500;

/// Rows per cache generation. A row lives for one to two generations after its last use;
/// at about 700 bytes a row the cache holds at most 45 MB. A generation lasts about 15k new
/// items at the benchmark's candidate rate, which covers the newest members of a campaign's
/// buckets.
const ROWS_PER_GENERATION: usize = 32_768;

/// A stored item as the duplicate check compares it.
#[derive(Debug)]
pub(super) struct CandidateRow {
    pub feedback_id: String,
    pub customer_id: String,
    pub words: i64,
    pub text_hash: i64,
    pub signature: Vec<u32>,
    pub cluster_id: String,
}

impl CandidateRow {
    fn from_row(row: &SqliteRow) -> Result<CandidateRow> {
        Ok(CandidateRow {
            feedback_id: row.try_get("feedback_id")?,
            customer_id: row.try_get("customer_id")?,
            words: row.try_get("words")?,
            text_hash: row.try_get("text_hash")?,
            signature: dedup::signature_from_bytes(row.try_get("signature")?),
            cluster_id: row.try_get("cluster_id")?,
        })
    }
}

/// Recently used candidate rows by LSH item number, in two generations: when the newer one is
/// full it becomes the older one and the older one is dropped (no per-entry bookkeeping).
#[derive(Default)]
pub(super) struct RecentRows {
    newer: FxHashMap<u32, CandidateRow>,
    older: FxHashMap<u32, CandidateRow>,
}

impl RecentRows {
    /// Removes and returns the cached row of `item`.
    fn take(&mut self, item: u32) -> Option<CandidateRow> {
        self.newer
            .remove(&item)
            .or_else(|| self.older.remove(&item))
    }

    /// Keeps the rows a committed batch used.
    pub fn keep(&mut self, used: impl IntoIterator<Item = (u32, CandidateRow)>) {
        for (item, row) in used {
            if self.newer.len() >= ROWS_PER_GENERATION {
                // The dropped generation's table becomes the new one: a fresh table would grow
                // into newly mapped pages.
                std::mem::swap(&mut self.older, &mut self.newer);
                self.newer.clear();
            }
            self.newer.insert(item, row);
        }
    }
}

/// The low byte of each slot of a signature: what a screen keeps.
pub(super) fn low_bytes(signature: &[u32]) -> Vec<u8> {
    // Truncation is the point: the low byte of a uniform hash is a uniform byte.
    signature.iter().map(|slot| *slot as u8).collect()
}

/// Whether a stored item with this screen could verify as a near-duplicate of `new`. The share of
/// agreeing low bytes is never below the share of agreeing slots that verification estimates, so
/// `false` means verification would fail too; equal text hashes verify whatever the signatures.
fn could_match(text_hash: i64, low_bytes: &[u8], new: &TextFingerprint, threshold: f64) -> bool {
    if text_hash == new.exact_hash as i64 {
        return true;
    }
    if low_bytes.is_empty() || low_bytes.len() != new.signature.len() {
        return false;
    }
    let agreeing = low_bytes
        .iter()
        .zip(&new.signature)
        .filter(|(stored, slot)| **stored == **slot as u8)
        .count();
    agreeing as f64 / low_bytes.len() as f64 >= threshold
}

/// Candidates to verify (LSH item numbers), each with the new texts that met it.
pub(super) type Wanted<'a> = FxHashMap<u32, Vec<&'a TextFingerprint>>;

/// What [`candidate_rows`] found.
#[derive(Default)]
pub(super) struct CandidateReads {
    /// The rows of the candidates that could match.
    pub rows: FxHashMap<u32, CandidateRow>,
    /// Candidates whose screen shows that none of the texts that met them can match.
    pub ruled_out: FxHashSet<u32>,
}

/// The rows of the `wanted` candidates that could match a text that met them: from `recent`
/// where it has them (taking them out of it), the rest screened and then read from the store, a
/// few statements for any number. A candidate without a screen (not stored) is read.
pub(super) async fn candidate_rows(
    connection: &mut SqliteConnection,
    screens: &ScreenFile,
    recent: &mut RecentRows,
    wanted: &Wanted<'_>,
    threshold: f64,
) -> Result<CandidateReads> {
    let mut reads = CandidateReads::default();
    let mut missing = Vec::new();
    for &item in wanted.keys() {
        match recent.take(item) {
            Some(row) => {
                reads.rows.insert(item, row);
            }
            None => missing.push(item),
        }
    }
    for &item in &missing {
        let Some((text_hash, low_bytes)) = screens.read(item)? else {
            continue;
        };
        let met = wanted.get(&item).map(Vec::as_slice).unwrap_or_default();
        if !met
            .iter()
            .any(|new| could_match(text_hash, &low_bytes, new, threshold))
        {
            reads.ruled_out.insert(item);
        }
    }
    missing.retain(|item| !reads.ruled_out.contains(item));
    metrics::counter!("triage_dedup_candidate_rows_total", "source" => "cache")
        .increment(reads.rows.len() as u64);
    metrics::counter!("triage_dedup_candidate_rows_total", "source" => "store")
        .increment(missing.len() as u64);
    metrics::counter!("triage_dedup_candidates_ruled_out_total")
        .increment(reads.ruled_out.len() as u64);
    for chunk in missing.chunks(CANDIDATES_PER_READ) {
        let sql = format!(
            "SELECT item, feedback_id, customer_id, words, text_hash, signature, cluster_id \
             FROM feedback_signals WHERE item IN ({})",
            rows::placeholders(chunk.len())
        );
        // Only placeholders are formatted in; the item numbers are bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for item in chunk {
            query = query.bind(i64::from(*item));
        }
        for row in query.fetch_all(&mut *connection).await? {
            reads.rows.insert(
                item_number(row.try_get("item")?)?,
                CandidateRow::from_row(&row)?,
            );
        }
    }
    Ok(reads)
}

pub(super) fn item_number(item: i64) -> Result<u32> {
    u32::try_from(item)
        .map_err(|_| Error::Corrupt(format!("feedback_signals item {item} out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::dedup::DedupParams;

    fn row(id: &str) -> CandidateRow {
        CandidateRow {
            feedback_id: id.to_string(),
            customer_id: "c".to_string(),
            words: 7,
            text_hash: 1,
            signature: vec![1; dedup::SIGNATURE_LEN],
            cluster_id: String::new(),
        }
    }

    fn text(exact_hash: u64, signature: Vec<u32>) -> TextFingerprint {
        TextFingerprint {
            exact_hash,
            signature,
            words: 10,
        }
    }

    #[test]
    fn the_screen_never_rules_out_what_verification_would_accept() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let threshold = DedupParams::default().threshold;
        let (mut ruled_out, mut accepted) = (0, 0);
        for _ in 0..4000 {
            let new: Vec<u32> = (0..dedup::SIGNATURE_LEN).map(|_| rng.random()).collect();
            // Stored signatures from identical to unrelated, in random slots.
            let changed = rng.random_range(0..=dedup::SIGNATURE_LEN);
            let mut stored = new.clone();
            for slot in rand::seq::index::sample(&mut rng, dedup::SIGNATURE_LEN, changed) {
                stored[slot] = rng.random();
            }
            let passes = could_match(2, &low_bytes(&stored), &text(1, new.clone()), threshold);
            let verified = dedup::estimated_similarity(&new, &stored) >= threshold;
            assert!(passes || !verified, "{changed} slots changed");
            ruled_out += usize::from(!passes);
            accepted += usize::from(verified);
        }
        assert!(accepted > 500 && ruled_out > 2500, "{accepted} {ruled_out}");
    }

    #[test]
    fn the_screen_rules_out_chance_hits_and_passes_equal_texts() {
        let threshold = DedupParams::default().threshold;
        let new: Vec<u32> = (0..dedup::SIGNATURE_LEN as u32).collect();
        // Half the slots agree (a chance hit of two texts sharing phrases): an estimate of 0.5.
        let half: Vec<u32> = new
            .iter()
            .map(|slot| if slot % 2 == 0 { *slot } else { slot + 1000 })
            .collect();
        assert!(!could_match(
            5,
            &low_bytes(&half),
            &text(6, new.clone()),
            threshold
        ));
        // The same text hash verifies whatever the signatures say (other shingle settings).
        assert!(could_match(
            6,
            &low_bytes(&half),
            &text(6, new.clone()),
            threshold
        ));
        assert!(could_match(
            5,
            &low_bytes(&new),
            &text(6, new.clone()),
            threshold
        ));
        // A screen of another length (a signature of another size) never matches.
        assert!(!could_match(
            5,
            &low_bytes(&new[..64]),
            &text(6, new),
            threshold
        ));
    }

    #[test]
    fn rows_are_taken_out_and_kept_for_two_generations_at_most() {
        let mut recent = RecentRows::default();
        recent.keep(FxHashMap::from_iter([(1, row("a"))]));
        assert_eq!(recent.take(1).map(|r| r.feedback_id), Some("a".to_string()));
        assert!(
            recent.take(1).is_none(),
            "a taken row is the batch's until it is kept again"
        );
        recent.keep(FxHashMap::from_iter([(1, row("a"))]));
        let filler = |from: u32| {
            (from..from + ROWS_PER_GENERATION as u32)
                .map(|item| (item, row("x")))
                .collect::<FxHashMap<_, _>>()
        };
        recent.keep(filler(100));
        assert!(recent.older.contains_key(&1) || recent.newer.contains_key(&1));
        recent.keep(filler(100_000));
        recent.keep(filler(200_000));
        assert!(
            recent.take(1).is_none(),
            "two newer generations push it out"
        );
        assert!(recent.newer.len() + recent.older.len() <= 2 * ROWS_PER_GENERATION);
    }
}
