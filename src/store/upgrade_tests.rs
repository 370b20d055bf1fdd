//! Upgrades of stores written by earlier versions: migrations that rewrite existing rows.

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Row};

use super::signal_rows::{Subject, backfill_in_pages, insert_signals};
use crate::signals::dedup::{self, DedupParams};
use crate::signals::fingerprint;

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

/// Runs the migrations a store of an earlier version has not had yet.
async fn upgrade(connection: &mut SqliteConnection) {
    sqlx::migrate!("./migrations")
        .run(connection)
        .await
        .unwrap();
}

/// Stores feedback item `f{n}` (external id `e{n}`) of customer `c1` the way every version
/// since the first can hold it.
async fn insert_feedback(connection: &mut SqliteConnection, n: i64, text: &str, language: &str) {
    sqlx::query(
        "INSERT INTO feedback (id, seq, external_id, customer_id, text, kind, channel, created_at, \
         received_at, language_hint, attributes, language, language_confidence) \
         VALUES (?, ?, ?, 'c1', ?, 'complaint', 'web', ?, ?, '', '{}', ?, 1.0)",
    )
    .bind(format!("f{n}"))
    .bind(n + 1)
    .bind(format!("e{n}"))
    .bind(text)
    .bind(1_000 + n)
    .bind(1_000 + n)
    .bind(language)
    .execute(connection)
    .await
    .unwrap();
}

#[tokio::test]
async fn answers_stored_before_0011_count_once_for_their_own_customer() {
    let (_dir, mut connection) = store_at_version(10).await;
    insert_feedback(&mut connection, 1, "текст", "ru").await;
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
    // Migration 0013 replaces the view read below with the customer map.
    sqlx::migrate!("./migrations")
        .run_to(11, &mut connection)
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

#[tokio::test]
async fn items_stored_before_0003_get_their_signals_rows_once_page_by_page() {
    let (_dir, mut connection) = store_at_version(2).await;
    let texts = [
        ("Курьер опоздал на два часа и нагрубил по телефону.", "ru"),
        ("Кур'єр запізнився на дві години і нагрубив.", "uk"),
        (
            "Paket je prišel poškodovan, embalaža je bila raztrgana.",
            "sl",
        ),
        (
            "Приложение вылетает при оплате картой уже третий день.",
            "ru",
        ),
        (
            "Доставка снова задерживается, никто не отвечает в чате.",
            "ru",
        ),
        ("Dostava je trajala predolgo, nihče se ne oglasi.", "sl"),
        ("Спасибо, всё пришло вовремя и в целости.", "ru"),
    ];
    for (n, (text, language)) in (0..).zip(texts) {
        insert_feedback(&mut connection, n, text, language).await;
    }
    upgrade(&mut connection).await;
    let params = DedupParams::default();
    // One item already has its row (a backfill stopped halfway): it must not get a second one.
    let done = fingerprint(texts[3].0, texts[3].1, &params);
    let subject = Subject {
        feedback_id: "f3",
        customer_id: "c1",
        created_at: chrono::DateTime::from_timestamp_micros(1_003).unwrap(),
        complaint: true,
        cluster_id: "",
    };
    insert_signals(&mut connection, &subject, &done)
        .await
        .unwrap();
    backfill_in_pages(&mut connection, &params, 2)
        .await
        .unwrap();
    backfill_in_pages(&mut connection, &params, 2)
        .await
        .unwrap();
    let stored: Vec<(String, Vec<u8>, bool)> = sqlx::query_as(
        "SELECT feedback_id, signature, complaint FROM feedback_signals ORDER BY feedback_id",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap();
    let ids: Vec<&str> = stored.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids, ["f0", "f1", "f2", "f3", "f4", "f5", "f6"]);
    for (i, ((_, signature, complaint), (text, language))) in stored.iter().zip(texts).enumerate() {
        let expected = fingerprint(text, language, &params);
        assert_eq!(
            *signature,
            dedup::signature_to_bytes(&expected.text.signature),
            "f{i}"
        );
        assert!(complaint, "f{i} is a complaint");
    }
}

async fn execute(connection: &mut SqliteConnection, sql: &'static str) {
    sqlx::query(sql).execute(connection).await.unwrap();
}

/// Each change's item id and whether it is the item's first version, as the indexer reads them.
async fn first_versions(connection: &mut SqliteConnection) -> Vec<(String, bool)> {
    sqlx::query(super::rows::SELECT_CHANGES_SINCE)
        .bind(0)
        .bind(10)
        .fetch_all(connection)
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get("id"), row.get("inserted")))
        .collect()
}

#[tokio::test]
async fn items_stored_before_0012_are_never_taken_for_first_versions() {
    let (_dir, mut connection) = store_at_version(11).await;
    insert_feedback(&mut connection, 0, "Курьер опоздал на два часа.", "ru").await;
    upgrade(&mut connection).await;
    insert_feedback(&mut connection, 1, "Кур'єр запізнився на дві години.", "uk").await;
    execute(
        &mut connection,
        "UPDATE feedback SET inserted_seq = seq WHERE id = 'f1'",
    )
    .await;
    // f0 may have been indexed and updated before the column existed: it must be replaced.
    assert_eq!(
        first_versions(&mut connection).await,
        [("f0".to_string(), false), ("f1".to_string(), true)]
    );
    execute(
        &mut connection,
        "UPDATE feedback SET seq = 3 WHERE id = 'f1'",
    )
    .await;
    assert_eq!(
        first_versions(&mut connection).await,
        [("f0".to_string(), false), ("f1".to_string(), false)]
    );
}
