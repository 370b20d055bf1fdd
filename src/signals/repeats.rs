//! A customer's history (issue "Repeated and duplicate feedback"): the same customer with the
//! same problem again (`REPEAT_COMPLAINT`), and unusually many items in a short time (`BURST`).
//!
//! "The same problem" is judged on the content stems of the two texts (the language's analyzer:
//! normalized, stop words removed, stemmed), so a paraphrase counts: "интернет пропадает по
//! вечерам" and "снова вечером нет интернета" share `интернет` and `вечер`. Stems are weighted by
//! how rare they are among all stored texts (IDF), so two different problems that share only
//! common words ("заказ", "приложение") stay apart. The writer owns the document frequencies and
//! asks these functions for a decision, in arrival order.

use chrono::{DateTime, TimeDelta, Utc};
use rustc_hash::FxHashMap;
use tantivy::tokenizer::TokenStream;
use xxhash_rust::xxh3::xxh3_64;

use crate::model::{Flag, FlagKind, TextSpan};
use crate::text::analyzer::{self, FOLDED, tokenizer_for_language};

/// When a customer's items count as a repeat or a burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryParams {
    /// How far back an earlier complaint counts (default 30 days).
    pub repeat_window: TimeDelta,
    /// Weighted cosine similarity of content stems at or above which two complaints are about the
    /// same problem.
    pub repeat_similarity: f64,
    /// A customer may send this many items within `burst_window`; one more is a burst.
    pub burst_items: usize,
    pub burst_window: TimeDelta,
}

impl HistoryParams {
    /// How far back from a new item the items that can flag it reach.
    pub fn reach(&self) -> TimeDelta {
        self.repeat_window.max(self.burst_window)
    }
}

impl Default for HistoryParams {
    fn default() -> Self {
        HistoryParams {
            repeat_window: TimeDelta::days(30),
            repeat_similarity: 0.5,
            burst_items: 5,
            burst_window: TimeDelta::hours(1),
        }
    }
}

/// The content stems of a text: hashed, with where each occurs (for evidence).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentStems {
    /// Sorted, without repeats.
    pub hashes: Vec<u32>,
    /// `(stem hash, start, end)` in Unicode code points of the original text.
    pub occurrences: Vec<(u32, usize, usize)>,
}

fn stem_hash(stem: &str) -> u32 {
    xxh3_64(stem.as_bytes()) as u32
}

/// The content stems of `text` under the analyzer of its language (the folded one for `und`).
pub fn content_stems(text: &str, language: &str) -> ContentStems {
    let mut analyzer = analyzer::analyzer(tokenizer_for_language(language).unwrap_or(FOLDED));
    let mut stream = analyzer.token_stream(text);
    let mut occurrences = Vec::new();
    let (mut byte, mut chars) = (0, 0);
    let mut char_offset = |target: usize| {
        chars += text[byte..target].chars().count();
        byte = target;
        chars
    };
    while stream.advance() {
        let token = stream.token();
        let start = char_offset(token.offset_from);
        let end = char_offset(token.offset_to);
        occurrences.push((stem_hash(&token.text), start, end));
    }
    let mut hashes: Vec<u32> = occurrences.iter().map(|o| o.0).collect();
    hashes.sort_unstable();
    hashes.dedup();
    ContentStems {
        hashes,
        occurrences,
    }
}

