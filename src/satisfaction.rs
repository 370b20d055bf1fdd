//! Satisfaction math (DESIGN.md §6): NPS / CSAT / CES summaries, segments, churn risk, and the
//! report's buckets and groups. Pure functions over plain data; the store feeds them.
//!
//! - NPS 0–10: promoters 9–10, passives 7–8, detractors 0–6; NPS = %promoters − %detractors.
//! - CSAT 1–5: satisfied = 4–5; CSAT% = satisfied / responses × 100; also the mean.
//! - CES 1–7: easy = 5–7; CES% = easy / responses × 100; also the mean.
//! - A customer's segment is the one of their latest NPS response.
//!
//! Report linkage rule: a survey response counts toward a language, topic or flag kind through
//! the feedback item it is linked to (`feedback_id`, or the feedback it was sent with). A response
//! without a link counts through the customer's feedback created in the 30 days before the
//! response: once for every distinct value among those items. A response with neither counts only
//! in ungrouped and channel reports. Channel grouping uses the response's own channel, or the
//! linked feedback's when the response has none.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

use crate::model::{CustomerSnapshot, FeedbackKind, FlagKind, Score, ScoreKind};
use crate::store::{FeedbackCount, FeedbackFacts, ProfileFacts, ResponseFacts, ScoreCount};

/// How far back unlinked responses look for the customer's feedback.
pub const LINK_WINDOW: Duration = Duration::days(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Segment {
    #[default]
    None,
    Promoter,
    Passive,
    Detractor,
}

pub fn segment_of(nps: i32) -> Segment {
    match nps {
        9..=10 => Segment::Promoter,
        7..=8 => Segment::Passive,
        _ => Segment::Detractor,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NpsSummary {
    pub promoters: u64,
    pub passives: u64,
    pub detractors: u64,
}

impl NpsSummary {
    pub fn responses(&self) -> u64 {
        self.promoters + self.passives + self.detractors
    }

    /// −100..100; `None` without responses.
    pub fn score(&self) -> Option<f64> {
        let n = self.responses();
        (n > 0).then(|| (self.promoters as f64 - self.detractors as f64) * 100.0 / n as f64)
    }
}

/// CSAT or CES: responses, the "good" ones (satisfied / easy), and the sum for the mean.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ShareSummary {
    pub responses: u64,
    pub good: u64,
    pub sum: i64,
}

impl ShareSummary {
    pub fn percent(&self) -> Option<f64> {
        (self.responses > 0).then(|| self.good as f64 * 100.0 / self.responses as f64)
    }

    pub fn mean(&self) -> Option<f64> {
        (self.responses > 0).then(|| self.sum as f64 / self.responses as f64)
    }
}

/// The three scales together.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Scores {
    pub nps: NpsSummary,
    pub csat: ShareSummary,
    pub ces: ShareSummary,
}

impl Scores {
    pub fn add(&mut self, score: Score) {
        self.add_many(score, 1);
    }

    /// Adds `count` responses of the same score (for counts aggregated by the database).
    pub fn add_many(&mut self, score: Score, count: u64) {
        let value = score.value;
        let share = |summary: &mut ShareSummary, good: bool| {
            summary.responses += count;
            summary.good += if good { count } else { 0 };
            summary.sum += i64::from(value) * count as i64;
        };
        match score.kind {
            ScoreKind::Nps => match segment_of(value) {
                Segment::Promoter => self.nps.promoters += count,
                Segment::Passive => self.nps.passives += count,
                _ => self.nps.detractors += count,
            },
            ScoreKind::Csat => share(&mut self.csat, value >= 4),
            ScoreKind::Ces => share(&mut self.ces, value >= 5),
        }
    }
}

/// Report time buckets (UTC; weeks are ISO weeks starting on Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bucket {
    #[default]
    None,
    Day,
    Week,
    Month,
}

