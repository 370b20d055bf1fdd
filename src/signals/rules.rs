//! The lexicon rules behind the suspicion flags: extortion, personal attack, abusive language,
//! spam and score mismatch. Every flag carries a confidence, a one-sentence reason and the
//! evidence spans (code points of the original text) that triggered it.
//!
//! Precision comes first: a false flag on an honest customer costs the company that customer.
//! So every rule needs two things to agree (a demand *and* a reputational threat; an
//! identifiable employee *and* an insult or a call to punish them; a link *and* promotion), and
//! a negated threat ("не буду писать отзыв") does not count.

use rustc_hash::FxHashSet;

use super::gibberish;
use super::lexicons::{Category, Found, Lexicon};
use super::obfuscation::{deobfuscate, may_be_obfuscated, raw_tokens, spells};
use super::polarity::Polarity;
use super::reachable;
use crate::model::{Flag, FlagKind, Score, ScoreKind, TextSpan};
use crate::text::analyzer::is_word_char;
use crate::text::lexicon::{Match, Word};

/// The text as the rules see it.
pub struct Subject<'a> {
    pub text: &'a str,
    pub words: Vec<Word>,
    /// The item names an employee in its attributes (`employee`, `employee_name`, …).
    pub names_employee: bool,
}

impl Subject<'_> {
    fn span(&self, first: usize, last: usize) -> TextSpan {
        let (first, last) = (&self.words[first], &self.words[last]);
        TextSpan {
            start: first.start,
            end: last.end,
            text: self.text[first.byte_start..last.byte_end].to_string(),
        }
    }

    fn match_span(&self, found: &Match) -> TextSpan {
        self.span(found.first, found.last)
    }

    fn char_span(&self, byte_start: usize, byte_end: usize) -> TextSpan {
        let start = self.text[..byte_start].chars().count();
        let end = start + self.text[byte_start..byte_end].chars().count();
        TextSpan {
            start,
            end,
            text: self.text[byte_start..byte_end].to_string(),
        }
    }

    fn sentence(&self, found: &Match) -> usize {
        self.words[found.first].sentence
    }
}

