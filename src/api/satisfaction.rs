//! `triage.v1.SatisfactionService`: survey responses, customer profiles, reports.

use chrono::{SubsecRound, TimeDelta, Utc};
use tonic::{Request, Response, Status};

use super::convert::{self, timestamp_from_proto, timestamp_to_proto};
use crate::config::Limits;
use crate::error::{Error, FieldViolation, Result};
use crate::model::{FlagKind, SurveyResponse};
use crate::pb;
use crate::satisfaction::{
    self, Bucket, GroupBy, LINK_WINDOW, ReportFilter, ReportRequest, ReportRow,
};
use crate::store::{FeedbackFacts, ReportDimension, Store};

pub struct SatisfactionApi {
    store: Store,
    limits: Limits,
}

impl SatisfactionApi {
    pub fn new(store: Store, limits: Limits) -> SatisfactionApi {
        SatisfactionApi { store, limits }
    }
}

fn survey_to_proto(response: SurveyResponse) -> pb::SurveyResponse {
    pb::SurveyResponse {
        id: response.id,
        external_id: response.external_id,
        customer_id: response.customer_id,
        score: Some(pb::Score {
            kind: convert::score_kind_to_proto(response.score.kind) as i32,
            value: response.score.value,
        }),
        responded_at: Some(timestamp_to_proto(response.responded_at)),
        channel: response.channel,
        feedback_id: response.feedback_id.unwrap_or_default(),
    }
}

/// Validates and converts a survey response (every field violation at once).
pub fn survey_from_proto(
    response: Option<pb::SurveyResponse>,
    limits: &Limits,
) -> Result<SurveyResponse> {
    let response = response.ok_or_else(|| Error::invalid("response", "is required"))?;
    let now = Utc::now().trunc_subsecs(6);
    let mut violations = Vec::new();
    let mut required = |field: &str, value: &str| {
        if value.trim().is_empty() {
            violations.push(FieldViolation::new(field, "is required"));
        } else if value.chars().count() > limits.max_id_chars {
            violations.push(FieldViolation::new(
                field,
                format!("is longer than {} characters", limits.max_id_chars),
            ));
        }
    };
    required("response.external_id", &response.external_id);
    required("response.customer_id", &response.customer_id);
    if response.channel.chars().count() > limits.max_channel_chars {
        violations.push(FieldViolation::new(
            "response.channel",
            format!("is longer than {} characters", limits.max_channel_chars),
        ));
    }
    let score = match convert::score_from_proto_checked(response.score.as_ref(), "response.score") {
        Ok(score) => Some(score),
        Err(Error::InvalidArgument(found)) => {
            violations.extend(found);
            None
        }
        Err(other) => return Err(other),
    };
    let responded_at = match &response.responded_at {
        None => now,
        Some(time) => match timestamp_from_proto(time) {
            Some(time) if time > now + TimeDelta::minutes(5) => {
                violations.push(FieldViolation::new(
                    "response.responded_at",
                    "is more than 5 minutes in the future",
                ));
                now
            }
            Some(time) => time.trunc_subsecs(6),
            None => {
                violations.push(FieldViolation::new(
                    "response.responded_at",
                    "is not a valid timestamp",
                ));
                now
            }
        },
    };
    match score {
        Some(score) if violations.is_empty() => Ok(SurveyResponse {
            id: uuid::Uuid::now_v7().to_string(),
            external_id: response.external_id,
            customer_id: response.customer_id,
            score,
            responded_at,
            channel: response.channel,
            feedback_id: Some(response.feedback_id).filter(|id| !id.is_empty()),
        }),
        _ => Err(Error::InvalidArgument(violations)),
    }
}

