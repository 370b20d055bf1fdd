//! Text normalization for analysis (DESIGN.md §5): NFC, case folding, `ё→е`, one apostrophe,
//! no zero-width or control characters. The original text is always kept for display.

use unicode_normalization::UnicodeNormalization;

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
    for c in text.nfc() {
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
    fn composes_to_nfc() {
        // "č" written as c + combining caron.
        assert_eq!(normalize("C\u{030C}akal"), "čakal");
    }
}
