//! Lexicon patterns matched on the normalized words of a text.
//!
//! A pattern is one or more word patterns separated by spaces: `напиш* отзыв*`. A word pattern
//! ending in `*` matches any word starting with it (how inflected forms are caught: `отзыв*`
//! matches отзыв, отзывы, отзывов); otherwise it matches the word exactly. The words of a
//! multi-word pattern must appear in that order with at most [`MAX_GAP`] other words between
//! neighbours ("напишу везде отзывы"); for the tags that ask for it, none of them a gap breaker (a
//! negator: "objavil pa ne bom" is no "objavil* bom"). Words are normalized as everywhere else (case, `ё→е`,
//! apostrophes), so lexicons are written in lowercase.
//!
//! Matching is a hash lookup per word (patterns are indexed by the first characters of their
//! first word), so cost grows with the text, not with the lexicon. Patterns carry a tag (which
//! list they came from), so one pass over a text finds the matches of every list at once.

use rustc_hash::{FxHashMap, FxHashSet};

use tantivy::tokenizer::{TokenStream, Tokenizer};

use super::analyzer::WordTokenizer;
use super::normalize::normalize;

/// Words allowed between two neighbouring words of a pattern.
pub const MAX_GAP: usize = 3;
/// Prefix patterns are indexed by this many leading characters.
const KEY_CHARS: usize = 3;

/// A word of a text: normalized form and its place in the original (code points, end exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    /// Byte length of the first characters of `text`: how prefix patterns are looked up.
    key_len: usize,
    pub start: usize,
    pub end: usize,
    /// The same place in bytes of the original text.
    pub byte_start: usize,
    pub byte_end: usize,
    /// Index of the sentence the word is in.
    pub sentence: usize,
}

/// Splits `text` into normalized words with code point offsets and sentence numbers.
pub fn words(text: &str) -> Vec<Word> {
    let mut tokenizer = WordTokenizer::default();
    let mut stream = tokenizer.token_stream(text);
    let mut words = Vec::new();
    let mut chars_before = 0;
    let mut byte_at = 0;
    let mut sentence = 0;
    while stream.advance() {
        let token = stream.token();
        let between = &text[byte_at..token.offset_from];
        if between.contains(['.', '!', '?', '\n', ';']) && !words.is_empty() {
            sentence += 1;
        }
        chars_before += between.chars().count();
        let length = text[token.offset_from..token.offset_to].chars().count();
        words.push(Word {
            key_len: token
                .text
                .char_indices()
                .nth(KEY_CHARS)
                .map_or(token.text.len(), |(i, _)| i),
            byte_start: token.offset_from,
            byte_end: token.offset_to,
            text: token.text.clone(),
            start: chars_before,
            end: chars_before + length,
            sentence,
        });
        chars_before += length;
        byte_at = token.offset_to;
    }
    words
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Exact(String),
    Prefix(String),
}

impl Part {
    fn matches(&self, word: &str) -> bool {
        match self {
            Part::Exact(exact) => word == exact,
            Part::Prefix(prefix) => word.starts_with(prefix.as_str()),
        }
    }

    fn key(&self) -> String {
        match self {
            Part::Exact(exact) => exact.clone(),
            Part::Prefix(prefix) => prefix.chars().take(KEY_CHARS).collect(),
        }
    }

    fn is_short_prefix(&self) -> bool {
        matches!(self, Part::Prefix(p) if p.chars().count() < KEY_CHARS)
    }
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    parts: Vec<Part>,
}

impl Pattern {
    pub fn parse(source: &str) -> Option<Pattern> {
        let parts: Vec<Part> = source
            .split_whitespace()
            .map(|word| match word.strip_suffix('*') {
                Some(prefix) => Part::Prefix(normalize(prefix)),
                None => Part::Exact(normalize(word)),
            })
            .filter(|part| !matches!(part, Part::Exact(w) | Part::Prefix(w) if w.is_empty()))
            .collect();
        (!parts.is_empty()).then_some(Pattern { parts })
    }

    /// The index of the last word if the pattern matches starting at `words[start]`, with no
    /// word of `breakers` between its words.
    fn match_at(
        &self,
        words: &[Word],
        start: usize,
        breakers: &FxHashSet<String>,
    ) -> Option<usize> {
        if !self.parts[0].matches(&words[start].text) {
            return None;
        }
        let mut last = start;
        for part in &self.parts[1..] {
            let window = (last + 1)..(last + 2 + MAX_GAP).min(words.len());
            last = window
                .into_iter()
                .take_while(|i| {
                    part.matches(&words[*i].text) || !breakers.contains(&words[*i].text)
                })
                .find(|i| part.matches(&words[*i].text))?;
        }
        Some(last)
    }
}

/// Where a pattern matched: the words `first..=last`; `tag` names the list it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub pattern: usize,
    pub tag: u16,
    pub first: usize,
    pub last: usize,
}

