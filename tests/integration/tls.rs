//! TLS and mTLS end to end: a server with a certificate from a test CA, clients with and without
//! client certificates, tokens over TLS, and the client commands' `--ca-cert`/`--client-cert`.

use std::path::{Path, PathBuf};

use crate::common::{TestServer, ingest_request, new_feedback};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use triage::auth::{ClientCertConfig, Role, TokenConfig};
use triage::cli::{ConnectionArgs, connect};
use triage::config::Settings;
use triage::pb;
use triage::pb::feedback_service_client::FeedbackServiceClient;
use triage::pb::search_service_client::SearchServiceClient;

/// A PEM certificate and key written to files, and the certificate's DER.
struct Pair {
    cert: PathBuf,
    key: PathBuf,
    der: Vec<u8>,
}

impl Pair {
    fn identity(&self) -> Identity {
        Identity::from_pem(
            std::fs::read(&self.cert).unwrap(),
            std::fs::read(&self.key).unwrap(),
        )
    }
}

fn write_pair(dir: &Path, name: &str, pem: String, key: &KeyPair, der: &[u8]) -> Pair {
    let pair = Pair {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
        der: der.to_vec(),
    };
    std::fs::write(&pair.cert, pem).unwrap();
    std::fs::write(&pair.key, key.serialize_pem()).unwrap();
    pair
}

fn new_ca(dir: &Path, name: &str) -> (CertifiedIssuer<'static, KeyPair>, PathBuf) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let path = dir.join(format!("{name}.pem"));
    std::fs::write(&path, ca.pem()).unwrap();
    (ca, path)
}

fn issue(dir: &Path, issuer: &Issuer<'_, KeyPair>, name: &str, sans: &[&str]) -> Pair {
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    write_pair(dir, name, cert.pem(), &key, cert.der())
}

/// The files of one test: a CA, the server's certificate, two clients of that CA and a client of
/// another CA.
struct Pki {
    ca: PathBuf,
    server: Pair,
    billing: Pair,
    stranger: Pair,
    rogue: Pair,
}

fn pki(dir: &Path) -> Pki {
    let (ca, ca_path) = new_ca(dir, "triage-test-ca");
    let (other_ca, _) = new_ca(dir, "other-ca");
    Pki {
        server: issue(dir, &ca, "server", &["127.0.0.1", "localhost"]),
        billing: issue(dir, &ca, "billing", &[]),
        stranger: issue(dir, &ca, "stranger", &[]),
        rogue: issue(dir, &other_ca, "rogue", &[]),
        ca: ca_path,
    }
}

fn trusting(pki: &Pki) -> ClientTlsConfig {
    ClientTlsConfig::new().ca_certificate(Certificate::from_pem(std::fs::read(&pki.ca).unwrap()))
}

fn tls_settings(data: &Path, pki: &Pki, require_client_cert: bool) -> Settings {
    let mut settings = Settings::with_data_dir(data);
    settings.tls.cert = Some(pki.server.cert.clone());
    settings.tls.key = Some(pki.server.key.clone());
    settings.tls.client_ca = Some(pki.ca.clone());
    settings.tls.require_client_cert = require_client_cert;
    settings.auth.tokens = vec![TokenConfig {
        name: "agent".into(),
        token_sha256: None,
        token: Some("agent-secret".into()),
        roles: vec![Role::Agent],
    }];
    settings.auth.clients = vec![ClientCertConfig {
        name: "billing-bot".into(),
        cert_sha256: triage::tls::certificate_fingerprint(&pki.billing.der),
        roles: vec![Role::Ingest],
    }];
    settings
}

async fn channel_with(server: &TestServer, tls: ClientTlsConfig) -> Result<Channel, String> {
    Channel::from_shared(server.url())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .map_err(|e| e.to_string())
}

async fn ingest(channel: Channel, id: &str) -> Result<pb::IngestFeedbackResponse, tonic::Status> {
    FeedbackServiceClient::new(channel)
        .ingest_feedback(ingest_request(new_feedback(
            id,
            "cust-tls",
            "Курьер опоздал на три часа, заказ пришёл холодным.",
        )))
        .await
        .map(|r| r.into_inner())
}

