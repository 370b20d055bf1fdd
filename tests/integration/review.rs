//! Review queues through gRPC: the life cycle, concurrent claims, leases, etags, roles, the audit
//! trail, the watch stream, queue statistics and a restart.

use std::path::Path;
use std::time::Instant;

use crate::common::{DEADLINE, TestServer, ingest_request, new_feedback, violated_fields};
use tonic::Code;
use tonic::transport::Channel;
use triage::auth::{Role, TokenConfig};
use triage::config::Settings;
use triage::pb;
use triage::pb::feedback_service_client::FeedbackServiceClient;
use triage::pb::review_service_client::ReviewServiceClient;

const EXTORTION: &str =
    "Верните деньги за сломанный пылесос, иначе напишу во все соцсети, что вы продаёте брак.";
const EXTORTION_UK: &str =
    "Поверніть гроші за зламаний пилосос, інакше напишу в усі соцмережі, що ви продаєте брак.";
const EXTORTION_SL: &str =
    "Zahtevam odškodnino 200 evrov. Če ne plačate, bodo vsi izvedeli, kako goljufate stranke.";

fn token(name: &str, roles: Vec<Role>) -> TokenConfig {
    TokenConfig {
        name: name.into(),
        token_sha256: None,
        token: Some(format!("{name}-secret")),
        roles,
    }
}

fn settings(dir: &Path) -> Settings {
    let mut settings = Settings::with_data_dir(dir);
    settings.auth.tokens = vec![
        token("bot", vec![Role::Ingest]),
        token("root", vec![Role::Admin]),
    ];
    settings
        .auth
        .tokens
        .extend((0..20).map(|i| token(&format!("reviewer{i}"), vec![Role::Reviewer])));
    settings
}

fn as_user<T>(message: T, name: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {name}-secret").parse().unwrap(),
    );
    request
}

async fn flag_item(
    server: &TestServer,
    external_id: &str,
    customer: &str,
    text: &str,
) -> pb::Feedback {
    FeedbackServiceClient::new(server.channel().await)
        .ingest_feedback(as_user(
            ingest_request(new_feedback(external_id, customer, text)),
            "bot",
        ))
        .await
        .expect("ingest")
        .into_inner()
        .feedback
        .unwrap()
}

async fn list(
    client: &mut ReviewServiceClient<Channel>,
    request: pb::ListReviewItemsRequest,
) -> pb::ListReviewItemsResponse {
    client
        .list_review_items(as_user(request, "reviewer0"))
        .await
        .expect("list")
        .into_inner()
}

/// An item's audit trail, oldest first, as a reviewer reads it.
async fn events_of(
    client: &mut ReviewServiceClient<Channel>,
    id: &str,
) -> Vec<pb::ReviewItemEvent> {
    client
        .list_review_item_events(as_user(
            pb::ListReviewItemEventsRequest { id: id.into() },
            "reviewer0",
        ))
        .await
        .expect("list events")
        .into_inner()
        .events
}

fn suspicious() -> pb::ListReviewItemsRequest {
    pb::ListReviewItemsRequest {
        queue: pb::Queue::Suspicious as i32,
        ..Default::default()
    }
}

fn claim(id: &str) -> pb::ClaimReviewItemRequest {
    pb::ClaimReviewItemRequest {
        id: id.into(),
        lease: None,
    }
}

fn resolve(
    item: &pb::ReviewItem,
    decision: pb::Decision,
    note: &str,
) -> pb::ResolveReviewItemRequest {
    pb::ResolveReviewItemRequest {
        id: item.id.clone(),
        etag: item.etag.clone(),
        decision: decision as i32,
        note: note.into(),
        reopen: false,
    }
}

