//! SQL text and the mapping between table rows and domain types.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnection, SqliteRow};

use crate::error::{Error, Result};
use crate::model::{
    Analysis, Feedback, FeedbackKind, Resolution, Score, ScoreKind, Sentiment, SurveyResponse,
};

/// `SELECT <every feedback column><more> FROM feedback <rest>`; the column list is written once.
macro_rules! select_feedback {
    ($rest:literal) => {
        select_feedback!("", $rest)
    };
    ($more:literal, $rest:literal) => {
        concat!(
            "SELECT id, seq, external_id, customer_id, text, kind, channel, created_at, ",
            "received_at, language_hint, score_kind, score_value, attributes, language, ",
            "language_confidence, resolution, resolved_by, resolved_at, topics, sentiment, ",
            "polarity, priority, flags, cluster_id",
            $more,
            " FROM feedback ",
            $rest
        )
    };
}

/// `?, ?, …` with `n` placeholders, for `IN (…)` lists whose values are bound.
pub fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

pub const SELECT_FEEDBACK_BY_ID: &str = select_feedback!("WHERE id = ?");
pub const SELECT_FEEDBACK_BY_EXTERNAL_ID: &str = select_feedback!("WHERE external_id = ?");
/// Followed by `IN (?, ?, …)`.
pub const SELECT_FEEDBACK_WHERE_ID: &str = select_feedback!("WHERE id");
/// Every feedback column, then whether the change is the row's first version (`inserted`).
pub const SELECT_CHANGES_SINCE: &str = select_feedback!(
    ", seq IS inserted_seq AS inserted",
    "WHERE seq > ? ORDER BY seq LIMIT ?"
);

pub const SELECT_SURVEY_BY_EXTERNAL_ID: &str = "SELECT id, external_id, customer_id, kind, value, \
     responded_at, channel, feedback_id FROM survey_responses WHERE external_id = ?";

pub const UPDATE_RESOLUTION: &str =
    "UPDATE feedback SET seq = ?, resolution = ?, resolved_by = ?, resolved_at = ? WHERE id = ?";

pub fn to_micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

pub(super) fn from_micros(micros: i64, column: &str) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| Error::Corrupt(format!("{column} out of range: {micros}")))
}

/// The highest sequence number in use, 0 for an empty store.
pub async fn max_sequence(connection: &mut SqliteConnection) -> Result<i64> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM feedback")
        .fetch_one(connection)
        .await?;
    Ok(max.unwrap_or(0))
}

pub fn feedback_from_row(row: &SqliteRow) -> Result<Feedback> {
    let kind: String = row.try_get("kind")?;
    let score_kind: Option<String> = row.try_get("score_kind")?;
    let score_value: Option<i64> = row.try_get("score_value")?;
    let score = match (score_kind, score_value) {
        (Some(kind), Some(value)) => Some(Score {
            kind: ScoreKind::parse(&kind)
                .ok_or_else(|| Error::Corrupt(format!("unknown score kind {kind:?}")))?,
            value: i32::try_from(value)
                .map_err(|_| Error::Corrupt(format!("score value {value} out of range")))?,
        }),
        _ => None,
    };
    let attributes: String = row.try_get("attributes")?;
    let resolution = match row.try_get::<Option<String>, _>("resolution")? {
        Some(text) => Some(Resolution {
            text,
            resolved_by: row
                .try_get::<Option<String>, _>("resolved_by")?
                .unwrap_or_default(),
            resolved_at: from_micros(
                row.try_get::<Option<i64>, _>("resolved_at")?.unwrap_or(0),
                "resolved_at",
            )?,
        }),
        None => None,
    };
    Ok(Feedback {
        id: row.try_get("id")?,
        external_id: row.try_get("external_id")?,
        customer_id: row.try_get("customer_id")?,
        text: row.try_get("text")?,
        kind: FeedbackKind::parse(&kind)
            .ok_or_else(|| Error::Corrupt(format!("unknown feedback kind {kind:?}")))?,
        channel: row.try_get("channel")?,
        created_at: from_micros(row.try_get("created_at")?, "created_at")?,
        received_at: from_micros(row.try_get("received_at")?, "received_at")?,
        language_hint: row.try_get("language_hint")?,
        score,
        attributes: serde_json::from_str(&attributes)
            .map_err(|e| Error::Corrupt(format!("attributes: {e}")))?,
        language: row.try_get("language")?,
        language_confidence: row.try_get("language_confidence")?,
        resolution,
        analysis: Analysis {
            topics: json_column(row, "topics")?,
            sentiment: Sentiment::parse(&row.try_get::<String, _>("sentiment")?)
                .ok_or_else(|| Error::Corrupt("unknown sentiment".into()))?,
            polarity: row.try_get("polarity")?,
            flags: json_column(row, "flags")?,
            priority: u8::try_from(row.try_get::<i64, _>("priority")?)
                .map_err(|_| Error::Corrupt("priority out of range".into()))?,
            cluster_id: row.try_get("cluster_id")?,
        },
    })
}

pub fn survey_from_row(row: &SqliteRow) -> Result<SurveyResponse> {
    let kind: String = row.try_get("kind")?;
    let value: i64 = row.try_get("value")?;
    Ok(SurveyResponse {
        id: row.try_get("id")?,
        external_id: row.try_get("external_id")?,
        customer_id: row.try_get("customer_id")?,
        score: Score {
            kind: ScoreKind::parse(&kind)
                .ok_or_else(|| Error::Corrupt(format!("unknown score kind {kind:?}")))?,
            value: i32::try_from(value)
                .map_err(|_| Error::Corrupt(format!("score value {value} out of range")))?,
        },
        responded_at: from_micros(row.try_get("responded_at")?, "responded_at")?,
        channel: row.try_get("channel")?,
        feedback_id: row.try_get("feedback_id")?,
    })
}

pub fn from_micros_checked(micros: i64) -> Result<DateTime<Utc>> {
    from_micros(micros, "timestamp")
}

fn json_column<T: serde::de::DeserializeOwned>(row: &SqliteRow, column: &str) -> Result<T> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| Error::Corrupt(format!("{column}: {e}")))
}
