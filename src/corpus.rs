//! A seeded generator of synthetic feedback in ru / uk / sl, for benchmarks and evaluations.
//!
//! Texts are built from a small grammar per language (an opener, clauses of a subject, a
//! predicate and a detail with numbers, products and places filled in, a closer) to a length drawn
//! from a log-normal distribution (median about 250 characters, clamped to 20..2,000), so two
//! texts rarely share more than a few phrases, as with real feedback. On top of that a few percent
//! of items are planted on purpose: near-copies of campaign templates sent by many customers,
//! repeats of a customer's earlier complaint, and suspicious sentences (threats, insults, ads).
//! Items are written in the order they arrive or at random instants of 300 days ([`Timeline`]).
//! The same seed always yields the same corpus.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rustc_hash::FxHashMap;

use crate::model::{FeedbackKind, NewFeedback, Score, ScoreKind};

/// The word material of one language.
struct Grammar {
    openers: &'static [&'static str],
    subjects: &'static [&'static str],
    predicates: &'static [&'static str],
    details: &'static [&'static str],
    closers: &'static [&'static str],
    products: &'static [&'static str],
    places: &'static [&'static str],
    /// Copy-paste campaign texts.
    campaigns: &'static [&'static str],
    /// Sentences that make an item suspicious.
    suspicious: &'static [&'static str],
}

const RU: Grammar = Grammar {
    openers: &[
        "Здравствуйте.",
        "Добрый день!",
        "Пишу уже не в первый раз.",
        "Коротко о моём опыте.",
        "Хочу оставить отзыв.",
        "Доброго времени суток.",
    ],
    subjects: &[
        "Курьер",
        "Заказ №{n}",
        "Доставка",
        "Оператор поддержки",
        "Приложение",
        "Кассир в магазине на {c}",
        "Посылка с {p}",
        "Возврат денег",
        "Менеджер",
        "Сайт",
        "Оплата картой",
        "Товар",
    ],
    predicates: &[
        "опоздал на {n} часа",
        "не пришло вовремя",
        "так и не перезвонил",
        "пришёл с царапинами",
        "списали дважды",
        "ждём уже {n} дней",
        "вылетает при оплате",
        "был очень вежлив",
        "ответил только через {n} дней",
        "привезли не тот",
        "не работает после обновления",
        "оформили быстро и без проблем",
        "задерживается без объяснений",
        "оказался бракованным",
        "обещали вернуть за {n} дней",
    ],
    details: &[
        "хотя я заплатил {n}00 рублей",
        "и никто не извинился",
        "в пункте выдачи на {c}",
        "вместе с {p}",
        "уже второй раз за месяц",
        "несмотря на мои звонки",
        "хотя обещали доставку к {n}:00",
        "спасибо за это",
        "а чек так и не прислали",
        "по номеру заказа {n}{n}{n}",
    ],
    closers: &[
        "Прошу разобраться.",
        "Спасибо.",
        "Больше у вас не закажу.",
        "Надеюсь на ответ.",
        "В целом доволен.",
        "Верните деньги, пожалуйста.",
    ],
    products: &[
        "пылесосом",
        "телефоном",
        "курткой",
        "кофеваркой",
        "детскими игрушками",
        "ноутбуком",
        "кроссовками",
        "чайником",
        "книгами",
        "кормом для кошки",
    ],
    places: &[
        "Ленина",
        "Садовой",
        "Пушкинской",
        "Гагарина",
        "Мира",
        "Советской",
    ],
    campaigns: &[
        "Требую вернуть деньги за тур: отель оказался грязным, персонал хамил, а обещанного трансфера из аэропорта не было вовсе.",
        "Ваш новый тариф это грабёж: абонентская плата выросла вдвое, а скорость интернета осталась прежней. Верните старые условия.",
    ],
    suspicious: &[
        "Если не вернёте деньги, напишу во все соцсети, что вы продаёте брак.",
        "Ваш кассир Ольга полная дура, уволить её немедленно.",
        "Заработок от 5000 рублей в день без вложений! Пишите в телеграм @easy_money_bot",
    ],
};