#[tokio::test]
async fn a_flagged_item_goes_through_its_whole_life_and_leaves_an_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(settings(dir.path())).await;
    let mut client = ReviewServiceClient::new(server.channel().await);
    // Watch from the start: creation, claim and decision must all arrive.
    let mut watch = client
        .watch_review_items(as_user(
            pb::WatchReviewItemsRequest {
                queue: pb::Queue::Suspicious as i32,
                after_sequence: 0,
            },
            "reviewer1",
        ))
        .await
        .unwrap()
        .into_inner();

    let feedback = flag_item(&server, "life-1", "cust-life", EXTORTION).await;
    assert!(
        feedback
            .flags
            .iter()
            .any(|f| f.kind == pb::FlagKind::Extortion as i32)
    );
    let listed = list(&mut client, suspicious()).await.items;
    assert_eq!(listed.len(), 1);
    let item = &listed[0];
    assert_eq!(item.state, pb::ReviewState::Open as i32);
    assert_eq!(item.priority, pb::Priority::P1 as i32);
    assert_eq!(item.feedback.as_ref().unwrap().id, feedback.id);
    assert!(
        item.flags
            .iter()
            .any(|f| f.kind == pb::FlagKind::Extortion as i32)
    );
    assert!(
        list(
            &mut client,
            pb::ListReviewItemsRequest {
                queue: pb::Queue::Repeated as i32,
                ..Default::default()
            }
        )
        .await
        .items
        .is_empty()
    );

    let claimed = client
        .claim_review_item(as_user(claim(&item.id), "reviewer1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(claimed.state, pb::ReviewState::Claimed as i32);
    assert_eq!(claimed.assignee, "reviewer1");
    assert!(claimed.lease_expires_at.is_some());
    assert_ne!(claimed.etag, item.etag);

    // Another reviewer may not decide it; the assignee with an old etag is told it is stale.
    let other = client
        .resolve_review_item(as_user(
            resolve(&claimed, pb::Decision::Confirmed, ""),
            "reviewer2",
        ))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied, "{other:?}");
    let stale = client
        .resolve_review_item(as_user(
            resolve(item, pb::Decision::Confirmed, ""),
            "reviewer1",
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    let no_note = client
        .resolve_review_item(as_user(
            resolve(&claimed, pb::Decision::Dismissed, " "),
            "reviewer1",
        ))
        .await
        .unwrap_err();
    assert_eq!(no_note.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&no_note), ["note"]);

    let decided = client
        .resolve_review_item(as_user(
            resolve(&claimed, pb::Decision::Confirmed, "clear blackmail"),
            "reviewer1",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(decided.state, pb::ReviewState::Confirmed as i32);
    assert_eq!(decided.decision_note, "clear blackmail");
    let again = client
        .claim_review_item(as_user(claim(&item.id), "reviewer3"))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(again.message().contains("CONFIRMED"), "{}", again.message());

    // Reopening is an admin action.
    let reopen = pb::ResolveReviewItemRequest {
        id: item.id.clone(),
        etag: decided.etag.clone(),
        reopen: true,
        note: "second look".into(),
        ..Default::default()
    };
    let denied = client
        .resolve_review_item(as_user(reopen.clone(), "reviewer1"))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let reopened = client
        .resolve_review_item(as_user(reopen, "root"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reopened.state, pb::ReviewState::Open as i32);

    let events = events_of(&mut client, &item.id).await;
    let trail: Vec<(i32, i32, &str)> = events
        .iter()
        .map(|e| (e.from_state, e.to_state, e.actor.as_str()))
        .collect();
    use pb::ReviewState as S;
    assert_eq!(
        trail,
        [
            (S::Unspecified as i32, S::Open as i32, "triage"),
            (S::Open as i32, S::Claimed as i32, "reviewer1"),
            (S::Claimed as i32, S::Confirmed as i32, "reviewer1"),
            (S::Confirmed as i32, S::Open as i32, "root"),
        ]
    );
    assert_eq!(events[2].note, "clear blackmail");
    let times: Vec<(i64, i32)> = events
        .iter()
        .map(|e| e.time.map(|t| (t.seconds, t.nanos)).unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));

    let mut seen = Vec::new();
    while seen.len() < 4 {
        let change = tokio::time::timeout(DEADLINE, watch.message())
            .await
            .expect("watch delivers within the deadline")
            .unwrap()
            .expect("stream open");
        assert!(!change.lagged);
        seen.push((change.item.unwrap().state, change.sequence));
    }
    let states: Vec<i32> = seen.iter().map(|s| s.0).collect();
    assert_eq!(
        states,
        [
            S::Open as i32,
            S::Claimed as i32,
            S::Confirmed as i32,
            S::Open as i32
        ]
    );
    assert!(
        seen.windows(2).all(|w| w[0].1 < w[1].1),
        "sequence numbers grow"
    );

    // A watcher resuming after the claim gets the later changes from the store.
    let mut resumed = client
        .watch_review_items(as_user(
            pb::WatchReviewItemsRequest {
                queue: 0,
                after_sequence: seen[1].1,
            },
            "reviewer1",
        ))
        .await
        .unwrap()
        .into_inner();
    let next = resumed.message().await.unwrap().unwrap();
    assert_eq!(
        next.item.unwrap().state,
        S::Open as i32,
        "latest state of the changed item"
    );
    server.stop().await;
}

#[tokio::test]
async fn twenty_reviewers_claim_at_once_and_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(settings(dir.path())).await;
    flag_item(&server, "race-1", "cust-race", EXTORTION_UK).await;
    let mut client = ReviewServiceClient::new(server.channel().await);
    let item = list(&mut client, suspicious()).await.items.remove(0);
    let mut attempts = Vec::new();
    for i in 0..20 {
        let mut client = client.clone();
        let id = item.id.clone();
        attempts.push(tokio::spawn(async move {
            client
                .claim_review_item(as_user(claim(&id), &format!("reviewer{i}")))
                .await
        }));
    }
    let (mut won, mut lost) = (Vec::new(), 0);
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(item) => won.push(item.into_inner()),
            Err(status) => {
                assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
                assert!(
                    status.message().contains("CLAIMED by"),
                    "{}",
                    status.message()
                );
                lost += 1;
            }
        }
    }
    assert_eq!((won.len(), lost), (1, 19));
    let stored = client
        .get_review_item(as_user(
            pb::GetReviewItemRequest {
                id: item.id.clone(),
            },
            "reviewer0",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.assignee, won[0].assignee);
    server.stop().await;
}

#[tokio::test]
async fn an_expired_lease_returns_the_item_to_open_and_roles_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(settings(dir.path())).await;
    flag_item(&server, "lease-1", "cust-lease", EXTORTION_SL).await;
    let mut client = ReviewServiceClient::new(server.channel().await);

    let anonymous = client.list_review_items(suspicious()).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let ingest_only = client
        .list_review_items(as_user(suspicious(), "bot"))
        .await
        .unwrap_err();
    assert_eq!(ingest_only.code(), Code::PermissionDenied);

    let item = list(&mut client, suspicious()).await.items.remove(0);
    let short = pb::ClaimReviewItemRequest {
        id: item.id.clone(),
        lease: Some(prost_types::Duration {
            seconds: 1,
            nanos: 0,
        }),
    };
    let too_long = pb::ClaimReviewItemRequest {
        lease: Some(prost_types::Duration {
            seconds: 90_000,
            nanos: 0,
        }),
        ..short.clone()
    };
    let refused = client
        .claim_review_item(as_user(too_long, "reviewer4"))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["lease"]);
    client
        .claim_review_item(as_user(short, "reviewer4"))
        .await
        .unwrap();
    let started = Instant::now();
    let reopened = loop {
        let current = client
            .get_review_item(as_user(
                pb::GetReviewItemRequest {
                    id: item.id.clone(),
                },
                "reviewer0",
            ))
            .await
            .unwrap()
            .into_inner();
        if current.state == pb::ReviewState::Open as i32 {
            break current;
        }
        assert!(started.elapsed() < DEADLINE, "lease never expired");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(reopened.assignee.is_empty());
    let events = events_of(&mut client, &item.id).await;
    let last = events.last().unwrap();
    assert_eq!(
        (last.actor.as_str(), last.to_state),
        ("triage", pb::ReviewState::Open as i32)
    );
    assert!(
        last.note.contains("lease of reviewer4 ended"),
        "{}",
        last.note
    );
    // Someone else can take it now.
    client
        .claim_review_item(as_user(claim(&item.id), "reviewer5"))
        .await
        .unwrap();
    let missing = client
        .get_review_item(as_user(
            pb::GetReviewItemRequest { id: "nope".into() },
            "reviewer0",
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn a_watcher_that_falls_behind_is_told_and_catches_up_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(settings(dir.path())).await;
    let mut client = ReviewServiceClient::new(server.channel().await);
    // A watcher on a connection of its own that reads nothing while changes pile up.
    let mut watch = ReviewServiceClient::new(server.channel().await)
        .watch_review_items(as_user(
            pb::WatchReviewItemsRequest {
                queue: pb::Queue::Suspicious as i32,
                after_sequence: 0,
            },
            "reviewer1",
        ))
        .await
        .unwrap()
        .into_inner();
    // A long text makes every change a large message, so the transport's flow-control window
    // holds few of them and the server-side buffers must overflow.
    let text = format!(
        "{EXTORTION} {}",
        "Пылесос сломался через неделю. ".repeat(120)
    );
    flag_item(&server, "lag-1", "cust-lag", &text).await;
    let item = list(&mut client, suspicious()).await.items.remove(0);
    // 2,000 changes: more than the live buffer (1,024), the watcher's queue and the window.
    for _ in 0..1_000 {
        client
            .claim_review_item(as_user(claim(&item.id), "reviewer1"))
            .await
            .unwrap();
        client
            .release_review_item(as_user(
                pb::ReleaseReviewItemRequest {
                    id: item.id.clone(),
                },
                "reviewer1",
            ))
            .await
            .unwrap();
    }
    let last = list(&mut client, suspicious()).await.items.remove(0);
    assert_eq!(last.state, pb::ReviewState::Open as i32);

    let started = Instant::now();
    let (mut lagged_at, mut previous) = (None, 0);
    loop {
        assert!(started.elapsed() < DEADLINE, "the watcher never caught up");
        let message = watch
            .message()
            .await
            .unwrap()
            .expect("the watch stays open");
        if message.lagged {
            assert!(message.item.is_none(), "a lag notice carries no item");
            lagged_at.get_or_insert(message.sequence);
            continue;
        }
        assert!(message.sequence > previous, "sequences only go forward");
        previous = message.sequence;
        if message.item.unwrap().etag == last.etag {
            break;
        }
    }
    let lagged_at = lagged_at.expect("a watcher 2,000 changes behind is told it lagged");
    assert!(lagged_at > 0 && lagged_at < previous);
}

#[tokio::test]
async fn queues_filter_page_count_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(settings(dir.path())).await;
    // Three suspicious items of different priorities, and a repeated complaint.
    flag_item(&server, "q-1", "cust-q1", EXTORTION).await;
    flag_item(
        &server,
        "q-2",
        "cust-q2",
        "Заработок от 5000 рублей в день без вложений! Пишите в телеграм @easy_money_bot",
    )
    .await;
    flag_item(&server, "q-3", "cust-q3", EXTORTION_UK).await;
    flag_item(
        &server,
        "q-4",
        "cust-q4",
        "Интернет пропадает по вечерам, роутер мигает красным.",
    )
    .await;
    let repeat = flag_item(
        &server,
        "q-5",
        "cust-q4",
        "Снова вечером нет интернета, роутер опять мигает красным!",
    )
    .await;
    assert!(
        repeat
            .flags
            .iter()
            .any(|f| f.kind == pb::FlagKind::RepeatComplaint as i32)
    );

    let mut client = ReviewServiceClient::new(server.channel().await);
    let repeated = list(
        &mut client,
        pb::ListReviewItemsRequest {
            queue: pb::Queue::Repeated as i32,
            ..Default::default()
        },
    )
    .await
    .items;
    assert_eq!(repeated.len(), 1);
    assert_eq!(repeated[0].feedback.as_ref().unwrap().id, repeat.id);

    // Work order across pages of one: P1 items first (oldest first), then the spam.
    let mut order = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(
            &mut client,
            pb::ListReviewItemsRequest {
                page_size: 1,
                page_token: token.clone(),
                ..suspicious()
            },
        )
        .await;
        order.extend(
            page.items
                .iter()
                .map(|i| (i.priority, i.feedback.as_ref().unwrap().external_id.clone())),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        order,
        [
            (1, "q-1".to_string()),
            (1, "q-3".to_string()),
            (4, "q-2".to_string())
        ]
    );
    let spam_only = list(
        &mut client,
        pb::ListReviewItemsRequest {
            flag_kinds: vec![pb::FlagKind::Spam as i32],
            ..suspicious()
        },
    )
    .await
    .items;
    assert_eq!(spam_only.len(), 1);
    let bad = client
        .list_review_items(as_user(
            pb::ListReviewItemsRequest {
                states: vec![42],
                page_token: "garbage".into(),
                ..suspicious()
            },
            "reviewer0",
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&bad), ["states[0]"]);

    // Decide two of the three: one confirmed, one dismissed.
    let items = list(&mut client, suspicious()).await.items;
    for (item, decision, note) in [
        (&items[0], pb::Decision::Confirmed, ""),
        (
            &items[2],
            pb::Decision::Dismissed,
            "a real shop's ad, harmless",
        ),
    ] {
        let claimed = client
            .claim_review_item(as_user(claim(&item.id), "reviewer7"))
            .await
            .unwrap()
            .into_inner();
        client
            .resolve_review_item(as_user(resolve(&claimed, decision, note), "reviewer7"))
            .await
            .unwrap();
    }
    let mine = list(
        &mut client,
        pb::ListReviewItemsRequest {
            assignee: "reviewer7".into(),
            ..suspicious()
        },
    )
    .await
    .items;
    assert_eq!(mine.len(), 2);
    server.stop().await;

    let server = TestServer::start_with(settings(dir.path())).await;
    let mut client = ReviewServiceClient::new(server.channel().await);
    let stats = client
        .get_queue_stats(as_user(
            pb::GetQueueStatsRequest {
                queue: pb::Queue::Suspicious as i32,
            },
            "reviewer0",
        ))
        .await
        .unwrap()
        .into_inner();
    let count = |state: pb::ReviewState| {
        stats
            .state_counts
            .iter()
            .find(|c| c.state == state as i32)
            .unwrap()
            .count
    };
    assert_eq!(count(pb::ReviewState::Open), 1);
    assert_eq!(count(pb::ReviewState::Claimed), 0);
    assert_eq!(count(pb::ReviewState::Confirmed), 1);
    assert_eq!(count(pb::ReviewState::Dismissed), 1);
    assert!(stats.oldest_open_age.is_some());
    assert!(stats.median_time_to_first_claim.is_some());
    let rate = |kind: pb::FlagKind| {
        stats
            .decision_rates
            .iter()
            .find(|r| r.flag_kind == kind as i32)
            .cloned()
    };
    let extortion = rate(pb::FlagKind::Extortion).expect("extortion decided");
    assert_eq!(
        (
            extortion.decided,
            extortion.confirmed,
            extortion.confirm_rate
        ),
        (1, 1, 1.0)
    );
    let spam = rate(pb::FlagKind::Spam).expect("spam decided");
    assert_eq!(
        (spam.decided, spam.dismissed, spam.confirm_rate),
        (1, 1, 0.0)
    );
    let missing_queue = client
        .get_queue_stats(as_user(pb::GetQueueStatsRequest { queue: 0 }, "reviewer0"))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&missing_queue), ["queue"]);
    server.stop().await;
}

