//! Churn risk and the customer profile (DESIGN.md §6): what a customer's answers and feedback
//! say about the risk of losing them.

use chrono::{DateTime, Duration, Utc};

use super::{Segment, segment_of};
use crate::model::{CustomerSnapshot, FeedbackKind, FlagKind};
use crate::store::{FeedbackFacts, ProfileFacts};

/// A reason the churn risk was raised, with its weight.
#[derive(Debug, Clone, PartialEq)]
pub struct ChurnReason {
    pub code: &'static str,
    pub description: String,
    pub weight: f64,
}

/// What churn risk is computed from.
#[derive(Debug, Clone, Default)]
pub struct ChurnInputs {
    /// NPS values, oldest first.
    pub nps_history: Vec<i32>,
    pub csat_mean: Option<f64>,
    pub repeated_complaints: u64,
    pub complaints_last_90_days: u64,
    pub unresolved_complaints: u64,
    /// Mean polarity of the customer's feedback in the last 30 days, if any.
    pub recent_polarity: Option<f64>,
}

/// Churn risk in 0..1, the sum of the weights of the reasons that apply (capped at 1):
/// detractor 0.35 (passive 0.1); NPS fell by 2 or more since the previous answer 0.2; repeated
/// complaints 0.15 (or three complaints in 90 days 0.1); unresolved complaints 0.1 (three or
/// more 0.2); recent feedback clearly negative (mean polarity ≤ −0.3) 0.2; CSAT mean ≤ 2.5 0.1.
pub fn churn_risk(inputs: &ChurnInputs) -> (f64, Vec<ChurnReason>) {
    let mut reasons = Vec::new();
    let mut add = |code, description: String, weight| {
        reasons.push(ChurnReason {
            code,
            description,
            weight,
        })
    };
    if let Some(&latest) = inputs.nps_history.last() {
        match segment_of(latest) {
            Segment::Detractor => add(
                "detractor",
                format!("Latest NPS is {latest}, a detractor."),
                0.35,
            ),
            Segment::Passive => add(
                "passive",
                format!("Latest NPS is {latest}, a passive."),
                0.1,
            ),
            _ => {}
        }
        if let Some(&previous) = inputs.nps_history.iter().rev().nth(1)
            && previous - latest >= 2
        {
            add(
                "falling_nps",
                format!("NPS fell from {previous} to {latest}."),
                0.2,
            );
        }
    }
    if inputs.repeated_complaints > 0 {
        add(
            "repeated_complaints",
            format!(
                "{} repeated complaints about the same problem.",
                inputs.repeated_complaints
            ),
            0.15,
        );
    } else if inputs.complaints_last_90_days >= 3 {
        add(
            "frequent_complaints",
            format!(
                "{} complaints in the last 90 days.",
                inputs.complaints_last_90_days
            ),
            0.1,
        );
    }
    match inputs.unresolved_complaints {
        0 => {}
        n @ 1..=2 => add(
            "unresolved_complaints",
            format!("{n} complaints without a resolution."),
            0.1,
        ),
        n => add(
            "unresolved_complaints",
            format!("{n} complaints without a resolution."),
            0.2,
        ),
    }
    if let Some(polarity) = inputs.recent_polarity
        && polarity <= -0.3
    {
        add(
            "negative_recent_feedback",
            format!(
                "Feedback of the last 30 days is clearly negative (mean polarity {polarity:.2})."
            ),
            0.2,
        );
    }
    if let Some(mean) = inputs.csat_mean
        && mean <= 2.5
    {
        add("low_csat", format!("Mean CSAT is {mean:.1}."), 0.1);
    }
    let risk = reasons.iter().map(|r| r.weight).sum::<f64>().min(1.0);
    (risk, reasons)
}

/// A customer's satisfaction and feedback history.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerProfile {
    pub snapshot: CustomerSnapshot,
    pub feedback_count: u64,
    pub complaint_count: u64,
    pub flagged_count: u64,
    pub repeated_count: u64,
    /// Complaints without a resolution.
    pub unresolved_count: u64,
    pub first_contact: Option<DateTime<Utc>>,
    pub last_contact: Option<DateTime<Utc>>,
    pub churn_risk: f64,
    pub churn_reasons: Vec<ChurnReason>,
}

/// Builds a profile from the stored facts, as of `now`.
pub fn profile(facts: &ProfileFacts, now: DateTime<Utc>) -> CustomerProfile {
    let complaints: Vec<&FeedbackFacts> = facts
        .feedback
        .iter()
        .filter(|f| f.kind == FeedbackKind::Complaint)
        .collect();
    let recent: Vec<f64> = facts
        .feedback
        .iter()
        .filter(|f| f.created_at >= now - Duration::days(30))
        .map(|f| f.polarity)
        .collect();
    let repeated_count = facts
        .feedback
        .iter()
        .filter(|f| f.flags.contains(&FlagKind::RepeatComplaint))
        .count() as u64;
    let unresolved_count = complaints.iter().filter(|f| !f.resolved).count() as u64;
    let (churn_risk, churn_reasons) = churn_risk(&ChurnInputs {
        nps_history: facts.nps_history.clone(),
        csat_mean: facts.snapshot.csat_mean,
        repeated_complaints: repeated_count,
        complaints_last_90_days: complaints
            .iter()
            .filter(|f| f.created_at >= now - Duration::days(90))
            .count() as u64,
        unresolved_complaints: unresolved_count,
        recent_polarity: (!recent.is_empty())
            .then(|| recent.iter().sum::<f64>() / recent.len() as f64),
    });
    let contacts = facts
        .feedback
        .iter()
        .map(|f| f.created_at)
        .chain(facts.first_response)
        .chain(facts.last_response);
    CustomerProfile {
        snapshot: facts.snapshot.clone(),
        feedback_count: facts.feedback.len() as u64,
        complaint_count: complaints.len() as u64,
        flagged_count: facts
            .feedback
            .iter()
            .filter(|f| !f.flags.is_empty())
            .count() as u64,
        repeated_count,
        unresolved_count,
        first_contact: contacts.clone().min(),
        last_contact: contacts.max(),
        churn_risk,
        churn_reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn churn_risk_names_its_reasons() {
        let (risk, reasons) = churn_risk(&ChurnInputs {
            nps_history: vec![9, 3],
            unresolved_complaints: 1,
            recent_polarity: Some(-0.6),
            ..ChurnInputs::default()
        });
        let codes: Vec<_> = reasons.iter().map(|r| r.code).collect();
        assert_eq!(
            codes,
            [
                "detractor",
                "falling_nps",
                "unresolved_complaints",
                "negative_recent_feedback"
            ]
        );
        assert!((risk - 0.85).abs() < 1e-9);
        let (calm, none) = churn_risk(&ChurnInputs {
            nps_history: vec![10],
            ..ChurnInputs::default()
        });
        assert_eq!((calm, none.len()), (0.0, 0));
    }
}