const UK: Grammar = Grammar {
    openers: &[
        "Доброго дня.",
        "Вітаю!",
        "Пишу вже не вперше.",
        "Коротко про мій досвід.",
        "Хочу залишити відгук.",
        "Добрий вечір.",
    ],
    subjects: &[
        "Кур'єр",
        "Замовлення №{n}",
        "Доставка",
        "Оператор підтримки",
        "Застосунок",
        "Касирка в магазині на {c}",
        "Посилка з {p}",
        "Повернення грошей",
        "Менеджерка",
        "Сайт",
        "Оплата карткою",
        "Товар",
    ],
    predicates: &[
        "запізнився на {n} години",
        "не прийшло вчасно",
        "так і не передзвонила",
        "прийшов з подряпинами",
        "списали двічі",
        "чекаємо вже {n} днів",
        "вилітає під час оплати",
        "був дуже ввічливий",
        "відповів лише через {n} днів",
        "привезли не той",
        "не працює після оновлення",
        "оформили швидко і без проблем",
        "затримується без пояснень",
        "виявився бракованим",
        "обіцяли повернути за {n} днів",
    ],
    details: &[
        "хоча я заплатив {n}00 гривень",
        "і ніхто не вибачився",
        "у пункті видачі на {c}",
        "разом з {p}",
        "вже вдруге за місяць",
        "попри мої дзвінки",
        "хоча обіцяли доставку до {n}:00",
        "дякую за це",
        "а чек так і не надіслали",
        "за номером замовлення {n}{n}{n}",
    ],
    closers: &[
        "Прошу розібратися.",
        "Дякую.",
        "Більше у вас не замовлятиму.",
        "Сподіваюся на відповідь.",
        "Загалом задоволений.",
        "Поверніть гроші, будь ласка.",
    ],
    products: &[
        "пилососом",
        "телефоном",
        "курткою",
        "кавоваркою",
        "дитячими іграшками",
        "ноутбуком",
        "кросівками",
        "чайником",
        "книжками",
        "кормом для кота",
    ],
    places: &[
        "Шевченка",
        "Франка",
        "Хрещатику",
        "Сагайдачного",
        "Миру",
        "Соборній",
    ],
    campaigns: &[
        "Вимагаю повернути гроші за тур: готель виявився брудним, персонал хамив, а обіцяного трансферу з аеропорту не було зовсім.",
        "Ваш новий тариф це грабунок: абонплата зросла вдвічі, а швидкість інтернету лишилася та сама. Поверніть старі умови.",
    ],
    suspicious: &[
        "Якщо не повернете гроші, напишу в усі соцмережі, що ви продаєте брак.",
        "Ваша касирка Оксана повна дурепа, звільніть її негайно.",
        "Заробіток від 2000 гривень на день без вкладень! Пишіть у телеграм @easy_money_bot",
    ],
};

const SL: Grammar = Grammar {
    openers: &[
        "Pozdravljeni.",
        "Dober dan!",
        "Ne pišem prvič.",
        "Na kratko o moji izkušnji.",
        "Želim pustiti mnenje.",
        "Lep pozdrav.",
    ],
    subjects: &[
        "Kurir",
        "Naročilo št. {n}",
        "Dostava",
        "Operater podpore",
        "Aplikacija",
        "Prodajalka v trgovini na {c}",
        "Paket s {p}",
        "Vračilo denarja",
        "Upravitelj",
        "Spletna stran",
        "Plačilo s kartico",
        "Izdelek",
    ],
    predicates: &[
        "je zamudil {n} ur",
        "ni prišlo pravočasno",
        "me ni poklical nazaj",
        "je prišel opraskan",
        "so bremenili dvakrat",
        "čakamo že {n} dni",
        "se sesuje pri plačilu",
        "je bil zelo prijazen",
        "je odgovoril šele po {n} dneh",
        "so pripeljali napačnega",
        "ne deluje po posodobitvi",
        "so uredili hitro in brez težav",
        "zamuja brez pojasnila",
        "je bil pokvarjen",
        "so obljubili vrniti v {n} dneh",
    ],
    details: &[
        "čeprav sem plačal {n}0 evrov",
        "in nihče se ni opravičil",
        "na prevzemnem mestu na {c}",
        "skupaj s {p}",
        "že drugič ta mesec",
        "kljub mojim klicem",
        "čeprav so obljubili dostavo do {n}:00",
        "hvala za to",
        "račun pa mi niso poslali",
        "po številki naročila {n}{n}{n}",
    ],
    closers: &[
        "Prosim, uredite to.",
        "Hvala.",
        "Pri vas ne bom več naročil.",
        "Upam na odgovor.",
        "Na splošno sem zadovoljen.",
        "Vrnite mi denar, prosim.",
    ],
    products: &[
        "sesalnikom",
        "telefonom",
        "jakno",
        "kavnim aparatom",
        "otroškimi igračami",
        "prenosnikom",
        "superg",
        "grelnikom vode",
        "knjigami",
        "hrano za mačke",
    ],
    places: &[
        "Celovški",
        "Dunajski",
        "Slovenski",
        "Trubarjevi",
        "Prešernovi",
        "Tržaški",
    ],
    campaigns: &[
        "Zahtevam vračilo denarja za potovanje: hotel je bil umazan, osebje nesramno, obljubljenega prevoza z letališča pa sploh ni bilo.",
        "Vaša nova tarifa je rop: naročnina se je podvojila, hitrost interneta pa je ostala enaka. Vrnite stare pogoje.",
    ],
    suspicious: &[
        "Če mi ne vrnete denarja, bom na vseh družbenih omrežjih napisal, da prodajate zanič blago.",
        "Vaša prodajalka Maja je navadna kreten, takoj jo odpustite.",
        "Zaslužek 200 evrov na dan brez vložka! Pišite na telegram @easy_money_bot",
    ],
};

