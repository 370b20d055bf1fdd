//! Assembles the gRPC server: the services, health, reflection, the auth layer, and a graceful
//! shutdown that stops accepting, finishes in-flight requests and then closes the store.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

use crate::api::feedback::FeedbackApi;
use crate::api::review::{ReviewApi, stopped};
use crate::api::satisfaction::SatisfactionApi;
use crate::api::search::SearchApi;
use crate::auth::{AuthLayer, Credentials};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::ingest::Ingestor;
use crate::overload::OverloadLayer;
use crate::pb;
use crate::pb::feedback_service_server::FeedbackServiceServer;
use crate::pb::review_service_server::ReviewServiceServer;
use crate::pb::satisfaction_service_server::SatisfactionServiceServer;
use crate::pb::search_service_server::SearchServiceServer;
use crate::signals::lexicons::Lexicons;
use crate::store::{Store, StoreOptions};
use crate::text::language::LanguageDetector;

/// Largest request of the search, satisfaction and review services apart from a text to
/// compare (filters, ids, notes).
const SMALL_REQUEST_BYTES: usize = 256 * 1024;
/// Largest response: a page of 200 review items or 100 search hits with their feedback.
const LARGE_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Refuses configurations that would expose an unauthenticated server to the network.
fn check_exposure(
    settings: &Settings,
    credentials: &Credentials,
    address: SocketAddr,
) -> Result<()> {
    if !credentials.is_empty() {
        return Ok(());
    }
    if address.ip().is_loopback() {
        tracing::warn!(
            %address,
            "no auth tokens or client certificates configured: every caller has every role \
             (loopback only)"
        );
        Ok(())
    } else if settings.insecure_no_auth {
        tracing::warn!(%address, "serving WITHOUT authentication on a non-loopback address");
        Ok(())
    } else {
        Err(Error::Config(format!(
            "refusing to listen on {address} without auth tokens; configure [[auth.tokens]] \
             or pass --insecure-no-auth"
        )))
    }
}

