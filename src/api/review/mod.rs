//! `triage.v1.ReviewService`: the quality team's queues. Validates and converts; the state
//! machine lives in [`crate::review`], the writes in the store's writer.

use std::pin::Pin;

use chrono::{TimeDelta, Utc};
use futures::Stream;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

mod listing;

use self::listing::{decode_page_token, encode_page_token, list_request};
use super::{caller, convert, with_customers};
use crate::auth::Role;
use crate::error::{Error, FieldViolation, Result};
use crate::pb;
use crate::review::{
    self, Decision, MAX_LEASE, MIN_LEASE, Queue, ReviewCommand, ReviewEvent, ReviewItem,
    ReviewState,
};
use crate::store::Store;

const MAX_NOTE_CHARS: usize = 4000;
/// Items read from the store per catch-up step of a watcher.
const CATCH_UP_PAGE: usize = 256;
/// Responses buffered per watcher before it counts as slow.
const WATCH_BUFFER: usize = 64;

pub struct ReviewApi {
    store: Store,
    default_lease: TimeDelta,
    shutting_down: watch::Receiver<bool>,
}

impl ReviewApi {
    /// `shutting_down` turning true ends every watch stream, so a graceful shutdown is not held
    /// up by consoles that never hang up.
    pub fn new(
        store: Store,
        default_lease: TimeDelta,
        shutting_down: watch::Receiver<bool>,
    ) -> ReviewApi {
        ReviewApi {
            store,
            default_lease,
            shutting_down,
        }
    }
}

fn queue_from_proto(value: i32) -> Option<Queue> {
    match pb::Queue::try_from(value).ok()? {
        pb::Queue::Unspecified => None,
        pb::Queue::Suspicious => Some(Queue::Suspicious),
        pb::Queue::Repeated => Some(Queue::Repeated),
    }
}

fn queue_to_proto(queue: Queue) -> pb::Queue {
    match queue {
        Queue::Suspicious => pb::Queue::Suspicious,
        Queue::Repeated => pb::Queue::Repeated,
    }
}

/// A queue field where "unspecified" means every queue.
fn optional_queue(value: i32, violations: &mut Vec<FieldViolation>) -> Option<Queue> {
    let queue = queue_from_proto(value);
    if queue.is_none() && value != pb::Queue::Unspecified as i32 {
        violations.push(FieldViolation::new(
            "queue",
            format!("{value} is not a Queue"),
        ));
    }
    queue
}

fn state_from_proto(value: i32) -> Option<ReviewState> {
    Some(match pb::ReviewState::try_from(value).ok()? {
        pb::ReviewState::Unspecified => return None,
        pb::ReviewState::Open => ReviewState::Open,
        pb::ReviewState::Claimed => ReviewState::Claimed,
        pb::ReviewState::Confirmed => ReviewState::Confirmed,
        pb::ReviewState::Dismissed => ReviewState::Dismissed,
        pb::ReviewState::Escalated => ReviewState::Escalated,
    })
}

fn state_to_proto(state: ReviewState) -> pb::ReviewState {
    match state {
        ReviewState::Open => pb::ReviewState::Open,
        ReviewState::Claimed => pb::ReviewState::Claimed,
        ReviewState::Confirmed => pb::ReviewState::Confirmed,
        ReviewState::Dismissed => pb::ReviewState::Dismissed,
        ReviewState::Escalated => pb::ReviewState::Escalated,
    }
}

fn decision_from_proto(value: i32) -> Option<Decision> {
    match pb::Decision::try_from(value).ok()? {
        pb::Decision::Unspecified => None,
        pb::Decision::Confirmed => Some(Decision::Confirmed),
        pb::Decision::Dismissed => Some(Decision::Dismissed),
        pb::Decision::Escalated => Some(Decision::Escalated),
    }
}

fn priority_from_proto(value: i32) -> Option<u8> {
    u8::try_from(value).ok().filter(|p| (1..=4).contains(p))
}

fn duration_to_proto(delta: TimeDelta) -> prost_types::Duration {
    prost_types::Duration {
        seconds: delta.num_seconds(),
        nanos: delta.subsec_nanos(),
    }
}