#[tokio::test]
async fn a_reviewer_works_the_queue_from_the_terminal() {
    use triage::cli::ConnectionArgs;
    use triage::cli::review::{DecisionArg, QueueArg, ReviewAction, ReviewArgs, run};
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(settings(dir.path())).await;
    flag_item(&server, "cli-1", "cust-cli", EXTORTION).await;
    let as_reviewer = |action| ReviewArgs {
        action,
        connection: ConnectionArgs::new(server.url(), Some("reviewer9-secret".into())),
    };
    let listed = run(&as_reviewer(ReviewAction::List {
        queue: QueueArg::Suspicious,
        all: false,
        limit: 10,
    }))
    .await
    .unwrap();
    assert!(
        listed.contains("[extortion]") && listed.contains("OPEN"),
        "{listed}"
    );
    let id = listed.split_whitespace().next().unwrap().to_string();
    let claimed = run(&as_reviewer(ReviewAction::Claim {
        id: id.clone(),
        minutes: None,
    }))
    .await
    .unwrap();
    assert!(claimed.contains("claimed by reviewer9"), "{claimed}");
    let refused = run(&as_reviewer(ReviewAction::Resolve {
        id: id.clone(),
        decision: DecisionArg::Escalated,
        note: String::new(),
        etag: None,
    }))
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("note"), "{refused}");
    let resolved = run(&as_reviewer(ReviewAction::Resolve {
        id: id.clone(),
        decision: DecisionArg::Escalated,
        note: "to legal".into(),
        etag: None,
    }))
    .await
    .unwrap();
    assert!(resolved.contains("ESCALATED"), "{resolved}");
    let events = run(&as_reviewer(ReviewAction::Events { id }))
        .await
        .unwrap();
    assert_eq!(events.lines().count(), 3, "{events}");
    assert!(events.contains("CLAIMED → ESCALATED  to legal"), "{events}");
    server.stop().await;
}

