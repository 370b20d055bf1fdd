//! Reads of survey data: customer snapshots, profile facts, and the rows reports aggregate.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, rows};
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

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
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

/// Counts aggregated by the database for reports that need no feedback linkage.
#[derive(Debug, Clone)]
pub struct ScoreCount {
    /// The UTC day of the responses.
    pub day: DateTime<Utc>,
    pub channel: String,
    pub score: Score,
    pub count: u64,
}

/// Feedback counts per bucket and channel.
#[derive(Debug, Clone)]
pub struct FeedbackCount {
    /// The UTC day the items were created.
    pub day: DateTime<Utc>,
    pub channel: String,
    pub feedback: u64,
    pub complaints: u64,
}

/// Microseconds in a day: reports count by day number in SQL and roll days up into weeks and
/// months in Rust, which keeps the SQL a plain integer `GROUP BY` over an index.
const MICROS_PER_DAY: i64 = 86_400_000_000;

fn score_from_columns(kind: &str, value: i64) -> Result<Score> {
    Ok(Score {
        kind: ScoreKind::parse(kind)
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
        let mut snapshots: HashMap<String, CustomerSnapshot> = customer_ids
            .iter()
            .map(|c| {
                (
                    c.clone(),
                    CustomerSnapshot {
                        customer_id: c.clone(),
                        ..CustomerSnapshot::default()
                    },
                )
            })
            .collect();
        let mut unique: Vec<&String> = customer_ids.iter().collect();
        unique.sort();
        unique.dedup();
        for chunk in unique.chunks(400) {
            let marks = placeholders(chunk.len());
            let counts = format!(
                "SELECT customer_id, kind, COUNT(*) AS n, AVG(value) AS mean FROM survey_responses \
                 WHERE customer_id IN ({marks}) GROUP BY customer_id, kind"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(counts));
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.readers).await? {
                let customer: String = row.try_get("customer_id")?;
                let kind: String = row.try_get("kind")?;
                let n: i64 = row.try_get("n")?;
                let mean: Option<f64> = row.try_get("mean")?;
                if let Some(snapshot) = snapshots.get_mut(&customer) {
                    match ScoreKind::parse(&kind) {
                        Some(ScoreKind::Nps) => snapshot.nps_count = n,
                        Some(ScoreKind::Csat) => {
                            (snapshot.csat_count, snapshot.csat_mean) = (n, mean)
                        }
                        Some(ScoreKind::Ces) => (snapshot.ces_count, snapshot.ces_mean) = (n, mean),
                        None => return Err(Error::Corrupt(format!("unknown score kind {kind:?}"))),
                    }
                }
            }
            let latest = format!(
                "SELECT customer_id, value FROM (SELECT customer_id, value, ROW_NUMBER() OVER \
                 (PARTITION BY customer_id ORDER BY responded_at DESC, rowid DESC) AS rn \
                 FROM survey_responses WHERE kind = 'nps' AND customer_id IN ({marks})) WHERE rn = 1"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(latest));
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.readers).await? {
                let customer: String = row.try_get("customer_id")?;
                let value: i64 = row.try_get("value")?;
                if let Some(snapshot) = snapshots.get_mut(&customer) {
                    snapshot.latest_nps = i32::try_from(value).ok();
                }
            }
        }
        Ok(snapshots)
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
        let snapshot = self
            .customer_snapshots(&[customer_id.to_string()])
            .await?
            .remove(customer_id)
            .unwrap_or_default();
        let nps_history = sqlx::query_scalar::<_, i64>(
            "SELECT value FROM survey_responses WHERE customer_id = ? AND kind = 'nps' \
             ORDER BY responded_at, rowid",
        )
        .bind(customer_id)
        .fetch_all(&self.readers)
        .await?
        .into_iter()
        .filter_map(|v| i32::try_from(v).ok())
        .collect();
        let bounds = sqlx::query(
            "SELECT MIN(responded_at) AS first, MAX(responded_at) AS last FROM survey_responses \
             WHERE customer_id = ?",
        )
        .bind(customer_id)
        .fetch_one(&self.readers)
        .await?;
        let time = |column: &str| -> Result<Option<DateTime<Utc>>> {
            bounds
                .try_get::<Option<i64>, _>(column)?
                .map(rows::from_micros_checked)
                .transpose()
        };
        let feedback = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{FEEDBACK_FACTS} WHERE customer_id = ? ORDER BY created_at"
        )))
        .bind(customer_id)
        .fetch_all(&self.readers)
        .await?
        .iter()
        .map(feedback_facts)
        .collect::<Result<Vec<_>>>()?;
        Ok(ProfileFacts {
            snapshot,
            nps_history,
            feedback,
            first_response: time("first")?,
            last_response: time("last")?,
        })
    }

    /// Responses of `[start, end)` counted by bucket, channel and score, and feedback counted by
    /// bucket and channel: reports grouped by nothing or by channel, without other filters,
    /// aggregate in the database instead of reading every row.
    pub async fn report_counts(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<(Vec<ScoreCount>, Vec<FeedbackCount>)> {
        let day = |micros: i64| {
            DateTime::from_timestamp_micros(micros.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY)
                .ok_or_else(|| Error::Corrupt(format!("day out of range: {micros}")))
        };
        let scores = sqlx::query(
            "SELECT responded_at / 86400000000 * 86400000000 AS day, channel, kind, value, \
             COUNT(*) AS n FROM survey_responses WHERE responded_at >= ? AND responded_at < ? \
             GROUP BY 1, 2, 3, 4",
        )
        .bind(rows::to_micros(start))
        .bind(rows::to_micros(end))
        .fetch_all(&self.readers)
        .await?
        .iter()
        .map(|row| {
            Ok(ScoreCount {
                day: day(row.try_get("day")?)?,
                channel: row.try_get("channel")?,
                score: score_from_columns(
                    &row.try_get::<String, _>("kind")?,
                    row.try_get("value")?,
                )?,
                count: u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0),
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let feedback = sqlx::query(
            "SELECT created_at / 86400000000 * 86400000000 AS day, channel, COUNT(*) AS n, \
             SUM(CASE WHEN kind = 'complaint' THEN 1 ELSE 0 END) AS complaints FROM feedback \
             WHERE created_at >= ? AND created_at < ? GROUP BY 1, 2",
        )
        .bind(rows::to_micros(start))
        .bind(rows::to_micros(end))
        .fetch_all(&self.readers)
        .await?
        .iter()
        .map(|row| {
            Ok(FeedbackCount {
                day: day(row.try_get("day")?)?,
                channel: row.try_get("channel")?,
                feedback: u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0),
                complaints: u64::try_from(row.try_get::<i64, _>("complaints")?).unwrap_or(0),
            })
        })
        .collect::<Result<Vec<_>>>()?;
        Ok((scores, feedback))
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
                score: score_from_columns(
                    &row.try_get::<String, _>("kind")?,
                    row.try_get("value")?,
                )?,
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
