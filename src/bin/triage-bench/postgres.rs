//! The PostgreSQL baseline: what a team would otherwise build. The bench starts its own
//! PostgreSQL cluster (`initdb`, `pg_ctl` from the PATH) in a temp dir on a loopback port, loads
//! the same items into a table with a generated `tsvector` column (the `russian` configuration
//! for Russian text, `simple` for Ukrainian and Slovenian, which PostgreSQL has no stemmer for)
//! and a GIN index, and runs the same query strings through `websearch_to_tsquery`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::Measurement;
use triage::model::NewFeedback;
use triage::text::language::LanguageDetector;

/// A running cluster, stopped when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
}

/// Whether this process runs as root (PostgreSQL refuses to).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            Some(line.split_whitespace().nth(1)? == "0")
        })
        .unwrap_or(false)
}

/// The numeric id of `user` (`id -u` / `id -g`).
fn id_of(flag: &str, user: &str) -> anyhow::Result<u32> {
    let output = Command::new("id").args([flag, user]).output()?;
    anyhow::ensure!(
        output.status.success(),
        "no user {user:?} to run PostgreSQL as"
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().parse()?)
}

/// A PostgreSQL tool, run as the `postgres` user when this process is root.
fn pg_tool(program: &str) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", program]);
        command
    } else {
        Command::new(program)
    }
}

impl Cluster {
    fn start() -> anyhow::Result<Cluster> {
        let dir = tempfile::tempdir()?;
        if running_as_root() {
            std::os::unix::fs::chown(
                dir.path(),
                Some(id_of("-u", "postgres")?),
                Some(id_of("-g", "postgres")?),
            )?;
        }
        let data = dir.path().join("data");
        run(pg_tool("initdb").arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "bench",
            "-E",
            "UTF8",
            "--no-locale",
        ]))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c shared_buffers=256MB -c max_connections=64",
            dir.path().display()
        );
        run(pg_tool("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-w", "-l"])
            .arg(dir.path().join("log"))
            .arg("start"))?;
        Ok(Cluster { dir, port })
    }

    fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = pg_tool("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "stop"])
            .output();
    }
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .output()
        .with_context(|| format!("running {command:?} (is PostgreSQL on the PATH?)"))?;
    anyhow::ensure!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

const SCHEMA: &str = "CREATE TABLE feedback (
    id bigserial PRIMARY KEY,
    language text NOT NULL,
    text text NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (
        to_tsvector(CASE language WHEN 'ru' THEN 'russian'::regconfig ELSE 'simple'::regconfig END, text)
    ) STORED
)";

/// Our query strings as PostgreSQL would get them: both configurations, since a query's
/// language is not known.
const SEARCH: &str = "SELECT id, ts_rank(tsv, q) AS rank FROM feedback, \
     (SELECT websearch_to_tsquery('russian', $1) || websearch_to_tsquery('simple', $1) AS q) AS query \
     WHERE tsv @@ q ORDER BY rank DESC LIMIT 20";

/// Loads `items` (in transactions of 1,000 rows, each committed durably) and runs `queries`.
pub async fn run_baseline(
    items: &[NewFeedback],
    queries: &[&str],
    count: u64,
    concurrency: &[usize],
) -> anyhow::Result<Vec<Measurement>> {
    let cluster = Cluster::start()?;
    let url = format!("postgres://bench@127.0.0.1:{}/postgres", cluster.port);
    let pool = PgPoolOptions::new()
        .max_connections(32)
        .connect(&url)
        .await?;
    sqlx::query(SCHEMA).execute(&pool).await?;
    let detector = LanguageDetector::new();
    let languages: Vec<&str> = items
        .iter()
        .map(|item| detector.detect(&item.text, "").language)
        .collect();
    let started = Instant::now();
    for (chunk, languages) in items.chunks(1000).zip(languages.chunks(1000)) {
        let mut builder =
            sqlx::QueryBuilder::<sqlx::Postgres>::new("INSERT INTO feedback (language, text) ");
        builder.push_values(chunk.iter().zip(languages), |mut row, (item, language)| {
            row.push_bind(*language).push_bind(&item.text);
        });
        builder.build().execute(&pool).await?;
    }
    sqlx::query("CREATE INDEX feedback_tsv ON feedback USING gin (tsv)")
        .execute(&pool)
        .await?;
    sqlx::query("ANALYZE feedback").execute(&pool).await?;
    let seconds = started.elapsed().as_secs_f64();
    let mut results = vec![Measurement::rate(
        "PostgreSQL: insert + GIN index",
        items.len() as u64,
        seconds,
    )];
    let size: i64 = sqlx::query("SELECT pg_total_relation_size('feedback')")
        .fetch_one(&pool)
        .await?
        .try_get(0)?;
    eprintln!(
        "PostgreSQL table with index: {:.0} MiB",
        size as f64 / 1048576.0
    );
    for &level in concurrency {
        results.push(search(&pool, queries, count, level.max(1)).await?);
    }
    pool.close().await;
    drop(cluster);
    Ok(results)
}

async fn search(
    pool: &PgPool,
    queries: &[&str],
    count: u64,
    concurrency: usize,
) -> anyhow::Result<Measurement> {
    let started = Instant::now();
    let latencies: Vec<anyhow::Result<Duration>> = futures::stream::iter(0..count)
        .map(|i| {
            let pool = pool.clone();
            let query = queries[(i as usize) % queries.len()].to_string();
            async move {
                let began = Instant::now();
                sqlx::query(SEARCH).bind(query).fetch_all(&pool).await?;
                Ok(began.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let latencies = latencies.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Measurement::timed(
        format!("PostgreSQL: search, concurrency {concurrency}"),
        seconds,
        latencies,
    ))
}

/// Whether PostgreSQL's tools are installed.
pub fn available() -> bool {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|dir| Path::new(&dir).join("initdb").exists())
}
