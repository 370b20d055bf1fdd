//! The crate's one error type and its single mapping to `tonic::Status`.

use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// One invalid field of a request, reported to the client as a `google.rpc.BadRequest` violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field in the request, such as `feedback.text`.
    pub field: String,
    /// What is wrong with it, in a sentence a client author can act on.
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request: {}", describe_violations(.0))]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    FailedPrecondition(String),
    /// A concurrent change won: the client's etag is stale.
    #[error("{0}")]
    Aborted(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("the server is shutting down")]
    ShuttingDown,
    /// Overloaded: the client should come back after `retry_after`.
    #[error("overloaded: {message}; retry in {} ms", .retry_after.as_millis())]
    ResourceExhausted {
        message: String,
        retry_after: std::time::Duration,
    },
    #[error("configuration: {0}")]
    Config(String),
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
    #[error("storage migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Client(String),
    #[error("search index: {0}")]
    Index(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn describe_violations(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// A single-field `InvalidArgument`.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Error::InvalidArgument(vec![FieldViolation::new(field, description)])
    }
}

impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(violations) => {
                let mut details = ErrorDetails::new();
                for v in &violations {
                    details.add_bad_request_violation(v.field.clone(), v.description.clone());
                }
                tonic::Status::with_error_details(
                    Code::InvalidArgument,
                    format!("invalid request: {}", describe_violations(&violations)),
                    details,
                )
            }
            Error::NotFound(message) => tonic::Status::not_found(message),
            Error::FailedPrecondition(message) => tonic::Status::failed_precondition(message),
            Error::Aborted(message) => tonic::Status::aborted(message),
            Error::Unauthenticated(message) => tonic::Status::unauthenticated(message),
            Error::PermissionDenied(message) => tonic::Status::permission_denied(message),
            Error::ShuttingDown => tonic::Status::unavailable("the server is shutting down"),
            Error::ResourceExhausted {
                message,
                retry_after,
            } => tonic::Status::with_error_details(
                Code::ResourceExhausted,
                format!(
                    "overloaded: {message}; retry in {} ms",
                    retry_after.as_millis()
                ),
                ErrorDetails::with_retry_info(Some(retry_after)),
            ),
            other => {
                tracing::error!(error = %other, "internal error");
                tonic::Status::internal("internal error; see the server log")
            }
        }
    }
}

/// The `google.rpc.Status` for an error, as carried inside streamed results.
pub fn to_rpc_status(error: Error) -> tonic_types::pb::Status {
    use prost::Message;
    let status = tonic::Status::from(error);
    // `with_error_details` encodes the full google.rpc.Status (code, message, details) into the
    // status details; fall back to code and message when there are none.
    tonic_types::pb::Status::decode(status.details())
        .ok()
        .filter(|decoded| decoded.code == status.code() as i32)
        .unwrap_or_else(|| tonic_types::pb::Status {
            code: status.code() as i32,
            message: status.message().to_string(),
            details: Vec::new(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_field_violations() {
        let status = tonic::Status::from(Error::invalid("feedback.text", "must not be blank"));
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad_request = details.bad_request().expect("bad request detail");
        assert_eq!(bad_request.field_violations[0].field, "feedback.text");
    }

    #[test]
    fn overload_says_when_to_retry() {
        let status = tonic::Status::from(Error::ResourceExhausted {
            message: "the concurrent requests limit".into(),
            retry_after: std::time::Duration::from_millis(200),
        });
        assert_eq!(status.code(), Code::ResourceExhausted);
        let retry = status
            .get_error_details()
            .retry_info()
            .cloned()
            .expect("retry info");
        assert_eq!(
            retry.retry_delay,
            Some(std::time::Duration::from_millis(200))
        );
    }

    #[test]
    fn rpc_status_keeps_code_and_details() {
        let rpc = to_rpc_status(Error::invalid("feedback.customer_id", "is required"));
        assert_eq!(rpc.code, Code::InvalidArgument as i32);
        assert_eq!(rpc.details.len(), 1);
        let rpc = to_rpc_status(Error::NotFound("no such item".into()));
        assert_eq!(rpc.code, Code::NotFound as i32);
        assert_eq!(rpc.message, "no such item");
    }
}
