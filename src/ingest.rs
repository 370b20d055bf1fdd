//! The ingest pipeline (DESIGN.md §2): validate → detect language → analyze (topics, polarity,
//! flags, priority) → fingerprint (duplicate signature, content stems) → store, whose writer adds
//! the flags that depend on stored items (repeats, duplicates, bursts).
//!
//! Everything that needs no shared state (validation, language detection, analysis) runs in the caller's
//! task, in parallel across requests; only the final write goes through the store's single writer.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

use crate::config::Limits;
use crate::error::{Error, FieldViolation, Result};
use crate::model::{Feedback, NewFeedback, Resolution};
use crate::signals::{self, Context, dedup::DedupParams, lexicons::Lexicons};
use crate::store::{Store, Stored};
use crate::text::language::LanguageDetector;

/// How far in the future a `created_at` may lie (client clocks drift).
const MAX_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

/// Turns submitted feedback into stored feedback.
pub struct Ingestor {
    store: Store,
    limits: Limits,
    languages: LanguageDetector,
    lexicons: Lexicons,
    dedup: DedupParams,
}

impl Ingestor {
    pub fn new(store: Store, limits: Limits, lexicons: Lexicons, dedup: DedupParams) -> Ingestor {
        Ingestor {
            store,
            limits,
            languages: LanguageDetector::new(),
            lexicons,
            dedup,
        }
    }

    /// Validates, analyses and durably stores one item (or returns the stored one with the same
    /// external id).
    pub async fn ingest(&self, new: NewFeedback) -> Result<Stored> {
        // The store keeps microseconds; answering with more would differ from later reads.
        let now = Utc::now().trunc_subsecs(6);
        validate_new_feedback(&new, &self.limits, now)?;
        let detection = self.languages.detect(&new.text, &new.language_hint);
        let analysis = signals::analyze(
            &self.lexicons,
            &new.text,
            &Context {
                language: detection.language,
                kind: new.kind,
                score: new.score,
                attributes: &new.attributes,
            },
        );
        let fingerprint = signals::fingerprint(&new.text, detection.language, &self.dedup);
        let feedback = Feedback {
            id: uuid::Uuid::now_v7().to_string(),
            created_at: new.created_at.map_or(now, |t| t.trunc_subsecs(6)),
            received_at: now,
            language: detection.language.to_string(),
            language_confidence: detection.confidence,
            external_id: new.external_id,
            customer_id: new.customer_id,
            text: new.text,
            kind: new.kind,
            channel: new.channel,
            language_hint: new.language_hint,
            score: new.score,
            attributes: new.attributes,
            resolution: None,
            analysis,
        };
        let stored = self.store.insert_feedback(feedback, fingerprint).await?;
        if !stored.already_existed {
            let feedback = &stored.feedback;
            metrics::counter!("triage_feedback_ingested_total", "language" => feedback.language.clone())
                .increment(1);
            for flag in &feedback.analysis.flags {
                metrics::counter!("triage_flags_total", "kind" => flag.kind.as_str()).increment(1);
            }
        }
        Ok(stored)
    }

    /// Records what was done about an item. `resolved_by` is who did it.
    pub async fn resolve(&self, id: &str, text: &str, resolved_by: &str) -> Result<Feedback> {
        let mut violations = Vec::new();
        if id.trim().is_empty() {
            violations.push(FieldViolation::new("id", "is required"));
        }
        if text.trim().is_empty() {
            violations.push(FieldViolation::new("resolution", "must not be blank"));
        } else if text.chars().count() > self.limits.max_resolution_chars {
            violations.push(FieldViolation::new(
                "resolution",
                format!(
                    "is longer than {} characters",
                    self.limits.max_resolution_chars
                ),
            ));
        }
        check_length(
            &mut violations,
            "resolved_by",
            resolved_by,
            self.limits.max_id_chars,
        );
        if !violations.is_empty() {
            return Err(Error::InvalidArgument(violations));
        }
        let resolution = Resolution {
            text: text.to_string(),
            resolved_by: resolved_by.to_string(),
            resolved_at: Utc::now().trunc_subsecs(6),
        };
        self.store.resolve_feedback(id, resolution).await
    }
}

fn check_length(violations: &mut Vec<FieldViolation>, field: &str, value: &str, max: usize) {
    if value.chars().count() > max {
        violations.push(FieldViolation::new(
            field,
            format!("is longer than {max} characters"),
        ));
    }
}

fn check_required(violations: &mut Vec<FieldViolation>, field: &str, value: &str, max: usize) {
    if value.trim().is_empty() {
        violations.push(FieldViolation::new(field, "is required"));
    } else {
        check_length(violations, field, value, max);
    }
}

