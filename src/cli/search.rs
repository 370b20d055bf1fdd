//! `triage search "QUERY"`: the knowledge base for an agent in a terminal. Prints each hit with
//! its marked snippet, language, date, customer and resolution.

use crate::error::{Error, Result};
use crate::pb;
use crate::pb::search_service_client::SearchServiceClient;

#[derive(Debug, Clone, clap::Args)]
pub struct SearchArgs {
    /// What to look for: words, "phrases", -exclusions, prefix*.
    pub query: String,
    /// Only items in these languages (ru, uk, sl, und); repeatable.
    #[arg(long = "lang")]
    pub languages: Vec<String>,
    /// How many hits to show (at most 100).
    #[arg(long, default_value_t = 10)]
    pub limit: i32,
    #[command(flatten)]
    pub connection: super::ConnectionArgs,
}

/// The snippet with matched words in [brackets].
fn marked(highlight: &pb::Highlight) -> String {
    let chars: Vec<char> = highlight.snippet.chars().collect();
    let mut out = String::new();
    let mut at = 0;
    for span in &highlight.matches {
        let (start, end) = (span.start as usize, span.end as usize);
        if start < at || end > chars.len() {
            continue;
        }
        out.extend(&chars[at..start]);
        out.push('[');
        out.extend(&chars[start..end]);
        out.push(']');
        at = end;
    }
    out.extend(&chars[at..]);
    out.replace('\n', " ")
}

/// Renders a response as the terminal shows it.
pub fn render(response: &pb::SearchFeedbackResponse) -> String {
    let mut out = format!("{} matching items\n", response.total_size);
    for hit in &response.hits {
        let Some(feedback) = &hit.feedback else {
            continue;
        };
        let date = feedback
            .created_at
            .as_ref()
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
            .map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string());
        out.push_str(&format!(
            "\n{date}  {}  customer {}  id {}\n",
            feedback.language, feedback.customer_id, feedback.id
        ));
        for highlight in &hit.highlights {
            let label = if highlight.field == "resolution" {
                "resolution"
            } else {
                "text"
            };
            out.push_str(&format!("  {label}: {}\n", marked(highlight)));
        }
        if !feedback.resolution.is_empty()
            && !hit.highlights.iter().any(|h| h.field == "resolution")
        {
            out.push_str(&format!(
                "  resolution: {}\n",
                feedback.resolution.replace('\n', " ")
            ));
        }
    }
    out
}

pub async fn run(args: &SearchArgs) -> Result<String> {
    let (channel, token) = super::connect(&args.connection).await?;
    let mut client = SearchServiceClient::with_interceptor(channel, token);
    let response = client
        .search_feedback(pb::SearchFeedbackRequest {
            query: args.query.clone(),
            filter: Some(pb::SearchFilter {
                languages: args.languages.clone(),
                ..pb::SearchFilter::default()
            }),
            page_size: args.limit,
            ..pb::SearchFeedbackRequest::default()
        })
        .await
        .map_err(|status| Error::Client(format!("SearchFeedback: {}", status.message())))?
        .into_inner();
    Ok(render(&response))
}
