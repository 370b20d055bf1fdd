//! Load shedding (issue "Operate it safely"): a global limit on requests in progress and an
//! optional per-token request rate. A request over either limit is refused at once with
//! `RESOURCE_EXHAUSTED` and a `google.rpc.RetryInfo` saying when to try again, instead of
//! queueing without bound. Long-lived watch streams are limited separately (they would otherwise
//! hold a slot forever).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde::Deserialize;
use tokio::sync::Semaphore;
use tower::{Layer, Service};

use crate::auth::Caller;
use crate::error::Error;

/// `[overload]` in the config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverloadConfig {
    /// Requests being handled at once, all callers together.
    pub max_concurrent_requests: usize,
    /// Open `WatchReviewItems` streams at once.
    pub max_watchers: usize,
    /// Requests per second each token may make (0: no limit); bursts up to `per_token_burst`.
    pub per_token_requests_per_second: f64,
    pub per_token_burst: f64,
    /// Longest a request may take; a client's shorter `grpc-timeout` wins.
    pub request_timeout_seconds: u64,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        OverloadConfig {
            max_concurrent_requests: 512,
            max_watchers: 256,
            per_token_requests_per_second: 0.0,
            per_token_burst: 100.0,
            request_timeout_seconds: 30,
        }
    }
}

/// What a refused client is told to wait.
const RETRY_AFTER: Duration = Duration::from_millis(200);

/// Health checks and reflection are never shed: load balancers must see the server under load.
fn is_exempt(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.") || path.starts_with("/grpc.reflection.")
}

fn is_watch(path: &str) -> bool {
    path == "/triage.v1.ReviewService/WatchReviewItems"
}

/// Token buckets per caller name.
struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// Takes one token from `caller`'s bucket; `Err` holds how long until one is available.
    fn take(&self, caller: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = buckets
            .entry(caller.to_string())
            .or_insert((self.burst, now));
        let refilled =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(Duration::from_secs_f64((1.0 - refilled) / self.per_second))
        }
    }
}

#[derive(Clone)]
pub struct OverloadLayer {
    requests: Arc<Semaphore>,
    watchers: Arc<Semaphore>,
    rate: Option<Arc<RateLimiter>>,
}

impl OverloadLayer {
    pub fn new(config: &OverloadConfig) -> OverloadLayer {
        OverloadLayer {
            requests: Arc::new(Semaphore::new(config.max_concurrent_requests.max(1))),
            watchers: Arc::new(Semaphore::new(config.max_watchers.max(1))),
            rate: (config.per_token_requests_per_second > 0.0).then(|| {
                Arc::new(RateLimiter {
                    per_second: config.per_token_requests_per_second,
                    burst: config.per_token_burst.max(1.0),
                    buckets: Mutex::new(HashMap::new()),
                })
            }),
        }
    }
}

impl<S> Layer<S> for OverloadLayer {
    type Service = Overload<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Overload {
            layer: self.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct Overload<S> {
    layer: OverloadLayer,
    inner: S,
}

fn refuse(message: &str, retry_after: Duration) -> http::Response<tonic::body::Body> {
    metrics::counter!("triage_requests_shed_total", "reason" => message.to_string()).increment(1);
    tonic::Status::from(Error::ResourceExhausted {
        message: message.to_string(),
        retry_after,
    })
    .into_http()
}

impl<S, B> Service<http::Request<B>> for Overload<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, std::result::Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if is_exempt(request.uri().path()) {
            let clone = self.inner.clone();
            let mut inner = std::mem::replace(&mut self.inner, clone);
            return Box::pin(inner.call(request));
        }
        if let Some(rate) = &self.layer.rate {
            let caller = request
                .extensions()
                .get::<Caller>()
                .map_or("anonymous", |c| c.name.as_str());
            if let Err(wait) = rate.take(caller, Instant::now()) {
                let response = refuse("this token's request rate limit", wait.max(RETRY_AFTER));
                return Box::pin(async move { Ok(response) });
            }
        }
        let (slots, what) = if is_watch(request.uri().path()) {
            (&self.layer.watchers, "the open watch streams limit")
        } else {
            (&self.layer.requests, "the concurrent requests limit")
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            let response = refuse(what, RETRY_AFTER);
            return Box::pin(async move { Ok(response) });
        };
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let response = inner.call(request).await;
            // A watch keeps its slot while the stream is open.
            Ok(response?.map(|body| {
                tonic::body::Body::new(Holding {
                    body,
                    _permit: permit,
                })
            }))
        })
    }
}

/// A response body that keeps a slot until it is dropped.
struct Holding {
    body: tonic::body::Body,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl http_body::Body for Holding {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<http_body::Frame<bytes::Bytes>, tonic::Status>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_bucket_refills_at_its_rate() {
        let limiter = RateLimiter {
            per_second: 10.0,
            burst: 2.0,
            buckets: Mutex::new(HashMap::new()),
        };
        let start = Instant::now();
        assert!(limiter.take("a", start).is_ok());
        assert!(limiter.take("a", start).is_ok());
        let wait = limiter.take("a", start).unwrap_err();
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO);
        assert!(limiter.take("b", start).is_ok(), "buckets are per token");
        assert!(
            limiter
                .take("a", start + Duration::from_millis(150))
                .is_ok()
        );
    }
}
