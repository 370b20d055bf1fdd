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

/// A change to apply: the item afterwards and its audit events (an expired lease, if found on
/// the way, comes first).
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub item: ReviewItem,
    pub events: Vec<ReviewEvent>,
}

/// What a reviewer asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewCommand {
    Claim {
        lease: TimeDelta,
    },
    Release,
    Resolve {
        etag: String,
        decision: Decision,
        note: String,
    },
    Reopen {
        etag: String,
        note: String,
    },
}

/// Whether the lease of a claimed item has run out at `now`.
pub fn lease_expired(item: &ReviewItem, now: DateTime<Utc>) -> bool {
    item.state == ReviewState::Claimed && item.lease_expires_at.is_none_or(|t| t <= now)
}

fn change(
    mut item: ReviewItem,
    to: ReviewState,
    actor: &str,
    note: &str,
    now: DateTime<Utc>,
) -> (ReviewItem, ReviewEvent) {
    let from = item.state;
    item.state = to;
    item.version += 1;
    item.updated_at = now;
    let event = event(&item, actor, Some(from), note, now);
    (item, event)
}

/// Returns an item whose lease ran out to OPEN.
pub fn expire(item: &ReviewItem, now: DateTime<Utc>) -> Option<Transition> {
    if !lease_expired(item, now) {
        return None;
    }
    let mut expired = item.clone();
    expired.assignee.clear();
    expired.lease_expires_at = None;
    let note = format!("the lease of {} ended", item.assignee);
    let (item, event) = change(expired, ReviewState::Open, SYSTEM_ACTOR, &note, now);
    Some(Transition {
        item,
        events: vec![event],
    })
}

/// Applies `command` by `actor` to `item` at `now`.
pub fn apply(
    item: &ReviewItem,
    command: &ReviewCommand,
    actor: &str,
    is_admin: bool,
    now: DateTime<Utc>,
) -> Result<Transition> {
    let mut events = Vec::new();
    let mut current = item.clone();
    if let Some(expired) = expire(item, now) {
        current = expired.item;
        events.extend(expired.events);
    }
    let state = current.state;
    let (next, event) = match command {
        ReviewCommand::Claim { lease } => {
            if state != ReviewState::Open {
                return Err(Error::FailedPrecondition(match state {
                    ReviewState::Claimed => format!(
                        "review item {} is CLAIMED by {} until {}",
                        current.id,
                        current.assignee,
                        current
                            .lease_expires_at
                            .map(|t| t.to_rfc3339())
                            .unwrap_or_default()
                    ),
                    _ => format!(
                        "review item {} is {}; only OPEN items can be claimed",
                        current.id,
                        state.upper()
                    ),
                }));
            }
            let mut claimed = current;
            claimed.assignee = actor.to_string();
            claimed.lease_expires_at = Some(now + *lease);
            claimed.first_claimed_at.get_or_insert(now);
            change(claimed, ReviewState::Claimed, actor, "", now)
        }
        ReviewCommand::Release => {
            if state != ReviewState::Claimed {
                return Err(Error::FailedPrecondition(format!(
                    "review item {} is {}; only CLAIMED items can be released",
                    current.id,
                    state.upper()
                )));
            }
            if current.assignee != actor && !is_admin {
                return Err(Error::PermissionDenied(format!(
                    "review item {} is claimed by {}; only they or an admin may release it",
                    current.id, current.assignee
                )));
            }
            let mut released = current;
            released.assignee.clear();
            released.lease_expires_at = None;
            change(released, ReviewState::Open, actor, "released", now)
        }
        ReviewCommand::Resolve {
            etag,
            decision,
            note,
        } => {
            if state != ReviewState::Claimed {
                return Err(Error::FailedPrecondition(format!(
                    "review item {} is {}; claim it before resolving",
                    current.id,
                    state.upper()
                )));
            }
            if current.assignee != actor {
                return Err(Error::PermissionDenied(format!(
                    "review item {} is claimed by {}; only the assignee may resolve it",
                    current.id, current.assignee
                )));
            }
            check_etag(&current, etag)?;
            let mut resolved = current;
            resolved.lease_expires_at = None;
            resolved.decision_note = note.clone();
            change(resolved, decision.state(), actor, note, now)
        }
        ReviewCommand::Reopen { etag, note } => {
            if !is_admin {
                return Err(Error::PermissionDenied(
                    "reopening a resolved review item needs the admin role".into(),
                ));
            }
            if !state.is_resolved() {
                return Err(Error::FailedPrecondition(format!(
                    "review item {} is {}; only resolved items can be reopened",
                    current.id,
                    state.upper()
                )));
            }
            check_etag(&current, etag)?;
            let mut reopened = current;
            reopened.assignee.clear();
            reopened.decision_note.clear();
            change(reopened, ReviewState::Open, actor, note, now)
        }
    };
    events.push(event);
    Ok(Transition { item: next, events })
}

