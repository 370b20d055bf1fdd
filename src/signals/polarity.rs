//! Lexicon-based polarity with negation, intensifiers and contrast.
//!
//! Every positive or negative pattern that matches contributes ±1 (the longest match wins where
//! patterns overlap, so "не рекомендую" counts once, as negative). A negator among the two words
//! before a match flips it and weakens it (×−0.8: "не плохо" is not praise); an intensifier just
//! before it strengthens it (×1.5). In a sentence with a contrast word ("но", "але", "ampak"),
//! what follows the contrast weighs ×1.5 and what precedes it ×0.6, because the clause after
//! "but" carries the writer's verdict. The sum `s` becomes `s / (|s| + 1)`, in −1..1: one clear
//! word gives ±0.5, two ±0.67.
//!
//! A Customer Effort Score rates how easy the issue was to handle, which the tone alone misses
//! ("всё очень просто" has no word of praise), so [`effort`] also counts the lexicons' words of
//! little and much effort.

use crate::model::{Sentiment, TextSpan};
use crate::text::lexicon::{Match, Word};

use super::lexicons::{Category, Found, Lexicon};

/// |polarity| at which the tone counts as positive or negative.
pub const SENTIMENT_THRESHOLD: f64 = 0.2;

#[derive(Debug, Clone, PartialEq)]
pub struct Polarity {
    pub value: f64,
    pub sentiment: Sentiment,
    /// Words that pushed the value down, and up.
    pub negative_evidence: Vec<TextSpan>,
    pub positive_evidence: Vec<TextSpan>,
}

fn span(text: &str, words: &[Word], found: &Match) -> TextSpan {
    let (first, last) = (&words[found.first], &words[found.last]);
    TextSpan {
        start: first.start,
        end: last.end,
        text: text[first.byte_start..last.byte_end].to_string(),
    }
}

/// Polarity from the matches each applicable lexicon found in the text.
pub fn polarity(found: &[(&Lexicon, Found)], text: &str, words: &[Word]) -> Polarity {
    tone(
        found,
        text,
        words,
        &[Category::Positive],
        &[Category::Negative],
    )
}

/// Polarity with little effort counted as positive and much effort as negative: how a text reads
/// against a Customer Effort Score.
pub fn effort(found: &[(&Lexicon, Found)], text: &str, words: &[Word]) -> Polarity {
    tone(
        found,
        text,
        words,
        &[Category::Positive, Category::Easy],
        &[Category::Negative, Category::Hard],
    )
}

fn tone(
    found: &[(&Lexicon, Found)],
    text: &str,
    words: &[Word],
    positive: &[Category],
    negative: &[Category],
) -> Polarity {
    let mut total = 0.0;
    let mut negative_evidence = Vec::new();
    let mut positive_evidence = Vec::new();
    for (lexicon, found) in found {
        let mut matches: Vec<(Match, f64)> = positive
            .iter()
            .flat_map(|&category| found.of(category).map(|m| (*m, 1.0)))
            .chain(
                negative
                    .iter()
                    .flat_map(|&category| found.of(category).map(|m| (*m, -1.0))),
            )
            .collect();
        matches.sort_by_key(|(m, _)| (m.first, std::cmp::Reverse(m.last)));
        let mut covered_until = None;
        for (found, base) in matches {
            if covered_until.is_some_and(|end| found.first <= end) {
                continue;
            }
            covered_until = Some(found.last);
            let mut weight = base;
            let before = found.first.saturating_sub(2)..found.first;
            if before
                .clone()
                .any(|i| lexicon.negators.contains(&words[i].text))
            {
                weight *= -0.8;
            }
            if found.first > 0 && lexicon.intensifiers.contains(&words[found.first - 1].text) {
                weight *= 1.5;
            }
            let sentence = words[found.first].sentence;
            let contrast = words
                .iter()
                .position(|w| w.sentence == sentence && lexicon.contrast.contains(&w.text));
            if let Some(at) = contrast {
                weight *= if found.first > at { 1.5 } else { 0.6 };
            }
            total += weight;
            let evidence = span(text, words, &found);
            if weight < 0.0 {
                negative_evidence.push(evidence);
            } else {
                positive_evidence.push(evidence);
            }
        }
    }
    let value = total / (total.abs() + 1.0);
    let sentiment = if value <= -SENTIMENT_THRESHOLD {
        Sentiment::Negative
    } else if value >= SENTIMENT_THRESHOLD {
        Sentiment::Positive
    } else {
        Sentiment::Neutral
    };
    Polarity {
        value,
        sentiment,
        negative_evidence,
        positive_evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::lexicons::Lexicons;
    use crate::text::lexicon::words;

    type Reading = fn(&[(&Lexicon, Found)], &str, &[Word]) -> Polarity;

    fn read(reading: Reading, language: &str, text: &str) -> f64 {
        let lexicons = Lexicons::embedded();
        let words = words(text);
        let found: Vec<_> = lexicons
            .for_language(language)
            .into_iter()
            .map(|l| (l, l.find(&words)))
            .collect();
        reading(&found, text, &words).value
    }

    fn value(language: &str, text: &str) -> f64 {
        read(polarity, language, text)
    }

    #[test]
    fn tone_follows_the_words() {
        assert!(value("ru", "Ужасный сервис, курьер нагрубил.") <= -0.5);
        assert!(value("ru", "Отличный магазин, спасибо!") >= 0.5);
        assert!(value("uk", "Дуже задоволена, дякую за швидку доставку.") >= 0.5);
        assert!(value("sl", "Grozna izkušnja, izdelek je prišel poškodovan.") <= -0.5);
    }

    #[test]
    fn negation_flips_and_contrast_decides() {
        assert!(value("ru", "Мне не понравилось.") < 0.0);
        assert!(value("sl", "Ne priporočam.") < 0.0);
        assert!(
            value(
                "uk",
                "Ціни нормальні, але обслуговування жахливе і дуже повільне."
            ) < -0.3
        );
        assert!(
            value(
                "ru",
                "Доставка задержалась, но курьер был очень вежлив и всё отлично."
            ) > 0.3
        );
    }

    #[test]
    fn effort_counts_words_of_effort_that_the_tone_misses() {
        let easy = "Оформление заняло две минуты, всё очень просто.";
        assert!(value("ru", easy).abs() < 0.2);
        assert!(read(effort, "ru", easy) >= 0.5);
        let hard = "Довелося тричі дзвонити і пояснювати одне й те саме.";
        assert!(read(effort, "uk", hard) <= -0.5);
        assert!(read(effort, "sl", "Vse je bilo zelo enostavno urejeno.") >= 0.5);
        // A negator flips effort as it flips tone.
        assert!(
            read(
                effort,
                "ru",
                "Никуда не пришлось ехать, всё решили по телефону."
            ) > 0.0
        );
    }
}