fn quoted(spans: &[TextSpan]) -> String {
    spans
        .iter()
        .map(|s| format!("\u{ab}{}\u{bb}", s.text))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A match right after a negator: "не напишу", "ne bom". Only the word just before counts:
/// in "если не заплатите, все узнают" the negation belongs to the demand, not the threat.
fn negated(lexicon: &Lexicon, subject: &Subject, found: &Match) -> bool {
    found.first > 0
        && lexicon
            .negators
            .contains(&subject.words[found.first - 1].text)
}

/// Whether words of praise come strictly between the word positions `after` and `before`: a
/// review promised as praise ("оставлю хороший отзыв", "напишу гарний відгук на Rozetka")
/// threatens nobody. Praise with a negator among the two words before it is none ("не самый
/// хороший отзыв").
fn praised_between(
    lexicon: &Lexicon,
    subject: &Subject,
    found: &Found,
    after: usize,
    before: usize,
) -> bool {
    found.of(Category::Positive).any(|praise| {
        praise.first > after
            && praise.last < before
            && !(praise.first.saturating_sub(2)..praise.first)
                .any(|i| lexicon.negators.contains(&subject.words[i].text))
    })
}

/// Whether the demand is declined in its clause: a declining phrase right before it ("не нужна
/// компенсация") or at most two words after it with no punctuation between ("компенсация за
/// опоздание не нужна"; but "верните деньги, не надо мне извинений" still demands).
fn declined(found: &Found, subject: &Subject, demand: &Match) -> bool {
    found.of(Category::Declined).any(|decline| {
        let same_clause = |from: &Word, to: &Word| {
            from.sentence == to.sentence
                && !subject.text[from.byte_end..to.byte_start].contains([',', ';', ':'])
        };
        (decline.last + 1 == demand.first
            && same_clause(&subject.words[decline.last], &subject.words[demand.first]))
            || (decline.first > demand.last
                && decline.first - demand.last <= 3
                && same_clause(&subject.words[demand.last], &subject.words[decline.first]))
    })
}

/// Whether an offer connector of one or two words ends `gap` words before `found`.
fn offered(lexicon: &Lexicon, subject: &Subject, found: &Match, gap: usize) -> bool {
    let word = |back: usize| {
        found
            .first
            .checked_sub(back + gap)
            .map(|i| subject.words[i].text.as_str())
    };
    let one = word(1).is_some_and(|w| lexicon.offer_connectors.contains(w));
    let two = word(2)
        .zip(word(1))
        .is_some_and(|(a, b)| lexicon.offer_connectors.contains(&format!("{a} {b}")));
    one || two
}

/// Whether a negated threat is offered in exchange: an offer connector just before the negator
/// ("тогда не стану выкладывать", "…, а я не публикую фото").
fn offers_silence(lexicon: &Lexicon, subject: &Subject, found: &Match) -> bool {
    offered(lexicon, subject, found, 1)
}

/// Whether a word of hoping comes within the four words before a threat in its sentence
/// ("upam, da bo ta zgodba na forumu pomagala drugim", "надеюсь, что эта история будет на
/// форуме"): what the customer hopes to see published is no threat. Further back the hope is
/// about something else ("надеюсь, вы вернёте деньги, иначе напишу на форуме").
fn hoped(lexicon: &Lexicon, subject: &Subject, threat: &Match) -> bool {
    word_just_before(&lexicon.hopes, subject, threat, 4)
}

/// Whether a word of `words` is among the `within` words before `found`, in its sentence.
fn word_just_before(
    words: &FxHashSet<String>,
    subject: &Subject,
    found: &Match,
    within: usize,
) -> bool {
    let sentence = subject.words[found.first].sentence;
    (found.first.saturating_sub(within)..found.first)
        .any(|i| subject.words[i].sentence == sentence && words.contains(&subject.words[i].text))
}

/// Whether thanks come within the three words before a demand in its sentence: what is thanked
/// for was granted ("спасибо за бесплатный десерт", "hvala za darilo"), and a grateful customer
/// who promises to tell everyone threatens nobody.
fn thanked(lexicon: &Lexicon, subject: &Subject, demand: &Match) -> bool {
    word_just_before(&lexicon.gratitude, subject, demand, 3)
}

pub fn extortion(lexicon: &Lexicon, found: &Found, subject: &Subject) -> Option<Flag> {
    // A threat is a phrase of the threat list, or a verb of publishing with a public venue in
    // the same sentence ("размещу рассказ о вас на всех форумах"): the pairs are too many to
    // list, and new complaints kept combining them in ways the list lacked (docs/signals.md).
    // Offers count too: silence ("тогда не стану выкладывать видео") or a takedown ("…, а я
    // удаляю свой пост") sold for the demand; an offer needs no venue, the exchange is the threat.
    let mut threats: Vec<(Match, Option<Match>)> = found
        .of(Category::Threat)
        .filter(|t| !negated(lexicon, subject, t) || offers_silence(lexicon, subject, t))
        .filter(|t| !praised_between(lexicon, subject, found, t.first, t.last))
        .filter(|t| !hoped(lexicon, subject, t))
        .chain(
            found
                .of(Category::Takedown)
                .filter(|t| offered(lexicon, subject, t, 0)),
        )
        .map(|t| (*t, None))
        .collect();
    for verb in found.of(Category::PublishVerb) {
        let offer = negated(lexicon, subject, verb);
        if offer && !offers_silence(lexicon, subject, verb) || hoped(lexicon, subject, verb) {
            continue;
        }
        let venue = found.of(Category::Venue).find(|venue| {
            subject.sentence(venue) == subject.sentence(verb)
                && (venue.last < verb.first
                    && !praised_between(lexicon, subject, found, venue.last, verb.first)
                    || venue.first > verb.last
                        && !praised_between(lexicon, subject, found, verb.last, venue.first)
                    // In the gap of the verb's own words ("bo na YouTubu video"), unless what
                    // is published is praise ("bom na forumu napisal pohvalo").
                    || venue.first > verb.first
                        && venue.last < verb.last
                        && !praised_between(lexicon, subject, found, verb.first, verb.last + 4))
        });
        if venue.is_some() || offer {
            threats.push((*verb, venue.copied()));
        }
    }
    let mut best: Option<(f64, Match, (Match, Option<Match>))> = None;
    for demand in found
        .of(Category::Demand)
        .filter(|d| !thanked(lexicon, subject, d) && !declined(found, subject, d))
    {
        for threat in &threats {
            let distance = subject
                .sentence(demand)
                .abs_diff(subject.sentence(&threat.0));
            let confidence = match distance {
                0 => 0.9,
                1 => 0.8,
                _ => continue,
            } - if threat.1.is_some() { 0.05 } else { 0.0 };
            if best.as_ref().is_none_or(|(c, _, _)| confidence > *c) {
                best = Some((confidence, *demand, *threat));
            }
        }
    }
    let (confidence, demand, (threat, venue)) = best?;
    let mut evidence = vec![subject.match_span(&demand), subject.match_span(&threat)];
    evidence.extend(venue.map(|venue| subject.match_span(&venue)));
    Some(Flag {
        kind: FlagKind::Extortion,
        confidence,
        reason: format!(
            "Demands {} and ties it to a threat to the company's reputation ({}).",
            quoted(&evidence[..1]),
            quoted(&evidence[1..])
        ),
        evidence,
        related_feedback_ids: Vec::new(),
    })
}

/// Whether the text threatens legal action (court, consumer protection, police): a right, not a
/// flag, but it raises the priority.
pub fn legal_threat(found: &Found) -> bool {
    found.any(Category::LegalThreat)
}

pub fn personal_attack(lexicon: &Lexicon, found: &Found, subject: &Subject) -> Option<Flag> {
    let mut targets: Vec<Match> = found.of(Category::Role).copied().collect();
    targets.extend(found.of(Category::Name).copied().filter(|m| {
        // A name counts when written with a capital (not "maja" the month); a phrase
        // like "по имени" counts as it is.
        m.last > m.first
            || subject.text[subject.words[m.first].byte_start..]
                .chars()
                .next()
                .is_some_and(char::is_uppercase)
    }));
    let hostile: Vec<Match> = found
        .of(Category::Insult)
        .filter(|h| !self_directed(lexicon, subject, h))
        .chain(found.of(Category::Punishment))
        .copied()
        .filter(|h| !negated(lexicon, subject, h))
        .collect();
    let hit = hostile.iter().find_map(|h| {
        if subject.names_employee {
            return Some((*h, targets.first().copied()));
        }
        targets
            .iter()
            .find(|t| {
                subject.sentence(t).abs_diff(subject.sentence(h)) <= 1
                    && (t.first, t.last) != (h.first, h.last)
            })
            .map(|t| (*h, Some(*t)))
    })?;
    let (hostile, target) = hit;
    let mut evidence = Vec::new();
    if let Some(target) = target {
        evidence.push(subject.match_span(&target));
    }
    evidence.push(subject.match_span(&hostile));
    Some(Flag {
        kind: FlagKind::PersonalAttack,
        confidence: if target.is_some() { 0.85 } else { 0.75 },
        reason: format!(
            "Insults or calls for punishing an identifiable employee ({}): possibly revenge.",
            quoted(&evidence)
        ),
        evidence,
        related_feedback_ids: Vec::new(),
    })
}

/// Whether the writer is the subject within the two words before an insult in its sentence
/// ("я сам дурак", "bil sem pravi bedak"): the writer blames themself, not an employee. Calls for
/// punishment are not asked this: "я добьюсь, чтобы её уволили" names the writer too.
fn self_directed(lexicon: &Lexicon, subject: &Subject, insult: &Match) -> bool {
    word_just_before(&lexicon.speaker, subject, insult, 2)
}

pub fn abusive_language(lexicon: &Lexicon, found: &Found, subject: &Subject) -> Option<Flag> {
    let mut evidence: Vec<TextSpan> = found
        .of(Category::Abuse)
        .map(|m| subject.match_span(m))
        .collect();
    let clean = evidence.len();
    let raw = if may_be_obfuscated(subject.text) {
        raw_tokens(subject.text)
    } else {
        Vec::new()
    };
    for (start, end, token) in raw {
        let Some(readable) = deobfuscate(&token) else {
            continue;
        };
        let readable: Vec<char> = readable.chars().collect();
        if lexicon.abuse_words.iter().any(|w| spells(&readable, w)) {
            evidence.push(subject.char_span(start, end));
        }
    }
    if evidence.is_empty() {
        return None;
    }
    evidence.sort_by_key(|s| s.start);
    evidence.dedup_by_key(|s| s.start);
    Some(Flag {
        kind: FlagKind::AbusiveLanguage,
        confidence: if clean > 0 { 0.95 } else { 0.85 },
        reason: format!("Contains profanity or insults ({}).", quoted(&evidence)),
        evidence,
        related_feedback_ids: Vec::new(),
    })
}

/// Vowels, and the Latin r that is syllabic in Slovenian ("vrt", "smrt").
fn is_vowel(c: char) -> bool {
    matches!(
        c,
        'а' | 'е'
            | 'ё'
            | 'и'
            | 'о'
            | 'у'
            | 'ы'
            | 'э'
            | 'ю'
            | 'я'
            | 'і'
            | 'ї'
            | 'є'
            | 'a'
            | 'e'
            | 'i'
            | 'o'
            | 'u'
            | 'y'
            | 'r'
            | 'á'
            | 'é'
            | 'í'
            | 'ó'
            | 'ú'
            | 'ä'
            | 'ö'
            | 'ü'
    )
}

/// A word nobody writes: no vowel, or five consonants in a row, or keyboard rows.
fn gibberish_word(word: &str) -> bool {
    const KEYBOARD: [&str; 6] = ["qwert", "asdf", "zxcv", "йцук", "фыва", "ячсм"];
    let (mut letters, mut vowels, mut run, mut longest) = (0, 0, 0, 0);
    for c in word
        .chars()
        .filter(|c| is_word_char(*c) && !c.is_ascii_digit())
    {
        letters += 1;
        if is_vowel(c) {
            vowels += 1;
            run = 0;
        } else {
            run += 1;
            longest = longest.max(run);
        }
    }
    letters >= 4 && (vowels == 0 || longest >= 5 || KEYBOARD.iter().any(|k| word.contains(k)))
}

/// The longest quotation [`quoted_ranges`] looks for, in characters: an opening mark with no
/// closing one this close is a stray mark, not a quotation.
const MAX_QUOTE_CHARS: usize = 120;

/// Character ranges inside quotation marks: «…», »…«, „…“, “…”, "…".
fn quoted_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    let chars: Vec<char> = text.chars().collect();
    let mut ranges = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        // Slovenian and German close „ with “, English closes “ with ”; both are met in either.
        let closers: &[char] = match chars[at] {
            '«' => &['»'],
            '»' => &['«'],
            '„' | '“' => &['“', '”'],
            '"' => &['"'],
            _ => {
                at += 1;
                continue;
            }
        };
        let limit = chars.len().min(at + 1 + MAX_QUOTE_CHARS);
        match (at + 1..limit).find(|&i| closers.contains(&chars[i])) {
            Some(end) => {
                ranges.push(at + 1..end);
                at = end + 1;
            }
            None => at += 1,
        }
    }
    ranges
}

