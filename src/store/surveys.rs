//! Reads of survey data: customer snapshots, profile facts, and the rows reports aggregate.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::Store;
use super::customers::{feedback_ids_of_items, json_items};
use super::rows;
use crate::error::{Error, Result};
use crate::model::{CustomerSnapshot, FeedbackKind, FlagKind, Score, ScoreKind};

/// One survey response as reports need it.
#[derive(Debug, Clone)]
pub struct ResponseFacts {
    pub customer_id: String,
    pub score: Score,
    pub responded_at: DateTime<Utc>,
    pub channel: String,
    pub feedback_id: Option<String>,
}

/// One feedback item as reports and profiles need it.
#[derive(Debug, Clone)]
pub struct FeedbackFacts {
    pub id: String,
    pub customer_id: String,
    pub created_at: DateTime<Utc>,
    pub language: String,
    pub channel: String,
    pub kind: FeedbackKind,
    pub topics: Vec<String>,
    pub flags: Vec<FlagKind>,
    pub polarity: f64,
    pub resolved: bool,
}

impl From<&crate::model::Feedback> for FeedbackFacts {
    fn from(feedback: &crate::model::Feedback) -> Self {
        FeedbackFacts {
            id: feedback.id.clone(),
            customer_id: feedback.customer_id.clone(),
            created_at: feedback.created_at,
            language: feedback.language.clone(),
            channel: feedback.channel.clone(),
            kind: feedback.kind,
            topics: feedback.analysis.topics.clone(),
            flags: feedback.analysis.flags.iter().map(|f| f.kind).collect(),
            polarity: feedback.analysis.polarity,
            resolved: feedback.resolution.is_some(),
        }
    }
}

/// Everything a customer profile is computed from.
#[derive(Debug, Clone, Default)]
pub struct ProfileFacts {
    pub snapshot: CustomerSnapshot,
    /// NPS values, oldest first.
    pub nps_history: Vec<i32>,
    pub feedback: Vec<FeedbackFacts>,
    pub first_response: Option<DateTime<Utc>>,
    pub last_response: Option<DateTime<Utc>>,
}

/// A survey answer that counts for a customer.
struct CustomerAnswer {
    customer_id: String,
    score: Score,
    responded_at: i64,
    /// The order answers were stored in: breaks ties of `responded_at`.
    order: i64,
}

/// A customer's snapshot from every answer that counts for them.
fn snapshot_of(customer_id: &str, answers: &[CustomerAnswer]) -> CustomerSnapshot {
    let mut snapshot = CustomerSnapshot {
        customer_id: customer_id.to_string(),
        ..CustomerSnapshot::default()
    };
    let (mut csat_sum, mut ces_sum) = (0i64, 0i64);
    let mut latest: Option<&CustomerAnswer> = None;
    for answer in answers {
        let value = i64::from(answer.score.value);
        match answer.score.kind {
            ScoreKind::Nps => {
                snapshot.nps_count += 1;
                if latest
                    .is_none_or(|l| (l.responded_at, l.order) < (answer.responded_at, answer.order))
                {
                    latest = Some(answer);
                }
            }
            ScoreKind::Csat => {
                snapshot.csat_count += 1;
                csat_sum += value;
            }
            ScoreKind::Ces => {
                snapshot.ces_count += 1;
                ces_sum += value;
            }
        }
    }
    let mean = |sum: i64, count: i64| (count > 0).then(|| sum as f64 / count as f64);
    snapshot.csat_mean = mean(csat_sum, snapshot.csat_count);
    snapshot.ces_mean = mean(ces_sum, snapshot.ces_count);
    snapshot.latest_nps = latest.map(|answer| answer.score.value);
    snapshot
}

fn feedback_facts(row: &sqlx::sqlite::SqliteRow) -> Result<FeedbackFacts> {
    let topics: String = row.try_get("topics")?;
    let flags: String = row.try_get("flags")?;
    #[derive(serde::Deserialize)]
    struct FlagKindOnly {
        kind: FlagKind,
    }
    let kind: String = row.try_get("kind")?;
    Ok(FeedbackFacts {
        id: row.try_get("id")?,
        customer_id: row.try_get("customer_id")?,
        created_at: rows::from_micros_checked(row.try_get("created_at")?)?,
        language: row.try_get("language")?,
        channel: row.try_get("channel")?,
        kind: FeedbackKind::parse(&kind)
            .ok_or_else(|| Error::Corrupt(format!("unknown feedback kind {kind:?}")))?,
        topics: serde_json::from_str(&topics).map_err(|e| Error::Corrupt(e.to_string()))?,
        flags: serde_json::from_str::<Vec<FlagKindOnly>>(&flags)
            .map_err(|e| Error::Corrupt(e.to_string()))?
            .into_iter()
            .map(|f| f.kind)
            .collect(),
        polarity: row.try_get("polarity")?,
        resolved: row.try_get::<Option<String>, _>("resolution")?.is_some(),
    })
}