/// Serves on `listener` until `shutdown` completes, then drains and closes the store.
pub async fn serve(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let credentials = Credentials::from_config(&settings.auth)?;
    check_exposure(&settings, &credentials, listener.local_addr()?)?;
    if !settings.auth.clients.is_empty() && settings.tls.client_ca.is_none() {
        return Err(Error::Config(
            "[[auth.clients]] needs [tls] client_ca to verify client certificates".into(),
        ));
    }
    let tls = settings.tls.server_config()?;
    let lexicons = Lexicons::load(settings.signals.lexicon_dir.as_deref())?;
    let store_options = StoreOptions {
        dedup: settings.signals.dedup_params(),
        history: settings.signals.history_params(),
        ..StoreOptions::default()
    };
    let store = Store::open(&settings.data_dir, store_options.clone()).await?;
    let ingestor = Arc::new(Ingestor::new(
        store.clone(),
        settings.limits.clone(),
        lexicons,
        store_options.dedup,
    ));
    let (index, indexer) = crate::index::start(&settings.data_dir, &store, &settings.index)?;

    // Load the language models before reporting SERVING, not on the first request.
    tokio::task::spawn_blocking(|| LanguageDetector::new().warm_up())
        .await
        .map_err(|e| Error::Config(format!("loading language models: {e}")))?;
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<FeedbackServiceServer<FeedbackApi>>()
        .await;
    health.set_serving::<SearchServiceServer<SearchApi>>().await;
    health
        .set_serving::<SatisfactionServiceServer<SatisfactionApi>>()
        .await;
    health.set_serving::<ReviewServiceServer<ReviewApi>>().await;
    health.set_service_status("", ServingStatus::Serving).await;
    let (shutting_down, shutdown_seen) = watch::channel(false);
    let sweeper = tokio::spawn(sweep_expired_leases(store.clone(), shutdown_seen.clone()));

    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Error::Config(format!("reflection: {e}")))?;

    let stopping = {
        let health = health.clone();
        async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            shutting_down.send_replace(true);
            health
                .set_not_serving::<FeedbackServiceServer<FeedbackApi>>()
                .await;
            health
                .set_not_serving::<SearchServiceServer<SearchApi>>()
                .await;
            health
                .set_not_serving::<SatisfactionServiceServer<SatisfactionApi>>()
                .await;
            health
                .set_not_serving::<ReviewServiceServer<ReviewApi>>()
                .await;
            health
                .set_service_status("", ServingStatus::NotServing)
                .await;
        }
    };

    let metrics_server = match settings.metrics_listen {
        Some(address) => {
            crate::telemetry::check_metrics_address(address);
            let listener = TcpListener::bind(address).await?;
            tracing::info!(address = %listener.local_addr()?, "metrics at /metrics");
            let mut seen = shutdown_seen.clone();
            Some(tokio::spawn(crate::telemetry::serve_metrics(
                listener,
                store.clone(),
                async move { stopped(&mut seen).await },
            )))
        }
        None => None,
    };
    crate::telemetry::recorder()?;
    let feedback_text_bytes = settings.limits.max_text_chars.saturating_mul(4);

    // Layers: the first added is the outermost. Metrics see everything, auth names the caller,
    // then load shedding (per-token rates need the caller).
    let mut builder = Server::builder();
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls)
            .map_err(|e| Error::Config(format!("[tls]: {e}")))?;
        tracing::info!(
            client_certificates = settings.tls.client_ca.is_some(),
            required = settings.tls.requires_client_certificates(),
            "serving gRPC over TLS"
        );
    }
    let served = builder
        .timeout(Duration::from_secs(
            settings.overload.request_timeout_seconds.max(1),
        ))
        .layer(crate::telemetry::GrpcMetricsLayer)
        .layer(AuthLayer::new(credentials))
        .layer(OverloadLayer::new(&settings.overload))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(
            FeedbackServiceServer::new(FeedbackApi::new(ingestor, store.clone()))
                // A feedback item is its text (up to 4 bytes a character) plus small fields.
                .max_decoding_message_size(feedback_text_bytes + 256 * 1024)
                .max_encoding_message_size(feedback_text_bytes * 2 + 256 * 1024),
        )
        .add_service(
            SearchServiceServer::new(SearchApi::new(index, store.clone()))
                .max_decoding_message_size(SMALL_REQUEST_BYTES + feedback_text_bytes)
                .max_encoding_message_size(LARGE_RESPONSE_BYTES),
        )
        .add_service(
            SatisfactionServiceServer::new(SatisfactionApi::new(
                store.clone(),
                settings.limits.clone(),
            ))
            .max_decoding_message_size(SMALL_REQUEST_BYTES)
            .max_encoding_message_size(LARGE_RESPONSE_BYTES),
        )
        .add_service(
            ReviewServiceServer::new(ReviewApi::new(
                store.clone(),
                settings.review.lease(),
                shutdown_seen,
            ))
            .max_decoding_message_size(SMALL_REQUEST_BYTES)
            .max_encoding_message_size(LARGE_RESPONSE_BYTES),
        )
        .serve_with_incoming_shutdown(
            // Without TCP_NODELAY small unary replies wait for the peer's delayed ACK (~40 ms).
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            stopping,
        )
        .await;
    // Derived state first: the indexer commits what it has, then the store closes.
    let _ = sweeper.await;
    if let Some(metrics_server) = metrics_server
        && let Ok(Err(error)) = metrics_server.await
    {
        tracing::warn!(%error, "metrics endpoint");
    }
    indexer.stop().await;
    let closed = store.close().await;
    served.map_err(|e| Error::Config(format!("transport: {e}")))?;
    closed?;
    tracing::info!("store closed");
    Ok(())
}

/// Returns claims whose lease ended to their queue, every second, until shutdown.
async fn sweep_expired_leases(store: Store, mut shutting_down: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped(&mut shutting_down) => return,
        }
        match store.expire_leases().await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "expired review claims returned to their queue"),
            Err(Error::ShuttingDown) => return,
            Err(error) => tracing::warn!(%error, "returning expired review claims"),
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn termination_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{AuthConfig, Role, TokenConfig};

    #[test]
    fn no_tokens_means_loopback_only() {
        let mut settings = Settings::with_data_dir("unused");
        let open = Credentials::from_config(&AuthConfig::default()).unwrap();
        let public: SocketAddr = "10.1.2.3:50051".parse().unwrap();
        assert!(check_exposure(&settings, &open, "127.0.0.1:50051".parse().unwrap()).is_ok());
        assert!(check_exposure(&settings, &open, "[::1]:50051".parse().unwrap()).is_ok());
        let refusal = check_exposure(&settings, &open, public).unwrap_err();
        assert!(refusal.to_string().contains("--insecure-no-auth"));
        settings.insecure_no_auth = true;
        assert!(check_exposure(&settings, &open, public).is_ok());
        settings.insecure_no_auth = false;
        let guarded = Credentials::from_config(&AuthConfig {
            tokens: vec![TokenConfig {
                name: "bot".into(),
                token_sha256: None,
                token: Some("secret".into()),
                roles: vec![Role::Ingest],
            }],
            clients: Vec::new(),
        })
        .unwrap();
        assert!(check_exposure(&settings, &guarded, public).is_ok());
    }
}
