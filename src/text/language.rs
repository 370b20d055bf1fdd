//! Language identification for ru / uk / sl, and `und` for everything else.
//!
//! Decided in three steps, cheapest first:
//! 1. **Letters.** і ї є ґ are Ukrainian, ы э ё Russian; ў ѓ ђ љ ә … belong to neighbours
//!    (Belarusian, Macedonian, Serbian, Kazakh), ъ used as a vowel to Bulgarian; ć đ ř ě ą ł …
//!    to the Latin-script neighbours of Slovenian. Most real texts are settled here, at no cost.
//! 2. **Short texts** (one or two words) carry too little evidence to tell a language from its
//!    neighbours, so they are only placed among ours: Latin script without foreign letters is
//!    Slovenian, Cyrillic is Russian or Ukrainian as the n-gram models say.
//! 3. **Longer texts** the letters leave open go to character n-gram models of our three
//!    languages *and* eleven neighbours (lingua's models); only a win by one of ours counts.
//!
//! Why not whatlang alone: measured on `../shared/data/langid/` (see `docs/language.md`) it took
//! 34% of Bulgarian and 30% of English sentences for ours and got 94% of Russian sentences.
//! whatlang remains the baseline that `triage eval langid` compares against.

use std::sync::LazyLock;

use lingua::Language;

/// The languages triage analyses, as ISO 639-1 codes.
pub const SUPPORTED: [&str; 3] = ["ru", "uk", "sl"];
/// The code for "not sure, or not one of ours".
pub const UNDETERMINED: &str = "und";

/// The model confidence Ukrainian needs on a Cyrillic text without і ї є ґ (tuned on the
/// lingua-rs test set; see docs/language.md).
const UNMARKED_UKRAINIAN_MIN: f64 = 0.55;
/// The same for one or two words.
const UNMARKED_UKRAINIAN_MIN_SHORT: f64 = 0.53;

/// Texts with fewer words than this are "short" (step 2 above).
const SHORT_TEXT_WORDS: usize = 3;

/// The outcome of language identification.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// `ru`, `uk`, `sl` or `und`.
    pub language: &'static str,
    /// 0..1.
    pub confidence: f64,
}

impl Detection {
    fn undetermined() -> Self {
        Detection {
            language: UNDETERMINED,
            confidence: 0.0,
        }
    }

    fn certain(language: &'static str) -> Self {
        Detection {
            language,
            confidence: 0.99,
        }
    }
}

/// Letter evidence gathered in one pass over the text.
#[derive(Debug, Default)]
struct LetterCounts {
    cyrillic: usize,
    latin: usize,
    other_letters: usize,
    words: usize,
    /// ї є ґ.
    ukrainian_only: usize,
    /// і (also Belarusian and Kazakh).
    ukrainian_i: usize,
    /// ы э ё.
    russian_only: usize,
    /// ъ used as a vowel (not before е ё ю я): Bulgarian, never Russian.
    hard_sign_vowel: usize,
    /// и and щ, which Belarusian lacks.
    i_or_shcha: usize,
    foreign_cyrillic: usize,
    foreign_latin: usize,
}

