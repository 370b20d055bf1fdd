//! The suspicion rules (extortion, personal attack, abuse, spam, score mismatch) and the rest of
//! the analysis on arbitrary text, language, kind, score and employee attribute: no panic, every
//! evidence span quotes the text, confidences and priority in range.

#![no_main]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use triage::model::{FeedbackKind, Score, ScoreKind};
use triage::signals::lexicons::Lexicons;
use triage::signals::{Context, analyze};

static LEXICONS: LazyLock<Lexicons> =
    LazyLock::new(|| Lexicons::load(None).expect("embedded lexicons load"));

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let language = ["ru", "uk", "sl", "und"][usize::from(control & 3)];
    let kind = [
        FeedbackKind::Complaint,
        FeedbackKind::Review,
        FeedbackKind::Other,
        FeedbackKind::Unspecified,
    ][usize::from((control >> 2) & 3)];
    let value = i32::from(control >> 4);
    let score = match (control >> 2) % 4 {
        0 => None,
        1 => Some(Score {
            kind: ScoreKind::Nps,
            value: value.min(10),
        }),
        2 => Some(Score {
            kind: ScoreKind::Csat,
            value: value.clamp(1, 5),
        }),
        _ => Some(Score {
            kind: ScoreKind::Ces,
            value: value.clamp(1, 7),
        }),
    };
    let mut attributes = BTreeMap::new();
    if control & 0x40 != 0 {
        attributes.insert("employee".to_string(), "Иван".to_string());
    }
    let context = Context {
        language,
        kind,
        score,
        attributes: &attributes,
    };
    let analysis = analyze(&LEXICONS, &text, &context);
    assert!((-1.0..=1.0).contains(&analysis.polarity));
    assert!((1..=4).contains(&analysis.priority));
    let chars: Vec<char> = text.chars().collect();
    for flag in &analysis.flags {
        assert!((0.0..=1.0).contains(&flag.confidence));
        for span in &flag.evidence {
            assert!(
                span.start <= span.end && span.end <= chars.len(),
                "{span:?}"
            );
            let quoted: String = chars[span.start..span.end].iter().collect();
            assert_eq!(quoted, span.text);
        }
    }
});