/// Survey responses counted by the database: per UTC day, channel, group key and score.
#[derive(Debug, Clone)]
pub struct ScoreCount {
    /// The UTC day of the responses.
    pub day: DateTime<Utc>,
    pub channel: String,
    /// The language, topic or flag kind of a grouped report; empty otherwise.
    pub key: String,
    pub score: Score,
    pub count: u64,
}

/// Feedback counted by the database: per UTC day, channel and group key.
#[derive(Debug, Clone)]
pub struct FeedbackCount {
    /// The UTC day the items were created.
    pub day: DateTime<Utc>,
    pub channel: String,
    /// The language, topic or flag kind of a grouped report; empty otherwise.
    pub key: String,
    pub feedback: u64,
    pub complaints: u64,
}

/// What a grouped report groups by, as far as the database is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportDimension {
    Language,
    Topic,
    FlagKind,
}

impl ReportDimension {
    /// The name the keyed per-day tables use.
    fn name(self) -> &'static str {
        match self {
            ReportDimension::Language => "language",
            ReportDimension::Topic => "topic",
            ReportDimension::FlagKind => "flag_kind",
        }
    }

    /// The join and the key expression over the feedback row `f`.
    fn sql(self) -> (&'static str, &'static str) {
        match self {
            ReportDimension::Language => ("", "f.language"),
            ReportDimension::Topic => ("JOIN json_each(f.topics) AS j", "j.value"),
            ReportDimension::FlagKind => (
                "JOIN json_each(f.flags) AS j",
                "json_extract(j.value, '$.kind')",
            ),
        }
    }
}

/// Microseconds in a day: reports count by day in SQL and roll days up into weeks and months in
/// Rust.
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Whole days from the per-day tables (`?3` is unused).
const DAILY_SCORES: &str = "SELECT day, channel, '' AS key, kind, value, SUM(n) AS n FROM survey_daily \
     WHERE day >= ?1 AND day < ?2 AND ?3 = ?3 GROUP BY 1, 2, 3, 4, 5";
const DAILY_FEEDBACK: &str = "SELECT day, channel, '' AS key, SUM(n) AS n, \
     SUM(complaints) AS complaints FROM feedback_daily WHERE day >= ?1 AND day < ?2 AND ?3 = ?3 \
     GROUP BY 1, 2";
/// Whole days of one dimension (`?3`) from the keyed per-day tables.
const DAILY_KEYED_SCORES: &str = "SELECT day, channel, key, kind, value, n FROM survey_daily_keys \
     WHERE day >= ?1 AND day < ?2 AND dimension = ?3 AND n > 0";
const DAILY_KEYED_FEEDBACK: &str = "SELECT day, channel, key, n, complaints FROM \
     feedback_daily_keys WHERE day >= ?1 AND day < ?2 AND dimension = ?3 AND n > 0";
/// Partial days from the base tables, over the covering index `survey_responses_time`.
const RANGE_SCORES: &str = "SELECT responded_at / 86400000000 * 86400000000 AS day, channel, \
     '' AS key, kind, value, COUNT(*) AS n FROM survey_responses \
     WHERE responded_at >= ?1 AND responded_at < ?2 AND ?3 = ?3 GROUP BY 1, 2, 3, 4, 5";
const RANGE_FEEDBACK: &str = "SELECT created_at / 86400000000 * 86400000000 AS day, channel, \
     '' AS key, COUNT(*) AS n, SUM(CASE WHEN kind = 'complaint' THEN 1 ELSE 0 END) AS complaints \
     FROM feedback WHERE created_at >= ?1 AND created_at < ?2 AND ?3 = ?3 GROUP BY 1, 2";

fn day_start(micros: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY)
        .ok_or_else(|| Error::Corrupt(format!("day out of range: {micros}")))
}