fn require_id(id: &str) -> Result<()> {
    if id.trim().is_empty() {
        Err(Error::invalid("id", "is required"))
    } else {
        Ok(())
    }
}

/// Review items as clients see them: with the flagged feedback and its customer snapshot.
async fn items_to_proto(store: &Store, items: Vec<ReviewItem>) -> Result<Vec<pb::ReviewItem>> {
    let ids: Vec<String> = items.iter().map(|i| i.feedback_id.clone()).collect();
    let mut found = store.get_feedback_many(&ids).await?;
    let feedback: Vec<_> = ids.iter().filter_map(|id| found.remove(id)).collect();
    let mut converted = with_customers(store, feedback).await?;
    Ok(items
        .into_iter()
        .map(|item| {
            let position = converted.iter().position(|f| f.id == item.feedback_id);
            let feedback = position.map(|p| converted.swap_remove(p));
            item_to_proto(item, feedback)
        })
        .collect())
}

fn item_to_proto(item: ReviewItem, feedback: Option<pb::Feedback>) -> pb::ReviewItem {
    pb::ReviewItem {
        etag: item.etag(),
        id: item.id,
        queue: queue_to_proto(item.queue) as i32,
        feedback,
        flags: item.flags.into_iter().map(convert::flag_to_proto).collect(),
        priority: i32::from(item.priority),
        state: state_to_proto(item.state) as i32,
        assignee: item.assignee,
        lease_expires_at: item.lease_expires_at.map(convert::timestamp_to_proto),
        created_at: Some(convert::timestamp_to_proto(item.created_at)),
        updated_at: Some(convert::timestamp_to_proto(item.updated_at)),
        decision_note: item.decision_note,
    }
}

async fn item_to_response(store: &Store, item: ReviewItem) -> Result<pb::ReviewItem> {
    Ok(items_to_proto(store, vec![item])
        .await?
        .pop()
        .expect("one item in, one out"))
}

fn event_to_proto(event: ReviewEvent) -> pb::ReviewItemEvent {
    pb::ReviewItemEvent {
        id: event.id,
        review_item_id: event.review_item_id,
        actor: event.actor,
        time: Some(convert::timestamp_to_proto(event.time)),
        from_state: event
            .from_state
            .map_or(pb::ReviewState::Unspecified, state_to_proto) as i32,
        to_state: state_to_proto(event.to_state) as i32,
        note: event.note,
    }
}

/// The requested lease, or `default`; refuses leases outside 1 s..24 h.
pub fn lease_from_proto(
    lease: Option<&prost_types::Duration>,
    default: TimeDelta,
) -> Result<TimeDelta> {
    let Some(lease) = lease else {
        return Ok(default);
    };
    let delta = TimeDelta::new(lease.seconds, lease.nanos.max(0) as u32)
        .filter(|d| (MIN_LEASE..=MAX_LEASE).contains(d));
    delta.ok_or_else(|| {
        Error::invalid(
            "lease",
            format!(
                "must be between {} second(s) and {} hours",
                MIN_LEASE.num_seconds(),
                MAX_LEASE.num_hours()
            ),
        )
    })
}