/// Validates and converts a report request (every field violation at once).
pub fn report_request(request: pb::GetSatisfactionReportRequest) -> Result<ReportRequest> {
    let mut violations = Vec::new();
    let mut time = |value: &Option<prost_types::Timestamp>, field: &str| match value {
        None => {
            violations.push(FieldViolation::new(field, "is required"));
            None
        }
        Some(t) => {
            let converted = timestamp_from_proto(t);
            if converted.is_none() {
                violations.push(FieldViolation::new(field, "is not a valid timestamp"));
            }
            converted
        }
    };
    let start = time(&request.start, "start");
    let end = time(&request.end, "end");
    if let (Some(start), Some(end)) = (start, end)
        && end <= start
    {
        violations.push(FieldViolation::new("end", "must be after start"));
    }
    let bucket = match pb::ReportBucket::try_from(request.bucket) {
        Ok(pb::ReportBucket::Unspecified | pb::ReportBucket::None) => Bucket::None,
        Ok(pb::ReportBucket::Day) => Bucket::Day,
        Ok(pb::ReportBucket::Week) => Bucket::Week,
        Ok(pb::ReportBucket::Month) => Bucket::Month,
        Err(_) => {
            violations.push(FieldViolation::new(
                "bucket",
                format!("{} is not a ReportBucket", request.bucket),
            ));
            Bucket::None
        }
    };
    let group_by = match pb::ReportGroupBy::try_from(request.group_by) {
        Ok(pb::ReportGroupBy::Unspecified | pb::ReportGroupBy::None) => GroupBy::None,
        Ok(pb::ReportGroupBy::Language) => GroupBy::Language,
        Ok(pb::ReportGroupBy::Channel) => GroupBy::Channel,
        Ok(pb::ReportGroupBy::Topic) => GroupBy::Topic,
        Ok(pb::ReportGroupBy::FlagKind) => GroupBy::FlagKind,
        Err(_) => {
            violations.push(FieldViolation::new(
                "group_by",
                format!("{} is not a ReportGroupBy", request.group_by),
            ));
            GroupBy::None
        }
    };
    let filter = request.filter.unwrap_or_default();
    let mut flag_kinds = Vec::new();
    for (i, kind) in filter.flag_kinds.iter().enumerate() {
        match convert::flag_kind_from_proto(*kind) {
            Some(kind) => flag_kinds.push(kind),
            None => violations.push(FieldViolation::new(
                format!("filter.flag_kinds[{i}]"),
                format!("{kind} is not a FlagKind"),
            )),
        }
    }
    match (start, end) {
        (Some(start), Some(end)) if violations.is_empty() => Ok(ReportRequest {
            start,
            end,
            bucket,
            group_by,
            filter: ReportFilter {
                languages: filter.languages,
                channels: filter.channels,
                topics: filter.topics,
                flag_kinds,
            },
        }),
        _ => Err(Error::InvalidArgument(violations)),
    }
}

/// The report's group key as clients see it: flag kinds by their enum name.
fn group_key_to_proto(group_by: GroupBy, key: String) -> String {
    match group_by {
        GroupBy::FlagKind => FlagKind::parse(&key)
            .map(|k| convert::flag_kind_to_proto(k).as_str_name().to_string())
            .unwrap_or(key),
        _ => key,
    }
}

fn row_to_proto(group_by: GroupBy, row: ReportRow) -> pb::SatisfactionReportRow {
    let scores = row.scores;
    pb::SatisfactionReportRow {
        bucket_start: Some(timestamp_to_proto(row.bucket_start)),
        group_key: group_key_to_proto(group_by, row.group_key),
        nps: Some(pb::NpsSummary {
            promoters: scores.nps.promoters as i64,
            passives: scores.nps.passives as i64,
            detractors: scores.nps.detractors as i64,
            responses: scores.nps.responses() as i64,
            score: scores.nps.score(),
        }),
        csat: Some(pb::CsatSummary {
            responses: scores.csat.responses as i64,
            satisfied: scores.csat.good as i64,
            percent: scores.csat.percent(),
            mean: scores.csat.mean(),
        }),
        ces: Some(pb::CesSummary {
            responses: scores.ces.responses as i64,
            easy: scores.ces.good as i64,
            percent: scores.ces.percent(),
            mean: scores.ces.mean(),
        }),
        feedback_count: row.feedback_count as i64,
        complaint_count: row.complaint_count as i64,
    }
}

/// Runs a report: reads the facts, fetches linked feedback older than the window, aggregates.
/// A report, from the database's counts when it can aggregate it (no language, topic or flag
/// filter), from the responses and feedback themselves otherwise.
pub async fn run_report(store: &Store, request: &ReportRequest) -> Result<Vec<ReportRow>> {
    if satisfaction::counts_suffice(request) {
        report_from_counts(store, request).await
    } else {
        report_from_rows(store, request).await
    }
}

