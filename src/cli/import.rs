//! `triage import FILE`: streams a JSON Lines file of `NewFeedback` objects through
//! `ImportFeedback`, with a progress bar, and summarises what was created, already there, or
//! rejected (with line numbers and reasons). Re-running a file creates nothing new because
//! `external_id` is the idempotency key.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::connect;
use crate::api::convert::timestamp_to_proto;
use crate::error::{Error, Result};
use crate::pb;
use crate::pb::feedback_service_client::FeedbackServiceClient;

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// JSON Lines file, one NewFeedback object per line (proto JSON field names); `-` for stdin.
    pub file: PathBuf,
    #[command(flatten)]
    pub connection: super::ConnectionArgs,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportSummary {
    pub created: u64,
    pub already_existed: u64,
    /// (line number, reason), in line order.
    pub rejected: Vec<(usize, String)>,
    /// Lines sent but never answered because the stream broke off.
    pub unanswered: u64,
}

/// One line of the file. Field names follow the proto; the proto3 JSON camelCase names are
/// accepted too. Unknown fields are refused so a typo is not silently dropped.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonFeedback {
    #[serde(default, alias = "externalId")]
    external_id: String,
    #[serde(default, alias = "customerId")]
    customer_id: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    kind: Option<JsonEnum>,
    #[serde(default)]
    channel: String,
    #[serde(default, alias = "createdAt")]
    created_at: Option<DateTime<Utc>>,
    #[serde(default, alias = "languageHint")]
    language_hint: String,
    #[serde(default)]
    score: Option<JsonScore>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonScore {
    kind: JsonEnum,
    value: i32,
}

/// An enum given by name (`"FEEDBACK_KIND_COMPLAINT"`, or the short `"complaint"`) or number.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum JsonEnum {
    Number(i32),
    Name(String),
}

impl JsonEnum {
    fn resolve(
        &self,
        prefix: &str,
        from_name: impl Fn(&str) -> Option<i32>,
    ) -> Result<i32, String> {
        match self {
            JsonEnum::Number(n) => Ok(*n),
            JsonEnum::Name(name) => {
                let upper = name.to_uppercase();
                from_name(&upper)
                    .or_else(|| from_name(&format!("{prefix}{upper}")))
                    .ok_or_else(|| format!("unknown value {name:?} (expected {prefix}…)"))
            }
        }
    }
}

/// Parses one line into a request, or says why it cannot be sent.
fn parse_line(line: &str) -> Result<pb::IngestFeedbackRequest, String> {
    let json: JsonFeedback =
        serde_json::from_str(line).map_err(|e| format!("not a NewFeedback JSON object: {e}"))?;
    let kind = match &json.kind {
        None => 0,
        Some(kind) => kind.resolve("FEEDBACK_KIND_", |name| {
            pb::FeedbackKind::from_str_name(name).map(|k| k as i32)
        })?,
    };
    let score = match &json.score {
        None => None,
        Some(score) => Some(pb::Score {
            kind: score.kind.resolve("SCORE_KIND_", |name| {
                pb::ScoreKind::from_str_name(name).map(|k| k as i32)
            })?,
            value: score.value,
        }),
    };
    Ok(pb::IngestFeedbackRequest {
        feedback: Some(pb::NewFeedback {
            external_id: json.external_id,
            customer_id: json.customer_id,
            text: json.text,
            kind,
            channel: json.channel,
            created_at: json.created_at.map(timestamp_to_proto),
            language_hint: json.language_hint,
            score,
            attributes: json.attributes.into_iter().collect(),
        }),
    })
}

fn progress_bar(total_bytes: Option<u64>) -> ProgressBar {
    match total_bytes {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {per_sec} eta {eta} {msg}",
            )
            .expect("valid template"),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {bytes} read {msg}").expect("valid template"),
        ),
    }
}

