//! The soak scenario: a mix of ingest, search and review work, first as fast as the server takes
//! it (to measure capacity), then at a fixed share of that capacity for many minutes, printing
//! per minute the p99 latency of each kind of work, the errors, and the server's RSS.
//!
//! The load is open-loop (requests start on a clock, not when the previous answer arrives), so a
//! server that slows down shows it as latency and as work still in flight rather than hiding it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::Semaphore;
use tonic::transport::Channel;

use triage::api::convert::new_feedback_to_proto;
use triage::cli::BearerToken;
use triage::pb;
use triage::pb::feedback_service_client::FeedbackServiceClient;
use triage::pb::review_service_client::ReviewServiceClient;
use triage::pb::search_service_client::SearchServiceClient;

use super::{percentile, query_mix};

/// Out of every 20 operations: 12 ingests, 7 searches, 1 review (list, claim, resolve).
const MIX: [Work; 20] = {
    use Work::{Ingest as I, Review as R, Search as S};
    [I, S, I, S, I, I, S, I, S, I, R, I, S, I, S, I, I, S, I, I]
};
/// Requests in flight beyond which the client stops starting new ones and counts them as
/// skipped: the open loop must not queue without bound when the server falls behind.
const MAX_IN_FLIGHT: usize = 1024;
/// How long the capacity probe runs, and with how many closed-loop workers.
const PROBE: Duration = Duration::from_secs(20);
const PROBE_WORKERS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Work {
    Ingest,
    Search,
    Review,
}

/// What happened in one minute of the soak.
#[derive(Default)]
struct Minute {
    latencies: BTreeMap<Work, Vec<Duration>>,
    errors: BTreeMap<String, u64>,
    /// Claims lost to another reviewer: expected under concurrency, not an error.
    conflicts: u64,
    skipped: u64,
}

type Feedback =
    FeedbackServiceClient<tonic::service::interceptor::InterceptedService<Channel, BearerToken>>;
type Search =
    SearchServiceClient<tonic::service::interceptor::InterceptedService<Channel, BearerToken>>;
type Review =
    ReviewServiceClient<tonic::service::interceptor::InterceptedService<Channel, BearerToken>>;

#[derive(Clone)]
struct Clients {
    feedback: Feedback,
    search: Search,
    review: Review,
    corpus: super::Corpus,
}

/// The outcome of one operation.
enum Outcome {
    Done(Duration),
    Conflict,
    Failed(tonic::Code),
}

