//! What the benchmark measured and how it prints it: throughput and latency percentiles per
//! scenario, the benchmark issue's target ratios, peak memory and disk use.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Measurement {
    pub scenario: String,
    pub items: u64,
    pub seconds: f64,
    pub items_per_second: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
}

impl Measurement {
    /// A throughput figure: `items` done in `seconds`.
    pub fn rate(scenario: impl Into<String>, items: u64, seconds: f64) -> Measurement {
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
    pub fn timed(
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

pub fn percentile(sorted: &[Duration], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1].as_secs_f64() * 1000.0)
}

pub fn peak_rss_mib() -> Option<f64> {
    peak_rss_mib_of("self")
}

/// Peak resident memory of a process (`VmHWM` in `/proc/<pid>/status`).
pub fn peak_rss_mib_of(pid: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Bytes of the files under `dir`.
pub fn directory_bytes(dir: &Path) -> u64 {
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

pub fn print_table(results: &[Measurement]) {
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
pub fn print_ratios(service: &[Measurement], ceiling: &[Measurement], postgres: &[Measurement]) {
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
