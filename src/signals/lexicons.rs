//! The per-language lexicons (`assets/lexicons/{ru,uk,sl}.toml`), shipped in the binary and
//! overridable from a directory named in the config: a `uk.toml` there replaces the embedded
//! Ukrainian lexicon.

use std::collections::BTreeMap;

use rustc_hash::FxHashSet;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::text::lexicon::{Match, PatternSet, Word};
use crate::text::normalize::normalize;

const EMBEDDED: [(&str, &str); 3] = [
    ("ru", include_str!("../../assets/lexicons/ru.toml")),
    ("uk", include_str!("../../assets/lexicons/uk.toml")),
    ("sl", include_str!("../../assets/lexicons/sl.toml")),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolarityFile {
    positive: Vec<String>,
    negative: Vec<String>,
    negators: Vec<String>,
    intensifiers: Vec<String>,
    contrast: Vec<String>,
    /// Words of little effort ("в пару кликов", "brez težav") and of much ("пришлось звонить",
    /// "довелося", "večkrat"), read together with the tone when the text comes with a CES.
    #[serde(default)]
    easy: Vec<String>,
    #[serde(default)]
    hard: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtortionFile {
    demands: Vec<String>,
    threats: Vec<String>,
    /// Verbs of making something public in a future or intent form ("выложу", "розповім",
    /// "objavim"): a threat when a public venue is named in the same sentence.
    #[serde(default)]
    publish_verbs: Vec<String>,
    /// Where a customer can publish: reviews, social networks, forums, media, followers.
    #[serde(default)]
    venues: Vec<String>,
    /// Words that make a negated threat an offer ("верните деньги, тогда не стану выкладывать
    /// видео"): silence sold for the demand.
    #[serde(default)]
    offer_connectors: Vec<String>,
    /// Verbs of taking something down ("удаляю", "видалю", "izbrišem"): a threat right after an
    /// offer connector ("…, а я удаляю свой пост"), the removal sold for the demand.
    #[serde(default)]
    takedowns: Vec<String>,
    /// Words of thanks ("спасибо", "дякую", "hvala"): a demand just after them was granted, not
    /// made ("спасибо за подарок").
    #[serde(default)]
    gratitude: Vec<String>,
    /// Words that decline a demand beside them ("компенсация … не нужна", "ne potrebujem"): the
    /// customer asks for nothing.
    #[serde(default)]
    declined: Vec<String>,
    /// Words of hoping ("надеюсь", "сподіваюся", "upam"): a story the customer hopes will reach a
    /// forum ("upam, da bo ta zgodba na forumu pomagala drugim") is wished for, not threatened.
    #[serde(default)]
    hopes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LegalFile {
    threats: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonalAttackFile {
    roles: Vec<String>,
    names: Vec<String>,
    insults: Vec<String>,
    punishments: Vec<String>,
    /// The writer as the subject ("я", "sem"): an insult just after one is aimed at the writer
    /// ("я сам дурак, курьер ни при чём"), not at an employee.
    #[serde(default)]
    speaker: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WordsFile {
    words: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpamFile {
    phrases: Vec<String>,
    /// Possessives of the second person ("вашу", "vaš"): a promotion right after one is the
    /// company's own advertising that a complaint refers to ("увидела вашу рекламу", "vaš oglas"),
    /// not an advertiser's.
    #[serde(default)]
    addressed: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LexiconFile {
    polarity: PolarityFile,
    extortion: ExtortionFile,
    legal: LegalFile,
    personal_attack: PersonalAttackFile,
    abuse: WordsFile,
    spam: SpamFile,
    topics: BTreeMap<String, Vec<String>>,
}

/// Which list of the lexicon a pattern came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Positive,
    Negative,
    Easy,
    Hard,
    Demand,
    Declined,
    Threat,
    PublishVerb,
    Venue,
    Takedown,
    LegalThreat,
    Role,
    Name,
    Insult,
    Punishment,
    Abuse,
    Spam,
}

/// Tags from here on are topics (`TOPIC_TAGS + index into Lexicon::topics`).
const TOPIC_TAGS: u16 = 100;

/// One language's lexicon, compiled into a single tagged pattern set so a text is scanned once.
#[derive(Debug, Clone)]
pub struct Lexicon {
    patterns: PatternSet,
    pub negators: FxHashSet<String>,
    /// See `ExtortionFile::offer_connectors`.
    pub offer_connectors: FxHashSet<String>,
    /// See `ExtortionFile::gratitude`.
    pub gratitude: FxHashSet<String>,
    /// See `ExtortionFile::hopes`.
    pub hopes: FxHashSet<String>,
    /// See `PersonalAttackFile::speaker`.
    pub speaker: FxHashSet<String>,
    /// See `SpamFile::addressed`.
    pub addressed: FxHashSet<String>,
    pub intensifiers: FxHashSet<String>,
    pub contrast: FxHashSet<String>,
    /// Profanity and insults as written (prefixes end in `*`), for the obfuscation-tolerant matcher.
    pub abuse_words: Vec<String>,
    pub topics: Vec<String>,
}

/// The matches of one text against one lexicon.
pub struct Found {
    matches: Vec<Match>,
}

impl Found {
    pub fn of(&self, category: Category) -> impl Iterator<Item = &Match> + '_ {
        self.matches
            .iter()
            .filter(move |m| m.tag == category as u16)
    }

    pub fn any(&self, category: Category) -> bool {
        self.of(category).next().is_some()
    }

    /// Indexes (into `Lexicon::topics`) of the topics that matched.
    pub fn topics(&self) -> impl Iterator<Item = usize> + '_ {
        self.matches
            .iter()
            .filter(|m| m.tag >= TOPIC_TAGS)
            .map(|m| usize::from(m.tag - TOPIC_TAGS))
    }
}

fn word_set(words: &[String]) -> FxHashSet<String> {
    words.iter().map(|w| normalize(w)).collect()
}

impl Lexicon {
    pub fn parse(language: &str, toml_text: &str) -> Result<Lexicon> {
        let file: LexiconFile = toml::from_str(toml_text)
            .map_err(|e| Error::Config(format!("lexicon {language}: {e}")))?;
        let mut patterns = PatternSet::default();
        let gap_breaking = [
            Category::Positive,
            Category::Negative,
            Category::Easy,
            Category::Hard,
            Category::Threat,
            Category::PublishVerb,
            Category::Punishment,
        ];
        patterns.break_gaps_at(
            word_set(&file.polarity.negators),
            &gap_breaking.map(|category| category as u16),
        );
        for (category, list) in [
            (Category::Positive, &file.polarity.positive),
            (Category::Negative, &file.polarity.negative),
            (Category::Easy, &file.polarity.easy),
            (Category::Hard, &file.polarity.hard),
            (Category::Demand, &file.extortion.demands),
            (Category::Declined, &file.extortion.declined),
            (Category::Threat, &file.extortion.threats),
            (Category::PublishVerb, &file.extortion.publish_verbs),
            (Category::Venue, &file.extortion.venues),
            (Category::Takedown, &file.extortion.takedowns),
            (Category::LegalThreat, &file.legal.threats),
            (Category::Role, &file.personal_attack.roles),
            (Category::Name, &file.personal_attack.names),
            (Category::Insult, &file.personal_attack.insults),
            (Category::Punishment, &file.personal_attack.punishments),
            (Category::Abuse, &file.abuse.words),
            (Category::Spam, &file.spam.phrases),
        ] {
            patterns.add(category as u16, list);
        }
        let mut topics = Vec::new();
        for (i, (topic, list)) in file.topics.iter().enumerate() {
            let tag = u16::try_from(i)
                .ok()
                .and_then(|i| TOPIC_TAGS.checked_add(i))
                .ok_or_else(|| Error::Config(format!("lexicon {language}: too many topics")))?;
            patterns.add(tag, list);
            topics.push(topic.clone());
        }
        Ok(Lexicon {
            patterns,
            negators: word_set(&file.polarity.negators),
            offer_connectors: word_set(&file.extortion.offer_connectors),
            gratitude: word_set(&file.extortion.gratitude),
            hopes: word_set(&file.extortion.hopes),
            speaker: word_set(&file.personal_attack.speaker),
            addressed: word_set(&file.spam.addressed),
            intensifiers: word_set(&file.polarity.intensifiers),
            contrast: word_set(&file.polarity.contrast),
            abuse_words: file.abuse.words.iter().map(|w| normalize(w)).collect(),
            topics,
        })
    }

    /// Every match of every list in `words`.
    pub fn find(&self, words: &[Word]) -> Found {
        Found {
            matches: self.patterns.find_all(words),
        }
    }
}

/// The lexicons of ru, uk and sl.
#[derive(Debug, Clone)]
pub struct Lexicons {
    languages: Vec<(&'static str, Lexicon)>,
}

impl Lexicons {
    /// The embedded lexicons, with any `{ru,uk,sl}.toml` found in `override_dir` taking their place.
    pub fn load(override_dir: Option<&Path>) -> Result<Lexicons> {
        let mut languages = Vec::with_capacity(EMBEDDED.len());
        for (language, embedded) in EMBEDDED {
            let text = match override_dir.map(|dir| dir.join(format!("{language}.toml"))) {
                Some(path) if path.exists() => std::fs::read_to_string(&path).map_err(|e| {
                    Error::Config(format!("cannot read lexicon {}: {e}", path.display()))
                })?,
                _ => embedded.to_string(),
            };
            languages.push((language, Lexicon::parse(language, &text)?));
        }
        Ok(Lexicons { languages })
    }

    /// The embedded lexicons.
    pub fn embedded() -> Lexicons {
        Lexicons::load(None).expect("the embedded lexicons parse")
    }

    /// The lexicons to apply to a text in `language`: its own, or all of them for `und`.
    pub fn for_language(&self, language: &str) -> Vec<&Lexicon> {
        let own: Vec<&Lexicon> = self
            .languages
            .iter()
            .filter(|(code, _)| *code == language)
            .map(|(_, lexicon)| lexicon)
            .collect();
        if own.is_empty() {
            self.languages.iter().map(|(_, lexicon)| lexicon).collect()
        } else {
            own
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::TOPICS;

    #[test]
    fn embedded_lexicons_parse_and_share_topics() {
        let lexicons = Lexicons::embedded();
        for language in ["ru", "uk", "sl"] {
            let lexicon = lexicons.for_language(language);
            assert_eq!(lexicon.len(), 1);
            assert_eq!(lexicon[0].topics.len(), TOPICS.len(), "{language}");
            for topic in &lexicon[0].topics {
                assert!(TOPICS.contains(&topic.as_str()), "{language}: {topic}");
            }
        }
        assert_eq!(lexicons.for_language("und").len(), 3);
    }

    #[test]
    fn no_embedded_list_repeats_an_entry() {
        // A repeated spam phrase counts twice: one promotional word would read as two.
        fn check(language: &str, path: &str, value: &toml::Value) {
            match value {
                toml::Value::Table(table) => {
                    for (key, value) in table {
                        check(language, &format!("{path}.{key}"), value);
                    }
                }
                toml::Value::Array(entries) => {
                    let mut seen = std::collections::HashSet::new();
                    for entry in entries {
                        assert!(seen.insert(entry.to_string()), "{language}{path}: {entry}");
                    }
                }
                _ => {}
            }
        }
        for (language, text) in EMBEDDED {
            check(language, "", &toml::from_str(text).unwrap());
        }
    }
}
