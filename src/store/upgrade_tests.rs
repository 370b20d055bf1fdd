//! Upgrades of stores written by earlier versions: migrations that rewrite existing rows.

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Row};

async fn store_at_version(version: i64) -> (tempfile::TempDir, SqliteConnection) {
    let dir = tempfile::tempdir().unwrap();
    let mut connection = SqliteConnectOptions::new()
        .filename(dir.path().join("triage.db"))
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    sqlx::migrate!("./migrations")
        .run_to(version, &mut connection)
        .await
        .unwrap();
    (dir, connection)
}

#[tokio::test]
async fn answers_stored_before_0011_count_once_for_their_own_customer() {
    let (_dir, mut connection) = store_at_version(10).await;
    sqlx::query(
        "INSERT INTO feedback (id, seq, external_id, customer_id, text, kind, channel, created_at, \
         received_at, language_hint, attributes, language, language_confidence) \
         VALUES ('f1', 1, 'e1', 'c1', 'текст', 'complaint', 'web', 1000, 1000, '', '{}', 'ru', 1.0)",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    // Sent with f1; recorded for c2 but naming c1's f1; recorded for c2 without a link.
    sqlx::query(
        "INSERT INTO survey_responses (id, external_id, customer_id, kind, value, responded_at, \
         channel, feedback_id) VALUES \
         ('s1', 'feedback:e1', 'c1', 'nps', 3, 1000, 'web', 'f1'), \
         ('s2', 'r2', 'c2', 'nps', 9, 2000, 'email', 'f1'), \
         ('s3', 'r3', 'c2', 'csat', 4, 3000, 'email', NULL)",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    sqlx::migrate!("./migrations")
        .run(&mut connection)
        .await
        .unwrap();
    let via: Vec<(String, bool)> =
        sqlx::query_as("SELECT id, via_feedback FROM survey_responses ORDER BY id")
            .fetch_all(&mut connection)
            .await
            .unwrap();
    assert_eq!(
        via,
        [
            ("s1".to_string(), true),
            ("s2".to_string(), false),
            ("s3".to_string(), false)
        ]
    );
    let counted: Vec<(String, String, i64)> = sqlx::query(
        "SELECT customer_id, kind, value FROM customer_survey_responses \
         WHERE customer_id IN ('c1', 'c2') ORDER BY customer_id, kind",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap()
    .iter()
    .map(|row| (row.get(0), row.get(1), row.get(2)))
    .collect();
    assert_eq!(
        counted,
        [
            ("c1".to_string(), "nps".to_string(), 3),
            ("c2".to_string(), "csat".to_string(), 4),
            ("c2".to_string(), "nps".to_string(), 9)
        ]
    );
}
