//! Plain domain types shared by the pipeline, the store and the API layer. No gRPC, no SQL.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What kind of text a customer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    #[default]
    Unspecified,
    Complaint,
    Review,
    Other,
}

impl FeedbackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::Unspecified => "unspecified",
            FeedbackKind::Complaint => "complaint",
            FeedbackKind::Review => "review",
            FeedbackKind::Other => "other",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "unspecified" => FeedbackKind::Unspecified,
            "complaint" => FeedbackKind::Complaint,
            "review" => FeedbackKind::Review,
            "other" => FeedbackKind::Other,
            _ => return None,
        })
    }
}

/// The satisfaction scale a score was given on, with its valid range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreKind {
    Nps,
    Csat,
    Ces,
}

impl ScoreKind {
    /// Inclusive bounds of the scale (DESIGN.md §6).
    pub fn range(self) -> std::ops::RangeInclusive<i32> {
        match self {
            ScoreKind::Nps => 0..=10,
            ScoreKind::Csat => 1..=5,
            ScoreKind::Ces => 1..=7,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ScoreKind::Nps => "nps",
            ScoreKind::Csat => "csat",
            ScoreKind::Ces => "ces",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "nps" => ScoreKind::Nps,
            "csat" => ScoreKind::Csat,
            "ces" => ScoreKind::Ces,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    pub kind: ScoreKind,
    pub value: i32,
}

/// A feedback item as a client submits it (already structurally converted, not yet validated).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewFeedback {
    pub external_id: String,
    pub customer_id: String,
    pub text: String,
    pub kind: FeedbackKind,
    pub channel: String,
    /// When the customer wrote it; `None` means "when received".
    pub created_at: Option<DateTime<Utc>>,
    pub language_hint: String,
    pub score: Option<Score>,
    pub attributes: BTreeMap<String, String>,
}

/// What was done about a feedback item.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    pub text: String,
    pub resolved_by: String,
    pub resolved_at: DateTime<Utc>,
}

/// A stored feedback item: the submitted fields plus everything the pipeline derived.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    pub id: String,
    pub external_id: String,
    pub customer_id: String,
    pub text: String,
    pub kind: FeedbackKind,
    pub channel: String,
    pub created_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub language_hint: String,
    pub score: Option<Score>,
    pub attributes: BTreeMap<String, String>,
    /// `ru`, `uk`, `sl` or `und`.
    pub language: String,
    pub language_confidence: f64,
    pub resolution: Option<Resolution>,
    /// What the text understanding found: topics, tone, flags, priority.
    pub analysis: Analysis,
}

/// Overall tone of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sentiment {
    #[default]
    Unspecified,
    Negative,
    Neutral,
    Positive,
}

impl Sentiment {
    pub fn as_str(self) -> &'static str {
        match self {
            Sentiment::Unspecified => "unspecified",
            Sentiment::Negative => "negative",
            Sentiment::Neutral => "neutral",
            Sentiment::Positive => "positive",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "unspecified" => Sentiment::Unspecified,
            "negative" => Sentiment::Negative,
            "neutral" => Sentiment::Neutral,
            "positive" => Sentiment::Positive,
            _ => return None,
        })
    }
}

/// A stretch of the original text, in Unicode code points, end exclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextSpan {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// One reason an item needs a reviewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    pub kind: FlagKind,
    pub confidence: f64,
    /// One English sentence a reviewer can read.
    pub reason: String,
    pub evidence: Vec<TextSpan>,
    pub related_feedback_ids: Vec<String>,
}

/// Topics, tone, flags and priority of a text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Analysis {
    pub topics: Vec<String>,
    pub sentiment: Sentiment,
    /// -1 (very negative) .. 1 (very positive).
    pub polarity: f64,
    pub flags: Vec<Flag>,
    /// 1 (most urgent) .. 4; 0 when not analysed.
    pub priority: Priority,
    pub cluster_id: String,
}

/// Why a feedback item needs a reviewer (DESIGN.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    RepeatComplaint,
    DuplicateText,
    Burst,
    Extortion,
    PersonalAttack,
    AbusiveLanguage,
    ScoreMismatch,
    Spam,
}

impl FlagKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlagKind::RepeatComplaint => "repeat_complaint",
            FlagKind::DuplicateText => "duplicate_text",
            FlagKind::Burst => "burst",
            FlagKind::Extortion => "extortion",
            FlagKind::PersonalAttack => "personal_attack",
            FlagKind::AbusiveLanguage => "abusive_language",
            FlagKind::ScoreMismatch => "score_mismatch",
            FlagKind::Spam => "spam",
        }
    }

    pub const ALL: [FlagKind; 8] = [
        FlagKind::RepeatComplaint,
        FlagKind::DuplicateText,
        FlagKind::Burst,
        FlagKind::Extortion,
        FlagKind::PersonalAttack,
        FlagKind::AbusiveLanguage,
        FlagKind::ScoreMismatch,
        FlagKind::Spam,
    ];

    pub fn parse(value: &str) -> Option<Self> {
        FlagKind::ALL.into_iter().find(|k| k.as_str() == value)
    }
}

/// How urgently an item needs attention; 1 is the most urgent.
pub type Priority = u8;

/// A satisfaction survey answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyResponse {
    pub id: String,
    /// The idempotency key.
    pub external_id: String,
    pub customer_id: String,
    pub score: Score,
    pub responded_at: DateTime<Utc>,
    pub channel: String,
    pub feedback_id: Option<String>,
}

/// A customer's satisfaction at a glance, attached to every feedback item read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CustomerSnapshot {
    pub customer_id: String,
    pub latest_nps: Option<i32>,
    pub nps_count: i64,
    pub csat_count: i64,
    pub csat_mean: Option<f64>,
    pub ces_count: i64,
    pub ces_mean: Option<f64>,
}
