//! Satisfaction reports (DESIGN.md §6): scores per time bucket and group.
//!
//! Linkage rule: a survey response counts toward a language, topic or flag kind through the
//! feedback item it is linked to (`feedback_id`, or the feedback it was sent with). A response
//! without a link counts through the customer's feedback created in the 30 days before the
//! response: once for every distinct value among those items. A response with neither counts only
//! in ungrouped and channel reports. Channel grouping uses the response's own channel, or the
//! linked feedback's when the response has none.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::{Bucket, LINK_WINDOW, Scores, bucket_start, bucket_starts};
use crate::model::{FeedbackKind, FlagKind};
use crate::store::{FeedbackCount, FeedbackFacts, ResponseFacts, ScoreCount};

/// What a report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupBy {
    #[default]
    None,
    Language,
    Channel,
    Topic,
    FlagKind,
}

/// Restricts a report; every non-empty list is "any of".
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    pub languages: Vec<String>,
    pub channels: Vec<String>,
    pub topics: Vec<String>,
    pub flag_kinds: Vec<FlagKind>,
}

#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub bucket: Bucket,
    pub group_by: GroupBy,
    pub filter: ReportFilter,
}

/// One row of a report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportRow {
    pub bucket_start: DateTime<Utc>,
    pub group_key: String,
    pub scores: Scores,
    pub feedback_count: u64,
    pub complaint_count: u64,
}

/// The values of one feedback item along the grouping dimension.
fn values_of(group_by: GroupBy, feedback: &FeedbackFacts) -> Vec<String> {
    match group_by {
        GroupBy::None => vec![String::new()],
        GroupBy::Language => vec![feedback.language.clone()],
        GroupBy::Channel => vec![feedback.channel.clone()],
        GroupBy::Topic => feedback.topics.clone(),
        GroupBy::FlagKind => feedback
            .flags
            .iter()
            .map(|f| f.as_str().to_string())
            .collect(),
    }
}

fn passes(filter: &ReportFilter, items: &[&FeedbackFacts], channel: &str) -> bool {
    (filter.channels.is_empty() || filter.channels.iter().any(|c| c == channel))
        && (filter.languages.is_empty()
            || items.iter().any(|f| filter.languages.contains(&f.language)))
        && (filter.topics.is_empty()
            || items
                .iter()
                .any(|f| f.topics.iter().any(|t| filter.topics.contains(t))))
        && (filter.flag_kinds.is_empty()
            || items
                .iter()
                .any(|f| f.flags.iter().any(|k| filter.flag_kinds.contains(k))))
}

type Rows = BTreeMap<(DateTime<Utc>, String), ReportRow>;

/// The row of a bucket and group, created empty on first use.
fn row(rows: &mut Rows, bucket: DateTime<Utc>, key: String) -> &mut ReportRow {
    rows.entry((bucket, key.clone()))
        .or_insert_with(|| ReportRow {
            bucket_start: bucket,
            group_key: key,
            ..ReportRow::default()
        })
}

/// Whether a report can be aggregated from database counts: any grouping, but no filter by
/// language, topic or flag kind (those need each response's linked feedback as a whole).
pub fn counts_suffice(request: &ReportRequest) -> bool {
    request.filter.languages.is_empty()
        && request.filter.topics.is_empty()
        && request.filter.flag_kinds.is_empty()
}

/// Report rows from database counts (see [`counts_suffice`]).
pub fn report_from_counts(
    request: &ReportRequest,
    scores: &[ScoreCount],
    feedback: &[FeedbackCount],
) -> Vec<ReportRow> {
    let wanted = |channel: &str| {
        request.filter.channels.is_empty() || request.filter.channels.iter().any(|c| c == channel)
    };
    let start_of = |day: DateTime<Utc>| bucket_start(request.bucket, day, request.start);
    let key = |channel: &str, key: &str| match request.group_by {
        GroupBy::None => String::new(),
        GroupBy::Channel => channel.to_string(),
        GroupBy::Language | GroupBy::Topic | GroupBy::FlagKind => key.to_string(),
    };
    let mut rows: Rows = BTreeMap::new();
    for count in scores.iter().filter(|c| wanted(&c.channel)) {
        row(
            &mut rows,
            start_of(count.day),
            key(&count.channel, &count.key),
        )
        .scores
        .add_many(count.score, count.count);
    }
    for count in feedback.iter().filter(|c| wanted(&c.channel)) {
        let target = row(
            &mut rows,
            start_of(count.day),
            key(&count.channel, &count.key),
        );
        target.feedback_count += count.feedback;
        target.complaint_count += count.complaints;
    }
    if request.group_by == GroupBy::None {
        for bucket in bucket_starts(request.bucket, request.start, request.end) {
            row(&mut rows, bucket, String::new());
        }
    }
    rows.into_values().collect()
}

