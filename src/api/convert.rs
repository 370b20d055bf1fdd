//! Conversions between the protobuf messages and the domain types, in one place.
//!
//! Structural problems a client can cause (an enum number we do not know, a malformed timestamp)
//! are reported here as field violations; the semantic rules live in the domain modules.

use chrono::{DateTime, Utc};

use crate::error::{Error, FieldViolation, Result};
use crate::model::{
    CustomerSnapshot, Feedback, FeedbackKind, Flag, FlagKind, NewFeedback, Score, ScoreKind,
    Sentiment,
};
use crate::pb;
use crate::satisfaction::{Segment, segment_of};

pub fn timestamp_to_proto(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    }
}

/// A proto timestamp as a UTC time, or `None` if it is outside what we can represent.
pub fn timestamp_from_proto(time: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(time.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)?;
    DateTime::from_timestamp(time.seconds, nanos)
}

pub fn feedback_kind_from_proto(value: i32) -> Option<FeedbackKind> {
    Some(match pb::FeedbackKind::try_from(value).ok()? {
        pb::FeedbackKind::Unspecified => FeedbackKind::Unspecified,
        pb::FeedbackKind::Complaint => FeedbackKind::Complaint,
        pb::FeedbackKind::Review => FeedbackKind::Review,
        pb::FeedbackKind::Other => FeedbackKind::Other,
    })
}

fn feedback_kind_to_proto(kind: FeedbackKind) -> pb::FeedbackKind {
    match kind {
        FeedbackKind::Unspecified => pb::FeedbackKind::Unspecified,
        FeedbackKind::Complaint => pb::FeedbackKind::Complaint,
        FeedbackKind::Review => pb::FeedbackKind::Review,
        FeedbackKind::Other => pb::FeedbackKind::Other,
    }
}

pub fn score_kind_to_proto(kind: ScoreKind) -> pb::ScoreKind {
    match kind {
        ScoreKind::Nps => pb::ScoreKind::Nps,
        ScoreKind::Csat => pb::ScoreKind::Csat,
        ScoreKind::Ces => pb::ScoreKind::Ces,
    }
}

/// Converts a score, reporting problems under `field` (such as `feedback.score`).
fn score_from_proto(score: &pb::Score, field: &str) -> std::result::Result<Score, FieldViolation> {
    let kind = match pb::ScoreKind::try_from(score.kind) {
        Ok(pb::ScoreKind::Nps) => ScoreKind::Nps,
        Ok(pb::ScoreKind::Csat) => ScoreKind::Csat,
        Ok(pb::ScoreKind::Ces) => ScoreKind::Ces,
        Ok(pb::ScoreKind::Unspecified) => {
            return Err(FieldViolation::new(
                format!("{field}.kind"),
                "is required: SCORE_KIND_NPS, SCORE_KIND_CSAT or SCORE_KIND_CES",
            ));
        }
        Err(_) => {
            return Err(FieldViolation::new(
                format!("{field}.kind"),
                format!("{} is not a ScoreKind", score.kind),
            ));
        }
    };
    Ok(Score {
        kind,
        value: score.value,
    })
}

/// Converts `IngestFeedbackRequest.feedback`.
pub fn new_feedback_from_proto(feedback: Option<pb::NewFeedback>) -> Result<NewFeedback> {
    let Some(feedback) = feedback else {
        return Err(Error::invalid("feedback", "is required"));
    };
    let mut violations = Vec::new();
    let kind = feedback_kind_from_proto(feedback.kind).unwrap_or_else(|| {
        violations.push(FieldViolation::new(
            "feedback.kind",
            format!("{} is not a FeedbackKind", feedback.kind),
        ));
        FeedbackKind::Unspecified
    });
    let created_at = match &feedback.created_at {
        None => None,
        Some(time) => {
            let converted = timestamp_from_proto(time);
            if converted.is_none() {
                violations.push(FieldViolation::new(
                    "feedback.created_at",
                    "is not a valid timestamp",
                ));
            }
            converted
        }
    };
    let score = match &feedback.score {
        None => None,
        Some(score) => match score_from_proto(score, "feedback.score") {
            Ok(score) => Some(score),
            Err(violation) => {
                violations.push(violation);
                None
            }
        },
    };
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    Ok(NewFeedback {
        external_id: feedback.external_id,
        customer_id: feedback.customer_id,
        text: feedback.text,
        kind,
        channel: feedback.channel,
        created_at,
        language_hint: feedback.language_hint,
        score,
        attributes: feedback.attributes.into_iter().collect(),
    })
}

