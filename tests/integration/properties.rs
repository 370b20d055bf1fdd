//! Property tests of the text pipeline on arbitrary Unicode: nothing panics, every evidence span
//! and token offset lies inside the text and quotes it, and the same input always gives the same
//! answer.

use std::collections::BTreeMap;

use proptest::prelude::*;
use triage::model::{FeedbackKind, Score, ScoreKind};
use triage::signals::dedup::{self, estimated_similarity};
use triage::signals::lexicons::Lexicons;
use triage::signals::repeats::content_stems;
use triage::signals::{Context, analyze};
use triage::text::language::LanguageDetector;
use triage::text::normalize::normalize;

/// Text mixing Cyrillic, Latin, digits, punctuation, apostrophes, masks and any other scalar.
fn feedback_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[а-яёіїєґА-ЯІЇЄҐa-zčšžA-Z0-9 ,.!?*@'’ʼ\\-\u{200b}\u{0301}]{0,300}",
        "(курьер|кур'єр|kurir|сука|бля|верните деньги|иначе напишу|уволить|http://x\\.ru|[ \\.!]){0,40}",
    ]
}

fn quotes(text: &str, start: usize, end: usize, quoted: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    start <= end && end <= chars.len() && chars[start..end].iter().collect::<String>() == quoted
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn analysis_never_panics_and_evidence_quotes_the_text(text in feedback_text(), nps in 0i32..=10) {
        let lexicons = Lexicons::load(None).unwrap();
        let detector = LanguageDetector::new();
        let detection = detector.detect(&text, "");
        prop_assert!(["ru", "uk", "sl", "und"].contains(&detection.language));
        prop_assert!((0.0..=1.0).contains(&detection.confidence));
        let attributes = BTreeMap::new();
        let context = Context {
            language: detection.language,
            kind: FeedbackKind::Complaint,
            score: Some(Score { kind: ScoreKind::Nps, value: nps }),
            attributes: &attributes,
        };
        let analysis = analyze(&lexicons, &text, &context);
        prop_assert!((-1.0..=1.0).contains(&analysis.polarity));
        prop_assert!((1..=4).contains(&analysis.priority));
        for flag in &analysis.flags {
            prop_assert!((0.0..=1.0).contains(&flag.confidence));
            for span in &flag.evidence {
                prop_assert!(quotes(&text, span.start, span.end, &span.text), "{:?} in {:?}", span, text);
            }
        }
        prop_assert_eq!(analyze(&lexicons, &text, &context), analysis);
    }

    #[test]
    fn stems_and_signatures_are_well_formed(text in feedback_text()) {
        let stems = content_stems(&text, "ru");
        let length = text.chars().count();
        for (_, start, end) in &stems.occurrences {
            prop_assert!(start < end && *end <= length);
        }
        prop_assert!(stems.hashes.windows(2).all(|w| w[0] < w[1]));
        let print = dedup::fingerprint(&text, 4);
        prop_assert_eq!(print.signature.len(), dedup::SIGNATURE_LEN);
        prop_assert_eq!(estimated_similarity(&print.signature, &print.signature), 1.0);
        prop_assert_eq!(dedup::fingerprint(&text, 4), print);
    }

    #[test]
    fn normalization_is_idempotent(text in any::<String>()) {
        let once = normalize(&text);
        prop_assert_eq!(normalize(&once), once);
    }

    #[test]
    fn any_query_parses(query in any::<String>()) {
        let parsed = triage::index::query::parse(&query);
        let fields = triage::index::schema::build();
        let _ = triage::index::query::build(&parsed, &[fields.text, fields.resolution]);
    }
}
