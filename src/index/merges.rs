//! The live writer's merge policy: tantivy's log-structured merges, with segments of a final
//! size left out of further merges and no merge larger than that size. The final size starts at
//! [`MIN_FINAL_DOCS`] and grows eightfold whenever the index holds more than [`FINAL_SEGMENTS`]
//! of it.
//!
//! The live writer commits every 200 ms under load, a segment of about a thousand items, and
//! tantivy's default policy merges eight similar segments at a time without a size limit: by a
//! million items every item had been rewritten about four times, and a merge of the largest
//! layer (800k items, several seconds of a core) landed wherever the import happened to be.
//! Here a merge never makes more than the final size (50k items up to 1.6M stored, well under a
//! second of a core) and items are rewritten about twice. The final size grows in steps, not
//! with the index: a limit that grew with every item (a sixteenth of the index, session 19) kept
//! making held-back segments mergeable in pairs, and those merges started together in waves
//! that took a quarter of the machine for seconds (docs/PERFORMANCE.md, sessions 19–20). A step
//! rewrites the final segments once, eight at a time (at 1.6M, 12.8M, … items), and then the
//! policy is quiet again until the next. tantivy offers the limit only as a fixed filter on a
//! merge's inputs; this policy recomputes it from the index's size at every decision and splits
//! merges that would outgrow it.

use rustc_hash::FxHashMap;
use tantivy::index::{SegmentId, SegmentMeta};
use tantivy::merge_policy::{LogMergePolicy, MergeCandidate, MergePolicy};

/// The smallest final size: segments of this many items are never merged in a small index.
pub const MIN_FINAL_DOCS: usize = 50_000;
/// How many segments of the final size the index may hold before that size grows.
const FINAL_SEGMENTS: usize = 32;
/// How much the final size grows at a step: the eight segments a log merge joins.
const FINAL_STEP: usize = 8;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct BoundedMergePolicy;

impl BoundedMergePolicy {
    /// The size from which a segment is final, for an index of `docs` items.
    fn final_docs(docs: usize) -> usize {
        let mut limit = MIN_FINAL_DOCS;
        while docs > FINAL_SEGMENTS * limit {
            limit *= FINAL_STEP;
        }
        limit
    }
}

impl MergePolicy for BoundedMergePolicy {
    fn compute_merge_candidates(&self, segments: &[SegmentMeta]) -> Vec<MergeCandidate> {
        let docs = segments.iter().map(|s| s.num_docs() as usize).sum();
        let limit = BoundedMergePolicy::final_docs(docs);
        let mut policy = LogMergePolicy::default();
        // LogMergePolicy keeps segments up to and including its limit.
        policy.set_max_docs_before_merge(limit - 1);
        let sizes: FxHashMap<SegmentId, usize> = segments
            .iter()
            .map(|s| (s.id(), s.num_docs() as usize))
            .collect();
        policy
            .compute_merge_candidates(segments)
            .into_iter()
            .flat_map(|candidate| {
                let sized = candidate.0.into_iter().map(|id| (id, sizes[&id])).collect();
                split(sized, limit)
            })
            .collect()
    }
}

/// Splits a merge of `segments` (ids with their item counts) into merges of at least two
/// segments and at most `limit` items each, smallest segments first: eight segments just under
/// the limit would otherwise make one of eight times its size, several seconds of a core.
fn split(mut segments: Vec<(SegmentId, usize)>, limit: usize) -> Vec<MergeCandidate> {
    segments.sort_by_key(|&(_, size)| size);
    let mut merges = Vec::new();
    let mut group: Vec<SegmentId> = Vec::new();
    let mut docs = 0;
    for (id, size) in segments {
        if docs + size > limit {
            if group.len() >= 2 {
                merges.push(MergeCandidate(std::mem::take(&mut group)));
            }
            group.clear();
            docs = 0;
        }
        docs += size;
        group.push(id);
    }
    if group.len() >= 2 {
        merges.push(MergeCandidate(group));
    }
    merges
}

#[cfg(test)]
mod tests {
    use tantivy::Index;
    use tantivy::schema::Schema;

    use super::*;

    fn merged(sizes: &[u32]) -> Vec<Vec<u32>> {
        let index = Index::create_in_ram(Schema::builder().build());
        let metas: Vec<SegmentMeta> = sizes
            .iter()
            .map(|&size| index.new_segment_meta(SegmentId::generate_random(), size))
            .collect();
        let mut merges: Vec<Vec<u32>> = BoundedMergePolicy
            .compute_merge_candidates(&metas)
            .into_iter()
            .map(|candidate| {
                let mut sizes: Vec<u32> = candidate
                    .0
                    .iter()
                    .map(|id| metas.iter().find(|m| m.id() == *id).unwrap().max_doc())
                    .collect();
                sizes.sort_unstable();
                sizes
            })
            .collect();
        merges.sort();
        merges
    }

    #[test]
    fn small_segments_merge_eight_at_a_time() {
        assert_eq!(merged(&[1_000; 8]), [vec![1_000; 8]]);
        assert!(merged(&[1_000; 7]).is_empty());
    }

    #[test]
    fn segments_past_the_limit_stay_as_they_are() {
        // About a million items (limit 50k): segments of 120k are final; eight of 15k and the
        // small ones that tantivy counts as 10k (its smallest layer) merge, at most 50k at once.
        let mut sizes = vec![120_000; 7];
        sizes.extend([15_000; 8]);
        sizes.extend([500; 3]);
        let mut first = vec![500; 3];
        first.extend([15_000; 3]);
        assert_eq!(merged(&sizes), [first, vec![15_000; 2], vec![15_000; 3]]);
        // Eight segments of 60k in a small index are past the 50k floor: no merge of 480k.
        assert!(merged(&[60_000; 8]).is_empty());
    }

    #[test]
    fn the_final_size_grows_in_steps() {
        assert_eq!(BoundedMergePolicy::final_docs(1_000), 50_000);
        assert_eq!(BoundedMergePolicy::final_docs(1_600_000), 50_000);
        assert_eq!(BoundedMergePolicy::final_docs(1_600_001), 400_000);
        assert_eq!(BoundedMergePolicy::final_docs(12_800_001), 3_200_000);
        // Held-back segments stay as they are while the index grows towards the step (a limit
        // growing with the index would merge these in pairs from 960k items on)…
        assert!(merged(&[30_000; 50]).is_empty());
        // …and past it they are merged once, at most 400k items at a time.
        let merges = merged(&[30_000; 54]);
        assert_eq!(merges.len(), 5);
        assert!(merges.iter().all(|m| m.iter().sum::<u32>() <= 400_000));
        assert_eq!(merges.iter().map(Vec::len).sum::<usize>(), 54);
        // In an index of 16M items the final size is 3.2M: segments of 120k merge eight at a time.
        let mut sizes = vec![120_000; 8];
        sizes.extend([4_000_000; 4]);
        assert_eq!(merged(&sizes), [vec![120_000; 8]]);
    }

    #[test]
    fn no_merge_outgrows_the_limit() {
        // Eight segments of 40k in an index of about a million (limit 50k): pairs would make 80k.
        let mut sizes = vec![40_000; 8];
        sizes.extend([150_000; 4]);
        assert!(merged(&sizes).is_empty());
        // Sixteen of 20k in an index of 920k (limit 50k): eight merges of two.
        let mut sizes = vec![20_000; 16];
        sizes.extend([150_000; 4]);
        assert_eq!(merged(&sizes), vec![vec![20_000; 2]; 8]);
    }
}
