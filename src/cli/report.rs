//! `triage report`: the satisfaction report as a table (or CSV) for people who would rather read
//! a table than call an RPC.

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::{Error, Result};
use crate::pb;
use crate::pb::satisfaction_service_client::SatisfactionServiceClient;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BucketArg {
    None,
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupArg {
    None,
    Language,
    Channel,
    Topic,
    FlagKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// First day of the period (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub from: NaiveDate,
    /// Day after the period (YYYY-MM-DD, UTC, exclusive).
    #[arg(long)]
    pub to: NaiveDate,
    #[arg(long, value_enum, default_value = "none")]
    pub bucket: BucketArg,
    #[arg(long, value_enum, default_value = "none")]
    pub group_by: GroupArg,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub connection: super::ConnectionArgs,
}

fn timestamp(date: NaiveDate) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: date
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp(),
        nanos: 0,
    }
}

fn number(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

const HEADER: [&str; 13] = [
    "bucket",
    "group",
    "nps",
    "promoters",
    "passives",
    "detractors",
    "nps_responses",
    "csat_%",
    "csat_mean",
    "csat_responses",
    "ces_%",
    "ces_mean",
    "feedback",
];

fn cells(row: &pb::SatisfactionReportRow) -> Vec<String> {
    let nps = row.nps.unwrap_or_default();
    let csat = row.csat.unwrap_or_default();
    let ces = row.ces.unwrap_or_default();
    let bucket = row
        .bucket_start
        .and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, 0))
        .map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string());
    vec![
        bucket,
        row.group_key.clone(),
        number(nps.score),
        nps.promoters.to_string(),
        nps.passives.to_string(),
        nps.detractors.to_string(),
        nps.responses.to_string(),
        number(csat.percent),
        number(csat.mean),
        csat.responses.to_string(),
        number(ces.percent),
        number(ces.mean),
        format!(
            "{} ({} complaints)",
            row.feedback_count, row.complaint_count
        ),
    ]
}

/// Renders rows as an aligned table or as CSV.
pub fn render(rows: &[pb::SatisfactionReportRow], format: Format) -> String {
    let table: Vec<Vec<String>> = std::iter::once(HEADER.iter().map(|h| h.to_string()).collect())
        .chain(rows.iter().map(cells))
        .collect();
    match format {
        Format::Csv => table
            .iter()
            .map(|r| {
                r.iter()
                    .map(|c| {
                        if c.contains([',', '"']) {
                            format!("\"{}\"", c.replace('"', "\"\""))
                        } else {
                            c.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .map(|line| line + "\n")
            .collect(),
        Format::Table => {
            let widths: Vec<usize> = (0..HEADER.len())
                .map(|i| {
                    table
                        .iter()
                        .map(|r| r[i].chars().count())
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            table
                .iter()
                .map(|r| {
                    r.iter()
                        .zip(&widths)
                        .map(|(c, w)| format!("{c:<w$}"))
                        .collect::<Vec<_>>()
                        .join("  ")
                        .trim_end()
                        .to_string()
                        + "\n"
                })
                .collect()
        }
    }
}

pub async fn run(args: &ReportArgs) -> Result<String> {
    let (channel, token) = super::connect(&args.connection).await?;
    let mut client = SatisfactionServiceClient::with_interceptor(channel, token);
    let bucket = match args.bucket {
        BucketArg::None => pb::ReportBucket::None,
        BucketArg::Day => pb::ReportBucket::Day,
        BucketArg::Week => pb::ReportBucket::Week,
        BucketArg::Month => pb::ReportBucket::Month,
    };
    let group_by = match args.group_by {
        GroupArg::None => pb::ReportGroupBy::None,
        GroupArg::Language => pb::ReportGroupBy::Language,
        GroupArg::Channel => pb::ReportGroupBy::Channel,
        GroupArg::Topic => pb::ReportGroupBy::Topic,
        GroupArg::FlagKind => pb::ReportGroupBy::FlagKind,
    };
    let rows = client
        .get_satisfaction_report(pb::GetSatisfactionReportRequest {
            start: Some(timestamp(args.from)),
            end: Some(timestamp(args.to)),
            bucket: bucket as i32,
            group_by: group_by as i32,
            filter: None,
        })
        .await
        .map_err(|status| Error::Client(format!("GetSatisfactionReport: {}", status.message())))?
        .into_inner()
        .rows;
    Ok(render(&rows, args.format))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_table_show_every_count() {
        let row = pb::SatisfactionReportRow {
            group_key: "uk".into(),
            nps: Some(pb::NpsSummary {
                promoters: 1,
                passives: 0,
                detractors: 1,
                responses: 2,
                score: Some(0.0),
            }),
            feedback_count: 3,
            complaint_count: 2,
            ..Default::default()
        };
        let csv = render(std::slice::from_ref(&row), Format::Csv);
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .starts_with(",uk,0.0,1,0,1,2,-,-,0,-,-,3 (2 complaints)"),
            "{csv}"
        );
        let table = render(&[row], Format::Table);
        assert!(table.lines().next().unwrap().starts_with("bucket"));
    }
}
