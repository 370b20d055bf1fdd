//! `triage eval langid DIR`: accuracy of language identification per language and length class,
//! the share of neighbouring languages wrongly taken for ours, and speed next to whatlang.
//!
//! DIR holds `{ru,uk,sl}-{sentences,word-pairs,single-words}.txt` and `other/*-sentences.txt`
//! (the layout of `../shared/data/langid/`).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use whatlang::{Detector, Lang};

use super::read_lines;
use crate::error::Result;
use crate::text::language::{LanguageDetector, SUPPORTED};

const CLASSES: [&str; 3] = ["single-words", "word-pairs", "sentences"];

/// Accuracy of one (language, class) cell, for us and for whatlang restricted to ru/uk/sl.
#[derive(Debug, Clone)]
pub struct Cell {
    pub language: String,
    pub class: String,
    pub total: usize,
    pub ours: usize,
    pub whatlang: usize,
}

/// How many sentences of a foreign language were taken for one of ours.
#[derive(Debug, Clone)]
pub struct Foreign {
    pub language: String,
    pub total: usize,
    pub accepted: usize,
}

#[derive(Debug, Clone)]
pub struct LangidReport {
    pub cells: Vec<Cell>,
    pub foreign: Vec<Foreign>,
    pub ours_per_second: f64,
    pub whatlang_per_second: f64,
}

fn whatlang_code(detector: &Detector, text: &str) -> &'static str {
    match detector.detect_lang(text) {
        Some(Lang::Rus) => "ru",
        Some(Lang::Ukr) => "uk",
        Some(Lang::Slv) => "sl",
        _ => "und",
    }
}

pub fn evaluate(dir: &Path) -> Result<LangidReport> {
    let ours = LanguageDetector::new();
    let baseline = Detector::with_allowlist(vec![Lang::Rus, Lang::Ukr, Lang::Slv]);
    let mut cells = Vec::new();
    let mut all_texts = Vec::new();
    for language in SUPPORTED {
        for class in CLASSES {
            let lines = read_lines(&dir.join(format!("{language}-{class}.txt")))?;
            let mut cell = Cell {
                language: language.to_string(),
                class: class.to_string(),
                total: lines.len(),
                ours: 0,
                whatlang: 0,
            };
            for line in &lines {
                cell.ours += usize::from(ours.detect(line, "").language == language);
                cell.whatlang += usize::from(whatlang_code(&baseline, line) == language);
            }
            all_texts.extend(lines);
            cells.push(cell);
        }
    }
    let mut foreign = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir.join("other"))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    entries.sort();
    for path in entries {
        let language = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split('-').next())
            .unwrap_or("?")
            .to_string();
        let lines = read_lines(&path)?;
        let accepted = lines
            .iter()
            .filter(|l| ours.detect(l, "").language != "und")
            .count();
        foreign.push(Foreign {
            language,
            total: lines.len(),
            accepted,
        });
    }
    let started = Instant::now();
    for text in &all_texts {
        std::hint::black_box(ours.detect(text, ""));
    }
    let ours_per_second = all_texts.len() as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    for text in &all_texts {
        std::hint::black_box(baseline.detect(text));
    }
    let whatlang_per_second = all_texts.len() as f64 / started.elapsed().as_secs_f64();
    Ok(LangidReport {
        cells,
        foreign,
        ours_per_second,
        whatlang_per_second,
    })
}

fn percent(part: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 * 100.0 / total as f64
    }
}

impl LangidReport {
    /// Markdown tables for the terminal and for docs/.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| language | class | items | triage % | whatlang (ru/uk/sl only) % |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|");
        for c in &self.cells {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} | {:.1} |",
                c.language,
                c.class,
                c.total,
                percent(c.ours, c.total),
                percent(c.whatlang, c.total)
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| other language | sentences | taken for ru/uk/sl | % |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|");
        let (mut total, mut accepted) = (0, 0);
        for f in &self.foreign {
            total += f.total;
            accepted += f.accepted;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} |",
                f.language,
                f.total,
                f.accepted,
                percent(f.accepted, f.total)
            );
        }
        let _ = writeln!(
            out,
            "| all | {total} | {accepted} | {:.1} |",
            percent(accepted, total)
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "speed: triage {:.0} texts/s, whatlang {:.0} texts/s (same texts, one thread)",
            self.ours_per_second, self.whatlang_per_second
        );
        out
    }
}
