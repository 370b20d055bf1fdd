//! Search and satisfaction load: the query mix, timed searches and reports, and waiting until
//! the index has caught up with an import.

use std::time::{Duration, Instant};

use futures::StreamExt;
use indicatif::ProgressBar;
use tonic::transport::Channel;

use triage::cli::BearerToken;
use triage::pb;
use triage::pb::satisfaction_service_client::SatisfactionServiceClient;
use triage::pb::search_service_client::SearchServiceClient;

use super::{Measurement, timed};

/// The query strings: single words in another word form than the corpus uses, two-word
/// queries, phrases, a prefix, an exclusion.
pub const QUERIES: &[&str] = &[
    "доставка",
    "курьера",
    "деньгами",
    "приложения",
    "доставку",
    "кур'єра",
    "гроші",
    "застосунок",
    "dostavo",
    "kurirja",
    "denarja",
    "aplikacija",
    "доставка курьер",
    "повернення грошей",
    "plačilo kartico",
    "\"не пришло\"",
    "\"brez težav\"",
    "достав*",
    "доставка -курьер",
    "upravitelj",
];

/// The query mix: [`QUERIES`] with filters, facets and orders on some of them.
pub fn query_mix(i: u64) -> pb::SearchFeedbackRequest {
    let mut request = pb::SearchFeedbackRequest {
        query: QUERIES[(i as usize) % QUERIES.len()].to_string(),
        page_size: 20,
        ..pb::SearchFeedbackRequest::default()
    };
    match i % 5 {
        1 => {
            request.filter = Some(pb::SearchFilter {
                channels: vec!["email".into()],
                ..pb::SearchFilter::default()
            })
        }
        2 => request.facets = vec![pb::Facet::Language as i32, pb::Facet::Channel as i32],
        3 => request.order_by = pb::SearchOrder::Newest as i32,
        _ => {}
    }
    request
}

pub async fn search_load(
    channel: &Channel,
    token: &BearerToken,
    count: u64,
    concurrency: usize,
) -> anyhow::Result<Measurement> {
    let client = SearchServiceClient::with_interceptor(channel.clone(), token.clone());
    timed(
        format!("SearchFeedback, concurrency {concurrency}"),
        count,
        concurrency,
        |i| {
            let mut client = client.clone();
            async move { client.search_feedback(query_mix(i)).await.map(drop) }
        },
    )
    .await
}

/// Seconds until a match-all search counts `expected` items.
pub async fn wait_searchable(
    channel: &Channel,
    token: &BearerToken,
    expected: u64,
) -> anyhow::Result<f64> {
    let mut client = SearchServiceClient::with_interceptor(channel.clone(), token.clone());
    let started = Instant::now();
    loop {
        let total = client
            .search_feedback(pb::SearchFeedbackRequest {
                page_size: 1,
                ..Default::default()
            })
            .await?
            .into_inner()
            .total_size;
        if total as u64 >= expected {
            return Ok(started.elapsed().as_secs_f64());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "index stuck at {total} of {expected}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Records `count` survey responses spread over 90 days, then times reports over them.
pub async fn satisfaction_load(
    channel: &Channel,
    token: &BearerToken,
    count: u64,
    customers: u64,
) -> anyhow::Result<Vec<Measurement>> {
    let client = SatisfactionServiceClient::with_interceptor(channel.clone(), token.clone());
    let progress = ProgressBar::new(count);
    let started = Instant::now();
    let now = chrono::Utc::now().timestamp();
    let outcomes: Vec<Result<_, tonic::Status>> = futures::stream::iter(0..count)
        .map(|i| {
            let mut client = client.clone();
            let progress = progress.clone();
            async move {
                let kind =
                    [pb::ScoreKind::Nps, pb::ScoreKind::Csat, pb::ScoreKind::Ces][(i % 3) as usize];
                let value = match kind {
                    pb::ScoreKind::Nps => (i * 7 % 11) as i32,
                    pb::ScoreKind::Csat => (i * 3 % 5) as i32 + 1,
                    _ => (i * 5 % 7) as i32 + 1,
                };
                client
                    .record_survey_response(pb::RecordSurveyResponseRequest {
                        response: Some(pb::SurveyResponse {
                            external_id: format!("bench-survey-{i}"),
                            customer_id: format!("customer-{}", i % customers.max(1)),
                            score: Some(pb::Score {
                                kind: kind as i32,
                                value,
                            }),
                            responded_at: Some(prost_types::Timestamp {
                                seconds: now - (i as i64 * 7919) % (90 * 86_400),
                                nanos: 0,
                            }),
                            channel: ["email", "app", "web"][(i % 3) as usize].into(),
                            ..Default::default()
                        }),
                    })
                    .await?;
                progress.inc(1);
                Ok(())
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    outcomes.into_iter().collect::<Result<Vec<()>, _>>()?;
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let mut results = vec![Measurement::rate(
        "RecordSurveyResponse, concurrency 64",
        count,
        seconds,
    )];
    let mut client = client;
    for (label, bucket, group_by) in [
        (
            "report: 90 days by week",
            pb::ReportBucket::Week,
            pb::ReportGroupBy::None,
        ),
        (
            "report: 90 days by language",
            pb::ReportBucket::None,
            pb::ReportGroupBy::Language,
        ),
    ] {
        let mut latencies = Vec::new();
        for _ in 0..5 {
            let sent = Instant::now();
            client
                .get_satisfaction_report(pb::GetSatisfactionReportRequest {
                    start: Some(prost_types::Timestamp {
                        seconds: now - 91 * 86_400,
                        nanos: 0,
                    }),
                    end: Some(prost_types::Timestamp {
                        seconds: now + 86_400,
                        nanos: 0,
                    }),
                    bucket: bucket as i32,
                    group_by: group_by as i32,
                    filter: None,
                })
                .await?;
            latencies.push(sent.elapsed());
        }
        let seconds = latencies.iter().map(Duration::as_secs_f64).sum();
        results.push(Measurement {
            // The responses the reports cover, not the 5 reports.
            items: count,
            ..Measurement::timed(label, seconds, latencies)
        });
    }
    Ok(results)
}
