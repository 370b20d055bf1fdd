//! A seeded generator of synthetic feedback in ru / uk / sl, for benchmarks and evaluations.
//!
//! Texts are stitched from realistic complaint and review sentences to a length drawn from a
//! log-normal distribution (median about 250 characters, clamped to 20..2,000), so the size mix
//! resembles real feedback. The same seed always yields the same corpus.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::model::{FeedbackKind, NewFeedback, Score, ScoreKind};

const RU: &[&str] = &[
    "Заказ привезли на три дня позже обещанного срока.",
    "Курьер не позвонил заранее и оставил посылку у двери.",
    "Упаковка была порвана, товар пришёл с царапинами.",
    "Деньги списали дважды, а возврат до сих пор не пришёл.",
    "В приложении постоянно вылетает оплата картой.",
    "Кассир была очень вежлива и быстро всё оформила.",
    "Качество ткани ужасное, после первой стирки всё село.",
    "Поддержка отвечала неделю и так ничего и не решила.",
    "Цены выросли, а ассортимент стал заметно хуже.",
    "Спасибо за быструю доставку, всё в идеальном состоянии.",
    "Смс с кодом подтверждения так и не пришло.",
    "Интернет пропадает каждый вечер уже вторую неделю.",
    "Прошу вернуть деньги за бракованный товар.",
    "Менеджер обещал перезвонить, но так и не перезвонил.",
];

const UK: &[&str] = &[
    "Замовлення привезли на три дні пізніше обіцяного терміну.",
    "Кур'єр не зателефонував заздалегідь і залишив посилку біля дверей.",
    "Упаковка була розірвана, товар прийшов з подряпинами.",
    "Гроші списали двічі, а повернення досі не надійшло.",
    "У застосунку постійно вилітає оплата карткою.",
    "Касирка була дуже ввічлива і швидко все оформила.",
    "Якість тканини жахлива, після першого прання все сіло.",
    "Підтримка відповідала тиждень і так нічого не вирішила.",
    "Ціни зросли, а асортимент став помітно гіршим.",
    "Дякую за швидку доставку, все в ідеальному стані.",
    "Смс з кодом підтвердження так і не прийшло.",
    "Інтернет зникає щовечора вже другий тиждень.",
    "Прошу повернути гроші за бракований товар.",
    "Менеджерка обіцяла передзвонити, але так і не передзвонила.",
];

const SL: &[&str] = &[
    "Naročilo je prispelo tri dni pozneje, kot je bilo obljubljeno.",
    "Kurir ni poklical vnaprej in je paket pustil pred vrati.",
    "Embalaža je bila raztrgana, izdelek je prišel opraskan.",
    "Denar so mi trikrat bremenili, vračila pa še vedno ni.",
    "V aplikaciji se plačilo s kartico nenehno sesuje.",
    "Prodajalka je bila zelo prijazna in je vse hitro uredila.",
    "Kakovost blaga je grozna, po prvem pranju se je vse skrčilo.",
    "Podpora je odgovarjala en teden in ni ničesar rešila.",
    "Cene so zrasle, izbira pa je opazno slabša.",
    "Hvala za hitro dostavo, vse je v brezhibnem stanju.",
    "SMS s potrditveno kodo ni nikoli prišel.",
    "Internet vsak večer izgine že drugi teden.",
    "Prosim za vračilo denarja za pokvarjen izdelek.",
    "Upravitelj je obljubil, da me pokliče nazaj, pa me ni.",
];

/// The sentence pool of a language (`ru`, `uk` or `sl`; anything else gets Russian).
pub fn sentences(language: &str) -> &'static [&'static str] {
    match language {
        "uk" => UK,
        "sl" => SL,
        _ => RU,
    }
}

const CHANNELS: &[&str] = &["email", "app", "web", "call-center", "store"];

/// Deterministic feedback generator.
pub struct CorpusGenerator {
    rng: StdRng,
    customers: u64,
}

impl CorpusGenerator {
    /// `customers` is the size of the customer pool; smaller pools mean more repeat customers.
    pub fn new(seed: u64, customers: u64) -> CorpusGenerator {
        CorpusGenerator {
            rng: StdRng::seed_from_u64(seed),
            customers: customers.max(1),
        }
    }

    /// A length in characters: log-normal around 250, clamped to 20..=2000.
    fn length(&mut self) -> usize {
        // Box–Muller: two uniforms give one standard normal.
        let u1: f64 = self.rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = self.rng.random();
        let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        let length = (250f64.ln() + 0.8 * normal).exp();
        (length as usize).clamp(20, 2000)
    }

    /// A text in `language` (`ru`, `uk` or `sl`) of about the drawn length.
    pub fn text(&mut self, language: &str) -> String {
        let sentences = sentences(language);
        let target = self.length();
        let mut text = String::new();
        while text.chars().count() < target {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(sentences[self.rng.random_range(0..sentences.len())]);
        }
        if text.chars().count() > target + 40 {
            text = text.chars().take(target.max(20)).collect();
        }
        text
    }

    /// The `index`-th item of the corpus; `index` makes the external id unique.
    pub fn feedback(&mut self, index: u64) -> NewFeedback {
        let language = ["ru", "uk", "sl"][self.rng.random_range(0..3)];
        let score = match self.rng.random_range(0..10) {
            0..=3 => Some(Score {
                kind: ScoreKind::Nps,
                value: self.rng.random_range(0..=10),
            }),
            4..=5 => Some(Score {
                kind: ScoreKind::Csat,
                value: self.rng.random_range(1..=5),
            }),
            6 => Some(Score {
                kind: ScoreKind::Ces,
                value: self.rng.random_range(1..=7),
            }),
            _ => None,
        };
        NewFeedback {
            external_id: format!("bench-{index}"),
            customer_id: format!("customer-{}", self.rng.random_range(0..self.customers)),
            text: self.text(language),
            kind: if self.rng.random_bool(0.7) {
                FeedbackKind::Complaint
            } else {
                FeedbackKind::Review
            },
            channel: CHANNELS[self.rng.random_range(0..CHANNELS.len())].to_string(),
            created_at: None,
            language_hint: String::new(),
            score,
            attributes: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_corpus() {
        let mut a = CorpusGenerator::new(7, 100);
        let mut b = CorpusGenerator::new(7, 100);
        for i in 0..50 {
            assert_eq!(a.feedback(i), b.feedback(i));
        }
    }

    #[test]
    fn lengths_have_a_realistic_spread() {
        let mut generator = CorpusGenerator::new(1, 100);
        let mut lengths: Vec<usize> = (0..2000)
            .map(|i| generator.feedback(i).text.chars().count())
            .collect();
        lengths.sort_unstable();
        let median = lengths[lengths.len() / 2];
        assert!((180..=330).contains(&median), "median {median}");
        assert!(lengths[0] >= 20 && *lengths.last().unwrap() <= 2040);
    }
}