impl LetterCounts {
    fn of(text: &str) -> Self {
        let mut counts = LetterCounts::default();
        let mut in_word = false;
        let mut letters = text.chars().flat_map(char::to_lowercase).peekable();
        while let Some(c) = letters.next() {
            if !c.is_alphabetic() {
                in_word = in_word && (c == '\'' || c == '’' || c == 'ʼ' || c == '-');
                continue;
            }
            if !in_word {
                counts.words += 1;
                in_word = true;
            }
            match c {
                'ї' | 'є' | 'ґ' => counts.ukrainian_only += 1,
                'і' => counts.ukrainian_i += 1,
                'ы' | 'э' | 'ё' => counts.russian_only += 1,
                'и' | 'щ' => counts.i_or_shcha += 1,
                'ъ' if !matches!(letters.peek(), Some('е' | 'ё' | 'ю' | 'я')) => {
                    counts.hard_sign_vowel += 1
                }
                'ў' | 'ѓ' | 'ќ' | 'ѕ' | 'ђ' | 'ћ' | 'љ' | 'њ' | 'џ' | 'ј' | 'ә' | 'ғ' | 'қ'
                | 'ң' | 'ө' | 'ұ' | 'ү' | 'һ' => counts.foreign_cyrillic += 1,
                'ć' | 'đ' | 'ř' | 'ě' | 'ů' | 'ý' | 'á' | 'é' | 'í' | 'ó' | 'ú' | 'ä' | 'ô'
                | 'ĺ' | 'ľ' | 'ŕ' | 'ą' | 'ę' | 'ł' | 'ń' | 'ś' | 'ź' | 'ż' | 'ť' | 'ď' | 'ň' => {
                    counts.foreign_latin += 1
                }
                _ => {}
            }
            if ('\u{0400}'..='\u{052F}').contains(&c) {
                counts.cyrillic += 1;
            } else if c.is_ascii_alphabetic() || ('\u{00C0}'..='\u{024F}').contains(&c) {
                counts.latin += 1;
            } else {
                counts.other_letters += 1;
            }
        }
        counts
    }

    fn letters(&self) -> usize {
        self.cyrillic + self.latin + self.other_letters
    }
}

/// Which script dominates a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Cyrillic,
    Latin,
    Other,
}

fn script(counts: &LetterCounts) -> Script {
    let letters = counts.letters().max(1) as f64;
    // Half is enough: feedback quotes product names and addresses in the other script.
    if counts.cyrillic as f64 / letters >= 0.5 {
        Script::Cyrillic
    } else if counts.latin as f64 / letters >= 0.5 {
        Script::Latin
    } else {
        Script::Other
    }
}

fn code(language: Language) -> &'static str {
    match language {
        Language::Russian => "ru",
        Language::Ukrainian => "uk",
        Language::Slovene => "sl",
        _ => UNDETERMINED,
    }
}

/// The n-gram models, loaded once per process (about 80 MB; building them takes a second).
struct Models {
    /// Russian against Ukrainian only, for short Cyrillic texts and mixed ones.
    russian_or_ukrainian: lingua::LanguageDetector,
    /// Russian, Ukrainian or Belarusian, for texts that might be Belarusian.
    east_slavic: lingua::LanguageDetector,
    /// Cyrillic texts without telling letters: ours against the South Slavic neighbours.
    unmarked_cyrillic: lingua::LanguageDetector,
    /// Latin texts: Slovenian against its neighbours.
    latin: lingua::LanguageDetector,
}

static MODELS: LazyLock<Models> = LazyLock::new(|| {
    use Language::*;
    Models {
        russian_or_ukrainian: lingua::LanguageDetectorBuilder::from_languages(&[
            Russian, Ukrainian,
        ])
        .with_preloaded_language_models()
        .build(),
        east_slavic: lingua::LanguageDetectorBuilder::from_languages(&[
            Russian, Ukrainian, Belarusian,
        ])
        .with_preloaded_language_models()
        .build(),
        unmarked_cyrillic: lingua::LanguageDetectorBuilder::from_languages(&[
            Russian, Ukrainian, Bulgarian, Macedonian, Serbian,
        ])
        .with_preloaded_language_models()
        .build(),
        latin: lingua::LanguageDetectorBuilder::from_languages(&[
            Slovene, Croatian, Bosnian, Serbian, Slovak, Czech, Polish, English,
        ])
        .with_preloaded_language_models()
        .build(),
    }
});

/// Identifies the language of feedback texts. Cheap to create; the models are shared.
#[derive(Debug, Clone, Copy, Default)]
pub struct LanguageDetector;

impl LanguageDetector {
    pub fn new() -> Self {
        LanguageDetector
    }

    /// Loads the models now rather than on the first text (the server calls this at start-up).
    pub fn warm_up(&self) {
        LazyLock::force(&MODELS);
    }

