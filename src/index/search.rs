//! Search over the index: filters, ordering, facets, highlighted snippets, stable pages, and
//! "more like this". Hits are read back from the store, the system of record.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::query::{
    BooleanQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Facet, Field, IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, Order, Searcher, TantivyDocument, Term};

use super::SearchIndex;
use super::query;
use super::schema::{self, Fields};
use crate::error::{Error, FieldViolation, Result};
use crate::model::{Feedback, FeedbackKind, FlagKind, Priority};
use crate::store::Store;
use crate::text::analyzer;

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;
/// Characters of context in a snippet.
const SNIPPET_CHARS: usize = 200;

#[derive(Debug, Clone, Default, Hash)]
pub struct SearchFilter {
    pub languages: Vec<String>,
    pub customer_ids: Vec<String>,
    pub kinds: Vec<FeedbackKind>,
    pub channels: Vec<String>,
    pub topics: Vec<String>,
    pub flag_kinds: Vec<FlagKind>,
    pub priorities: Vec<Priority>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub has_resolution: Option<bool>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SearchOrder {
    #[default]
    Relevance,
    Newest,
    Oldest,
    Priority,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FacetKind {
    Language,
    Topic,
    FlagKind,
    Channel,
}

#[derive(Debug, Clone, Default, Hash)]
pub struct SearchRequest {
    pub query: String,
    pub filter: SearchFilter,
    pub order: SearchOrder,
    /// 0 means the default.
    pub page_size: usize,
    pub page_token: String,
    pub facets: Vec<FacetKind>,
}

/// A marked-up excerpt; `matches` are code point ranges into `snippet`.
#[derive(Debug, Clone, PartialEq)]
pub struct Highlight {
    /// `text` or `resolution`.
    pub field: &'static str,
    pub snippet: String,
    pub matches: Vec<(usize, usize)>,
}

#[derive(Debug, Clone)]
pub struct SearchHit {
    pub feedback: Feedback,
    pub score: f32,
    pub highlights: Vec<Highlight>,
}

#[derive(Debug, Clone)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    pub total: u64,
    pub facets: Vec<(FacetKind, Vec<(String, u64)>)>,
    pub next_page_token: String,
}

/// What a page token remembers: the index snapshot, where the next page starts, and which
/// request it belongs to.
#[derive(Debug, Serialize, Deserialize)]
struct PageToken {
    generation: u64,
    offset: usize,
    fingerprint: u64,
}

fn fingerprint(request: &SearchRequest) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (
        &request.query,
        &request.filter,
        request.order,
        &request.facets,
    )
        .hash(&mut hasher);
    hasher.finish()
}

fn decode_token(token: &str, request: &SearchRequest) -> Result<Option<PageToken>> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || Error::invalid("page_token", "is not a token from a previous response");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let decoded: PageToken = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if decoded.fingerprint != fingerprint(request) {
        return Err(Error::invalid(
            "page_token",
            "belongs to a different query, filter or order",
        ));
    }
    Ok(Some(decoded))
}

fn encode_token(token: &PageToken) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(token).expect("a page token serializes"))
}

/// Any of `values`, as a filter: one term set lookup however many values (a segment filter can
/// name thousands of customers).
fn term_filter(values: impl IntoIterator<Item = Term>) -> Option<Box<dyn Query>> {
    let terms: Vec<Term> = values.into_iter().collect();
    (!terms.is_empty()).then(|| Box::new(TermSetQuery::new(terms)) as Box<dyn Query>)
}

fn facet_terms(field: Field, values: &[String]) -> Vec<Term> {
    values
        .iter()
        .map(|v| Term::from_facet(field, &Facet::from_path([v.as_str()])))
        .collect()
}

