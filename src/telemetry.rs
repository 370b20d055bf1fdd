//! Metrics (issue "Operate it safely"): the conventional gRPC server metrics recorded by a tower
//! layer, domain metrics recorded where things happen, and a Prometheus endpoint on its own
//! listener (`--metrics-listen`).
//!
//! gRPC metrics, labelled `grpc_service` and `grpc_method` (and `grpc_code` when handled):
//! `grpc_server_started_total`, `grpc_server_handled_total`, `grpc_server_handling_seconds`
//! (histogram), `grpc_server_msg_received_total`, `grpc_server_msg_sent_total` (messages counted
//! per HTTP/2 DATA frame, which tonic writes one per message). Domain metrics are listed in
//! `docs/OPERATIONS.md`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body::{Body, Frame};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tower::{Layer, Service};

use crate::error::{Error, Result};
use crate::review::{Queue, ReviewState};
use crate::store::Store;

/// Buckets of every `*_seconds` histogram: 100 µs to 10 s.
const SECONDS_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 10.0,
];

static RECORDER: OnceLock<std::result::Result<PrometheusHandle, String>> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first use (metrics are process-global, so
/// several servers in one process — as in tests — share it; `get_or_init` makes concurrent first
/// uses install it once).
pub fn recorder() -> Result<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("seconds".into()), &SECONDS_BUCKETS)
                .map_err(|e| e.to_string())?
                .install_recorder()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Config(format!("metrics: {e}")))
}

/// Serves `GET /metrics` on `listener` until `shutdown` completes. Queue depths are read from
/// the store at scrape time.
pub async fn serve_metrics(
    listener: TcpListener,
    store: Store,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let handle = recorder()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let store = store.clone();
            async move {
                record_queue_depths(&store).await;
                handle.run_upkeep();
                handle.render()
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::Io)
}

/// Sets the review queue gauges. Only the state counts are read: the queue's other facts (every
/// claim delay, the decisions per flag) grow with everything the queue has held, and cost
/// hundreds of milliseconds a scrape with a million items stored.
async fn record_queue_depths(store: &Store) {
    for queue in Queue::ALL {
        match store.queue_state_counts(queue).await {
            Ok(state_counts) => {
                for state in ReviewState::ALL {
                    let count = state_counts
                        .iter()
                        .find(|(s, _)| *s == state)
                        .map_or(0, |(_, n)| *n);
                    metrics::gauge!(
                        "triage_review_items",
                        "queue" => queue.as_str(),
                        "state" => state.as_str()
                    )
                    .set(count as f64);
                }
            }
            Err(error) => tracing::warn!(%error, "reading review queue depths for metrics"),
        }
    }
}

/// Whether `address` may carry metrics without further thought.
pub fn check_metrics_address(address: SocketAddr) {
    if !address.ip().is_loopback() {
        tracing::warn!(%address, "metrics are served on a non-loopback address; they are not authenticated");
    }
}

/// `/package.Service/Method` → (`package.Service`, `Method`).
fn split_path(path: &str) -> (String, String) {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let service = parts.next().unwrap_or_default().to_string();
    let method = parts.next().unwrap_or_default().to_string();
    (service, method)
}

/// The gRPC code name for a numeric `grpc-status`.
fn code_name(status: &str) -> &'static str {
    let code = status.trim().parse::<i32>().unwrap_or(2);
    match tonic::Code::from_i32(code) {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "Canceled",
        tonic::Code::Unknown => "Unknown",
        tonic::Code::InvalidArgument => "InvalidArgument",
        tonic::Code::DeadlineExceeded => "DeadlineExceeded",
        tonic::Code::NotFound => "NotFound",
        tonic::Code::AlreadyExists => "AlreadyExists",
        tonic::Code::PermissionDenied => "PermissionDenied",
        tonic::Code::ResourceExhausted => "ResourceExhausted",
        tonic::Code::FailedPrecondition => "FailedPrecondition",
        tonic::Code::Aborted => "Aborted",
        tonic::Code::OutOfRange => "OutOfRange",
        tonic::Code::Unimplemented => "Unimplemented",
        tonic::Code::Internal => "Internal",
        tonic::Code::Unavailable => "Unavailable",
        tonic::Code::DataLoss => "DataLoss",
        tonic::Code::Unauthenticated => "Unauthenticated",
    }
}