pub fn segment_to_proto(segment: Segment) -> pb::Segment {
    match segment {
        Segment::None => pb::Segment::Unspecified,
        Segment::Promoter => pb::Segment::Promoter,
        Segment::Passive => pb::Segment::Passive,
        Segment::Detractor => pb::Segment::Detractor,
    }
}

pub fn snapshot_to_proto(snapshot: CustomerSnapshot) -> pb::CustomerSnapshot {
    pb::CustomerSnapshot {
        segment: snapshot.latest_nps.map_or(pb::Segment::Unspecified, |nps| {
            segment_to_proto(segment_of(nps))
        }) as i32,
        latest_nps: snapshot.latest_nps,
        nps_count: snapshot.nps_count,
        csat_count: snapshot.csat_count,
        csat_mean: snapshot.csat_mean,
        ces_count: snapshot.ces_count,
        ces_mean: snapshot.ces_mean,
        customer_id: snapshot.customer_id,
    }
}

pub fn score_from_proto_checked(score: Option<&pb::Score>, field: &str) -> Result<Score> {
    let score = score.ok_or_else(|| Error::invalid(field, "is required"))?;
    let converted = score_from_proto(score, field).map_err(|v| Error::InvalidArgument(vec![v]))?;
    if !converted.kind.range().contains(&converted.value) {
        let range = converted.kind.range();
        return Err(Error::invalid(
            format!("{field}.value"),
            format!(
                "{} on the {} scale must be between {} and {}",
                converted.value,
                converted.kind.as_str().to_uppercase(),
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(converted)
}

/// The request form of a domain item (used by client-side tools such as the benchmark).
pub fn new_feedback_to_proto(new: NewFeedback) -> pb::NewFeedback {
    pb::NewFeedback {
        external_id: new.external_id,
        customer_id: new.customer_id,
        text: new.text,
        kind: feedback_kind_to_proto(new.kind) as i32,
        channel: new.channel,
        created_at: new.created_at.map(timestamp_to_proto),
        language_hint: new.language_hint,
        score: new.score.map(score_to_proto),
        attributes: new.attributes.into_iter().collect(),
    }
}

fn score_to_proto(score: Score) -> pb::Score {
    pb::Score {
        kind: score_kind_to_proto(score.kind) as i32,
        value: score.value,
    }
}

pub fn feedback_to_proto(feedback: Feedback) -> pb::Feedback {
    let (resolution, resolved_by, resolved_at) = match feedback.resolution {
        Some(r) => (
            r.text,
            r.resolved_by,
            Some(timestamp_to_proto(r.resolved_at)),
        ),
        None => (String::new(), String::new(), None),
    };
    pb::Feedback {
        id: feedback.id,
        external_id: feedback.external_id,
        customer_id: feedback.customer_id,
        text: feedback.text,
        kind: feedback_kind_to_proto(feedback.kind) as i32,
        channel: feedback.channel,
        created_at: Some(timestamp_to_proto(feedback.created_at)),
        language_hint: feedback.language_hint,
        score: feedback.score.map(score_to_proto),
        attributes: feedback.attributes.into_iter().collect(),
        received_at: Some(timestamp_to_proto(feedback.received_at)),
        language: feedback.language,
        language_confidence: feedback.language_confidence,
        resolution,
        resolved_by,
        resolved_at,
        topics: feedback.analysis.topics,
        sentiment: sentiment_to_proto(feedback.analysis.sentiment) as i32,
        polarity: feedback.analysis.polarity,
        priority: i32::from(feedback.analysis.priority),
        flags: feedback
            .analysis
            .flags
            .into_iter()
            .map(flag_to_proto)
            .collect(),
        cluster_id: feedback.analysis.cluster_id,
        customer: None,
    }
}

fn sentiment_to_proto(sentiment: Sentiment) -> pb::Sentiment {
    match sentiment {
        Sentiment::Unspecified => pb::Sentiment::Unspecified,
        Sentiment::Negative => pb::Sentiment::Negative,
        Sentiment::Neutral => pb::Sentiment::Neutral,
        Sentiment::Positive => pb::Sentiment::Positive,
    }
}

pub fn flag_kind_to_proto(kind: FlagKind) -> pb::FlagKind {
    match kind {
        FlagKind::RepeatComplaint => pb::FlagKind::RepeatComplaint,
        FlagKind::DuplicateText => pb::FlagKind::DuplicateText,
        FlagKind::Burst => pb::FlagKind::Burst,
        FlagKind::Extortion => pb::FlagKind::Extortion,
        FlagKind::PersonalAttack => pb::FlagKind::PersonalAttack,
        FlagKind::AbusiveLanguage => pb::FlagKind::AbusiveLanguage,
        FlagKind::ScoreMismatch => pb::FlagKind::ScoreMismatch,
        FlagKind::Spam => pb::FlagKind::Spam,
    }
}

/// Converts a repeated enum field, reporting each unknown number as a violation of `field[i]`.
pub fn convert_list<T>(
    values: &[i32],
    field: &str,
    what: &str,
    violations: &mut Vec<FieldViolation>,
    convert: impl Fn(i32) -> Option<T>,
) -> Vec<T> {
    values
        .iter()
        .enumerate()
        .filter_map(|(i, value)| {
            let converted = convert(*value);
            if converted.is_none() {
                violations.push(FieldViolation::new(
                    format!("{field}[{i}]"),
                    format!("{value} is not a {what}"),
                ));
            }
            converted
        })
        .collect()
}

pub fn flag_kind_from_proto(value: i32) -> Option<FlagKind> {
    Some(match pb::FlagKind::try_from(value).ok()? {
        pb::FlagKind::Unspecified => return None,
        pb::FlagKind::RepeatComplaint => FlagKind::RepeatComplaint,
        pb::FlagKind::DuplicateText => FlagKind::DuplicateText,
        pb::FlagKind::Burst => FlagKind::Burst,
        pb::FlagKind::Extortion => FlagKind::Extortion,
        pb::FlagKind::PersonalAttack => FlagKind::PersonalAttack,
        pb::FlagKind::AbusiveLanguage => FlagKind::AbusiveLanguage,
        pb::FlagKind::ScoreMismatch => FlagKind::ScoreMismatch,
        pb::FlagKind::Spam => FlagKind::Spam,
    })
}

pub fn flag_to_proto(flag: Flag) -> pb::Flag {
    pb::Flag {
        kind: flag_kind_to_proto(flag.kind) as i32,
        confidence: flag.confidence,
        reason: flag.reason,
        evidence: flag
            .evidence
            .into_iter()
            .map(|span| pb::TextSpan {
                start: span.start as i32,
                end: span.end as i32,
                text: span.text,
            })
            .collect(),
        related_feedback_ids: flag.related_feedback_ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_enum_numbers_are_field_violations() {
        let new = pb::NewFeedback {
            kind: 42,
            score: Some(pb::Score { kind: 0, value: 3 }),
            ..pb::NewFeedback::default()
        };
        match new_feedback_from_proto(Some(new)) {
            Err(Error::InvalidArgument(v)) => {
                let fields: Vec<_> = v.iter().map(|v| v.field.as_str()).collect();
                assert_eq!(fields, ["feedback.kind", "feedback.score.kind"]);
            }
            other => panic!("expected invalid argument, got {other:?}"),
        }
    }

    #[test]
    fn timestamps_round_trip_and_reject_bad_nanos() {
        let time = DateTime::from_timestamp(1_700_000_000, 123_000).unwrap();
        assert_eq!(timestamp_from_proto(&timestamp_to_proto(time)), Some(time));
        let bad = prost_types::Timestamp {
            seconds: 0,
            nanos: -1,
        };
        assert_eq!(timestamp_from_proto(&bad), None);
    }
}