/// Checks every rule of DESIGN.md §4 for `NewFeedback` and reports all violations at once, with
/// field paths relative to the request (`feedback.text`).
pub fn validate_new_feedback(new: &NewFeedback, limits: &Limits, now: DateTime<Utc>) -> Result<()> {
    let mut violations = Vec::new();
    check_required(
        &mut violations,
        "feedback.external_id",
        &new.external_id,
        limits.max_id_chars,
    );
    check_required(
        &mut violations,
        "feedback.customer_id",
        &new.customer_id,
        limits.max_id_chars,
    );
    if new.text.trim().is_empty() {
        violations.push(FieldViolation::new("feedback.text", "must not be blank"));
    } else {
        check_length(
            &mut violations,
            "feedback.text",
            &new.text,
            limits.max_text_chars,
        );
    }
    check_length(
        &mut violations,
        "feedback.channel",
        &new.channel,
        limits.max_channel_chars,
    );
    if let Some(created_at) = new.created_at
        && created_at > now + MAX_CLOCK_SKEW
    {
        violations.push(FieldViolation::new(
            "feedback.created_at",
            "is more than 5 minutes in the future",
        ));
    }
    if !new.language_hint.is_empty()
        && (new.language_hint.len() != 2
            || !new.language_hint.chars().all(|c| c.is_ascii_lowercase()))
    {
        violations.push(FieldViolation::new(
            "feedback.language_hint",
            "must be empty or a lowercase ISO 639-1 code such as \"uk\"",
        ));
    }
    if let Some(score) = new.score
        && !score.kind.range().contains(&score.value)
    {
        let range = score.kind.range();
        violations.push(FieldViolation::new(
            "feedback.score.value",
            format!(
                "{} on the {} scale must be between {} and {}",
                score.value,
                score.kind.as_str().to_uppercase(),
                range.start(),
                range.end()
            ),
        ));
    }
    if new.attributes.len() > limits.max_attributes {
        violations.push(FieldViolation::new(
            "feedback.attributes",
            format!("has more than {} entries", limits.max_attributes),
        ));
    }
    for (key, value) in &new.attributes {
        let field = format!("feedback.attributes[{key:?}]");
        if key.trim().is_empty() {
            violations.push(FieldViolation::new(field, "key must not be blank"));
            continue;
        }
        if key.chars().count() > limits.max_attribute_key_chars {
            violations.push(FieldViolation::new(
                field.clone(),
                format!(
                    "key is longer than {} characters",
                    limits.max_attribute_key_chars
                ),
            ));
        }
        if value.chars().count() > limits.max_attribute_value_chars {
            violations.push(FieldViolation::new(
                field,
                format!(
                    "value is longer than {} characters",
                    limits.max_attribute_value_chars
                ),
            ));
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidArgument(violations))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Score, ScoreKind};

    fn valid() -> NewFeedback {
        NewFeedback {
            external_id: "ext-1".into(),
            customer_id: "cust-1".into(),
            text: "Курьер опоздал на два часа.".into(),
            ..NewFeedback::default()
        }
    }

    fn violated_fields(new: &NewFeedback) -> Vec<String> {
        match validate_new_feedback(new, &Limits::default(), Utc::now()) {
            Ok(()) => Vec::new(),
            Err(Error::InvalidArgument(v)) => v.into_iter().map(|v| v.field).collect(),
            Err(other) => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn a_valid_item_passes() {
        assert!(violated_fields(&valid()).is_empty());
    }

    #[test]
    fn score_bounds_follow_each_scale() {
        for (kind, ok, bad) in [
            (ScoreKind::Nps, [0, 10], [-1, 11]),
            (ScoreKind::Csat, [1, 5], [0, 6]),
            (ScoreKind::Ces, [1, 7], [0, 8]),
        ] {
            for value in ok {
                let new = NewFeedback {
                    score: Some(Score { kind, value }),
                    ..valid()
                };
                assert!(violated_fields(&new).is_empty(), "{kind:?} {value}");
            }
            for value in bad {
                let new = NewFeedback {
                    score: Some(Score { kind, value }),
                    ..valid()
                };
                assert_eq!(violated_fields(&new), ["feedback.score.value"]);
            }
        }
    }

    #[test]
    fn all_violations_are_reported_together() {
        let new = NewFeedback {
            external_id: "x".repeat(129),
            customer_id: " ".into(),
            text: "\n\t ".into(),
            created_at: Some(Utc::now() + TimeDelta::minutes(10)),
            language_hint: "Ukrainian".into(),
            ..NewFeedback::default()
        };
        assert_eq!(
            violated_fields(&new),
            [
                "feedback.external_id",
                "feedback.customer_id",
                "feedback.text",
                "feedback.created_at",
                "feedback.language_hint"
            ]
        );
    }

    #[test]
    fn text_limit_counts_characters_not_bytes() {
        let limits = Limits {
            max_text_chars: 5,
            ..Limits::default()
        };
        let mut new = valid();
        new.text = "щщщщщ".into();
        assert!(validate_new_feedback(&new, &limits, Utc::now()).is_ok());
        new.text = "щщщщщщ".into();
        assert!(validate_new_feedback(&new, &limits, Utc::now()).is_err());
    }
}
