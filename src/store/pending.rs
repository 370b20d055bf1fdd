//! The rows a write batch has decided on, written together in multi-row statements.
//!
//! Every statement is a round trip to SQLite's thread, and each round trip costs the writer two
//! thread wake-ups that, on a busy machine, wait for a core: with three to four statements per
//! new item that waiting took as long as the work itself (docs/PERFORMANCE.md, session 13). So
//! the writer collects a batch's new feedback, signals, survey and review rows here and writes
//! them in a few statements before anything could read them: before the batch commits, before a
//! request of another kind in the batch, and before a statement that reads or changes a stored
//! item. Rows are written in the order they were added, feedback first, so every row another
//! row refers to is already there.

use sqlx::Sqlite;
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteConnection};

use super::linkage::{Linkage, WrittenItem};
use super::review as review_rows;
use super::rows;
use crate::error::{Error, Result};
use crate::model::{Feedback, SurveyResponse};
use crate::review::{ReviewEvent, ReviewItem};

/// Rows one statement writes at most. A batch's rows go out in statements of 256, 128, …, 1
/// rows: a few fixed sizes, so the connection prepares each statement once and keeps it, and
/// the variables of the widest (25 × 256) stay well inside SQLite's limit of 32,766.
const MAX_ROWS_PER_STATEMENT: usize = 256;

const FEEDBACK_COLUMNS: &str = "INSERT INTO feedback (id, seq, external_id, customer_id, text, \
     kind, channel, created_at, received_at, language_hint, score_kind, score_value, attributes, \
     language, language_confidence, resolution, resolved_by, resolved_at, topics, sentiment, \
     polarity, priority, flags, cluster_id, inserted_seq) VALUES ";
const FEEDBACK_ROW: &str =
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const SIGNALS_COLUMNS: &str = "INSERT INTO feedback_signals (item, feedback_id, customer_id, \
     created_at, complaint, words, text_hash, signature, stems, cluster_id) VALUES ";
const SIGNALS_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const SURVEY_COLUMNS: &str = "INSERT INTO survey_responses (id, external_id, customer_id, kind, \
     value, responded_at, channel, feedback_id, via_feedback) VALUES ";
const SURVEY_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// A new item's row of `feedback_signals`, its LSH item number chosen by the writer.
pub(super) struct SignalsRow {
    pub item: u32,
    pub feedback_id: String,
    pub customer_id: String,
    pub created_at: i64,
    pub complaint: bool,
    pub words: i64,
    pub text_hash: i64,
    pub signature: Vec<u8>,
    pub stems: Vec<u8>,
    pub cluster_id: String,
}

/// Rows decided on but not yet written.
#[derive(Default)]
pub(super) struct PendingRows {
    /// New feedback items with their sequence numbers.
    feedback: Vec<(i64, Feedback)>,
    signals: Vec<SignalsRow>,
    /// Scores sent with the batch's feedback items.
    surveys: Vec<SurveyResponse>,
    reviews: Vec<(ReviewItem, ReviewEvent)>,
}

impl PendingRows {
    pub fn add_feedback(&mut self, sequence: i64, feedback: Feedback) {
        self.feedback.push((sequence, feedback));
    }

    pub fn add_signals(&mut self, row: SignalsRow) {
        self.signals.push(row);
    }

    /// A score sent with a feedback item of the batch (linked to it, from the same customer).
    pub fn add_survey(&mut self, response: SurveyResponse) {
        self.surveys.push(response);
    }

    pub fn add_review(&mut self, item: ReviewItem, event: ReviewEvent) {
        self.reviews.push((item, event));
    }

    /// Puts the batch's feedback with this id into a cluster if it is still waiting to be
    /// written; false when it is not here (already stored).
    pub fn join_cluster(&mut self, id: &str, cluster_id: &str) -> bool {
        let Some((_, feedback)) = self.feedback.iter_mut().find(|(_, f)| f.id == id) else {
            return false;
        };
        feedback.analysis.cluster_id = cluster_id.to_string();
        if let Some(row) = self.signals.iter_mut().find(|row| row.feedback_id == id) {
            row.cluster_id = cluster_id.to_string();
        }
        true
    }