impl Clients {
    async fn run(mut self, work: Work, number: u64) -> Outcome {
        let started = Instant::now();
        let result = match work {
            Work::Ingest => {
                let feedback = self.corpus.lock().expect("corpus lock").feedback(number);
                self.feedback
                    .ingest_feedback(pb::IngestFeedbackRequest {
                        feedback: Some(new_feedback_to_proto(feedback)),
                    })
                    .await
                    .map(drop)
            }
            Work::Search => self
                .search
                .search_feedback(query_mix(number))
                .await
                .map(drop),
            Work::Review => self.review_one(number).await,
        };
        match result {
            Ok(()) => Outcome::Done(started.elapsed()),
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::FailedPrecondition | tonic::Code::Aborted
                ) =>
            {
                Outcome::Conflict
            }
            Err(status) => Outcome::Failed(status.code()),
        }
    }

    /// Lists open suspicious items, claims one of them and dismisses it.
    async fn review_one(&mut self, number: u64) -> Result<(), tonic::Status> {
        let open = self
            .review
            .list_review_items(pb::ListReviewItemsRequest {
                queue: pb::Queue::Suspicious as i32,
                states: vec![pb::ReviewState::Open as i32],
                page_size: 20,
                ..Default::default()
            })
            .await?
            .into_inner()
            .items;
        if open.is_empty() {
            return Ok(());
        }
        let id = open[number as usize % open.len()].id.clone();
        let claimed = self
            .review
            .claim_review_item(pb::ClaimReviewItemRequest {
                id: id.clone(),
                lease: None,
            })
            .await?
            .into_inner();
        self.review
            .resolve_review_item(pb::ResolveReviewItemRequest {
                id,
                etag: claimed.etag,
                decision: pb::Decision::Dismissed as i32,
                note: "soak: dismissed by the load generator".into(),
                reopen: false,
            })
            .await
            .map(drop)
    }
}

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Operations per second the server sustains with the mix and `PROBE_WORKERS` callers.
async fn probe_capacity(clients: &Clients, first: u64) -> f64 {
    let started = Instant::now();
    let done: usize = futures::stream::iter(0..PROBE_WORKERS as u64)
        .map(|worker| {
            let clients = clients.clone();
            async move {
                let mut number = first + worker;
                let mut done = 0;
                while started.elapsed() < PROBE {
                    let work = MIX[(number % MIX.len() as u64) as usize];
                    if let Outcome::Done(_) | Outcome::Conflict =
                        clients.clone().run(work, number).await
                    {
                        done += 1;
                    }
                    number += PROBE_WORKERS as u64;
                }
                done
            }
        })
        .buffer_unordered(PROBE_WORKERS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .sum();
    done as f64 / started.elapsed().as_secs_f64()
}

fn print_minute(index: usize, minute: &Minute, server_pid: Option<u32>) {
    let p99 = |work| {
        let mut latencies = minute.latencies.get(&work).cloned().unwrap_or_default();
        latencies.sort_unstable();
        percentile(&latencies, 0.99).map_or("-".to_string(), |ms| format!("{ms:.1}"))
    };
    let count = |work| minute.latencies.get(&work).map_or(0, Vec::len);
    let errors: u64 = minute.errors.values().sum();
    println!(
        "{:>6} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>7} {:>9} {:>7} {:>9}",
        index + 1,
        count(Work::Ingest),
        count(Work::Search),
        count(Work::Review),
        p99(Work::Ingest),
        p99(Work::Search),
        p99(Work::Review),
        errors,
        minute.conflicts,
        minute.skipped,
        server_pid
            .and_then(rss_mib)
            .map_or("-".to_string(), |mib| format!("{mib:.0}")),
    );
}

/// Probes capacity, then runs the mix at `load` × capacity for `minutes`, item numbers of new
/// feedback starting at `first_item`.
pub async fn run(
    channel: &Channel,
    token: &BearerToken,
    corpus: &super::Corpus,
    first_item: u64,
    minutes: u64,
    load: f64,
    server_pid: Option<u32>,
) -> anyhow::Result<()> {
    let clients = Clients {
        feedback: FeedbackServiceClient::with_interceptor(channel.clone(), token.clone()),
        search: SearchServiceClient::with_interceptor(channel.clone(), token.clone()),
        review: ReviewServiceClient::with_interceptor(channel.clone(), token.clone()),
        corpus: Arc::clone(corpus),
    };
    let rss_at_start = server_pid.and_then(rss_mib);
    eprintln!("soak: probing capacity for {} s", PROBE.as_secs());
    let capacity = probe_capacity(&clients, first_item).await;
    let rate = (capacity * load).max(1.0);
    println!(
        "soak: capacity {capacity:.0} operations/s with the mix (12 ingest : 7 search : 1 review); \
         running {rate:.0}/s ({:.0}%) for {minutes} min",
        load * 100.0
    );
    println!(
        "{:>6} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>7} {:>9} {:>7} {:>9}",
        "minute",
        "ingests",
        "searches",
        "reviews",
        "ingest99",
        "search99",
        "review99",
        "errors",
        "conflicts",
        "skipped",
        "RSS MiB"
    );
    anyhow::ensure!(minutes > 0, "--soak-minutes must be at least 1");
    let log_len = minutes as usize;
    let minutes_log: Arc<Mutex<Vec<Minute>>> = Arc::new(Mutex::new(
        (0..minutes).map(|_| Minute::default()).collect(),
    ));
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let started = Instant::now();
    let total = Duration::from_secs(minutes * 60);
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut number = first_item + 1_000_000;
    let mut printed = 0;
    let mut tasks = tokio::task::JoinSet::new();
    while started.elapsed() < total {
        ticks.tick().await;
        let minute = ((started.elapsed().as_secs() / 60) as usize).min(log_len - 1);
        while printed < minute {
            print_minute(
                printed,
                &minutes_log.lock().expect("log")[printed],
                server_pid,
            );
            printed += 1;
        }
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            minutes_log.lock().expect("log")[minute].skipped += 1;
            continue;
        };
        let work = MIX[(number % MIX.len() as u64) as usize];
        let clients = clients.clone();
        let log = minutes_log.clone();
        tasks.spawn(async move {
            let outcome = clients.run(work, number).await;
            drop(permit);
            let mut log = log.lock().expect("log");
            let minute = &mut log[minute];
            match outcome {
                Outcome::Done(latency) => minute.latencies.entry(work).or_default().push(latency),
                Outcome::Conflict => minute.conflicts += 1,
                Outcome::Failed(code) => {
                    *minute.errors.entry(format!("{code:?}")).or_default() += 1
                }
            }
        });
        number += 1;
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let log = minutes_log.lock().expect("log");
    for (index, minute) in log.iter().enumerate().skip(printed) {
        print_minute(index, minute, server_pid);
    }
    let mut errors: BTreeMap<&str, u64> = BTreeMap::new();
    for minute in log.iter() {
        for (code, count) in &minute.errors {
            *errors.entry(code).or_default() += count;
        }
    }
    let mib = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0} MiB"));
    println!(
        "soak: server RSS {} at start, {} at the end; errors {:?}",
        mib(rss_at_start),
        mib(server_pid.and_then(rss_mib)),
        errors
    );
    Ok(())
}
