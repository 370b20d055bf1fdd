//! The indexer: derived state that tails the store by sequence number (DESIGN.md §2).
//!
//! It runs on its own thread (tantivy's writer blocks), wakes when the store commits, applies
//! every change since the last indexed sequence number, and commits at most every
//! [`MIN_COMMIT_INTERVAL`] with `{schema_version, sequence}` as the commit payload. On start-up
//! it catches up from that sequence number, or rebuilds from zero when the index is missing,
//! unreadable, or of another schema version.

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tantivy::schema::Facet;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use tokio::sync::watch;

use super::merges::BoundedMergePolicy;
use super::schema::{self, Fields};
use crate::error::{Error, Result};
use crate::model::Feedback;
use crate::scheduling::BatchScheduling;
use crate::store::{Change, Store};
use crate::text::analyzer;

/// Commits are at least this far apart, so heavy ingest does not make thousands of tiny segments.
/// Together with the wake-up on every store commit this keeps items searchable well within 1 s.
pub const MIN_COMMIT_INTERVAL: Duration = Duration::from_millis(200);
/// Wake up at least this often even without a notification.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Changes read from the store per query.
const CHANGES_PER_READ: usize = 2000;
/// Memory for tantivy's writer when rebuilding the whole index (`triage reindex`), shared by one
/// indexing thread per core.
const REBUILD_WRITER_MEMORY: usize = 64 * 1024 * 1024;
/// A server that starts this many changes behind the store (a lost or outdated index) catches up
/// with the rebuild writer before it tails the store with the live one (`[index]
/// rebuild_backlog`): one indexing thread per core and larger segments took a 1M-item catch-up
/// from 55 to 34 s on 2 cores.
pub const DEFAULT_REBUILD_BACKLOG: u64 = 20_000;
/// Memory for the server's writer: one indexing thread with tantivy's minimum budget. Every
/// commit starts a new segment per indexing thread, each with freshly allocated (and zeroed)
/// hash tables sized by the budget; a commit holds a few hundred items, so two threads and 32 MB
/// each doubled the segments to merge and the pages to zero for no gain: one thread indexes
/// several thousand items per second (docs/PERFORMANCE.md, session 14).
const LIVE_WRITER_MEMORY: usize = 16 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    schema_version: u32,
    sequence: i64,
}

/// The opened index with its reader, shared by the indexer and the searchers.
pub struct IndexHandle {
    pub index: Index,
    pub reader: IndexReader,
    pub fields: Fields,
}

fn storage(error: tantivy::TantivyError) -> Error {
    Error::Index(error.to_string())
}

/// Opens the index in `dir`, or makes a fresh one when it is missing, unreadable or of another
/// schema version. Returns the handle and the last sequence number it holds.
pub fn open(dir: &Path) -> Result<(Arc<IndexHandle>, i64)> {
    let fields = schema::build();
    let existing = if dir.join("meta.json").exists() {
        match Index::open_in_dir(dir) {
            Ok(index) => {
                let payload = index
                    .load_metas()
                    .ok()
                    .and_then(|metas| metas.payload)
                    .and_then(|p| serde_json::from_str::<Payload>(&p).ok());
                match payload {
                    Some(p) if p.schema_version == schema::SCHEMA_VERSION => {
                        Some((index, p.sequence))
                    }
                    Some(p) => {
                        tracing::warn!(
                            found = p.schema_version,
                            expected = schema::SCHEMA_VERSION,
                            "index schema changed; rebuilding from the store"
                        );
                        None
                    }
                    None => {
                        tracing::warn!("index has no usable commit; rebuilding from the store");
                        None
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "index unreadable; rebuilding from the store");
                None
            }
        }
    } else {
        None
    };
    let (index, sequence) = match existing {
        Some(found) => found,
        None => {
            if dir.exists() {
                std::fs::remove_dir_all(dir)?;
            }
            std::fs::create_dir_all(dir)?;
            (
                Index::create_in_dir(dir, fields.schema.clone()).map_err(storage)?,
                0,
            )
        }
    };
    analyzer::register(&index);
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .map_err(storage)?;
    Ok((
        Arc::new(IndexHandle {
            index,
            reader,
            fields,
        }),
        sequence,
    ))
}

/// The tantivy document of a feedback item.
pub fn document(fields: &Fields, feedback: &Feedback) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_text(fields.id, &feedback.id);
    for (field, _) in fields.text.for_language(&feedback.language) {
        doc.add_text(field, &feedback.text);
    }
    doc.add_text(fields.text.folded, &feedback.text);
    match &feedback.resolution {
        Some(resolution) => {
            for (field, _) in fields.resolution.for_language(&feedback.language) {
                doc.add_text(field, &resolution.text);
            }
            doc.add_text(fields.resolution.folded, &resolution.text);
            doc.add_u64(fields.has_resolution, 1);
        }
        None => doc.add_u64(fields.has_resolution, 0),
    }
    doc.add_text(fields.customer_id, &feedback.customer_id);
    doc.add_text(fields.kind, feedback.kind.as_str());
    doc.add_facet(
        fields.language,
        Facet::from_path([feedback.language.as_str()]),
    );
    if !feedback.channel.is_empty() {
        doc.add_facet(
            fields.channel,
            Facet::from_path([feedback.channel.as_str()]),
        );
    }
    for topic in &feedback.analysis.topics {
        doc.add_facet(fields.topic, Facet::from_path([topic.as_str()]));
    }
    for flag in &feedback.analysis.flags {
        doc.add_facet(fields.flag, Facet::from_path([flag.kind.as_str()]));
    }
    doc.add_i64(fields.created_at, feedback.created_at.timestamp_micros());
    let priority = feedback.analysis.priority;
    doc.add_u64(fields.priority, u64::from(priority));
    doc.add_u64(
        fields.priority_key,
        schema::priority_key(priority, feedback.created_at.timestamp()),
    );
    doc
}

