//! The ceiling: the same items indexed by plain tantivy in-process, with the service's schema,
//! analyzers and document layout, and the same query strings run in-process through the same
//! query front end — what the service would cost if it were nothing but its index.
//!
//! Language detection runs before the timed part (it decides which fields a text goes to);
//! indexing is timed from the first document to the committed, searchable index.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tantivy::collector::{Count, TopDocs};
use tantivy::{Index, IndexWriter, ReloadPolicy};

use super::Measurement;
use triage::index::indexer::document;
use triage::index::{query, schema};
use triage::model::{Analysis, Feedback, NewFeedback};
use triage::text::analyzer;
use triage::text::language::LanguageDetector;

/// Indexes `items` into a fresh index in a temp dir, then runs `queries` (cycled) `count` times
/// at each concurrency.
pub fn run(
    items: &[NewFeedback],
    queries: &[&str],
    count: u64,
    concurrency: &[usize],
) -> anyhow::Result<Vec<Measurement>> {
    let detector = LanguageDetector::new();
    let feedback: Vec<Feedback> = items
        .iter()
        .enumerate()
        .map(|(i, new)| Feedback {
            id: format!("ceiling-{i}"),
            external_id: new.external_id.clone(),
            customer_id: new.customer_id.clone(),
            text: new.text.clone(),
            kind: new.kind,
            channel: new.channel.clone(),
            created_at: new.created_at.unwrap_or_default(),
            received_at: new.created_at.unwrap_or_default(),
            language_hint: String::new(),
            score: new.score,
            attributes: new.attributes.clone(),
            language: detector.detect(&new.text, "").language.to_string(),
            language_confidence: 1.0,
            resolution: None,
            analysis: Analysis::default(),
        })
        .collect();

    let dir = tempfile::tempdir()?;
    let fields = schema::build();
    let index = Index::create_in_dir(dir.path(), fields.schema.clone())?;
    analyzer::register(&index);
    let mut writer: IndexWriter = index.writer(200_000_000)?;
    let started = Instant::now();
    for item in &feedback {
        writer.add_document(document(&fields, item))?;
    }
    writer.commit()?;
    let seconds = started.elapsed().as_secs_f64();
    let mut results = vec![Measurement::rate(
        "ceiling: tantivy index + commit",
        feedback.len() as u64,
        seconds,
    )];

    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()?;
    let searcher = Arc::new(reader.searcher());
    let built: Vec<_> = queries
        .iter()
        .map(|q| query::build(&query::parse(q), &[fields.text, fields.resolution]))
        .collect();
    let built = Arc::new(built);
    for &threads in concurrency {
        let threads = threads.max(1);
        let started = Instant::now();
        let per_thread = count.div_ceil(threads as u64);
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let searcher = Arc::clone(&searcher);
                let built = Arc::clone(&built);
                std::thread::spawn(move || -> tantivy::Result<Vec<Duration>> {
                    let mut latencies = Vec::with_capacity(per_thread as usize);
                    for i in 0..per_thread {
                        let query = &built[((t as u64 * per_thread + i) as usize) % built.len()];
                        let began = Instant::now();
                        searcher.search(
                            query.as_ref(),
                            &(TopDocs::with_limit(20).order_by_score(), Count),
                        )?;
                        latencies.push(began.elapsed());
                    }
                    Ok(latencies)
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for handle in handles {
            latencies.extend(
                handle
                    .join()
                    .map_err(|_| anyhow::anyhow!("a search thread panicked"))??,
            );
        }
        results.push(Measurement::timed(
            format!("ceiling: search, {threads} thread(s)"),
            started.elapsed().as_secs_f64(),
            latencies,
        ));
    }
    Ok(results)
}
