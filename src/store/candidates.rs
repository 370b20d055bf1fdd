//! The stored rows of near-duplicate candidates that the writer verifies, and a bounded cache of
//! the rows it met recently.
//!
//! With a million items stored an item meets about three candidates, and reading each one's row
//! is a random page of `feedback_signals`. Many candidates are recent: copies of a running
//! campaign, or stock-phrase texts that many items meet. The cache keeps the rows of the last
//! batches' own items and candidates, so those are not read again. It holds committed state only:
//! a batch takes the rows it uses out of it and gives them back (with any cluster change) after it
//! commits, so a batch that rolls back cannot leave a row the store does not have.

use rustc_hash::FxHashMap;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnection, SqliteRow};

use super::rows;
use crate::error::{Error, Result};
use crate::signals::dedup;

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
    pub fn keep(&mut self, used: FxHashMap<u32, CandidateRow>) {
        for (item, row) in used {
            if self.newer.len() >= ROWS_PER_GENERATION {
                self.older = std::mem::take(&mut self.newer);
            }
            self.newer.insert(item, row);
        }
    }
}

/// The rows of `items` (LSH item numbers): from `recent` where it has them (taking them out of
/// it), the rest from the store, a few statements for any number.
pub(super) async fn candidate_rows(
    connection: &mut SqliteConnection,
    recent: &mut RecentRows,
    items: &[u32],
) -> Result<FxHashMap<u32, CandidateRow>> {
    let mut found = FxHashMap::default();
    let mut missing = Vec::new();
    for &item in items {
        match recent.take(item) {
            Some(row) => {
                found.insert(item, row);
            }
            None => missing.push(item),
        }
    }
    metrics::counter!("triage_dedup_candidate_rows_total", "source" => "cache")
        .increment(found.len() as u64);
    metrics::counter!("triage_dedup_candidate_rows_total", "source" => "store")
        .increment(missing.len() as u64);
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
            found.insert(
                item_number(row.try_get("item")?)?,
                CandidateRow::from_row(&row)?,
            );
        }
    }
    Ok(found)
}

pub(super) fn item_number(item: i64) -> Result<u32> {
    u32::try_from(item)
        .map_err(|_| Error::Corrupt(format!("feedback_signals item {item} out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

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
