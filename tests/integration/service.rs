//! Authentication, roles, health and reflection over real gRPC.

use crate::common::{TestServer, ingest_request, new_feedback};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic::transport::Channel;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use triage::auth::{Role, TokenConfig};
use triage::config::Settings;
use triage::pb;
use triage::pb::feedback_service_client::FeedbackServiceClient;

fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

async fn guarded_server(dir: &std::path::Path) -> TestServer {
    let mut settings = Settings::with_data_dir(dir);
    settings.auth.tokens = vec![
        TokenConfig {
            name: "shop-backend".into(),
            // The production form: only the digest of the secret is configured.
            token_sha256: Some(hex::encode(Sha256::digest(b"ingest-secret"))),
            token: None,
            roles: vec![Role::Ingest],
        },
        TokenConfig {
            name: "agent-olena".into(),
            token_sha256: None,
            token: Some("agent-secret".into()),
            roles: vec![Role::Agent],
        },
    ];
    TestServer::start_with(settings).await
}

#[tokio::test]
async fn tokens_and_roles_guard_every_method() {
    let dir = tempfile::tempdir().unwrap();
    let server = guarded_server(dir.path()).await;
    let mut client: FeedbackServiceClient<Channel> = server.feedback().await;

    let anonymous = client
        .ingest_feedback(ingest_request(new_feedback("a-1", "c1", "Текст")))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let wrong = client
        .ingest_feedback(with_token(
            ingest_request(new_feedback("a-1", "c1", "Текст")),
            "guess",
        ))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);

    let stored = client
        .ingest_feedback(with_token(
            ingest_request(new_feedback("a-1", "c1", "Доставка опоздала на неделю.")),
            "ingest-secret",
        ))
        .await
        .unwrap()
        .into_inner()
        .feedback
        .unwrap();

    let read_as_ingest = client
        .get_feedback(with_token(
            pb::GetFeedbackRequest {
                id: stored.id.clone(),
            },
            "ingest-secret",
        ))
        .await
        .unwrap_err();
    assert_eq!(read_as_ingest.code(), Code::PermissionDenied);
    let write_as_agent = client
        .ingest_feedback(with_token(
            ingest_request(new_feedback("a-2", "c1", "Текст")),
            "agent-secret",
        ))
        .await
        .unwrap_err();
    assert_eq!(write_as_agent.code(), Code::PermissionDenied);
    let import_without_token = client
        .import_feedback(futures::stream::iter(vec![ingest_request(new_feedback(
            "a-3",
            "c1",
            "Текст",
        ))]))
        .await;
    match import_without_token {
        Err(status) => assert_eq!(status.code(), Code::Unauthenticated),
        Ok(response) => {
            let first = response.into_inner().next().await.unwrap();
            assert_eq!(first.unwrap_err().code(), Code::Unauthenticated);
        }
    }

    let fetched = client
        .get_feedback(with_token(
            pb::GetFeedbackRequest {
                id: stored.id.clone(),
            },
            "agent-secret",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched.id, stored.id);
    let resolved = client
        .resolve_feedback(with_token(
            pb::ResolveFeedbackRequest {
                id: stored.id,
                resolution: "Извинились, вернули стоимость доставки.".into(),
                resolved_by: String::new(),
            },
            "agent-secret",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        resolved.resolved_by, "agent-olena",
        "the caller's token name"
    );
    server.stop().await;
}

#[tokio::test]
async fn health_and_reflection_need_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = guarded_server(dir.path()).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "triage.v1.FeedbackService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let mut reflection = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(futures::stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("unexpected reflection answer {answer:?}");
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"triage.v1.FeedbackService".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_string()),
        "{names:?}"
    );
    server.stop().await;
}
