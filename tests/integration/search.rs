//! SearchService over real gRPC: word forms in three languages, filters, orders, facets, stable
//! pages while ingesting, resolutions, restarts and rebuilds (also of an index ahead of a restored
//! store), lenient queries, similar items.

use std::collections::HashSet;
use std::time::Instant;

use crate::common::{DEADLINE, TestServer, ingest_request, new_feedback};
use tonic::transport::Channel;
use triage::config::Settings;
use triage::pb;
use triage::pb::feedback_service_client::FeedbackServiceClient;
use triage::pb::search_service_client::SearchServiceClient;
use triage::store::{DATABASE_FILE, Store, StoreOptions};

async fn search_client(server: &TestServer) -> SearchServiceClient<Channel> {
    SearchServiceClient::new(server.channel().await)
}

fn query(text: &str) -> pb::SearchFeedbackRequest {
    pb::SearchFeedbackRequest {
        query: text.to_string(),
        ..pb::SearchFeedbackRequest::default()
    }
}

async fn run(
    client: &mut SearchServiceClient<Channel>,
    request: pb::SearchFeedbackRequest,
) -> pb::SearchFeedbackResponse {
    client.search_feedback(request).await.unwrap().into_inner()
}

/// Polls until the request matches `expected` items (the index lags the store by design).
async fn eventually(
    client: &mut SearchServiceClient<Channel>,
    request: pb::SearchFeedbackRequest,
    expected: i64,
) -> pb::SearchFeedbackResponse {
    let started = Instant::now();
    loop {
        let response = run(client, request.clone()).await;
        if response.total_size == expected {
            return response;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{:?}: {} hits, expected {expected}",
            request.query,
            response.total_size
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

async fn ingest(
    client: &mut FeedbackServiceClient<Channel>,
    feedback: pb::NewFeedback,
) -> pb::Feedback {
    client
        .ingest_feedback(ingest_request(feedback))
        .await
        .unwrap()
        .into_inner()
        .feedback
        .unwrap()
}

/// The hits' feedback ids, in rank order.
fn hit_ids(response: &pb::SearchFeedbackResponse) -> Vec<String> {
    response
        .hits
        .iter()
        .map(|h| h.feedback.as_ref().unwrap().id.clone())
        .collect()
}

fn ids(response: &pb::SearchFeedbackResponse) -> HashSet<String> {
    response
        .hits
        .iter()
        .map(|h| h.feedback.as_ref().unwrap().external_id.clone())
        .collect()
}

const CORPUS: &[(&str, &str)] = &[
    (
        "ru-1",
        "Заказ пришёл с доставкой на неделю позже, курьер хамил.",
    ),
    (
        "ru-2",
        "Стоимость доставки снова выросла, а сроки не соблюдают.",
    ),
    ("ru-3", "Кассир нагрубила мне в магазине на Ленина."),
    (
        "uk-1",
        "Подаю скаргу на роботу служби підтримки, ніхто не відповідає.",
    ),
    ("uk-2", "Ця скарга стосується кур'єра, який зламав посилку."),
    ("uk-3", "Дуже задоволена покупкою, дякую."),
    (
        "sl-1",
        "Dostava je trajala dva tedna, čakal sem na paket predolgo.",
    ),
    (
        "sl-2",
        "Zaradi dostave sem zamudil rojstni dan, paket je že odprt.",
    ),
    ("sl-3", "Prodajalka je bila zelo prijazna."),
];

async fn seeded(
    dir: &std::path::Path,
) -> (
    TestServer,
    FeedbackServiceClient<Channel>,
    SearchServiceClient<Channel>,
) {
    let server = TestServer::start(dir).await;
    let mut feedback = server.feedback().await;
    let mut search = search_client(&server).await;
    for (i, (id, text)) in CORPUS.iter().enumerate() {
        let mut item = new_feedback(id, &format!("c{}", i % 3), text);
        item.channel = if i % 2 == 0 { "email" } else { "app" }.into();
        item.kind = if id.ends_with('3') {
            pb::FeedbackKind::Review as i32
        } else {
            pb::FeedbackKind::Complaint as i32
        };
        item.created_at = Some(prost_types::Timestamp {
            seconds: 1_780_000_000 + i as i64 * 3600,
            nanos: 0,
        });
        ingest(&mut feedback, item).await;
    }
    eventually(&mut search, query(""), CORPUS.len() as i64).await;
    (server, feedback, search)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn word_forms_match_in_every_language_without_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _, mut search) = seeded(dir.path()).await;
    let cases: &[(&str, &[&str])] = &[
        ("доставка", &["ru-1", "ru-2"]),
        ("скарга", &["uk-1", "uk-2"]),
        ("dostava", &["sl-1", "sl-2"]),
        ("cakal", &["sl-1"]),
        ("ze odprt", &["sl-2"]),
        ("\"курьер хамил\"", &["ru-1"]),
        ("доставка -сроки", &["ru-1"]),
        ("достав*", &["ru-1", "ru-2"]),
        ("кур'єра", &["uk-2"]),
    ];
    for (text, expected) in cases {
        let response = run(&mut search, query(text)).await;
        let expected: HashSet<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(ids(&response), expected, "query {text:?}");
        assert_eq!(response.total_size, expected.len() as i64);
    }
    let response = run(&mut search, query("доставкой")).await;
    let hit = response
        .hits
        .iter()
        .find(|h| h.feedback.as_ref().unwrap().external_id == "ru-1")
        .unwrap();
    let highlight = &hit.highlights[0];
    assert_eq!(highlight.field, "text");
    assert!(
        highlight.matches.iter().any(|m| m.text == "доставкой"),
        "{highlight:?}"
    );
    let chars: Vec<char> = highlight.snippet.chars().collect();
    for span in &highlight.matches {
        let marked: String = chars[span.start as usize..span.end as usize]
            .iter()
            .collect();
        assert_eq!(marked, span.text);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_orders_and_facets() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _, mut search) = seeded(dir.path()).await;
    let filtered = |filter: pb::SearchFilter| pb::SearchFeedbackRequest {
        filter: Some(filter),
        page_size: 50,
        ..pb::SearchFeedbackRequest::default()
    };
    let by_language = run(
        &mut search,
        filtered(pb::SearchFilter {
            languages: vec!["uk".into()],
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(
        ids(&by_language),
        ["uk-1", "uk-2", "uk-3"].map(String::from).into()
    );
    let by_customer = run(
        &mut search,
        filtered(pb::SearchFilter {
            customer_ids: vec!["c0".into()],
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(
        ids(&by_customer),
        ["ru-1", "uk-1", "sl-1"].map(String::from).into()
    );
    let by_kind = run(
        &mut search,
        filtered(pb::SearchFilter {
            kinds: vec![pb::FeedbackKind::Review as i32],
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(
        ids(&by_kind),
        ["ru-3", "uk-3", "sl-3"].map(String::from).into()
    );
    let by_channel = run(
        &mut search,
        filtered(pb::SearchFilter {
            channels: vec!["app".into()],
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(by_channel.total_size, 4);
    let by_time = run(
        &mut search,
        filtered(pb::SearchFilter {
            created_after: Some(prost_types::Timestamp {
                seconds: 1_780_000_000 + 3600,
                nanos: 0,
            }),
            created_before: Some(prost_types::Timestamp {
                seconds: 1_780_000_000 + 3 * 3600,
                nanos: 0,
            }),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(ids(&by_time), ["ru-2", "ru-3"].map(String::from).into());
    let unresolved = run(
        &mut search,
        filtered(pb::SearchFilter {
            has_resolution: Some(false),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(unresolved.total_size, 9);
    let flagged = run(
        &mut search,
        filtered(pb::SearchFilter {
            flag_kinds: vec![pb::FlagKind::Extortion as i32],
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(flagged.total_size, 0);

    let newest = run(
        &mut search,
        pb::SearchFeedbackRequest {
            order_by: pb::SearchOrder::Newest as i32,
            page_size: 3,
            ..Default::default()
        },
    )
    .await;
    let order: Vec<_> = newest
        .hits
        .iter()
        .map(|h| h.feedback.as_ref().unwrap().external_id.as_str())
        .collect();
    assert_eq!(order, ["sl-3", "sl-2", "sl-1"]);
    let oldest = run(
        &mut search,
        pb::SearchFeedbackRequest {
            order_by: pb::SearchOrder::Oldest as i32,
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    let order: Vec<_> = oldest
        .hits
        .iter()
        .map(|h| h.feedback.as_ref().unwrap().external_id.as_str())
        .collect();
    assert_eq!(order, ["ru-1", "ru-2"]);

    let faceted = run(
        &mut search,
        pb::SearchFeedbackRequest {
            facets: vec![pb::Facet::Language as i32, pb::Facet::Channel as i32],
            ..Default::default()
        },
    )
    .await;
    let languages = &faceted.facet_counts[0];
    assert_eq!(languages.facet, pb::Facet::Language as i32);
    for value in &languages.values {
        assert_eq!(value.count, 3, "{value:?}");
    }
    let channels: Vec<_> = faceted.facet_counts[1]
        .values
        .iter()
        .map(|v| (v.value.as_str(), v.count))
        .collect();
    assert_eq!(channels, [("email", 5), ("app", 4)]);

    let bad = search
        .search_feedback(pb::SearchFeedbackRequest {
            page_size: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(crate::common::violated_fields(&bad), ["page_size"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_neither_skip_nor_repeat_while_items_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut feedback = server.feedback().await;
    let mut search = search_client(&server).await;
    for i in 0..45 {
        ingest(
            &mut feedback,
            new_feedback(
                &format!("p-{i}"),
                "c1",
                &format!("Посылка номер {i} потерялась на складе."),
            ),
        )
        .await;
    }
    eventually(&mut search, query("посылка"), 45).await;

    let writer = tokio::spawn({
        let mut feedback = feedback.clone();
        async move {
            for i in 45..90 {
                ingest(
                    &mut feedback,
                    new_feedback(
                        &format!("p-{i}"),
                        "c2",
                        &format!("Посылка {i} тоже потерялась."),
                    ),
                )
                .await;
            }
        }
    });
    let mut seen = Vec::new();
    let mut request = pb::SearchFeedbackRequest {
        query: "посылка".into(),
        page_size: 10,
        ..Default::default()
    };
    let mut snapshot_total = None;
    loop {
        let page = run(&mut search, request.clone()).await;
        // New items may or may not be in the first page's snapshot; later pages keep it.
        let total = *snapshot_total.get_or_insert(page.total_size);
        assert!(total >= 45);
        assert_eq!(
            page.total_size, total,
            "the snapshot of the first page holds"
        );
        seen.extend(
            page.hits
                .iter()
                .map(|h| h.feedback.as_ref().unwrap().external_id.clone()),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    writer.await.unwrap();
    let unique: HashSet<_> = seen.iter().cloned().collect();
    let total = snapshot_total.unwrap() as usize;
    assert_eq!(seen.len(), total, "no item skipped");
    assert_eq!(unique.len(), total, "no item repeated");
    eventually(&mut search, query("посылка"), 90).await;

    let foreign = search
        .search_feedback(pb::SearchFeedbackRequest {
            query: "другое".into(),
            page_token: request.page_token.clone(),
            ..Default::default()
        })
        .await;
    if !request.page_token.is_empty() {
        assert_eq!(foreign.unwrap_err().code(), tonic::Code::InvalidArgument);
    }
    let garbage = search
        .search_feedback(pb::SearchFeedbackRequest {
            page_token: "%%%".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(crate::common::violated_fields(&garbage), ["page_token"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolutions_are_searchable_and_the_index_survives_restarts_and_rebuilds() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut feedback, mut search) = seeded(dir.path()).await;
    let target = run(&mut search, query("кассир")).await.hits[0]
        .feedback
        .clone()
        .unwrap();
    feedback
        .resolve_feedback(pb::ResolveFeedbackRequest {
            id: target.id.clone(),
            resolution: "Провели беседу с сотрудницей, клиенту выдан купон.".into(),
            resolved_by: "olga".into(),
        })
        .await
        .unwrap();
    let found = eventually(&mut search, query("купон"), 1).await;
    let hit = &found.hits[0];
    assert_eq!(hit.feedback.as_ref().unwrap().id, target.id);
    assert!(hit.feedback.as_ref().unwrap().resolution.contains("купон"));
    assert!(
        hit.highlights
            .iter()
            .any(|h| h.field == "resolution" && h.matches.iter().any(|m| m.text == "купон"))
    );
    let resolved = run(
        &mut search,
        pb::SearchFeedbackRequest {
            filter: Some(pb::SearchFilter {
                has_resolution: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(resolved.total_size, 1);
    assert_eq!(
        run(&mut search, query("кассир")).await.total_size,
        1,
        "the resolved version replaces the first one"
    );
    assert_eq!(
        run(&mut search, query("")).await.total_size,
        CORPUS.len() as i64
    );
    let before = hit_ids(&run(&mut search, query("доставка")).await);
    server.stop().await;

    // The indexer adds first versions without deleting an older copy; only the resolved item's
    // change replaces one.
    let store = Store::open(dir.path(), StoreOptions::default())
        .await
        .unwrap();
    let changes = store.changes_since(0, 100).await.unwrap();
    assert_eq!(changes.len(), CORPUS.len());
    for change in &changes {
        assert_eq!(
            change.inserted,
            change.feedback.id != target.id,
            "{change:?}"
        );
    }
    store.close().await.unwrap();

    let server = TestServer::start(dir.path()).await;
    let mut search = search_client(&server).await;
    assert_eq!(
        run(&mut search, query("купон")).await.total_size,
        1,
        "restart keeps the index"
    );
    server.stop().await;

    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut search = search_client(&server).await;
    eventually(&mut search, query(""), CORPUS.len() as i64).await;
    let after = hit_ids(&run(&mut search, query("доставка")).await);
    assert_eq!(before, after, "a rebuilt index answers the same");
    assert_eq!(run(&mut search, query("купон")).await.total_size, 1);
    server.stop().await;

    // A backlog past `[index] rebuild_backlog` is caught up with the rebuild writer, which then
    // hands over to the live one: items ingested afterwards become searchable too.
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let mut settings = Settings::with_data_dir(dir.path());
    settings.index.rebuild_backlog = 1;
    let server = TestServer::start_with(settings).await;
    let mut search = search_client(&server).await;
    eventually(&mut search, query(""), CORPUS.len() as i64).await;
    let rebuilt = hit_ids(&run(&mut search, query("доставка")).await);
    assert_eq!(
        before, rebuilt,
        "the rebuild writer's index answers the same"
    );
    assert_eq!(run(&mut search, query("купон")).await.total_size, 1);
    let mut feedback = server.feedback().await;
    let item = new_feedback("ru-late", "c9", "Курьер потерял посылку с подарком.");
    becomes_the_only_hit(&mut feedback, &mut search, item, "подарком").await;
    server.stop().await;
}

/// Ingests `item` and waits until it is the one hit of `word`.
async fn becomes_the_only_hit(
    feedback: &mut FeedbackServiceClient<Channel>,
    search: &mut SearchServiceClient<Channel>,
    item: pb::NewFeedback,
    word: &str,
) {
    let stored = ingest(feedback, item).await;
    let found = eventually(search, query(word), 1).await;
    assert_eq!(hit_ids(&found), [stored.id]);
}

/// The store's files (the database and its log) in a data dir, without the index.
fn store_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(DATABASE_FILE)
        })
        .collect()
}

/// Replaces the store's files in `to` with those of `from`.
fn copy_store(from: &std::path::Path, to: &std::path::Path) {
    for path in store_files(to) {
        std::fs::remove_file(path).unwrap();
    }
    for path in store_files(from) {
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_ahead_of_a_store_restored_from_backup_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _, _) = seeded(dir.path()).await;
    server.stop().await;
    let backup = tempfile::tempdir().unwrap();
    copy_store(dir.path(), backup.path());

    let server = TestServer::start(dir.path()).await;
    let mut feedback = server.feedback().await;
    let mut search = search_client(&server).await;
    ingest(
        &mut feedback,
        new_feedback("ru-lost", "c7", "Курьер потерял посылку с подарком."),
    )
    .await;
    eventually(&mut search, query("подарком"), 1).await;
    server.stop().await;

    // The store goes back to the backup; the index still holds the lost item.
    copy_store(backup.path(), dir.path());
    let server = TestServer::start(dir.path()).await;
    let mut feedback = server.feedback().await;
    let mut search = search_client(&server).await;
    eventually(&mut search, query(""), CORPUS.len() as i64).await;
    assert_eq!(run(&mut search, query("подарком")).await.total_size, 0);
    // The next item takes the lost one's sequence number and must still become searchable.
    let item = new_feedback("ru-next", "c8", "Оператор обещал перезвонить и пропал.");
    becomes_the_only_hit(&mut feedback, &mut search, item, "перезвонить").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_queries_never_fail() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _, mut search) = seeded(dir.path()).await;
    let huge = "доставка ".repeat(20_000);
    for text in [
        "\"доставка",
        "-",
        "- -",
        "*",
        "\"\"",
        "-\"",
        "AND OR NOT",
        "доставка\u{0}\u{7}",
        "(((",
        "field:value",
        "~~~ ^^^",
        &huge,
        "💥🔥",
        "\\",
        "d*",
    ] {
        let response = search.search_feedback(query(text)).await;
        assert!(
            response.is_ok(),
            "{:?}: {:?}",
            text.chars().take(30).collect::<String>(),
            response.err()
        );
    }
    assert_eq!(run(&mut search, query("\"доставка")).await.total_size, 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn similar_feedback_by_id_and_by_text() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut feedback, mut search) = seeded(dir.path()).await;
    let copy = ingest(
        &mut feedback,
        new_feedback(
            "ru-4",
            "c9",
            "Заказ пришёл с доставкой на неделю позже, курьер хамил!",
        ),
    )
    .await;
    eventually(&mut search, query(""), CORPUS.len() as i64 + 1).await;
    let similar = search
        .find_similar_feedback(pb::FindSimilarFeedbackRequest {
            source: Some(pb::find_similar_feedback_request::Source::Id(
                copy.id.clone(),
            )),
            page_size: 5,
        })
        .await
        .unwrap()
        .into_inner();
    let first = &similar.hits[0];
    assert_eq!(first.feedback.as_ref().unwrap().external_id, "ru-1");
    assert!(first.near_duplicate && first.similarity > 0.9, "{first:?}");
    assert!(
        similar
            .hits
            .iter()
            .all(|h| h.feedback.as_ref().unwrap().id != copy.id)
    );
    assert!(similar.hits.iter().skip(1).all(|h| !h.near_duplicate));

    let by_text = search
        .find_similar_feedback(pb::FindSimilarFeedbackRequest {
            source: Some(pb::find_similar_feedback_request::Source::Text(
                "Скарга на кур'єра і посилку".into(),
            )),
            page_size: 3,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        by_text.hits[0].feedback.as_ref().unwrap().external_id,
        "uk-2"
    );
    let missing = search
        .find_similar_feedback(pb::FindSimilarFeedbackRequest {
            source: None,
            page_size: 3,
        })
        .await
        .unwrap_err();
    assert_eq!(crate::common::violated_fields(&missing), ["source"]);
    server.stop().await;
}