    /// Detects the language of `text`, using `hint` (an ISO 639-1 code, may be empty) when the
    /// text does not contradict it.
    pub fn detect(&self, text: &str, hint: &str) -> Detection {
        let counts = LetterCounts::of(text);
        if counts.letters() == 0 {
            return Detection::undetermined();
        }
        let script = script(&counts);
        let detected = match script {
            Script::Cyrillic => decide_cyrillic(text, &counts),
            Script::Latin => decide_latin(text, &counts),
            Script::Other => Detection::undetermined(),
        };
        apply_hint(detected, hint, &counts, script)
    }
}

/// The best-scoring language of `detector`, if it is one of ours.
fn decide_by(detector: &lingua::LanguageDetector, text: &str) -> Detection {
    match detector.compute_language_confidence_values(text).first() {
        Some((language, confidence)) if code(*language) != UNDETERMINED => Detection {
            language: code(*language),
            confidence: *confidence,
        },
        _ => Detection::undetermined(),
    }
}

/// Like [`decide_by`], but on short texts one of ours wins when its confidence is within a
/// factor of the winner's: the neighbours' models overfit short Russian phrases.
fn decide_leaning_to_ours(
    detector: &lingua::LanguageDetector,
    text: &str,
    letters: usize,
) -> Detection {
    let values = detector.compute_language_confidence_values(text);
    let Some((top_language, top)) = values.first().copied() else {
        return Detection::undetermined();
    };
    if code(top_language) != UNDETERMINED {
        return Detection {
            language: code(top_language),
            confidence: top,
        };
    }
    let factor = if letters < 40 { 0.5 } else { 0.9 };
    values
        .iter()
        .find(|(language, confidence)| {
            code(*language) != UNDETERMINED && *confidence >= top * factor
        })
        .map_or_else(Detection::undetermined, |(language, confidence)| {
            Detection {
                language: code(*language),
                confidence: *confidence,
            }
        })
}

fn decide_cyrillic(text: &str, counts: &LetterCounts) -> Detection {
    let bulgarian = counts.hard_sign_vowel > 0 && counts.russian_only == 0;
    if counts.foreign_cyrillic > 0 || bulgarian {
        return Detection::undetermined();
    }
    // Belarusian has ы э ё but neither и nor щ, which are frequent in Russian (a Russian text of
    // 80 letters lacks both about once in a thousand).
    if counts.words >= SHORT_TEXT_WORDS && counts.i_or_shcha == 0 && counts.russian_only > 0 {
        return if counts.cyrillic >= 80 {
            Detection::undetermined()
        } else {
            decide_by(&MODELS.east_slavic, text)
        };
    }
    let ukrainian = counts.ukrainian_only + counts.ukrainian_i;
    match (ukrainian > 0, counts.russian_only > 0) {
        (true, false) => Detection::certain("uk"),
        (false, true) => Detection::certain("ru"),
        // Mixed (a Ukrainian text quoting Russian, or surzhyk): the models weigh the whole.
        (true, true) => decide_by(&MODELS.russian_or_ukrainian, text),
        (false, false) => {
            let (south, _) = word_votes(text, SOUTH_SLAVIC_WORDS, EAST_SLAVIC_WORDS);
            let (ukrainian_words, russian_words) = word_votes(text, UKRAINIAN_WORDS, RUSSIAN_WORDS);
            let detected = if south > 0 {
                Detection::undetermined()
            } else if ukrainian_words != russian_words {
                let language = if ukrainian_words > russian_words {
                    "uk"
                } else {
                    "ru"
                };
                Detection {
                    language,
                    confidence: 0.8,
                }
            } else if counts.words < SHORT_TEXT_WORDS {
                decide_by(&MODELS.russian_or_ukrainian, text)
            } else {
                decide_leaning_to_ours(&MODELS.unmarked_cyrillic, text, counts.cyrillic)
            };
            // No і ї є ґ at all is much likelier in Russian than in Ukrainian: Ukrainian must
            // win clearly.
            let needed = if counts.words < SHORT_TEXT_WORDS {
                UNMARKED_UKRAINIAN_MIN_SHORT
            } else {
                UNMARKED_UKRAINIAN_MIN
            };
            if detected.language == "uk" && detected.confidence < needed {
                Detection {
                    language: "ru",
                    confidence: 1.0 - detected.confidence,
                }
            } else {
                detected
            }
        }
    }
}