/// A set of tagged patterns, indexed for fast matching.
#[derive(Debug, Clone, Default)]
pub struct PatternSet {
    patterns: Vec<Pattern>,
    tags: Vec<u16>,
    by_key: FxHashMap<String, Vec<usize>>,
    /// Patterns whose first word is a prefix shorter than the key: checked against every word.
    unkeyed: Vec<usize>,
    /// Words that may not stand between the words of a pattern of one of `breaking_tags`.
    gap_breakers: FxHashSet<String>,
    breaking_tags: FxHashSet<u16>,
    /// No word breaks a gap: what patterns of other tags are matched with.
    no_breakers: FxHashSet<String>,
}

impl PatternSet {
    /// One untagged list.
    pub fn new<S: AsRef<str>>(sources: &[S]) -> PatternSet {
        let mut set = PatternSet::default();
        set.add(0, sources);
        set
    }

    /// Words that may not stand between the words of a multi-word pattern of one of `tags`
    /// (normalized): a negator there turns a threat or a word of praise around ("objavil pa ne
    /// bom" is no "objavil* bom"), where in a demand it belongs to its condition ("если деньги не
    /// придут на карту").
    pub fn break_gaps_at(&mut self, breakers: FxHashSet<String>, tags: &[u16]) {
        self.gap_breakers = breakers;
        self.breaking_tags = tags.iter().copied().collect();
    }

    /// Adds a list of patterns under `tag`.
    pub fn add<S: AsRef<str>>(&mut self, tag: u16, sources: &[S]) {
        let set = self;
        for source in sources {
            let Some(pattern) = Pattern::parse(source.as_ref()) else {
                continue;
            };
            let index = set.patterns.len();
            if pattern.parts[0].is_short_prefix() {
                set.unkeyed.push(index);
            } else {
                set.by_key
                    .entry(pattern.parts[0].key())
                    .or_default()
                    .push(index);
            }
            set.patterns.push(pattern);
            set.tags.push(tag);
        }
    }

    /// Every match in `words`, in text order.
    pub fn find_all(&self, words: &[Word]) -> Vec<Match> {
        let mut found = Vec::new();
        for (start, word) in words.iter().enumerate() {
            let candidates = self
                .by_key
                .get(&word.text)
                .into_iter()
                .chain(
                    self.by_key
                        .get(&word.text[..word.key_len])
                        .filter(|_| word.key_len != word.text.len()),
                )
                .flatten()
                .chain(self.unkeyed.iter());
            for &pattern in candidates {
                let tag = self.tags[pattern];
                let breakers = if self.breaking_tags.contains(&tag) {
                    &self.gap_breakers
                } else {
                    &self.no_breakers
                };
                if let Some(last) = self.patterns[pattern].match_at(words, start, breakers) {
                    found.push(Match {
                        pattern,
                        tag,
                        first: start,
                        last,
                    });
                }
            }
        }
        found
    }

    /// Whether any pattern matches.
    pub fn any(&self, words: &[Word]) -> bool {
        !self.find_all(words).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_carry_code_point_offsets_and_sentences() {
        let text = "Ёж пришёл. Кур’єр — ок!";
        let words = words(text);
        let texts: Vec<_> = words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["еж", "пришел", "кур'єр", "ок"]);
        let chars: Vec<char> = text.chars().collect();
        let second: String = chars[words[2].start..words[2].end].iter().collect();
        assert_eq!(second, "Кур’єр");
        assert_eq!(words[1].sentence, 0);
        assert_eq!(words[2].sentence, 1);
    }

    #[test]
    fn patterns_match_inflected_forms_within_a_window() {
        let set = PatternSet::new(&["напиш* отзыв*", "все узнают", "соцсет*"]);
        for text in [
            "Напишу отзывы везде",
            "напишем везде плохой отзыв",
            "ВСЕ УЗНАЮТ",
            "в соцсетях",
        ] {
            assert!(set.any(&words(text)), "{text}");
        }
        for text in [
            "написал отзыв",
            "напишу письмо директору, который прочитает мой отзыв",
            "всё узнаю",
        ] {
            assert!(!set.any(&words(text)), "{text}");
        }
    }

    #[test]
    fn a_breaker_in_a_gap_stops_the_patterns_of_the_tags_that_ask_for_it() {
        let mut set = PatternSet::default();
        set.add(1, &["objavil* bom", "ni en kupec ne bo"]);
        set.add(2, &["denar* na kartic*"]);
        set.break_gaps_at(FxHashSet::from_iter(["ne".to_string()]), &[1]);
        let tags =
            |text: &str| -> Vec<u16> { set.find_all(&words(text)).iter().map(|m| m.tag).collect() };
        assert_eq!(tags("objavil pa bom vse"), [1]);
        assert!(tags("objavil pa ne bom ničesar").is_empty());
        // A breaker that is a word of the pattern itself is matched, not skipped.
        assert_eq!(tags("ni en kupec ne bo prišel"), [1]);
        // Other tags keep their gaps: the negation belongs to the demand's condition.
        assert_eq!(tags("če denarja ne bo na kartici"), [2]);
    }

    #[test]
    fn matches_name_their_words() {
        let set = PatternSet::new(&["верн* деньг*"]);
        let words = words("Прошу, верните мне деньги.");
        let found = set.find_all(&words);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].first, found[0].last), (1, 3));
    }
}
