//! The links and contacts a text gives (the spam rule's "a way to reach the advertiser"): web
//! addresses, e-mail addresses, phone numbers and messenger handles, as byte ranges of the text.
//!
//! Written by hand because what counts is a question of feedback, not of syntax: a date or an
//! order, tracking or tax number has the shape of a phone number but reaches nobody, and a
//! complaint quoting one ("Замовлення 45-123-887, ТТН 20450012345678, де посилка?") is no ad.
//! Nor is the customer's own number left for a call back ("Перезвоните мне: +7 912 …", "Pokličite
//! me na 041 …"): it reaches the writer, not an advertiser.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

static LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        // ASCII word boundaries: Unicode ones force the regex crate off its fast engine.
        r"(?i)(?:https?://|www\.)\S+|(?-u:\b)[a-z0-9][a-z0-9-]{0,62}\.(?:com|ru|ua|si|net|org|info|biz|xyz|top|io|me|shop|online|site|store|club|pro|su|link|click)(?-u:\b)(?:/\S*)?",
    )
    .expect("valid link pattern")
});
/// A date that the phone-number pattern would take for a contact ("19.05.2003", "2003-05-19").
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:\d{1,2}[./]\d{1,2}[./](?:\d{2}|\d{4})|\d{4}[./-]\d{1,2}[./-]\d{1,2})$")
        .expect("valid date pattern")
});
static CONTACT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[\w.+-]+@[\w-]+\.[\w.]+|\+?\d[\d ().-]{8,}\d|(?:^|\s)@[A-Za-z0-9_]{4,}")
        .expect("valid contact pattern")
});

/// Words after which a long number identifies an order, a parcel, a contract or a company, not a
/// phone (lowercase; "номер" is not one of them: "мой номер 8916…" is a phone).
const REFERENCE_WORDS: &[&str] = &[
    "заказ",
    "заказа",
    "заказу",
    "трек",
    "трека",
    "накладная",
    "накладной",
    "договор",
    "договора",
    "счет",
    "счёт",
    "счета",
    "артикул",
    "инн",
    "огрн",
    "замовлення",
    "ттн",
    "накладна",
    "накладної",
    "договір",
    "договору",
    "рахунок",
    "рахунку",
    "єдрпоу",
    "іпн",
    "naročilo",
    "naročila",
    "pošiljka",
    "pošiljke",
    "sledilna",
    "sledilno",
    "pogodba",
    "pogodbe",
    "račun",
    "računa",
    "davčna",
    "matična",
    "order",
    "tracking",
    "invoice",
];

/// Words of the first person that mark a number near them as the writer's own ("мой номер",
/// "передзвоніть мені", "pokličite me na", "moja številka je"), lowercase.
const OWN_WORDS: &[&str] = &[
    "мне", "мой", "моя", "мені", "мене", "мій", "me", "mi", "mene", "moja", "moj", "moje", "my",
];

/// How many words before a number may hold one of [`OWN_WORDS`]: "moja številka je 041 …".
const OWN_WORDS_BEFORE: usize = 3;

/// Web addresses in `text`.
pub fn links(text: &str) -> Vec<Range<usize>> {
    // Links need "://", "www." or a dot followed by a letter: most texts skip the expression.
    let maybe_link = text.contains("://")
        || text
            .as_bytes()
            .windows(2)
            .any(|pair| pair[0] == b'.' && pair[1].is_ascii_alphanumeric());
    if !maybe_link {
        return Vec::new();
    }
    LINK.find_iter(text).map(|m| m.range()).collect()
}

/// E-mail addresses, phone numbers and handles in `text`, without dates, reference numbers and the
/// writer's own number.
pub fn contacts(text: &str) -> Vec<Range<usize>> {
    // Contacts need a digit or an @: most texts skip the expression.
    if !text.contains('@') && !text.chars().any(|c| c.is_ascii_digit()) {
        return Vec::new();
    }
    CONTACT
        .find_iter(text)
        .filter(|m| {
            let before = &text[..m.start()];
            !DATE.is_match(m.as_str().trim()) && !follows_reference(before) && !follows_own(before)
        })
        .map(|m| m.range())
        .collect()
}

/// The words of `before`, last first, without the punctuation that may separate them from a number.
fn last_words(before: &str) -> impl Iterator<Item = &str> {
    before
        .split(|c: char| c.is_whitespace() || matches!(c, ':' | ',' | '-'))
        .filter(|w| !w.is_empty())
        .rev()
}

/// Whether one of the last words of `before` says that the number after it is the writer's own.
fn follows_own(before: &str) -> bool {
    last_words(before)
        .take(OWN_WORDS_BEFORE)
        .any(|word| OWN_WORDS.contains(&word.trim_end_matches('.').to_lowercase().as_str()))
}

/// Whether the last word of `before` names what the number after it is ("ТТН", "naročilo št.").
fn follows_reference(before: &str) -> bool {
    let mut words = last_words(before);
    let Some(last) = words.next() else {
        return false;
    };
    let last = last.trim_end_matches('.').to_lowercase();
    let reference = |word: &str| REFERENCE_WORDS.contains(&word);
    // "№" and "#" name a number by themselves ("№", "заказ№"); "št." follows the word it
    // abbreviates ("naročilo št.").
    reference(&last)
        || last.ends_with(['№', '#'])
        || (matches!(last.as_str(), "št" | "no" | "nr")
            && words
                .next()
                .is_some_and(|w| reference(&w.trim_end_matches('.').to_lowercase())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_not_phone_numbers() {
        for date in ["19.05.2003", "1924.11.05", "2003-05-19", "5/19/2003"] {
            assert!(DATE.is_match(date), "{date}");
        }
        for phone in ["+7 999 123-45-67", "067.123.45.67", "999-12-3456"] {
            assert!(!DATE.is_match(phone), "{phone}");
        }
    }

    #[test]
    fn reference_numbers_are_not_contacts() {
        for text in [
            "Замовлення 45-123-887, ТТН 20450012345678, де посилка?",
            "Заказ № 4512388712 не пришёл",
            "Naročilo št. 45-123-887 še ni prispelo",
            "ИНН 7701234567",
        ] {
            assert!(contacts(text).is_empty(), "{text}");
        }
        for text in [
            "Звоните +7 999 123-45-67",
            "Продам диван, номер 89161234567",
            "pišite na info@trgovina.si",
            "пишите @easy_money",
        ] {
            assert_eq!(contacts(text).len(), 1, "{text}");
        }
    }

    #[test]
    fn the_writers_own_number_reaches_no_advertiser() {
        for text in [
            "Перезвоните мне: +7 912 000-11-22",
            "мой номер 89161234567",
            "Передзвоніть мені: 067 000 11 22",
            "Pokličite me na 041 000 112.",
            "Moja številka je 041 345 678.",
        ] {
            assert!(contacts(text).is_empty(), "{text}");
        }
        assert_eq!(
            contacts("Мне помогло, и вам поможет! Звоните +7 912 111-22-33").len(),
            1,
            "a first-person word further back leaves the ad's number a contact"
        );
    }

    #[test]
    fn a_domain_may_be_one_letter_long() {
        assert_eq!(links("канал t.me/skidki_vsem").len(), 1);
        assert!(links("т.е. всё").is_empty());
    }
}