    /// Writes every pending row, feedback first, and forgets them. Unlinked survey answers
    /// that the new items precede are counted toward their keys (`linkage`).
    pub async fn write(
        &mut self,
        connection: &mut SqliteConnection,
        linkage: &Linkage,
    ) -> Result<()> {
        insert_in_runs(
            connection,
            (FEEDBACK_COLUMNS, FEEDBACK_ROW),
            &self.feedback,
            |query, (sequence, feedback)| bind_feedback(query, *sequence, feedback),
        )
        .await?;
        insert_in_runs(
            connection,
            (SIGNALS_COLUMNS, SIGNALS_ROW),
            &self.signals,
            |query, row| Ok(bind_signals(query, row)),
        )
        .await?;
        let written: Vec<WrittenItem> = self
            .signals
            .iter()
            .map(|row| WrittenItem {
                customer_id: &row.customer_id,
                created_at: row.created_at,
                item: row.item,
            })
            .collect();
        linkage.count_retroactive(connection, &written).await?;
        insert_in_runs(
            connection,
            (SURVEY_COLUMNS, SURVEY_ROW),
            &self.surveys,
            |query, response| Ok(bind_survey(query, response, true)),
        )
        .await?;
        let items = (review_rows::ITEM_COLUMNS, review_rows::ITEM_ROW);
        insert_in_runs(connection, items, &self.reviews, |query, (item, _)| {
            review_rows::bind_item(query, item)
        })
        .await?;
        // Every item's event after the items it refers to.
        let events = (review_rows::EVENT_COLUMNS, review_rows::EVENT_ROW);
        insert_in_runs(connection, events, &self.reviews, |query, (_, event)| {
            Ok(review_rows::bind_event(query, event))
        })
        .await?;
        self.feedback.clear();
        self.signals.clear();
        self.surveys.clear();
        self.reviews.clear();
        Ok(())
    }
}

/// Inserts `rows` in runs of 256, 128, …, 1 rows, one statement each; the pair is the insert's
/// columns (ending with `VALUES `) and one row's placeholders, `bind` binds one row's values.
async fn insert_in_runs<'r, T>(
    connection: &mut SqliteConnection,
    (columns, row): (&str, &str),
    rows: &'r [T],
    bind: impl Fn(
        Query<'r, Sqlite, SqliteArguments>,
        &'r T,
    ) -> Result<Query<'r, Sqlite, SqliteArguments>>,
) -> Result<()> {
    for run in runs(rows) {
        let mut query = statement(columns, row, run.len());
        for values in run {
            query = bind(query, values)?;
        }
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

fn bind_signals<'q>(
    query: Query<'q, Sqlite, SqliteArguments>,
    row: &'q SignalsRow,
) -> Query<'q, Sqlite, SqliteArguments> {
    query
        .bind(i64::from(row.item))
        .bind(&row.feedback_id)
        .bind(&row.customer_id)
        .bind(row.created_at)
        .bind(row.complaint)
        .bind(row.words)
        .bind(row.text_hash)
        .bind(&row.signature)
        .bind(&row.stems)
        .bind(&row.cluster_id)
}

/// `rows` in runs of 256, 128, …, 1 rows.
fn runs<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let size = 1 << rows.len().min(MAX_ROWS_PER_STATEMENT).ilog2();
        let (run, rest) = rows.split_at(size);
        rows = rest;
        Some(run)
    })
}

/// An insert of `count` rows (`columns` ends with `VALUES `, `row` is one row's placeholders).
pub(super) fn statement(
    columns: &str,
    row: &str,
    count: usize,
) -> Query<'static, Sqlite, SqliteArguments> {
    let sql = format!("{columns}{}", vec![row; count].join(", "));
    // Only placeholders are formatted in; every value is bound.
    sqlx::query(sqlx::AssertSqlSafe(sql))
}

/// Writes one survey response at once (a response recorded on its own, not with a batch's items).
/// `via_feedback`: it is linked to a feedback item of its own customer, so reads find it through
/// that item (migration 0011).
pub(super) async fn insert_survey(
    connection: &mut SqliteConnection,
    response: &SurveyResponse,
    via_feedback: bool,
) -> Result<()> {
    bind_survey(
        statement(SURVEY_COLUMNS, SURVEY_ROW, 1),
        response,
        via_feedback,
    )
    .execute(connection)
    .await?;
    Ok(())
}

fn bind_survey<'q>(
    query: Query<'q, Sqlite, SqliteArguments>,
    response: &SurveyResponse,
    via_feedback: bool,
) -> Query<'q, Sqlite, SqliteArguments> {
    query
        .bind(&response.id)
        .bind(&response.external_id)
        .bind(&response.customer_id)
        .bind(response.score.kind.as_str())
        .bind(response.score.value)
        .bind(rows::to_micros(response.responded_at))
        .bind(&response.channel)
        .bind(&response.feedback_id)
        .bind(via_feedback)
}

