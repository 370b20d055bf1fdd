//! FeedbackService over real gRPC: round trips, languages, idempotency, validation, import,
//! resolution and restarts.

use std::collections::HashSet;

use crate::common::{TestServer, ingest_request, new_feedback, violated_fields};
use futures::StreamExt;
use tonic::Code;
use triage::config::Settings;
use triage::pb;

const RU: &str = "Заказ привезли на три дня позже, курьер нагрубил и не извинился.";
const UK: &str = "Замовлення привезли на три дні пізніше, кур'єр був грубим і не вибачився.";
const SL: &str = "Naročilo je prišlo tri dni prepozno, kurir je bil nesramen in se ni opravičil.";

#[tokio::test]
async fn ingest_then_get_returns_the_item_with_its_language() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut client = server.feedback().await;
    for (i, (text, language)) in [(RU, "ru"), (UK, "uk"), (SL, "sl")].into_iter().enumerate() {
        let mut new = new_feedback(&format!("ext-{i}"), "customer-7", text);
        new.channel = "email".into();
        new.attributes.insert("store".into(), "Kyiv-12".into());
        new.score = Some(pb::Score {
            kind: pb::ScoreKind::Nps as i32,
            value: 3,
        });
        new.created_at = Some(prost_types::Timestamp {
            seconds: 1_790_000_000,
            nanos: 0,
        });
        let stored = client
            .ingest_feedback(ingest_request(new))
            .await
            .unwrap()
            .into_inner();
        assert!(!stored.already_existed);
        let created = stored.feedback.unwrap();
        assert!(!created.id.is_empty());
        assert_eq!(created.language, language, "{text}");

        let fetched = client
            .get_feedback(pb::GetFeedbackRequest {
                id: created.id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        let snapshot = fetched
            .customer
            .clone()
            .expect("reads carry the customer snapshot");
        assert_eq!(
            snapshot.latest_nps,
            Some(3),
            "the score sent with the text counts"
        );
        assert_eq!(
            pb::Feedback {
                customer: None,
                ..fetched.clone()
            },
            created
        );
        assert_eq!(fetched.text, text);
        assert_eq!(fetched.customer_id, "customer-7");
        assert_eq!(fetched.channel, "email");
        assert_eq!(fetched.kind, pb::FeedbackKind::Complaint as i32);
        assert_eq!(fetched.attributes["store"], "Kyiv-12");
        assert_eq!(fetched.score.unwrap().value, 3);
        assert_eq!(fetched.created_at.unwrap().seconds, 1_790_000_000);
        assert!(fetched.received_at.is_some());
    }
    let missing = client
        .get_feedback(pb::GetFeedbackRequest {
            id: "no-such-id".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn the_same_external_id_stores_one_item_even_under_concurrent_retries() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut client = server.feedback().await;

    let first = client
        .ingest_feedback(ingest_request(new_feedback("order-1", "c1", RU)))
        .await
        .unwrap()
        .into_inner();
    let mut changed = new_feedback(
        "order-1",
        "c2",
        "A different text that must not replace the first.",
    );
    changed.channel = "app".into();
    let retry = client
        .ingest_feedback(ingest_request(changed))
        .await
        .unwrap()
        .into_inner();
    assert!(retry.already_existed);
    assert_eq!(retry.feedback, first.feedback, "a retry changes nothing");

    let calls = (0..20).map(|_| {
        let mut client = client.clone();
        async move {
            client
                .ingest_feedback(ingest_request(new_feedback("order-2", "c1", UK)))
                .await
                .unwrap()
                .into_inner()
        }
    });
    let answers = futures::future::join_all(calls).await;
    let ids: HashSet<_> = answers
        .iter()
        .map(|a| a.feedback.as_ref().unwrap().id.clone())
        .collect();
    assert_eq!(ids.len(), 1, "all retries see one item");
    assert_eq!(answers.iter().filter(|a| !a.already_existed).count(), 1);
    server.stop().await;
}

#[tokio::test]
async fn every_validation_rule_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::with_data_dir(dir.path());
    settings.limits.max_text_chars = 100;
    let server = TestServer::start_with(settings).await;
    let mut client = server.feedback().await;

    let score = |kind: pb::ScoreKind, value| {
        Some(pb::Score {
            kind: kind as i32,
            value,
        })
    };
    let far_future = prost_types::Timestamp {
        seconds: chrono::Utc::now().timestamp() + 3600,
        nanos: 0,
    };
    let base = || new_feedback("v-1", "c1", RU);
    let cases: Vec<(pb::NewFeedback, &str)> = vec![
        (
            pb::NewFeedback {
                text: "  \n ".into(),
                ..base()
            },
            "feedback.text",
        ),
        (
            pb::NewFeedback {
                text: "я".repeat(101),
                ..base()
            },
            "feedback.text",
        ),
        (
            pb::NewFeedback {
                score: score(pb::ScoreKind::Nps, 11),
                ..base()
            },
            "feedback.score.value",
        ),
        (
            pb::NewFeedback {
                score: score(pb::ScoreKind::Csat, 0),
                ..base()
            },
            "feedback.score.value",
        ),
        (
            pb::NewFeedback {
                score: score(pb::ScoreKind::Ces, 8),
                ..base()
            },
            "feedback.score.value",
        ),
        (
            pb::NewFeedback {
                score: score(pb::ScoreKind::Unspecified, 5),
                ..base()
            },
            "feedback.score.kind",
        ),
        (
            pb::NewFeedback {
                customer_id: String::new(),
                ..base()
            },
            "feedback.customer_id",
        ),
        (
            pb::NewFeedback {
                external_id: String::new(),
                ..base()
            },
            "feedback.external_id",
        ),
        (
            pb::NewFeedback {
                external_id: "x".repeat(129),
                ..base()
            },
            "feedback.external_id",
        ),
        (
            pb::NewFeedback {
                created_at: Some(far_future),
                ..base()
            },
            "feedback.created_at",
        ),
        (pb::NewFeedback { kind: 99, ..base() }, "feedback.kind"),
        (
            pb::NewFeedback {
                language_hint: "ukrainian".into(),
                ..base()
            },
            "feedback.language_hint",
        ),
    ];
    for (new, field) in cases {
        let status = client
            .ingest_feedback(ingest_request(new))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(violated_fields(&status), [field], "{status:?}");
    }
    let status = client
        .ingest_feedback(pb::IngestFeedbackRequest { feedback: None })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["feedback"]);

    // Nothing invalid was stored: the id is still free.
    let ok = client
        .ingest_feedback(ingest_request(base()))
        .await
        .unwrap()
        .into_inner();
    assert!(!ok.already_existed);
    server.stop().await;
}

#[tokio::test]
async fn import_answers_every_item_in_order_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut client = server.feedback().await;

    let items: Vec<pb::IngestFeedbackRequest> = (0..300)
        .map(|i| {
            let text = if i % 50 == 7 {
                String::new()
            } else {
                format!("{SL} Številka {i}.")
            };
            ingest_request(new_feedback(
                &format!("imp-{i}"),
                &format!("c{}", i % 13),
                &text,
            ))
        })
        .collect();
    let run = |items: Vec<pb::IngestFeedbackRequest>| {
        let mut client = client.clone();
        async move {
            client
                .import_feedback(futures::stream::iter(items))
                .await
                .unwrap()
                .into_inner()
                .map(|r| r.unwrap())
                .collect::<Vec<_>>()
                .await
        }
    };
    let results = run(items.clone()).await;
    assert_eq!(results.len(), 300);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result.index, i as i64);
        if i % 50 == 7 {
            let error = result.error.as_ref().expect("blank text is rejected");
            assert_eq!(error.code, Code::InvalidArgument as i32);
            assert!(error.message.contains("feedback.text"), "{}", error.message);
        } else {
            let feedback = result.feedback.as_ref().unwrap();
            assert_eq!(feedback.external_id, format!("imp-{i}"));
            assert_eq!(feedback.language, "sl");
            assert!(!result.already_existed);
        }
    }
    let again = run(items).await;
    assert_eq!(again.len(), 300);
    assert!(
        again
            .iter()
            .enumerate()
            .all(|(i, r)| i % 50 == 7 || r.already_existed),
        "a second import creates nothing"
    );
    let fetched = client
        .get_feedback(pb::GetFeedbackRequest {
            id: results[1].feedback.as_ref().unwrap().id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched.external_id, "imp-1");
    server.stop().await;
}

