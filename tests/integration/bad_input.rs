//! The bad-input matrix: every RPC with each kind of malformed field gets the right status code
//! and field violation — never INTERNAL or UNKNOWN — and the stored data is unchanged afterwards.

use crate::common::{TestServer, ingest_request, new_feedback, violated_fields};
use futures::StreamExt;
use prost_types::Timestamp;
use tonic::Code;
use triage::pb;
use triage::pb::feedback_service_client::FeedbackServiceClient;
use triage::pb::review_service_client::ReviewServiceClient;
use triage::pb::satisfaction_service_client::SatisfactionServiceClient;
use triage::pb::search_service_client::SearchServiceClient;

/// What a malformed call must produce: a code and, for INVALID_ARGUMENT, the violated fields.
struct Expect {
    name: &'static str,
    code: Code,
    fields: &'static [&'static str],
}

fn check(expect: Expect, result: Result<(), tonic::Status>) {
    let status = result.expect_err(expect.name);
    assert_eq!(status.code(), expect.code, "{}: {status:?}", expect.name);
    assert!(
        !matches!(status.code(), Code::Internal | Code::Unknown),
        "{}",
        expect.name
    );
    if expect.code == Code::InvalidArgument {
        assert_eq!(violated_fields(&status), expect.fields, "{}", expect.name);
    }
}

macro_rules! expect {
    ($name:literal, $code:ident, [$($field:literal),*]) => {
        Expect { name: $name, code: Code::$code, fields: &[$($field),*] }
    };
}

fn future() -> Option<Timestamp> {
    Some(Timestamp {
        seconds: chrono::Utc::now().timestamp() + 3600,
        nanos: 0,
    })
}

fn bad_nanos() -> Option<Timestamp> {
    Some(Timestamp {
        seconds: 0,
        nanos: -5,
    })
}