fn bind_feedback<'q>(
    query: Query<'q, Sqlite, SqliteArguments>,
    sequence: i64,
    feedback: &Feedback,
) -> Result<Query<'q, Sqlite, SqliteArguments>> {
    let resolution = feedback.resolution.as_ref();
    Ok(query
        .bind(&feedback.id)
        .bind(sequence)
        .bind(&feedback.external_id)
        .bind(&feedback.customer_id)
        .bind(&feedback.text)
        .bind(feedback.kind.as_str())
        .bind(&feedback.channel)
        .bind(rows::to_micros(feedback.created_at))
        .bind(rows::to_micros(feedback.received_at))
        .bind(&feedback.language_hint)
        .bind(feedback.score.map(|s| s.kind.as_str()))
        .bind(feedback.score.map(|s| s.value))
        .bind(to_json(&feedback.attributes)?)
        .bind(&feedback.language)
        .bind(feedback.language_confidence)
        .bind(resolution.map(|r| r.text.as_str()))
        .bind(resolution.map(|r| r.resolved_by.as_str()))
        .bind(resolution.map(|r| rows::to_micros(r.resolved_at)))
        .bind(to_json(&feedback.analysis.topics)?)
        .bind(feedback.analysis.sentiment.as_str())
        .bind(feedback.analysis.polarity)
        .bind(i64::from(feedback.analysis.priority))
        .bind(to_json(&feedback.analysis.flags)?)
        .bind(&feedback.analysis.cluster_id)
        // `inserted_seq`: the row is its item's first version (migration 0012).
        .bind(sequence))
}

fn to_json(value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Corrupt(format!("serializing: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FeedbackKind;

    fn pending_item(id: &str) -> (Feedback, SignalsRow) {
        let now = chrono::Utc::now();
        let feedback = Feedback {
            id: id.to_string(),
            external_id: format!("e-{id}"),
            customer_id: "c1".to_string(),
            text: "Курьер опоздал на два часа.".to_string(),
            kind: FeedbackKind::Complaint,
            channel: "web".to_string(),
            created_at: now,
            received_at: now,
            language_hint: String::new(),
            score: None,
            attributes: Default::default(),
            language: "ru".to_string(),
            language_confidence: 1.0,
            resolution: None,
            analysis: Default::default(),
        };
        let signals = SignalsRow {
            item: 1,
            feedback_id: id.to_string(),
            customer_id: "c1".to_string(),
            created_at: 0,
            complaint: true,
            words: 5,
            text_hash: 0,
            signature: Vec::new(),
            stems: Vec::new(),
            cluster_id: String::new(),
        };
        (feedback, signals)
    }

    #[test]
    fn a_pending_item_joins_a_cluster_in_both_of_its_rows() {
        let mut pending = PendingRows::default();
        for id in ["f1", "f2"] {
            let (feedback, signals) = pending_item(id);
            pending.add_feedback(1, feedback);
            pending.add_signals(signals);
        }
        assert!(pending.join_cluster("f2", "f2"));
        assert!(!pending.join_cluster("stored", "stored"), "not pending");
        let clusters: Vec<&str> = pending
            .feedback
            .iter()
            .map(|(_, f)| f.analysis.cluster_id.as_str())
            .collect();
        assert_eq!(clusters, ["", "f2"]);
        let clusters: Vec<&str> = pending
            .signals
            .iter()
            .map(|r| r.cluster_id.as_str())
            .collect();
        assert_eq!(clusters, ["", "f2"]);
    }

    #[test]
    fn rows_go_out_in_runs_of_falling_powers_of_two() {
        let rows: Vec<usize> = (0..300).collect();
        let sizes: Vec<usize> = runs(&rows).map(<[usize]>::len).collect();
        assert_eq!(sizes, [256, 32, 8, 4]);
        let order: Vec<usize> = runs(&rows).flatten().copied().collect();
        assert_eq!(order, rows, "every row once, in order");
        assert_eq!(runs::<usize>(&[]).count(), 0);
        assert_eq!(
            runs(&rows[..1]).map(<[usize]>::len).collect::<Vec<_>>(),
            [1]
        );
    }
}
