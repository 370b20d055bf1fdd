//! Text normalization for analysis (DESIGN.md §5): NFC, case folding, `ё→е`, one apostrophe,
//! no zero-width or control characters. The original text is always kept for display.

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// The one apostrophe every Ukrainian apostrophe variant is mapped to.
pub const APOSTROPHE: char = '\'';

fn is_apostrophe_variant(c: char) -> bool {
    matches!(
        c,
        '\u{2019}' | '\u{02BC}' | '\'' | '`' | '\u{2018}' | '\u{02B9}' | '\u{00B4}' | '\u{FF07}'
    )
}

fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// Normalizes a text for language detection, hashing and analysis.
///
/// Whitespace controls (tab, newline) become spaces so word boundaries survive.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Most text is already NFC; composing it again is the expensive part.
    let composed: Box<dyn Iterator<Item = char>> =
        if is_nfc_quick(text.chars()) == IsNormalized::Yes {
            Box::new(text.chars())
        } else {
            Box::new(text.nfc())
        };
    for c in composed {
        if is_invisible(c) {
            continue;
        }
        if c.is_control() {
            if c.is_whitespace() {
                out.push(' ');
            }
            continue;
        }
        if is_apostrophe_variant(c) {
            out.push(APOSTROPHE);
            continue;
        }
        for lower in c.to_lowercase() {
            out.push(if lower == 'ё' { 'е' } else { lower });
        }
    }
    out
}

/// [`normalize`] for one word, appended to `out`. Words of plain ASCII and Cyrillic letters (almost
/// all of them) take a fast path that needs no composition and no allocation.
pub fn normalize_word_into(word: &str, out: &mut String) {
    let simple = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ('\u{0400}'..='\u{04FF}').contains(&c));
    if !simple {
        out.push_str(&normalize(word));
        return;
    }
    for c in word.chars() {
        match c {
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            'А'..='Я' => out.push(char::from_u32(c as u32 + 32).unwrap_or(c)),
            'Ё' | 'ё' => out.push('е'),
            'Ѐ'..='Џ' => out.push(char::from_u32(c as u32 + 80).unwrap_or(c)),
            '\u{0460}'..='\u{04FF}' => out.extend(c.to_lowercase()),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_yo_and_apostrophes() {
        assert_eq!(normalize("ЁЛКА Мʼята м’ята"), "елка м'ята м'ята");
    }

    #[test]
    fn strips_invisible_and_control_characters() {
        assert_eq!(
            normalize("до\u{200B}став\u{0007}ка\tвчера"),
            "доставка вчера"
        );
    }

    #[test]
    fn the_word_fast_path_agrees_with_normalize() {
        for word in [
            "ДОСТАВКА",
            "Ёлка",
            "ЇЖАК",
            "Ґанок",
            "ЄВРО",
            "Ўзбек",
            "Qwerty",
            "Čakal",
            "Кур’єр",
        ] {
            let mut fast = String::new();
            normalize_word_into(word, &mut fast);
            assert_eq!(fast, normalize(word), "{word}");
        }
    }

    #[test]
    fn composes_to_nfc() {
        // "č" written as c + combining caron.
        assert_eq!(normalize("C\u{030C}akal"), "čakal");
    }
}
