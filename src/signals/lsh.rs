//! The in-memory LSH tables that find candidate near-duplicates among every stored text
//! (issue "Repeated and duplicate feedback"): for each band of a MinHash signature, the items
//! sharing it, and a one-bit sketch of each item that rules out most chance hits before they are
//! verified. Derived state: the writer rebuilds them from the stored signatures at start-up.
//!
//! The sorted-run table is written here because no maintained crate offers one with a memory
//! budget of a few bytes per item per band.

use std::ops::Range;

use rustc_hash::FxHashMap;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::dedup::{DedupParams, SIGNATURE_LEN};
use super::entries::Entries;

/// The most items taken from one bucket: a campaign of thousands of identical texts must not
/// make every new member compare against all of them; the newest few suffice to find the cluster.
/// With a million items stored the buckets a text meets are mostly full, so this bounds the
/// entries an item's search scores.
const MAX_PER_BUCKET: usize = 16;

/// How far below the verification threshold a candidate's one-bit estimate may fall and still be
/// verified. The estimate's standard deviation is about 0.053 at J = 0.8 and 0.063 at J = 0.7
/// (128 bits), so a pair at J ≥ 0.8 is dropped with a probability near 1e-6, while chance
/// collisions of texts sharing stock phrases are mostly not read from the store at all.
const SKETCH_MARGIN: f64 = 0.15;

/// The margin for candidates sharing a single band. A near-duplicate at J ≥ 0.8 shares one band
/// only 1–2% of the time, and then its sketch still estimates at least 0.65 with a probability
/// above 0.997; most chance hits of a large store share one band with a sketch near 0.6
/// (with a million items stored this halves the rows an item reads).
const SINGLE_BAND_MARGIN: f64 = 0.05;

/// Items the sketch table grows by at a time.
const SKETCH_GROWTH: usize = 1 << 16;

/// The most candidates sharing a single band that are verified (those whose sketch agrees most).
const MAX_SINGLE_BAND: usize = 2;

/// An item found in the LSH tables for a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub item: u32,
    /// Bands it shares with the text.
    pub bands: u16,
    /// Bits of its sketch that agree with the text's.
    pub agreeing_bits: u16,
}

/// Which candidates to verify: most shared bands first, then most agreeing sketch bits, newest
/// first among equals. A near-duplicate at J ≥ 0.8 shares five bands on average: every item
/// sharing two or more is kept, but only the best two sharing one. In a large store a text
/// shares one band by chance with many items whose sketches barely pass; ranked by the sketch, a
/// true near-duplicate sharing one band comes before them (its sketch agrees on ~90% of the bits
/// against ~75–80% for a chance hit), so two are enough where four newest were not.
pub fn select_candidates(found: &mut [Candidate]) -> Vec<u32> {
    found.sort_unstable_by(|a, b| {
        (b.bands, b.agreeing_bits, b.item).cmp(&(a.bands, a.agreeing_bits, a.item))
    });
    let mut single = 0;
    found
        .iter()
        .filter(|candidate| {
            if candidate.bands >= 2 {
                return true;
            }
            single += 1;
            single <= MAX_SINGLE_BAND
        })
        .map(|candidate| candidate.item)
        .collect()
}

/// One bit of each MinHash slot (its lowest): two items agree on a slot's bit with probability
/// (1 + J) / 2, so 16 bytes per item estimate J well enough to skip candidates that cannot be
/// near-duplicates, in memory, before the store is asked for their full signatures
/// (b-bit minwise hashing, Li and König 2010).
pub fn sketch(signature: &[u32]) -> u128 {
    signature
        .iter()
        .take(128)
        .enumerate()
        .fold(0u128, |bits, (slot, value)| {
            bits | (u128::from(value & 1) << slot)
        })
}

/// How many of the first `slots` bits of two sketches agree.
fn agreeing_bits(a: u128, b: u128, slots: u32) -> u32 {
    slots - (a ^ b).count_ones()
}

/// The Jaccard similarity estimated from `agreeing` of `slots` sketch bits.
fn similarity_of_agreement(agreeing: u32, slots: u32) -> f64 {
    (2.0 * f64::from(agreeing) / f64::from(slots) - 1.0).max(0.0)
}