fn search_request() -> tonic::Request<pb::SearchFeedbackRequest> {
    tonic::Request::new(pb::SearchFeedbackRequest {
        query: "курьер".into(),
        ..pb::SearchFeedbackRequest::default()
    })
}

#[tokio::test]
async fn tokens_and_client_certificates_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let server = TestServer::start_tls(
        tls_settings(&dir.path().join("data"), &pki, false),
        trusting(&pki),
    )
    .await;

    // Plain text to a TLS port never gets an answer.
    let plain = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await;
    if let Ok(plain) = plain {
        assert!(ingest(plain, "plain-1").await.is_err());
    }

    // TLS without credentials: the transport works, the call is unauthenticated.
    let anonymous = ingest(server.channel().await, "anon-1").await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated, "{anonymous:?}");

    // A mapped client certificate is the caller "billing-bot" with the ingest role only.
    let billing = channel_with(&server, trusting(&pki).identity(pki.billing.identity()))
        .await
        .unwrap();
    let stored = ingest(billing.clone(), "tls-1").await.unwrap();
    assert!(!stored.already_existed);
    let denied = SearchServiceClient::new(billing)
        .search_feedback(search_request())
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(denied.message().contains("billing-bot"), "{denied:?}");

    // A token still works over TLS.
    let mut with_token = search_request();
    with_token
        .metadata_mut()
        .insert("authorization", "Bearer agent-secret".parse().unwrap());
    SearchServiceClient::new(server.channel().await)
        .search_feedback(with_token)
        .await
        .unwrap();

    // A certificate of the right CA that nobody mapped is refused, naming its fingerprint.
    let stranger = channel_with(&server, trusting(&pki).identity(pki.stranger.identity()))
        .await
        .unwrap();
    let refused = ingest(stranger, "stranger-1").await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let fingerprint = triage::tls::certificate_fingerprint(&pki.stranger.der);
    assert!(refused.message().contains(&fingerprint), "{refused:?}");

    // A certificate of another CA fails the handshake.
    match channel_with(&server, trusting(&pki).identity(pki.rogue.identity())).await {
        Err(_) => {}
        Ok(rogue) => {
            let status = ingest(rogue, "rogue-1").await.unwrap_err();
            assert!(
                !matches!(status.code(), Code::Unauthenticated | Code::Ok),
                "{status:?}"
            );
        }
    }

    // The client commands connect the same way.
    let args = ConnectionArgs {
        ca_cert: Some(pki.ca.clone()),
        client_cert: Some(pki.billing.cert.clone()),
        client_key: Some(pki.billing.key.clone()),
        ..ConnectionArgs::new(server.url(), None)
    };
    let (channel, token) = connect(&args).await.unwrap();
    let retried = FeedbackServiceClient::with_interceptor(channel, token)
        .ingest_feedback(ingest_request(new_feedback(
            "tls-1",
            "cust-tls",
            "Курьер опоздал на три часа, заказ пришёл холодным.",
        )))
        .await
        .unwrap()
        .into_inner();
    assert!(retried.already_existed);
    server.stop().await;
}

#[tokio::test]
async fn required_client_certificates_refuse_bare_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let server = TestServer::start_tls(
        tls_settings(&dir.path().join("data"), &pki, true),
        trusting(&pki).identity(pki.billing.identity()),
    )
    .await;
    ingest(server.channel().await, "mtls-1").await.unwrap();
    match channel_with(&server, trusting(&pki)).await {
        Err(_) => {}
        Ok(bare) => {
            let status = ingest(bare, "bare-1").await.unwrap_err();
            assert_ne!(status.code(), Code::Unauthenticated, "{status:?}");
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn broken_tls_settings_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let mut settings = tls_settings(&dir.path().join("data"), &pki, false);
    settings.tls.key = Some(pki.ca.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = triage::server::serve(settings, listener, async {})
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("[tls]"), "{error}");

    let mut settings = tls_settings(&dir.path().join("data"), &pki, false);
    settings.tls.client_ca = None;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = triage::server::serve(settings, listener, async {})
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("client_ca"), "{error}");
}
