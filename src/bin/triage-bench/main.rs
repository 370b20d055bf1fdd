//! `triage-bench`: drives a triage server over gRPC with a seeded synthetic corpus and prints
//! throughput and latency percentiles.
//!
//! Without `--server` it starts a server in-process on 127.0.0.1:0 with a temporary data dir
//! (client and server then share this process and its cores, which is what one machine gives).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use futures::StreamExt;
use indicatif::ProgressBar;
use serde::Serialize;
use tokio::sync::oneshot;
use tonic::transport::Channel;

use triage::api::convert::new_feedback_to_proto;
use triage::cli::{BearerToken, ConnectionArgs, connect};
use triage::config::Settings;
use triage::corpus::{CorpusGenerator, Timeline};
use triage::pb;
use triage::pb::feedback_service_client::FeedbackServiceClient;
use triage::pb::satisfaction_service_client::SatisfactionServiceClient;
use triage::pb::search_service_client::SearchServiceClient;

mod ceiling;
mod postgres;
mod soak;

#[derive(Parser)]
#[command(
    name = "triage-bench",
    about = "Load generator and benchmarks for triage"
)]
struct Args {
    /// Items sent through ImportFeedback (bulk).
    #[arg(long, default_value_t = 20_000)]
    items: u64,
    /// Items sent through IngestFeedback at each concurrency level.
    #[arg(long, default_value_t = 3_000)]
    unary_items: u64,
    /// Concurrency levels for unary ingest.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    concurrency: Vec<usize>,
    /// Concurrency levels for the search scenario.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    search_concurrency: Vec<usize>,
    /// Queries per search concurrency level (0 skips the search scenario).
    #[arg(long, default_value_t = 2_000)]
    queries: u64,
    /// Survey responses to record (concurrency 64) before timing satisfaction reports (0 skips).
    #[arg(long, default_value_t = 0)]
    survey_responses: u64,
    /// Corpus seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// When the corpus's items were written: in the order they arrive (a live feed), or spread
    /// at random over 300 days (a backfill in no order, the worst case for indexes by time).
    #[arg(long, value_enum, default_value = "arrival")]
    timeline: Timeline,
    /// Customer pool size [default: a quarter of the items, at least 1,000: about four items per
    /// customer over a year].
    #[arg(long)]
    customers: Option<u64>,
    /// The `--server` already holds the corpus's first this many items (an earlier run with the
    /// same seed and `--customers`): the import continues after them, so the run measures ingest
    /// into a store of that size without filling it again.
    #[arg(long, default_value_t = 0, requires = "server")]
    already_stored: u64,
    /// Benchmark a running server instead of an in-process one.
    #[arg(long)]
    server: Option<String>,
    /// Bearer token for `--server`.
    #[arg(long, env = "TRIAGE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also run the same items and queries against plain tantivy in-process (the ceiling) and
    /// against PostgreSQL full-text search (a cluster started in a temp dir), and print ratios.
    #[arg(long)]
    baselines: bool,
    /// Instead of the scenarios: import `--items`, then run mixed ingest, search and review load
    /// for this many minutes at `--soak-load` of the capacity measured first.
    #[arg(long)]
    soak_minutes: Option<u64>,
    /// Share of the measured capacity the soak runs at.
    #[arg(long, default_value_t = 0.8)]
    soak_load: f64,
    /// Process id of the `--server` whose RSS the soak reports [default: this process, when the
    /// server runs in-process].
    #[arg(long)]
    server_pid: Option<u32>,
}

#[derive(Debug, Serialize)]
struct Measurement {
    scenario: String,
    items: u64,
    seconds: f64,
    items_per_second: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    p999_ms: Option<f64>,
}

impl Measurement {
    /// A throughput figure: `items` done in `seconds`.
    fn rate(scenario: impl Into<String>, items: u64, seconds: f64) -> Measurement {
        Measurement {
            scenario: scenario.into(),
            items,
            seconds,
            items_per_second: items as f64 / seconds,
            p50_ms: None,
            p99_ms: None,
            p999_ms: None,
        }
    }

    /// Throughput and latency percentiles of calls that took `latencies`, `seconds` in all.
    fn timed(
        scenario: impl Into<String>,
        seconds: f64,
        mut latencies: Vec<Duration>,
    ) -> Measurement {
        latencies.sort_unstable();
        Measurement {
            p50_ms: percentile(&latencies, 0.50),
            p99_ms: percentile(&latencies, 0.99),
            p999_ms: percentile(&latencies, 0.999),
            ..Measurement::rate(scenario, latencies.len() as u64, seconds)
        }
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1].as_secs_f64() * 1000.0)
}

