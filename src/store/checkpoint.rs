//! Background WAL checkpoints. The writer never checkpoints (`wal_autocheckpoint=0`), so no
//! commit waits while pages are copied from the log into the database file; this task copies them
//! alongside the writer and restarts the log before it grows large.

use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::Result;

/// How often the log is copied into the database file.
const INTERVAL: Duration = Duration::from_millis(250);
/// A log longer than this many pages (4 KiB each) is restarted from its beginning, which waits
/// for the writer's current transaction.
const RESTART_PAGES: i64 = 8192;

/// The running checkpoint task.
pub(super) struct Checkpointer {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Checkpointer {
    pub async fn start(options: &SqliteConnectOptions) -> Result<Checkpointer> {
        let connection = options.connect().await?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(connection, stopped));
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

async fn run(mut connection: SqliteConnection, mut stopped: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.changed() => break,
        }
        let started = std::time::Instant::now();
        let outcome = match checkpoint(&mut connection, "PASSIVE").await {
            Ok((log, _)) if log > RESTART_PAGES => checkpoint(&mut connection, "RESTART").await,
            other => other,
        };
        match outcome {
            Ok((_, copied)) if copied > 0 => {
                metrics::histogram!("triage_store_checkpoint_seconds")
                    .record(started.elapsed().as_secs_f64());
            }
            Ok(_) => {}
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