fn check_etag(item: &ReviewItem, etag: &str) -> Result<()> {
    if etag.trim_matches('"') == item.version.to_string() {
        Ok(())
    } else {
        Err(Error::Aborted(format!(
            "review item {} changed since etag {etag} was read; its etag is now {}",
            item.id,
            item.etag()
        )))
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

    fn flag(kind: FlagKind) -> Flag {
        Flag {
            kind,
            confidence: 0.9,
            reason: "test".into(),
            evidence: Vec::new(),
            related_feedback_ids: Vec::new(),
        }
    }

    fn open_item(now: DateTime<Utc>) -> ReviewItem {
        new_items("f1", &[flag(FlagKind::Extortion)], 1, now)
            .pop()
            .unwrap()
            .0
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
    fn the_life_cycle_bumps_the_version_and_records_each_step() {
        let now = Utc::now();
        let item = open_item(now);
        let claim = ReviewCommand::Claim {
            lease: DEFAULT_LEASE,
        };
        let claimed = apply(&item, &claim, "alice", false, now).unwrap();
        assert_eq!(claimed.item.state, ReviewState::Claimed);
        assert_eq!(claimed.item.assignee, "alice");
        assert_eq!(claimed.item.version, 2);
        let again = apply(&claimed.item, &claim, "alice", false, now).unwrap_err();
        assert!(matches!(again, Error::FailedPrecondition(m) if m.contains("CLAIMED by alice")));
        let resolve = |etag: &str| ReviewCommand::Resolve {
            etag: etag.into(),
            decision: Decision::Dismissed,
            note: "honest complaint".into(),
        };
        assert!(matches!(
            apply(&claimed.item, &resolve("\"1\""), "alice", false, now),
            Err(Error::Aborted(_))
        ));
        assert!(matches!(
            apply(&claimed.item, &resolve("\"2\""), "bob", false, now),
            Err(Error::PermissionDenied(_))
        ));
        let done = apply(&claimed.item, &resolve("\"2\""), "alice", false, now).unwrap();
        assert_eq!(done.item.state, ReviewState::Dismissed);
        assert_eq!(done.item.decision_note, "honest complaint");
        assert_eq!(done.events[0].from_state, Some(ReviewState::Claimed));
        let reopen = ReviewCommand::Reopen {
            etag: done.item.etag(),
            note: "wrong call".into(),
        };
        assert!(matches!(
            apply(&done.item, &reopen, "alice", false, now),
            Err(Error::PermissionDenied(_))
        ));
        let reopened = apply(&done.item, &reopen, "root", true, now).unwrap();
        assert_eq!(reopened.item.state, ReviewState::Open);
        assert!(reopened.item.assignee.is_empty());
    }

    #[test]
    fn an_expired_lease_returns_the_item_to_open_on_the_way() {
        let now = Utc::now();
        let item = open_item(now);
        let claimed = apply(
            &item,
            &ReviewCommand::Claim {
                lease: TimeDelta::seconds(5),
            },
            "alice",
            false,
            now,
        )
        .unwrap()
        .item;
        let later = now + TimeDelta::seconds(6);
        assert!(lease_expired(&claimed, later));
        let taken = apply(
            &claimed,
            &ReviewCommand::Claim {
                lease: DEFAULT_LEASE,
            },
            "bob",
            false,
            later,
        )
        .unwrap();
        assert_eq!(taken.item.assignee, "bob");
        let steps: Vec<_> = taken
            .events
            .iter()
            .map(|e| (e.from_state, e.to_state, e.actor.as_str()))
            .collect();
        assert_eq!(
            steps,
            [
                (Some(ReviewState::Claimed), ReviewState::Open, SYSTEM_ACTOR),
                (Some(ReviewState::Open), ReviewState::Claimed, "bob")
            ]
        );
        assert_eq!(
            taken.item.first_claimed_at,
            Some(now),
            "first claim time is kept"
        );
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
