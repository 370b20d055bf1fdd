//! Test harness: starts the real server on 127.0.0.1:0 with a temp data dir and gives gRPC clients.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

use triage::config::Settings;
use triage::pb;
use triage::pb::feedback_service_client::FeedbackServiceClient;

pub const DEADLINE: Duration = Duration::from_secs(30);

pub struct TestServer {
    pub addr: SocketAddr,
    /// Client TLS settings when the server serves TLS.
    tls: Option<ClientTlsConfig>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<triage::error::Result<()>>,
}

impl TestServer {
    /// Starts a server with embedded defaults on `data_dir`.
    pub async fn start(data_dir: &Path) -> TestServer {
        Self::start_with(Settings::with_data_dir(data_dir)).await
    }

    pub async fn start_with(settings: Settings) -> TestServer {
        Self::start_serving(settings, None).await
    }

    /// Starts a TLS server; `client` is how this harness's own channels connect.
    pub async fn start_tls(settings: Settings, client: ClientTlsConfig) -> TestServer {
        Self::start_serving(settings, Some(client)).await
    }

    async fn start_serving(settings: Settings, tls: Option<ClientTlsConfig>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(triage::server::serve(settings, listener, async move {
            let _ = stopped.await;
        }));
        let server = TestServer {
            addr,
            tls,
            stop: Some(stop),
            task,
        };
        server.wait_until_serving().await;
        server
    }

    async fn wait_until_serving(&self) {
        let started = Instant::now();
        loop {
            if let Ok(channel) = self.endpoint().connect().await {
                let reply = HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await;
                if let Ok(reply) = reply
                    && reply.into_inner().status == ServingStatus::Serving as i32
                {
                    return;
                }
            }
            assert!(started.elapsed() < DEADLINE, "server did not become ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The endpoint of this server, with the harness's TLS settings when it serves TLS.
    pub fn endpoint(&self) -> Endpoint {
        let endpoint = Channel::from_shared(self.url()).unwrap();
        match &self.tls {
            Some(tls) => endpoint.tls_config(tls.clone()).expect("client TLS"),
            None => endpoint,
        }
    }

    pub async fn channel(&self) -> Channel {
        self.endpoint()
            .connect()
            .await
            .expect("connect to test server")
    }

    pub async fn feedback(&self) -> FeedbackServiceClient<Channel> {
        FeedbackServiceClient::new(self.channel().await)
    }

    /// Graceful shutdown; panics if the server reported an error.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .expect("server task")
            .expect("server stopped cleanly");
    }
}

pub fn new_feedback(external_id: &str, customer_id: &str, text: &str) -> pb::NewFeedback {
    pb::NewFeedback {
        external_id: external_id.to_string(),
        customer_id: customer_id.to_string(),
        text: text.to_string(),
        kind: pb::FeedbackKind::Complaint as i32,
        ..pb::NewFeedback::default()
    }
}

pub fn ingest_request(feedback: pb::NewFeedback) -> pb::IngestFeedbackRequest {
    pb::IngestFeedbackRequest {
        feedback: Some(feedback),
    }
}

/// The fields named in a status's `google.rpc.BadRequest`.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|bad| {
            bad.field_violations
                .iter()
                .map(|v| v.field.clone())
                .collect()
        })
        .unwrap_or_default()
}