/// A report aggregated by the database (per-day tables and SQL).
pub async fn report_from_counts(store: &Store, request: &ReportRequest) -> Result<Vec<ReportRow>> {
    let dimension = match request.group_by {
        GroupBy::None | GroupBy::Channel => None,
        GroupBy::Language => Some(ReportDimension::Language),
        GroupBy::Topic => Some(ReportDimension::Topic),
        GroupBy::FlagKind => Some(ReportDimension::FlagKind),
    };
    let (scores, feedback) = store
        .report_counts(request.start, request.end, dimension, LINK_WINDOW)
        .await?;
    Ok(satisfaction::report_from_counts(
        request, &scores, &feedback,
    ))
}

/// A report computed from every response and feedback item of the period (any filter).
pub async fn report_from_rows(store: &Store, request: &ReportRequest) -> Result<Vec<ReportRow>> {
    let (responses, mut feedback) = store
        .report_facts(request.start, request.end, request.start - LINK_WINDOW)
        .await?;
    let known: std::collections::HashSet<&str> = feedback.iter().map(|f| f.id.as_str()).collect();
    let missing: Vec<String> = responses
        .iter()
        .filter_map(|r| r.feedback_id.clone())
        .filter(|id| !known.contains(id.as_str()))
        .collect();
    if !missing.is_empty() {
        let older = store.get_feedback_many(&missing).await?;
        feedback.extend(older.values().map(FeedbackFacts::from));
    }
    Ok(satisfaction::build_report(request, &responses, &feedback))
}

#[tonic::async_trait]
impl pb::satisfaction_service_server::SatisfactionService for SatisfactionApi {
    async fn record_survey_response(
        &self,
        request: Request<pb::RecordSurveyResponseRequest>,
    ) -> Result<Response<pb::SurveyResponse>, Status> {
        let response = survey_from_proto(request.into_inner().response, &self.limits)?;
        let (stored, _) = self.store.record_survey(response).await?;
        Ok(Response::new(survey_to_proto(stored)))
    }

    async fn get_customer_profile(
        &self,
        request: Request<pb::GetCustomerProfileRequest>,
    ) -> Result<Response<pb::CustomerProfile>, Status> {
        let customer_id = request.into_inner().customer_id;
        if customer_id.trim().is_empty() {
            return Err(Error::invalid("customer_id", "is required").into());
        }
        let facts = self.store.profile_facts(&customer_id).await?;
        if facts.feedback.is_empty()
            && facts.nps_history.is_empty()
            && facts.first_response.is_none()
        {
            return Err(Error::NotFound(format!(
                "no feedback or survey answers from customer {customer_id:?}"
            ))
            .into());
        }
        let profile = satisfaction::profile(&facts, Utc::now());
        let snapshot = convert::snapshot_to_proto(profile.snapshot.clone());
        Ok(Response::new(pb::CustomerProfile {
            customer_id,
            latest_nps: snapshot.latest_nps,
            segment: snapshot.segment,
            nps: Some(pb::ScoreSummary {
                count: snapshot.nps_count,
                mean: (!facts.nps_history.is_empty()).then(|| {
                    facts.nps_history.iter().map(|v| f64::from(*v)).sum::<f64>()
                        / facts.nps_history.len() as f64
                }),
            }),
            csat: Some(pb::ScoreSummary {
                count: snapshot.csat_count,
                mean: snapshot.csat_mean,
            }),
            ces: Some(pb::ScoreSummary {
                count: snapshot.ces_count,
                mean: snapshot.ces_mean,
            }),
            feedback_count: profile.feedback_count as i64,
            complaint_count: profile.complaint_count as i64,
            flagged_count: profile.flagged_count as i64,
            repeated_count: profile.repeated_count as i64,
            unresolved_count: profile.unresolved_count as i64,
            first_contact_at: profile.first_contact.map(timestamp_to_proto),
            last_contact_at: profile.last_contact.map(timestamp_to_proto),
            churn_risk: profile.churn_risk,
            churn_risk_reasons: profile
                .churn_reasons
                .into_iter()
                .map(|r| pb::ChurnRiskReason {
                    code: r.code.to_string(),
                    description: r.description,
                    weight: r.weight,
                })
                .collect(),
        }))
    }

    async fn get_satisfaction_report(
        &self,
        request: Request<pb::GetSatisfactionReportRequest>,
    ) -> Result<Response<pb::GetSatisfactionReportResponse>, Status> {
        let request = report_request(request.into_inner())?;
        let rows = run_report(&self.store, &request).await?;
        Ok(Response::new(pb::GetSatisfactionReportResponse {
            rows: rows
                .into_iter()
                .map(|row| row_to_proto(request.group_by, row))
                .collect(),
        }))
    }
}