#[tokio::test]
async fn every_rpc_rejects_malformed_fields_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let channel = server.channel().await;
    let mut feedback = FeedbackServiceClient::new(channel.clone());
    let mut search = SearchServiceClient::new(channel.clone());
    let mut satisfaction = SatisfactionServiceClient::new(channel.clone());
    let mut review = ReviewServiceClient::new(channel.clone());

    let mut flagged = new_feedback(
        "kept-1",
        "kept-customer",
        "Верните деньги за сломанный пылесос, иначе напишу во все соцсети, что вы продаёте брак.",
    );
    flagged.score = Some(pb::Score {
        kind: pb::ScoreKind::Nps as i32,
        value: 2,
    });
    let kept = feedback
        .ingest_feedback(ingest_request(flagged))
        .await
        .unwrap()
        .into_inner()
        .feedback
        .unwrap();
    let item = review
        .list_review_items(pb::ListReviewItemsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .items
        .remove(0);
    let profile_before = satisfaction
        .get_customer_profile(pb::GetCustomerProfileRequest {
            customer_id: "kept-customer".into(),
        })
        .await
        .unwrap()
        .into_inner();

    // FeedbackService.
    let valid = || new_feedback("x-1", "c-1", "Курьер опоздал.");
    let cases: Vec<(Expect, pb::NewFeedback)> = vec![
        (
            expect!("no external id", InvalidArgument, ["feedback.external_id"]),
            pb::NewFeedback {
                external_id: String::new(),
                ..valid()
            },
        ),
        (
            expect!(
                "long external id",
                InvalidArgument,
                ["feedback.external_id"]
            ),
            pb::NewFeedback {
                external_id: "x".repeat(129),
                ..valid()
            },
        ),
        (
            expect!("blank customer", InvalidArgument, ["feedback.customer_id"]),
            pb::NewFeedback {
                customer_id: " ".into(),
                ..valid()
            },
        ),
        (
            expect!("blank text", InvalidArgument, ["feedback.text"]),
            pb::NewFeedback {
                text: "\n\t".into(),
                ..valid()
            },
        ),
        (
            expect!("huge text", InvalidArgument, ["feedback.text"]),
            pb::NewFeedback {
                text: "ы".repeat(20_001),
                ..valid()
            },
        ),
        (
            expect!("unknown kind", InvalidArgument, ["feedback.kind"]),
            pb::NewFeedback {
                kind: 99,
                ..valid()
            },
        ),
        (
            expect!("future", InvalidArgument, ["feedback.created_at"]),
            pb::NewFeedback {
                created_at: future(),
                ..valid()
            },
        ),
        (
            expect!("bad nanos", InvalidArgument, ["feedback.created_at"]),
            pb::NewFeedback {
                created_at: bad_nanos(),
                ..valid()
            },
        ),
        (
            expect!("bad hint", InvalidArgument, ["feedback.language_hint"]),
            pb::NewFeedback {
                language_hint: "russian".into(),
                ..valid()
            },
        ),
        (
            expect!(
                "score out of scale",
                InvalidArgument,
                ["feedback.score.value"]
            ),
            pb::NewFeedback {
                score: Some(pb::Score {
                    kind: pb::ScoreKind::Csat as i32,
                    value: 9,
                }),
                ..valid()
            },
        ),
        (
            expect!(
                "score kind missing",
                InvalidArgument,
                ["feedback.score.kind"]
            ),
            pb::NewFeedback {
                score: Some(pb::Score { kind: 0, value: 3 }),
                ..valid()
            },
        ),
        (
            expect!(
                "blank attribute key",
                InvalidArgument,
                ["feedback.attributes[\"\"]"]
            ),
            pb::NewFeedback {
                attributes: [(String::new(), "v".into())].into(),
                ..valid()
            },
        ),
    ];
    for (expect, item) in cases {
        check(
            expect,
            feedback
                .ingest_feedback(ingest_request(item))
                .await
                .map(drop),
        );
    }
    check(
        expect!("missing feedback", InvalidArgument, ["feedback"]),
        feedback
            .ingest_feedback(pb::IngestFeedbackRequest { feedback: None })
            .await
            .map(drop),
    );
    // In a bulk import a bad item gets an error result and the stream goes on.
    let mut results = feedback
        .import_feedback(futures::stream::iter(vec![
            ingest_request(pb::NewFeedback {
                text: String::new(),
                ..valid()
            }),
            pb::IngestFeedbackRequest { feedback: None },
        ]))
        .await
        .unwrap()
        .into_inner();
    while let Some(result) = results.next().await {
        let error = result.unwrap().error.expect("an error result");
        assert_eq!(error.code, Code::InvalidArgument as i32);
    }
    check(
        expect!("get without id", InvalidArgument, ["id"]),
        feedback
            .get_feedback(pb::GetFeedbackRequest { id: String::new() })
            .await
            .map(drop),
    );
    check(
        expect!("get unknown", NotFound, []),
        feedback
            .get_feedback(pb::GetFeedbackRequest { id: "nope".into() })
            .await
            .map(drop),
    );
    check(
        expect!("resolve blank", InvalidArgument, ["resolution"]),
        feedback
            .resolve_feedback(pb::ResolveFeedbackRequest {
                id: kept.id.clone(),
                resolution: " ".into(),
                resolved_by: "agent".into(),
            })
            .await
            .map(drop),
    );
    check(
        expect!("resolve unknown", NotFound, []),
        feedback
            .resolve_feedback(pb::ResolveFeedbackRequest {
                id: "nope".into(),
                resolution: "done".into(),
                resolved_by: "agent".into(),
            })
            .await
            .map(drop),
    );

    // SearchService.
    let query = |filter: pb::SearchFilter| pb::SearchFeedbackRequest {
        query: "курьер".into(),
        filter: Some(filter),
        ..Default::default()
    };
    check(
        expect!("search bad kind", InvalidArgument, ["filter.kinds[0]"]),
        search
            .search_feedback(query(pb::SearchFilter {
                kinds: vec![77],
                ..Default::default()
            }))
            .await
            .map(drop),
    );
    check(
        expect!("search bad flag", InvalidArgument, ["filter.flag_kinds[0]"]),
        search
            .search_feedback(query(pb::SearchFilter {
                flag_kinds: vec![77],
                ..Default::default()
            }))
            .await
            .map(drop),
    );
    check(
        expect!(
            "search bad dates",
            InvalidArgument,
            ["filter.created_after"]
        ),
        search
            .search_feedback(query(pb::SearchFilter {
                created_after: bad_nanos(),
                ..Default::default()
            }))
            .await
            .map(drop),
    );
    check(
        expect!("search negative page", InvalidArgument, ["page_size"]),
        search
            .search_feedback(pb::SearchFeedbackRequest {
                page_size: -1,
                ..Default::default()
            })
            .await
            .map(drop),
    );
    check(
        expect!("search bad token", InvalidArgument, ["page_token"]),
        search
            .search_feedback(pb::SearchFeedbackRequest {
                page_token: "%%%".into(),
                ..Default::default()
            })
            .await
            .map(drop),
    );
    check(
        expect!("search bad order", InvalidArgument, ["order_by"]),
        search
            .search_feedback(pb::SearchFeedbackRequest {
                order_by: 55,
                ..Default::default()
            })
            .await
            .map(drop),
    );
    // Malformed query syntax is read leniently, never an error.
    for text in [
        "\"unclosed",
        "-",
        "***",
        "(((",
        "a AND OR NOT",
        "\u{0}\u{ffff}",
    ] {
        search
            .search_feedback(pb::SearchFeedbackRequest {
                query: text.into(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
    }
    check(
        expect!("similar without source", InvalidArgument, ["source"]),
        search
            .find_similar_feedback(pb::FindSimilarFeedbackRequest::default())
            .await
            .map(drop),
    );
    check(
        expect!("similar unknown", NotFound, []),
        search
            .find_similar_feedback(pb::FindSimilarFeedbackRequest {
                source: Some(pb::find_similar_feedback_request::Source::Id("nope".into())),
                page_size: 5,
            })
            .await
            .map(drop),
    );

    // SatisfactionService.
    let response = |score: Option<pb::Score>| pb::RecordSurveyResponseRequest {
        response: Some(pb::SurveyResponse {
            external_id: "s-1".into(),
            customer_id: "c-1".into(),
            score,
            ..Default::default()
        }),
    };
    check(
        expect!("survey no score", InvalidArgument, ["response.score"]),
        satisfaction
            .record_survey_response(response(None))
            .await
            .map(drop),
    );
    check(
        expect!("survey nps 11", InvalidArgument, ["response.score.value"]),
        satisfaction
            .record_survey_response(response(Some(pb::Score {
                kind: pb::ScoreKind::Nps as i32,
                value: 11,
            })))
            .await
            .map(drop),
    );
    check(
        expect!("survey ces 0", InvalidArgument, ["response.score.value"]),
        satisfaction
            .record_survey_response(response(Some(pb::Score {
                kind: pb::ScoreKind::Ces as i32,
                value: 0,
            })))
            .await
            .map(drop),
    );
    let mut unknown_feedback = response(Some(pb::Score {
        kind: pb::ScoreKind::Nps as i32,
        value: 5,
    }));
    unknown_feedback.response.as_mut().unwrap().feedback_id = "nope".into();
    check(
        expect!(
            "survey unknown feedback",
            InvalidArgument,
            ["response.feedback_id"]
        ),
        satisfaction
            .record_survey_response(unknown_feedback)
            .await
            .map(drop),
    );
    check(
        expect!("profile blank", InvalidArgument, ["customer_id"]),
        satisfaction
            .get_customer_profile(pb::GetCustomerProfileRequest {
                customer_id: String::new(),
            })
            .await
            .map(drop),
    );
    let report =
        |start: Option<Timestamp>, end: Option<Timestamp>| pb::GetSatisfactionReportRequest {
            start,
            end,
            ..Default::default()
        };
    let at = |seconds| Some(Timestamp { seconds, nanos: 0 });
    check(
        expect!("report no range", InvalidArgument, ["start", "end"]),
        satisfaction
            .get_satisfaction_report(report(None, None))
            .await
            .map(drop),
    );
    check(
        expect!("report reversed", InvalidArgument, ["end"]),
        satisfaction
            .get_satisfaction_report(report(at(2_000_000_000), at(1_000_000_000)))
            .await
            .map(drop),
    );
    check(
        expect!("report bad group", InvalidArgument, ["group_by"]),
        satisfaction
            .get_satisfaction_report(pb::GetSatisfactionReportRequest {
                group_by: 42,
                ..report(at(1_000_000_000), at(1_000_086_400))
            })
            .await
            .map(drop),
    );

    // ReviewService.
    check(
        expect!("list bad queue", InvalidArgument, ["queue"]),
        review
            .list_review_items(pb::ListReviewItemsRequest {
                queue: 9,
                ..Default::default()
            })
            .await
            .map(drop),
    );
    check(
        expect!("list bad priority", InvalidArgument, ["priorities[0]"]),
        review
            .list_review_items(pb::ListReviewItemsRequest {
                priorities: vec![9],
                ..Default::default()
            })
            .await
            .map(drop),
    );
    check(
        expect!("list negative page", InvalidArgument, ["page_size"]),
        review
            .list_review_items(pb::ListReviewItemsRequest {
                page_size: -3,
                ..Default::default()
            })
            .await
            .map(drop),
    );
    check(
        expect!("get blank", InvalidArgument, ["id"]),
        review
            .get_review_item(pb::GetReviewItemRequest { id: String::new() })
            .await
            .map(drop),
    );
    check(
        expect!("claim zero lease", InvalidArgument, ["lease"]),
        review
            .claim_review_item(pb::ClaimReviewItemRequest {
                id: item.id.clone(),
                lease: Some(prost_types::Duration {
                    seconds: 0,
                    nanos: 0,
                }),
            })
            .await
            .map(drop),
    );
    check(
        expect!("claim unknown", NotFound, []),
        review
            .claim_review_item(pb::ClaimReviewItemRequest {
                id: "nope".into(),
                lease: None,
            })
            .await
            .map(drop),
    );
    check(
        expect!("release open", FailedPrecondition, []),
        review
            .release_review_item(pb::ReleaseReviewItemRequest {
                id: item.id.clone(),
            })
            .await
            .map(drop),
    );
    check(
        expect!(
            "resolve nothing",
            InvalidArgument,
            ["id", "etag", "decision"]
        ),
        review
            .resolve_review_item(pb::ResolveReviewItemRequest::default())
            .await
            .map(drop),
    );
    check(
        expect!("resolve open", FailedPrecondition, []),
        review
            .resolve_review_item(pb::ResolveReviewItemRequest {
                id: item.id.clone(),
                etag: item.etag.clone(),
                decision: pb::Decision::Confirmed as i32,
                ..Default::default()
            })
            .await
            .map(drop),
    );
    check(
        expect!("events blank", InvalidArgument, ["id"]),
        review
            .list_review_item_events(pb::ListReviewItemEventsRequest { id: String::new() })
            .await
            .map(drop),
    );
    check(
        expect!("watch negative", InvalidArgument, ["after_sequence"]),
        review
            .watch_review_items(pb::WatchReviewItemsRequest {
                queue: 0,
                after_sequence: -1,
            })
            .await
            .map(drop),
    );
    check(
        expect!("stats no queue", InvalidArgument, ["queue"]),
        review
            .get_queue_stats(pb::GetQueueStatsRequest { queue: 0 })
            .await
            .map(drop),
    );

    // Nothing changed.
    let still = feedback
        .get_feedback(pb::GetFeedbackRequest {
            id: kept.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (still.resolution.as_str(), still.flags.len()),
        ("", kept.flags.len())
    );
    // None of the rejected items was stored: the same external id is still free.
    let fresh = feedback
        .ingest_feedback(ingest_request(valid()))
        .await
        .unwrap()
        .into_inner();
    assert!(!fresh.already_existed);
    let started = std::time::Instant::now();
    loop {
        let total = search
            .search_feedback(pb::SearchFeedbackRequest::default())
            .await
            .unwrap()
            .into_inner()
            .total_size;
        if total == 2 {
            break;
        }
        assert!(total < 2, "only the two good items are stored");
        assert!(
            started.elapsed() < crate::common::DEADLINE,
            "index never caught up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let profile_after = satisfaction
        .get_customer_profile(pb::GetCustomerProfileRequest {
            customer_id: "kept-customer".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(profile_after, profile_before);
    let item_after = review
        .get_review_item(pb::GetReviewItemRequest {
            id: item.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((item_after.state, item_after.etag), (item.state, item.etag));
    server.stop().await;
}
