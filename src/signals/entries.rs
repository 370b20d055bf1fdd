//! The LSH tables' sorted entries: an array of `u64` kept in fixed-size blocks, so that growing
//! it never copies it.
//!
//! With a million items stored the array holds 160 MB and grows by a sixty-fourth at every merge
//! of recent entries. As one `Vec` it grew by reallocation, which the allocator serves by copying
//! the whole array into freshly mapped pages: with 1M stored, the kernel zeroing those pages was
//! 13% of the writer thread's time (docs/PERFORMANCE.md, session 14). Blocks are allocated once
//! and never moved; the last one is the only slack. Written by hand: the tables need a binary
//! search over an index range and fixed-size blocks (a memory budget of 200 bytes per item leaves
//! no room for geometric growth), a few lines here; the segmented-vector crates (`segvec`,
//! `segmented-vec`) are built around growing segments and stable element addresses instead.

use std::ops::Range;

/// Entries per block: 512 KiB, small enough for the slack not to matter, large enough that the
/// list of blocks stays in the cache (320 blocks at 1M items).
const BLOCK_BITS: u32 = 16;
const BLOCK_LEN: usize = 1 << BLOCK_BITS;
const BLOCK_MASK: usize = BLOCK_LEN - 1;

/// An array of `u64` in blocks of [`BLOCK_LEN`] (see the module comment).
#[derive(Default)]
pub struct Entries {
    blocks: Vec<Box<[u64]>>,
    len: usize,
}

impl Entries {
    /// The entries of `values`, in order.
    pub fn from_vec(values: Vec<u64>) -> Entries {
        let mut entries = Entries::default();
        entries.grow_to(values.len());
        for (block, chunk) in entries.blocks.iter_mut().zip(values.chunks(BLOCK_LEN)) {
            block[..chunk.len()].copy_from_slice(chunk);
        }
        entries
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, index: usize) -> u64 {
        debug_assert!(index < self.len);
        self.blocks[index >> BLOCK_BITS][index & BLOCK_MASK]
    }

    pub fn set(&mut self, index: usize, value: u64) {
        debug_assert!(index < self.len);
        self.blocks[index >> BLOCK_BITS][index & BLOCK_MASK] = value;
    }

    /// Lengthens the array to `len`, adding blocks as needed; the new entries are zero (the
    /// array never shrinks, so nothing past its length was ever written).
    pub fn grow_to(&mut self, len: usize) {
        debug_assert!(len >= self.len);
        let blocks = len.div_ceil(BLOCK_LEN);
        while self.blocks.len() < blocks {
            self.blocks.push(vec![0; BLOCK_LEN].into_boxed_slice());
        }
        self.len = len;
    }

    /// The first index in `range` whose entry does not satisfy `holds`, which must hold for a
    /// prefix of the range (as [`slice::partition_point`]).
    pub fn partition_point(&self, range: Range<usize>, holds: impl Fn(u64) -> bool) -> usize {
        let (mut low, mut high) = (range.start, range.end);
        while low < high {
            let middle = low + (high - low) / 2;
            if holds(self.get(middle)) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    /// Heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.blocks.len() * BLOCK_LEN * 8 + self.blocks.capacity() * size_of::<Box<[u64]>>()
    }

    #[cfg(test)]
    pub fn to_vec(&self) -> Vec<u64> {
        (0..self.len).map(|index| self.get(index)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_span_blocks_and_keep_their_order() {
        let values: Vec<u64> = (0..(BLOCK_LEN as u64 * 2 + 5)).map(|v| v * 3).collect();
        let mut entries = Entries::from_vec(values.clone());
        assert_eq!(entries.len(), values.len());
        assert_eq!(entries.to_vec(), values);
        let target = BLOCK_LEN as u64 * 3 + 1;
        let found = entries.partition_point(0..entries.len(), |v| v < target);
        assert_eq!(found, values.partition_point(|&v| v < target));
        assert_eq!(entries.memory_bytes() / (BLOCK_LEN * 8), 3);
        entries.grow_to(values.len() + 2);
        assert_eq!(entries.get(values.len() - 1), *values.last().unwrap());
        assert_eq!(entries.get(values.len()), 0, "grown entries are zero");
        assert_eq!(entries.get(values.len() + 1), 0);
        entries.grow_to(BLOCK_LEN * 3 + 1);
        assert_eq!(entries.get(BLOCK_LEN * 3), 0, "a new block is zero");
        assert_eq!(entries.memory_bytes() / (BLOCK_LEN * 8), 4);
    }
}
