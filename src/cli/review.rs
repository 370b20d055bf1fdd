//! `triage review list|claim|resolve|events`: a reviewer working a queue in a terminal.

use crate::error::{Error, Result};
use crate::pb;
use crate::pb::review_service_client::ReviewServiceClient;

#[derive(Debug, Clone, clap::Args)]
pub struct ReviewArgs {
    #[command(subcommand)]
    pub action: ReviewAction,
    #[command(flatten)]
    pub connection: super::ConnectionArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueueArg {
    Suspicious,
    Repeated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DecisionArg {
    Confirmed,
    Dismissed,
    Escalated,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ReviewAction {
    /// Items of a queue in work order (highest priority first, then oldest).
    List {
        #[arg(value_enum, default_value = "suspicious")]
        queue: QueueArg,
        /// Include claimed and resolved items, not only open ones.
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 20)]
        limit: i32,
    },
    /// Claim an item for yourself (default lease: the server's, 15 minutes).
    Claim {
        id: String,
        /// Lease in minutes.
        #[arg(long)]
        minutes: Option<i64>,
    },
    /// Record your decision on an item you claimed.
    Resolve {
        id: String,
        #[arg(value_enum)]
        decision: DecisionArg,
        /// Why (required to dismiss or escalate).
        #[arg(long, default_value = "")]
        note: String,
        /// The etag of the item as you read it (from `list` or `claim`); without it the
        /// current one is used.
        #[arg(long)]
        etag: Option<String>,
    },
    /// Give a claimed item back to the queue.
    Release { id: String },
    /// The audit trail of an item.
    Events { id: String },
}

fn state_name(state: i32) -> &'static str {
    pb::ReviewState::try_from(state)
        .map(|s| s.as_str_name().trim_start_matches("REVIEW_STATE_"))
        .unwrap_or("?")
}

fn flag_names(flags: &[pb::Flag]) -> String {
    flags
        .iter()
        .map(|f| {
            pb::FlagKind::try_from(f.kind)
                .map(|k| {
                    k.as_str_name()
                        .trim_start_matches("FLAG_KIND_")
                        .to_lowercase()
                })
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One item as a block of lines.
pub fn render_item(item: &pb::ReviewItem) -> String {
    let text = item
        .feedback
        .as_ref()
        .map(|f| f.text.replace('\n', " "))
        .unwrap_or_default();
    let short: String = text.chars().take(160).collect();
    let mut out = format!(
        "{}  P{}  {}  [{}]",
        item.id,
        item.priority,
        state_name(item.state),
        flag_names(&item.flags)
    );
    if !item.assignee.is_empty() {
        out.push_str(&format!("  claimed by {}", item.assignee));
    }
    out.push_str(&format!("  etag {}\n  {short}\n", item.etag));
    for flag in &item.flags {
        out.push_str(&format!("  - {}\n", flag.reason));
    }
    out
}

fn client_error(call: &str) -> impl Fn(tonic::Status) -> Error + '_ {
    move |status| {
        Error::Client(format!(
            "{call}: {} ({:?})",
            status.message(),
            status.code()
        ))
    }
}

pub async fn run(args: &ReviewArgs) -> Result<String> {
    let (channel, token) = super::connect(&args.connection).await?;
    let mut client = ReviewServiceClient::with_interceptor(channel, token);
    match &args.action {
        ReviewAction::List { queue, all, limit } => {
            let queue = match queue {
                QueueArg::Suspicious => pb::Queue::Suspicious,
                QueueArg::Repeated => pb::Queue::Repeated,
            };
            let states = if *all {
                Vec::new()
            } else {
                vec![pb::ReviewState::Open as i32]
            };
            let response = client
                .list_review_items(pb::ListReviewItemsRequest {
                    queue: queue as i32,
                    states,
                    page_size: *limit,
                    ..Default::default()
                })
                .await
                .map_err(client_error("ListReviewItems"))?
                .into_inner();
            if response.items.is_empty() {
                return Ok("no items\n".into());
            }
            Ok(response
                .items
                .iter()
                .map(render_item)
                .collect::<Vec<_>>()
                .join("\n"))
        }
        ReviewAction::Claim { id, minutes } => {
            let item = client
                .claim_review_item(pb::ClaimReviewItemRequest {
                    id: id.clone(),
                    lease: minutes.map(|m| prost_types::Duration {
                        seconds: m * 60,
                        nanos: 0,
                    }),
                })
                .await
                .map_err(client_error("ClaimReviewItem"))?
                .into_inner();
            Ok(render_item(&item))
        }
        ReviewAction::Resolve {
            id,
            decision,
            note,
            etag,
        } => {
            let etag = match etag {
                Some(etag) => etag.clone(),
                None => {
                    client
                        .get_review_item(pb::GetReviewItemRequest { id: id.clone() })
                        .await
                        .map_err(client_error("GetReviewItem"))?
                        .into_inner()
                        .etag
                }
            };
            let decision = match decision {
                DecisionArg::Confirmed => pb::Decision::Confirmed,
                DecisionArg::Dismissed => pb::Decision::Dismissed,
                DecisionArg::Escalated => pb::Decision::Escalated,
            };
            let item = client
                .resolve_review_item(pb::ResolveReviewItemRequest {
                    id: id.clone(),
                    etag,
                    decision: decision as i32,
                    note: note.clone(),
                    reopen: false,
                })
                .await
                .map_err(client_error("ResolveReviewItem"))?
                .into_inner();
            Ok(render_item(&item))
        }
        ReviewAction::Release { id } => {
            let item = client
                .release_review_item(pb::ReleaseReviewItemRequest { id: id.clone() })
                .await
                .map_err(client_error("ReleaseReviewItem"))?
                .into_inner();
            Ok(render_item(&item))
        }
        ReviewAction::Events { id } => {
            let events = client
                .list_review_item_events(pb::ListReviewItemEventsRequest { id: id.clone() })
                .await
                .map_err(client_error("ListReviewItemEvents"))?
                .into_inner()
                .events;
            Ok(events
                .iter()
                .map(|e| {
                    let time = e
                        .time
                        .as_ref()
                        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32))
                        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
                    format!(
                        "{time}  {:<10} {} → {}  {}\n",
                        e.actor,
                        state_name(e.from_state),
                        state_name(e.to_state),
                        e.note
                    )
                })
                .collect())
        }
    }
}