fn peak_rss_mib() -> Option<f64> {
    peak_rss_mib_of("self")
}

/// Peak resident memory of a process (`VmHWM` in `/proc/<pid>/status`).
fn peak_rss_mib_of(pid: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Bytes of the files under `dir`.
fn directory_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => directory_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

type Client =
    FeedbackServiceClient<tonic::service::interceptor::InterceptedService<Channel, BearerToken>>;

/// The corpus, shared by the scenarios that draw items from it.
type Corpus = Arc<Mutex<CorpusGenerator>>;

/// Imports `count` items in one stream. Pausing at each of SCALING_POINTS, it lets the index
/// catch up and then times a probe import of SCALING_PROBE items with that many items stored:
/// the probes show how the cost per item grows with the store, without the backlog of index
/// merges the import itself left behind.
async fn bulk(
    client: &mut Client,
    channel: &Channel,
    token: &BearerToken,
    corpus: &Corpus,
    already_stored: u64,
    count: u64,
) -> anyhow::Result<Vec<Measurement>> {
    let mut probes = Vec::new();
    let mut stored = already_stored;
    let end = already_stored + count;
    let mut importing = 0.0;
    for point in SCALING_POINTS
        .into_iter()
        .filter(|&point| point > already_stored && point + SCALING_PROBE <= end)
    {
        importing += import_stream(client, corpus, stored, point - stored).await?;
        let settled = wait_searchable(channel, token, point).await?;
        eprintln!("{point} items stored, searchable {settled:.1} s after their import");
        let seconds = import_stream(client, corpus, point, SCALING_PROBE).await?;
        importing += seconds;
        stored = point + SCALING_PROBE;
        probes.push(Measurement::rate(
            format!("  import 10k with {}k stored", point / 1000),
            SCALING_PROBE,
            seconds,
        ));
    }
    importing += import_stream(client, corpus, stored, end - stored).await?;
    let mut results = vec![Measurement::rate("import (bulk stream)", count, importing)];
    results.extend(probes);
    Ok(results)
}

/// Store sizes at which `bulk` times a probe import (those with room for the probe).
const SCALING_POINTS: [u64; 4] = [10_000, 100_000, 300_000, 1_000_000];
/// Items of each scaling probe.
const SCALING_PROBE: u64 = 10_000;

/// Seconds to import items `first..first + count` in one `ImportFeedback` stream.
async fn import_stream(
    client: &mut Client,
    corpus: &Corpus,
    first: u64,
    count: u64,
) -> anyhow::Result<f64> {
    if count == 0 {
        return Ok(0.0);
    }
    // Generated as the stream is sent: a million items never sit in the client's memory.
    let corpus = Arc::clone(corpus);
    let requests =
        futures::stream::iter(first..first + count).map(move |i| pb::IngestFeedbackRequest {
            feedback: Some(new_feedback_to_proto(
                corpus.lock().expect("corpus lock").feedback(i),
            )),
        });
    let progress = ProgressBar::new(count);
    let started = Instant::now();
    let mut answers = client.import_feedback(requests).await?.into_inner();
    let mut stored = 0;
    while let Some(answer) = answers.next().await {
        let answer = answer?;
        anyhow::ensure!(answer.error.is_none(), "item rejected: {:?}", answer.error);
        stored += 1;
        progress.inc(1);
    }
    progress.finish_and_clear();
    anyhow::ensure!(stored == count, "only {stored} of {count} answered");
    Ok(started.elapsed().as_secs_f64())
}

async fn unary(
    client: &Client,
    corpus: &Corpus,
    first: u64,
    count: u64,
    concurrency: usize,
) -> anyhow::Result<Measurement> {
    let requests: Vec<_> = {
        let mut corpus = corpus.lock().expect("corpus lock");
        (first..first + count)
            .map(|i| pb::IngestFeedbackRequest {
                feedback: Some(new_feedback_to_proto(corpus.feedback(i))),
            })
            .collect()
    };
    timed(
        format!("IngestFeedback, concurrency {concurrency}"),
        count,
        concurrency,
        |i| {
            let mut client = client.clone();
            let request = requests[i as usize].clone();
            async move { client.ingest_feedback(request).await.map(drop) }
        },
    )
    .await
}

/// Runs `call(i)` for `i` in `0..count` with `concurrency` calls in flight and measures each.
async fn timed<F, Fut>(
    scenario: String,
    count: u64,
    concurrency: usize,
    call: F,
) -> anyhow::Result<Measurement>
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Result<(), tonic::Status>>,
{
    let progress = ProgressBar::new(count);
    let started = Instant::now();
    let latencies: Vec<Duration> = futures::stream::iter(0..count)
        .map(|i| {
            let progress = progress.clone();
            let pending = call(i);
            async move {
                let sent = Instant::now();
                pending.await?;
                progress.inc(1);
                Ok::<_, tonic::Status>(sent.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    progress.finish_and_clear();
    Ok(Measurement::timed(
        scenario,
        started.elapsed().as_secs_f64(),
        latencies,
    ))
}

/// The query strings: single words in another word form than the corpus uses, two-word
/// queries, phrases, a prefix, an exclusion.
const QUERIES: &[&str] = &[
    "доставка",
    "курьера",
    "деньгами",
    "приложения",
    "доставку",
    "кур'єра",
    "гроші",
    "застосунок",
    "dostavo",
    "kurirja",
    "denarja",
    "aplikacija",
    "доставка курьер",
    "повернення грошей",
    "plačilo kartico",
    "\"не пришло\"",
    "\"brez težav\"",
    "достав*",
    "доставка -курьер",
    "upravitelj",
];

/// The query mix: [`QUERIES`] with filters, facets and orders on some of them.
fn query_mix(i: u64) -> pb::SearchFeedbackRequest {
    let mut request = pb::SearchFeedbackRequest {
        query: QUERIES[(i as usize) % QUERIES.len()].to_string(),
        page_size: 20,
        ..pb::SearchFeedbackRequest::default()
    };
    match i % 5 {
        1 => {
            request.filter = Some(pb::SearchFilter {
                channels: vec!["email".into()],
                ..pb::SearchFilter::default()
            })
        }
        2 => request.facets = vec![pb::Facet::Language as i32, pb::Facet::Channel as i32],
        3 => request.order_by = pb::SearchOrder::Newest as i32,
        _ => {}
    }
    request
}

async fn search_load(
    channel: &Channel,
    token: &BearerToken,
    count: u64,
    concurrency: usize,
) -> anyhow::Result<Measurement> {
    let client = SearchServiceClient::with_interceptor(channel.clone(), token.clone());
    timed(
        format!("SearchFeedback, concurrency {concurrency}"),
        count,
        concurrency,
        |i| {
            let mut client = client.clone();
            async move { client.search_feedback(query_mix(i)).await.map(drop) }
        },
    )
    .await
}

/// Seconds until a match-all search counts `expected` items.
async fn wait_searchable(
    channel: &Channel,
    token: &BearerToken,
    expected: u64,
) -> anyhow::Result<f64> {
    let mut client = SearchServiceClient::with_interceptor(channel.clone(), token.clone());
    let started = Instant::now();
    loop {
        let total = client
            .search_feedback(pb::SearchFeedbackRequest {
                page_size: 1,
                ..Default::default()
            })
            .await?
            .into_inner()
            .total_size;
        if total as u64 >= expected {
            return Ok(started.elapsed().as_secs_f64());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "index stuck at {total} of {expected}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Records `count` survey responses spread over 90 days, then times reports over them.
async fn satisfaction_load(
    channel: &Channel,
    token: &BearerToken,
    count: u64,
    customers: u64,
) -> anyhow::Result<Vec<Measurement>> {
    let client = SatisfactionServiceClient::with_interceptor(channel.clone(), token.clone());
    let progress = ProgressBar::new(count);
    let started = Instant::now();
    let now = chrono::Utc::now().timestamp();
    let outcomes: Vec<Result<_, tonic::Status>> = futures::stream::iter(0..count)
        .map(|i| {
            let mut client = client.clone();
            let progress = progress.clone();
            async move {
                let kind =
                    [pb::ScoreKind::Nps, pb::ScoreKind::Csat, pb::ScoreKind::Ces][(i % 3) as usize];
                let value = match kind {
                    pb::ScoreKind::Nps => (i * 7 % 11) as i32,
                    pb::ScoreKind::Csat => (i * 3 % 5) as i32 + 1,
                    _ => (i * 5 % 7) as i32 + 1,
                };
                client
                    .record_survey_response(pb::RecordSurveyResponseRequest {
                        response: Some(pb::SurveyResponse {
                            external_id: format!("bench-survey-{i}"),
                            customer_id: format!("customer-{}", i % customers.max(1)),
                            score: Some(pb::Score {
                                kind: kind as i32,
                                value,
                            }),
                            responded_at: Some(prost_types::Timestamp {
                                seconds: now - (i as i64 * 7919) % (90 * 86_400),
                                nanos: 0,
                            }),
                            channel: ["email", "app", "web"][(i % 3) as usize].into(),
                            ..Default::default()
                        }),
                    })
                    .await?;
                progress.inc(1);
                Ok(())
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    outcomes.into_iter().collect::<Result<Vec<()>, _>>()?;
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let mut results = vec![Measurement::rate(
        "RecordSurveyResponse, concurrency 64",
        count,
        seconds,
    )];
    let mut client = client;
    for (label, bucket, group_by) in [
        (
            "report: 90 days by week",
            pb::ReportBucket::Week,
            pb::ReportGroupBy::None,
        ),
        (
            "report: 90 days by language",
            pb::ReportBucket::None,
            pb::ReportGroupBy::Language,
        ),
    ] {
        let mut latencies = Vec::new();
        for _ in 0..5 {
            let sent = Instant::now();
            client
                .get_satisfaction_report(pb::GetSatisfactionReportRequest {
                    start: Some(prost_types::Timestamp {
                        seconds: now - 91 * 86_400,
                        nanos: 0,
                    }),
                    end: Some(prost_types::Timestamp {
                        seconds: now + 86_400,
                        nanos: 0,
                    }),
                    bucket: bucket as i32,
                    group_by: group_by as i32,
                    filter: None,
                })
                .await?;
            latencies.push(sent.elapsed());
        }
        let seconds = latencies.iter().map(Duration::as_secs_f64).sum();
        results.push(Measurement {
            // The responses the reports cover, not the 5 reports.
            items: count,
            ..Measurement::timed(label, seconds, latencies)
        });
    }
    Ok(results)
}

fn print_table(results: &[Measurement]) {
    println!(
        "{:<38} {:>8} {:>9} {:>10} {:>9} {:>9} {:>9}",
        "scenario", "items", "seconds", "items/s", "p50 ms", "p99 ms", "p999 ms"
    );
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    for r in results {
        println!(
            "{:<38} {:>8} {:>9.2} {:>10.0} {:>9} {:>9} {:>9}",
            r.scenario,
            r.items,
            r.seconds,
            r.items_per_second,
            ms(r.p50_ms),
            ms(r.p99_ms),
            ms(r.p999_ms)
        );
    }
}

/// The targets of the benchmark issue, as ratios of the measured figures.
fn print_ratios(service: &[Measurement], ceiling: &[Measurement], postgres: &[Measurement]) {
    let find = |list: &[Measurement], prefix: &str| {
        list.iter()
            .find(|m| m.scenario.starts_with(prefix))
            .map(|m| (m.items_per_second, m.p50_ms, m.p99_ms))
    };
    println!("ratios:");
    if let (Some(ours), Some(plain)) = (
        find(service, "import (bulk stream)"),
        find(ceiling, "ceiling: tantivy index"),
    ) {
        println!(
            "  bulk ingest: {:.0} / {:.0} items/s = {:.0}% of the in-process tantivy ceiling (target ≥ 50%)",
            ours.0,
            plain.0,
            100.0 * ours.0 / plain.0
        );
    }
    if let (Some(ours), Some(plain)) = (
        find(service, "SearchFeedback, concurrency 8"),
        find(ceiling, "ceiling: search, 8 thread"),
    ) && let (Some(a), Some(b)) = (ours.2, plain.2)
    {
        println!(
            "  search p99 at concurrency 8: {a:.2} ms vs {b:.2} ms in-process = {:.1}× (target ≤ 2×)",
            a / b
        );
    }
    if let (Some(ours), Some(pg)) = (
        find(service, "SearchFeedback, concurrency 1"),
        find(postgres, "PostgreSQL: search, concurrency 1"),
    ) && let (Some(a), Some(b)) = (ours.1, pg.1)
    {
        println!(
            "  search p50 at concurrency 1: {a:.2} ms vs PostgreSQL {b:.2} ms = {:.1}× faster (target ≥ 5×)",
            b / a
        );
    }
    if let (Some(ours), Some(pg)) = (
        find(service, "import (bulk stream)"),
        find(postgres, "PostgreSQL: insert"),
    ) {
        println!(
            "  bulk ingest vs PostgreSQL insert + GIN: {:.0} / {:.0} items/s",
            ours.0, pg.0
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut in_process = None;
    let server_url = match &args.server {
        Some(url) => url.clone(),
        None => {
            let dir = tempfile::tempdir().context("temp dir")?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}", listener.local_addr()?);
            let (stop, stopped) = oneshot::channel::<()>();
            let settings = Settings::with_data_dir(dir.path());
            let task = tokio::spawn(triage::server::serve(settings, listener, async move {
                let _ = stopped.await;
            }));
            in_process = Some((dir, stop, task));
            url
        }
    };
    let (channel, token) =
        connect(&ConnectionArgs::new(server_url.clone(), args.token.clone())).await?;
    let mut client = FeedbackServiceClient::with_interceptor(channel.clone(), token.clone());
    let customers = args
        .customers
        .unwrap_or(((args.already_stored + args.items) / 4).max(1_000));
    let mut generator = CorpusGenerator::new(args.seed, customers, args.timeline);
    // Items depend on everything generated before them (customers' earlier texts come back as
    // repeats), so the stored ones are generated again and dropped.
    for index in 0..args.already_stored {
        generator.feedback(index);
    }
    let corpus: Corpus = Arc::new(Mutex::new(generator));
    eprintln!(
        "triage-bench: {} bulk items, {} unary items per level, server {server_url}",
        args.items, args.unary_items
    );

    let mut results = bulk(
        &mut client,
        &channel,
        &token,
        &corpus,
        args.already_stored,
        args.items,
    )
    .await?;
    if let Some(minutes) = args.soak_minutes {
        print_table(&results);
        let server_pid = args
            .server_pid
            .or(in_process.as_ref().map(|_| std::process::id()));
        soak::run(
            &channel,
            &token,
            &corpus,
            args.items,
            minutes,
            args.soak_load,
            server_pid,
        )
        .await?;
        return stop_in_process(in_process).await;
    }
    let mut next = args.already_stored + args.items;
    if args.unary_items > 0 {
        for &level in &args.concurrency {
            results.push(unary(&client, &corpus, next, args.unary_items, level.max(1)).await?);
            next += args.unary_items;
        }
    }
    let searchable = wait_searchable(&channel, &token, next).await?;
    println!("all {next} items searchable {searchable:.2} s after the last acknowledgement");
    if args.queries > 0 {
        for &level in &args.search_concurrency {
            results.push(search_load(&channel, &token, args.queries, level.max(1)).await?);
        }
    }
    if args.survey_responses > 0 {
        results
            .extend(satisfaction_load(&channel, &token, args.survey_responses, customers).await?);
    }
    if args.baselines {
        let mut corpus = CorpusGenerator::new(args.seed, customers, args.timeline);
        let items: Vec<_> = (0..args.items).map(|i| corpus.feedback(i)).collect();
        let levels = &args.search_concurrency;
        let queries = args.queries.max(1);
        eprintln!(
            "ceiling: plain tantivy in-process on the same {} items",
            items.len()
        );
        let ceiling = ceiling::run(&items, QUERIES, queries, levels)?;
        let mut baseline = Vec::new();
        if postgres::available() {
            eprintln!("baseline: PostgreSQL full-text search on the same items");
            baseline = postgres::run_baseline(&items, QUERIES, queries, levels).await?;
        } else {
            eprintln!("baseline: PostgreSQL not found on the PATH; skipped");
        }
        print_ratios(&results, &ceiling, &baseline);
        results.extend(ceiling);
        results.extend(baseline);
    }
    print_table(&results);
    if let Some(pid) = args.server_pid
        && let Some(rss) = peak_rss_mib_of(&pid.to_string())
    {
        println!("peak RSS of the server (pid {pid}): {rss:.0} MiB");
    }
    if let Some((dir, _, _)) = &in_process {
        let bytes = directory_bytes(dir.path());
        println!(
            "data dir: {:.0} MiB for {next} items = {:.0} bytes per stored item (database + index)",
            bytes as f64 / (1024.0 * 1024.0),
            bytes as f64 / next.max(1) as f64
        );
    }
    if let Some(rss) = peak_rss_mib() {
        println!(
            "peak RSS of this process: {rss:.0} MiB{}",
            if in_process.is_some() {
                " (client and in-process server)"
            } else {
                ""
            }
        );
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&results)?)?;
    }
    stop_in_process(in_process).await
}

type InProcessServer = (
    tempfile::TempDir,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<triage::error::Result<()>>,
);

async fn stop_in_process(server: Option<InProcessServer>) -> anyhow::Result<()> {
    if let Some((_dir, stop, task)) = server {
        let _ = stop.send(());
        task.await??;
    }
    Ok(())
}
