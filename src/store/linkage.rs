//! The keyed per-day counts of survey answers that name no feedback item (`survey_daily_keys`,
//! migration 0006): such an answer counts once toward each distinct language, topic and flag
//! kind of its customer's feedback created in the [`LINK_WINDOW_MICROS`] up to the answer.
//!
//! Two triggers kept these counts by reading the customer's feedback through SQLite's customer
//! index. That index is gone (migration 0013: it cost every new item a random page write), so
//! the writer keeps them instead, finding the customer's items in the in-memory map
//! (`customers`) and reading their keys by primary key.

use rustc_hash::FxHashSet;
use sqlx::Row;
use sqlx::sqlite::SqliteConnection;

use super::customers::{SharedCustomerItems, feedback_ids_of_items, json_items};
use super::rows;
use crate::error::{Error, Result};
use crate::model::SurveyResponse;

/// How far back an unlinked answer looks for its customer's feedback: 30 days, as the report's
/// row-by-row linkage (`satisfaction`) and migration 0006's counts.
pub(super) const LINK_WINDOW_MICROS: i64 = 2_592_000_000_000;

/// A feedback item just written: its customer, creation time (microseconds) and item number.
pub(super) struct WrittenItem<'a> {
    pub customer_id: &'a str,
    pub created_at: i64,
    pub item: u32,
}

/// An unlinked answer as the counts key it.
struct Answer {
    customer_id: String,
    responded_at: i64,
    channel: String,
    kind: String,
    value: i64,
}

/// The writer's part of the linkage: the customer map, and which customers have unlinked
/// answers at all.
pub(super) struct Linkage {
    customers: SharedCustomerItems,
    /// Customers with at least one unlinked answer (and perhaps a few with none, after a
    /// rolled-back batch). Only their new items can add to an answer's keys, so a write batch
    /// whose customers have none (every batch of a store without unlinked answers) costs no
    /// statement here: each statement is a round trip to SQLite's thread (see `pending`).
    answering: FxHashSet<Box<str>>,
}

impl Linkage {
    pub async fn load(
        connection: &mut SqliteConnection,
        customers: SharedCustomerItems,
    ) -> Result<Linkage> {
        let answering = sqlx::query_scalar::<_, String>(
            "SELECT DISTINCT customer_id FROM survey_responses WHERE feedback_id IS NULL",
        )
        .fetch_all(connection)
        .await?
        .into_iter()
        .map(String::into_boxed_str)
        .collect();
        Ok(Linkage {
            customers,
            answering,
        })
    }

    /// Counts a new unlinked answer toward the keys of its customer's feedback of the window
    /// before it. Every item the batch wrote before the answer is in the map and in the store
    /// already.
    pub async fn count_unlinked(
        &mut self,
        connection: &mut SqliteConnection,
        response: &SurveyResponse,
    ) -> Result<()> {
        if !self.answering.contains(response.customer_id.as_str()) {
            self.answering.insert(response.customer_id.as_str().into());
        }
        let answer = Answer {
            customer_id: response.customer_id.clone(),
            responded_at: rows::to_micros(response.responded_at),
            channel: response.channel.clone(),
            kind: response.score.kind.as_str().to_string(),
            value: i64::from(response.score.value),
        };
        let items = self.items_in_window(&answer);
        count_keys(connection, &answer, &items, &[]).await
    }

