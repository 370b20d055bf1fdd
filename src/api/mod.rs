//! The gRPC layer: one file per service, conversions in `convert.rs`. Handlers stay thin:
//! convert, call a domain module, map the error.

pub mod convert;
pub mod feedback;
pub mod review;
pub mod satisfaction;
pub mod search;

use crate::auth::Caller;
use crate::error::Result;
use crate::model::Feedback;
use crate::pb;
use crate::store::Store;

/// Feedback as clients read it: with the customer's current satisfaction snapshot.
async fn with_customers(store: &Store, items: Vec<Feedback>) -> Result<Vec<pb::Feedback>> {
    let customers: Vec<String> = items.iter().map(|f| f.customer_id.clone()).collect();
    let snapshots = store.customer_snapshots(&customers).await?;
    Ok(items
        .into_iter()
        .map(|feedback| {
            let snapshot = snapshots.get(&feedback.customer_id).cloned();
            let mut converted = convert::feedback_to_proto(feedback);
            converted.customer = snapshot.map(convert::snapshot_to_proto);
            converted
        })
        .collect())
}

/// One item with its customer snapshot.
async fn with_customer(store: &Store, feedback: Feedback) -> Result<pb::Feedback> {
    Ok(with_customers(store, vec![feedback])
        .await?
        .pop()
        .expect("one item in, one out"))
}

/// The authenticated caller of a request (set by the auth layer).
fn caller<T>(request: &tonic::Request<T>) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(Caller::anonymous)
}
