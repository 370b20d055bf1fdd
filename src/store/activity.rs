//! The customers' recent items in memory, so the writer judges repeats and bursts of new items
//! without reading the store.
//!
//! With a million items stored, reading each new item's customer history was the largest growing
//! part of the writer's time: a random page of the customer index and of `feedback_signals` per
//! item, found in neither SQLite's cache nor the CPU's. The history a new item needs lies within
//! one window (30 days by default) of its creation time, so holding every committed item of the
//! newest window answers a live feed, and memory follows the feedback rate, not the store size.
//! Items older than that (a backfill of last year's export) are still read from the store.
//!
//! It holds committed items only: the writer adds a batch's items after the batch commits, so a
//! batch that rolls back leaves nothing behind.

use chrono::{DateTime, TimeDelta, Utc};
use rustc_hash::FxHashMap;

use crate::signals::repeats::PastItem;

/// Items created this long before the newest one are still held, so items that arrive a little
/// out of order (a client that uploads once an hour) are answered from memory too.
const SLACK: TimeDelta = TimeDelta::days(1);
/// Old items are dropped after this many additions (a pass over everything held).
const SWEEP_EVERY: usize = 1 << 16;

/// Committed items of each customer created at or after a horizon.
pub(super) struct RecentActivity {
    /// How far back from a new item its history reaches.
    span: TimeDelta,
    /// Every committed item created at or after this instant is held; some older ones may be.
    horizon: DateTime<Utc>,
    /// The newest creation time added, never later than the clock: a mistyped date far in the
    /// future must not push every present item out.
    newest: DateTime<Utc>,
    customers: FxHashMap<Box<str>, Vec<PastItem>>,
    held: usize,
    added_since_sweep: usize,
    /// Past this many held items the horizon moves up further than the span asks, so memory
    /// stays bounded even at a feedback rate far above the expected one.
    max_held: usize,
}

impl RecentActivity {
    /// Holds the items created within `span` (plus [`SLACK`]) of `newest_stored`, the newest
    /// stored creation time (`None` for an empty store, which holds everything from the start).
    pub fn new(
        span: TimeDelta,
        newest_stored: Option<DateTime<Utc>>,
        max_held: usize,
    ) -> RecentActivity {
        let newest_stored = newest_stored.map(|newest| newest.min(Utc::now()));
        RecentActivity {
            span,
            horizon: newest_stored.map_or(DateTime::<Utc>::MIN_UTC, |newest| {
                horizon_below(newest, span)
            }),
            newest: newest_stored.unwrap_or(DateTime::<Utc>::MIN_UTC),
            customers: FxHashMap::default(),
            held: 0,
            added_since_sweep: 0,
            max_held: max_held.max(1),
        }
    }

    /// Whether every committed item created at or after `from` is held.
    pub fn holds(&self, from: DateTime<Utc>) -> bool {
        from >= self.horizon
    }

    /// Every committed item created at or after this instant is held.
    pub fn horizon(&self) -> DateTime<Utc> {
        self.horizon
    }

    /// The customer's items created within `from..=to`, newest first, at most `limit`; `None`
    /// when memory does not hold everything from `from` on (the store must be asked).
    pub fn history(
        &self,
        customer_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Option<Vec<PastItem>> {
        if !self.holds(from) {
            return None;
        }
        let Some(items) = self.customers.get(customer_id) else {
            return Some(Vec::new());
        };
        let mut found: Vec<PastItem> = items
            .iter()
            .filter(|item| (from..=to).contains(&item.created_at))
            .cloned()
            .collect();
        found.sort_by_key(|item| std::cmp::Reverse(item.created_at));
        found.truncate(limit);
        Some(found)
    }

    /// Adds a committed item. Only complaints keep their stems: only they can be repeated.
    pub fn add(&mut self, customer_id: &str, mut item: PastItem) {
        if item.created_at < self.horizon {
            return;
        }
        self.newest = self.newest.max(item.created_at.min(Utc::now()));
        if !item.complaint {
            item.stems = Vec::new();
        }
        match self.customers.get_mut(customer_id) {
            Some(items) => items.push(item),
            None => {
                self.customers.insert(customer_id.into(), vec![item]);
            }
        }
        self.held += 1;
        self.added_since_sweep += 1;
        if self.added_since_sweep >= SWEEP_EVERY || self.held > self.max_held {
            self.sweep();
        }
    }

    /// How many items are held.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Moves the horizon up to the span below the newest item (or higher, to stay within
    /// `max_held`) and drops what lies below it. The horizon never moves down: what is dropped
    /// is not read back.
    fn sweep(&mut self) {
        self.added_since_sweep = 0;
        let mut horizon = horizon_below(self.newest, self.span);
        if self.held > self.max_held {
            let mut times: Vec<DateTime<Utc>> = self
                .customers
                .values()
                .flatten()
                .map(|item| item.created_at)
                .collect();
            // Keep the newest half of the limit, so the next sweep is as far away as this one.
            let cut = times.len() - self.max_held / 2;
            let (_, oldest_kept, _) = times.select_nth_unstable(cut);
            horizon = horizon.max(*oldest_kept);
        }
        if horizon <= self.horizon {
            return;
        }
        self.horizon = horizon;
        let mut held = 0;
        self.customers.retain(|_, items| {
            items.retain(|item| item.created_at >= horizon);
            held += items.len();
            !items.is_empty()
        });
        self.held = held;
    }
}

/// The horizon that holds `span` (plus [`SLACK`]) below `newest`.
fn horizon_below(newest: DateTime<Utc>, span: TimeDelta) -> DateTime<Utc> {
    newest
        .checked_sub_signed(span + SLACK)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, created_at: DateTime<Utc>, complaint: bool) -> PastItem {
        PastItem {
            feedback_id: id.to_string(),
            created_at,
            complaint,
            stems: vec![1, 2, 3],
        }
    }