/// Filter clauses; they restrict without changing scores.
fn filter_queries(fields: &Fields, filter: &SearchFilter) -> Vec<Box<dyn Query>> {
    let mut filters: Vec<Option<Box<dyn Query>>> = vec![
        term_filter(facet_terms(fields.language, &filter.languages)),
        term_filter(facet_terms(fields.channel, &filter.channels)),
        term_filter(facet_terms(fields.topic, &filter.topics)),
        term_filter(
            filter
                .flag_kinds
                .iter()
                .map(|k| Term::from_facet(fields.flag, &Facet::from_path([k.as_str()]))),
        ),
        term_filter(
            filter
                .customer_ids
                .iter()
                .map(|c| Term::from_field_text(fields.customer_id, c)),
        ),
        term_filter(
            filter
                .kinds
                .iter()
                .map(|k| Term::from_field_text(fields.kind, k.as_str())),
        ),
        term_filter(
            filter
                .priorities
                .iter()
                .map(|p| Term::from_field_u64(fields.priority, u64::from(*p))),
        ),
        filter.has_resolution.map(|has| {
            Box::new(TermQuery::new(
                Term::from_field_u64(fields.has_resolution, u64::from(has)),
                IndexRecordOption::Basic,
            )) as Box<dyn Query>
        }),
    ];
    if filter.created_after.is_some() || filter.created_before.is_some() {
        use std::ops::Bound;
        let lower = filter.created_after.map_or(Bound::Unbounded, |t| {
            Bound::Included(Term::from_field_i64(
                fields.created_at,
                t.timestamp_micros(),
            ))
        });
        let upper = filter.created_before.map_or(Bound::Unbounded, |t| {
            Bound::Excluded(Term::from_field_i64(
                fields.created_at,
                t.timestamp_micros(),
            ))
        });
        filters.push(Some(Box::new(RangeQuery::new(lower, upper))));
    }
    filters
        .into_iter()
        .flatten()
        .map(|q| Box::new(ConstScoreQuery::new(q, 0.0)) as Box<dyn Query>)
        .collect()
}

fn facet_field_name(kind: FacetKind) -> &'static str {
    match kind {
        FacetKind::Language => schema::LANGUAGE,
        FacetKind::Topic => schema::TOPIC,
        FacetKind::FlagKind => schema::FLAG,
        FacetKind::Channel => schema::CHANNEL,
    }
}

fn ids_of(
    searcher: &Searcher,
    fields: &Fields,
    addresses: &[(f32, DocAddress)],
) -> Result<Vec<(String, f32)>> {
    addresses
        .iter()
        .map(|(score, address)| {
            let doc: TantivyDocument = searcher
                .doc(*address)
                .map_err(|e| Error::Index(e.to_string()))?;
            let id = doc
                .get_first(fields.id)
                .and_then(|v| v.as_str())
                .ok_or_else(|| Error::Index("a document without an id".into()))?
                .to_string();
            Ok((id, *score))
        })
        .collect()
}

/// Snippet generators for the text and resolution fields of one query.
struct Highlighter {
    text: Vec<(Field, SnippetGenerator)>,
    resolution: Vec<(Field, SnippetGenerator)>,
}

impl Highlighter {
    fn new(searcher: &Searcher, query: &dyn Query, fields: &Fields) -> Result<Highlighter> {
        let generators =
            |sources: &super::schema::TextFields| -> Result<Vec<(Field, SnippetGenerator)>> {
                sources
                    .all()
                    .into_iter()
                    .map(|(field, _)| {
                        let mut generator = SnippetGenerator::create(searcher, query, field)
                            .map_err(|e| Error::Index(e.to_string()))?;
                        generator.set_max_num_chars(SNIPPET_CHARS);
                        Ok((field, generator))
                    })
                    .collect()
            };
        Ok(Highlighter {
            text: generators(&fields.text)?,
            resolution: generators(&fields.resolution)?,
        })
    }

    fn best(
        generators: &[(Field, SnippetGenerator)],
        allowed: &[Field],
        text: &str,
        field_name: &'static str,
    ) -> Option<Highlight> {
        generators
            .iter()
            .filter(|(field, _)| allowed.contains(field))
            .map(|(_, generator)| generator.snippet(text))
            .filter(|snippet| !snippet.highlighted().is_empty())
            .max_by_key(|snippet| snippet.highlighted().len())
            .map(|snippet| {
                let fragment = snippet.fragment();
                let to_chars = |byte: usize| fragment[..byte].chars().count();
                Highlight {
                    field: field_name,
                    snippet: fragment.to_string(),
                    matches: snippet
                        .highlighted()
                        .iter()
                        .map(|r| (to_chars(r.start), to_chars(r.end)))
                        .collect(),
                }
            })
    }

