//! Client-side commands of the `triage` binary (`import`, `search`, `report`, `review`): they talk to a running
//! server over gRPC.

pub mod import;
pub mod report;
pub mod review;
pub mod search;

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
    let channel = Endpoint::from_shared(args.server.clone())
        .map_err(|e| Error::Config(format!("--server {:?}: {e}", args.server)))?
        .connect()
        .await
        .map_err(|e| Error::Client(format!("cannot connect to {}: {e}", args.server)))?;
    Ok((channel, BearerToken(token)))
}
