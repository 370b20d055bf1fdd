//! SatisfactionService over real gRPC: survey responses, the snapshot on every feedback read,
//! profiles with churn reasons, and reports checked against hand-computed numbers.

use crate::common::{TestServer, ingest_request, new_feedback, violated_fields};
use tonic::Code;
use tonic::transport::Channel;
use triage::pb;
use triage::pb::satisfaction_service_client::SatisfactionServiceClient;

fn ts(text: &str) -> prost_types::Timestamp {
    let time: chrono::DateTime<chrono::Utc> = text.parse().unwrap();
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: 0,
    }
}

fn survey(
    external_id: &str,
    customer: &str,
    kind: pb::ScoreKind,
    value: i32,
    at: &str,
) -> pb::RecordSurveyResponseRequest {
    pb::RecordSurveyResponseRequest {
        response: Some(pb::SurveyResponse {
            external_id: external_id.into(),
            customer_id: customer.into(),
            score: Some(pb::Score {
                kind: kind as i32,
                value,
            }),
            responded_at: Some(ts(at)),
            channel: "email".into(),
            ..Default::default()
        }),
    }
}

async fn record(
    client: &mut SatisfactionServiceClient<Channel>,
    request: pb::RecordSurveyResponseRequest,
) -> pb::SurveyResponse {
    client
        .record_survey_response(request)
        .await
        .unwrap()
        .into_inner()
}