    fn highlight(&self, fields: &Fields, feedback: &Feedback) -> Vec<Highlight> {
        let mut allowed: Vec<Field> = fields
            .text
            .for_language(&feedback.language)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        allowed.push(fields.text.folded);
        let mut highlights = Vec::new();
        let text = Self::best(&self.text, &allowed, &feedback.text, "text").unwrap_or_else(|| {
            // No matched words in the text (the match was elsewhere): show its beginning.
            Highlight {
                field: "text",
                snippet: feedback.text.chars().take(SNIPPET_CHARS).collect(),
                matches: Vec::new(),
            }
        });
        highlights.push(text);
        if let Some(resolution) = &feedback.resolution {
            let mut allowed: Vec<Field> = fields
                .resolution
                .for_language(&feedback.language)
                .into_iter()
                .map(|(f, _)| f)
                .collect();
            allowed.push(fields.resolution.folded);
            if let Some(h) = Self::best(&self.resolution, &allowed, &resolution.text, "resolution")
            {
                highlights.push(h);
            }
        }
        highlights
    }
}

/// Checks the request's own fields.
fn page_size(request: &SearchRequest) -> usize {
    match request.page_size {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    }
}

/// Runs a search and reads the hits from the store.
pub async fn search(
    index: &SearchIndex,
    store: &Store,
    request: &SearchRequest,
) -> Result<SearchResults> {
    let token = decode_token(&request.page_token, request)?;
    let size = page_size(request);
    let offset = token.as_ref().map_or(0, |t| t.offset);
    let searcher = match &token {
        Some(t) => index.searcher_for(t.generation),
        None => index.pinned_searcher(),
    };
    let fields = &index.handle.fields;
    let parsed = query::parse(&request.query);
    let text_query = query::build(&parsed, &[fields.text, fields.resolution]);
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text_query.box_clone())];
    clauses.extend(
        filter_queries(fields, &request.filter)
            .into_iter()
            .map(|q| (Occur::Must, q)),
    );
    let full_query = BooleanQuery::new(clauses);

    let collect = || -> tantivy::Result<(Vec<(f32, DocAddress)>, usize)> {
        let top = TopDocs::with_limit(size).and_offset(offset);
        Ok(match request.order {
            SearchOrder::Relevance => {
                searcher.search(&full_query, &(top.order_by_score(), Count))?
            }
            SearchOrder::Newest | SearchOrder::Oldest => {
                let order = if request.order == SearchOrder::Newest {
                    Order::Desc
                } else {
                    Order::Asc
                };
                let (docs, count) = searcher.search(
                    &full_query,
                    &(
                        top.order_by_fast_field::<i64>(schema::CREATED_AT, order),
                        Count,
                    ),
                )?;
                (docs.into_iter().map(|(_, d)| (0.0, d)).collect(), count)
            }
            SearchOrder::Priority => {
                let (docs, count) = searcher.search(
                    &full_query,
                    &(
                        top.order_by_fast_field::<u64>(schema::PRIORITY_KEY, Order::Desc),
                        Count,
                    ),
                )?;
                (docs.into_iter().map(|(_, d)| (0.0, d)).collect(), count)
            }
        })
    };
    let (addresses, total) = collect().map_err(|e| Error::Index(e.to_string()))?;
    let ids = ids_of(&searcher, fields, &addresses)?;

    let mut facets = Vec::new();
    for kind in &request.facets {
        let mut collector = FacetCollector::for_field(facet_field_name(*kind));
        collector.add_facet(Facet::root());
        let counts = searcher
            .search(&full_query, &collector)
            .map_err(|e| Error::Index(e.to_string()))?;
        let mut values: Vec<(String, u64)> = counts
            .get(Facet::root())
            .map(|(facet, count)| {
                (
                    facet
                        .to_path()
                        .last()
                        .map_or_else(String::new, |s| s.to_string()),
                    count,
                )
            })
            .collect();
        values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        facets.push((*kind, values));
    }

    let highlighter = Highlighter::new(&searcher, text_query.as_ref(), fields)?;
    let id_list: Vec<String> = ids.iter().map(|(id, _)| id.clone()).collect();
    let mut stored = store.get_feedback_many(&id_list).await?;
    let hits = ids
        .into_iter()
        .filter_map(|(id, score)| {
            // An item indexed but not (yet) readable cannot happen with one store; skip it safely.
            stored.remove(&id).map(|feedback| SearchHit {
                highlights: highlighter.highlight(fields, &feedback),
                feedback,
                score,
            })
        })
        .collect();
    let next_offset = offset + size;
    let next_page_token = if next_offset < total {
        encode_token(&PageToken {
            generation: searcher.generation().generation_id(),
            offset: next_offset,
            fingerprint: fingerprint(request),
        })
    } else {
        String::new()
    };
    Ok(SearchResults {
        hits,
        total: total as u64,
        facets,
        next_page_token,
    })
}

