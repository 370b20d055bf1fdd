//! `triage-bench`: drives a triage server over gRPC with a seeded synthetic corpus and prints
//! throughput and latency percentiles.
//!
//! Without `--server` it starts a server in-process on 127.0.0.1:0 with a temporary data dir
//! (client and server then share this process and its cores, which is what one machine gives).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use futures::StreamExt;
use indicatif::ProgressBar;
use tokio::sync::oneshot;
use tonic::transport::Channel;

use triage::api::convert::new_feedback_to_proto;
use triage::cli::{BearerToken, ConnectionArgs, connect};
use triage::config::Settings;
use triage::corpus::{CorpusGenerator, Timeline};
use triage::pb;
use triage::pb::feedback_service_client::FeedbackServiceClient;

mod ceiling;
mod load;
mod measurement;
mod postgres;
mod soak;

use load::{QUERIES, query_mix, satisfaction_load, search_load, wait_searchable};
use measurement::{
    Measurement, directory_bytes, peak_rss_mib, peak_rss_mib_of, percentile, print_ratios,
    print_table,
};

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
