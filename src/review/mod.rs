//! Review queues for the quality team (DESIGN.md §7): which queue a flagged item goes to, and the
//! state machine every change goes through.
//!
//! `OPEN → CLAIMED` (by a reviewer, with a lease; an expired lease returns it to OPEN)
//! `→ CONFIRMED | DISMISSED | ESCALATED`; a resolved item goes back to OPEN only by an admin.
//! Every transition bumps the item's version (its etag) and yields one audit event. The functions
//! here are pure: the store's writer reads the item, asks for the transition and writes both in
//! the transaction of the request.
//!
//! Who may do what: only the assignee resolves (another reviewer gets `PERMISSION_DENIED`); the
//! assignee or an admin releases; a claimed item cannot be claimed again until it is released,
//! resolved or its lease ends (`FAILED_PRECONDITION`, also for its own assignee).

use chrono::{DateTime, TimeDelta, Utc};

use crate::error::{Error, FieldViolation, Result};
use crate::model::{Flag, FlagKind, Priority};

mod transitions;

pub use transitions::{ReviewCommand, Transition, apply, expire, lease_expired};

/// Who acts when the service itself changes an item (creation, lease expiry).
pub const SYSTEM_ACTOR: &str = "triage";

/// Default claim lease.
pub const DEFAULT_LEASE: TimeDelta = TimeDelta::minutes(15);
/// Bounds of a requested lease.
pub const MIN_LEASE: TimeDelta = TimeDelta::seconds(1);
pub const MAX_LEASE: TimeDelta = TimeDelta::hours(24);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Queue {
    Suspicious,
    Repeated,
}

impl Queue {
    pub const ALL: [Queue; 2] = [Queue::Suspicious, Queue::Repeated];

    pub fn as_str(self) -> &'static str {
        match self {
            Queue::Suspicious => "suspicious",
            Queue::Repeated => "repeated",
        }
    }

    pub fn parse(value: &str) -> Option<Queue> {
        Queue::ALL.into_iter().find(|q| q.as_str() == value)
    }

    /// The queue a flag kind sends its item to.
    pub fn of(kind: FlagKind) -> Queue {
        match kind {
            FlagKind::RepeatComplaint => Queue::Repeated,
            _ => Queue::Suspicious,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReviewState {
    Open,
    Claimed,
    Confirmed,
    Dismissed,
    Escalated,
}

impl ReviewState {
    pub const ALL: [ReviewState; 5] = [
        ReviewState::Open,
        ReviewState::Claimed,
        ReviewState::Confirmed,
        ReviewState::Dismissed,
        ReviewState::Escalated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Open => "open",
            ReviewState::Claimed => "claimed",
            ReviewState::Confirmed => "confirmed",
            ReviewState::Dismissed => "dismissed",
            ReviewState::Escalated => "escalated",
        }
    }

    pub fn parse(value: &str) -> Option<ReviewState> {
        ReviewState::ALL.into_iter().find(|s| s.as_str() == value)
    }

    pub fn is_resolved(self) -> bool {
        matches!(
            self,
            ReviewState::Confirmed | ReviewState::Dismissed | ReviewState::Escalated
        )
    }

    fn upper(self) -> String {
        self.as_str().to_uppercase()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Confirmed,
    Dismissed,
    Escalated,
}

impl Decision {
    fn state(self) -> ReviewState {
        match self {
            Decision::Confirmed => ReviewState::Confirmed,
            Decision::Dismissed => ReviewState::Dismissed,
            Decision::Escalated => ReviewState::Escalated,
        }
    }
}

/// One item of a review queue. `feedback_id` names the flagged feedback.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewItem {
    pub id: String,
    pub queue: Queue,
    pub feedback_id: String,
    /// The flags that put the item in this queue.
    pub flags: Vec<Flag>,
    pub priority: Priority,
    pub state: ReviewState,
    pub assignee: String,
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Bumped by every change; the etag clients send back.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_claimed_at: Option<DateTime<Utc>>,
    pub decision_note: String,
    /// The review change sequence number of the item's latest change (for watchers).
    pub sequence: i64,
}

impl ReviewItem {
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

/// One entry of an item's audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewEvent {
    pub id: String,
    pub review_item_id: String,
    pub actor: String,
    pub time: DateTime<Utc>,
    /// `None` for the creation of the item.
    pub from_state: Option<ReviewState>,
    pub to_state: ReviewState,
    pub note: String,
}

/// The review items a newly stored feedback item gets: one per queue its flags point to.
pub fn new_items(
    feedback_id: &str,
    flags: &[Flag],
    priority: Priority,
    now: DateTime<Utc>,
) -> Vec<(ReviewItem, ReviewEvent)> {
    Queue::ALL
        .into_iter()
        .filter_map(|queue| {
            let flags: Vec<Flag> = flags
                .iter()
                .filter(|f| Queue::of(f.kind) == queue)
                .cloned()
                .collect();
            if flags.is_empty() {
                return None;
            }
            let item = ReviewItem {
                id: uuid::Uuid::now_v7().to_string(),
                queue,
                feedback_id: feedback_id.to_string(),
                flags,
                priority,
                state: ReviewState::Open,
                assignee: String::new(),
                lease_expires_at: None,
                version: 1,
                created_at: now,
                updated_at: now,
                first_claimed_at: None,
                decision_note: String::new(),
                sequence: 0,
            };
            let event = event(&item, SYSTEM_ACTOR, None, "flagged", now);
            Some((item, event))
        })
        .collect()
}

fn event(
    item: &ReviewItem,
    actor: &str,
    from_state: Option<ReviewState>,
    note: &str,
    time: DateTime<Utc>,
) -> ReviewEvent {
    ReviewEvent {
        id: uuid::Uuid::now_v7().to_string(),
        review_item_id: item.id.clone(),
        actor: actor.to_string(),
        time,
        from_state,
        to_state: item.state,
        note: note.to_string(),
    }
}

/// Checks the fields of a resolve request; a note is required to dismiss or escalate.
pub fn validate_resolution(
    etag: &str,
    decision: Option<Decision>,
    note: &str,
    reopen: bool,
    max_note_chars: usize,
) -> Result<()> {
    let mut violations = Vec::new();
    if etag.trim().is_empty() {
        violations.push(FieldViolation::new(
            "etag",
            "is required: send the etag of the item as last read",
        ));
    }
    if !reopen {
        match decision {
            None => violations.push(FieldViolation::new(
                "decision",
                "must be DECISION_CONFIRMED, DECISION_DISMISSED or DECISION_ESCALATED",
            )),
            Some(Decision::Dismissed | Decision::Escalated) if note.trim().is_empty() => {
                violations.push(FieldViolation::new(
                    "note",
                    "is required to dismiss or escalate: say why",
                ));
            }
            _ => {}
        }
    }
    if note.chars().count() > max_note_chars {
        violations.push(FieldViolation::new(
            "note",
            format!("is longer than {max_note_chars} characters"),
        ));
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidArgument(violations))
    }
}

