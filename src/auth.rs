//! Bearer-token authentication and per-RPC roles, as a tower layer in front of every service.
//!
//! Tokens come from config as `[[auth.tokens]]` with a name, the hex SHA-256 of the secret (or the
//! plain secret, for development) and roles. The presented token is hashed and compared with every
//! configured digest in constant time. The authenticated [`Caller`] is put into the request's
//! extensions for handlers (the review queue records who acted). Health checks and reflection stay
//! open.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
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

struct TokenEntry {
    name: String,
    digest: [u8; 32],
    roles: Vec<Role>,
}

/// The configured tokens, ready for lookups.
pub struct TokenTable {
    entries: Vec<TokenEntry>,
}

impl TokenTable {
    pub fn from_config(tokens: &[TokenConfig]) -> Result<TokenTable> {
        let mut entries = Vec::with_capacity(tokens.len());
        for (i, token) in tokens.iter().enumerate() {
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
            entries.push(TokenEntry {
                name: token.name.clone(),
                digest,
                roles: token.roles.clone(),
            });
        }
        Ok(TokenTable { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The caller owning `secret`, checking every entry so timing reveals nothing.
    pub fn authenticate(&self, secret: &str) -> Option<Caller> {
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let mut found = None;
        for entry in &self.entries {
            if bool::from(entry.digest.ct_eq(&digest)) {
                found = Some(Caller {
                    name: entry.name.clone(),
                    roles: entry.roles.clone(),
                });
            }
        }
        found
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

/// Tower layer that authenticates and authorizes every request.
#[derive(Clone)]
pub struct AuthLayer {
    tokens: Arc<TokenTable>,
}

impl AuthLayer {
    pub fn new(tokens: TokenTable) -> AuthLayer {
        AuthLayer {
            tokens: Arc::new(tokens),
        }
    }

    fn check<B>(&self, request: &http::Request<B>) -> std::result::Result<Caller, Error> {
        let required = required_role(request.uri().path());
        if self.tokens.is_empty() {
            return Ok(Caller::anonymous());
        }
        let Some(required) = required else {
            return Ok(Caller::anonymous());
        };
        let token = bearer_token(request).ok_or_else(|| {
            Error::Unauthenticated("missing `authorization: Bearer <token>` metadata".into())
        })?;
        let caller = self
            .tokens
            .authenticate(token)
            .ok_or_else(|| Error::Unauthenticated("unknown token".into()))?;
        if caller.has_role(required) {
            Ok(caller)
        } else {
            Err(Error::PermissionDenied(format!(
                "token {:?} lacks the {required:?} role this method needs",
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

    fn table() -> TokenTable {
        TokenTable::from_config(&[
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
        ])
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
        assert!(TokenTable::from_config(&[config]).is_err());
    }
}
