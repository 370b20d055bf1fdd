//! Client-side commands of the `triage` binary (`import`, `search`, `report`, `review`): they talk to a running
//! server over gRPC.

pub mod import;
pub mod report;
pub mod review;
pub mod search;

use std::path::PathBuf;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::{Channel, Endpoint};

use crate::error::{Error, Result};

/// How to reach the server.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionArgs {
    /// Server address.
    #[arg(long, env = "TRIAGE_SERVER", default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// Bearer token (not needed when the server runs without tokens on loopback).
    #[arg(long, env = "TRIAGE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// PEM CA certificate to trust for an `https://` server [default: the system's roots].
    #[arg(long, env = "TRIAGE_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate to present (mTLS); needs --client-key.
    #[arg(long, env = "TRIAGE_CLIENT_CERT")]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of --client-cert.
    #[arg(long, env = "TRIAGE_CLIENT_KEY")]
    pub client_key: Option<PathBuf>,
}

impl ConnectionArgs {
    /// A connection to `server` with an optional token and no TLS files.
    pub fn new(server: impl Into<String>, token: Option<String>) -> ConnectionArgs {
        ConnectionArgs {
            server: server.into(),
            token,
            ca_cert: None,
            client_cert: None,
            client_key: None,
        }
    }
}

/// Adds `authorization: Bearer <token>` to every call when a token is given.
#[derive(Clone)]
pub struct BearerToken(Option<MetadataValue<Ascii>>);

impl Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Connects to the server named in `args`.
pub async fn connect(args: &ConnectionArgs) -> Result<(Channel, BearerToken)> {
    let token = match &args.token {
        Some(token) => Some(format!("Bearer {token}").parse().map_err(|_| {
            Error::Config("the token contains characters not allowed in a header".into())
        })?),
        None => None,
    };
    let mut endpoint = Endpoint::from_shared(args.server.clone())
        .map_err(|e| Error::Config(format!("--server {:?}: {e}", args.server)))?;
    if args.server.starts_with("https://") {
        let tls = crate::tls::client_config(
            args.ca_cert.as_deref(),
            args.client_cert.as_deref(),
            args.client_key.as_deref(),
        )?;
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| Error::Config(format!("TLS: {e}")))?;
    } else if args.ca_cert.is_some() || args.client_cert.is_some() {
        return Err(Error::Config(
            "--ca-cert and --client-cert need an https:// --server".into(),
        ));
    }
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| Error::Client(format!("cannot connect to {}: {e}", args.server)))?;
    Ok((channel, BearerToken(token)))
}