/// Whether the word before a promotion, in its sentence, makes it the company's own ("вашу
/// рекламу"): a complaint referring to the ad, not an ad.
fn addressed(lexicon: &Lexicon, subject: &Subject, promotion: &Match) -> bool {
    promotion.first.checked_sub(1).is_some_and(|i| {
        subject.words[i].sentence == subject.words[promotion.first].sentence
            && lexicon.addressed.contains(&subject.words[i].text)
    })
}

pub fn spam(lexicon: &Lexicon, found: &Found, subject: &Subject) -> Option<Flag> {
    // Words matched by two entries (a prefix and an exact form, or a phrase and a phrase inside
    // it) are one promotion, not two: keep only matches no earlier match contains.
    let mut matches: Vec<&Match> = found
        .of(Category::Spam)
        .filter(|m| !addressed(lexicon, subject, m))
        .collect();
    matches.sort_by_key(|m| (m.first, std::cmp::Reverse(m.last)));
    matches.dedup_by(|inner, outer| inner.last <= outer.last);
    // A promotion in quotation marks is a complaint quoting the ad («акция только сегодня»).
    // Only a text with promotions needs its quotations: most texts have none.
    let quotations = if matches.is_empty() {
        Vec::new()
    } else {
        quoted_ranges(subject.text)
    };
    let promotions: Vec<TextSpan> = matches
        .into_iter()
        .map(|m| subject.match_span(m))
        .filter(|span| !quotations.iter().any(|q| q.contains(&span.start)))
        .collect();
    let spans = |ranges: Vec<std::ops::Range<usize>>| -> Vec<TextSpan> {
        ranges
            .into_iter()
            .map(|r| subject.char_span(r.start, r.end))
            .collect()
    };
    let links = spans(reachable::links(subject.text));
    let contacts = spans(reachable::contacts(subject.text));
    let reachable = links.len() + contacts.len();
    // Words outside links and contacts: the feedback, if there is any.
    let content_words = subject
        .words
        .iter()
        .filter(|w| {
            !links
                .iter()
                .chain(&contacts)
                .any(|s| w.start >= s.start && w.end <= s.end)
        })
        .count();
    // Mostly gibberish means at least 60% of the words; stop counting once that is out of reach.
    let readable_limit = subject.words.len() * 4 / 10;
    let mut readable = 0;
    let mut gibberish = 0;
    for word in &subject.words {
        if gibberish_word(&word.text) {
            gibberish += 1;
        } else {
            readable += 1;
            if readable > readable_limit {
                break;
            }
        }
    }
    let (confidence, reason, evidence) = if !promotions.is_empty() && reachable > 0 {
        (
            0.95,
            "Advertises something and gives a link or contact to reach it.",
            [promotions, links, contacts].concat(),
        )
    } else if promotions.len() >= 2 {
        (0.85, "Reads as advertising, not feedback.", promotions)
    } else if reachable > 0 && content_words < 5 {
        (
            0.85,
            "A link or contact with almost no feedback around it.",
            [links, contacts].concat(),
        )
    } else if links.len() >= 2 && content_words < 15 {
        (0.8, "Several links and little feedback.", links)
    } else if subject.words.len() >= 2 && gibberish * 10 >= subject.words.len() * 6 {
        (
            0.8,
            "Mostly gibberish: no words of any language.",
            subject
                .words
                .iter()
                .enumerate()
                .filter(|(_, w)| gibberish_word(&w.text))
                .map(|(i, _)| subject.span(i, i))
                .collect(),
        )
    } else if gibberish::is_mashing(subject.words.iter().map(|w| w.text.as_str())) {
        let mashed: Vec<TextSpan> = subject
            .words
            .iter()
            .enumerate()
            .filter(|(_, w)| gibberish::is_mashed_word(&w.text))
            .map(|(i, _)| subject.span(i, i))
            .collect();
        (
            0.75,
            "Reads like keyboard mashing: letter sequences no language of its alphabet uses.",
            if mashed.is_empty() {
                vec![subject.span(0, subject.words.len() - 1)]
            } else {
                mashed
            },
        )
    } else {
        return None;
    };
    Some(Flag {
        kind: FlagKind::Spam,
        confidence,
        reason: format!("{reason} ({})", quoted(&evidence)),
        evidence,
        related_feedback_ids: Vec::new(),
    })
}

