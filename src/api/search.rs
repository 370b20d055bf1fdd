//! `triage.v1.SearchService`: convert, call `index::search`, convert back.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::{convert, with_customers};
use crate::error::{Error, FieldViolation};
use crate::index::SearchIndex;
use crate::index::search::{
    self, FacetKind, SearchFilter, SearchOrder, SearchRequest, SimilarSource,
};
use crate::pb;
use crate::store::Store;
use crate::text::language::LanguageDetector;

pub struct SearchApi {
    index: Arc<SearchIndex>,
    store: Store,
}

impl SearchApi {
    pub fn new(index: Arc<SearchIndex>, store: Store) -> SearchApi {
        SearchApi { index, store }
    }
}

fn filter_from_proto(
    filter: Option<pb::SearchFilter>,
    violations: &mut Vec<FieldViolation>,
) -> SearchFilter {
    let Some(filter) = filter else {
        return SearchFilter::default();
    };
    let mut timestamp = |time: &Option<prost_types::Timestamp>, field: &str| {
        time.as_ref().and_then(|t| {
            let converted = convert::timestamp_from_proto(t);
            if converted.is_none() {
                violations.push(FieldViolation::new(field, "is not a valid timestamp"));
            }
            converted
        })
    };
    let created_after = timestamp(&filter.created_after, "filter.created_after");
    let created_before = timestamp(&filter.created_before, "filter.created_before");
    SearchFilter {
        kinds: convert::convert_list(
            &filter.kinds,
            "filter.kinds",
            "FeedbackKind",
            violations,
            convert::feedback_kind_from_proto,
        ),
        flag_kinds: convert::convert_list(
            &filter.flag_kinds,
            "filter.flag_kinds",
            "FlagKind",
            violations,
            convert::flag_kind_from_proto,
        ),
        priorities: convert::convert_list(
            &filter.priorities,
            "filter.priorities",
            "Priority",
            violations,
            |p| match pb::Priority::try_from(p) {
                Ok(pb::Priority::Unspecified) | Err(_) => None,
                Ok(priority) => u8::try_from(priority as i32).ok(),
            },
        ),
        languages: filter.languages,
        customer_ids: filter.customer_ids,
        channels: filter.channels,
        topics: filter.topics,
        created_after,
        created_before,
        has_resolution: filter.has_resolution,
    }
}

/// Validates and converts a search request (every field violation at once).
pub fn request_from_proto(request: pb::SearchFeedbackRequest) -> Result<SearchRequest, Error> {
    let mut violations = Vec::new();
    let filter = filter_from_proto(request.filter, &mut violations);
    let order = match pb::SearchOrder::try_from(request.order_by) {
        Ok(pb::SearchOrder::Unspecified | pb::SearchOrder::Relevance) => SearchOrder::Relevance,
        Ok(pb::SearchOrder::Newest) => SearchOrder::Newest,
        Ok(pb::SearchOrder::Oldest) => SearchOrder::Oldest,
        Ok(pb::SearchOrder::Priority) => SearchOrder::Priority,
        Err(_) => {
            violations.push(FieldViolation::new(
                "order_by",
                format!("{} is not a SearchOrder", request.order_by),
            ));
            SearchOrder::Relevance
        }
    };
    if request.page_size < 0 {
        violations.push(FieldViolation::new("page_size", "must not be negative"));
    }
    let mut facets = Vec::new();
    for (i, facet) in request.facets.iter().enumerate() {
        match pb::Facet::try_from(*facet) {
            Ok(pb::Facet::Language) => facets.push(FacetKind::Language),
            Ok(pb::Facet::Topic) => facets.push(FacetKind::Topic),
            Ok(pb::Facet::FlagKind) => facets.push(FacetKind::FlagKind),
            Ok(pb::Facet::Channel) => facets.push(FacetKind::Channel),
            // Counted by the API layer from survey data (segments are not indexed).
            Ok(pb::Facet::Segment) => {}
            Ok(pb::Facet::Unspecified) | Err(_) => violations.push(FieldViolation::new(
                format!("facets[{i}]"),
                format!("{facet} is not a Facet"),
            )),
        }
    }
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    Ok(SearchRequest {
        query: request.query,
        filter,
        order,
        page_size: usize::try_from(request.page_size).unwrap_or(0),
        page_token: request.page_token,
        facets,
    })
}

