//! `triage import FILE` against a real server: summary, line numbers of rejects, idempotent re-runs.

use std::process::Command;

use crate::common::TestServer;

fn import(server: &TestServer, file: &std::path::Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["import", "--server", &server.url()])
        .arg(file)
        .env("TRIAGE_LOG", "warn")
        .output()
        .expect("run triage import");
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_reports_created_existing_and_rejected_lines() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("data")).await;
    let file = dir.path().join("feedback.jsonl");
    std::fs::write(
        &file,
        [
            r#"{"external_id":"j-1","customer_id":"c1","text":"Посылка пришла мокрой.","kind":"FEEDBACK_KIND_COMPLAINT"}"#,
            r#"{"externalId":"j-2","customerId":"c2","text":"Paket je prišel moker.","score":{"kind":"SCORE_KIND_CSAT","value":2}}"#,
            "",
            r#"{"external_id":"j-3","customer_id":"c3","text":"   "}"#,
            r#"{"external_id":"j-4","customer_id":"c4","text":"Посилка прийшла мокрою.","createdAt":"2026-03-01T10:00:00Z"}"#,
            r#"{"external_id":"j-5", broken"#,
        ]
        .join("\n"),
    )
    .unwrap();

    let (success, stdout) = import(&server, &file);
    assert!(!success, "rejected lines make the exit status non-zero");
    assert!(
        stdout.contains("created 3, already existed 0, rejected 2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("line 4: ") && stdout.contains("feedback.text"),
        "{stdout}"
    );
    assert!(stdout.contains("line 6: "), "{stdout}");

    let (_, stdout) = import(&server, &file);
    assert!(
        stdout.contains("created 0, already existed 3, rejected 2"),
        "{stdout}"
    );
    server.stop().await;
}