/// The score of a row's `kind` and `value` columns.
fn score_of(row: &sqlx::sqlite::SqliteRow) -> Result<Score> {
    let kind: String = row.try_get("kind")?;
    let value: i64 = row.try_get("value")?;
    Ok(Score {
        kind: ScoreKind::parse(&kind)
            .ok_or_else(|| Error::Corrupt(format!("unknown score kind {kind:?}")))?,
        value: i32::try_from(value)
            .map_err(|_| Error::Corrupt(format!("score {value} out of range")))?,
    })
}

const FEEDBACK_FACTS: &str = "SELECT id, customer_id, created_at, language, channel, kind, topics, \
     flags, polarity, resolution FROM feedback";

impl Store {
    /// The satisfaction snapshot of each customer (customers without answers get an empty one).
    pub async fn customer_snapshots(
        &self,
        customer_ids: &[String],
    ) -> Result<HashMap<String, CustomerSnapshot>> {
        let mut unique: Vec<&str> = customer_ids.iter().map(String::as_str).collect();
        unique.sort_unstable();
        unique.dedup();
        let mut answers: HashMap<String, Vec<CustomerAnswer>> = HashMap::new();
        for answer in self.customer_answers(&unique).await? {
            answers
                .entry(answer.customer_id.clone())
                .or_default()
                .push(answer);
        }
        Ok(unique
            .into_iter()
            .map(|customer_id| {
                let answers = answers.get(customer_id).map(Vec::as_slice).unwrap_or(&[]);
                (customer_id.to_string(), snapshot_of(customer_id, answers))
            })
            .collect())
    }

    /// Every survey answer that counts for these customers: those recorded for them without
    /// naming their own feedback (`survey_responses_customer`), and those sent with or naming
    /// one of their feedback items, found through the customer map.
    async fn customer_answers(&self, customer_ids: &[&str]) -> Result<Vec<CustomerAnswer>> {
        let items: Vec<u32> = {
            let customers = self.customers.read();
            customer_ids
                .iter()
                .flat_map(|customer_id| customers.all(customer_id))
                .collect()
        };
        let customer_ids =
            serde_json::to_string(customer_ids).map_err(|e| Error::Corrupt(e.to_string()))?;
        sqlx::query(
            "SELECT customer_id, kind, value, responded_at, rowid AS response_order \
             FROM survey_responses \
             WHERE via_feedback = 0 AND customer_id IN (SELECT value FROM json_each(?1)) \
             UNION ALL \
             SELECT g.customer_id, s.kind, s.value, s.responded_at, s.rowid \
             FROM feedback_signals g JOIN survey_responses s \
               ON s.feedback_id = g.feedback_id AND s.via_feedback = 1 \
             WHERE g.item IN (SELECT value FROM json_each(?2))",
        )
        .bind(customer_ids)
        .bind(json_items(&items))
        .fetch_all(&self.readers)
        .await?
        .iter()
        .map(|row| {
            Ok(CustomerAnswer {
                customer_id: row.try_get("customer_id")?,
                score: score_of(row)?,
                responded_at: row.try_get("responded_at")?,
                order: row.try_get("response_order")?,
            })
        })
        .collect()
    }

    /// Customers whose latest NPS answer puts them in one of `segments` (values 0..=10 ranges).
    pub async fn customers_with_latest_nps_in(&self, ranges: &[(i32, i32)]) -> Result<Vec<String>> {
        let mut customers = Vec::new();
        for (low, high) in ranges {
            let found: Vec<String> = sqlx::query_scalar(
                "SELECT customer_id FROM (SELECT customer_id, value, ROW_NUMBER() OVER \
                 (PARTITION BY customer_id ORDER BY responded_at DESC, rowid DESC) AS rn \
                 FROM survey_responses WHERE kind = 'nps') WHERE rn = 1 AND value BETWEEN ? AND ?",
            )
            .bind(low)
            .bind(high)
            .fetch_all(&self.readers)
            .await?;
            customers.extend(found);
        }
        Ok(customers)
    }

