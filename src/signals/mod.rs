//! Text understanding (DESIGN.md §4, issue "Text understanding"): topics, polarity, suspicion
//! flags and priority, from per-language lexicons. Knows nothing about gRPC or storage.
//!
//! Topic taxonomy (several per item allowed; `assets/lexicons/*.toml` holds the words):
//! `delivery`, `payment_refunds`, `product_quality`, `staff_behaviour`, `website_app`,
//! `pricing`, `safety_health`, `legal`.
//!
//! Priority rules, first that applies:
//! - **P1**: extortion; a safety or health hazard (`safety_health`); a legal threat (court,
//!   consumer protection, police);
//! - **P2**: a personal attack on an employee; a clearly negative text (polarity ≤ −0.5) from a
//!   detractor (NPS ≤ 6, CSAT ≤ 2 or CES ≤ 2 attached);
//! - **P3**: any other complaint, negative text, abusive language or score mismatch;
//! - **P4**: everything else (praise, neutral reviews, spam).

pub mod dedup;
pub mod entries;
pub mod gibberish;
pub mod lexicons;
pub mod lsh;
mod obfuscation;
pub mod polarity;
mod reachable;
pub mod repeats;
pub mod rules;

use std::collections::BTreeMap;

use crate::model::{Analysis, FeedbackKind, Flag, FlagKind, Priority, Score, ScoreKind};
use crate::text::lexicon::words;
use lexicons::Lexicons;
use rules::Subject;

/// The order topics are listed in.
pub const TOPICS: [&str; 8] = [
    "delivery",
    "payment_refunds",
    "product_quality",
    "staff_behaviour",
    "website_app",
    "pricing",
    "safety_health",
    "legal",
];

/// Attribute keys that name the employee a text is about.
const EMPLOYEE_ATTRIBUTES: [&str; 4] = ["employee", "employee_name", "employee_id", "staff"];

/// What the analyzer needs to know about an item besides its text.
pub struct Context<'a> {
    pub language: &'a str,
    pub kind: FeedbackKind,
    pub score: Option<Score>,
    pub attributes: &'a BTreeMap<String, String>,
}

fn detractor(score: Option<Score>) -> bool {
    score.is_some_and(|s| match s.kind {
        ScoreKind::Nps => s.value <= 6,
        ScoreKind::Csat | ScoreKind::Ces => s.value <= 2,
    })
}

/// What the store's writer needs to judge an item against the stored ones: duplicates of its
/// text and repeats of its problem. Computed before the writer, in parallel across requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    pub text: dedup::TextFingerprint,
    pub stems: repeats::ContentStems,
}

/// The [`Fingerprint`] of a text in a detected language.
pub fn fingerprint(text: &str, language: &str, params: &dedup::DedupParams) -> Fingerprint {
    Fingerprint {
        text: dedup::fingerprint(text, params.shingle_chars),
        stems: repeats::content_stems(text, language),
    }
}