/// Tower layer recording the gRPC server metrics of every call.
#[derive(Clone, Default)]
pub struct GrpcMetricsLayer;

impl<S> Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics { inner }
    }
}

#[derive(Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
}

/// What is known about a call until its response body ends.
struct Call {
    service: String,
    method: String,
    started: Instant,
    /// `grpc-status` from the response headers (a trailers-only error response).
    status: Option<String>,
}

impl Call {
    fn finish(self, status: Option<&str>) {
        let code = code_name(status.or(self.status.as_deref()).unwrap_or("0"));
        metrics::counter!(
            "grpc_server_handled_total",
            "grpc_service" => self.service.clone(),
            "grpc_method" => self.method.clone(),
            "grpc_code" => code
        )
        .increment(1);
        metrics::histogram!(
            "grpc_server_handling_seconds",
            "grpc_service" => self.service,
            "grpc_method" => self.method
        )
        .record(self.started.elapsed().as_secs_f64());
    }
}

/// A body that counts its DATA frames under `metric` and, for responses, records the call when
/// it ends (from the trailers' `grpc-status`).
struct ObservedBody {
    inner: tonic::body::Body,
    metric: &'static str,
    service: String,
    method: String,
    call: Option<Call>,
}

impl Body for ObservedBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, tonic::Status>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if frame.is_data() {
                    metrics::counter!(
                        self.metric,
                        "grpc_service" => self.service.clone(),
                        "grpc_method" => self.method.clone()
                    )
                    .increment(1);
                } else if let Some(trailers) = frame.trailers_ref() {
                    let status = trailers
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    if let Some(call) = self.call.take() {
                        call.finish(status.as_deref());
                    }
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => {
                if let Some(call) = self.call.take() {
                    call.finish(None);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ObservedBody {
    fn drop(&mut self) {
        // A response dropped before its end (the client went away) still counts as handled.
        if let Some(call) = self.call.take() {
            let status = if call.status.is_some() {
                None
            } else {
                Some("1")
            };
            call.finish(status);
        }
    }
}

impl<S> Service<http::Request<tonic::body::Body>> for GrpcMetrics<S>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, std::result::Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let (service, method) = split_path(request.uri().path());
        metrics::counter!(
            "grpc_server_started_total",
            "grpc_service" => service.clone(),
            "grpc_method" => method.clone()
        )
        .increment(1);
        let started = Instant::now();
        let request = request.map(|body| {
            tonic::body::Body::new(ObservedBody {
                inner: body,
                metric: "grpc_server_msg_received_total",
                service: service.clone(),
                method: method.clone(),
                call: None,
            })
        });
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let response = inner.call(request).await?;
            let status = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let call = Call {
                service: service.clone(),
                method: method.clone(),
                started,
                status,
            };
            Ok(response.map(|body| {
                tonic::body::Body::new(ObservedBody {
                    inner: body,
                    metric: "grpc_server_msg_sent_total",
                    service,
                    method,
                    call: Some(call),
                })
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_codes_are_named_like_the_go_grpc_prometheus_metrics() {
        assert_eq!(
            split_path("/triage.v1.FeedbackService/IngestFeedback"),
            (
                "triage.v1.FeedbackService".to_string(),
                "IngestFeedback".to_string()
            )
        );
        assert_eq!(code_name("0"), "OK");
        assert_eq!(code_name("3"), "InvalidArgument");
        assert_eq!(code_name("garbage"), "Unknown");
    }
}