/// Applies store changes to the index.
pub struct Indexer {
    handle: Arc<IndexHandle>,
    writer: IndexWriter,
    indexed: i64,
    dirty: bool,
    last_commit: Instant,
}

impl Indexer {
    /// The server's indexer (see [`LIVE_WRITER_MEMORY`]).
    pub fn new(handle: Arc<IndexHandle>, indexed: i64) -> Result<Indexer> {
        let writer = handle
            .index
            .writer_with_num_threads(1, LIVE_WRITER_MEMORY)
            .map_err(storage)?;
        writer.set_merge_policy(Box::new(BoundedMergePolicy));
        Ok(Indexer::with_writer(handle, writer, indexed))
    }

    /// An indexer for rebuilding the whole index, with an indexing thread per core.
    pub fn for_rebuild(handle: Arc<IndexHandle>, indexed: i64) -> Result<Indexer> {
        let writer = handle
            .index
            .writer(REBUILD_WRITER_MEMORY)
            .map_err(storage)?;
        Ok(Indexer::with_writer(handle, writer, indexed))
    }

    fn with_writer(handle: Arc<IndexHandle>, writer: IndexWriter, indexed: i64) -> Indexer {
        Indexer {
            handle,
            writer,
            indexed,
            dirty: false,
            last_commit: Instant::now(),
        }
    }

    /// The last sequence number applied (not necessarily committed).
    pub fn indexed(&self) -> i64 {
        self.indexed
    }

    pub fn apply(&mut self, changes: &[Change]) -> Result<()> {
        let fields = &self.handle.fields;
        for change in changes {
            // An inserted item cannot be in an index that holds only earlier changes. Deleting it
            // anyway is not free: at every commit tantivy looks each delete up in every segment
            // (docs/PERFORMANCE.md, session 19).
            if !change.inserted {
                self.writer
                    .delete_term(Term::from_field_text(fields.id, &change.feedback.id));
            }
            self.writer
                .add_document(document(fields, &change.feedback))
                .map_err(storage)?;
            self.indexed = self.indexed.max(change.sequence);
            self.dirty = true;
        }
        Ok(())
    }

    /// Lets the rebuild writer finish its merges and replaces it with the live writer.
    fn into_live(self) -> Result<Indexer> {
        let Indexer {
            handle,
            writer,
            indexed,
            ..
        } = self;
        // The index's lock is held until the writer and its merges are done.
        writer.wait_merging_threads().map_err(storage)?;
        Indexer::new(handle, indexed)
    }

