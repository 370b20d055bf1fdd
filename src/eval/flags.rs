//! `triage eval flags FILE`: precision and recall of the suspicion flags (per language) and of
//! the topics on a labelled JSON Lines set, plus the rules' cost per 1,000 characters.
//!
//! Each line: `{"language": "ru", "text": "…", "flags": ["extortion"], "topics": ["delivery"],
//! "score": {"kind": "nps", "value": 10}, "attributes": {"employee": "…"}}` (score and
//! attributes optional). The set used by the test suite is `tests/fixtures/flags.jsonl`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use serde::Deserialize;

use super::read_lines;
use crate::corpus::{CorpusGenerator, Timeline};
use crate::error::{Error, Result};
use crate::model::{FeedbackKind, FlagKind, Score, ScoreKind};
use crate::signals::lexicons::Lexicons;
use crate::signals::{self, Context};
use crate::text::language::LanguageDetector;

/// The flags the lexicon rules decide (the others come from history and duplicates).
pub const RULE_FLAGS: [FlagKind; 5] = [
    FlagKind::Extortion,
    FlagKind::PersonalAttack,
    FlagKind::AbusiveLanguage,
    FlagKind::Spam,
    FlagKind::ScoreMismatch,
];

#[derive(Debug, Deserialize)]
struct LabelledScore {
    kind: String,
    value: i32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Labelled {
    language: String,
    text: String,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    topics: Vec<String>,
    #[serde(default)]
    score: Option<LabelledScore>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

/// Counts for one label in one slice of the set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
}

impl Counts {
    fn add(&mut self, expected: bool, found: bool) {
        match (expected, found) {
            (true, true) => self.true_positives += 1,
            (false, true) => self.false_positives += 1,
            (true, false) => self.false_negatives += 1,
            (false, false) => {}
        }
    }

    /// 1.0 when nothing was flagged (no false flags).
    pub fn precision(&self) -> f64 {
        let flagged = self.true_positives + self.false_positives;
        if flagged == 0 {
            1.0
        } else {
            self.true_positives as f64 / flagged as f64
        }
    }