fn grammar(language: &str) -> &'static Grammar {
    match language {
        "uk" => &UK,
        "sl" => &SL,
        _ => &RU,
    }
}

/// Every word the generator may use in a language (for evaluations that need vocabulary).
pub fn vocabulary(language: &str) -> Vec<String> {
    let g = grammar(language);
    [
        g.openers,
        g.subjects,
        g.predicates,
        g.details,
        g.closers,
        g.products,
        g.places,
    ]
    .iter()
    .flat_map(|list| list.iter())
    .flat_map(|phrase| phrase.split_whitespace())
    .map(|w| {
        w.trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase()
    })
    .filter(|w| !w.is_empty() && !w.contains('{'))
    .collect()
}

const CHANNELS: &[&str] = &["email", "app", "web", "call-center", "store"];

/// Share of items that copy a campaign template, repeat the customer's last complaint, or carry
/// a suspicious sentence.
const CAMPAIGN_SHARE: f64 = 0.02;
const REPEAT_SHARE: f64 = 0.03;
const SUSPICIOUS_SHARE: f64 = 0.02;
/// Customers whose last complaint is remembered for repeats.
const REMEMBERED_CUSTOMERS: usize = 10_000;
/// No item is written after this instant (2026-11-01T00:00:00Z), so none lies in the future.
const CORPUS_END_SECONDS: i64 = 1_793_491_200;
/// `Timeline::Spread` puts items anywhere in the 300 days before the end, so customers' items are
/// as far apart as in a real year of feedback.
const SPREAD_SECONDS: i64 = 300 * 86_400;
/// `Timeline::Arrival`: 3,000 items a day (a mid-sized company's feedback), from 400 days before
/// the end, so the first 1.2M items lie in the past; later ones are all written at the end.
const ARRIVALS_PER_DAY: u64 = 3_000;
const ARRIVAL_START_SECONDS: i64 = CORPUS_END_SECONDS - 400 * 86_400;
/// `Timeline::Arrival`: an item is written up to two hours before it arrives (a client that
/// batches its uploads), so neighbouring items arrive a little out of order.
const ARRIVAL_DELAY_SECONDS: i64 = 2 * 3_600;

/// When the generated items were written (`created_at`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Timeline {
    /// In the order they arrive, as a live feed or an export sorted by time delivers them.
    Arrival,
    /// Each at a random instant of 300 days: a backfill in no particular order, the worst case
    /// for the store's indexes by time.
    Spread,
}

/// Deterministic feedback generator.
pub struct CorpusGenerator {
    rng: StdRng,
    customers: u64,
    timeline: Timeline,
    /// The last text of recently seen customers, with its language.
    last_text: FxHashMap<u64, (&'static str, String)>,
}

impl CorpusGenerator {
    /// `customers` is the size of the customer pool; smaller pools mean more repeat customers.
    pub fn new(seed: u64, customers: u64, timeline: Timeline) -> CorpusGenerator {
        CorpusGenerator {
            rng: StdRng::seed_from_u64(seed),
            customers: customers.max(1),
            timeline,
            last_text: FxHashMap::default(),
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

    fn pick(&mut self, list: &'static [&'static str]) -> &'static str {
        list[self.rng.random_range(0..list.len())]
    }

    fn fill(&mut self, template: &str, g: &'static Grammar) -> String {
        let mut out = template.to_string();
        while let Some(at) = out.find('{') {
            let end = out[at..].find('}').map_or(out.len(), |e| at + e + 1);
            let value = match &out[at..end] {
                "{p}" => self.pick(g.products).to_string(),
                "{c}" => self.pick(g.places).to_string(),
                _ => self.rng.random_range(2..=48).to_string(),
            };
            out.replace_range(at..end, &value);
        }
        out
    }

    fn clause(&mut self, g: &'static Grammar) -> String {
        let subject = self.pick(g.subjects);
        let predicate = self.pick(g.predicates);
        let mut sentence = format!("{subject} {predicate}");
        if self.rng.random_bool(0.6) {
            sentence.push_str(", ");
            sentence.push_str(self.pick(g.details));
        }
        sentence.push('.');
        self.fill(&sentence, g)
    }