fn facet_to_proto(kind: FacetKind) -> pb::Facet {
    match kind {
        FacetKind::Language => pb::Facet::Language,
        FacetKind::Topic => pb::Facet::Topic,
        FacetKind::FlagKind => pb::Facet::FlagKind,
        FacetKind::Channel => pb::Facet::Channel,
    }
}

fn highlight_to_proto(highlight: search::Highlight) -> pb::Highlight {
    let chars: Vec<char> = highlight.snippet.chars().collect();
    pb::Highlight {
        field: highlight.field.to_string(),
        matches: highlight
            .matches
            .iter()
            .map(|(start, end)| pb::TextSpan {
                start: *start as i32,
                end: *end as i32,
                text: chars[*start..*end].iter().collect(),
            })
            .collect(),
        snippet: highlight.snippet,
    }
}

impl SearchApi {
    /// A segment filter becomes a customer filter: the customers whose latest NPS answer is in
    /// one of the segments (segments change with every answer, so they are not indexed).
    async fn restrict_to_segments(
        &self,
        request: &mut SearchRequest,
        segments: &[i32],
    ) -> Result<(), Error> {
        let mut ranges = Vec::new();
        for (i, segment) in segments.iter().enumerate() {
            ranges.push(match pb::Segment::try_from(*segment) {
                Ok(pb::Segment::Promoter) => (9, 10),
                Ok(pb::Segment::Passive) => (7, 8),
                Ok(pb::Segment::Detractor) => (0, 6),
                _ => {
                    return Err(Error::invalid(
                        format!("filter.segments[{i}]"),
                        format!("{segment} is not a Segment (PROMOTER, PASSIVE or DETRACTOR)"),
                    ));
                }
            });
        }
        let in_segments = self.store.customers_with_latest_nps_in(&ranges).await?;
        let customers = &mut request.filter.customer_ids;
        if customers.is_empty() {
            *customers = in_segments;
        } else {
            customers.retain(|c| in_segments.contains(c));
        }
        if customers.is_empty() {
            // Nobody is in these segments: a customer id no one has keeps the result empty.
            customers.push(String::from("\u{0}no customer"));
        }
        Ok(())
    }
}

impl SearchApi {
    /// Matching items per customer segment (`promoter`, `passive`, `detractor`, and `none` for
    /// customers who never answered an NPS survey): the same search restricted to each
    /// segment's customers, counted. Segments change with every answer, so they are not indexed.
    async fn segment_counts(
        &self,
        request: &search::SearchRequest,
        total: u64,
    ) -> crate::error::Result<Vec<pb::FacetValueCount>> {
        let mut values = Vec::new();
        let mut counted = 0;
        for (name, range) in [
            ("promoter", (9, 10)),
            ("passive", (7, 8)),
            ("detractor", (0, 6)),
        ] {
            let mut customers = self.store.customers_with_latest_nps_in(&[range]).await?;
            if !request.filter.customer_ids.is_empty() {
                customers.retain(|c| request.filter.customer_ids.contains(c));
            }
            let count = if customers.is_empty() {
                0
            } else {
                let mut narrowed = request.clone();
                narrowed.filter.customer_ids = customers;
                narrowed.facets.clear();
                narrowed.page_token.clear();
                narrowed.page_size = 1;
                search::search(&self.index, &self.store, &narrowed)
                    .await?
                    .total
            };
            counted += count;
            values.push(pb::FacetValueCount {
                value: name.to_string(),
                count: count as i64,
            });
        }
        values.push(pb::FacetValueCount {
            value: "none".to_string(),
            count: total.saturating_sub(counted) as i64,
        });
        values.retain(|v| v.count > 0);
        Ok(values)
    }
}