    /// Feedback just written that precedes unlinked answers of its customer (an import of older
    /// items): each such answer gains the keys of the new items that its customer's other
    /// feedback in its window did not already give it.
    pub async fn count_retroactive(
        &self,
        connection: &mut SqliteConnection,
        written: &[WrittenItem<'_>],
    ) -> Result<()> {
        let wanted: Vec<(&str, i64)> = written
            .iter()
            .filter(|item| self.answering.contains(item.customer_id))
            .map(|item| (item.customer_id, item.created_at))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let wanted = serde_json::to_string(&wanted).map_err(|e| Error::Corrupt(e.to_string()))?;
        // One statement for the whole write; each item is one probe of `survey_responses_unlinked`.
        let answers: Vec<Answer> = sqlx::query(
            "SELECT DISTINCT r.rowid, r.customer_id, r.responded_at, r.channel, r.kind, r.value \
             FROM json_each(?1) w JOIN survey_responses r \
               ON r.customer_id = w.value ->> 0 AND r.feedback_id IS NULL \
              AND r.responded_at BETWEEN w.value ->> 1 AND (w.value ->> 1) + ?2",
        )
        .bind(wanted)
        .bind(LINK_WINDOW_MICROS)
        .fetch_all(&mut *connection)
        .await?
        .iter()
        .map(|row| {
            Ok(Answer {
                customer_id: row.try_get("customer_id")?,
                responded_at: row.try_get("responded_at")?,
                channel: row.try_get("channel")?,
                kind: row.try_get("kind")?,
                value: row.try_get("value")?,
            })
        })
        .collect::<Result<_>>()?;
        if answers.is_empty() {
            return Ok(());
        }
        let new: FxHashSet<u32> = written.iter().map(|item| item.item).collect();
        for answer in &answers {
            let (gained, earlier): (Vec<u32>, Vec<u32>) = self
                .items_in_window(answer)
                .into_iter()
                .partition(|item| new.contains(item));
            count_keys(connection, answer, &gained, &earlier).await?;
        }
        Ok(())
    }

    /// The answer's customer's items created in the window up to it.
    fn items_in_window(&self, answer: &Answer) -> Vec<u32> {
        self.customers.read().newest_between(
            &answer.customer_id,
            answer.responded_at - LINK_WINDOW_MICROS,
            answer.responded_at,
            usize::MAX,
        )
    }
}

/// Adds one answer to the count of each key of the items `counted` that none of the items
/// `already` has.
async fn count_keys(
    connection: &mut SqliteConnection,
    answer: &Answer,
    counted: &[u32],
    already: &[u32],
) -> Result<()> {
    if counted.is_empty() {
        return Ok(());
    }
    // Only fixed subqueries are formatted in; every value is bound. `already` is a subquery of
    // its own: compound operators group from the left, so its arms would be added back after
    // the EXCEPT.
    let sql = format!(
        "INSERT INTO survey_daily_keys (day, channel, kind, value, dimension, key, n) \
         SELECT ?1 / 86400000000 * 86400000000, ?2, ?3, ?4, dimension, key, 1 FROM ( \
           {counted} EXCEPT SELECT dimension, key FROM ({already})) \
         WHERE true \
         ON CONFLICT (day, channel, kind, value, dimension, key) DO UPDATE SET n = n + 1",
        counted = keys_of_items(5),
        already = keys_of_items(6),
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(answer.responded_at)
        .bind(&answer.channel)
        .bind(&answer.kind)
        .bind(answer.value)
        .bind(json_items(counted))
        .bind(json_items(already))
        .execute(connection)
        .await?;
    Ok(())
}

/// Every `(dimension, key)` of the items of the JSON array bound as `?{n}`, as migration 0006's
/// view `feedback_keys` gives them. Filtered from outside, that view scans every item: SQLite
/// does not push an `IN` subquery into its arms.
fn keys_of_items(n: usize) -> String {
    let ids = feedback_ids_of_items(n);
    format!(
        "SELECT 'language' AS dimension, f.language AS key FROM feedback f WHERE f.id IN ({ids}) \
         UNION ALL SELECT 'topic', j.value FROM feedback f, json_each(f.topics) j \
         WHERE f.id IN ({ids}) \
         UNION ALL SELECT 'flag_kind', json_extract(j.value, '$.kind') \
         FROM feedback f, json_each(f.flags) j WHERE f.id IN ({ids})"
    )
}