/// The Jaccard similarity estimated from two sketches of `slots` bits.
#[cfg(test)]
fn sketch_similarity(a: u128, b: u128, slots: u32) -> f64 {
    similarity_of_agreement(agreeing_bits(a, b, slots), slots)
}

/// LSH tables: for each band of a signature, which items share it, and each item's sketch.
///
/// Entries are `band key << 32 | item` in one sorted array (8 bytes per item per band, no
/// per-bucket allocation), plus a small hash map of recent entries that is merged into the
/// sorted array once it grows past a fraction of it. A directory of the sorted array by the
/// top bits of the key (about 16 entries per slot) turns a lookup into one or two cache misses
/// instead of a binary search over hundreds of megabytes.
pub struct LshTables {
    bands: usize,
    rows: usize,
    sorted: Entries,
    /// What [`LshTables::push_unsorted`] added, until [`LshTables::seal`] sorts it.
    unsorted: Vec<u64>,
    /// `directory[p]` is the first index of `sorted` whose key's top bits are ≥ `p`.
    directory: Vec<u32>,
    directory_bits: u32,
    recent: FxHashMap<u32, Vec<u32>>,
    recent_entries: usize,
    /// [`sketch`] of each item, by item number.
    sketches: Vec<u128>,
    /// Candidates whose sketch estimates less than this are not worth verifying.
    sketch_floor: f64,
    /// The same for candidates sharing a single band.
    single_band_floor: f64,
}

impl LshTables {
    pub fn new(params: &DedupParams) -> LshTables {
        assert!(
            params.bands * params.rows <= SIGNATURE_LEN && params.bands > 0 && params.rows > 0,
            "bands × rows must fit in the signature"
        );
        LshTables {
            bands: params.bands,
            rows: params.rows,
            sorted: Entries::default(),
            unsorted: Vec::new(),
            directory: vec![0, 0],
            directory_bits: 0,
            recent: FxHashMap::default(),
            recent_entries: 0,
            sketches: Vec::new(),
            sketch_floor: params.threshold - SKETCH_MARGIN,
            single_band_floor: params.threshold - SINGLE_BAND_MARGIN,
        }
    }

    fn set_sketch(&mut self, item: u32, signature: &[u32]) {
        let index = item as usize;
        if self.sketches.len() <= index {
            // Grown in steps of 64 Ki items rather than doubled: the slack stays under 1 MiB.
            let wanted = (index + 1).next_multiple_of(SKETCH_GROWTH);
            self.sketches.reserve_exact(wanted - self.sketches.len());
            self.sketches.resize(wanted, 0);
        }
        self.sketches[index] = sketch(signature);
    }