/// The median of durations (the lower middle one for an even count).
pub fn median(mut values: Vec<TimeDelta>) -> Option<TimeDelta> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values[(values.len() - 1) / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flag of `kind`, for the tests of this module and its state machine.
    pub(super) fn flag(kind: FlagKind) -> Flag {
        Flag {
            kind,
            confidence: 0.9,
            reason: "test".into(),
            evidence: Vec::new(),
            related_feedback_ids: Vec::new(),
        }
    }

    #[test]
    fn flags_are_split_between_the_two_queues() {
        let now = Utc::now();
        let items = new_items(
            "f1",
            &[
                flag(FlagKind::RepeatComplaint),
                flag(FlagKind::Spam),
                flag(FlagKind::Burst),
            ],
            3,
            now,
        );
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].0.queue, Queue::Suspicious);
        assert_eq!(items[0].0.flags.len(), 2);
        assert_eq!(items[1].0.queue, Queue::Repeated);
        assert_eq!(items[1].1.to_state, ReviewState::Open);
        assert!(new_items("f2", &[], 4, now).is_empty());
    }

    #[test]
    fn dismissing_needs_a_note() {
        assert!(validate_resolution("\"2\"", Some(Decision::Confirmed), "", false, 100).is_ok());
        let error =
            validate_resolution("", Some(Decision::Dismissed), " ", false, 100).unwrap_err();
        let Error::InvalidArgument(violations) = error else {
            panic!()
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["etag", "note"]);
    }

    #[test]
    fn median_takes_the_lower_middle() {
        let d = TimeDelta::seconds;
        assert_eq!(median(vec![d(5), d(1), d(3)]), Some(d(3)));
        assert_eq!(median(vec![d(4), d(1)]), Some(d(1)));
        assert_eq!(median(Vec::new()), None);
    }
}