/// Polarity at or beyond which a text counts as clearly negative or positive.
pub const CLEAR_POLARITY: f64 = 0.5;

/// A score at one end of its scale with a text clearly at the other. `polarity` is the text's tone,
/// or for a CES its effort reading ([`super::polarity::effort`]).
pub fn score_mismatch(score: Option<Score>, polarity: &Polarity) -> Option<Flag> {
    let score = score?;
    let high = match score.kind {
        ScoreKind::Nps => score.value >= 9,
        ScoreKind::Csat => score.value >= 4,
        ScoreKind::Ces => score.value >= 6,
    };
    let low = match score.kind {
        ScoreKind::Nps => score.value <= 3,
        ScoreKind::Csat => score.value == 1,
        ScoreKind::Ces => score.value <= 2,
    };
    let scale = score.kind.as_str().to_uppercase();
    let (reason, evidence) = if high && polarity.value <= -CLEAR_POLARITY {
        (
            format!(
                "A {scale} of {} comes with a clearly negative text (polarity {:.2}): the scale may have been read backwards.",
                score.value, polarity.value
            ),
            polarity.negative_evidence.clone(),
        )
    } else if low && polarity.value >= CLEAR_POLARITY {
        (
            format!(
                "A {scale} of {} comes with a clearly positive text (polarity {:.2}): the scale may have been read backwards.",
                score.value, polarity.value
            ),
            polarity.positive_evidence.clone(),
        )
    } else {
        return None;
    };
    Some(Flag {
        kind: FlagKind::ScoreMismatch,
        confidence: (0.5 + polarity.value.abs() / 2.0).min(0.95),
        reason,
        evidence,
        related_feedback_ids: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotations_are_found_in_every_style() {
        let text = "Написано «акция», »akcija«, „акція“, “sale” и \"promo\", а « без пары";
        let quoted: Vec<String> = quoted_ranges(text)
            .into_iter()
            .map(|r| text.chars().skip(r.start).take(r.len()).collect())
            .collect();
        assert_eq!(quoted, ["акция", "akcija", "акція", "sale", "promo"]);
    }

    #[test]
    fn gibberish_is_told_from_words() {
        assert!(gibberish_word("asdfgh"));
        assert!(gibberish_word("ккккррр"));
        assert!(!gibberish_word("доставка"));
        assert!(!gibberish_word("strpnost"));
    }
}
