//! Listing review items: validating a list request's filter and page size, and the opaque page
//! tokens that carry where the next page starts and which filter they belong to.

use std::hash::{Hash, Hasher};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use serde::{Deserialize, Serialize};

use super::{optional_queue, priority_from_proto, state_from_proto};
use crate::api::convert;
use crate::error::{Error, FieldViolation, Result};
use crate::pb;
use crate::review::ReviewItem;
use crate::store::{ReviewCursor, ReviewFilter};

const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 200;

/// What a page token remembers: where the next page starts and which filter it belongs to.
#[derive(Serialize, Deserialize)]
struct PageToken {
    priority: u8,
    created_at: i64,
    id: String,
    filter: u64,
}

fn filter_hash(filter: &ReviewFilter) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    filter.hash(&mut hasher);
    hasher.finish()
}

pub(super) fn decode_page_token(
    token: &str,
    filter: &ReviewFilter,
) -> Result<Option<ReviewCursor>> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || Error::invalid("page_token", "is not a token from a previous response");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let token: PageToken = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if token.filter != filter_hash(filter) {
        return Err(Error::invalid(
            "page_token",
            "belongs to a listing with different filters",
        ));
    }
    Ok(Some(ReviewCursor {
        priority: token.priority,
        created_at: DateTime::from_timestamp_micros(token.created_at).ok_or_else(invalid)?,
        id: token.id,
    }))
}

pub(super) fn encode_page_token(item: &ReviewItem, filter: &ReviewFilter) -> String {
    let token = PageToken {
        priority: item.priority,
        created_at: item.created_at.timestamp_micros(),
        id: item.id.clone(),
        filter: filter_hash(filter),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).expect("a page token serializes"))
}

/// Validates a list request: its filter and page size.
pub fn list_request(request: &pb::ListReviewItemsRequest) -> Result<(ReviewFilter, usize)> {
    let mut violations = Vec::new();
    let queue = optional_queue(request.queue, &mut violations);
    let filter = ReviewFilter {
        queue,
        states: convert::convert_list(
            &request.states,
            "states",
            "ReviewState",
            &mut violations,
            state_from_proto,
        ),
        flag_kinds: convert::convert_list(
            &request.flag_kinds,
            "flag_kinds",
            "FlagKind",
            &mut violations,
            convert::flag_kind_from_proto,
        ),
        assignee: request.assignee.clone(),
        priorities: convert::convert_list(
            &request.priorities,
            "priorities",
            "Priority",
            &mut violations,
            priority_from_proto,
        ),
    };
    let page_size = match request.page_size {
        0 => DEFAULT_PAGE_SIZE,
        n if n < 0 => {
            violations.push(FieldViolation::new("page_size", "must not be negative"));
            DEFAULT_PAGE_SIZE
        }
        n => (n as usize).min(MAX_PAGE_SIZE),
    };
    if violations.is_empty() {
        Ok((filter, page_size))
    } else {
        Err(Error::InvalidArgument(violations))
    }
}
