//! Satisfaction math (DESIGN.md §6): NPS / CSAT / CES summaries, segments, churn risk, and the
//! report's buckets and groups. Pure functions over plain data; the store feeds them.
//!
//! - NPS 0–10: promoters 9–10, passives 7–8, detractors 0–6; NPS = %promoters − %detractors.
//! - CSAT 1–5: satisfied = 4–5; CSAT% = satisfied / responses × 100; also the mean.
//! - CES 1–7: easy = 5–7; CES% = easy / responses × 100; also the mean.
//! - A customer's segment is the one of their latest NPS response.
//!
//! Churn risk and customer profiles are in [`churn`], reports in [`report`].

mod churn;
mod report;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

pub use self::churn::{ChurnInputs, ChurnReason, CustomerProfile, churn_risk, profile};
pub use self::report::{
    GroupBy, ReportFilter, ReportRequest, ReportRow, build_report, counts_suffice,
    report_from_counts,
};
use crate::model::{Score, ScoreKind};

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
}