    fn keys<'a>(&self, signature: &'a [u32]) -> impl Iterator<Item = u32> + 'a {
        let bands = self.bands;
        let rows = self.rows;
        signature
            .chunks_exact(rows)
            .take(bands)
            .enumerate()
            .map(|(band, values)| {
                let mut bytes = [0u8; SIGNATURE_LEN * 4];
                for (slot, value) in bytes.chunks_exact_mut(4).zip(values) {
                    slot.copy_from_slice(&value.to_le_bytes());
                }
                xxh3_64_with_seed(&bytes[..values.len() * 4], band as u64) as u32
            })
    }

    /// Files `item` under the band keys of `signature` and returns those keys.
    pub fn insert(&mut self, item: u32, signature: &[u32]) -> Vec<u32> {
        self.set_sketch(item, signature);
        let keys: Vec<u32> = self.keys(signature).collect();
        for &key in &keys {
            self.recent.entry(key).or_default().push(item);
            self.recent_entries += 1;
        }
        if self.recent_entries >= (1 << 16).max(self.sorted.len() / 64) {
            self.merge_recent();
        }
        keys
    }

    /// Adds an item without keeping the table sorted (the start-up rebuild: one sort at the end
    /// instead of many merges). Call [`LshTables::seal`] before the next lookup.
    pub fn push_unsorted(&mut self, item: u32, signature: &[u32]) {
        self.set_sketch(item, signature);
        let keys: Vec<u32> = self.keys(signature).collect();
        self.unsorted.extend(
            keys.into_iter()
                .map(|key| (u64::from(key) << 32) | u64::from(item)),
        );
    }

    /// Sorts what [`LshTables::push_unsorted`] added.
    pub fn seal(&mut self) {
        let mut unsorted = std::mem::take(&mut self.unsorted);
        unsorted.sort_unstable();
        self.sketches.shrink_to_fit();
        if self.sorted.is_empty() {
            self.sorted = Entries::from_vec(unsorted);
            self.rebuild_directory();
        } else {
            self.merge_sorted(&unsorted);
        }
    }

    fn slot(&self, key: u32) -> usize {
        (u64::from(key) >> (32 - self.directory_bits)) as usize
    }

    /// Directory bits for the table's current length: about 16 entries per slot.
    fn wanted_directory_bits(&self) -> u32 {
        let wanted = (self.sorted.len() / 16).max(1);
        wanted.next_power_of_two().trailing_zeros().min(24)
    }

    fn rebuild_directory(&mut self) {
        self.directory_bits = self.wanted_directory_bits();
        let slots = 1usize << self.directory_bits;
        // The old directory's memory is reused: with a million items stored it is 5 MB, rebuilt
        // at every merge.
        let mut directory = std::mem::take(&mut self.directory);
        directory.clear();
        directory.reserve(slots + 1);
        let mut index = 0;
        for slot in 0..slots {
            while index < self.sorted.len()
                && self.slot((self.sorted.get(index) >> 32) as u32) < slot
            {
                index += 1;
            }
            directory.push(index as u32);
        }
        directory.push(self.sorted.len() as u32);
        self.directory = directory;
    }

    fn merge_recent(&mut self) {
        let mut recent: Vec<u64> = self
            .recent
            .drain()
            .flat_map(|(key, items)| {
                items
                    .into_iter()
                    .map(move |item| (u64::from(key) << 32) | u64::from(item))
            })
            .collect();
        recent.sort_unstable();
        self.merge_sorted(&recent);
        self.recent_entries = 0;
    }

    /// Merges the sorted `new` entries into the table.
    fn merge_sorted(&mut self, new: &[u64]) {
        // Merged from the back into the grown array, so no second copy of the table is needed.
        let old_len = self.sorted.len();
        self.sorted.grow_to(old_len + new.len());
        let (mut i, mut j, mut out) = (old_len, new.len(), old_len + new.len());
        while j > 0 {
            out -= 1;
            match (i > 0).then(|| self.sorted.get(i - 1)) {
                Some(older) if older > new[j - 1] => {
                    self.sorted.set(out, older);
                    i -= 1;
                }
                _ => {
                    self.sorted.set(out, new[j - 1]);
                    j -= 1;
                }
            }
        }
        if self.wanted_directory_bits() == self.directory_bits {
            self.advance_directory(new);
        } else {
            self.rebuild_directory();
        }
    }

    /// Moves each slot's start past the `new` entries (sorted) of lower slots, after they were
    /// merged in. Reading every entry of the table again, as a rebuild does, cost more than the
    /// merge itself with a million items stored; this reads only the directory and `new`.
    fn advance_directory(&mut self, new: &[u64]) {
        let slots = self.directory.len() - 1;
        let mut below = 0;
        for slot in 0..slots {
            while below < new.len() && self.slot((new[below] >> 32) as u32) < slot {
                below += 1;
            }
            self.directory[slot] += below as u32;
        }
        self.directory[slots] = self.sorted.len() as u32;
    }

    /// Items sharing at least one band with `signature` whose sketch does not rule out a
    /// near-duplicate, most shared bands first.
    pub fn candidates(&self, signature: &[u32]) -> Vec<u32> {
        select_candidates(&mut self.scored_candidates(signature))
    }

    /// Items sharing at least one band with `signature` whose sketch does not rule out a
    /// near-duplicate, each with the number of bands it shares, in no particular order.
    pub fn scored_candidates(&self, signature: &[u32]) -> Vec<Candidate> {
        let mut shared: Vec<u32> = Vec::new();
        // Every band's bucket is a random place in a table of hundreds of megabytes (and in the
        // map of recent entries). Finding all the regions and reading their first entries before
        // searching any lets the bands' cache misses overlap instead of following one another:
        // with a million items stored that halves the search.
        let buckets: Vec<(u32, Range<usize>, &[u32])> = self
            .keys(signature)
            .map(|key| {
                let slot = self.slot(key);
                let region = self.directory[slot] as usize..self.directory[slot + 1] as usize;
                let recent = self.recent.get(&key).map(Vec::as_slice).unwrap_or(&[]);
                (key, region, recent)
            })
            .collect();
        std::hint::black_box(buckets.iter().fold(0u64, |seen, (_, region, _)| {
            seen ^ if region.is_empty() {
                0
            } else {
                self.sorted.get(region.start)
            }
        }));
        for (key, region, recent) in buckets {
            let low = u64::from(key) << 32;
            let start = self
                .sorted
                .partition_point(region.clone(), |entry| entry < low);
            let end = self
                .sorted
                .partition_point(start..region.end, |entry| entry >> 32 == u64::from(key));
            shared.extend(
                (end.saturating_sub(MAX_PER_BUCKET).max(start)..end)
                    .map(|index| self.sorted.get(index) as u32),
            );
            shared.extend_from_slice(&recent[recent.len().saturating_sub(MAX_PER_BUCKET)..]);
        }
        self.score(signature, shared)
    }

    /// Items of `batch` (band key → items, as [`LshTables::insert`] returns the keys) sharing at least one
    /// band with `signature`, scored like [`LshTables::scored_candidates`].
    pub fn scored_batch_candidates(
        &self,
        signature: &[u32],
        batch: &FxHashMap<u32, Vec<u32>>,
    ) -> Vec<Candidate> {
        let shared = self
            .keys(signature)
            .filter_map(|key| batch.get(&key))
            .flatten()
            .copied()
            .collect();
        self.score(signature, shared)
    }

    /// Counts how often each item occurs in `shared` (the bucket entries `signature` met) and
    /// keeps those whose sketch does not rule out a near-duplicate of `signature`.
    fn score(&self, signature: &[u32], mut shared: Vec<u32>) -> Vec<Candidate> {
        // Counted by sorting: with a million items stored a text meets a few hundred bucket
        // entries, and a sort counts them several times faster than a hash map.
        shared.sort_unstable();
        // The sketches are random places in a table of 16 bytes per stored item: read them all
        // first, so their cache misses overlap (as the bucket regions' do).
        std::hint::black_box(shared.iter().fold(0u128, |seen, &item| {
            seen ^ self
                .sketches
                .get(item as usize)
                .copied()
                .unwrap_or_default()
        }));
        let wanted = sketch(signature);
        let slots = signature.len().min(128) as u32;
        // Items sharing bands by chance (a pair at J = 0.5 shares a given band with probability
        // 0.016, and a text has many such neighbours in a large store) mostly show it in their
        // sketch: they are dropped here instead of being read from the store.
        shared
            .chunk_by(|a, b| a == b)
            .filter_map(|run| {
                let item = run[0];
                let sketch = self
                    .sketches
                    .get(item as usize)
                    .copied()
                    .unwrap_or_default();
                let agreeing = agreeing_bits(wanted, sketch, slots);
                let floor = if run.len() == 1 {
                    self.single_band_floor
                } else {
                    self.sketch_floor
                };
                (similarity_of_agreement(agreeing, slots) >= floor).then(|| Candidate {
                    item,
                    bands: u16::try_from(run.len()).unwrap_or(u16::MAX),
                    agreeing_bits: agreeing as u16,
                })
            })
            .collect()
    }

    /// Heap bytes held by the tables.
    pub fn memory_bytes(&self) -> usize {
        let recent: usize = self
            .recent
            .values()
            .map(|items| items.capacity() * 4 + 24 + 8)
            .sum();
        self.sorted.memory_bytes()
            + self.unsorted.capacity() * 8
            + self.directory.capacity() * 4
            + self.sketches.capacity() * 16
            + recent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::dedup::tests::TEXT;
    use crate::signals::dedup::{estimated_similarity, fingerprint};

    #[test]
    fn lsh_finds_near_duplicates_before_and_after_merging() {
        let params = DedupParams::default();
        let mut tables = LshTables::new(&params);
        let original = fingerprint(TEXT, 4).signature;
        tables.push_unsorted(1, &original);
        tables.seal();
        tables.insert(
            2,
            &fingerprint("Совсем другой текст про оплату и возврат денег", 4).signature,
        );
        let edited = fingerprint(&TEXT.replace("три дня", "неделю"), 4).signature;
        assert_eq!(tables.candidates(&edited).first(), Some(&1));
        tables.insert(3, &edited);
        tables.merge_recent();
        let found = tables.candidates(&edited);
        assert_eq!(found[0], 3, "the identical signature shares every band");
        assert!(found.contains(&1));
        assert!(!found.contains(&2));
        assert!(tables.sorted.to_vec().windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn merges_keep_the_directory_a_rebuild_would_make() {
        let mut tables = LshTables::new(&DedupParams::default());
        let mut advanced_rounds = 0;
        for round in 0..8u32 {
            for item in round * 500 + 1..=(round + 1) * 500 {
                let text = format!("{TEXT} {item} {}", item * 7919);
                tables.insert(item, &fingerprint(&text, 4).signature);
            }
            let bits = tables.directory_bits;
            tables.merge_recent();
            if tables.directory_bits == bits {
                advanced_rounds += 1;
            }
            let advanced = tables.directory.clone();
            tables.rebuild_directory();
            assert_eq!(advanced, tables.directory, "after round {round}");
        }
        assert!(
            advanced_rounds >= 3,
            "only {advanced_rounds} merges kept the directory's size"
        );
    }

    #[test]
    fn sketches_estimate_similarity_roughly() {
        let a = fingerprint(TEXT, 4).signature;
        let edited = fingerprint(&TEXT.replace("три дня", "неделю"), 4).signature;
        let other = fingerprint(
            "Приложение вылетает при оплате картой, деньги списываются дважды, поддержка молчит.",
            4,
        )
        .signature;
        assert_eq!(sketch_similarity(sketch(&a), sketch(&a), 128), 1.0);
        let near = sketch_similarity(sketch(&a), sketch(&edited), 128);
        let exact = estimated_similarity(&a, &edited);
        assert!((near - exact).abs() < 0.25, "{near} vs {exact}");
        assert!(sketch_similarity(sketch(&a), sketch(&other), 128) < 0.45);
    }

    #[test]
    fn a_candidate_sharing_one_band_needs_a_closer_sketch() {
        let mut tables = LshTables::new(&DedupParams::default());
        let text = fingerprint(TEXT, 4).signature;
        // The sketch keeps each slot's lowest bit: flipping it in 25 slots leaves 103 of 128
        // bits agreeing, an estimate of 0.61 — above the floor of two shared bands (0.55),
        // below that of one (0.65).
        let mut flipped = text.clone();
        for value in &mut flipped[..25] {
            *value ^= 1;
        }
        tables.set_sketch(1, &flipped);
        tables.set_sketch(2, &flipped);
        let kept = tables.score(&text, vec![1, 2, 2]);
        assert_eq!(
            kept,
            vec![Candidate {
                item: 2,
                bands: 2,
                agreeing_bits: 103
            }]
        );
    }

    #[test]
    fn single_band_candidates_are_ranked_by_their_sketch_not_their_age() {
        let candidate = |item, bands, agreeing_bits| Candidate {
            item,
            bands,
            agreeing_bits,
        };
        let mut found = vec![
            candidate(10, 1, 100),
            candidate(11, 1, 101),
            candidate(3, 1, 118),
            candidate(12, 1, 99),
            candidate(4, 3, 104),
        ];
        // Every item sharing several bands first; of those sharing one, the two whose sketch
        // agrees most, however old: the old near-duplicate (item 3) is not crowded out by newer
        // chance hits.
        assert_eq!(select_candidates(&mut found), vec![4, 3, 11]);
    }
}
