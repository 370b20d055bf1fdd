//! Operating the service: load shedding with RetryInfo, per-token rates, message size limits and
//! the Prometheus endpoint.

use std::net::SocketAddr;

use crate::common::{TestServer, ingest_request, new_feedback};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;
use tonic_types::StatusExt;
use triage::config::Settings;
use triage::pb;

fn free_loopback_port() -> SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap()
}

async fn scrape(address: SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("metrics port");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

#[tokio::test]
async fn a_full_server_sheds_load_with_a_retry_hint() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::with_data_dir(dir.path());
    settings.overload.max_concurrent_requests = 1;
    let server = TestServer::start_with(settings).await;
    let mut client = server.feedback().await;
    // An import stream that stays open holds the only slot.
    let (sender, receiver) = tokio::sync::mpsc::channel::<pb::IngestFeedbackRequest>(1);
    let mut import = client
        .import_feedback(tokio_stream::wrappers::ReceiverStream::new(receiver))
        .await
        .unwrap()
        .into_inner();
    sender
        .send(ingest_request(new_feedback(
            "held-1",
            "c",
            "Курьер опоздал на час.",
        )))
        .await
        .unwrap();
    assert!(import.message().await.unwrap().unwrap().error.is_none());

    let refused = client
        .ingest_feedback(ingest_request(new_feedback(
            "over-1",
            "c",
            "Курьер опоздал.",
        )))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let retry = refused
        .get_error_details()
        .retry_info()
        .cloned()
        .expect("RetryInfo");
    assert!(retry.retry_delay.is_some_and(|d| !d.is_zero()));

    drop(sender);
    while import.message().await.unwrap().is_some() {}
    drop(import);
    // With the slot free again the same call goes through (the stream's end may take a moment
    // to release it).
    let started = std::time::Instant::now();
    loop {
        match client
            .ingest_feedback(ingest_request(new_feedback(
                "over-1",
                "c",
                "Курьер опоздал.",
            )))
            .await
        {
            Ok(_) => break,
            Err(status) if status.code() == Code::ResourceExhausted => {
                assert!(
                    started.elapsed() < crate::common::DEADLINE,
                    "slot never released"
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Err(status) => panic!("{status:?}"),
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn per_token_rates_and_message_sizes_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::with_data_dir(dir.path());
    settings.overload.per_token_requests_per_second = 0.5;
    settings.overload.per_token_burst = 3.0;
    let server = TestServer::start_with(settings).await;
    let mut client = server.feedback().await;
    let mut outcomes = Vec::new();
    for i in 0..5 {
        let result = client
            .get_feedback(pb::GetFeedbackRequest {
                id: format!("missing-{i}"),
            })
            .await;
        outcomes.push(result.unwrap_err().code());
    }
    assert_eq!(
        outcomes,
        [
            Code::NotFound,
            Code::NotFound,
            Code::NotFound,
            Code::ResourceExhausted,
            Code::ResourceExhausted
        ]
    );
    server.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut client = server.feedback().await;
    let huge = new_feedback("huge-1", "c", &"ы".repeat(400_000));
    let refused = client
        .ingest_feedback(ingest_request(huge))
        .await
        .unwrap_err();
    assert!(
        matches!(refused.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{refused:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn prometheus_metrics_name_methods_codes_and_domain_figures() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::with_data_dir(dir.path());
    let metrics = free_loopback_port();
    settings.metrics_listen = Some(metrics);
    let server = TestServer::start_with(settings).await;
    let mut client = server.feedback().await;
    client
        .ingest_feedback(ingest_request(new_feedback(
            "m-1",
            "c",
            "Верните деньги за сломанный пылесос, иначе напишу во все соцсети, что вы продаёте брак.",
        )))
        .await
        .unwrap();
    let _ = client
        .ingest_feedback(ingest_request(new_feedback("", "c", "текст")))
        .await
        .unwrap_err();
    let text = scrape(metrics).await;
    for expected in [
        "grpc_server_started_total{grpc_service=\"triage.v1.FeedbackService\",grpc_method=\"IngestFeedback\"}",
        "grpc_server_handled_total{grpc_service=\"triage.v1.FeedbackService\",grpc_method=\"IngestFeedback\",grpc_code=\"OK\"}",
        "grpc_server_handled_total{grpc_service=\"triage.v1.FeedbackService\",grpc_method=\"IngestFeedback\",grpc_code=\"InvalidArgument\"}",
        "grpc_server_handling_seconds_bucket{grpc_service=\"triage.v1.FeedbackService\",grpc_method=\"IngestFeedback\"",
        "grpc_server_msg_received_total{grpc_service=\"triage.v1.FeedbackService\",grpc_method=\"IngestFeedback\"}",
        "grpc_server_msg_sent_total{grpc_service=\"triage.v1.FeedbackService\",grpc_method=\"IngestFeedback\"}",
        "triage_feedback_ingested_total{language=\"ru\"}",
        "triage_flags_total{kind=\"extortion\"}",
        "triage_store_commit_seconds_bucket",
        "triage_review_items{queue=\"suspicious\",state=\"open\"} 1",
        "triage_index_lag",
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
    assert!(!text.contains("пылесос"), "no feedback text in metrics");
    server.stop().await;
}
