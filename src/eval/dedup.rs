//! `triage eval dedup`: precision and recall of near-duplicate detection on a seeded labelled set,
//! for a sweep of shingle sizes, LSH bandings and verification thresholds.
//!
//! The set: base texts in ru / uk / sl (random sequences of the corpus generator's words, so
//! unrelated texts share topic words; or, with `--sentences DIR`, one to four real sentences from
//! `DIR/{ru,uk,sl}-sentences.txt`), and for each base one variant per edit level with 5, 10, 15
//! or 20% of its words dropped, replaced or swapped with a neighbour. Every item is judged in
//! order against all earlier ones, as the writer does: LSH candidates, verified by the estimated
//! similarity. A flagged pair is right when both items come from the same base.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::read_lines;
use crate::corpus;
use crate::error::Result;
use crate::signals::dedup::{self, DedupParams, TextFingerprint};
use crate::signals::lsh::LshTables;

const LANGUAGES: [&str; 3] = ["ru", "uk", "sl"];
/// Share of words edited in each variant.
pub const EDIT_LEVELS: [f64; 4] = [0.05, 0.10, 0.15, 0.20];

struct Item {
    text: String,
    /// Which base text it comes from.
    source: usize,
    /// Index into [`EDIT_LEVELS`]; `None` for a base.
    level: Option<usize>,
}

/// The labelled set: `bases_per_language` bases per language and their variants.
fn labelled_set(
    bases_per_language: usize,
    sentences_dir: Option<&Path>,
    seed: u64,
) -> Result<Vec<Item>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut items = Vec::new();
    for language in LANGUAGES {
        let vocabulary = corpus::vocabulary(language);
        let mut real = match sentences_dir {
            Some(dir) => read_lines(&dir.join(format!("{language}-sentences.txt")))?,
            None => Vec::new(),
        };
        // Sentences are drawn without replacement: two bases sharing a sentence would be near-
        // duplicates in truth, not the unrelated pair the label says.
        real.sort_unstable();
        real.dedup();
        for i in (1..real.len()).rev() {
            real.swap(i, rng.random_range(0..=i));
        }
        let real_mode = !real.is_empty();
        for _ in 0..bases_per_language {
            if real_mode && real.is_empty() {
                break;
            }
            let base: String = if !real_mode {
                let words = rng.random_range(12..80);
                (0..words)
                    .map(|_| vocabulary[rng.random_range(0..vocabulary.len())].as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                let take = rng.random_range(1..=4).min(real.len());
                real.split_off(real.len() - take).join(" ")
            };
            let source = items.len();
            let words: Vec<&str> = base.split_whitespace().collect();
            let mut variants = Vec::new();
            for (level, share) in EDIT_LEVELS.iter().enumerate() {
                variants.push(Item {
                    text: edit(&words, *share, &vocabulary, &mut rng),
                    source,
                    level: Some(level),
                });
            }
            items.push(Item {
                text: base,
                source,
                level: None,
            });
            items.extend(variants);
        }
    }
    Ok(items)
}

/// Drops, replaces or swaps `share` of the words (at least one).
fn edit(words: &[&str], share: f64, vocabulary: &[String], rng: &mut StdRng) -> String {
    let mut words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    let edits = ((words.len() as f64 * share).round() as usize).max(1);
    for _ in 0..edits {
        if words.len() < 2 {
            break;
        }
        let at = rng.random_range(0..words.len());
        match rng.random_range(0..3) {
            0 => {
                words.remove(at);
            }
            1 => words[at] = vocabulary[rng.random_range(0..vocabulary.len())].clone(),
            _ => {
                let other = if at + 1 < words.len() { at + 1 } else { at - 1 };
                words.swap(at, other);
            }
        }
    }
    words.join(" ")
}

/// Results of one configuration.
pub struct DedupRun {
    pub params: DedupParams,
    /// Recall of base–variant pairs per edit level.
    pub recall_by_level: [f64; 4],
    /// Recall of base–variant pairs whose exact shingle Jaccard is at least 0.8.
    pub recall_at_08: f64,
    pub pairs_at_08: usize,
    pub flagged: usize,
    pub precision: f64,
    pub lsh_bytes_per_item: f64,
}

