//! Tantivy analyzers for ru / uk / sl and a diacritic-folded one (DESIGN.md §5).
//!
//! Every analyzer starts with [`WordTokenizer`], which splits words and normalizes each one as
//! `text::normalize` does (NFC, case fold, `ё→е`, one apostrophe, no zero-width characters)
//! while keeping offsets into the original text, so snippets highlight the text as written.
//! Then: stop words (stopwords-iso via the `stop-words` crate), and a stemmer:
//! ru Snowball Russian (tantivy's), uk Snowball Ukrainian (`frostem` 2), sl our own light
//! stemmer (`stem_sl`). The folded analyzer also removes diacritics (č→c, š→s, ž→z) so a query
//! typed without them still matches.

use std::sync::{Arc, LazyLock};

use tantivy::Index;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, RemoveLongFilter, Stemmer, StopWordFilter, TextAnalyzer, Token,
    TokenFilter, TokenStream, Tokenizer,
};

use super::normalize::{APOSTROPHE, normalize, normalize_word_into};
use super::stem_sl;

/// Tokenizer names registered on the index.
pub const RU: &str = "triage_ru";
pub const UK: &str = "triage_uk";
pub const SL: &str = "triage_sl";
pub const FOLDED: &str = "triage_folded";

/// Words longer than this (in bytes) are noise: URLs, hashes, base64.
const MAX_TOKEN_BYTES: usize = 64;

/// Splits words (letters and digits, with apostrophes and joiners inside a word) and normalizes
/// each. Hand-written because tantivy's tokenizers split Ukrainian words at the apostrophe
/// ("кур'єр") and do not normalize.
#[derive(Clone, Default)]
pub struct WordTokenizer {
    token: Token,
}

pub struct WordTokenStream<'a> {
    text: &'a str,
    position: usize,
    token: &'a mut Token,
}

/// Letters, digits and combining marks. The Cyrillic and Latin blocks are answered without
/// `char::is_alphanumeric`, whose table lookup dominated the cost of analysis.
pub fn is_word_char(c: char) -> bool {
    match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' => true,
        '\u{0400}'..='\u{0481}' | '\u{048A}'..='\u{04FF}' => true,
        '\u{00C0}'..='\u{024F}' => c != '\u{00D7}' && c != '\u{00F7}',
        '\u{0300}'..='\u{036F}' => true,
        _ if c.is_ascii() => false,
        _ => c.is_alphanumeric(),
    }
}