fn midnight(date: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

/// The start of the bucket `time` falls in; with [`Bucket::None`], the report's start.
pub fn bucket_start(
    bucket: Bucket,
    time: DateTime<Utc>,
    report_start: DateTime<Utc>,
) -> DateTime<Utc> {
    let date = time.date_naive();
    match bucket {
        Bucket::None => report_start,
        Bucket::Day => midnight(date),
        Bucket::Week => {
            midnight(date - Duration::days(i64::from(date.weekday().num_days_from_monday())))
        }
        Bucket::Month => midnight(date.with_day(1).expect("the first exists")),
    }
}

/// Every bucket start from the one containing `start` up to `end` (exclusive).
pub fn bucket_starts(
    bucket: Bucket,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    if bucket == Bucket::None {
        return vec![start];
    }
    let mut starts = Vec::new();
    let mut current = bucket_start(bucket, start, start);
    while current < end {
        starts.push(current);
        let date = current.date_naive();
        current = match bucket {
            Bucket::Day => midnight(date + Duration::days(1)),
            Bucket::Week => midnight(date + Duration::days(7)),
            Bucket::Month => {
                let (year, month) = if date.month() == 12 {
                    (date.year() + 1, 1)
                } else {
                    (date.year(), date.month() + 1)
                };
                midnight(NaiveDate::from_ymd_opt(year, month, 1).expect("valid month"))
            }
            Bucket::None => unreachable!("handled above"),
        };
    }
    starts
}

/// A reason the churn risk was raised, with its weight.
#[derive(Debug, Clone, PartialEq)]
pub struct ChurnReason {
    pub code: &'static str,
    pub description: String,
    pub weight: f64,
}

/// What churn risk is computed from.
#[derive(Debug, Clone, Default)]
pub struct ChurnInputs {
    /// NPS values, oldest first.
    pub nps_history: Vec<i32>,
    pub csat_mean: Option<f64>,
    pub repeated_complaints: u64,
    pub complaints_last_90_days: u64,
    pub unresolved_complaints: u64,
    /// Mean polarity of the customer's feedback in the last 30 days, if any.
    pub recent_polarity: Option<f64>,
}

/// Churn risk in 0..1, the sum of the weights of the reasons that apply (capped at 1):
/// detractor 0.35 (passive 0.1); NPS fell by 2 or more since the previous answer 0.2; repeated
/// complaints 0.15 (or three complaints in 90 days 0.1); unresolved complaints 0.1 (three or
/// more 0.2); recent feedback clearly negative (mean polarity ≤ −0.3) 0.2; CSAT mean ≤ 2.5 0.1.
pub fn churn_risk(inputs: &ChurnInputs) -> (f64, Vec<ChurnReason>) {
    let mut reasons = Vec::new();
    let mut add = |code, description: String, weight| {
        reasons.push(ChurnReason {
            code,
            description,
            weight,
        })
    };
    if let Some(&latest) = inputs.nps_history.last() {
        match segment_of(latest) {
            Segment::Detractor => add(
                "detractor",
                format!("Latest NPS is {latest}, a detractor."),
                0.35,
            ),
            Segment::Passive => add(
                "passive",
                format!("Latest NPS is {latest}, a passive."),
                0.1,
            ),
            _ => {}
        }
        if let Some(&previous) = inputs.nps_history.iter().rev().nth(1)
            && previous - latest >= 2
        {
            add(
                "falling_nps",
                format!("NPS fell from {previous} to {latest}."),
                0.2,
            );
        }
    }
    if inputs.repeated_complaints > 0 {
        add(
            "repeated_complaints",
            format!(
                "{} repeated complaints about the same problem.",
                inputs.repeated_complaints
            ),
            0.15,
        );
    } else if inputs.complaints_last_90_days >= 3 {
        add(
            "frequent_complaints",
            format!(
                "{} complaints in the last 90 days.",
                inputs.complaints_last_90_days
            ),
            0.1,
        );
    }
    match inputs.unresolved_complaints {
        0 => {}
        n @ 1..=2 => add(
            "unresolved_complaints",
            format!("{n} complaints without a resolution."),
            0.1,
        ),
        n => add(
            "unresolved_complaints",
            format!("{n} complaints without a resolution."),
            0.2,
        ),
    }
    if let Some(polarity) = inputs.recent_polarity
        && polarity <= -0.3
    {
        add(
            "negative_recent_feedback",
            format!(
                "Feedback of the last 30 days is clearly negative (mean polarity {polarity:.2})."
            ),
            0.2,
        );
    }
    if let Some(mean) = inputs.csat_mean
        && mean <= 2.5
    {
        add("low_csat", format!("Mean CSAT is {mean:.1}."), 0.1);
    }
    let risk = reasons.iter().map(|r| r.weight).sum::<f64>().min(1.0);
    (risk, reasons)
}

/// A customer's satisfaction and feedback history.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerProfile {
    pub snapshot: CustomerSnapshot,
    pub feedback_count: u64,
    pub complaint_count: u64,
    pub flagged_count: u64,
    pub repeated_count: u64,
    /// Complaints without a resolution.
    pub unresolved_count: u64,
    pub first_contact: Option<DateTime<Utc>>,
    pub last_contact: Option<DateTime<Utc>>,
    pub churn_risk: f64,
    pub churn_reasons: Vec<ChurnReason>,
}

