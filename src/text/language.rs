//! Language identification for ru / uk / sl: whatlang first, then our own decision for the
//! confusable cases using letters that only one language of the family has.
//!
//! whatlang alone confuses Russian with Ukrainian on short texts and has no notion of "none of
//! ours", so letters decide where they can: і ї є ґ are Ukrainian, ы э ъ ё Russian; ў, ѓ, ђ, љ
//! and friends belong to neighbours (Belarusian, Macedonian, Serbian, Kazakh), and ć đ ř ě ą ł …
//! to Latin-script neighbours of Slovenian. whatlang is asked with neighbours in its allowlist so
//! that a Bulgarian or Croatian text is not forced into one of our three.

use whatlang::{Detector, Lang};

/// The languages triage analyses, as ISO 639-1 codes.
pub const SUPPORTED: [&str; 3] = ["ru", "uk", "sl"];
/// The code for "not sure, or not one of ours".
pub const UNDETERMINED: &str = "und";

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
}

/// Letter evidence gathered in one pass over the text.
#[derive(Debug, Default)]
struct LetterCounts {
    cyrillic: usize,
    latin: usize,
    other_letters: usize,
    ukrainian_only: usize,
    russian_only: usize,
    ukrainian_i: usize,
    /// ъ used as a vowel (not before е ё ю я): Bulgarian, never Russian.
    hard_sign_vowel: usize,
    foreign_cyrillic: usize,
    foreign_latin: usize,
    /// Frequent words only Russian has (in Cyrillic with no і ї є ґ ы э ъ ё to tell).
    russian_words: usize,
    /// Frequent words only Ukrainian has.
    ukrainian_words: usize,
    /// Frequent words Slovenian has and Croatian, Serbian and Bosnian do not.
    slovenian_words: usize,
    /// Frequent Croatian / Serbian / Bosnian words Slovenian does not have.
    serbo_croatian_words: usize,
}

const SLOVENIAN_ONLY_WORDS: &[&str] = &[
    "in", "ni", "ki", "tudi", "sem", "smo", "ste", "so", "bom", "bo", "bi", "kaj", "kje", "zakaj",
    "nič", "lahko", "ker", "kar", "če", "jaz", "zelo", "vendar", "ampak", "nisem", "že", "še",
    "pa", "dni", "nihče", "kdo", "kot", "vas", "zdaj",
];

const SERBO_CROATIAN_ONLY_WORDS: &[&str] = &[
    "i", "u", "nije", "sam", "što", "šta", "kao", "bio", "jer", "gdje", "gde", "ovo", "ovaj",
    "nisam", "dana", "jednom", "ću", "će", "ćemo", "nema", "jako", "vrlo", "tko", "ko", "kad",
    "kada", "kako", "sve", "ovde", "ovdje", "sada", "već", "nikad",
];

const RUSSIAN_ONLY_WORDS: &[&str] = &[
    "и",
    "что",
    "как",
    "но",
    "или",
    "очень",
    "его",
    "уже",
    "был",
    "была",
    "было",
    "были",
    "он",
    "мне",
    "меня",
    "когда",
    "где",
    "только",
    "ещё",
    "еще",
    "нет",
    "да",
    "если",
    "можно",
    "нужно",
    "надо",
    "сегодня",
    "вчера",
    "чтобы",
    "почему",
    "потому",
    "теперь",
    "сейчас",
    "ничего",
    "хорошо",
    "плохо",
    "день",
    "дней",
    "снова",
    "опять",
];

const UKRAINIAN_ONLY_WORDS: &[&str] = &[
    "що",
    "та",
    "як",
    "але",
    "або",
    "дуже",
    "вже",
    "було",
    "була",
    "були",
    "мене",
    "мені",
    "коли",
    "де",
    "тому",
    "щоб",
    "чому",
    "зараз",
    "нема",
    "немає",
    "треба",
    "можна",
    "сьогодні",
    "вчора",
    "його",
    "вона",
    "ніж",
    "й",
    "ще",
    "знову",
    "днів",
    "добре",
    "погано",
];