    /// 1.0 when nothing was expected.
    pub fn recall(&self) -> f64 {
        let expected = self.true_positives + self.false_negatives;
        if expected == 0 {
            1.0
        } else {
            self.true_positives as f64 / expected as f64
        }
    }
}

/// A wrong answer, for reading.
#[derive(Debug, Clone)]
pub struct Miss {
    pub language: String,
    pub text: String,
    pub label: String,
    pub expected: bool,
}

#[derive(Debug, Clone, Default)]
pub struct FlagsReport {
    /// (language, flag) → counts.
    pub flags: BTreeMap<(String, FlagKind), Counts>,
    pub topics: BTreeMap<String, Counts>,
    pub misses: Vec<Miss>,
    pub items: usize,
    /// Cost of `signals::analyze` per 1,000 characters of this set's texts, in microseconds
    /// (warm: the mean of several passes).
    pub micros_per_1000_chars: f64,
    /// The same on texts of the synthetic corpus (`corpus.rs`: realistic lengths, mostly clean).
    pub corpus_micros_per_1000_chars: f64,
}

/// Passes over the texts when timing.
const TIMING_PASSES: usize = 10;

/// Mean cost of analysis per 1,000 characters over `texts` (language, text).
fn cost(lexicons: &Lexicons, texts: &[(String, String)]) -> f64 {
    let attributes = BTreeMap::new();
    let chars: usize = texts.iter().map(|(_, t)| t.chars().count()).sum();
    let started = Instant::now();
    for _ in 0..TIMING_PASSES {
        for (language, text) in texts {
            std::hint::black_box(signals::analyze(
                lexicons,
                text,
                &Context {
                    language,
                    kind: FeedbackKind::Complaint,
                    score: None,
                    attributes: &attributes,
                },
            ));
        }
    }
    started.elapsed().as_secs_f64() * 1e6 * 1000.0 / (chars * TIMING_PASSES).max(1) as f64
}

fn score(labelled: &Option<LabelledScore>) -> Result<Option<Score>> {
    labelled
        .as_ref()
        .map(|s| {
            let kind = ScoreKind::parse(&s.kind)
                .ok_or_else(|| Error::Config(format!("unknown score kind {:?}", s.kind)))?;
            Ok(Score {
                kind,
                value: s.value,
            })
        })
        .transpose()
}

pub fn evaluate(path: &Path, lexicons: &Lexicons) -> Result<FlagsReport> {
    let mut report = FlagsReport::default();
    let mut texts = Vec::new();
    for (number, line) in read_lines(path)?.iter().enumerate() {
        let item: Labelled = serde_json::from_str(line)
            .map_err(|e| Error::Config(format!("{} line {}: {e}", path.display(), number + 1)))?;
        for flag in &item.flags {
            if FlagKind::parse(flag).is_none() {
                return Err(Error::Config(format!(
                    "{} line {}: unknown flag {flag:?}",
                    path.display(),
                    number + 1
                )));
            }
        }
        let analysis = signals::analyze(
            lexicons,
            &item.text,
            &Context {
                language: &item.language,
                kind: FeedbackKind::Complaint,
                score: score(&item.score)?,
                attributes: &item.attributes,
            },
        );
        texts.push((item.language.clone(), item.text.clone()));
        report.items += 1;
        for kind in RULE_FLAGS {
            let expected = item.flags.iter().any(|f| f == kind.as_str());
            let found = analysis.flags.iter().any(|f| f.kind == kind);
            report
                .flags
                .entry((item.language.clone(), kind))
                .or_default()
                .add(expected, found);
            if expected != found {
                report.misses.push(Miss {
                    language: item.language.clone(),
                    text: item.text.clone(),
                    label: kind.as_str().to_string(),
                    expected,
                });
            }
        }
        let topics: BTreeSet<&String> = item.topics.iter().chain(&analysis.topics).collect();
        for topic in topics {
            let expected = item.topics.contains(topic);
            let found = analysis.topics.contains(topic);
            report
                .topics
                .entry(topic.clone())
                .or_default()
                .add(expected, found);
        }
    }
    report.micros_per_1000_chars = cost(lexicons, &texts);
    let detector = LanguageDetector::new();
    let mut corpus = CorpusGenerator::new(7, 1000, Timeline::Spread);
    let synthetic: Vec<(String, String)> = (0..500)
        .map(|i| {
            let text = corpus.feedback(i).text;
            (detector.detect(&text, "").language.to_string(), text)
        })
        .collect();
    report.corpus_micros_per_1000_chars = cost(lexicons, &synthetic);
    Ok(report)
}

impl FlagsReport {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{} labelled items\n", self.items);
        let _ = writeln!(
            out,
            "| language | flag | TP | FP | FN | precision | recall |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|");
        for ((language, kind), c) in &self.flags {
            let _ = writeln!(
                out,
                "| {language} | {} | {} | {} | {} | {:.2} | {:.2} |",
                kind.as_str(),
                c.true_positives,
                c.false_positives,
                c.false_negatives,
                c.precision(),
                c.recall()
            );
        }
        let _ = writeln!(out, "\n| topic | TP | FP | FN | precision | recall |");
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
        for (topic, c) in &self.topics {
            let _ = writeln!(
                out,
                "| {topic} | {} | {} | {} | {:.2} | {:.2} |",
                c.true_positives,
                c.false_positives,
                c.false_negatives,
                c.precision(),
                c.recall()
            );
        }
        let _ = writeln!(
            out,
            "\nanalysis (tokenizing, every rule, polarity, topics), warm, one thread: \
             {:.1} µs per 1,000 characters on this set, {:.1} on 500 synthetic corpus texts",
            self.micros_per_1000_chars, self.corpus_micros_per_1000_chars
        );
        if !self.misses.is_empty() {
            let _ = writeln!(out, "\nmisses:");
            for miss in &self.misses {
                let _ = writeln!(
                    out,
                    "  [{}] {} {}: {}",
                    miss.language,
                    if miss.expected { "missed" } else { "false" },
                    miss.label,
                    miss.text
                );
            }
        }
        out
    }
}