/// Runs the import and returns its summary.
pub async fn run(args: &ImportArgs) -> Result<ImportSummary> {
    let (input, total): (Box<dyn AsyncRead + Send + Unpin>, Option<u64>) =
        if args.file.as_os_str() == "-" {
            (Box::new(tokio::io::stdin()), None)
        } else {
            let file = tokio::fs::File::open(&args.file)
                .await
                .map_err(|e| Error::Config(format!("cannot open {}: {e}", args.file.display())))?;
            let size = file.metadata().await?.len();
            (Box::new(file), Some(size))
        };
    let progress = progress_bar(total);
    let (channel, interceptor) = connect(&args.connection).await?;
    let mut client = FeedbackServiceClient::with_interceptor(channel, interceptor);

    let (requests, request_stream) = mpsc::channel::<pb::IngestFeedbackRequest>(1024);
    // Line numbers of the items sent, in order: the server answers in the same order.
    let (sent_lines, mut answered_lines) = mpsc::unbounded_channel::<usize>();
    let reader_progress = progress.clone();
    let reader = tokio::spawn(async move {
        let mut lines = BufReader::new(input).lines();
        let mut rejected = Vec::new();
        let mut number = 0usize;
        while let Some(line) = lines.next_line().await? {
            number += 1;
            reader_progress.inc(line.len() as u64 + 1);
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(&line) {
                Ok(request) => {
                    if sent_lines.send(number).is_err() || requests.send(request).await.is_err() {
                        break;
                    }
                }
                Err(reason) => rejected.push((number, reason)),
            }
        }
        Ok::<_, std::io::Error>(rejected)
    });

    let mut summary = ImportSummary::default();
    let mut responses = client
        .import_feedback(ReceiverStream::new(request_stream))
        .await
        .map_err(|status| Error::Client(format!("ImportFeedback: {}", status.message())))?
        .into_inner();
    let broke_off = loop {
        match responses.message().await {
            Ok(Some(result)) => {
                let line = answered_lines.recv().await.unwrap_or_default();
                match result.error {
                    Some(error) => summary.rejected.push((line, error.message)),
                    None if result.already_existed => summary.already_existed += 1,
                    None => summary.created += 1,
                }
                progress.set_message(format!("{} created", summary.created));
            }
            Ok(None) => break None,
            Err(status) => break Some(status),
        }
    };
    drop(responses);
    let local_rejections = reader.await.map_err(|e| Error::Client(e.to_string()))??;
    summary.rejected.extend(local_rejections);
    summary.rejected.sort_by_key(|(line, _)| *line);
    answered_lines.close();
    while answered_lines.recv().await.is_some() {
        summary.unanswered += 1;
    }
    progress.finish_and_clear();
    if let Some(status) = broke_off {
        return Err(Error::Client(format!(
            "the import stream broke off after {} answers ({}); run the import again, \
             it is idempotent",
            summary.created + summary.already_existed + summary.rejected.len() as u64,
            status.message()
        )));
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proto_and_camel_case_names() {
        let request = parse_line(
            r#"{"externalId":"e1","customer_id":"c1","text":"Hi","kind":"FEEDBACK_KIND_REVIEW",
                "createdAt":"2026-01-02T03:04:05Z","score":{"kind":"nps","value":9},
                "attributes":{"store":"Ljubljana"}}"#,
        )
        .unwrap();
        let feedback = request.feedback.unwrap();
        assert_eq!(feedback.external_id, "e1");
        assert_eq!(feedback.kind, pb::FeedbackKind::Review as i32);
        assert_eq!(feedback.score.unwrap().kind, pb::ScoreKind::Nps as i32);
        assert_eq!(feedback.created_at.unwrap().seconds, 1_767_323_045);
        assert_eq!(feedback.attributes["store"], "Ljubljana");
    }

    #[test]
    fn explains_bad_lines() {
        assert!(parse_line("{not json").unwrap_err().contains("JSON"));
        assert!(
            parse_line(r#"{"external_id":"e","txt":"typo"}"#)
                .unwrap_err()
                .contains("txt")
        );
        assert!(
            parse_line(r#"{"external_id":"e","kind":"angry"}"#)
                .unwrap_err()
                .contains("angry")
        );
    }
}