impl LetterCounts {
    fn of(text: &str) -> Self {
        let mut counts = LetterCounts::default();
        let mut letters = text.chars().flat_map(char::to_lowercase).peekable();
        while let Some(c) = letters.next() {
            if !c.is_alphabetic() {
                continue;
            }
            if c == 'ъ' && !matches!(letters.peek(), Some('е' | 'ё' | 'ю' | 'я')) {
                counts.hard_sign_vowel += 1;
            }
            match c {
                'ї' | 'є' | 'ґ' => counts.ukrainian_only += 1,
                'і' => counts.ukrainian_i += 1,
                'ы' | 'э' | 'ъ' | 'ё' => counts.russian_only += 1,
                'ў' | 'ѓ' | 'ќ' | 'ѕ' | 'ђ' | 'ћ' | 'љ' | 'њ' | 'џ' | 'ј' | 'ә' | 'ғ' | 'қ'
                | 'ң' | 'ө' | 'ұ' | 'ү' | 'һ' => counts.foreign_cyrillic += 1,
                'ć' | 'đ' | 'ř' | 'ě' | 'ů' | 'ý' | 'á' | 'é' | 'í' | 'ó' | 'ú' | 'ä' | 'ô'
                | 'ĺ' | 'ľ' | 'ŕ' | 'ą' | 'ę' | 'ł' | 'ń' | 'ś' | 'ź' | 'ż' | 'ť' | 'ď' | 'ň' => {
                    counts.foreign_latin += 1
                }
                _ => {}
            }
            match c {
                'а'..='я' | 'ё' | 'і' | 'ї' | 'є' | 'ґ' => counts.cyrillic += 1,
                'a'..='z' | 'č' | 'š' | 'ž' => counts.latin += 1,
                _ if is_cyrillic(c) => counts.cyrillic += 1,
                _ if c.is_ascii_alphabetic() || ('\u{00C0}'..='\u{024F}').contains(&c) => {
                    counts.latin += 1
                }
                _ => counts.other_letters += 1,
            }
        }
        for word in text
            .split(|c: char| !c.is_alphabetic())
            .filter(|w| !w.is_empty())
        {
            let word = word.to_lowercase();
            let russian = RUSSIAN_ONLY_WORDS.contains(&word.as_str());
            let ukrainian = UKRAINIAN_ONLY_WORDS.contains(&word.as_str());
            if russian && !ukrainian {
                counts.russian_words += 1;
            } else if ukrainian && !russian {
                counts.ukrainian_words += 1;
            }
            let slovenian = SLOVENIAN_ONLY_WORDS.contains(&word.as_str());
            let serbo_croatian = SERBO_CROATIAN_ONLY_WORDS.contains(&word.as_str());
            if slovenian && !serbo_croatian {
                counts.slovenian_words += 1;
            } else if serbo_croatian && !slovenian {
                counts.serbo_croatian_words += 1;
            }
        }
        counts
    }

    fn letters(&self) -> usize {
        self.cyrillic + self.latin + self.other_letters
    }
}

fn is_cyrillic(c: char) -> bool {
    ('\u{0400}'..='\u{052F}').contains(&c)
}

/// Identifies the language of feedback texts.
pub struct LanguageDetector {
    /// Decides between Russian and Ukrainian once neighbours are ruled out by letters (asked
    /// about all Cyrillic languages, whatlang takes plain Russian for Bulgarian).
    cyrillic: Detector,
    /// Slovenian against its Latin-script neighbours.
    latin: Detector,
}

impl Default for LanguageDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl LanguageDetector {
    pub fn new() -> Self {
        LanguageDetector {
            cyrillic: Detector::with_allowlist(vec![Lang::Rus, Lang::Ukr]),
            latin: Detector::with_allowlist(vec![
                Lang::Slv,
                Lang::Hrv,
                Lang::Srp,
                Lang::Slk,
                Lang::Ces,
                Lang::Pol,
                Lang::Eng,
            ]),
        }
    }

    /// Detects the language of `text`, using `hint` (an ISO 639-1 code, may be empty) when the
    /// text does not contradict it.
    pub fn detect(&self, text: &str, hint: &str) -> Detection {
        let counts = LetterCounts::of(text);
        let letters = counts.letters();
        if letters == 0 {
            return Detection::undetermined();
        }
        let cyrillic_share = counts.cyrillic as f64 / letters as f64;
        let latin_share = counts.latin as f64 / letters as f64;
        let detected = if cyrillic_share >= 0.6 {
            decide_cyrillic(&counts, || self.cyrillic.detect(text))
        } else if latin_share >= 0.6 {
            decide_latin(&counts, self.latin.detect(text))
        } else {
            Detection::undetermined()
        };
        apply_hint(detected, hint, &counts, cyrillic_share, latin_share)
    }
}

