//! Background WAL checkpoints. The writer never checkpoints (`wal_autocheckpoint=0`), so no
//! commit waits while pages are copied from the log into the database file; this task copies them
//! alongside the writer and tells it how long the log is. Only the writer can restart the log
//! (another connection would have to wait for a gap between its transactions, and a busy writer
//! leaves none), so between two batches it restarts a long log whose pages are mostly copied.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::Result;

/// How often the log is copied into the database file.
const INTERVAL: Duration = Duration::from_millis(250);
/// A log longer than this many pages (4 KiB each) is restarted from its beginning.
const RESTART_PAGES: i64 = 32_768;

/// The running checkpoint task.
pub(super) struct Checkpointer {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// The log's length as the last checkpoint saw it, shared with the writer.
#[derive(Clone, Default)]
pub(super) struct LogLength(Arc<AtomicI64>);

impl LogLength {
    /// Restarts the log from its beginning when it has grown long: its pages are then copied
    /// into the database file (most already are) and readers are waited for. Call on the writer's
    /// connection between transactions.
    pub async fn restart_if_long(&self, writer: &mut SqliteConnection) -> Result<()> {
        if self.0.load(Ordering::Relaxed) <= RESTART_PAGES {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let (log, _) = checkpoint(writer, "RESTART").await?;
        self.0.store(log, Ordering::Relaxed);
        metrics::histogram!("triage_store_log_restart_seconds")
            .record(started.elapsed().as_secs_f64());
        Ok(())
    }
}

impl Checkpointer {
    pub async fn start(options: &SqliteConnectOptions, length: LogLength) -> Result<Checkpointer> {
        let connection = options.connect().await?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(connection, length, stopped));
        Ok(Checkpointer { stop, task })
    }

    /// Copies what is left and empties the log (call after the writer has stopped).
    pub async fn stop(self) {
        self.stop.send_replace(true);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "checkpoint task failed");
        }
    }
}

/// `PRAGMA wal_checkpoint(mode)`: pages in the log and pages copied.
async fn checkpoint(connection: &mut SqliteConnection, mode: &str) -> Result<(i64, i64)> {
    let sql = format!("PRAGMA wal_checkpoint({mode})");
    // Only the fixed mode names of this module are formatted in.
    let (_busy, log, copied): (i64, i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_one(connection)
        .await?;
    Ok((log, copied))
}

async fn run(
    mut connection: SqliteConnection,
    length: LogLength,
    mut stopped: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.changed() => break,
        }
        let started = std::time::Instant::now();
        match checkpoint(&mut connection, "PASSIVE").await {
            Ok((log, copied)) => {
                length.0.store(log, Ordering::Relaxed);
                if copied > 0 {
                    metrics::histogram!("triage_store_checkpoint_seconds")
                        .record(started.elapsed().as_secs_f64());
                }
            }
            Err(error) => tracing::warn!(%error, "WAL checkpoint"),
        }
    }
    if let Err(error) = checkpoint(&mut connection, "TRUNCATE").await {
        tracing::warn!(%error, "final WAL checkpoint");
    }
    if let Err(error) = connection.close().await {
        tracing::warn!(%error, "closing the checkpoint connection");
    }
}