/// Frequent words that only Slovenian uses (first list) or that Croatian, Bosnian, Serbian or
/// English use and Slovenian does not (second list), as a cheap vote before the models.
const SLOVENIAN_WORDS: &[&str] = &[
    // Not "v": Czech has it too.
    "ki", "in", "tudi", "ni", "sem", "ker", "kot", "bo", "bom", "še", "že", "zelo", "kaj", "kje",
    "lahko", "nič", "ampak", "vendar", "jaz", "so", "bil", "kateri", "katera", "pri", "ter", "če",
    "zakaj",
];
const NON_SLOVENIAN_WORDS: &[&str] = &[
    "the", "and", "of", "to", "is", "was", "for", "with", "that", "on", "at", "by", "from", "u",
    "i", "su", "nije", "bio", "što", "šta", "sam", "kao", "jer", "već", "ću", "će", "sve", "ovo",
    "kada", "gdje", "gde", "tko", "ko", "nema", "vrlo", "koji", "koja", "koje",
    // Czech and Slovak as typed without diacritics, and Polish.
    "co", "jsem", "jsou", "byl", "byla", "jako", "ktery", "ktera", "ktere", "nebo", "pro", "aby",
    "jen", "uz", "jeho", "ale", "podle", "roce", "vse", "jsme", "jste", "sa", "som", "ako",
    "alebo", "ktory", "aj", "len", "pre", "sie", "jest", "nie", "w", "ze", "jak",
];

/// How many words of `text` are only in `ours` and how many only in `theirs`.
fn word_votes(text: &str, ours: &[&str], theirs: &[&str]) -> (usize, usize) {
    let (mut for_ours, mut for_theirs) = (0, 0);
    for word in text
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_lowercase();
        let in_ours = ours.contains(&word.as_str());
        let in_theirs = theirs.contains(&word.as_str());
        for_ours += usize::from(in_ours && !in_theirs);
        for_theirs += usize::from(in_theirs && !in_ours);
    }
    (for_ours, for_theirs)
}

/// Frequent words only Ukrainian has (first list) and only Russian has (second), for Cyrillic
/// texts without telling letters. Words Bulgarian or Serbian share (и, или, как, но, где, он,
/// она, они) are left out.
const UKRAINIAN_WORDS: &[&str] = &[
    "але",
    "нема",
    "немає",
    "що",
    "як",
    "це",
    "де",
    "ще",
    "вже",
    "дуже",
    "треба",
    "та",
    "мене",
    "було",
    "була",
    "були",
    "коли",
    "тому",
    "щоб",
    "чому",
    "зараз",
    "вона",
    "вони",
    "його",
    "або",
    "можна",
    "теж",
    "також",
    "сказала",
    "сказав",
];
const RUSSIAN_WORDS: &[&str] = &[
    "что",
    "это",
    "уже",
    "еще",
    "очень",
    "его",
    "нет",
    "надо",
    "меня",
    "было",
    "была",
    "были",
    "когда",
    "потому",
    "чтобы",
    "почему",
    "сейчас",
    "можно",
    "тоже",
    "также",
    "сказала",
    "сказал",
    "только",
    "ничего",
];

/// Words shared with Russian or Ukrainian that must not count as South Slavic evidence.
const EAST_SLAVIC_WORDS: &[&str] = &["не", "да", "во", "со"];

