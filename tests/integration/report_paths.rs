//! The database's per-day counts (kept by triggers and the writer) and the row-by-row report
//! agree on every grouping, for aligned and unaligned ranges, including feedback imported after
//! the survey answers it precedes and answers committed in one batch with feedback.

use crate::common::{TestServer, ingest_request, new_feedback};
use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::StreamExt;
use prost_types::Timestamp;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use triage::api::satisfaction::{report_from_counts, report_from_rows};
use triage::pb;
use triage::pb::satisfaction_service_client::SatisfactionServiceClient;
use triage::satisfaction::{Bucket, GroupBy, ReportFilter, ReportRequest};
use triage::store::{Store, StoreOptions};

const TEXTS: [(&str, &str); 6] = [
    (
        "ru",
        "Курьер опоздал на три часа и нагрубил, доставка ужасная.",
    ),
    (
        "ru",
        "Деньги списали дважды, верните деньги, иначе напишу во все соцсети, что вы мошенники.",
    ),
    ("uk", "Застосунок вилітає під час оплати карткою, жахливо."),
    ("uk", "Дякую, доставка швидка, все чудово."),
    ("sl", "Kurir je zamujal dve uri, paket je bil poškodovan."),
    ("sl", "Aplikacija se sesuje pri plačilu s kartico."),
];

fn timestamp(time: DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    })
}

#[tokio::test]
async fn database_counts_match_the_row_by_row_report() {
    let dir = tempfile::tempdir().unwrap();
    let base = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    let server = TestServer::start(dir.path()).await;
    let random_time = |rng: &mut StdRng| base + Duration::seconds(rng.random_range(0..50 * 86_400));
    let mut next = 0;
    let mut item = |rng: &mut StdRng, customer: usize, time: DateTime<Utc>, scored: bool| {
        next += 1;
        let (_, text) = TEXTS[rng.random_range(0..TEXTS.len())];
        let mut item = new_feedback(&format!("f-{next}"), &format!("c-{customer}"), text);
        item.created_at = timestamp(time);
        item.channel = ["app", "web"][rng.random_range(0..2)].into();
        if scored {
            item.score = Some(pb::Score {
                kind: pb::ScoreKind::Nps as i32,
                value: rng.random_range(0..=10),
            });
        }
        item
    };
    let answer = |rng: &mut StdRng, i: usize| {
        let kind = [pb::ScoreKind::Nps, pb::ScoreKind::Csat, pb::ScoreKind::Ces][i % 3];
        let value = match kind {
            pb::ScoreKind::Nps => rng.random_range(0..=10),
            pb::ScoreKind::Csat => rng.random_range(1..=5),
            _ => rng.random_range(1..=7),
        };
        pb::RecordSurveyResponseRequest {
            response: Some(pb::SurveyResponse {
                external_id: format!("s-{i}"),
                customer_id: format!("c-{}", rng.random_range(0..8)),
                score: Some(pb::Score {
                    kind: kind as i32,
                    value,
                }),
                responded_at: timestamp(random_time(rng)),
                channel: ["app", "web", "email"][rng.random_range(0..3)].into(),
                ..Default::default()
            }),
        }
    };
    enum Write {
        Feedback(pb::NewFeedback),
        Answer(pb::RecordSurveyResponseRequest),
    }
    let mut first = Vec::new();
    for _ in 0..60 {
        let customer = rng.random_range(0..8);
        let time = random_time(&mut rng);
        let scored = rng.random_bool(0.3);
        first.push(Write::Feedback(item(&mut rng, customer, time, scored)));
    }
    // Then answers, and older feedback imported after the answers it precedes, sent together so
    // that write batches mix them.
    let mut then = Vec::new();
    for i in 0..150 {
        then.push(Write::Answer(answer(&mut rng, i)));
        if i % 4 == 3 {
            let customer = rng.random_range(0..8);
            let time = random_time(&mut rng);
            then.push(Write::Feedback(item(&mut rng, customer, time, false)));
        }
    }
    // Last, older feedback again after a restart: the writer must know from the store which
    // customers have unlinked answers.
    let mut last = Vec::new();
    for _ in 0..20 {
        let customer = rng.random_range(0..8);
        let time = random_time(&mut rng);
        last.push(Write::Feedback(item(&mut rng, customer, time, false)));
    }
    let send = async |server: &TestServer, writes: Vec<Write>, concurrency: usize| {
        let feedback = server.feedback().await;
        let satisfaction = SatisfactionServiceClient::new(server.channel().await);
        futures::stream::iter(writes)
            .for_each_concurrent(concurrency, |write| {
                let (mut feedback, mut satisfaction) = (feedback.clone(), satisfaction.clone());
                async move {
                    match write {
                        Write::Feedback(item) => {
                            feedback
                                .ingest_feedback(ingest_request(item))
                                .await
                                .unwrap();
                        }
                        Write::Answer(request) => {
                            satisfaction.record_survey_response(request).await.unwrap();
                        }
                    }
                }
            })
            .await;
    };
    send(&server, first, 1).await;
    send(&server, then, 16).await;
    server.stop().await;
    let server = TestServer::start(dir.path()).await;
    send(&server, last, 1).await;
    server.stop().await;

    let store = Store::open(dir.path(), StoreOptions::default())
        .await
        .unwrap();
    let ranges = [
        (base, base + Duration::days(60)),
        (
            base + Duration::hours(7),
            base + Duration::days(33) + Duration::minutes(5),
        ),
        (
            base + Duration::days(3) + Duration::hours(1),
            base + Duration::days(3) + Duration::hours(20),
        ),
    ];
    let mut compared = 0;
    for (start, end) in ranges {
        for group_by in [
            GroupBy::None,
            GroupBy::Channel,
            GroupBy::Language,
            GroupBy::Topic,
            GroupBy::FlagKind,
        ] {
            for bucket in [Bucket::None, Bucket::Day, Bucket::Week] {
                let request = ReportRequest {
                    start,
                    end,
                    bucket,
                    group_by,
                    filter: ReportFilter::default(),
                };
                let counted = report_from_counts(&store, &request).await.unwrap();
                let by_rows = report_from_rows(&store, &request).await.unwrap();
                assert_eq!(counted, by_rows, "{group_by:?} {bucket:?} {start}..{end}");
                compared += counted
                    .iter()
                    .map(|r| r.scores.nps.responses())
                    .sum::<u64>();
            }
        }
    }
    assert!(
        compared > 100,
        "the comparison covered real responses ({compared})"
    );
    store.close().await.unwrap();
}
