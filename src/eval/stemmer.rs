//! `triage eval stemmer FILE`: how well a stemmer conflates the forms of one lemma without
//! merging different lemmas, on a `form<TAB>lemma<TAB>upos` list (`../shared/data/morph/`).
//! The language is the file name's stem (`ru.tsv`, `sl.tsv`, `uk.tsv`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::read_lines;
use crate::error::{Error, Result};
use crate::text::analyzer;

#[derive(Debug, Clone)]
pub struct StemmerReport {
    pub language: String,
    pub rows: usize,
    /// Lemmas with at least two distinct forms.
    pub lemmas: usize,
    /// Of those, lemmas whose forms all got one stem.
    pub conflated: usize,
    /// Distinct stems produced.
    pub stems: usize,
    /// Stems produced for more than one lemma.
    pub shared_stems: usize,
}

pub fn evaluate(path: &Path) -> Result<StemmerReport> {
    let language = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    let tokenizer = analyzer::tokenizer_for_language(&language).ok_or_else(|| {
        Error::Config(format!(
            "{}: name the file after its language (ru.tsv, uk.tsv, sl.tsv)",
            path.display()
        ))
    })?;
    let lines = read_lines(path)?;
    let mut forms_by_lemma: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in &lines {
        let mut columns = line.split('\t');
        let (Some(form), Some(lemma)) = (columns.next(), columns.next()) else {
            continue;
        };
        let pos = columns.next().unwrap_or_default();
        forms_by_lemma
            .entry(format!("{lemma}\t{pos}"))
            .or_default()
            .insert(form.to_string());
    }
    let mut lemmas_by_stem: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    let (mut lemmas, mut conflated) = (0, 0);
    for (lemma, forms) in &forms_by_lemma {
        let stems: BTreeSet<String> = forms
            .iter()
            .map(|f| analyzer::stem_word(tokenizer, f))
            .collect();
        if forms.len() >= 2 {
            lemmas += 1;
            conflated += usize::from(stems.len() == 1);
        }
        let lemma_only = lemma.split('\t').next().unwrap_or_default();
        for stem in stems {
            lemmas_by_stem.entry(stem).or_default().insert(lemma_only);
        }
    }
    Ok(StemmerReport {
        language,
        rows: lines.len(),
        lemmas,
        conflated,
        stems: lemmas_by_stem.len(),
        shared_stems: lemmas_by_stem.values().filter(|l| l.len() > 1).count(),
    })
}

/// A Markdown table of several reports, side by side.
pub fn render(reports: &[StemmerReport]) -> String {
    let mut out = String::from(
        "| language | rows | lemmas with ≥2 forms | all forms one stem % | stems | stems shared by different lemmas % |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for r in reports {
        out.push_str(&format!(
            "| {} | {} | {} | {:.1} | {} | {:.1} |\n",
            r.language,
            r.rows,
            r.lemmas,
            r.conflated as f64 * 100.0 / r.lemmas.max(1) as f64,
            r.stems,
            r.shared_stems as f64 * 100.0 / r.stems.max(1) as f64
        ));
    }
    out
}