/// Where "similar" starts from.
pub enum SimilarSource {
    Id(String),
    Text(String),
}

#[derive(Debug, Clone)]
pub struct SimilarHit {
    pub feedback: Feedback,
    /// Jaccard similarity of the two texts' analyzed word sets, 0..1.
    pub similarity: f64,
    pub near_duplicate: bool,
}

/// Word-set Jaccard at or above this marks a near-duplicate.
pub const NEAR_DUPLICATE_JACCARD: f64 = 0.8;
/// Terms of the source text used to find candidates.
const MAX_SIMILAR_TERMS: usize = 30;

fn word_set(language: &str, text: &str) -> HashSet<String> {
    let tokenizer = analyzer::tokenizer_for_language(language).unwrap_or(analyzer::FOLDED);
    analyzer::terms(tokenizer, text).into_iter().collect()
}

fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        0.0
    } else {
        a.intersection(b).count() as f64 / union as f64
    }
}

/// Related feedback: candidates by BM25 over the source's most frequent words (more-like-this),
/// ranked by word-set similarity, near-duplicates first.
pub async fn similar(
    index: &SearchIndex,
    store: &Store,
    source: SimilarSource,
    page_size: usize,
    language_of: impl Fn(&str) -> String,
) -> Result<Vec<SimilarHit>> {
    let size = match page_size {
        0 => 10,
        n => n.min(MAX_PAGE_SIZE),
    };
    let (text, language, exclude) = match source {
        SimilarSource::Id(id) => {
            let feedback = store
                .get_feedback(&id)
                .await?
                .ok_or_else(|| Error::NotFound(format!("no feedback with id {id:?}")))?;
            (feedback.text, feedback.language, Some(id))
        }
        SimilarSource::Text(text) => {
            if text.trim().is_empty() {
                return Err(Error::InvalidArgument(vec![FieldViolation::new(
                    "text",
                    "must not be blank",
                )]));
            }
            let language = language_of(&text);
            (text, language, None)
        }
    };
    let fields = &index.handle.fields;
    let mut frequency: HashMap<String, usize> = HashMap::new();
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (field, tokenizer) in fields.text.for_language(&language) {
        for term in analyzer::terms(tokenizer, &text) {
            *frequency
                .entry(format!("{}\u{0}{term}", field.field_id()))
                .or_default() += 1;
        }
    }
    let mut ranked: Vec<_> = frequency.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.len().cmp(&a.0.len())));
    for (key, _) in ranked.into_iter().take(MAX_SIMILAR_TERMS) {
        let (field_id, term) = key.split_once('\u{0}').expect("key has a separator");
        let field = Field::from_field_id(field_id.parse().expect("field id is a number"));
        clauses.push((
            Occur::Should,
            Box::new(TermQuery::new(
                Term::from_field_text(field, term),
                IndexRecordOption::WithFreqs,
            )),
        ));
    }
    if clauses.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(id) = &exclude {
        clauses.push((
            Occur::MustNot,
            Box::new(TermQuery::new(
                Term::from_field_text(fields.id, id),
                IndexRecordOption::Basic,
            )),
        ));
    }
    let searcher = index.handle.reader.searcher();
    let candidates = searcher
        .search(
            &BooleanQuery::new(clauses),
            &TopDocs::with_limit(size * 3).order_by_score(),
        )
        .map_err(|e| Error::Index(e.to_string()))?;
    let ids: Vec<String> = ids_of(&searcher, fields, &candidates)?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let stored = store.get_feedback_many(&ids).await?;
    let mut hits: Vec<SimilarHit> = ids
        .iter()
        .filter_map(|id| stored.get(id))
        .map(|feedback| {
            let similarity = jaccard(
                &word_set(&feedback.language, &text),
                &word_set(&feedback.language, &feedback.text),
            );
            SimilarHit {
                feedback: feedback.clone(),
                similarity,
                near_duplicate: similarity >= NEAR_DUPLICATE_JACCARD,
            }
        })
        .collect();
    hits.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    hits.truncate(size);
    Ok(hits)
}
