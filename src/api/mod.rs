//! The gRPC layer: one file per service, conversions in `convert.rs`. Handlers stay thin:
//! convert, call a domain module, map the error.

pub mod convert;
pub mod feedback;
pub mod search;

use crate::auth::Caller;

/// The authenticated caller of a request (set by the auth layer).
fn caller<T>(request: &tonic::Request<T>) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(Caller::anonymous)
}