/// Topics, polarity, flags and priority of one text.
pub fn analyze(lexicons: &Lexicons, text: &str, context: &Context) -> Analysis {
    let applicable = lexicons.for_language(context.language);
    let subject = Subject {
        text,
        words: words(text),
        names_employee: context
            .attributes
            .iter()
            .any(|(k, v)| EMPLOYEE_ATTRIBUTES.contains(&k.as_str()) && !v.trim().is_empty()),
    };
    let found: Vec<_> = applicable
        .iter()
        .map(|lexicon| (*lexicon, lexicon.find(&subject.words)))
        .collect();
    let polarity = polarity::polarity(&found, text, &subject.words);
    let mut flags: Vec<Flag> = Vec::new();
    let mut keep = |flag: Option<Flag>| {
        let Some(flag) = flag else { return };
        match flags.iter_mut().find(|f| f.kind == flag.kind) {
            Some(existing) if existing.confidence < flag.confidence => *existing = flag,
            Some(_) => {}
            None => flags.push(flag),
        }
    };
    let mut legal_threat = false;
    let mut topics = Vec::new();
    for (lexicon, found) in &found {
        keep(rules::extortion(lexicon, found, &subject));
        keep(rules::personal_attack(lexicon, found, &subject));
        keep(rules::abusive_language(lexicon, found, &subject));
        keep(rules::spam(lexicon, found, &subject));
        legal_threat |= rules::legal_threat(found);
        for index in found.topics() {
            let topic = &lexicon.topics[index];
            if !topics.contains(topic) {
                topics.push(topic.clone());
            }
        }
    }
    // A CES rates effort, so its text is read with the words of effort too.
    let effort = context
        .score
        .filter(|score| score.kind == ScoreKind::Ces)
        .map(|_| polarity::effort(&found, text, &subject.words));
    keep(rules::score_mismatch(
        context.score,
        effort.as_ref().unwrap_or(&polarity),
    ));
    topics.sort_by_key(|t| TOPICS.iter().position(|known| known == t));
    flags.sort_by_key(|f| f.kind);
    let has = |kind: FlagKind| flags.iter().any(|f| f.kind == kind);
    let priority: Priority = if has(FlagKind::Extortion)
        || legal_threat
        || topics.iter().any(|t| t == "safety_health")
    {
        1
    } else if has(FlagKind::Spam) {
        4
    } else if has(FlagKind::PersonalAttack)
        || (polarity.value <= -rules::CLEAR_POLARITY && detractor(context.score))
    {
        2
    } else if context.kind == FeedbackKind::Complaint
        || polarity.value <= -polarity::SENTIMENT_THRESHOLD
        || has(FlagKind::AbusiveLanguage)
        || has(FlagKind::ScoreMismatch)
    {
        3
    } else {
        4
    };
    Analysis {
        topics,
        sentiment: polarity.sentiment,
        polarity: polarity.value,
        flags,
        priority,
        cluster_id: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(language: &str, text: &str) -> Analysis {
        scored_analysis(language, text, None)
    }

    fn scored_analysis(language: &str, text: &str, score: Option<Score>) -> Analysis {
        let attributes = BTreeMap::new();
        analyze(
            &Lexicons::embedded(),
            text,
            &Context {
                language,
                kind: FeedbackKind::Complaint,
                score,
                attributes: &attributes,
            },
        )
    }

    fn kinds(analysis: &Analysis) -> Vec<FlagKind> {
        analysis.flags.iter().map(|f| f.kind).collect()
    }

    /// Asserts that none of the `(language, text)` pairs raises a flag.
    fn assert_unflagged(texts: &[(&str, &str)]) {
        for (language, text) in texts {
            assert!(kinds(&analysis(language, text)).is_empty(), "{text}");
        }
    }

    #[test]
    fn a_word_matched_by_two_spam_entries_is_one_promotion() {
        // A prefix beside the exact form it covers (an edit a lexicon maintainer may well make)
        // matched one word twice and made an honest sentence advertising.
        let dir = tempfile::tempdir().unwrap();
        let overlapping = include_str!("../../assets/lexicons/uk.toml").replacen(
            "\"заробітком\",",
            "\"заробітком\", \"заробітк*\",",
            1,
        );
        std::fs::write(dir.path().join("uk.toml"), overlapping).unwrap();
        let lexicons = Lexicons::load(Some(dir.path())).unwrap();
        let attributes = BTreeMap::new();
        let context = Context {
            language: "uk",
            kind: FeedbackKind::Complaint,
            score: None,
            attributes: &attributes,
        };
        let honest = analyze(
            &lexicons,
            "Консультант допоміг розібратися з моїм заробітком і податками, дякую.",
            &context,
        );
        assert!(kinds(&honest).is_empty(), "{:?}", honest.flags);
        let advert = analyze(
            &lexicons,
            "Стабільний заробіток без вкладень, підробіток для студентів, пишіть в особисті.",
            &context,
        );
        assert_eq!(kinds(&advert), [FlagKind::Spam]);
    }

    #[test]
    fn extortion_needs_a_demand_and_a_reputational_threat() {
        let flagged = analysis(
            "ru",
            "Верните деньги, иначе напишу во все соцсети, какие вы мошенники.",
        );
        assert_eq!(kinds(&flagged), [FlagKind::Extortion]);
        assert_eq!(flagged.priority, 1);
        let legal = analysis(
            "ru",
            "Верните деньги, иначе подам в суд и пожалуюсь в Роспотребнадзор.",
        );
        assert!(kinds(&legal).is_empty());
        assert_eq!(
            legal.priority, 1,
            "a legal threat is urgent but not extortion"
        );
        assert!(legal.topics.contains(&"legal".to_string()));
        let review_only = analysis(
            "ru",
            "Напишу отзыв, чтобы другие знали, как тут обслуживают.",
        );
        assert!(kinds(&review_only).is_empty());
    }

    #[test]
    fn what_is_thanked_for_was_granted_not_demanded() {
        let grateful = "Напишу в инстаграме, как мне понравилось, спасибо за подарок!";
        assert!(kinds(&analysis("ru", grateful)).is_empty());
        let sl =
            "Vsem prijateljem bom povedal, kako dobra je vaša pica, hvala za brezplačno sladico!";
        assert!(kinds(&analysis("sl", sl)).is_empty());
        // Thanks for something else leave the demand that follows a demand.
        let demanding = "Спасибо за ответ, но верните деньги, иначе напишу во все соцсети.";
        assert_eq!(kinds(&analysis("ru", demanding)), [FlagKind::Extortion]);
    }

    #[test]
    fn the_companys_own_ad_and_the_writers_own_number_make_no_spam() {
        assert_unflagged(&[
            (
                "ru",
                "Увидела вашу рекламу в инстаграме и заказала пальто на сайте modashop.ru, а пришло \
                 другое.",
            ),
            (
                "uk",
                "У рекламі обіцяли знижки до 50%, а на касі пробили повну ціну. Передзвоніть мені: \
                 067 000 11 22",
            ),
            (
                "sl",
                "Videla sem vaš oglas na Instagramu in naročila plašč na www.modashop.si.",
            ),
        ]);
        // The same promotion in an advertiser's voice, with the advertiser's number.
        let ad = "Ремонт окон по низким ценам, скидки до 30% пенсионерам! Звоните +7 912 111-22-33";
        assert_eq!(kinds(&analysis("ru", ad)), [FlagKind::Spam]);
    }

    #[test]
    fn a_review_promised_as_praise_threatens_nobody() {
        assert_unflagged(&[
            (
                "ru",
                "Деньги на карту вернули за два дня, обязательно напишу хороший отзыв на Озоне.",
            ),
            (
                "uk",
                "Гроші на картку повернули за два дні, обов'язково напишу гарний відгук на Rozetka.",
            ),
        ]);
        // Praise denied is a threat again.
        let threat = "Верните деньги, иначе напишу не самый хороший отзыв на Озоне.";
        assert_eq!(kinds(&analysis("ru", threat)), [FlagKind::Extortion]);
    }

    #[test]
    fn a_story_hoped_to_reach_a_forum_threatens_nobody() {
        assert_unflagged(&[
            (
                "sl",
                "Upam, da bo ta zgodba na forumu pomagala drugim kupcem, ki čakajo na vračilo.",
            ),
            (
                "ru",
                "Надеюсь, эта история попадёт на форум и поможет другим вернуть деньги.",
            ),
        ]);
        // A hope further back is about something else: the threat stands.
        let threat = "Надеюсь, вы вернёте деньги до среды, иначе эта история будет во всех \
                      пабликах города.";
        assert_eq!(kinds(&analysis("ru", threat)), [FlagKind::Extortion]);
    }

    #[test]
    fn an_insult_the_writer_aims_at_themself_attacks_nobody() {
        for (language, honest) in [
            (
                "ru",
                "Я сам болван, перепутал адрес доставки, курьер тут ни при чём.",
            ),
            (
                "sl",
                "Bil sem pravi bebec, ker sem verjel reklami, prodajalec pa je bil prijazen.",
            ),
        ] {
            assert!(
                !kinds(&analysis(language, honest)).contains(&FlagKind::PersonalAttack),
                "{honest}"
            );
        }
        // A retort still insults the employee.
        let attack = "Курьер Денис сказал, что я сам виноват. Сам ты болван, Денис.";
        assert_eq!(kinds(&analysis("ru", attack)), [FlagKind::PersonalAttack]);
        // A call for punishment is no insult: the writer may be its subject.
        let revenge = "Я добьюсь, чтобы эту кассиршу уволили, помяните моё слово.";
        assert_eq!(kinds(&analysis("ru", revenge)), [FlagKind::PersonalAttack]);
        // A negator in its gap turns a punishment around, as it does a threat.
        let worried = "Курьер переживал, чтобы его не уволили за опоздание, и очень извинялся.";
        assert!(kinds(&analysis("ru", worried)).is_empty(), "{worried}");
    }

    #[test]
    fn a_demand_declined_or_already_met_is_none() {
        assert_unflagged(&[
            (
                "ru",
                "Выложу в инстаграм фото вашего торта, он был великолепен. Компенсация за опоздание \
                 не нужна.",
            ),
            (
                "ru",
                "Хотела написать гневный отзыв на Отзовике, но вы всё исправили и вернули деньги.",
            ),
            (
                "sl",
                "Hvala, da ste tako hitro vrnili denar. Na svojem blogu bom o vas pisala samo lepo.",
            ),
        ]);
        // Declining one thing in another clause leaves the demand that follows.
        for demanding in [
            "Извинения не нужны, верните деньги, иначе напишу во все группы района.",
            "Мне не нужна компенсация, я хочу, чтобы вы вернули деньги, иначе расскажу всем в \
             инстаграме.",
        ] {
            assert_eq!(
                kinds(&analysis("ru", demanding)),
                [FlagKind::Extortion],
                "{demanding}"
            );
        }
    }

    #[test]
    fn a_venue_in_the_gap_of_a_publishing_phrase_counts_unless_praise_is_published() {
        let threat = "Pričakujem vračilo do petka. Če ga ne bo, bo na YouTubu video z vsemi \
                      podrobnostmi.";
        assert_eq!(kinds(&analysis("sl", threat)), [FlagKind::Extortion]);
        let praise = "Denar so vrnili v enem dnevu, zato bo na forumu objava s pohvalo.";
        assert!(kinds(&analysis("sl", praise)).is_empty(), "{praise}");
    }

    #[test]
    fn a_publishing_verb_threatens_only_with_a_venue_in_its_sentence() {
        let flagged = analysis(
            "uk",
            "Поверніть гроші до понеділка, інакше розміщу детальний огляд вашого магазину на \
             всіх форумах.",
        );
        assert_eq!(kinds(&flagged), [FlagKind::Extortion]);
        let evidence: Vec<&str> = flagged.flags[0]
            .evidence
            .iter()
            .map(|span| span.text.as_str())
            .collect();
        assert_eq!(evidence, ["Поверніть", "розміщу", "огляд"]);
        for honest in [
            // A video as evidence for the claim, not a publication.
            "Сниму видео распаковки, чтобы было доказательство брака, и прошу вернуть деньги.",
            // The verb and the venue in different sentences.
            "Верните деньги. Я напишу ещё раз завтра. Ваш магазин нашла в инстаграме.",
            // A negated verb.
            "Верните деньги, я не буду писать отзывы, просто верните.",
        ] {
            assert!(kinds(&analysis("ru", honest)).is_empty(), "{honest}");
        }
        // Silence offered for the demand is a threat even though negated.
        for offer in [
            "Переведите мне 1500 рублей, тогда не стану выкладывать видео в ютуб.",
            "Вы возвращаете полную стоимость, а я не публикую фото вашего товара в пабликах.",
        ] {
            assert_eq!(
                kinds(&analysis("ru", offer)),
                [FlagKind::Extortion],
                "{offer}"
            );
        }
    }

    #[test]
    fn offers_of_silence_or_a_takedown_threaten_without_a_venue() {
        for (language, offer) in [
            (
                "uk",
                "Пропоную так: ви мені повертаєте гроші, а я не викладаю відео з вашим продавцем.",
            ),
            (
                "ru",
                "Предлагаю договориться: вы мне бесплатный год обслуживания, а я удаляю свой \
                 разгромный пост.",
            ),
            (
                "sl",
                "Dogovoriva se: vi mi vrnete denar, jaz pa izbrišem svojo objavo na Facebooku.",
            ),
        ] {
            assert_eq!(
                kinds(&analysis(language, offer)),
                [FlagKind::Extortion],
                "{offer}"
            );
        }
        assert_unflagged(&[
            // A takedown that sells nothing: no offer connector before it.
            (
                "ru",
                "Возврат получила, удаляю свой вопрос из чата, спасибо.",
            ),
            // A negated verb without an offer.
            (
                "uk",
                "Поверніть гроші, я не викладаю відео, просто прошу по-людськи.",
            ),
        ]);
    }

    #[test]
    fn evidence_points_at_the_words() {
        let text = "Касирка Оксана — хамка, звільніть її негайно!";
        let flagged = analysis("uk", text);
        let flag = flagged
            .flags
            .iter()
            .find(|f| f.kind == FlagKind::PersonalAttack)
            .expect("personal attack");
        let chars: Vec<char> = text.chars().collect();
        for span in &flag.evidence {
            let marked: String = chars[span.start..span.end].iter().collect();
            assert_eq!(marked, span.text);
        }
        assert!(flag.evidence.iter().any(|s| s.text == "Касирка"));
    }

    #[test]
    fn topics_are_found_in_each_language() {
        assert_eq!(
            analysis("ru", "Курьер опоздал с доставкой").topics,
            ["delivery"]
        );
        assert!(
            analysis("sl", "Plačilo s kartico ne deluje v aplikaciji")
                .topics
                .contains(&"website_app".to_string())
        );
        assert!(
            analysis("uk", "Отруївся несвіжою рибою, потрапив до лікарні")
                .topics
                .contains(&"safety_health".to_string())
        );
    }

    #[test]
    fn a_ces_is_read_against_the_effort_the_text_describes() {
        let ces = |value| {
            Some(Score {
                kind: ScoreKind::Ces,
                value,
            })
        };
        let hard = "Пришлось звонить пять раз и объяснять одно и то же.";
        let flagged = scored_analysis("ru", hard, ces(7));
        assert_eq!(kinds(&flagged), [FlagKind::ScoreMismatch]);
        assert!(flagged.flags[0].reason.contains("CES of 7"));
        assert!(kinds(&scored_analysis("ru", hard, ces(2))).is_empty());
        // The middle of the scale contradicts nothing, and effort counts only against a CES.
        assert!(kinds(&scored_analysis("ru", hard, ces(4))).is_empty());
        let csat = Some(Score {
            kind: ScoreKind::Csat,
            value: 5,
        });
        assert!(kinds(&scored_analysis("ru", hard, csat)).is_empty());
        let easy = "Vse je bilo urejeno v nekaj minutah, brez težav.";
        assert_eq!(
            kinds(&scored_analysis("sl", easy, ces(1))),
            [FlagKind::ScoreMismatch]
        );
    }
}