pub fn stems_to_bytes(hashes: &[u32]) -> Vec<u8> {
    hashes.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn stems_from_bytes(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// In how many stored texts each stem occurs.
#[derive(Debug, Default)]
pub struct DocumentFrequencies {
    counts: FxHashMap<u32, u32>,
    documents: u64,
}

/// Pseudo-documents added to the corpus size: with few texts stored every stem looks rare, and
/// weights that swing on one or two counts would make early decisions erratic.
const PRIOR_DOCUMENTS: f64 = 1000.0;

impl DocumentFrequencies {
    pub fn add(&mut self, hashes: &[u32]) {
        for hash in hashes {
            *self.counts.entry(*hash).or_default() += 1;
        }
        self.documents += 1;
    }

    fn weight(&self, hash: u32) -> f64 {
        let frequency = f64::from(self.counts.get(&hash).copied().unwrap_or(0));
        ((self.documents as f64 + PRIOR_DOCUMENTS) / (frequency + 1.0)).ln()
    }

    /// IDF-weighted cosine similarity of two stem sets, and the stems they share.
    pub fn similarity(&self, a: &[u32], b: &[u32]) -> (f64, Vec<u32>) {
        let norm = |hashes: &[u32]| {
            hashes
                .iter()
                .map(|h| self.weight(*h).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        let shared: Vec<u32> = a
            .iter()
            .filter(|h| b.binary_search(h).is_ok())
            .copied()
            .collect();
        let dot: f64 = shared.iter().map(|h| self.weight(*h).powi(2)).sum();
        let denominator = norm(a) * norm(b);
        if denominator == 0.0 {
            (0.0, shared)
        } else {
            (dot / denominator, shared)
        }
    }

    /// Bytes held by the table.
    pub fn memory_bytes(&self) -> usize {
        self.counts.capacity() * 9
    }
}

/// One of the customer's stored items, as the writer reads it.
#[derive(Debug, Clone)]
pub struct PastItem {
    pub feedback_id: String,
    pub created_at: DateTime<Utc>,
    /// A complaint or a negative text: what can be repeated.
    pub complaint: bool,
    pub stems: Vec<u32>,
}

fn describe_age(age: TimeDelta) -> String {
    if age.num_days() >= 1 {
        format!("{} day(s)", age.num_days())
    } else if age.num_hours() >= 1 {
        format!("{} hour(s)", age.num_hours())
    } else {
        format!("{} minute(s)", age.num_minutes().max(0))
    }
}

/// The most related ids a flag lists.
const MAX_RELATED: usize = 20;

/// `REPEAT_COMPLAINT` when the customer complained about the same problem within the window
/// before `created_at`. `text` and `stems` are the new complaint's.
pub fn repeat_complaint(
    text: &str,
    stems: &ContentStems,
    created_at: DateTime<Utc>,
    past: &[PastItem],
    frequencies: &DocumentFrequencies,
    params: &HistoryParams,
) -> Option<Flag> {
    let mut matches: Vec<(f64, &PastItem, Vec<u32>)> = past
        .iter()
        .filter(|p| {
            p.complaint
                && p.created_at <= created_at
                && created_at - p.created_at <= params.repeat_window
        })
        .filter_map(|p| {
            let (similarity, shared) = frequencies.similarity(&stems.hashes, &p.stems);
            // One shared word is a topic, not a problem.
            (similarity >= params.repeat_similarity && shared.len() >= 2.min(stems.hashes.len()))
                .then_some((similarity, p, shared))
        })
        .collect();
    if matches.is_empty() {
        return None;
    }
    matches.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (similarity, best, shared) = &matches[0];
    let latest = matches
        .iter()
        .map(|m| m.1.created_at)
        .max()
        .unwrap_or(best.created_at);
    let chars: Vec<char> = text.chars().collect();
    let evidence = stems
        .occurrences
        .iter()
        .filter(|(hash, _, _)| shared.binary_search(hash).is_ok())
        .map(|&(_, start, end)| TextSpan {
            start,
            end,
            text: chars[start..end].iter().collect(),
        })
        .collect();
    Some(Flag {
        kind: FlagKind::RepeatComplaint,
        confidence: (0.5 + similarity / 2.0).min(1.0),
        reason: format!(
            "The same customer complained about the same problem {} time(s) in the last {} days, \
             most recently {} before this one (text similarity {:.2}).",
            matches.len(),
            params.repeat_window.num_days(),
            describe_age(created_at - latest),
            similarity
        ),
        evidence,
        related_feedback_ids: matches
            .iter()
            .take(MAX_RELATED)
            .map(|m| m.1.feedback_id.clone())
            .collect(),
    })
}

/// `BURST` when some window of `burst_window` around `created_at` holds more than `burst_items`
/// of the customer's items, this one included. Looking both ways means an import that arrives
/// out of order still finds the burst.
pub fn burst(created_at: DateTime<Utc>, past: &[PastItem], params: &HistoryParams) -> Option<Flag> {
    let mut nearby: Vec<&PastItem> = past
        .iter()
        .filter(|p| (p.created_at - created_at).abs() <= params.burst_window)
        .collect();
    nearby.sort_by_key(|p| p.created_at);
    let mut times: Vec<DateTime<Utc>> = nearby.iter().map(|p| p.created_at).collect();
    let position = times.partition_point(|t| *t <= created_at);
    times.insert(position, created_at);
    let mut busiest = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] > params.burst_window {
            start += 1;
        }
        if (start..=end).contains(&position) {
            busiest = busiest.max(end - start + 1);
        }
    }
    if busiest <= params.burst_items {
        return None;
    }
    let minutes = params.burst_window.num_minutes();
    Some(Flag {
        kind: FlagKind::Burst,
        confidence: (0.6 + 0.1 * (busiest - params.burst_items) as f64).min(0.95),
        reason: format!(
            "The customer sent {busiest} items within {minutes} minutes (more than {} is unusual).",
            params.burst_items
        ),
        evidence: Vec::new(),
        related_feedback_ids: nearby
            .iter()
            .rev()
            .take(MAX_RELATED)
            .map(|p| p.feedback_id.clone())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn past(id: &str, text: &str, language: &str, age: TimeDelta, now: DateTime<Utc>) -> PastItem {
        PastItem {
            feedback_id: id.into(),
            created_at: now - age,
            complaint: true,
            stems: content_stems(text, language).hashes,
        }
    }

    fn repeat(language: &str, earlier: &str, later: &str) -> Option<Flag> {
        let now = Utc::now();
        let history = [past("f1", earlier, language, TimeDelta::days(3), now)];
        let mut frequencies = DocumentFrequencies::default();
        frequencies.add(&history[0].stems);
        let stems = content_stems(later, language);
        repeat_complaint(
            later,
            &stems,
            now,
            &history,
            &frequencies,
            &HistoryParams::default(),
        )
    }

    #[test]
    fn a_paraphrase_is_a_repeat_in_each_language() {
        for (language, earlier, later) in [
            (
                "ru",
                "Интернет пропадает по вечерам",
                "Снова вечером нет интернета",
            ),
            (
                "uk",
                "Інтернет зникає щовечора, роутер перезавантажується",
                "Знову ввечері немає інтернету, роутер перезавантажується",
            ),
            (
                "sl",
                "Internet zvečer izginja, usmerjevalnik se ponovno zažene",
                "Spet zvečer ni interneta, usmerjevalnik se ponovno zaganja",
            ),
        ] {
            let flag = repeat(language, earlier, later).unwrap_or_else(|| panic!("{language}"));
            assert_eq!(flag.related_feedback_ids, ["f1"]);
            for span in &flag.evidence {
                let text: String = later
                    .chars()
                    .skip(span.start)
                    .take(span.end - span.start)
                    .collect();
                assert_eq!(text, span.text);
            }
            assert!(flag.evidence.len() >= 2, "{language}: {:?}", flag.evidence);
        }
    }

    #[test]
    fn two_problems_under_one_topic_are_not_a_repeat() {
        assert!(
            repeat(
                "ru",
                "Не приходит СМС-код для входа в приложение",
                "Приложение вылетает при оплате картой"
            )
            .is_none()
        );
        assert!(
            repeat(
                "uk",
                "Не приходить СМС-код для входу в застосунок",
                "Застосунок вилітає під час оплати карткою"
            )
            .is_none()
        );
        assert!(
            repeat(
                "sl",
                "SMS koda za prijavo v aplikacijo ne pride",
                "Aplikacija se sesuje pri plačilu s kartico"
            )
            .is_none()
        );
    }

    #[test]
    fn old_complaints_and_praise_do_not_count() {
        let now = Utc::now();
        let text = "Интернет пропадает по вечерам";
        let mut old = past("f1", text, "ru", TimeDelta::days(31), now);
        let frequencies = DocumentFrequencies::default();
        let stems = content_stems(text, "ru");
        let params = HistoryParams::default();
        assert!(
            repeat_complaint(
                text,
                &stems,
                now,
                std::slice::from_ref(&old),
                &frequencies,
                &params
            )
            .is_none()
        );
        old.created_at = now - TimeDelta::days(1);
        old.complaint = false;
        assert!(repeat_complaint(text, &stems, now, &[old], &frequencies, &params).is_none());
    }

    #[test]
    fn the_sixth_item_within_an_hour_is_a_burst_whatever_the_order() {
        let now = Utc::now();
        let params = HistoryParams::default();
        let five: Vec<PastItem> = (0..5)
            .map(|i| {
                past(
                    &format!("f{i}"),
                    "текст",
                    "ru",
                    TimeDelta::minutes(10 * i),
                    now,
                )
            })
            .collect();
        assert!(burst(now, &five[..4], &params).is_none());
        let flag = burst(now, &five, &params).expect("six within 40 minutes");
        assert_eq!(flag.related_feedback_ids.len(), 5);
        assert!(flag.reason.contains("6 items"), "{}", flag.reason);
        // The earliest item arriving last still sees the five after it.
        let later: Vec<PastItem> = five
            .iter()
            .map(|p| PastItem {
                created_at: p.created_at + TimeDelta::minutes(45),
                ..p.clone()
            })
            .collect();
        assert!(burst(now - TimeDelta::minutes(5), &later, &params).is_some());
        let spread: Vec<PastItem> = (0..5)
            .map(|i| {
                past(
                    &format!("f{i}"),
                    "текст",
                    "ru",
                    TimeDelta::minutes(20 * i),
                    now,
                )
            })
            .collect();
        assert!(
            burst(now, &spread, &params).is_none(),
            "six items over 80 minutes"
        );
    }
}