    /// Everything known about one customer.
    pub async fn profile_facts(&self, customer_id: &str) -> Result<ProfileFacts> {
        let mut answers = self.customer_answers(&[customer_id]).await?;
        answers.sort_by_key(|answer| (answer.responded_at, answer.order));
        let snapshot = snapshot_of(customer_id, &answers);
        let nps_history = answers
            .iter()
            .filter(|answer| answer.score.kind == ScoreKind::Nps)
            .map(|answer| answer.score.value)
            .collect();
        let time = |answer: Option<&CustomerAnswer>| {
            answer
                .map(|answer| rows::from_micros_checked(answer.responded_at))
                .transpose()
        };
        let items = self.customers.read().all(customer_id);
        let feedback = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{FEEDBACK_FACTS} WHERE id IN ({}) ORDER BY created_at",
            feedback_ids_of_items(1)
        )))
        .bind(json_items(&items))
        .fetch_all(&self.readers)
        .await?
        .iter()
        .map(feedback_facts)
        .collect::<Result<Vec<_>>>()?;
        Ok(ProfileFacts {
            snapshot,
            nps_history,
            feedback,
            first_response: time(answers.first())?,
            last_response: time(answers.last())?,
        })
    }

    /// Responses of `[start, end)` and feedback created then, counted by day and channel (and by
    /// `dimension`'s key when given): reports without language, topic or flag filters aggregate
    /// in the database instead of reading every row.
    ///
    /// Whole days of the range come from the per-day tables (`survey_daily`, `feedback_daily`,
    /// and their `*_keys` twins kept by triggers); the partial days at its edges are counted from
    /// the base tables. Grouped counts follow the linkage rule of `satisfaction`: through the
    /// linked feedback, or for unlinked responses through the customer's feedback of the
    /// `link_window` before, once per distinct key.
    pub async fn report_counts(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        dimension: Option<ReportDimension>,
        link_window: chrono::TimeDelta,
    ) -> Result<(Vec<ScoreCount>, Vec<FeedbackCount>)> {
        let (start, end) = (rows::to_micros(start), rows::to_micros(end));
        let first_whole = start.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY
            + if start.rem_euclid(MICROS_PER_DAY) == 0 {
                0
            } else {
                MICROS_PER_DAY
            };
        let end_whole = end.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY;
        let edges: Vec<(i64, i64)> = if first_whole >= end_whole {
            vec![(start, end)]
        } else {
            vec![(start, first_whole), (end_whole, end)]
        };
        let window = link_window.num_microseconds().unwrap_or(i64::MAX);
        let (whole_scores, whole_feedback, edge_scores, edge_feedback, extra) = match dimension {
            None => (
                DAILY_SCORES.to_string(),
                DAILY_FEEDBACK.to_string(),
                RANGE_SCORES.to_string(),
                RANGE_FEEDBACK.to_string(),
                "",
            ),
            Some(dimension) => {
                let (join, key) = dimension.sql();
                (
                    DAILY_KEYED_SCORES.to_string(),
                    DAILY_KEYED_FEEDBACK.to_string(),
                    format!(
                        "SELECT day, channel, key, kind, value, COUNT(*) AS n FROM ( \
                         SELECT s.rowid, s.responded_at / {MICROS_PER_DAY} * {MICROS_PER_DAY} AS day, \
                         s.channel, {key} AS key, s.kind, s.value FROM survey_responses s \
                         JOIN feedback f ON f.id = s.feedback_id {join} \
                         WHERE s.responded_at >= ?1 AND s.responded_at < ?2 \
                         UNION \
                         SELECT s.rowid, s.responded_at / {MICROS_PER_DAY} * {MICROS_PER_DAY}, \
                         s.channel, {key}, s.kind, s.value FROM json_each(?3) p \
                         JOIN survey_responses s ON s.rowid = p.value ->> 0 \
                         JOIN feedback_signals g ON g.item = p.value ->> 1 \
                         JOIN feedback f ON f.id = g.feedback_id {join}) \
                         GROUP BY 1, 2, 3, 4, 5"
                    ),
                    format!(
                        "SELECT f.created_at / {MICROS_PER_DAY} * {MICROS_PER_DAY} AS day, \
                         f.channel, {key} AS key, COUNT(*) AS n, \
                         SUM(CASE WHEN f.kind = 'complaint' THEN 1 ELSE 0 END) AS complaints \
                         FROM feedback f {join} WHERE f.created_at >= ?1 AND f.created_at < ?2 \
                         AND ?3 = ?3 GROUP BY 1, 2, 3"
                    ),
                    dimension.name(),
                )
            }
        };
        let mut scores = Vec::new();
        let mut feedback = Vec::new();
        if first_whole < end_whole {
            scores.extend(
                self.score_counts(&whole_scores, first_whole, end_whole, extra)
                    .await?,
            );
            feedback.extend(
                self.feedback_counts(&whole_feedback, first_whole, end_whole, extra)
                    .await?,
            );
        }
        for (from, to) in edges.into_iter().filter(|(from, to)| from < to) {
            let links = match dimension {
                Some(_) => self.unlinked_links(from, to, window).await?,
                None => String::new(),
            };
            scores.extend(self.score_counts(&edge_scores, from, to, &links).await?);
            feedback.extend(
                self.feedback_counts(&edge_feedback, from, to, &links)
                    .await?,
            );
        }
        Ok((scores, feedback))
    }

    /// The unlinked answers of `[from, to)` paired with each item of their customer's feedback
    /// created in the `window` up to them, as a JSON array of `[answer rowid, item]`.
    async fn unlinked_links(&self, from: i64, to: i64, window: i64) -> Result<String> {
        let answers: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT rowid, customer_id, responded_at FROM survey_responses \
             WHERE feedback_id IS NULL AND responded_at >= ? AND responded_at < ?",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.readers)
        .await?;
        let customers = self.customers.read();
        let links: Vec<(i64, u32)> = answers
            .iter()
            .flat_map(|(answer, customer_id, responded_at)| {
                customers
                    .newest_between(
                        customer_id,
                        responded_at.saturating_sub(window),
                        *responded_at,
                        usize::MAX,
                    )
                    .into_iter()
                    .map(|item| (*answer, item))
            })
            .collect();
        serde_json::to_string(&links).map_err(|e| Error::Corrupt(e.to_string()))
    }

    /// Runs a count query binding `?1` = from, `?2` = to, `?3` = `extra`: the dimension for
    /// whole days, the unlinked answers' links (`unlinked_links`) for partial days.
    async fn count_rows(
        &self,
        sql: &str,
        from: i64,
        to: i64,
        extra: &str,
    ) -> Result<Vec<sqlx::sqlite::SqliteRow>> {
        // The SQL is one of this module's constants or built from them; values are bound.
        let query = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .bind(from)
            .bind(to);
        let query = query.bind(extra);
        Ok(query.fetch_all(&self.readers).await?)
    }

    async fn score_counts(
        &self,
        sql: &str,
        from: i64,
        to: i64,
        extra: &str,
    ) -> Result<Vec<ScoreCount>> {
        self.count_rows(sql, from, to, extra)
            .await?
            .iter()
            .map(|row| {
                Ok(ScoreCount {
                    day: day_start(row.try_get("day")?)?,
                    channel: row.try_get("channel")?,
                    key: row.try_get::<Option<String>, _>("key")?.unwrap_or_default(),
                    score: score_of(row)?,
                    count: u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0),
                })
            })
            .collect()
    }

    async fn feedback_counts(
        &self,
        sql: &str,
        from: i64,
        to: i64,
        extra: &str,
    ) -> Result<Vec<FeedbackCount>> {
        self.count_rows(sql, from, to, extra)
            .await?
            .iter()
            .map(|row| {
                Ok(FeedbackCount {
                    day: day_start(row.try_get("day")?)?,
                    channel: row.try_get("channel")?,
                    key: row.try_get::<Option<String>, _>("key")?.unwrap_or_default(),
                    feedback: u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0),
                    complaints: u64::try_from(row.try_get::<i64, _>("complaints")?).unwrap_or(0),
                })
            })
            .collect()
    }

    /// Survey responses in `[start, end)` and feedback created in `[feedback_from, end)`.
    pub async fn report_facts(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        feedback_from: DateTime<Utc>,
    ) -> Result<(Vec<ResponseFacts>, Vec<FeedbackFacts>)> {
        let responses = sqlx::query(
            "SELECT customer_id, kind, value, responded_at, channel, feedback_id FROM \
             survey_responses WHERE responded_at >= ? AND responded_at < ?",
        )
        .bind(rows::to_micros(start))
        .bind(rows::to_micros(end))
        .fetch_all(&self.readers)
        .await?
        .iter()
        .map(|row| {
            Ok(ResponseFacts {
                customer_id: row.try_get("customer_id")?,
                score: score_of(row)?,
                responded_at: rows::from_micros_checked(row.try_get("responded_at")?)?,
                channel: row.try_get("channel")?,
                feedback_id: row.try_get("feedback_id")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let feedback = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{FEEDBACK_FACTS} WHERE created_at >= ? AND created_at < ?"
        )))
        .bind(rows::to_micros(feedback_from))
        .bind(rows::to_micros(end))
        .fetch_all(&self.readers)
        .await?
        .iter()
        .map(feedback_facts)
        .collect::<Result<Vec<_>>>()?;
        Ok((responses, feedback))
    }
}
