//! Which stored items each customer has, in memory: the store's customer index.
//!
//! SQLite kept this as an index on `feedback (customer_id, created_at, id)`. Every new item put
//! an entry at a random leaf of it, so once a store outgrew the page cache each item wrote a log
//! page of its own, which the checkpointer copied again: with a million items stored the same
//! store ingested 4,535 items/s with the index and 6,169 without (docs/PERFORMANCE.md, session
//! 20). Migration 0013 drops it and this map takes its place. Like the LSH tables it is derived
//! state, rebuilt at start-up from `feedback_signals`: about 16 bytes per item.
//!
//! Items are named by their `feedback_signals` number, the integer key of that table. The writer
//! adds an item when it numbers it, before its batch commits; readers take numbers from here and
//! read the rows by key, so an item whose batch has not committed yet (or rolled back) is simply
//! not found.

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use rustc_hash::FxHashMap;

/// One item of a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    /// Creation time, microseconds since the Unix epoch.
    created_at: i64,
    item: u32,
}

/// Every customer's items, each customer's ordered by creation time.
#[derive(Default)]
pub(super) struct CustomerItems {
    customers: FxHashMap<Box<str>, Vec<Entry>>,
}

impl CustomerItems {
    fn add(&mut self, customer_id: &str, created_at: i64, item: u32) {
        let entry = Entry { created_at, item };
        let entries = match self.customers.get_mut(customer_id) {
            Some(entries) => entries,
            None => self.customers.entry(customer_id.into()).or_default(),
        };
        // Items mostly arrive in creation order; an older one is put in its place.
        let at = entries.partition_point(|e| *e <= entry);
        entries.insert(at, entry);
    }

    /// The customer's items created within `from..=to` (microseconds), newest first, at most
    /// `limit`.
    pub fn newest_between(&self, customer_id: &str, from: i64, to: i64, limit: usize) -> Vec<u32> {
        let Some(entries) = self.customers.get(customer_id) else {
            return Vec::new();
        };
        let start = entries.partition_point(|e| e.created_at < from);
        let end = entries.partition_point(|e| e.created_at <= to);
        entries[start..end.max(start)]
            .iter()
            .rev()
            .take(limit)
            .map(|e| e.item)
            .collect()
    }

    /// Every item of the customer, oldest first.
    pub fn all(&self, customer_id: &str) -> Vec<u32> {
        self.customers
            .get(customer_id)
            .map(|entries| entries.iter().map(|e| e.item).collect())
            .unwrap_or_default()
    }

    /// How many items are held.
    pub fn len(&self) -> usize {
        self.customers.values().map(Vec::len).sum()
    }

    /// Adds an item in any order while the map is built; [`CustomerItems::seal`] orders them.
    pub fn push_unsorted(&mut self, customer_id: &str, created_at: i64, item: u32) {
        let entry = Entry { created_at, item };
        match self.customers.get_mut(customer_id) {
            Some(entries) => entries.push(entry),
            None => {
                self.customers.insert(customer_id.into(), vec![entry]);
            }
        }
    }

    /// Orders each customer's items and shares the map.
    pub fn seal(mut self) -> SharedCustomerItems {
        for entries in self.customers.values_mut() {
            entries.sort_unstable();
            entries.shrink_to_fit();
        }
        SharedCustomerItems(Arc::new(RwLock::new(self)))
    }
}

/// The map shared by the writer, which adds to it, and the readers.
#[derive(Clone, Default)]
pub(super) struct SharedCustomerItems(Arc<RwLock<CustomerItems>>);

impl SharedCustomerItems {
    pub fn add(&self, customer_id: &str, created_at: i64, item: u32) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .add(customer_id, created_at, item);
    }

    /// The map as it is now. Hold it only briefly (never across an await): the writer waits
    /// for it.
    pub fn read(&self) -> RwLockReadGuard<'_, CustomerItems> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Item numbers as the JSON array SQL reads with `json_each`: one bound value however many
/// items there are.
pub(super) fn json_items(items: &[u32]) -> String {
    let mut json = String::with_capacity(items.len() * 8 + 2);
    json.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&item.to_string());
    }
    json.push(']');
    json
}

/// The feedback ids of the items of the JSON array bound as `?{n}`.
pub(super) fn feedback_ids_of_items(n: usize) -> String {
    format!(
        "SELECT feedback_id FROM feedback_signals WHERE item IN (SELECT value FROM json_each(?{n}))"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_back_in_time_order_whatever_order_they_were_added_in() {
        let mut built = CustomerItems::default();
        built.push_unsorted("a", 30, 3);
        built.push_unsorted("a", 10, 1);
        built.push_unsorted("b", 20, 2);
        let shared = built.seal();
        shared.add("a", 20, 5);
        shared.add("a", 40, 4);
        shared.add("c", 5, 6);
        let map = shared.read();
        assert_eq!(map.all("a"), [1, 5, 3, 4]);
        assert_eq!(map.all("b"), [2]);
        assert_eq!(map.all("nobody"), Vec::<u32>::new());
        assert_eq!(map.len(), 6);
    }

    #[test]
    fn a_window_is_inclusive_newest_first_and_limited() {
        let shared = SharedCustomerItems::default();
        for (created_at, item) in [(10, 1), (20, 2), (20, 3), (30, 4), (40, 5)] {
            shared.add("a", created_at, item);
        }
        let map = shared.read();
        assert_eq!(map.newest_between("a", 20, 30, 10), [4, 3, 2]);
        assert_eq!(map.newest_between("a", 20, 30, 2), [4, 3]);
        assert_eq!(map.newest_between("a", 41, 50, 10), Vec::<u32>::new());
        assert_eq!(map.newest_between("a", 30, 20, 10), Vec::<u32>::new());
        assert_eq!(map.newest_between("b", 0, 50, 10), Vec::<u32>::new());
    }

    #[test]
    fn item_lists_are_json_arrays() {
        assert_eq!(json_items(&[]), "[]");
        assert_eq!(json_items(&[7]), "[7]");
        assert_eq!(json_items(&[1, 22, 333]), "[1,22,333]");
    }
}
