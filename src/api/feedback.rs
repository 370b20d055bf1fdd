//! `triage.v1.FeedbackService`: validate, convert, call the ingest pipeline, map errors.

use std::pin::Pin;
use std::sync::Arc;

use futures::stream::{FuturesOrdered, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{caller, convert, with_customer};
use crate::error::{Error, Result, to_rpc_status};
use crate::ingest::Ingestor;
use crate::pb;
use crate::store::{Store, Stored};

/// How many items of one import stream may be in the pipeline at once. Enough to fill the
/// writer's group commits (256 left them at about 120 items, and a 10k import into a small store
/// ran 25% faster with 1,024); bounded so a fast client cannot make the server buffer its whole
/// file.
const IMPORT_IN_FLIGHT: usize = 1024;

pub struct FeedbackApi {
    ingestor: Arc<Ingestor>,
    store: Store,
}

impl FeedbackApi {
    pub fn new(ingestor: Arc<Ingestor>, store: Store) -> FeedbackApi {
        FeedbackApi { ingestor, store }
    }
}

/// The answer to an ingest. It carries no customer snapshot: a writer does not need one, and
/// looking it up for every item of a bulk import would halve its throughput.
fn stored_to_proto(stored: Stored) -> pb::IngestFeedbackResponse {
    pb::IngestFeedbackResponse {
        feedback: Some(convert::feedback_to_proto(stored.feedback)),
        already_existed: stored.already_existed,
    }
}

async fn ingest_one(
    ingestor: &Ingestor,
    request: pb::IngestFeedbackRequest,
) -> Result<pb::IngestFeedbackResponse> {
    let new = convert::new_feedback_from_proto(request.feedback)?;
    Ok(stored_to_proto(ingestor.ingest(new).await?))
}

type ImportStream = Pin<Box<dyn Stream<Item = Result<pb::ImportFeedbackResult, Status>> + Send>>;

#[tonic::async_trait]
impl pb::feedback_service_server::FeedbackService for FeedbackApi {
    async fn ingest_feedback(
        &self,
        request: Request<pb::IngestFeedbackRequest>,
    ) -> Result<Response<pb::IngestFeedbackResponse>, Status> {
        let response = ingest_one(&self.ingestor, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    type ImportFeedbackStream = ImportStream;

    async fn import_feedback(
        &self,
        request: Request<Streaming<pb::IngestFeedbackRequest>>,
    ) -> Result<Response<Self::ImportFeedbackStream>, Status> {
        let mut inbound = request.into_inner();
        let (results, outbound) = mpsc::channel(IMPORT_IN_FLIGHT);
        let ingestor = Arc::clone(&self.ingestor);
        tokio::spawn(async move {
            let mut pending = FuturesOrdered::new();
            let mut next_index: i64 = 0;
            let mut inbound_open = true;
            loop {
                tokio::select! {
                    biased;
                    Some((index, outcome)) = pending.next(), if !pending.is_empty() => {
                        let result = match outcome {
                            Ok(response) => {
                                let response: pb::IngestFeedbackResponse = response;
                                pb::ImportFeedbackResult {
                                    index,
                                    feedback: response.feedback,
                                    already_existed: response.already_existed,
                                    error: None,
                                }
                            }
                            Err(error) => pb::ImportFeedbackResult {
                                index,
                                feedback: None,
                                already_existed: false,
                                error: Some(to_rpc_status(error)),
                            },
                        };
                        if results.send(Ok(result)).await.is_err() {
                            return;
                        }
                    }
                    message = inbound.next(), if inbound_open && pending.len() < IMPORT_IN_FLIGHT => {
                        match message {
                            Some(Ok(item)) => {
                                let index = next_index;
                                next_index += 1;
                                let ingestor = Arc::clone(&ingestor);
                                // Each item's CPU work (validation, language detection, analysis)
                                // runs on its own task so a single stream uses every core.
                                let task = tokio::spawn(async move { ingest_one(&ingestor, item).await });
                                pending.push_back(async move {
                                    let outcome = task.await.unwrap_or_else(|join_error| {
                                        Err(Error::Corrupt(format!("ingest task failed: {join_error}")))
                                    });
                                    (index, outcome)
                                });
                            }
                            Some(Err(status)) => {
                                tracing::debug!(%status, "import stream broke off");
                                inbound_open = false;
                            }
                            None => inbound_open = false,
                        }
                    }
                    else => break,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(outbound))))
    }

    async fn get_feedback(
        &self,
        request: Request<pb::GetFeedbackRequest>,
    ) -> Result<Response<pb::Feedback>, Status> {
        let id = request.into_inner().id;
        if id.trim().is_empty() {
            return Err(Error::invalid("id", "is required").into());
        }
        let feedback = self
            .store
            .get_feedback(&id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no feedback with id {id:?}")))?;
        Ok(Response::new(with_customer(&self.store, feedback).await?))
    }

    async fn resolve_feedback(
        &self,
        request: Request<pb::ResolveFeedbackRequest>,
    ) -> Result<Response<pb::Feedback>, Status> {
        let caller = caller(&request);
        let request = request.into_inner();
        let resolved_by = if request.resolved_by.trim().is_empty() {
            caller.name
        } else {
            request.resolved_by
        };
        let feedback = self
            .ingestor
            .resolve(&request.id, &request.resolution, &resolved_by)
            .await?;
        Ok(Response::new(with_customer(&self.store, feedback).await?))
    }
}