    fn day(n: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + n * 86_400, 0).unwrap()
    }

    #[test]
    fn an_empty_store_holds_everything_and_answers_newest_first_within_the_window() {
        let mut activity = RecentActivity::new(TimeDelta::days(30), None, 1000);
        assert!(activity.holds(DateTime::<Utc>::MIN_UTC));
        activity.add("c1", item("a", day(0), true));
        activity.add("c1", item("b", day(10), false));
        activity.add("c1", item("c", day(40), true));
        activity.add("c2", item("d", day(10), true));
        let found = activity.history("c1", day(5), day(41), 10).unwrap();
        let ids: Vec<&str> = found.iter().map(|p| p.feedback_id.as_str()).collect();
        assert_eq!(ids, ["c", "b"]);
        assert!(found[1].stems.is_empty(), "a non-complaint keeps no stems");
        assert_eq!(found[0].stems, [1, 2, 3]);
        assert_eq!(activity.history("c1", day(5), day(41), 1).unwrap().len(), 1);
        assert!(
            activity
                .history("nobody", day(0), day(50), 10)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_store_with_items_holds_only_the_newest_window() {
        let activity = RecentActivity::new(TimeDelta::days(30), Some(day(100)), 1000);
        assert!(activity.holds(day(69)));
        assert!(
            !activity.holds(day(68)),
            "older history must be read from the store"
        );
    }

    #[test]
    fn items_below_the_horizon_are_not_held() {
        let mut activity = RecentActivity::new(TimeDelta::days(30), Some(day(100)), 1000);
        activity.add("c1", item("old", day(10), true));
        activity.add("c1", item("new", day(90), true));
        assert_eq!(activity.held(), 1);
        assert!(activity.history("c1", day(0), day(100), 10).is_none());
        assert_eq!(
            activity.history("c1", day(69), day(100), 10).unwrap()[0].feedback_id,
            "new"
        );
    }

    #[test]
    fn over_the_limit_the_oldest_items_go_and_the_horizon_says_so() {
        let mut activity = RecentActivity::new(TimeDelta::days(3650), None, 10);
        for n in 0..11 {
            activity.add(&format!("c{n}"), item(&format!("i{n}"), day(n), true));
        }
        assert!(activity.held() <= 10);
        assert!(!activity.holds(day(0)));
        assert!(activity.holds(day(10)));
        assert!(activity.history("c10", day(0), day(20), 10).is_none());
        assert_eq!(
            activity.history("c10", day(6), day(20), 10).unwrap().len(),
            1
        );
        assert!(
            activity
                .history("c0", activity.horizon(), day(20), 10)
                .unwrap()
                .is_empty(),
            "the oldest item is gone"
        );
    }

    #[test]
    fn whatever_it_holds_answers_like_a_scan_of_everything_added() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(9);
        let span = TimeDelta::days(3);
        // A limit below what the span holds, so sweeps by size happen too.
        let mut activity = RecentActivity::new(span, None, 350);
        let mut added: Vec<(String, PastItem)> = Vec::new();
        let mut clock = day(0);
        let mut answered = 0;
        for n in 0..5000 {
            clock += TimeDelta::minutes(rng.random_range(0..30));
            // Up to ten hours out of order, like a client uploading late.
            let created_at = clock - TimeDelta::minutes(rng.random_range(0..600));
            let customer = format!("c{}", rng.random_range(0..40));
            let past = item(&format!("i{n}"), created_at, rng.random_bool(0.5));
            activity.add(&customer, past.clone());
            added.push((customer, past));

            let customer = format!("c{}", rng.random_range(0..40));
            let to = clock + TimeDelta::hours(1);
            let from = clock - span;
            let Some(found) = activity.history(&customer, from, to, 1000) else {
                continue;
            };
            answered += 1;
            let mut expected: Vec<&str> = added
                .iter()
                .filter(|(c, p)| *c == customer && (from..=to).contains(&p.created_at))
                .map(|(_, p)| p.feedback_id.as_str())
                .collect();
            let mut found: Vec<&str> = found.iter().map(|p| p.feedback_id.as_str()).collect();
            expected.sort_unstable();
            found.sort_unstable();
            assert_eq!(found, expected, "item {n}");
        }
        assert!(activity.held() <= 350);
        assert!(answered > 1000, "only {answered} queries were held");
    }

    #[test]
    fn a_date_in_the_future_does_not_push_present_items_out() {
        let now = Utc::now();
        let mut activity = RecentActivity::new(TimeDelta::days(30), Some(now), 1000);
        activity.add("c1", item("typo", now + TimeDelta::days(3650), true));
        activity.sweep();
        assert!(activity.holds(now - TimeDelta::days(30)));
    }
}
