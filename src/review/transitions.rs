//! The state machine of a review item: a reviewer's command (or a lease running out) applied
//! to the item as last read gives the item afterwards and its audit events.

use chrono::{DateTime, TimeDelta, Utc};

use super::{Decision, ReviewEvent, ReviewItem, ReviewState, SYSTEM_ACTOR, event};
use crate::error::{Error, Result};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FlagKind;
    use crate::review::tests::flag;
    use crate::review::{DEFAULT_LEASE, new_items};

    fn open_item(now: DateTime<Utc>) -> ReviewItem {
        new_items("f1", &[flag(FlagKind::Extortion)], 1, now)
            .pop()
            .unwrap()
            .0
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
}