/// Aggregates responses and feedback into report rows, following the linkage rule of this
/// module's documentation. `feedback` must hold the items created from `LINK_WINDOW` before the
/// start to the end, and every item a response links to.
pub fn build_report(
    request: &ReportRequest,
    responses: &[ResponseFacts],
    feedback: &[FeedbackFacts],
) -> Vec<ReportRow> {
    let by_id: HashMap<&str, &FeedbackFacts> =
        feedback.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut by_customer: HashMap<&str, Vec<&FeedbackFacts>> = HashMap::new();
    for item in feedback {
        by_customer
            .entry(item.customer_id.as_str())
            .or_default()
            .push(item);
    }
    let mut rows: Rows = BTreeMap::new();
    for response in responses {
        let context: Vec<&FeedbackFacts> =
            match response.feedback_id.as_deref().and_then(|id| by_id.get(id)) {
                Some(linked) => vec![*linked],
                None => by_customer
                    .get(response.customer_id.as_str())
                    .map(|items| {
                        items
                            .iter()
                            .copied()
                            .filter(|f| {
                                f.created_at <= response.responded_at
                                    && f.created_at >= response.responded_at - LINK_WINDOW
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            };
        let linked_channel = response
            .feedback_id
            .as_deref()
            .and_then(|id| by_id.get(id))
            .map_or("", |f| f.channel.as_str());
        let channel = if response.channel.is_empty() {
            linked_channel
        } else {
            response.channel.as_str()
        };
        if !passes(&request.filter, &context, channel) {
            continue;
        }
        let keys: BTreeSet<String> = match request.group_by {
            GroupBy::None => BTreeSet::from([String::new()]),
            GroupBy::Channel => BTreeSet::from([channel.to_string()]),
            dimension => context
                .iter()
                .flat_map(|f| values_of(dimension, f))
                .collect(),
        };
        let bucket = bucket_start(request.bucket, response.responded_at, request.start);
        for key in keys {
            row(&mut rows, bucket, key).scores.add(response.score);
        }
    }
    for item in feedback {
        if item.created_at < request.start || item.created_at >= request.end {
            continue;
        }
        if !passes(&request.filter, &[item], &item.channel) {
            continue;
        }
        let bucket = bucket_start(request.bucket, item.created_at, request.start);
        let keys: BTreeSet<String> = values_of(request.group_by, item).into_iter().collect();
        for key in keys {
            let target = row(&mut rows, bucket, key);
            target.feedback_count += 1;
            target.complaint_count += u64::from(item.kind == FeedbackKind::Complaint);
        }
    }
    if request.group_by == GroupBy::None {
        for bucket in bucket_starts(request.bucket, request.start, request.end) {
            row(&mut rows, bucket, String::new());
        }
    }
    rows.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Score, ScoreKind};

    fn facts(id: &str, customer: &str, at: &str, language: &str, topics: &[&str]) -> FeedbackFacts {
        FeedbackFacts {
            id: id.into(),
            customer_id: customer.into(),
            created_at: at.parse().unwrap(),
            language: language.into(),
            channel: "email".into(),
            kind: FeedbackKind::Complaint,
            topics: topics.iter().map(|t| t.to_string()).collect(),
            flags: Vec::new(),
            polarity: 0.0,
            resolved: false,
        }
    }

    fn response(customer: &str, at: &str, value: i32, linked: Option<&str>) -> ResponseFacts {
        ResponseFacts {
            customer_id: customer.into(),
            score: Score {
                kind: ScoreKind::Nps,
                value,
            },
            responded_at: at.parse().unwrap(),
            channel: "app".into(),
            feedback_id: linked.map(str::to_string),
        }
    }

    #[test]
    fn responses_count_through_linked_or_recent_feedback() {
        let feedback = [
            facts("f1", "a", "2026-11-02T10:00:00Z", "uk", &["delivery"]),
            facts("f2", "b", "2026-10-01T10:00:00Z", "sl", &["pricing"]),
            facts(
                "f3",
                "b",
                "2026-11-03T10:00:00Z",
                "ru",
                &["delivery", "pricing"],
            ),
        ];
        let responses = [
            // Linked: counts for f1's language only.
            response("a", "2026-11-05T10:00:00Z", 10, Some("f1")),
            // Unlinked: b's feedback of the 30 days before is f3 (f2 is older).
            response("b", "2026-11-06T10:00:00Z", 2, None),
            // Nobody's feedback: only in ungrouped and channel reports.
            response("c", "2026-11-06T10:00:00Z", 8, None),
        ];
        let request = |group_by| ReportRequest {
            start: "2026-11-01T00:00:00Z".parse().unwrap(),
            end: "2026-12-01T00:00:00Z".parse().unwrap(),
            bucket: Bucket::None,
            group_by,
            filter: ReportFilter::default(),
        };
        let by_language = build_report(&request(GroupBy::Language), &responses, &feedback);
        let keys: Vec<_> = by_language
            .iter()
            .map(|r| {
                (
                    r.group_key.as_str(),
                    r.scores.nps.responses(),
                    r.feedback_count,
                )
            })
            .collect();
        assert_eq!(keys, [("ru", 1, 1), ("uk", 1, 1)]);
        let by_topic = build_report(&request(GroupBy::Topic), &responses, &feedback);
        let delivery = by_topic.iter().find(|r| r.group_key == "delivery").unwrap();
        assert_eq!(
            delivery.scores.nps.score(),
            Some(0.0),
            "one promoter, one detractor"
        );
        let all = build_report(&request(GroupBy::None), &responses, &feedback);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].scores.nps.responses(), 3);
        assert_eq!(all[0].feedback_count, 2, "f2 is before the period");
    }

    #[test]
    fn empty_buckets_report_zero_and_no_score() {
        let request = ReportRequest {
            start: "2026-11-01T00:00:00Z".parse().unwrap(),
            end: "2026-11-04T00:00:00Z".parse().unwrap(),
            bucket: Bucket::Day,
            group_by: GroupBy::None,
            filter: ReportFilter::default(),
        };
        let rows = build_report(
            &request,
            &[response("a", "2026-11-02T12:00:00Z", 9, None)],
            &[],
        );
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].scores.nps.responses(), 0);
        assert_eq!(rows[0].scores.nps.score(), None);
        assert_eq!(rows[1].scores.nps.score(), Some(100.0));
    }
}
