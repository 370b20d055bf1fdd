//! Near-duplicate detection (DESIGN.md §2, issue "Repeated and duplicate feedback"): an exact
//! hash and a MinHash signature of a text's character shingles.
//!
//! Signatures are computed before the store's writer (no shared state needed); the writer owns the
//! [`LshTables`](super::lsh::LshTables), asks them for candidates, verifies each by the estimated
//! Jaccard similarity of the stored signatures and only then inserts the new item.
//!
//! MinHash is written here because no maintained crate offers it with a stable on-disk signature.

use xxhash_rust::xxh3::xxh3_64;

use crate::text::analyzer::is_word_char;
use crate::text::normalize::normalize;

/// Hash functions per signature. Signatures are stored, so changing this needs a migration.
pub const SIGNATURE_LEN: usize = 128;

/// How near-duplicates are found; defaults chosen with `triage eval dedup` (docs/dedup.md).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DedupParams {
    /// Characters per shingle.
    pub shingle_chars: usize,
    /// LSH bands × rows per band must not exceed [`SIGNATURE_LEN`].
    pub bands: usize,
    pub rows: usize,
    /// Estimated Jaccard similarity at or above which a candidate is a near-duplicate.
    pub threshold: f64,
    /// Texts with fewer words are never near-duplicates: "Спасибо, всё отлично" from many
    /// customers is no campaign.
    pub min_words: usize,
}

impl Default for DedupParams {
    fn default() -> Self {
        DedupParams {
            shingle_chars: 4,
            bands: 20,
            rows: 6,
            threshold: 0.7,
            min_words: 6,
        }
    }
}

/// What the writer needs to know about a text to find its near-duplicates.
#[derive(Debug, Clone, PartialEq)]
pub struct TextFingerprint {
    /// xxh3 of the normalized text with punctuation and spacing collapsed.
    pub exact_hash: u64,
    pub signature: Vec<u32>,
    /// Words in the text; short texts are not compared.
    pub words: usize,
}

/// The text duplicates are judged on: normalized, words kept, every run of anything else one space.
fn shingle_text(text: &str) -> (String, usize) {
    let normalized = normalize(text);
    let mut out = String::with_capacity(normalized.len());
    let mut words = 0;
    let mut in_word = false;
    for c in normalized.chars() {
        if is_word_char(c) {
            if !in_word {
                if !out.is_empty() {
                    out.push(' ');
                }
                words += 1;
                in_word = true;
            }
            out.push(c);
        } else {
            in_word = false;
        }
    }
    (out, words)
}

/// The fixed multipliers and offsets of the hash family. They are part of the stored format.
struct HashFamily {
    multipliers: [u64; SIGNATURE_LEN],
    offsets: [u64; SIGNATURE_LEN],
}

static FAMILY: std::sync::LazyLock<HashFamily> = std::sync::LazyLock::new(|| {
    // splitmix64 from a fixed seed: reproducible across builds and machines.
    let mut state: u64 = 0x7472_6961_6765_0001;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut family = HashFamily {
        multipliers: [0; SIGNATURE_LEN],
        offsets: [0; SIGNATURE_LEN],
    };
    for i in 0..SIGNATURE_LEN {
        family.multipliers[i] = next() | 1;
        family.offsets[i] = next();
    }
    family
});

/// The fingerprint of `text` with `shingle_chars`-character shingles.
pub fn fingerprint(text: &str, shingle_chars: usize) -> TextFingerprint {
    let (cleaned, words) = shingle_text(text);
    let mut signature = vec![u32::MAX; SIGNATURE_LEN];
    let boundaries: Vec<usize> = cleaned
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(cleaned.len()))
        .collect();
    let chars = boundaries.len() - 1;
    let family = &*FAMILY;
    let mut add = |shingle: &[u8]| {
        let base = xxh3_64(shingle);
        for ((slot, multiplier), offset) in signature
            .iter_mut()
            .zip(&family.multipliers)
            .zip(&family.offsets)
        {
            // Multiply-shift hashing: a fresh hash per slot from one xxh3 per shingle.
            let value = (multiplier.wrapping_mul(base).wrapping_add(*offset) >> 32) as u32;
            *slot = (*slot).min(value);
        }
    };
    if chars <= shingle_chars {
        add(cleaned.as_bytes());
    } else {
        for start in 0..=chars - shingle_chars {
            add(&cleaned.as_bytes()[boundaries[start]..boundaries[start + shingle_chars]]);
        }
    }
    TextFingerprint {
        exact_hash: xxh3_64(cleaned.as_bytes()),
        signature,
        words,
    }
}

/// Share of equal slots: an unbiased estimate of the Jaccard similarity of the shingle sets.
pub fn estimated_similarity(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
    equal as f64 / a.len() as f64
}

/// The exact Jaccard similarity of two texts' shingle sets (for evaluation).
pub fn exact_similarity(a: &str, b: &str, shingle_chars: usize) -> f64 {
    let shingles = |text: &str| {
        let (cleaned, _) = shingle_text(text);
        let chars: Vec<char> = cleaned.chars().collect();
        let mut set = rustc_hash::FxHashSet::default();
        if chars.len() <= shingle_chars {
            set.insert(xxh3_64(cleaned.as_bytes()));
        } else {
            for window in chars.windows(shingle_chars) {
                set.insert(xxh3_64(window.iter().collect::<String>().as_bytes()));
            }
        }
        set
    };
    let (a, b) = (shingles(a), shingles(b));
    let shared = a.intersection(&b).count();
    let union = a.len() + b.len() - shared;
    if union == 0 {
        0.0
    } else {
        shared as f64 / union as f64
    }
}

pub fn signature_to_bytes(signature: &[u32]) -> Vec<u8> {
    signature.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn signature_from_bytes(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A complaint the signal tests edit and compare.
    pub(crate) const TEXT: &str = "Заказ привезли на три дня позже обещанного, курьер не отвечал на звонки, \
                        а поддержка только извинялась и ничего не сделала.";

    #[test]
    fn identical_texts_up_to_case_and_punctuation_share_everything() {
        let a = fingerprint(TEXT, 4);
        let b = fingerprint(&TEXT.to_uppercase().replace(',', " ,  "), 4);
        assert_eq!(a.exact_hash, b.exact_hash);
        assert_eq!(estimated_similarity(&a.signature, &b.signature), 1.0);
        assert_eq!(a.words, 20);
    }

    #[test]
    fn the_estimate_tracks_the_exact_similarity() {
        let edited = TEXT.replace("три дня", "неделю").replace("только", "лишь");
        let exact = exact_similarity(TEXT, &edited, 4);
        let estimate = estimated_similarity(
            &fingerprint(TEXT, 4).signature,
            &fingerprint(&edited, 4).signature,
        );
        assert!(exact > 0.6 && exact < 0.95, "{exact}");
        assert!((estimate - exact).abs() < 0.15, "{estimate} vs {exact}");
        let unrelated = "Приложение вылетает при оплате картой, деньги списываются дважды.";
        let far = estimated_similarity(
            &fingerprint(TEXT, 4).signature,
            &fingerprint(unrelated, 4).signature,
        );
        assert!(far < 0.2, "{far}");
    }

    #[test]
    fn signatures_survive_storage() {
        let signature = fingerprint(TEXT, 4).signature;
        assert_eq!(
            signature_from_bytes(&signature_to_bytes(&signature)),
            signature
        );
    }
}