async fn profile(
    client: &mut SatisfactionServiceClient<Channel>,
    customer: &str,
) -> pb::CustomerProfile {
    client
        .get_customer_profile(pb::GetCustomerProfileRequest {
            customer_id: customer.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survey_responses_are_validated_idempotent_and_shown_on_feedback() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut satisfaction = SatisfactionServiceClient::new(server.channel().await);
    let mut feedback = server.feedback().await;

    let first = record(
        &mut satisfaction,
        survey("s-1", "c1", pb::ScoreKind::Nps, 9, "2026-11-01T10:00:00Z"),
    )
    .await;
    let again = record(
        &mut satisfaction,
        survey("s-1", "c1", pb::ScoreKind::Nps, 2, "2026-11-02T10:00:00Z"),
    )
    .await;
    assert_eq!(first, again, "the same external_id changes nothing");
    record(
        &mut satisfaction,
        survey("s-2", "c1", pb::ScoreKind::Nps, 4, "2026-11-03T10:00:00Z"),
    )
    .await;
    record(
        &mut satisfaction,
        survey("s-3", "c1", pb::ScoreKind::Csat, 4, "2026-11-03T10:00:00Z"),
    )
    .await;
    record(
        &mut satisfaction,
        survey("s-4", "c1", pb::ScoreKind::Csat, 5, "2026-11-03T11:00:00Z"),
    )
    .await;

    for (request, field) in [
        (
            survey("b-1", "c1", pb::ScoreKind::Nps, 11, "2026-11-01T10:00:00Z"),
            "response.score.value",
        ),
        (
            survey("b-2", "c1", pb::ScoreKind::Csat, 0, "2026-11-01T10:00:00Z"),
            "response.score.value",
        ),
        (
            survey("b-3", "c1", pb::ScoreKind::Ces, 8, "2026-11-01T10:00:00Z"),
            "response.score.value",
        ),
        (
            survey("b-4", "", pb::ScoreKind::Ces, 3, "2026-11-01T10:00:00Z"),
            "response.customer_id",
        ),
        (
            survey(
                "b-5",
                "c1",
                pb::ScoreKind::Unspecified,
                3,
                "2026-11-01T10:00:00Z",
            ),
            "response.score.kind",
        ),
        (
            survey("b-6", "c1", pb::ScoreKind::Nps, 3, "2099-01-01T00:00:00Z"),
            "response.responded_at",
        ),
    ] {
        let status = satisfaction
            .record_survey_response(request)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&status), [field]);
    }
    let mut dangling = survey("b-7", "c1", pb::ScoreKind::Nps, 3, "2026-11-01T10:00:00Z");
    dangling.response.as_mut().unwrap().feedback_id = "no-such-feedback".into();
    let status = satisfaction
        .record_survey_response(dangling)
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["response.feedback_id"]);

    let stored = feedback
        .ingest_feedback(ingest_request(new_feedback(
            "f-1",
            "c1",
            "Курьер опять опоздал на два часа.",
        )))
        .await
        .unwrap()
        .into_inner()
        .feedback
        .unwrap();
    let fetched = feedback
        .get_feedback(pb::GetFeedbackRequest {
            id: stored.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let customer = fetched.customer.unwrap();
    assert_eq!(
        customer.segment,
        pb::Segment::Detractor as i32,
        "latest NPS 4"
    );
    assert_eq!(customer.latest_nps, Some(4));
    assert_eq!((customer.nps_count, customer.csat_count), (2, 2));
    assert_eq!(customer.csat_mean, Some(4.5));

    // A score sent with a feedback item becomes a linked survey response.
    let mut scored = new_feedback("f-2", "c2", "Всё отлично, спасибо!");
    scored.score = Some(pb::Score {
        kind: pb::ScoreKind::Nps as i32,
        value: 10,
    });
    let stored = feedback
        .ingest_feedback(ingest_request(scored))
        .await
        .unwrap()
        .into_inner()
        .feedback
        .unwrap();
    assert!(
        stored.customer.is_none(),
        "ingest answers carry no snapshot"
    );
    let fetched = feedback
        .get_feedback(pb::GetFeedbackRequest { id: stored.id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        fetched.customer.unwrap().segment,
        pb::Segment::Promoter as i32
    );

    // A customer who never answered an NPS survey.
    feedback
        .ingest_feedback(ingest_request(new_feedback(
            "f-3",
            "c3",
            "Доставка нормальная, без замечаний.",
        )))
        .await
        .unwrap();

    let mut search = pb::search_service_client::SearchServiceClient::new(server.channel().await);
    let started = std::time::Instant::now();
    let hit = loop {
        let response = search
            .search_feedback(pb::SearchFeedbackRequest {
                query: "отлично".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        if let Some(hit) = response.hits.into_iter().next() {
            break hit;
        }
        assert!(started.elapsed() < crate::common::DEADLINE);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    for (segment, expected) in [
        (pb::Segment::Detractor, vec!["f-1"]),
        (pb::Segment::Promoter, vec!["f-2"]),
        (pb::Segment::Passive, vec![]),
    ] {
        let found = search
            .search_feedback(pb::SearchFeedbackRequest {
                filter: Some(pb::SearchFilter {
                    segments: vec![segment as i32],
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let ids: Vec<_> = found
            .hits
            .iter()
            .map(|h| h.feedback.as_ref().unwrap().external_id.as_str())
            .collect();
        assert_eq!(ids, expected, "{segment:?}");
    }
    assert_eq!(
        hit.feedback.unwrap().customer.unwrap().latest_nps,
        Some(10),
        "snapshot on search hits"
    );
    let started = std::time::Instant::now();
    let segments = loop {
        let response = search
            .search_feedback(pb::SearchFeedbackRequest {
                facets: vec![pb::Facet::Segment as i32],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        if response.total_size == 3 {
            break response.facet_counts;
        }
        assert!(started.elapsed() < crate::common::DEADLINE);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].facet, pb::Facet::Segment as i32);
    let counts: Vec<(&str, i64)> = segments[0]
        .values
        .iter()
        .map(|v| (v.value.as_str(), v.count))
        .collect();
    assert_eq!(counts, [("promoter", 1), ("detractor", 1), ("none", 1)]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_explain_their_churn_risk() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut satisfaction = SatisfactionServiceClient::new(server.channel().await);
    let mut feedback = server.feedback().await;
    let now = chrono::Utc::now();
    let recent = |days: i64| (now - chrono::Duration::days(days)).to_rfc3339();
    record(
        &mut satisfaction,
        survey("p-1", "c9", pb::ScoreKind::Nps, 9, &recent(20)),
    )
    .await;
    record(
        &mut satisfaction,
        survey("p-2", "c9", pb::ScoreKind::Nps, 3, &recent(2)),
    )
    .await;
    feedback
        .ingest_feedback(ingest_request(new_feedback(
            "pf-1",
            "c9",
            "Ужасный сервис, деньги списали дважды, никто не отвечает.",
        )))
        .await
        .unwrap();
    let profile = profile(&mut satisfaction, "c9").await;
    assert_eq!(profile.segment, pb::Segment::Detractor as i32);
    assert_eq!(profile.latest_nps, Some(3));
    assert_eq!(profile.nps.unwrap().count, 2);
    assert_eq!(
        (
            profile.feedback_count,
            profile.complaint_count,
            profile.unresolved_count
        ),
        (1, 1, 1)
    );
    let codes: Vec<_> = profile
        .churn_risk_reasons
        .iter()
        .map(|r| r.code.as_str())
        .collect();
    assert_eq!(
        codes,
        [
            "detractor",
            "falling_nps",
            "unresolved_complaints",
            "negative_recent_feedback"
        ]
    );
    assert!(
        (profile.churn_risk - 0.85).abs() < 1e-9,
        "{}",
        profile.churn_risk
    );
    let missing = satisfaction
        .get_customer_profile(pb::GetCustomerProfileRequest {
            customer_id: "nobody".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_count_for_their_own_customer_however_they_are_linked() {
    // Answers linked to a feedback item of their own customer are read through that item, found
    // in the store's in-memory customer map (migrations 0011 and 0013); the others through the
    // answers' customer index. Each must count once, for its own customer, also after a restart
    // has rebuilt the map from the store.
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut satisfaction = SatisfactionServiceClient::new(server.channel().await);
    let mut feedback = server.feedback().await;
    let now = chrono::Utc::now();
    let ago = |days: i64| (now - chrono::Duration::days(days)).to_rfc3339();
    let mut scored = new_feedback("via-1", "c20", "Курьер опоздал на два часа.");
    scored.created_at = Some(ts(&ago(3)));
    scored.score = Some(pb::Score {
        kind: pb::ScoreKind::Nps as i32,
        value: 2,
    });
    let item = feedback
        .ingest_feedback(ingest_request(scored))
        .await
        .unwrap()
        .into_inner()
        .feedback
        .unwrap();
    let mut own = survey("via-2", "c20", pb::ScoreKind::Nps, 6, &ago(2));
    own.response.as_mut().unwrap().feedback_id = item.id.clone();
    record(&mut satisfaction, own).await;
    let mut foreign = survey("via-3", "c21", pb::ScoreKind::Nps, 10, &ago(1));
    foreign.response.as_mut().unwrap().feedback_id = item.id.clone();
    record(&mut satisfaction, foreign).await;
    record(
        &mut satisfaction,
        survey("via-4", "c21", pb::ScoreKind::Csat, 4, &ago(1)),
    )
    .await;
    let check = async |satisfaction: &mut SatisfactionServiceClient<_>| {
        let c20 = profile(satisfaction, "c20").await;
        assert_eq!(
            c20.nps.unwrap().count,
            2,
            "the score sent with the text and the linked answer"
        );
        assert_eq!(c20.latest_nps, Some(6));
        assert_eq!(c20.csat.map(|csat| csat.count).unwrap_or(0), 0);
        assert_eq!(c20.feedback_count, 1);
        let c21 = profile(satisfaction, "c21").await;
        assert_eq!(
            c21.nps.unwrap().count,
            1,
            "an answer linked to another customer's item"
        );
        assert_eq!(c21.latest_nps, Some(10));
        assert_eq!(c21.csat.unwrap().count, 1);
        assert_eq!(c21.feedback_count, 0);
    };
    check(&mut satisfaction).await;
    server.stop().await;
    let server = TestServer::start(dir.path()).await;
    check(&mut SatisfactionServiceClient::new(server.channel().await)).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_match_hand_computed_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut satisfaction = SatisfactionServiceClient::new(server.channel().await);
    let mut feedback = server.feedback().await;
    let item = |id: &str, customer: &str, text: &str, at: &str, channel: &str| {
        let mut new = new_feedback(id, customer, text);
        new.created_at = Some(ts(at));
        new.channel = channel.into();
        ingest_request(new)
    };
    // Sunday 2026-11-01 and Monday 2026-11-02 fall in different ISO weeks.
    let ru = feedback
        .ingest_feedback(item(
            "r-1",
            "a",
            "Доставка опоздала, курьер не позвонил.",
            "2026-11-01T10:00:00Z",
            "email",
        ))
        .await
        .unwrap()
        .into_inner()
        .feedback
        .unwrap();
    feedback
        .ingest_feedback(item(
            "r-2",
            "b",
            "Dostava je zamujala tri dni.",
            "2026-11-02T10:00:00Z",
            "app",
        ))
        .await
        .unwrap();
    let mut linked = survey("q-1", "a", pb::ScoreKind::Nps, 10, "2026-11-01T12:00:00Z");
    linked.response.as_mut().unwrap().feedback_id = ru.id.clone();
    record(&mut satisfaction, linked).await;
    record(
        &mut satisfaction,
        survey("q-2", "b", pb::ScoreKind::Nps, 6, "2026-11-02T12:00:00Z"),
    )
    .await;
    record(
        &mut satisfaction,
        survey("q-3", "b", pb::ScoreKind::Nps, 7, "2026-11-03T12:00:00Z"),
    )
    .await;
    record(
        &mut satisfaction,
        survey("q-4", "b", pb::ScoreKind::Csat, 4, "2026-11-03T12:00:00Z"),
    )
    .await;
    record(
        &mut satisfaction,
        survey("q-5", "b", pb::ScoreKind::Ces, 5, "2026-11-04T12:00:00Z"),
    )
    .await;

    let report =
        |bucket: pb::ReportBucket, group_by: pb::ReportGroupBy| pb::GetSatisfactionReportRequest {
            start: Some(ts("2026-10-26T00:00:00Z")),
            end: Some(ts("2026-11-09T00:00:00Z")),
            bucket: bucket as i32,
            group_by: group_by as i32,
            filter: None,
        };
    let weekly = satisfaction
        .get_satisfaction_report(report(pb::ReportBucket::Week, pb::ReportGroupBy::None))
        .await
        .unwrap()
        .into_inner()
        .rows;
    assert_eq!(weekly.len(), 2);
    assert_eq!(weekly[0].bucket_start, Some(ts("2026-10-26T00:00:00Z")));
    let week1 = weekly[0].nps.unwrap();
    assert_eq!(
        (week1.promoters, week1.responses, week1.score),
        (1, 1, Some(100.0))
    );
    assert_eq!(weekly[0].feedback_count, 1);
    let week2 = weekly[1].nps.unwrap();
    assert_eq!(
        (week2.passives, week2.detractors, week2.responses),
        (1, 1, 2)
    );
    assert_eq!(week2.score, Some(-50.0));
    assert_eq!(weekly[1].csat.unwrap().percent, Some(100.0));
    assert_eq!(weekly[1].ces.unwrap().easy, 1);

    let by_language = satisfaction
        .get_satisfaction_report(report(pb::ReportBucket::None, pb::ReportGroupBy::Language))
        .await
        .unwrap()
        .into_inner()
        .rows;
    let languages: Vec<_> = by_language
        .iter()
        .map(|r| (r.group_key.as_str(), r.nps.unwrap().responses))
        .collect();
    assert_eq!(
        languages,
        [("ru", 1), ("sl", 2)],
        "b's answers count through b's Slovenian complaint"
    );

    let by_channel = satisfaction
        .get_satisfaction_report(report(pb::ReportBucket::None, pb::ReportGroupBy::Channel))
        .await
        .unwrap()
        .into_inner()
        .rows;
    let channels: Vec<_> = by_channel
        .iter()
        .map(|r| {
            (
                r.group_key.as_str(),
                r.nps.unwrap().responses,
                r.feedback_count,
            )
        })
        .collect();
    assert_eq!(channels, [("app", 0, 1), ("email", 3, 1)]);

    let by_topic = satisfaction
        .get_satisfaction_report(report(pb::ReportBucket::None, pb::ReportGroupBy::Topic))
        .await
        .unwrap()
        .into_inner()
        .rows;
    assert!(
        by_topic
            .iter()
            .any(|r| r.group_key == "delivery" && r.nps.unwrap().responses == 3)
    );

    let by_flag = satisfaction
        .get_satisfaction_report(report(pb::ReportBucket::None, pb::ReportGroupBy::FlagKind))
        .await
        .unwrap()
        .into_inner()
        .rows;
    assert!(by_flag.is_empty(), "no flagged feedback, no groups");

    let bad = satisfaction
        .get_satisfaction_report(pb::GetSatisfactionReportRequest {
            start: Some(ts("2026-11-09T00:00:00Z")),
            end: Some(ts("2026-11-01T00:00:00Z")),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad), ["end"]);
    server.stop().await;
}
