//! Profanity written to dodge filters: letters hidden behind `*`, `#`, `%`, `_` or `@`, Latin
//! look-alikes and digits inside Cyrillic words ("х*й", "cука", "3ло"), and words broken up by dots
//! ("пиз.дец"). The abusive-language rule reads such tokens back before comparing them with the
//! lexicon's words. Written by hand: the look-alike table and the wildcard matching are specific to
//! how people disguise Cyrillic profanity, which no library covers.

use crate::text::analyzer::is_word_char;
use crate::text::normalize::normalize;

/// Latin letters that look like Cyrillic ones, as used to dodge filters ("cука").
fn cyrillic_look_alike(c: char) -> Option<char> {
    Some(match c {
        'a' => 'а',
        'c' => 'с',
        'e' => 'е',
        'o' => 'о',
        'p' => 'р',
        'x' => 'х',
        'y' => 'у',
        'k' => 'к',
        'm' => 'м',
        't' => 'т',
        'h' => 'н',
        'b' => 'в',
        'i' => 'і',
        '0' => 'о',
        '3' => 'з',
        '6' => 'б',
        _ => return None,
    })
}

const WILDCARDS: [char; 4] = ['*', '#', '%', '_'];

fn is_cyrillic(c: char) -> bool {
    ('\u{0400}'..='\u{04FF}').contains(&c)
}

/// Whether byte `i` of `text` is a dot between two Cyrillic letters ("пиз.дец"): a word broken
/// up to pass a filter, or an abbreviation ("т.е.") that reads harmlessly once joined.
fn is_inner_dot(text: &str, i: usize) -> bool {
    text.as_bytes().get(i) == Some(&b'.')
        && text[..i].chars().next_back().is_some_and(is_cyrillic)
        && text[i + 1..].chars().next().is_some_and(is_cyrillic)
}

/// Tokens as written, with obfuscation characters kept and normalized as the lexicons are:
/// (byte start, byte end, token). A dot between two Cyrillic letters stays inside the token.
pub(super) fn raw_tokens(text: &str) -> Vec<(usize, usize, String)> {
    let mut tokens = Vec::new();
    let mut start = None;
    let is_part = |i: usize, c: char| {
        is_word_char(c) || WILDCARDS.contains(&c) || c == '@' || is_inner_dot(text, i)
    };
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (start, is_part(i, c)) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                tokens.push((s, i, normalize(&text[s..i])));
                start = None;
            }
            _ => {}
        }
    }
    tokens
}

/// The token with look-alikes made Cyrillic, when it mixes scripts or digits into Cyrillic.
pub(super) fn deobfuscate(token: &str) -> Option<String> {
    let has_cyrillic = token.chars().any(is_cyrillic);
    let has_wildcard = token.chars().any(|c| WILDCARDS.contains(&c));
    let has_foreign = token.chars().any(|c| c.is_ascii_alphanumeric() || c == '@');
    let has_dot = token.contains('.');
    if !(has_wildcard || has_dot || (has_cyrillic && has_foreign)) {
        return None;
    }
    Some(
        token
            .chars()
            .filter(|&c| c != '.')
            .map(|c| {
                // `@` hides а as often as any other letter ("х@ра"): a wildcard in Cyrillic.
                if WILDCARDS.contains(&c) || (has_cyrillic && c == '@') {
                    '*'
                } else if has_cyrillic {
                    cyrillic_look_alike(c).unwrap_or(c)
                } else {
                    c
                }
            })
            .collect(),
    )
}

/// Whether an obfuscated token (with `*` for hidden letters) spells `word` (a lexicon entry,
/// `*`-suffixed for a prefix). At least two real letters must agree.
pub(super) fn spells(token: &[char], word: &str) -> bool {
    let (stem, prefix) = match word.strip_suffix('*') {
        Some(stem) => (stem, true),
        None => (word, false),
    };
    let stem: Vec<char> = stem.chars().collect();
    if token.len() < stem.len() || (!prefix && token.len() != stem.len()) {
        return false;
    }
    let mut real = 0;
    for (t, s) in token.iter().zip(&stem) {
        if *t == '*' {
            continue;
        }
        if t != s {
            return false;
        }
        real += 1;
    }
    real >= 2 && real < stem.len() + usize::from(!token.contains(&'*'))
}

/// Whether a text may hide obfuscated words: wildcard characters, or Latin letters and digits
/// next to Cyrillic ones. Most texts do not, and skip the slower scan.
pub(super) fn may_be_obfuscated(text: &str) -> bool {
    text.contains(WILDCARDS)
        || text.contains('@')
        || text.match_indices('.').any(|(i, _)| is_inner_dot(text, i))
        || text.split_whitespace().any(|chunk| {
            chunk.bytes().any(|b| b.is_ascii_alphanumeric()) && chunk.chars().any(is_cyrillic)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obfuscated_spellings_are_read() {
        let token: Vec<char> = deobfuscate("х*й").unwrap().chars().collect();
        assert!(spells(&token, "хуй"));
        let token: Vec<char> = deobfuscate("cука").unwrap().chars().collect();
        assert!(spells(&token, "сука"));
        let token: Vec<char> = deobfuscate("б**дь").unwrap().chars().collect();
        assert!(spells(&token, "бляд*"));
        assert!(deobfuscate("доставка").is_none());
        assert_eq!(deobfuscate("пиз.дец").as_deref(), Some("пиздец"));
        // Tokens are normalized as the lexicons are: ё is е.
        let (_, _, token) = &raw_tokens("Х.у.ёвая доставка")[0];
        assert_eq!(deobfuscate(token).as_deref(), Some("хуевая"));
        let tokens: Vec<String> = raw_tokens("Пиз.дец, а не сервис. Ждал т.е. час")
            .into_iter()
            .map(|(_, _, token)| token)
            .collect();
        assert_eq!(
            tokens,
            ["пиз.дец", "а", "не", "сервис", "ждал", "т.е", "час"]
        );
        let token: Vec<char> = deobfuscate("**").unwrap().chars().collect();
        assert!(!spells(&token, "хуй"));
        for (written, word) in [("с@ка", "сука"), ("х@ра", "хера")] {
            let token: Vec<char> = deobfuscate(written).unwrap().chars().collect();
            assert!(spells(&token, word), "{written}");
        }
    }
}
