//! Text understanding end to end: the labelled set meets its targets, flags reach clients over
//! gRPC with evidence that points at the words, search filters by flag, topic and priority, and
//! a lexicon override from config changes the outcome.

use std::path::Path;

use crate::common::{TestServer, ingest_request, new_feedback};
use triage::config::Settings;
use triage::eval::flags::{RULE_FLAGS, evaluate};
use triage::pb;
use triage::signals::lexicons::Lexicons;

#[test]
fn the_labelled_set_meets_precision_and_recall_targets() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/flags.jsonl");
    let report = evaluate(&path, &Lexicons::embedded()).unwrap();
    assert!(report.items >= 180, "at least 60 items per language");
    for language in ["ru", "uk", "sl"] {
        for kind in RULE_FLAGS {
            let counts = report.flags[&(language.to_string(), kind)];
            assert!(
                counts.true_positives > 0,
                "{language} {kind:?}: the set must exercise every flag"
            );
            assert!(
                counts.precision() >= 0.95 && counts.recall() >= 0.9,
                "{language} {kind:?}: {counts:?}\n{}",
                report.render()
            );
        }
    }
}

/// Phrasings written after the lexicons (word orders, one-star threats, contact harvesting,
/// honest counterparts): every flag found, none invented. Topics are not labelled here.
#[test]
fn other_phrasings_are_flagged_without_false_alarms() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/flags_phrasings.jsonl");
    let report = evaluate(&path, &Lexicons::embedded()).unwrap();
    assert!(report.items >= 50);
    for ((language, kind), counts) in &report.flags {
        assert!(
            counts.precision() >= 0.95 && counts.recall() >= 0.9,
            "{language} {kind:?}: {counts:?}\n{}",
            report.render()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_topics_and_priority_reach_clients_and_search() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut feedback = server.feedback().await;
    let text = "Верните деньги за сломанный пылесос, иначе напишу во все соцсети!";
    let stored = feedback
        .ingest_feedback(ingest_request(new_feedback("x-1", "c1", text)))
        .await
        .unwrap()
        .into_inner()
        .feedback
        .unwrap();
    assert_eq!(stored.priority, pb::Priority::P1 as i32);
    assert_eq!(stored.sentiment, pb::Sentiment::Negative as i32);
    assert!(
        stored.topics.contains(&"payment_refunds".to_string()),
        "{:?}",
        stored.topics
    );
    let flag = &stored.flags[0];
    assert_eq!(flag.kind, pb::FlagKind::Extortion as i32);
    assert!(!flag.reason.is_empty() && flag.confidence > 0.5);
    let chars: Vec<char> = text.chars().collect();
    for span in &flag.evidence {
        let marked: String = chars[span.start as usize..span.end as usize]
            .iter()
            .collect();
        assert_eq!(marked, span.text);
    }
    let honest = feedback
        .ingest_feedback(ingest_request(new_feedback(
            "x-2",
            "c2",
            "Верните деньги за сломанный пылесос, иначе обращусь в суд.",
        )))
        .await
        .unwrap()
        .into_inner()
        .feedback
        .unwrap();
    assert!(honest.flags.is_empty(), "a legal threat is not extortion");
    assert_eq!(honest.priority, pb::Priority::P1 as i32);

    let mut search = pb::search_service_client::SearchServiceClient::new(server.channel().await);
    let filter = |filter: pb::SearchFilter| pb::SearchFeedbackRequest {
        filter: Some(filter),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    loop {
        let all = search
            .search_feedback(pb::SearchFeedbackRequest::default())
            .await
            .unwrap()
            .into_inner();
        if all.total_size == 2 {
            break;
        }
        assert!(started.elapsed() < crate::common::DEADLINE);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let by_flag = search
        .search_feedback(filter(pb::SearchFilter {
            flag_kinds: vec![pb::FlagKind::Extortion as i32],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_flag.total_size, 1);
    assert_eq!(
        by_flag.hits[0].feedback.as_ref().unwrap().external_id,
        "x-1"
    );
    let by_topic = search
        .search_feedback(filter(pb::SearchFilter {
            topics: vec!["legal".into()],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_topic.total_size, 1);
    let urgent = search
        .search_feedback(filter(pb::SearchFilter {
            priorities: vec![pb::Priority::P1 as i32],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(urgent.total_size, 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lexicon_override_from_config_changes_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let lexicons = dir.path().join("lexicons");
    std::fs::create_dir_all(&lexicons).unwrap();
    let embedded = include_str!("../../assets/lexicons/sl.toml");
    std::fs::write(
        lexicons.join("sl.toml"),
        embedded.replace("words = [\n", "words = [\n  \"cepec*\",\n"),
    )
    .unwrap();
    let text = "Prodajalec je navaden cepec, dostava pa je zamujala.";
    let flags_with = |settings: Settings| async move {
        let server = TestServer::start_with(settings).await;
        let mut client = server.feedback().await;
        let mut item = new_feedback("o-1", "c1", text);
        item.language_hint = "sl".into();
        let stored = client
            .ingest_feedback(ingest_request(item))
            .await
            .unwrap()
            .into_inner()
            .feedback
            .unwrap();
        server.stop().await;
        stored.flags.iter().map(|f| f.kind).collect::<Vec<_>>()
    };
    assert!(
        flags_with(Settings::with_data_dir(dir.path().join("a")))
            .await
            .is_empty()
    );
    let mut settings = Settings::with_data_dir(dir.path().join("b"));
    settings.signals.lexicon_dir = Some(lexicons);
    assert_eq!(
        flags_with(settings).await,
        [pb::FlagKind::AbusiveLanguage as i32]
    );
}