fn decide_cyrillic(
    counts: &LetterCounts,
    guess: impl FnOnce() -> Option<whatlang::Info>,
) -> Detection {
    let ukrainian_marks = counts.ukrainian_only + counts.ukrainian_i;
    let belarusian =
        counts.ukrainian_i > 0 && counts.russian_only > 0 && counts.ukrainian_only == 0;
    let bulgarian = counts.hard_sign_vowel > 0 && counts.russian_only == counts.hard_sign_vowel;
    if counts.foreign_cyrillic > 0 || belarusian || bulgarian {
        return Detection::undetermined();
    }
    if counts.ukrainian_only > 0 && counts.russian_only == 0 {
        return Detection {
            language: "uk",
            confidence: 0.99,
        };
    }
    if counts.russian_only > 0 && ukrainian_marks == 0 {
        return Detection {
            language: "ru",
            confidence: 0.99,
        };
    }
    if ukrainian_marks == 0 && counts.russian_only == 0 {
        // Letters are silent: let frequent function words decide, and failing that, length (a
        // Ukrainian sentence without a single і ї є ґ is rare; a Russian one without ы э ъ ё
        // is common).
        if counts.russian_words > counts.ukrainian_words
            || (counts.ukrainian_words == 0 && counts.cyrillic >= 20)
        {
            return Detection {
                language: "ru",
                confidence: 0.8,
            };
        }
        if counts.ukrainian_words > counts.russian_words {
            return Detection {
                language: "uk",
                confidence: 0.8,
            };
        }
    }
    match guess() {
        Some(info) if ukrainian_marks > 0 || info.lang() == Lang::Ukr => Detection {
            language: "uk",
            confidence: info.confidence().max(0.5),
        },
        Some(info) => Detection {
            language: "ru",
            confidence: info.confidence().max(0.5),
        },
        None => Detection::undetermined(),
    }
}

fn decide_latin(counts: &LetterCounts, guess: Option<whatlang::Info>) -> Detection {
    if counts.foreign_latin > 0 || counts.serbo_croatian_words > counts.slovenian_words {
        return Detection::undetermined();
    }
    if counts.slovenian_words > counts.serbo_croatian_words {
        let confidence = guess
            .filter(|info| info.lang() == Lang::Slv)
            .map_or(0.8, |info| info.confidence().max(0.8));
        return Detection {
            language: "sl",
            confidence,
        };
    }
    match guess {
        Some(info) if info.lang() == Lang::Slv => Detection {
            language: "sl",
            confidence: info.confidence(),
        },
        _ => Detection::undetermined(),
    }
}

/// Takes the client's hint when the script agrees and no letter contradicts it.
fn apply_hint(
    detected: Detection,
    hint: &str,
    counts: &LetterCounts,
    cyrillic_share: f64,
    latin_share: f64,
) -> Detection {
    let agrees = match hint {
        "ru" => {
            cyrillic_share >= 0.6
                && counts.foreign_cyrillic == 0
                && counts.ukrainian_only + counts.ukrainian_i == 0
        }
        "uk" => cyrillic_share >= 0.6 && counts.foreign_cyrillic == 0 && counts.russian_only == 0,
        "sl" => latin_share >= 0.6 && counts.foreign_latin == 0,
        _ => false,
    };
    if !agrees || detected.language == hint {
        return detected;
    }
    let language = SUPPORTED
        .iter()
        .copied()
        .find(|code| *code == hint)
        .unwrap_or(UNDETERMINED);
    Detection {
        language,
        confidence: 0.6,
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
        assert_eq!(lang("The delivery was three days late."), "und");
        assert_eq!(lang("12345 !!!"), "und");
    }

    #[test]
    fn hint_wins_only_when_the_text_agrees() {
        let detector = LanguageDetector::new();
        assert_eq!(detector.detect("Привет", "uk").language, "uk");
        assert_eq!(detector.detect("Это было ужасно", "uk").language, "ru");
    }
}