#[tokio::test]
async fn flagged_items_imported_together_each_get_their_queue_entry_flag_kinds_and_event() {
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(settings(dir.path())).await;
    // One stream of 120 items, so the writer takes many of them in one batch: extortion and spam
    // by turns, each from its own customer.
    let count = 120;
    let requests: Vec<_> = (0..count)
        .map(|i| {
            let text = if i % 2 == 0 {
                format!("{EXTORTION} Заказ номер {i}.")
            } else {
                format!(
                    "Заработок от {i}000 рублей в день без вложений! Пишите в телеграм @easy_money_bot"
                )
            };
            ingest_request(new_feedback(&format!("b-{i}"), &format!("cb-{i}"), &text))
        })
        .collect();
    let stored = FeedbackServiceClient::new(server.channel().await)
        .import_feedback(as_user(futures::stream::iter(requests), "bot"))
        .await
        .expect("import")
        .into_inner()
        .filter(|answer| std::future::ready(answer.as_ref().is_ok_and(|a| a.feedback.is_some())))
        .count()
        .await;
    assert_eq!(stored, count);

    let mut client = ReviewServiceClient::new(server.channel().await);
    let of_kind = |kind: pb::FlagKind| pb::ListReviewItemsRequest {
        flag_kinds: vec![kind as i32],
        page_size: 500,
        ..suspicious()
    };
    let items = list(
        &mut client,
        pb::ListReviewItemsRequest {
            page_size: 500,
            ..suspicious()
        },
    )
    .await
    .items;
    assert_eq!(items.len(), count, "one queue entry per item");
    let spam = list(&mut client, of_kind(pb::FlagKind::Spam)).await.items;
    assert_eq!(
        spam.len(),
        count / 2,
        "the flag kinds are filled in for every row"
    );
    assert!(spam.iter().all(|item| {
        let external_id = &item.feedback.as_ref().unwrap().external_id;
        external_id[2..].parse::<usize>().unwrap() % 2 == 1
    }));
    for item in items {
        let events = events_of(&mut client, &item.id).await;
        assert_eq!(events.len(), 1, "one creation event per item");
        assert_eq!(events[0].review_item_id, item.id);
        assert_eq!(events[0].to_state, pb::ReviewState::Open as i32);
    }
}
