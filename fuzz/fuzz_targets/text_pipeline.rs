//! Normalization, language detection and the per-language analyzers on arbitrary bytes: no
//! panic, normalization idempotent, stems and shingle signatures well formed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use triage::signals::dedup;
use triage::signals::repeats::content_stems;
use triage::text::analyzer::terms;
use triage::text::language::LanguageDetector;
use triage::text::normalize::normalize;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let normalized = normalize(&text);
    assert_eq!(
        normalize(&normalized),
        normalized,
        "normalize is idempotent"
    );
    let detection = LanguageDetector::new().detect(&text, "");
    assert!(["ru", "uk", "sl", "und"].contains(&detection.language));
    assert!((0.0..=1.0).contains(&detection.confidence));
    let length = text.chars().count();
    for language in ["ru", "uk", "sl", "und"] {
        for term in terms(language, &text) {
            assert!(!term.is_empty());
        }
        let stems = content_stems(&text, language);
        for (_, start, end) in &stems.occurrences {
            assert!(start < end && *end <= length);
        }
    }
    let print = dedup::fingerprint(&text, 4);
    assert_eq!(print.signature.len(), dedup::SIGNATURE_LEN);
});