/// Frequent Bulgarian, Macedonian and Serbian words that never stand alone in Russian or
/// Ukrainian, for Cyrillic texts without telling letters.
const SOUTH_SLAVIC_WORDS: &[&str] = &[
    "се",
    "е",
    "од",
    "су",
    "има",
    "го",
    "ги",
    "што",
    "беше",
    "бил",
    "била",
    "биле",
    "сум",
    "сме",
    "ова",
    "тоа",
    "таа",
    "като",
    "който",
    "която",
    "което",
    "тези",
    "този",
    "тази",
    "али",
    "према",
    "кроз",
    "во",
    "со",
    "не",
    "да",
];

fn decide_latin(text: &str, counts: &LetterCounts) -> Detection {
    if counts.words < SHORT_TEXT_WORDS {
        return if counts.foreign_latin == 0 {
            Detection {
                language: "sl",
                confidence: 0.6,
            }
        } else {
            Detection::undetermined()
        };
    }
    // A foreign name or two in a Slovenian text is normal; many foreign letters are not.
    if counts.foreign_latin * 20 > counts.latin {
        return Detection::undetermined();
    }
    let (slovenian, other) = word_votes(text, SLOVENIAN_WORDS, NON_SLOVENIAN_WORDS);
    if (slovenian >= 1 && other == 0) || (slovenian >= 2 && slovenian >= 2 * other) {
        return Detection {
            language: "sl",
            confidence: 0.9,
        };
    }
    if other >= 2 && slovenian == 0 {
        return Detection::undetermined();
    }
    decide_by(&MODELS.latin, text)
}

/// Takes the client's hint when the script agrees and no letter contradicts it.
fn apply_hint(detected: Detection, hint: &str, counts: &LetterCounts, script: Script) -> Detection {
    if detected.language == hint {
        return detected;
    }
    let agrees = match hint {
        "ru" => {
            script == Script::Cyrillic
                && counts.foreign_cyrillic == 0
                && counts.ukrainian_only + counts.ukrainian_i == 0
        }
        "uk" => {
            script == Script::Cyrillic && counts.foreign_cyrillic == 0 && counts.russian_only == 0
        }
        "sl" => script == Script::Latin && counts.foreign_latin == 0,
        _ => false,
    };
    // A confident decision for another of our languages outweighs the hint.
    if !agrees || (detected.language != UNDETERMINED && detected.confidence >= 0.9) {
        return detected;
    }
    match SUPPORTED.iter().find(|code| **code == hint) {
        Some(code) => Detection {
            language: code,
            confidence: 0.6,
        },
        None => detected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(text: &str) -> &'static str {
        LanguageDetector::new().detect(text, "").language
    }

    #[test]
    fn detects_our_three_languages() {
        assert_eq!(
            lang("Доставка опоздала на три дня, курьер не отвечал на звонки."),
            "ru"
        );
        assert_eq!(
            lang("Доставка запізнилася на три дні, кур'єр не відповідав."),
            "uk"
        );
        assert_eq!(
            lang("Dostava je zamujala tri dni, kurir se ni oglasil."),
            "sl"
        );
        assert_eq!(lang("доставка"), "ru");
        assert_eq!(lang("dostavo"), "sl");
    }

    #[test]
    fn neighbours_are_not_ours() {
        assert_eq!(
            lang("Доставката закъсня с три дни и никой не отговори."),
            "und"
        );
        assert_eq!(
            lang("Dostava je kasnila tri dana, kurir se nije javljao ni jednom."),
            "und"
        );
        assert_eq!(
            lang("The delivery was three days late and nobody called."),
            "und"
        );
        assert_eq!(lang("Dostawa spóźniła się o trzy dni."), "und");
        assert_eq!(lang("12345 !!!"), "und");
    }

    #[test]
    fn hint_wins_only_when_the_text_agrees() {
        let detector = LanguageDetector::new();
        assert_eq!(detector.detect("Привет", "uk").language, "uk");
        assert_eq!(detector.detect("Это было ужасно", "uk").language, "ru");
    }
}