#[tonic::async_trait]
impl pb::search_service_server::SearchService for SearchApi {
    async fn search_feedback(
        &self,
        request: Request<pb::SearchFeedbackRequest>,
    ) -> Result<Response<pb::SearchFeedbackResponse>, Status> {
        let wants_segments = request
            .get_ref()
            .facets
            .contains(&(pb::Facet::Segment as i32));
        let mut request = request.into_inner();
        let segments = request
            .filter
            .as_mut()
            .map(|f| std::mem::take(&mut f.segments))
            .unwrap_or_default();
        let mut request = request_from_proto(request)?;
        if !segments.is_empty() {
            self.restrict_to_segments(&mut request, &segments).await?;
        }
        let results = search::search(&self.index, &self.store, &request).await?;
        let mut facet_counts: Vec<pb::FacetCounts> = results
            .facets
            .into_iter()
            .map(|(kind, values)| pb::FacetCounts {
                facet: facet_to_proto(kind) as i32,
                values: values
                    .into_iter()
                    .map(|(value, count)| pb::FacetValueCount {
                        value,
                        count: count as i64,
                    })
                    .collect(),
            })
            .collect();
        if wants_segments {
            facet_counts.push(pb::FacetCounts {
                facet: pb::Facet::Segment as i32,
                values: self.segment_counts(&request, results.total).await?,
            });
        }
        let (items, extras): (Vec<_>, Vec<_>) = results
            .hits
            .into_iter()
            .map(|hit| (hit.feedback, (hit.score, hit.highlights)))
            .unzip();
        let items = with_customers(&self.store, items).await?;
        Ok(Response::new(pb::SearchFeedbackResponse {
            hits: items
                .into_iter()
                .zip(extras)
                .map(|(feedback, (score, highlights))| pb::SearchHit {
                    feedback: Some(feedback),
                    score,
                    highlights: highlights.into_iter().map(highlight_to_proto).collect(),
                })
                .collect(),
            total_size: results.total as i64,
            facet_counts,
            next_page_token: results.next_page_token,
        }))
    }

    async fn find_similar_feedback(
        &self,
        request: Request<pb::FindSimilarFeedbackRequest>,
    ) -> Result<Response<pb::FindSimilarFeedbackResponse>, Status> {
        let request = request.into_inner();
        if request.page_size < 0 {
            return Err(Error::invalid("page_size", "must not be negative").into());
        }
        let source = match request.source {
            Some(pb::find_similar_feedback_request::Source::Id(id)) if !id.trim().is_empty() => {
                SimilarSource::Id(id)
            }
            Some(pb::find_similar_feedback_request::Source::Text(text)) => {
                SimilarSource::Text(text)
            }
            _ => return Err(Error::invalid("source", "give an id or a text").into()),
        };
        let detector = LanguageDetector::new();
        let hits = search::similar(
            &self.index,
            &self.store,
            source,
            usize::try_from(request.page_size).unwrap_or(0),
            |text| detector.detect(text, "").language.to_string(),
        )
        .await?;
        let (items, extras): (Vec<_>, Vec<_>) = hits
            .into_iter()
            .map(|hit| (hit.feedback, (hit.similarity, hit.near_duplicate)))
            .unzip();
        let items = with_customers(&self.store, items).await?;
        Ok(Response::new(pb::FindSimilarFeedbackResponse {
            hits: items
                .into_iter()
                .zip(extras)
                .map(
                    |(feedback, (similarity, near_duplicate))| pb::SimilarFeedback {
                        feedback: Some(feedback),
                        similarity,
                        near_duplicate,
                    },
                )
                .collect(),
        }))
    }
}