/// Completes once `shutting_down` turns true (or its sender is gone).
pub(crate) async fn stopped(shutting_down: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here.
    let _ = shutting_down
        .wait_for(|stopping| *stopping)
        .await
        .map(|_| ());
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchReviewItemsResponse, Status>> + Send>>;

/// Feeds one watcher: the changes after `after` from the store, then live ones; when it falls
/// behind the live buffer it is told (`lagged`) and catches up from the store again.
async fn feed_watcher(
    store: Store,
    queue: Option<Queue>,
    mut after: i64,
    mut live: broadcast::Receiver<std::sync::Arc<ReviewItem>>,
    out: mpsc::Sender<Result<pb::WatchReviewItemsResponse, Status>>,
    mut shutting_down: watch::Receiver<bool>,
) {
    let send = |item: ReviewItem, out: &mpsc::Sender<_>| {
        let store = store.clone();
        let out = out.clone();
        async move {
            let sequence = item.sequence;
            let response = item_to_response(&store, item)
                .await
                .map(|item| pb::WatchReviewItemsResponse {
                    item: Some(item),
                    sequence,
                    lagged: false,
                })
                .map_err(Status::from);
            out.send(response).await.is_ok()
        }
    };
    let mut catch_up = after > 0;
    loop {
        if catch_up {
            loop {
                let page = match store
                    .review_changes_since(queue, after, CATCH_UP_PAGE)
                    .await
                {
                    Ok(page) => page,
                    Err(error) => {
                        let _ = out.send(Err(error.into())).await;
                        return;
                    }
                };
                if page.is_empty() {
                    break;
                }
                for item in page {
                    after = item.sequence;
                    if !send(item, &out).await {
                        return;
                    }
                }
            }
            catch_up = false;
        }
        let change = tokio::select! {
            change = live.recv() => change,
            _ = stopped(&mut shutting_down) => {
                let _ = out.send(Err(Status::unavailable("the server is shutting down; resume with after_sequence"))).await;
                return;
            }
        };
        match change {
            Ok(item) => {
                if item.sequence <= after || queue.is_some_and(|q| q != item.queue) {
                    continue;
                }
                after = item.sequence;
                if !send((*item).clone(), &out).await {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                let notice = pb::WatchReviewItemsResponse {
                    item: None,
                    sequence: after,
                    lagged: true,
                };
                if out.send(Ok(notice)).await.is_err() {
                    return;
                }
                catch_up = true;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

#[tonic::async_trait]
impl pb::review_service_server::ReviewService for ReviewApi {
    async fn list_review_items(
        &self,
        request: Request<pb::ListReviewItemsRequest>,
    ) -> Result<Response<pb::ListReviewItemsResponse>, Status> {
        let request = request.into_inner();
        let (filter, page_size) = list_request(&request)?;
        let cursor = decode_page_token(&request.page_token, &filter)?;
        // One more than a page tells whether another page exists.
        let mut items = self
            .store
            .list_review_items(&filter, cursor.as_ref(), page_size + 1)
            .await?;
        let next_page_token = if items.len() > page_size {
            items.truncate(page_size);
            items
                .last()
                .map(|last| encode_page_token(last, &filter))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListReviewItemsResponse {
            items: items_to_proto(&self.store, items).await?,
            next_page_token,
        }))
    }

    async fn get_review_item(
        &self,
        request: Request<pb::GetReviewItemRequest>,
    ) -> Result<Response<pb::ReviewItem>, Status> {
        let id = request.into_inner().id;
        require_id(&id)?;
        let item = self
            .store
            .review_item(&id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no review item with id {id:?}")))?;
        Ok(Response::new(item_to_response(&self.store, item).await?))
    }

    async fn claim_review_item(
        &self,
        request: Request<pb::ClaimReviewItemRequest>,
    ) -> Result<Response<pb::ReviewItem>, Status> {
        let caller = caller(&request);
        let request = request.into_inner();
        require_id(&request.id)?;
        let lease = lease_from_proto(request.lease.as_ref(), self.default_lease)?;
        let item = self
            .store
            .change_review_item(
                &request.id,
                ReviewCommand::Claim { lease },
                &caller.name,
                caller.has_role(Role::Admin),
            )
            .await?;
        Ok(Response::new(item_to_response(&self.store, item).await?))
    }

    async fn release_review_item(
        &self,
        request: Request<pb::ReleaseReviewItemRequest>,
    ) -> Result<Response<pb::ReviewItem>, Status> {
        let caller = caller(&request);
        let id = request.into_inner().id;
        require_id(&id)?;
        let item = self
            .store
            .change_review_item(
                &id,
                ReviewCommand::Release,
                &caller.name,
                caller.has_role(Role::Admin),
            )
            .await?;
        Ok(Response::new(item_to_response(&self.store, item).await?))
    }

    async fn resolve_review_item(
        &self,
        request: Request<pb::ResolveReviewItemRequest>,
    ) -> Result<Response<pb::ReviewItem>, Status> {
        let caller = caller(&request);
        let request = request.into_inner();
        let decision = decision_from_proto(request.decision);
        let mut violations = Vec::new();
        if request.id.trim().is_empty() {
            violations.push(FieldViolation::new("id", "is required"));
        }
        if let Err(Error::InvalidArgument(more)) = review::validate_resolution(
            &request.etag,
            decision,
            &request.note,
            request.reopen,
            MAX_NOTE_CHARS,
        ) {
            violations.extend(more);
        }
        if !violations.is_empty() {
            return Err(Error::InvalidArgument(violations).into());
        }
        let command = match decision {
            _ if request.reopen => ReviewCommand::Reopen {
                etag: request.etag,
                note: request.note,
            },
            Some(decision) => ReviewCommand::Resolve {
                etag: request.etag,
                decision,
                note: request.note,
            },
            None => unreachable!("validate_resolution requires a decision"),
        };
        let item = self
            .store
            .change_review_item(
                &request.id,
                command,
                &caller.name,
                caller.has_role(Role::Admin),
            )
            .await?;
        Ok(Response::new(item_to_response(&self.store, item).await?))
    }

    async fn list_review_item_events(
        &self,
        request: Request<pb::ListReviewItemEventsRequest>,
    ) -> Result<Response<pb::ListReviewItemEventsResponse>, Status> {
        let id = request.into_inner().id;
        require_id(&id)?;
        if self.store.review_item(&id).await?.is_none() {
            return Err(Error::NotFound(format!("no review item with id {id:?}")).into());
        }
        let events = self.store.review_events(&id).await?;
        Ok(Response::new(pb::ListReviewItemEventsResponse {
            events: events.into_iter().map(event_to_proto).collect(),
        }))
    }

    type WatchReviewItemsStream = WatchStream;

    async fn watch_review_items(
        &self,
        request: Request<pb::WatchReviewItemsRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let request = request.into_inner();
        let mut violations = Vec::new();
        let queue = optional_queue(request.queue, &mut violations);
        if request.after_sequence < 0 {
            violations.push(FieldViolation::new(
                "after_sequence",
                "must not be negative",
            ));
        }
        if !violations.is_empty() {
            return Err(Error::InvalidArgument(violations).into());
        }
        // Subscribe before reading the backlog, so nothing falls between the two.
        let live = self.store.subscribe_review_changes();
        let (out, stream) = mpsc::channel(WATCH_BUFFER);
        tokio::spawn(feed_watcher(
            self.store.clone(),
            queue,
            request.after_sequence,
            live,
            out,
            self.shutting_down.clone(),
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(stream))))
    }

    async fn get_queue_stats(
        &self,
        request: Request<pb::GetQueueStatsRequest>,
    ) -> Result<Response<pb::QueueStats>, Status> {
        let value = request.into_inner().queue;
        let queue = queue_from_proto(value)
            .ok_or_else(|| Error::invalid("queue", "must be QUEUE_SUSPICIOUS or QUEUE_REPEATED"))?;
        let facts = self.store.queue_facts(queue).await?;
        let now = Utc::now();
        Ok(Response::new(pb::QueueStats {
            queue: queue_to_proto(queue) as i32,
            state_counts: ReviewState::ALL
                .into_iter()
                .map(|state| pb::StateCount {
                    state: state_to_proto(state) as i32,
                    count: facts
                        .state_counts
                        .iter()
                        .find(|(s, _)| *s == state)
                        .map_or(0, |(_, n)| *n),
                })
                .collect(),
            oldest_open_age: facts
                .oldest_open
                .map(|created| duration_to_proto((now - created).max(TimeDelta::zero()))),
            median_time_to_first_claim: review::median(facts.first_claim_delays)
                .map(duration_to_proto),
            decision_rates: facts
                .decisions
                .into_iter()
                .map(|(kind, counts)| {
                    let decided = counts.confirmed + counts.dismissed + counts.escalated;
                    pb::FlagKindDecisionRate {
                        flag_kind: convert::flag_kind_to_proto(kind) as i32,
                        decided,
                        confirmed: counts.confirmed,
                        dismissed: counts.dismissed,
                        escalated: counts.escalated,
                        confirm_rate: if decided == 0 {
                            0.0
                        } else {
                            counts.confirmed as f64 / decided as f64
                        },
                    }
                })
                .collect(),
        }))
    }
}