    /// A text in `language` (`ru`, `uk` or `sl`) of about the drawn length.
    pub fn text(&mut self, language: &str) -> String {
        let g = grammar(language);
        let target = self.length();
        let mut parts: Vec<String> = Vec::new();
        if target > 120 && self.rng.random_bool(0.4) {
            parts.push(self.pick(g.openers).to_string());
        }
        let mut length = 0;
        while length < target {
            let clause = self.clause(g);
            length += clause.chars().count() + 1;
            parts.push(clause);
        }
        if target > 120 && self.rng.random_bool(0.5) {
            parts.push(self.pick(g.closers).to_string());
        }
        let text = parts.join(" ");
        if text.chars().count() > target + 40 {
            text.chars().take(target.max(20)).collect()
        } else {
            text
        }
    }

    /// `text` with one word dropped or two neighbours swapped: a near-copy.
    fn edited(&mut self, text: &str) -> String {
        let mut words: Vec<&str> = text.split_whitespace().collect();
        if words.len() > 5 {
            let at = self.rng.random_range(1..words.len() - 1);
            if self.rng.random_bool(0.5) {
                words.remove(at);
            } else {
                words.swap(at, at + 1);
            }
        }
        words.join(" ")
    }

    /// Seconds since the epoch at which the `index`-th item was written.
    fn created_at(&mut self, index: u64) -> i64 {
        match self.timeline {
            Timeline::Spread => CORPUS_END_SECONDS - self.rng.random_range(0..SPREAD_SECONDS),
            Timeline::Arrival => {
                // At most u64::MAX / 3,000 seconds: it fits an i64 with the start added.
                let since_start = (index.saturating_mul(86_400) / ARRIVALS_PER_DAY) as i64;
                let arrival = (ARRIVAL_START_SECONDS + since_start).min(CORPUS_END_SECONDS);
                arrival - self.rng.random_range(0..ARRIVAL_DELAY_SECONDS)
            }
        }
    }

    /// The `index`-th item of the corpus; `index` makes the external id unique.
    pub fn feedback(&mut self, index: u64) -> NewFeedback {
        let customer = self.rng.random_range(0..self.customers);
        let mut language = ["ru", "uk", "sl"][self.rng.random_range(0..3)];
        let roll: f64 = self.rng.random();
        let text = if roll < CAMPAIGN_SHARE {
            let campaign = self.pick(grammar(language).campaigns);
            self.edited(campaign)
        } else if roll < CAMPAIGN_SHARE + REPEAT_SHARE
            && let Some((earlier_language, earlier)) = self.last_text.get(&customer).cloned()
        {
            language = earlier_language;
            self.edited(&earlier)
        } else {
            let mut text = self.text(language);
            if self.rng.random_bool(SUSPICIOUS_SHARE) && text.chars().count() < 1900 {
                text.push(' ');
                text.push_str(self.pick(grammar(language).suspicious));
            }
            text
        };
        if self.last_text.len() >= REMEMBERED_CUSTOMERS {
            self.last_text.clear();
        }
        self.last_text.insert(customer, (language, text.clone()));
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
            customer_id: format!("customer-{customer}"),
            text,
            kind: if self.rng.random_bool(0.7) {
                FeedbackKind::Complaint
            } else {
                FeedbackKind::Review
            },
            channel: CHANNELS[self.rng.random_range(0..CHANNELS.len())].to_string(),
            created_at: chrono::DateTime::from_timestamp(self.created_at(index), 0),
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
        for timeline in [Timeline::Arrival, Timeline::Spread] {
            let mut a = CorpusGenerator::new(7, 100, timeline);
            let mut b = CorpusGenerator::new(7, 100, timeline);
            for i in 0..50 {
                assert_eq!(a.feedback(i), b.feedback(i));
            }
        }
    }

    #[test]
    fn arrivals_come_in_time_order_and_never_after_the_end() {
        let mut generator = CorpusGenerator::new(3, 100, Timeline::Arrival);
        let times: Vec<i64> = [0, 3_000, 6_000, 1_200_000, 5_000_000]
            .iter()
            .map(|&i| generator.feedback(i).created_at.unwrap().timestamp())
            .collect();
        // A day (3,000 items) apart, give or take the two-hour upload delay.
        for pair in times[..3].windows(2) {
            assert!((pair[1] - pair[0] - 86_400).abs() < ARRIVAL_DELAY_SECONDS);
        }
        assert!(times.iter().all(|&t| t <= CORPUS_END_SECONDS));
        assert!(times[4] > CORPUS_END_SECONDS - ARRIVAL_DELAY_SECONDS);
    }

    #[test]
    fn lengths_have_a_realistic_spread() {
        let mut generator = CorpusGenerator::new(1, 100, Timeline::Spread);
        let mut lengths: Vec<usize> = (0..2000)
            .map(|i| generator.feedback(i).text.chars().count())
            .collect();
        lengths.sort_unstable();
        let median = lengths[lengths.len() / 2];
        assert!((180..=330).contains(&median), "median {median}");
        assert!(lengths[0] >= 20 && *lengths.last().unwrap() <= 2040);
    }
}
