//! The gRPC request validation on arbitrary protobuf bytes of every request type: decoding
//! either fails or validation answers Ok or INVALID_ARGUMENT with field violations, never another
//! status and never a panic.

#![no_main]

use chrono::{TimeDelta, Utc};
use libfuzzer_sys::fuzz_target;
use prost::Message;
use triage::api::{convert, review, satisfaction, search};
use triage::config::Limits;
use triage::error::{Error, Result};
use triage::ingest::validate_new_feedback;
use triage::pb;

fn invalid_argument_only<T>(result: Result<T>) {
    match result {
        Ok(_) => {}
        Err(Error::InvalidArgument(violations)) => {
            assert!(!violations.is_empty());
            for violation in violations {
                assert!(!violation.field.is_empty() && !violation.description.is_empty());
            }
        }
        Err(other) => panic!("validation answered {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let limits = Limits::default();
    match which % 6 {
        0 => {
            if let Ok(request) = pb::IngestFeedbackRequest::decode(bytes) {
                invalid_argument_only(
                    convert::new_feedback_from_proto(request.feedback)
                        .and_then(|new| validate_new_feedback(&new, &limits, Utc::now())),
                );
            }
        }
        1 => {
            if let Ok(request) = pb::SearchFeedbackRequest::decode(bytes) {
                invalid_argument_only(search::request_from_proto(request));
            }
        }
        2 => {
            if let Ok(request) = pb::RecordSurveyResponseRequest::decode(bytes) {
                invalid_argument_only(satisfaction::survey_from_proto(request.response, &limits));
            }
        }
        3 => {
            if let Ok(request) = pb::GetSatisfactionReportRequest::decode(bytes) {
                invalid_argument_only(satisfaction::report_request(request));
            }
        }
        4 => {
            if let Ok(request) = pb::ListReviewItemsRequest::decode(bytes) {
                invalid_argument_only(review::list_request(&request));
            }
        }
        _ => {
            if let Ok(request) = pb::ClaimReviewItemRequest::decode(bytes) {
                invalid_argument_only(review::lease_from_proto(
                    request.lease.as_ref(),
                    TimeDelta::minutes(15),
                ));
            }
        }
    }
});