fn is_inner_joiner(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2019}' | '\u{02BC}' | '`' | '\u{2018}' | '\u{200B}'
            ..='\u{200D}' | '\u{00AD}' | '\u{2060}'
    )
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordTokenStream<'a> {
        self.token.reset();
        WordTokenStream {
            text,
            position: 0,
            token: &mut self.token,
        }
    }
}

impl TokenStream for WordTokenStream<'_> {
    fn advance(&mut self) -> bool {
        let rest = &self.text[self.position..];
        let Some((start_in_rest, _)) = rest.char_indices().find(|(_, c)| is_word_char(*c)) else {
            self.position = self.text.len();
            return false;
        };
        let start = self.position + start_in_rest;
        let mut end = start;
        let mut chars = self.text[start..].char_indices().peekable();
        while let Some((offset, c)) = chars.next() {
            if is_word_char(c) {
                end = start + offset + c.len_utf8();
            } else if is_inner_joiner(c)
                && chars.peek().is_some_and(|(_, next)| is_word_char(*next))
            {
                continue;
            } else {
                break;
            }
        }
        self.position = end;
        self.token.text.clear();
        normalize_word_into(&self.text[start..end], &mut self.token.text);
        // A joiner kept inside a word is normalized to the one apostrophe or dropped.
        self.token.text.retain(|c| c != '\u{00AD}');
        self.token.offset_from = start;
        self.token.offset_to = end;
        self.token.position = self.token.position.wrapping_add(1);
        true
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// A stemming function applied to each token.
type StemFn = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// A token filter that replaces each token's text by its stem.
#[derive(Clone)]
pub struct StemFilter(StemFn);

impl StemFilter {
    pub fn ukrainian() -> StemFilter {
        let stemmer = frostem::Stemmer::new(frostem::Algorithm::Ukrainian);
        // The Ukrainian Snowball algorithm expects the apostrophe as U+2019.
        StemFilter(Arc::new(move |word| {
            let word = word.replace(APOSTROPHE, "\u{2019}");
            stemmer.stem(&word).replace('\u{2019}', "'")
        }))
    }

    pub fn slovenian() -> StemFilter {
        StemFilter(Arc::new(stem_sl::stem))
    }
}

impl TokenFilter for StemFilter {
    type Tokenizer<T: Tokenizer> = StemFilterWrapper<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> StemFilterWrapper<T> {
        StemFilterWrapper {
            stem: self.0,
            inner: tokenizer,
        }
    }
}

#[derive(Clone)]
pub struct StemFilterWrapper<T> {
    stem: StemFn,
    inner: T,
}

impl<T: Tokenizer> Tokenizer for StemFilterWrapper<T> {
    type TokenStream<'a> = StemTokenStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        StemTokenStream {
            stem: &self.stem,
            tail: self.inner.token_stream(text),
        }
    }
}

pub struct StemTokenStream<'a, T> {
    stem: &'a StemFn,
    tail: T,
}

impl<T: TokenStream> TokenStream for StemTokenStream<'_, T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        token.text = (self.stem)(&token.text);
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

fn stop_words(language: stop_words::LANGUAGE) -> StopWordFilter {
    StopWordFilter::remove(stop_words::get(language).iter().map(|w| normalize(w)))
}

/// Analyzers built once: building one parses the whole stopwords-iso list.
static ANALYZERS: LazyLock<[TextAnalyzer; 4]> =
    LazyLock::new(|| [RU, UK, SL, FOLDED].map(build_analyzer));

/// The analyzer for one of `ru`, `uk`, `sl`, or the folded one (any other name).
pub fn analyzer(name: &str) -> TextAnalyzer {
    let index = match name {
        RU => 0,
        UK => 1,
        SL => 2,
        _ => 3,
    };
    ANALYZERS[index].clone()
}

fn build_analyzer(name: &str) -> TextAnalyzer {
    let base = TextAnalyzer::builder(WordTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES));
    match name {
        RU => base
            .filter(stop_words(stop_words::LANGUAGE::Russian))
            .filter(Stemmer::new(Language::Russian))
            .build(),
        UK => base
            .filter(stop_words(stop_words::LANGUAGE::Ukrainian))
            .filter(StemFilter::ukrainian())
            .build(),
        SL => base
            .filter(stop_words(stop_words::LANGUAGE::Slovenian))
            .filter(StemFilter::slovenian())
            .build(),
        _ => base
            .filter(AsciiFoldingFilter)
            .filter(StemFilter::slovenian())
            .build(),
    }
}

/// The stem of one word under a language's analyzer, without stop-word removal (for measuring
/// the stemmers on word lists).
pub fn stem_word(name: &str, word: &str) -> String {
    let base = TextAnalyzer::builder(WordTokenizer::default());
    let mut analyzer = match name {
        RU => base.filter(Stemmer::new(Language::Russian)).build(),
        UK => base.filter(StemFilter::ukrainian()).build(),
        SL => base.filter(StemFilter::slovenian()).build(),
        _ => base
            .filter(AsciiFoldingFilter)
            .filter(StemFilter::slovenian())
            .build(),
    };
    let mut stream = analyzer.token_stream(word);
    let mut stem = String::new();
    while stream.advance() {
        stem.push_str(&stream.token().text);
    }
    stem
}

/// The tokenizer name of the text field for a language code (`und` has none of its own).
pub fn tokenizer_for_language(language: &str) -> Option<&'static str> {
    match language {
        "ru" => Some(RU),
        "uk" => Some(UK),
        "sl" => Some(SL),
        _ => None,
    }
}

/// Registers every analyzer on `index`.
pub fn register(index: &Index) {
    for name in [RU, UK, SL, FOLDED] {
        index.tokenizers().register(name, analyzer(name));
    }
}

/// The analyzed terms of `text`.
pub fn terms(name: &str, text: &str) -> Vec<String> {
    let mut analyzer = analyzer(name);
    let mut stream = analyzer.token_stream(text);
    let mut terms = Vec::new();
    while stream.advance() {
        terms.push(stream.token().text.clone());
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_forms_meet_per_language() {
        assert_eq!(terms(RU, "доставка"), terms(RU, "доставкой"));
        assert_eq!(terms(RU, "доставка"), terms(RU, "доставку"));
        assert_eq!(terms(UK, "скарга"), terms(UK, "скаргою"));
        assert_eq!(terms(SL, "dostava"), terms(SL, "dostavo"));
        assert_eq!(terms(FOLDED, "čakal"), terms(FOLDED, "cakal"));
    }

    #[test]
    fn apostrophes_and_yo_are_normalized_and_offsets_point_into_the_original() {
        let mut analyzer = analyzer(UK);
        let text = "Кур’єр приїхав";
        let mut stream = analyzer.token_stream(text);
        assert!(stream.advance());
        let token = stream.token().clone();
        assert_eq!(&text[token.offset_from..token.offset_to], "Кур’єр");
        assert_eq!(terms(UK, "кур'єр"), terms(UK, "КУРʼЄР"));
        assert_eq!(terms(RU, "ёлка"), terms(RU, "елка"));
    }

    #[test]
    fn stop_words_are_dropped() {
        assert!(terms(RU, "и в на").is_empty());
        assert_eq!(terms(SL, "in dostava").len(), 1);
    }
}
