//! Authentication (bearer tokens or TLS client certificates) and per-RPC roles, as a tower layer
//! in front of every service.
//!
//! Tokens come from config as `[[auth.tokens]]` with a name, the hex SHA-256 of the secret (or the
//! plain secret, for development) and roles. The presented token is hashed and compared with every
//! configured digest in constant time. Client certificates (when `[tls] client_ca` is set, rustls
//! has already verified the chain) are named by `[[auth.clients]]`: the SHA-256 fingerprint of the
//! certificate, a name and roles. A bearer token, when present, decides. The authenticated
//! [`Caller`] is put into the request's extensions for handlers (the review queue records who
//! acted). Health checks and reflection stay open.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tower::{Layer, Service};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Push feedback and survey responses in.
    Ingest,
    /// Read and search feedback, record resolutions.
    Agent,
    /// Work the review queues.
    Reviewer,
    /// Everything, including reopening resolved review items.
    Admin,
}

/// One `[[auth.tokens]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub name: String,
    /// Hex SHA-256 of the secret (preferred: the config then holds no secret).
    #[serde(default)]
    pub token_sha256: Option<String>,
    /// The secret itself; accepted for development.
    #[serde(default)]
    pub token: Option<String>,
    pub roles: Vec<Role>,
}

/// One `[[auth.clients]]` table: a TLS client certificate and who it is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCertConfig {
    pub name: String,
    /// SHA-256 fingerprint of the certificate (DER), hex; colons allowed.
    pub cert_sha256: String,
    pub roles: Vec<Role>,
}

/// `[auth]`: who may call.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `[[auth.tokens]]` tables.
    pub tokens: Vec<TokenConfig>,
    /// `[[auth.clients]]` tables (needs `[tls] client_ca`).
    pub clients: Vec<ClientCertConfig>,
}

/// Who is calling, as established by the auth layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    roles: Vec<Role>,
}

impl Caller {
    /// The caller of a server running without tokens (loopback development mode).
    pub fn anonymous() -> Caller {
        Caller {
            name: "anonymous".to_string(),
            roles: vec![Role::Admin],
        }
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.iter().any(|r| *r == role || *r == Role::Admin)
    }
}

/// A token's or a certificate's digest and the caller it stands for.
struct Entry {
    name: String,
    digest: [u8; 32],
    roles: Vec<Role>,
}

impl Entry {
    fn caller(&self) -> Caller {
        Caller {
            name: self.name.clone(),
            roles: self.roles.clone(),
        }
    }
}

/// Checks every entry so timing reveals nothing about which one matched.
fn find(entries: &[Entry], digest: &[u8; 32]) -> Option<Caller> {
    let mut found = None;
    for entry in entries {
        if bool::from(entry.digest.ct_eq(digest)) {
            found = Some(entry.caller());
        }
    }
    found
}

/// The configured tokens and client certificates, ready for lookups.
pub struct Credentials {
    tokens: Vec<Entry>,
    certificates: Vec<Entry>,
}

impl Credentials {
    pub fn from_config(config: &AuthConfig) -> Result<Credentials> {
        let mut tokens = Vec::with_capacity(config.tokens.len());
        for (i, token) in config.tokens.iter().enumerate() {
            let place = format!("auth.tokens[{i}] ({:?})", token.name);
            let digest = match (&token.token_sha256, &token.token) {
                (Some(hex_digest), None) => {
                    let bytes = hex::decode(hex_digest.trim())
                        .map_err(|_| Error::Config(format!("{place}: token_sha256 is not hex")))?;
                    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                        Error::Config(format!("{place}: token_sha256 must be 64 hex digits"))
                    })?
                }
                (None, Some(secret)) if !secret.is_empty() => Sha256::digest(secret).into(),
                _ => {
                    return Err(Error::Config(format!(
                        "{place}: give exactly one of token_sha256 or token"
                    )));
                }
            };
            if token.roles.is_empty() {
                return Err(Error::Config(format!("{place}: roles must not be empty")));
            }
            tokens.push(Entry {
                name: token.name.clone(),
                digest,
                roles: token.roles.clone(),
            });
        }
        let mut certificates = Vec::with_capacity(config.clients.len());
        for (i, client) in config.clients.iter().enumerate() {
            let place = format!("auth.clients[{i}] ({:?})", client.name);
            let digest = crate::tls::parse_fingerprint(&client.cert_sha256).ok_or_else(|| {
                Error::Config(format!("{place}: cert_sha256 must be 64 hex digits"))
            })?;
            if client.roles.is_empty() {
                return Err(Error::Config(format!("{place}: roles must not be empty")));
            }
            certificates.push(Entry {
                name: client.name.clone(),
                digest,
                roles: client.roles.clone(),
            });
        }
        Ok(Credentials {
            tokens,
            certificates,
        })
    }

    /// No tokens and no client certificates: the open development mode.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty() && self.certificates.is_empty()
    }

    /// The caller owning `secret`.
    pub fn authenticate(&self, secret: &str) -> Option<Caller> {
        find(&self.tokens, &Sha256::digest(secret.as_bytes()).into())
    }

    /// The caller a verified client certificate (DER) stands for.
    pub fn authenticate_certificate(&self, der: &[u8]) -> Option<Caller> {
        find(&self.certificates, &Sha256::digest(der).into())
    }
}