/// Builds a profile from the stored facts, as of `now`.
pub fn profile(facts: &ProfileFacts, now: DateTime<Utc>) -> CustomerProfile {
    let complaints: Vec<&FeedbackFacts> = facts
        .feedback
        .iter()
        .filter(|f| f.kind == FeedbackKind::Complaint)
        .collect();
    let recent: Vec<f64> = facts
        .feedback
        .iter()
        .filter(|f| f.created_at >= now - Duration::days(30))
        .map(|f| f.polarity)
        .collect();
    let repeated_count = facts
        .feedback
        .iter()
        .filter(|f| f.flags.contains(&FlagKind::RepeatComplaint))
        .count() as u64;
    let unresolved_count = complaints.iter().filter(|f| !f.resolved).count() as u64;
    let (churn_risk, churn_reasons) = churn_risk(&ChurnInputs {
        nps_history: facts.nps_history.clone(),
        csat_mean: facts.snapshot.csat_mean,
        repeated_complaints: repeated_count,
        complaints_last_90_days: complaints
            .iter()
            .filter(|f| f.created_at >= now - Duration::days(90))
            .count() as u64,
        unresolved_complaints: unresolved_count,
        recent_polarity: (!recent.is_empty())
            .then(|| recent.iter().sum::<f64>() / recent.len() as f64),
    });
    let contacts = facts
        .feedback
        .iter()
        .map(|f| f.created_at)
        .chain(facts.first_response)
        .chain(facts.last_response);
    CustomerProfile {
        snapshot: facts.snapshot.clone(),
        feedback_count: facts.feedback.len() as u64,
        complaint_count: complaints.len() as u64,
        flagged_count: facts
            .feedback
            .iter()
            .filter(|f| !f.flags.is_empty())
            .count() as u64,
        repeated_count,
        unresolved_count,
        first_contact: contacts.clone().min(),
        last_contact: contacts.max(),
        churn_risk,
        churn_reasons,
    }
}

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

    fn nps(values: &[i32]) -> NpsSummary {
        let mut scores = Scores::default();
        for value in values {
            scores.add(Score {
                kind: ScoreKind::Nps,
                value: *value,
            });
        }
        scores.nps
    }

    #[test]
    fn nps_boundaries_and_score() {
        let summary = nps(&[6, 7, 8, 9]);
        assert_eq!(
            (summary.detractors, summary.passives, summary.promoters),
            (1, 2, 1)
        );
        assert_eq!(summary.score(), Some(0.0));
        assert_eq!(nps(&[0, 3, 6]).score(), Some(-100.0));
        assert_eq!(nps(&[9, 10]).score(), Some(100.0));
        assert_eq!(nps(&[10, 10, 10, 0]).score(), Some(50.0));
        assert_eq!(nps(&[]).score(), None);
    }

    #[test]
    fn csat_and_ces_shares() {
        let mut scores = Scores::default();
        for value in [3, 4, 5, 1] {
            scores.add(Score {
                kind: ScoreKind::Csat,
                value,
            });
        }
        assert_eq!(scores.csat.good, 2);
        assert_eq!(scores.csat.percent(), Some(50.0));
        assert_eq!(scores.csat.mean(), Some(3.25));
        for value in [4, 5, 7] {
            scores.add(Score {
                kind: ScoreKind::Ces,
                value,
            });
        }
        assert_eq!(scores.ces.good, 2);
        assert!((scores.ces.percent().unwrap() - 66.666).abs() < 0.01);
        assert_eq!(ShareSummary::default().percent(), None);
    }

    #[test]
    fn buckets_follow_iso_weeks_and_months() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // 2026-11-01 is a Sunday: its ISO week starts on Monday 2026-10-26.
        assert_eq!(
            bucket_start(
                Bucket::Week,
                t("2026-11-01T23:59:59Z"),
                t("2026-01-01T00:00:00Z")
            ),
            t("2026-10-26T00:00:00Z")
        );
        assert_eq!(
            bucket_start(
                Bucket::Week,
                t("2026-11-02T00:00:00Z"),
                t("2026-01-01T00:00:00Z")
            ),
            t("2026-11-02T00:00:00Z")
        );
        assert_eq!(
            bucket_start(
                Bucket::Month,
                t("2026-12-31T23:59:59Z"),
                t("2026-01-01T00:00:00Z")
            ),
            t("2026-12-01T00:00:00Z")
        );
        let months = bucket_starts(
            Bucket::Month,
            t("2026-11-15T00:00:00Z"),
            t("2027-02-01T00:00:00Z"),
        );
        assert_eq!(
            months,
            [
                t("2026-11-01T00:00:00Z"),
                t("2026-12-01T00:00:00Z"),
                t("2027-01-01T00:00:00Z")
            ]
        );
        assert_eq!(
            bucket_starts(
                Bucket::Day,
                t("2026-11-01T10:00:00Z"),
                t("2026-11-03T00:00:00Z")
            )
            .len(),
            2
        );
    }

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

    #[test]
    fn churn_risk_names_its_reasons() {
        let (risk, reasons) = churn_risk(&ChurnInputs {
            nps_history: vec![9, 3],
            unresolved_complaints: 1,
            recent_polarity: Some(-0.6),
            ..ChurnInputs::default()
        });
        let codes: Vec<_> = reasons.iter().map(|r| r.code).collect();
        assert_eq!(
            codes,
            [
                "detractor",
                "falling_nps",
                "unresolved_complaints",
                "negative_recent_feedback"
            ]
        );
        assert!((risk - 0.85).abs() < 1e-9);
        let (calm, none) = churn_risk(&ChurnInputs {
            nps_history: vec![10],
            ..ChurnInputs::default()
        });
        assert_eq!((calm, none.len()), (0.0, 0));
    }
}