#[tokio::test]
async fn resolutions_are_recorded_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut client = server.feedback().await;
    let id = client
        .ingest_feedback(ingest_request(new_feedback("r-1", "c1", UK)))
        .await
        .unwrap()
        .into_inner()
        .feedback
        .unwrap()
        .id;
    let resolved = client
        .resolve_feedback(pb::ResolveFeedbackRequest {
            id: id.clone(),
            resolution: "Повернули гроші за доставку, кур'єру зроблено зауваження.".into(),
            resolved_by: "olena".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resolved.resolved_by, "olena");
    assert!(resolved.resolved_at.is_some());
    let fetched = client
        .get_feedback(pb::GetFeedbackRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(fetched.resolution.starts_with("Повернули гроші"));

    let blank = client
        .resolve_feedback(pb::ResolveFeedbackRequest {
            id: id.clone(),
            resolution: " ".into(),
            resolved_by: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&blank), ["resolution"]);
    let missing = client
        .resolve_feedback(pb::ResolveFeedbackRequest {
            id: "nope".into(),
            resolution: "done".into(),
            resolved_by: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn a_restarted_server_returns_everything_acknowledged_before() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut client = server.feedback().await;
    let mut stored = Vec::new();
    for i in 0..50 {
        let text = [RU, UK, SL][i % 3];
        let answer = client
            .ingest_feedback(ingest_request(new_feedback(
                &format!("keep-{i}"),
                "c1",
                text,
            )))
            .await
            .unwrap()
            .into_inner();
        stored.push(answer.feedback.unwrap());
    }
    client
        .resolve_feedback(pb::ResolveFeedbackRequest {
            id: stored[0].id.clone(),
            resolution: "Refunded.".into(),
            resolved_by: "agent-1".into(),
        })
        .await
        .unwrap();
    server.stop().await;

    let server = TestServer::start(dir.path()).await;
    let mut client = server.feedback().await;
    for (i, before) in stored.iter().enumerate() {
        let after = client
            .get_feedback(pb::GetFeedbackRequest {
                id: before.id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        if i == 0 {
            assert_eq!(after.resolution, "Refunded.");
        } else {
            assert_eq!(
                &pb::Feedback {
                    customer: None,
                    ..after
                },
                before
            );
        }
    }
    let retry = client
        .ingest_feedback(ingest_request(new_feedback("keep-3", "c1", RU)))
        .await
        .unwrap()
        .into_inner();
    assert!(retry.already_existed);
    assert_eq!(retry.feedback.unwrap().id, stored[3].id);
    server.stop().await;
}
