//! The query front end: what an agent types (`words`, `"phrases"`, `-exclusions`, `prefix*`) is
//! read leniently into clauses and turned into a tantivy query over every language field.
//!
//! Hand-written rather than tantivy's `QueryParser` because agents type freely: unbalanced quotes,
//! lone operators, pasted control characters and kilobytes of text must give a sensible search,
//! never an error; and every clause must be analyzed by each field's own analyzer.

use std::ops::Bound;

use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, InvertedIndexRangeQuery, Occur, PhraseQuery, Query, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use super::schema::TextFields;
use crate::text::analyzer;
use crate::text::normalize::normalize;

/// Queries are cut to this many characters; nobody types more, and pasted text stays cheap.
const MAX_QUERY_CHARS: usize = 2000;
/// At most this many clauses are used.
const MAX_CLAUSES: usize = 32;
/// Shorter prefixes would expand to too many terms to be useful.
const MIN_PREFIX_CHARS: usize = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    Word(String),
    Phrase(String),
    Prefix(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    pub required: Vec<Clause>,
    pub excluded: Vec<Clause>,
}

/// Reads an agent's query. Never fails: whatever cannot be understood is read as words.
pub fn parse(input: &str) -> ParsedQuery {
    let text: String = input
        .chars()
        .take(MAX_QUERY_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut parsed = ParsedQuery::default();
    let mut chars = text.chars().peekable();
    while parsed.required.len() + parsed.excluded.len() < MAX_CLAUSES {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else { break };
        let mut negated = false;
        if first == '-' {
            chars.next();
            match chars.peek() {
                Some(c) if !c.is_whitespace() => negated = true,
                _ => continue,
            }
        }
        let clause = if chars.next_if_eq(&'"').is_some() {
            let phrase: String = chars.by_ref().take_while(|c| *c != '"').collect();
            Clause::Phrase(phrase)
        } else {
            let mut word = String::new();
            while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '"') {
                word.push(c);
            }
            match word.strip_suffix('*') {
                Some(prefix) => Clause::Prefix(prefix.trim_end_matches('*').to_string()),
                None => Clause::Word(word),
            }
        };
        if negated {
            parsed.excluded.push(clause);
        } else {
            parsed.required.push(clause);
        }
    }
    parsed
}

/// Analyzed terms with their positions, as one field's analyzer produces them.
fn analyzed(tokenizer: &str, text: &str) -> Vec<(usize, String)> {
    let mut analyzer = analyzer::analyzer(tokenizer);
    let mut stream = analyzer.token_stream(text);
    let mut terms = Vec::new();
    while stream.advance() {
        let token = stream.token();
        terms.push((token.position, token.text.clone()));
    }
    terms
}

fn field_query(field: Field, tokenizer: &str, text: &str) -> Option<Box<dyn Query>> {
    let terms = analyzed(tokenizer, text);
    match terms.as_slice() {
        [] => None,
        [(_, term)] => Some(Box::new(TermQuery::new(
            Term::from_field_text(field, term),
            IndexRecordOption::WithFreqs,
        ))),
        _ => {
            let first = terms[0].0;
            Some(Box::new(PhraseQuery::new_with_offset(
                terms
                    .iter()
                    .map(|(position, term)| (position - first, Term::from_field_text(field, term)))
                    .collect(),
            )))
        }
    }
}

/// Every term starting with `prefix`: the range of the term dictionary from the prefix up to
/// the first byte string after all its extensions. A range walks the sorted dictionary directly,
/// where a regular expression would first compile an automaton (milliseconds per field).
fn prefix_query(field: Field, prefix: &str) -> Option<Box<dyn Query>> {
    let prefix: String = normalize(prefix)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    if prefix.chars().count() < MIN_PREFIX_CHARS {
        return None;
    }
    // UTF-8 never contains 0xFF, so raising the last byte gives the successor of every
    // extension of the prefix.
    let mut after = prefix.as_bytes().to_vec();
    *after.last_mut()? += 1;
    Some(Box::new(InvertedIndexRangeQuery::new(
        Bound::Included(Term::from_field_text(field, &prefix)),
        Bound::Excluded(Term::from_field_bytes(field, &after)),
    )))
}

/// A clause matched in any of the fields; `None` when it analyzes to nothing (a stop word,
/// punctuation).
fn clause_query(clause: &Clause, sources: &[TextFields]) -> Option<Box<dyn Query>> {
    let mut alternatives: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for fields in sources {
        for (field, tokenizer) in fields.all() {
            let query = match clause {
                Clause::Word(text) | Clause::Phrase(text) => field_query(field, tokenizer, text),
                Clause::Prefix(prefix) if tokenizer == analyzer::FOLDED => {
                    let folded: String = analyzed(analyzer::FOLDED, prefix)
                        .into_iter()
                        .map(|(_, t)| t)
                        .collect();
                    prefix_query(field, &folded).or_else(|| prefix_query(field, prefix))
                }
                Clause::Prefix(prefix) => prefix_query(field, prefix),
            };
            if let Some(query) = query {
                alternatives.push((Occur::Should, query));
            }
        }
    }
    (!alternatives.is_empty()).then(|| Box::new(BooleanQuery::new(alternatives)) as Box<dyn Query>)
}

/// The tantivy query for a parsed query over the text and resolution fields. Every required
/// clause must match (in some field); no excluded clause may.
pub fn build(parsed: &ParsedQuery, sources: &[TextFields]) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = parsed
        .required
        .iter()
        .filter_map(|clause| clause_query(clause, sources))
        .map(|q| (Occur::Must, q))
        .collect();
    let positive = !clauses.is_empty();
    clauses.extend(
        parsed
            .excluded
            .iter()
            .filter_map(|clause| clause_query(clause, sources))
            .map(|q| (Occur::MustNot, q)),
    );
    if !positive {
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    Box::new(BooleanQuery::new(clauses))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_words_phrases_exclusions_and_prefixes() {
        let parsed = parse(r#"доставка "не пришло" -курьер достав* -"плохой сервис""#);
        assert_eq!(
            parsed.required,
            [
                Clause::Word("доставка".into()),
                Clause::Phrase("не пришло".into()),
                Clause::Prefix("достав".into()),
            ]
        );
        assert_eq!(
            parsed.excluded,
            [
                Clause::Word("курьер".into()),
                Clause::Phrase("плохой сервис".into())
            ]
        );
    }

    #[test]
    fn malformed_input_is_read_leniently() {
        assert_eq!(
            parse(r#""unbalanced quote"#).required,
            [Clause::Phrase("unbalanced quote".into())]
        );
        assert!(
            parse(" - -- ")
                .excluded
                .iter()
                .all(|c| *c == Clause::Word("-".into()))
        );
        assert_eq!(parse("a\u{0}b").required.len(), 2);
        assert_eq!(parse(&"слово ".repeat(10_000)).required.len(), MAX_CLAUSES);
        assert_eq!(parse("***").required, [Clause::Prefix(String::new())]);
    }
}
