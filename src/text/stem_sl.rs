//! A light suffix-stripping stemmer for Slovenian.
//!
//! No maintained library offers a Slovenian stemmer (Snowball has none), so this one is ours.
//! It removes one inflectional ending, the longest that leaves a stem of at least
//! [`MIN_STEM_CHARS`] characters, so the forms of one word meet:
//! `dostava, dostave, dostavi, dostavo, dostavama → dostav`;
//! `čakal, čakala, čakam, čakati → čak`.
//!
//! Rules, longest ending first (a word loses at most one):
//! - nouns in `-ija`: `-ijami -ijah -ija -ije -iji -iju -ijo`;
//! - adjective and pronoun endings: `-ega -emu -imi -ima -ih -im -em -ega`;
//! - noun case endings: `-ama -ami -ah -om -ov -ev -eh -ih -a -e -i -o -u`;
//! - verb endings: infinitive `-ati -iti -eti`, l-participle `-al -ala -alo -ali -ale -il -ila
//!   -ilo -ili -ile -el -ela -elo -eli -ele`, present `-am -aš -amo -ate -ajo -im -iš -imo -ite
//!   -ijo -em -eš -emo -ete -ejo`;
//! - possessive adjectives `-ova -ovo -ovi -ove -eva -evo -evi -eve`.
//!
//! Then a `j` left between stem and ending after a consonant is dropped (`denarja → denar`), and
//! a base form with no ending loses the fleeting `e` of `-ek -ec -en` (`učinek`/`učinka → učink`,
//! `podoben`/`podobna → podobn`).
//!
//! Derivational suffixes are left alone: a light stemmer that merges fewer words is the safer
//! trade for search (`triage eval stemmer` measures both sides on a lemma list).

/// The shortest stem left after stripping an ending.
pub const MIN_STEM_CHARS: usize = 3;

/// Endings sorted longest first, so the first match that leaves a long enough stem wins.
const ENDINGS: &[&str] = &[
    "ijami", "ijah", "ija", "ije", "iji", "iju", "ega", "emu", "imi", "ima", "ama", "ami", "ati",
    "iti", "eti", "ala", "alo", "ali", "ale", "ila", "ilo", "ili", "ile", "ela", "elo", "eli",
    "ele", "amo", "ate", "ajo", "imo", "ite", "ijo", "emo", "ete", "ejo", "ova", "ovo", "ovi",
    "ove", "eva", "evo", "evi", "eve", "ih", "im", "em", "ah", "om", "ov", "ev", "eh", "al", "il",
    "el", "am", "aš", "iš", "eš", "a", "e", "i", "o", "u",
];

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

/// Stems one lowercase, normalized word.
pub fn stem(word: &str) -> String {
    let chars = word.chars().count();
    let stripped = ENDINGS.iter().find_map(|ending| {
        word.strip_suffix(ending)
            .filter(|_| chars - ending.chars().count() >= MIN_STEM_CHARS)
    });
    let mut stem: Vec<char> = stripped.unwrap_or(word).chars().collect();
    let n = stem.len();
    // j between the stem and the ending (denar-j-a, stvar-j-o): drop it.
    if n > MIN_STEM_CHARS && stem[n - 1] == 'j' && !is_vowel(stem[n - 2]) {
        stem.pop();
    } else if stripped.is_none()
        && n > 4
        && stem[n - 2] == 'e'
        && matches!(stem[n - 1], 'k' | 'c' | 'n')
        && !is_vowel(stem[n - 3])
    {
        // The fleeting e of the base form (učinek → učinka, podoben → podobna).
        stem.remove(n - 2);
    }
    stem.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_one_word_meet() {
        for form in [
            "dostava",
            "dostave",
            "dostavi",
            "dostavo",
            "dostavama",
            "dostavah",
        ] {
            assert_eq!(stem(form), "dostav", "{form}");
        }
        for form in ["čakal", "čakala", "čakam", "čakati", "čakali"] {
            assert_eq!(stem(form), "čak", "{form}");
        }
        for form in ["prijazna", "prijaznega", "prijaznemu", "prijaznimi"] {
            assert_eq!(stem(form), "prijazn", "{form}");
        }
    }

    #[test]
    fn short_words_keep_their_stem() {
        assert_eq!(stem("že"), "že");
        assert_eq!(stem("denarja"), stem("denar"));
        assert_eq!(stem("učinek"), stem("učinka"));
        assert_eq!(stem("oče"), "oče");
        assert_eq!(stem("mama"), "mam");
    }
}