fn run(items: &[Item], params: DedupParams) -> DedupRun {
    let prints: Vec<TextFingerprint> = items
        .iter()
        .map(|i| dedup::fingerprint(&i.text, params.shingle_chars))
        .collect();
    let mut tables = LshTables::new(&params);
    let mut flagged_pairs = Vec::new();
    for (index, print) in prints.iter().enumerate() {
        for candidate in tables.candidates(&print.signature).into_iter().take(32) {
            let other = &prints[candidate as usize];
            if print.words >= params.min_words
                && other.words >= params.min_words
                && dedup::estimated_similarity(&print.signature, &other.signature)
                    >= params.threshold
            {
                flagged_pairs.push((candidate as usize, index));
            }
        }
        tables.insert(index as u32, &print.signature);
    }
    let same_source = |a: usize, b: usize| items[a].source == items[b].source;
    let correct = flagged_pairs
        .iter()
        .filter(|(a, b)| same_source(*a, *b))
        .count();
    let found: rustc_hash::FxHashSet<(usize, usize)> = flagged_pairs.iter().copied().collect();
    let mut per_level = [(0usize, 0usize); 4];
    let (mut at_08, mut found_08) = (0, 0);
    for (index, item) in items.iter().enumerate() {
        let Some(level) = item.level else { continue };
        let base = item.source;
        // Texts this short are never judged (DedupParams::min_words).
        if prints[base].words < params.min_words || prints[index].words < params.min_words {
            continue;
        }
        let hit = found.contains(&(base, index));
        per_level[level].0 += 1;
        per_level[level].1 += usize::from(hit);
        if dedup::exact_similarity(&items[base].text, &item.text, params.shingle_chars) >= 0.8 {
            at_08 += 1;
            found_08 += usize::from(hit);
        }
    }
    DedupRun {
        params,
        recall_by_level: per_level.map(|(n, hit)| ratio(hit, n)),
        recall_at_08: ratio(found_08, at_08),
        pairs_at_08: at_08,
        flagged: flagged_pairs.len(),
        precision: ratio(correct, flagged_pairs.len()),
        lsh_bytes_per_item: tables.memory_bytes() as f64 / items.len() as f64,
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

/// The whole evaluation: a sweep plus throughput figures, rendered as a table.
pub fn evaluate(bases_per_language: usize, sentences_dir: Option<&Path>) -> Result<String> {
    let items = labelled_set(bases_per_language, sentences_dir, 42)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} texts ({} bases, each with {} variants edited 5/10/15/20%)\n",
        items.len(),
        items.len() / (EDIT_LEVELS.len() + 1),
        EDIT_LEVELS.len()
    );
    let _ = writeln!(
        out,
        "shingle bands×rows threshold | recall 5%  10%   15%   20% | recall J≥0.8 (pairs) | flagged precision | LSH B/item"
    );
    let defaults = DedupParams::default();
    for shingle_chars in [4, 5] {
        for (bands, rows) in [(16, 8), (20, 6), (32, 4)] {
            for threshold in [0.6, 0.7, 0.8] {
                let params = DedupParams {
                    shingle_chars,
                    bands,
                    rows,
                    threshold,
                    ..defaults
                };
                let r = run(&items, params);
                let marker = if params == defaults {
                    " ← default"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "{shingle_chars:>7} {bands:>2}×{rows:<2}   {threshold:>9.2} | {:>11.3} {:>5.3} {:>5.3} {:>5.3} | {:>6.3} ({:>5})        | {:>7} {:>9.4} | {:>7.0}{marker}",
                    r.recall_by_level[0],
                    r.recall_by_level[1],
                    r.recall_by_level[2],
                    r.recall_by_level[3],
                    r.recall_at_08,
                    r.pairs_at_08,
                    r.flagged,
                    r.precision,
                    r.lsh_bytes_per_item,
                );
            }
        }
    }
    let started = Instant::now();
    let prints: Vec<TextFingerprint> = items
        .iter()
        .map(|i| dedup::fingerprint(&i.text, defaults.shingle_chars))
        .collect();
    let signing = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut compared = 0u64;
    let mut checksum = 0.0;
    while started.elapsed().as_millis() < 300 {
        for pair in prints.windows(2) {
            checksum += dedup::estimated_similarity(&pair[0].signature, &pair[1].signature);
            compared += 1;
        }
    }
    let comparing = started.elapsed().as_secs_f64();
    let _ = writeln!(
        out,
        "\nsignatures: {:.0} texts/s ({:.1} µs each, mean {} chars); verification: {:.1} M pairs/s (checksum {checksum:.0})",
        items.len() as f64 / signing,
        signing * 1e6 / items.len() as f64,
        items.iter().map(|i| i.text.chars().count()).sum::<usize>() / items.len(),
        compared as f64 / comparing / 1e6,
    );
    let _ = writeln!(out, "{}", table_growth(&defaults));
    Ok(out)
}

/// Memory and insert cost of the LSH tables as they grow to a million items (random signatures:
/// only the table's shape matters here).
fn table_growth(params: &DedupParams) -> String {
    let mut rng = StdRng::seed_from_u64(1);
    let mut tables = LshTables::new(params);
    let mut out = String::from(
        "\nLSH tables growing one insert at a time (candidates looked up before each insert):",
    );
    let mut signature = vec![0u32; dedup::SIGNATURE_LEN];
    let mut started = Instant::now();
    let mut last = 0u32;
    for item in 0..1_000_000u32 {
        signature.iter_mut().for_each(|v| *v = rng.random());
        std::hint::black_box(tables.candidates(&signature));
        tables.insert(item, &signature);
        let count = item + 1;
        if [10_000, 100_000, 1_000_000].contains(&count) {
            let _ = write!(
                out,
                "\n  {count:>9} items: {:.0} bytes/item, {:.1} µs per lookup+insert over the last {}",
                tables.memory_bytes() as f64 / f64::from(count),
                started.elapsed().as_secs_f64() * 1e6 / f64::from(count - last),
                count - last,
            );
            started = Instant::now();
            last = count;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_configuration_meets_the_targets_on_a_small_set() {
        let items = labelled_set(40, None, 7).unwrap();
        let result = run(&items, DedupParams::default());
        assert!(
            result.recall_at_08 >= 0.97,
            "recall {}",
            result.recall_at_08
        );
        assert!(result.precision >= 0.99, "precision {}", result.precision);
    }
}
