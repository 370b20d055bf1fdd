//! The search index (derived state): schema, the indexer that tails the store, the query front
//! end, and search / similar. Rebuilt or caught up from the store at start-up, never the other
//! way round.

pub mod indexer;
mod merges;
pub mod query;
pub mod schema;
pub mod search;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tantivy::Searcher;

use crate::config::IndexConfig;
use crate::error::Result;
use crate::store::Store;
use indexer::{IndexHandle, IndexerTask};

/// Directory of the index inside the data directory.
pub const INDEX_DIR: &str = "index";
/// How long a page token keeps its snapshot of the index.
const SNAPSHOT_TTL: Duration = Duration::from_secs(10 * 60);
/// How many snapshots are kept for page tokens.
const MAX_SNAPSHOTS: usize = 32;

/// Searchers handed out for first pages, kept so later pages see the same snapshot (same
/// documents, same scores): pages neither skip nor repeat items while new ones arrive.
struct Snapshots {
    entries: VecDeque<(u64, Instant, Searcher)>,
}

/// The index, shared by the API handlers.
pub struct SearchIndex {
    pub handle: Arc<IndexHandle>,
    snapshots: Mutex<Snapshots>,
}

impl SearchIndex {
    fn new(handle: Arc<IndexHandle>) -> SearchIndex {
        SearchIndex {
            handle,
            snapshots: Mutex::new(Snapshots {
                entries: VecDeque::new(),
            }),
        }
    }

    /// The current searcher, remembered for later pages.
    pub fn pinned_searcher(&self) -> Searcher {
        let searcher = self.handle.reader.searcher();
        let generation = searcher.generation().generation_id();
        let mut snapshots = self.snapshots.lock().expect("snapshot lock");
        snapshots
            .entries
            .retain(|(_, created, _)| created.elapsed() < SNAPSHOT_TTL);
        if !snapshots.entries.iter().any(|(g, _, _)| *g == generation) {
            if snapshots.entries.len() >= MAX_SNAPSHOTS {
                snapshots.entries.pop_front();
            }
            snapshots
                .entries
                .push_back((generation, Instant::now(), searcher.clone()));
        }
        searcher
    }

    /// The snapshot a page token refers to, or the current one if it has expired.
    pub fn searcher_for(&self, generation: u64) -> Searcher {
        let snapshots = self.snapshots.lock().expect("snapshot lock");
        snapshots
            .entries
            .iter()
            .find(|(g, _, _)| *g == generation)
            .map(|(_, _, s)| s.clone())
            .unwrap_or_else(|| self.handle.reader.searcher())
    }
}

/// Opens (or rebuilds) the index in `data_dir` and starts the indexer tailing `store`.
pub fn start(
    data_dir: &Path,
    store: &Store,
    config: &IndexConfig,
) -> Result<(Arc<SearchIndex>, IndexerTask)> {
    let dir = data_dir.join(INDEX_DIR);
    let (mut handle, mut indexed) = indexer::open(&dir)?;
    let stored = *store.committed_sequence().borrow();
    if indexed > stored {
        // The index holds changes the store lost (a store restored from a backup older than the
        // index): its items would be found though not stored, and new changes numbered up to
        // `indexed` would never be indexed. The indexer also relies on an index never holding an
        // item whose insertion is still ahead of it.
        tracing::warn!(
            indexed_sequence = indexed,
            stored_sequence = stored,
            "the index is ahead of the store; rebuilding it from the store"
        );
        drop(handle);
        std::fs::remove_dir_all(&dir)?;
        (handle, indexed) = indexer::open(&dir)?;
    }
    tracing::info!(indexed_sequence = indexed, "search index opened");
    let task = IndexerTask::spawn(
        Arc::clone(&handle),
        indexed,
        store.clone(),
        config.rebuild_backlog,
    )?;
    Ok((Arc::new(SearchIndex::new(handle)), task))
}

/// Rebuilds the index of `data_dir` from the store, from scratch (`triage reindex`), telling
/// `progress` how many items are done. The server must not be running. Returns the number of
/// items indexed.
pub async fn rebuild(
    data_dir: &Path,
    store: &Store,
    progress: impl FnMut(usize) + Send + 'static,
) -> Result<usize> {
    let dir = data_dir.join(INDEX_DIR);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let (handle, indexed) = indexer::open(&dir)?;
    let store = store.clone();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut indexer = indexer::Indexer::for_rebuild(handle, indexed)?;
        let applied = indexer.catch_up_reporting(&runtime, &store, progress)?;
        indexer.commit()?;
        Ok(applied)
    })
    .await
    .map_err(|e| crate::error::Error::Index(e.to_string()))?
}