    /// Commits what was applied (if anything) and makes it visible to searches.
    pub fn commit(&mut self) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let payload = serde_json::to_string(&Payload {
            schema_version: schema::SCHEMA_VERSION,
            sequence: self.indexed,
        })
        .map_err(|e| Error::Index(e.to_string()))?;
        let mut prepared = self.writer.prepare_commit().map_err(storage)?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(storage)?;
        self.handle.reader.reload().map_err(storage)?;
        self.dirty = false;
        self.last_commit = Instant::now();
        Ok(())
    }

    /// Reads and applies every change after the indexed sequence number.
    pub fn catch_up(&mut self, runtime: &tokio::runtime::Handle, store: &Store) -> Result<usize> {
        self.catch_up_reporting(runtime, store, |_| {})
    }

    /// [`Indexer::catch_up`], telling `progress` the running count after every batch.
    pub fn catch_up_reporting(
        &mut self,
        runtime: &tokio::runtime::Handle,
        store: &Store,
        mut progress: impl FnMut(usize),
    ) -> Result<usize> {
        let mut applied = 0;
        loop {
            let changes = runtime.block_on(store.changes_since(self.indexed, CHANGES_PER_READ))?;
            if changes.is_empty() {
                return Ok(applied);
            }
            applied += changes.len();
            self.apply(&changes)?;
            progress(applied);
        }
    }

    fn run(
        mut self,
        runtime: tokio::runtime::Handle,
        store: Store,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut committed = store.committed_sequence();
        loop {
            let stopping = *stop.borrow();
            let outcome = self.catch_up(&runtime, &store).and_then(|_| {
                let wait = MIN_COMMIT_INTERVAL.saturating_sub(self.last_commit.elapsed());
                if !stopping && self.dirty && !wait.is_zero() {
                    std::thread::sleep(wait);
                    self.catch_up(&runtime, &store)?;
                }
                self.commit()
            });
            if let Err(error) = outcome {
                if matches!(error, Error::ShuttingDown) {
                    return;
                }
                tracing::error!(%error, "indexing failed; retrying");
            }
            // Changes committed to the store but not yet searchable (resolutions renumber
            // items, so this counts changes, not items).
            metrics::gauge!("triage_index_lag")
                .set((*committed.borrow() - self.indexed).max(0) as f64);
            if stopping {
                return;
            }
            // A runtime shutting down without stopping us first (a test that panicked) ends the
            // thread quietly instead of panicking in the timer.
            let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                runtime.block_on(async {
                    tokio::select! {
                        _ = committed.changed() => {}
                        _ = stop.changed() => {}
                        _ = tokio::time::sleep(POLL_INTERVAL) => {}
                    }
                })
            }));
            if waited.is_err() {
                return;
            }
        }
    }
}

/// Indexes the start-up backlog with the rebuild writer, commits it, and hands over to the live
/// writer. Retries like the live loop while the store fails; `None` when the server stops first
/// or the live writer cannot be made (logged).
fn catch_up_for_start(
    mut indexer: Indexer,
    runtime: &tokio::runtime::Handle,
    store: &Store,
    stop: &watch::Receiver<bool>,
) -> Option<Indexer> {
    let started = Instant::now();
    loop {
        match indexer.catch_up(runtime, store).and_then(|applied| {
            indexer.commit()?;
            Ok(applied)
        }) {
            Ok(applied) => {
                tracing::info!(
                    applied,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "index caught up"
                );
                break;
            }
            Err(Error::ShuttingDown) => return None,
            Err(error) => {
                tracing::error!(%error, "indexing failed; retrying");
                if *stop.borrow() {
                    return None;
                }
                std::thread::sleep(POLL_INTERVAL);
            }
        }
    }
    indexer
        .into_live()
        .inspect_err(|error| tracing::error!(%error, "starting the live index writer"))
        .ok()
}

/// The running indexer thread.
pub struct IndexerTask {
    stop: watch::Sender<bool>,
    thread: JoinHandle<()>,
}

impl IndexerTask {
    /// Starts indexing changes of `store` into `handle` from sequence number `indexed`, with the
    /// rebuild writer first when the index is `rebuild_backlog` or more changes behind.
    pub fn spawn(
        handle: Arc<IndexHandle>,
        indexed: i64,
        store: Store,
        rebuild_backlog: u64,
    ) -> Result<IndexerTask> {
        let backlog = *store.committed_sequence().borrow() - indexed;
        let rebuilding = u64::try_from(backlog).is_ok_and(|backlog| backlog >= rebuild_backlog);
        let indexer = if rebuilding {
            tracing::info!(backlog, "catching the index up with the rebuild writer");
            Indexer::for_rebuild(handle, indexed)?
        } else {
            Indexer::new(handle, indexed)?
        };
        let runtime = tokio::runtime::Handle::current();
        let (stop, stopped) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("triage-indexer".into())
            .spawn(move || {
                let _scheduling = BatchScheduling::enter();
                let live = if rebuilding {
                    catch_up_for_start(indexer, &runtime, &store, &stopped)
                } else {
                    Some(indexer)
                };
                if let Some(indexer) = live {
                    indexer.run(runtime, store, stopped);
                }
            })?;
        Ok(IndexerTask { stop, thread })
    }

    /// Indexes what is left, commits, and waits for the thread to end.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        let thread = self.thread;
        if tokio::task::spawn_blocking(move || thread.join())
            .await
            .is_err()
        {
            tracing::error!("the indexer thread panicked");
        }
    }
}