/// The role a gRPC method needs; `None` for methods open to everyone (health, reflection).
pub fn required_role(path: &str) -> Option<Role> {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let service = parts.next().unwrap_or_default();
    let method = parts.next().unwrap_or_default();
    match service {
        "grpc.health.v1.Health" | "grpc.reflection.v1.ServerReflection" => None,
        "triage.v1.FeedbackService" => Some(match method {
            "IngestFeedback" | "ImportFeedback" => Role::Ingest,
            _ => Role::Agent,
        }),
        "triage.v1.SatisfactionService" => Some(match method {
            "RecordSurveyResponse" => Role::Ingest,
            _ => Role::Agent,
        }),
        "triage.v1.SearchService" => Some(Role::Agent),
        "triage.v1.ReviewService" => Some(Role::Reviewer),
        // Unknown methods still need a valid token; tonic then answers UNIMPLEMENTED.
        _ => Some(Role::Admin),
    }
}

fn bearer_token<B>(request: &http::Request<B>) -> Option<&str> {
    let value = request.headers().get(http::header::AUTHORIZATION)?;
    let value = value.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The leaf certificate the client presented, already verified against `[tls] client_ca`.
fn client_certificate<B>(request: &http::Request<B>) -> Option<Vec<u8>> {
    let certificates = request
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()?
        .peer_certs()?;
    certificates.first().map(|der| der.to_vec())
}

/// Tower layer that authenticates and authorizes every request.
#[derive(Clone)]
pub struct AuthLayer {
    credentials: Arc<Credentials>,
}

impl AuthLayer {
    pub fn new(credentials: Credentials) -> AuthLayer {
        AuthLayer {
            credentials: Arc::new(credentials),
        }
    }

    fn authenticate<B>(&self, request: &http::Request<B>) -> std::result::Result<Caller, Error> {
        if let Some(token) = bearer_token(request) {
            return self
                .credentials
                .authenticate(token)
                .ok_or_else(|| Error::Unauthenticated("unknown token".into()));
        }
        match client_certificate(request) {
            Some(der) => self
                .credentials
                .authenticate_certificate(&der)
                .ok_or_else(|| {
                    Error::Unauthenticated(format!(
                        "client certificate {} is not listed in [[auth.clients]]",
                        crate::tls::certificate_fingerprint(&der)
                    ))
                }),
            None => Err(Error::Unauthenticated(
                "missing `authorization: Bearer <token>` metadata or a client certificate".into(),
            )),
        }
    }

    fn check<B>(&self, request: &http::Request<B>) -> std::result::Result<Caller, Error> {
        if self.credentials.is_empty() {
            return Ok(Caller::anonymous());
        }
        let Some(required) = required_role(request.uri().path()) else {
            return Ok(Caller::anonymous());
        };
        let caller = self.authenticate(request)?;
        if caller.has_role(required) {
            Ok(caller)
        } else {
            Err(Error::PermissionDenied(format!(
                "{:?} lacks the {required:?} role this method needs",
                caller.name
            )))
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            layer: self.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    layer: AuthLayer,
    inner: S,
}

impl<S, B> Service<http::Request<B>> for AuthService<S>
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

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        match self.layer.check(&request) {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                // The ready service is the one that must be called; leave a fresh clone behind.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                Box::pin(inner.call(request))
            }
            Err(error) => {
                let response = tonic::Status::from(error).into_http();
                Box::pin(async move { Ok(response) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Credentials {
        Credentials::from_config(&AuthConfig {
            tokens: vec![
                TokenConfig {
                    name: "bot".into(),
                    token_sha256: Some(hex::encode(Sha256::digest(b"s3cret"))),
                    token: None,
                    roles: vec![Role::Ingest],
                },
                TokenConfig {
                    name: "boss".into(),
                    token_sha256: None,
                    token: Some("admin-secret".into()),
                    roles: vec![Role::Admin],
                },
            ],
            clients: vec![ClientCertConfig {
                name: "billing".into(),
                cert_sha256: hex::encode(Sha256::digest(b"certificate der")),
                roles: vec![Role::Ingest],
            }],
        })
        .unwrap()
    }

    #[test]
    fn tokens_map_to_callers_and_roles() {
        let table = table();
        let bot = table.authenticate("s3cret").unwrap();
        assert_eq!(bot.name, "bot");
        assert!(bot.has_role(Role::Ingest));
        assert!(!bot.has_role(Role::Agent));
        assert!(
            table
                .authenticate("admin-secret")
                .unwrap()
                .has_role(Role::Reviewer)
        );
        assert!(table.authenticate("wrong").is_none());
        let billing = table.authenticate_certificate(b"certificate der").unwrap();
        assert_eq!(billing.name, "billing");
        assert!(billing.has_role(Role::Ingest) && !billing.has_role(Role::Agent));
        assert!(table.authenticate_certificate(b"another").is_none());
        assert!(table.authenticate("certificate der").is_none());
    }

    #[test]
    fn methods_need_the_documented_roles() {
        assert_eq!(required_role("/grpc.health.v1.Health/Check"), None);
        assert_eq!(
            required_role("/triage.v1.FeedbackService/IngestFeedback"),
            Some(Role::Ingest)
        );
        assert_eq!(
            required_role("/triage.v1.FeedbackService/GetFeedback"),
            Some(Role::Agent)
        );
        assert_eq!(
            required_role("/triage.v1.ReviewService/ClaimReviewItem"),
            Some(Role::Reviewer)
        );
    }

    #[test]
    fn bad_token_config_is_rejected() {
        let config = TokenConfig {
            name: "x".into(),
            token_sha256: Some("abc".into()),
            token: None,
            roles: vec![Role::Agent],
        };
        let auth = AuthConfig {
            tokens: vec![config],
            clients: Vec::new(),
        };
        assert!(Credentials::from_config(&auth).is_err());
        let auth = AuthConfig {
            tokens: Vec::new(),
            clients: vec![ClientCertConfig {
                name: "x".into(),
                cert_sha256: "12:34".into(),
                roles: vec![Role::Agent],
            }],
        };
        let error = Credentials::from_config(&auth).err().unwrap().to_string();
        assert!(error.contains("auth.clients[0]"), "{error}");
    }
}
