//! Does a text read like any language at all? Keyboard mashing ("ываоы лдывао", "sdfsdf
//! jkljkl") has vowels and no long consonant runs, so it passes the simple word checks of the
//! spam rule; what gives it away is that its letter sequences are improbable in every language of
//! its alphabet. A character trigram model per alphabet (Cyrillic, Latin), with counts from
//! sentences of fourteen languages (`assets/char_trigrams.tsv`, written by
//! `scripts/char_model.py`), scores the average log-probability per character.
//!
//! Written by hand: language-identification crates (lingua, whatlang) only rank languages
//! against each other and say nothing about whether a text is language at all.

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

const COUNTS: &str = include_str!("../../assets/char_trigrams.tsv");

/// Interpolation weights of the trigram, bigram and unigram estimates.
const TRIGRAM_WEIGHT: f64 = 0.6;
const BIGRAM_WEIGHT: f64 = 0.3;
const UNIGRAM_WEIGHT: f64 = 0.1;

/// Words shorter than this say too little about their letters to be judged.
const MIN_WORD_LETTERS: usize = 3;
/// Words judged per text: a mash shows in its first words, and long texts cost no more.
const MAX_WORDS: usize = 20;

/// Average log-probability per character below which a text of two or more words reads as
/// keyboard mashing. With counts from half of the sentences, no held-out Russian, Ukrainian or
/// Slovenian sentence came below −3.4, while 98% of generated mashes did below −3.5
/// (docs/signals.md).
const TEXT_THRESHOLD: f64 = -3.5;
/// A single word must be longer and further out: brand names alone ("husqvarna", −3.7) exist.
const SINGLE_WORD_THRESHOLD: f64 = -4.0;
const SINGLE_WORD_LETTERS: usize = 6;

#[derive(Default)]
struct Model {
    trigrams: FxHashMap<[char; 3], u32>,
    /// Counts of the first two characters of the trigrams, the last two, the middle one and
    /// the last one: the contexts and the backed-off estimates.
    heads: FxHashMap<[char; 2], u32>,
    tails: FxHashMap<[char; 2], u32>,
    middles: FxHashMap<char, u32>,
    lasts: FxHashMap<char, u32>,
    total: u32,
}

impl Model {
    fn add(&mut self, [a, b, c]: [char; 3], count: u32) {
        self.trigrams.insert([a, b, c], count);
        *self.heads.entry([a, b]).or_default() += count;
        *self.tails.entry([b, c]).or_default() += count;
        *self.middles.entry(b).or_default() += count;
        *self.lasts.entry(c).or_default() += count;
        self.total += count;
    }

    fn probability(&self, [a, b, c]: [char; 3]) -> f64 {
        let ratio = |count: Option<&u32>, of: Option<&u32>| match (count, of) {
            (Some(&count), Some(&of)) if of > 0 => f64::from(count) / f64::from(of),
            _ => 0.0,
        };
        let trigram = ratio(self.trigrams.get(&[a, b, c]), self.heads.get(&[a, b]));
        let bigram = ratio(self.tails.get(&[b, c]), self.middles.get(&b));
        let letters = self.lasts.len() as f64 + 1.0;
        let unigram = (f64::from(self.lasts.get(&c).copied().unwrap_or(0)) + 1.0)
            / (f64::from(self.total) + letters);
        TRIGRAM_WEIGHT * trigram + BIGRAM_WEIGHT * bigram + UNIGRAM_WEIGHT * unigram
    }

    /// Sum of the log-probabilities of a word's letters and its end.
    fn log_probability(&self, letters: &[char]) -> f64 {
        let (mut first, mut second) = ('^', '^');
        letters
            .iter()
            .copied()
            .chain(['$'])
            .map(|next| {
                let probability = self.probability([first, second, next]);
                (first, second) = (second, next);
                probability.ln()
            })
            .sum()
    }
}

struct Models {
    cyrillic: Model,
    latin: Model,
}

static MODELS: LazyLock<Models> = LazyLock::new(|| {
    let mut models = Models {
        cyrillic: Model::default(),
        latin: Model::default(),
    };
    for line in COUNTS.lines().filter(|line| !line.starts_with('#')) {
        let mut fields = line.split('\t');
        let (Some(script), Some(trigram), Some(count)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let chars: Vec<char> = trigram.chars().collect();
        let (Ok(chars), Ok(count)) = (<[char; 3]>::try_from(chars), count.parse::<u32>()) else {
            continue;
        };
        match script {
            "cyrillic" => models.cyrillic.add(chars, count),
            "latin" => models.latin.add(chars, count),
            _ => {}
        }
    }
    models
});

/// Average log-probability per character of `letters` under the better of the two models.
fn word_score(letters: &[char]) -> f64 {
    let steps = (letters.len() + 1) as f64;
    MODELS
        .cyrillic
        .log_probability(letters)
        .max(MODELS.latin.log_probability(letters))
        / steps
}

/// The letters of a normalized word (apostrophes and digits dropped), if there are enough.
fn letters_of(word: &str) -> Option<Vec<char>> {
    let letters: Vec<char> = word.chars().filter(|c| c.is_alphabetic()).collect();
    (letters.len() >= MIN_WORD_LETTERS).then_some(letters)
}

/// Whether the normalized `words` of a text read like keyboard mashing rather than any language
/// of their alphabet. Texts with no word of three letters are never judged.
pub fn is_mashing<'a>(words: impl IntoIterator<Item = &'a str>) -> bool {
    let (mut sum, mut steps, mut judged, mut letters) = (0.0, 0.0, 0, 0);
    for word_letters in words.into_iter().filter_map(letters_of).take(MAX_WORDS) {
        let length = (word_letters.len() + 1) as f64;
        sum += word_score(&word_letters) * length;
        steps += length;
        judged += 1;
        letters += word_letters.len();
    }
    match judged {
        0 => false,
        1 => letters >= SINGLE_WORD_LETTERS && sum / steps < SINGLE_WORD_THRESHOLD,
        _ => sum / steps < TEXT_THRESHOLD,
    }
}

/// Whether one normalized word looks mashed, to point at it as evidence.
pub fn is_mashed_word(word: &str) -> bool {
    letters_of(word).is_some_and(|letters| word_score(&letters) < TEXT_THRESHOLD)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mashing(text: &str) -> bool {
        is_mashing(text.split_whitespace())
    }

    #[test]
    fn keyboard_mashing_is_told_from_language() {
        for mash in [
            "ываоы лдывао",
            "фывапр олдж ывап",
            "sdfsdf jkljkl",
            "ыфвыф аоылвао",
        ] {
            assert!(mashing(mash), "{mash}");
        }
        for text in [
            "доставка опоздала на три дня",
            "ок спасибо",
            "все добре дякую",
            "super hvala",
            "paket ni prišel",
            "husqvarna",
            "great service thanks",
            "ттн 2045 не пришла",
        ] {
            assert!(!mashing(text), "{text}");
        }
    }

    #[test]
    fn short_words_are_not_judged() {
        assert!(!mashing("ы ф"));
        assert!(!mashing(""));
    }

    #[test]
    fn mashed_words_are_found_for_evidence() {
        assert!(is_mashed_word("ываоы"));
        assert!(!is_mashed_word("доставка"));
    }
}
