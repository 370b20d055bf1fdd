//! Repeats, near-duplicates and bursts through gRPC: the flags a reviewer sees, their evidence and
//! related ids, cluster ids across a restart, and no flags on retries.

use crate::common::{TestServer, ingest_request, new_feedback};
use prost_types::Timestamp;
use triage::pb;
use triage::pb::feedback_service_client::FeedbackServiceClient;

type Client = FeedbackServiceClient<tonic::transport::Channel>;

async fn ingest(client: &mut Client, feedback: pb::NewFeedback) -> pb::Feedback {
    client
        .ingest_feedback(ingest_request(feedback))
        .await
        .expect("ingest")
        .into_inner()
        .feedback
        .expect("feedback")
}

fn at(seconds: i64) -> Option<Timestamp> {
    // A fixed day in the past, so created_at windows are under the test's control.
    Some(Timestamp {
        seconds: 1_780_000_000 + seconds,
        nanos: 0,
    })
}

fn flag(feedback: &pb::Feedback, kind: pb::FlagKind) -> Option<&pb::Flag> {
    feedback.flags.iter().find(|f| f.kind == kind as i32)
}

fn assert_evidence_quotes_text(feedback: &pb::Feedback, flag: &pb::Flag) {
    let chars: Vec<char> = feedback.text.chars().collect();
    for span in &flag.evidence {
        let quoted: String = chars[span.start as usize..span.end as usize]
            .iter()
            .collect();
        assert_eq!(quoted, span.text, "evidence must quote the text");
    }
}

#[tokio::test]
async fn a_paraphrased_complaint_of_the_same_customer_is_a_repeat_in_each_language() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut client = server.feedback().await;
    let cases = [
        (
            "ru",
            "Интернет пропадает по вечерам, роутер мигает красным.",
            "Снова вечером нет интернета, роутер опять мигает красным!",
            "Курьер нагрубил при доставке заказа.",
        ),
        (
            "uk",
            "Інтернет зникає щовечора, роутер блимає червоним.",
            "Знову ввечері немає інтернету, роутер знову блимає червоним!",
            "Кур'єр нагрубіянив під час доставки замовлення.",
        ),
        (
            "sl",
            "Internet zvečer izginja, usmerjevalnik utripa rdeče.",
            "Spet zvečer ni interneta, usmerjevalnik spet utripa rdeče!",
            "Kurir je bil nesramen pri dostavi naročila.",
        ),
    ];
    for (language, first, again, other_problem) in cases {
        let customer = format!("repeat-{language}");
        let mut earlier = new_feedback(&format!("{language}-1"), &customer, first);
        earlier.created_at = at(0);
        let earlier = ingest(&mut client, earlier).await;
        assert!(earlier.flags.is_empty(), "{language}: {:?}", earlier.flags);

        let mut unrelated = new_feedback(&format!("{language}-2"), &customer, other_problem);
        unrelated.created_at = at(86_400);
        let unrelated = ingest(&mut client, unrelated).await;
        assert!(
            flag(&unrelated, pb::FlagKind::RepeatComplaint).is_none(),
            "{language}: a different problem is no repeat"
        );

        let mut later = new_feedback(&format!("{language}-3"), &customer, again);
        later.created_at = at(3 * 86_400);
        let later = ingest(&mut client, later).await;
        assert_eq!(later.language, language);
        let repeat = flag(&later, pb::FlagKind::RepeatComplaint)
            .unwrap_or_else(|| panic!("{language}: paraphrase not flagged: {:?}", later.flags));
        assert_eq!(
            repeat.related_feedback_ids,
            std::slice::from_ref(&earlier.id)
        );
        assert!(repeat.reason.contains("same problem"), "{}", repeat.reason);
        assert!(
            repeat.evidence.len() >= 2,
            "{language}: {:?}",
            repeat.evidence
        );
        assert_evidence_quotes_text(&later, repeat);

        // Outside the 30-day window the same text is no repeat.
        let mut much_later = new_feedback(&format!("{language}-4"), &customer, first);
        much_later.created_at = at(40 * 86_400);
        let much_later = ingest(&mut client, much_later).await;
        assert!(flag(&much_later, pb::FlagKind::RepeatComplaint).is_none());
    }
    server.stop().await;
}

#[tokio::test]
async fn repeats_are_found_after_a_restart_for_live_and_backfilled_items() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut client = server.feedback().await;
    let first = "Интернет пропадает по вечерам, роутер мигает красным.";
    let again = "Снова вечером нет интернета, роутер опять мигает красным!";
    let mut old = new_feedback("restart-old-1", "restart-old", first);
    old.created_at = at(0);
    let old = ingest(&mut client, old).await;
    let mut recent = new_feedback("restart-recent-1", "restart-recent", first);
    recent.created_at = at(100 * 86_400);
    let recent = ingest(&mut client, recent).await;
    server.stop().await;

    let server = TestServer::start(dir.path()).await;
    let mut client = server.feedback().await;
    // A live item: its history is what the server rebuilt in memory at start-up.
    let mut live = new_feedback("restart-recent-2", "restart-recent", again);
    live.created_at = at(102 * 86_400);
    let live = ingest(&mut client, live).await;
    let repeat = flag(&live, pb::FlagKind::RepeatComplaint)
        .unwrap_or_else(|| panic!("live repeat not flagged: {:?}", live.flags));
    assert_eq!(
        repeat.related_feedback_ids,
        std::slice::from_ref(&recent.id)
    );
    // A backfilled item months older than the newest: its history is read from the store.
    let mut backfilled = new_feedback("restart-old-2", "restart-old", again);
    backfilled.created_at = at(3 * 86_400);
    let backfilled = ingest(&mut client, backfilled).await;
    let repeat = flag(&backfilled, pb::FlagKind::RepeatComplaint)
        .unwrap_or_else(|| panic!("backfilled repeat not flagged: {:?}", backfilled.flags));
    assert_eq!(repeat.related_feedback_ids, std::slice::from_ref(&old.id));
    server.stop().await;
}

const CAMPAIGN: [&str; 5] = [
    "Требую вернуть деньги за тур в Турцию: отель оказался грязным, персонал хамил, а обещанного трансфера из аэропорта не было вовсе.",
    "Требую вернуть деньги за тур в Турцию: отель оказался очень грязным, персонал хамил, а обещанного трансфера из аэропорта не было вовсе.",
    "Требую вернуть деньги за тур в Турцию: отель был грязным, персонал хамил, а обещанного трансфера из аэропорта не было вовсе.",
    "Требую вернуть деньги за тур в Турцию! Отель оказался грязным, персонал хамил, а обещанного трансфера из аэропорта не было.",
    "Требую вернуть деньги за тур в Турцию: отель оказался грязным, весь персонал хамил, а обещанного трансфера из аэропорта не было вовсе.",
];

#[tokio::test]
async fn a_campaign_of_five_customers_forms_one_cluster_that_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut client = server.feedback().await;
    let mut members = Vec::new();
    for (i, text) in CAMPAIGN.iter().enumerate() {
        let item = ingest(
            &mut client,
            new_feedback(
                &format!("campaign-{i}"),
                &format!("campaign-customer-{i}"),
                text,
            ),
        )
        .await;
        members.push(item);
    }
    let first = &members[0];
    assert!(flag(first, pb::FlagKind::DuplicateText).is_none());
    for (i, member) in members.iter().enumerate().skip(1) {
        let duplicate = flag(member, pb::FlagKind::DuplicateText)
            .unwrap_or_else(|| panic!("member {i} not flagged: {:?}", member.flags));
        assert_eq!(
            member.cluster_id, first.id,
            "a cluster is named after its first member"
        );
        assert!(
            duplicate
                .reason
                .contains(&format!("member {} of cluster", i + 1)),
            "{}",
            duplicate.reason
        );
        assert!(duplicate.reason.contains(&first.id), "{}", duplicate.reason);
        assert!(
            duplicate
                .related_feedback_ids
                .iter()
                .all(|id| members[..i].iter().any(|m| &m.id == id))
        );
        assert!(duplicate.confidence >= 0.7);
        assert_evidence_quotes_text(member, duplicate);
    }
    let stored_first = client
        .get_feedback(pb::GetFeedbackRequest {
            id: first.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        stored_first.cluster_id, first.id,
        "the first member joins its cluster"
    );

    // A retry changes nothing and flags nothing new.
    let retry = client
        .ingest_feedback(ingest_request(new_feedback(
            "campaign-2",
            "campaign-customer-2",
            CAMPAIGN[2],
        )))
        .await
        .unwrap()
        .into_inner();
    assert!(retry.already_existed);
    assert_eq!(retry.feedback.unwrap().flags, members[2].flags);

    server.stop().await;
    // The duplicate screens are derived state, written afresh at every start: a stale or
    // damaged file is replaced, not trusted.
    let screens = dir.path().join("duplicate-screens.bin");
    let written = std::fs::metadata(&screens).expect("screens file").len();
    assert!(written > 0, "the items' screens are on disk");
    std::fs::write(&screens, vec![0xff; 1 << 20]).unwrap();
    let server = TestServer::start(dir.path()).await;
    assert_eq!(
        std::fs::metadata(&screens).unwrap().len(),
        written,
        "the screens are written again from the store"
    );
    let mut client = server.feedback().await;
    let sixth = ingest(
        &mut client,
        new_feedback(
            "campaign-5",
            "campaign-customer-5",
            "Требую вернуть деньги за тур в Турцию: отель оказался грязным, персонал хамил, а трансфера из аэропорта не было вовсе.",
        ),
    )
    .await;
    assert_eq!(sixth.cluster_id, first.id, "cluster ids survive a restart");
    let duplicate = flag(&sixth, pb::FlagKind::DuplicateText).expect("flagged after restart");
    assert!(
        duplicate.reason.contains("member 6 of cluster"),
        "{}",
        duplicate.reason
    );
    server.stop().await;
}

#[tokio::test]
async fn different_complaints_about_one_topic_are_not_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut client = server.feedback().await;
    let texts = [
        (
            "ru",
            "Заказ привезли на три дня позже, курьер даже не позвонил и оставил коробку у подъезда.",
            "Доставка опоздала: посылку ждали неделю, служба поддержки так и не ответила на письма.",
        ),
        (
            "uk",
            "Замовлення привезли на три дні пізніше, кур'єр навіть не зателефонував і залишив коробку біля під'їзду.",
            "Доставка запізнилася: посилку чекали тиждень, служба підтримки так і не відповіла на листи.",
        ),
        (
            "sl",
            "Naročilo je prispelo tri dni pozneje, kurir niti ni poklical in je škatlo pustil pred vhodom.",
            "Dostava je zamujala: paket smo čakali en teden, podpora pa ni odgovorila na sporočila.",
        ),
    ];
    for (language, a, b) in texts {
        ingest(
            &mut client,
            new_feedback(&format!("{language}-a"), "topic-a", a),
        )
        .await;
        let second = ingest(
            &mut client,
            new_feedback(&format!("{language}-b"), "topic-b", b),
        )
        .await;
        assert!(
            second
                .flags
                .iter()
                .all(|f| f.kind != pb::FlagKind::DuplicateText as i32),
            "{language}: {:?}",
            second.flags
        );
        assert!(second.cluster_id.is_empty());
    }
    server.stop().await;
}

#[tokio::test]
async fn the_sixth_item_within_an_hour_is_a_burst() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut client = server.feedback().await;
    let texts = [
        "Почему мне не вернули деньги?",
        "Ответьте уже наконец.",
        "Сколько можно ждать ответа?",
        "Я жду возврат вторую неделю.",
        "Позовите руководителя.",
        "Это мое шестое сообщение за час.",
    ];
    let mut sent = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let mut item = new_feedback(&format!("burst-{i}"), "burst-customer", text);
        item.created_at = at(i as i64 * 600);
        sent.push(ingest(&mut client, item).await);
    }
    for item in &sent[..5] {
        assert!(flag(item, pb::FlagKind::Burst).is_none());
    }
    let burst = flag(&sent[5], pb::FlagKind::Burst).expect("sixth item within an hour");
    let mut related = burst.related_feedback_ids.clone();
    related.sort();
    let mut expected: Vec<String> = sent[..5].iter().map(|f| f.id.clone()).collect();
    expected.sort();
    assert_eq!(related, expected);
    assert!(
        burst.reason.contains("6 items within 60 minutes"),
        "{}",
        burst.reason
    );
    server.stop().await;
}

#[tokio::test]
async fn near_identical_texts_sent_at_the_same_moment_still_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let mut client = server.feedback().await;
        tasks.push(tokio::spawn(async move {
            ingest(
                &mut client,
                new_feedback(
                    &format!("same-moment-{i}"),
                    &format!("same-moment-customer-{i}"),
                    CAMPAIGN[i % 5],
                ),
            )
            .await
        }));
    }
    let mut items = Vec::new();
    for task in tasks {
        items.push(task.await.unwrap());
    }
    let flagged = items
        .iter()
        .filter(|f| flag(f, pb::FlagKind::DuplicateText).is_some())
        .count();
    assert_eq!(flagged, 7, "all but the first to be stored are duplicates");
    let cluster = &items
        .iter()
        .find(|f| !f.cluster_id.is_empty())
        .unwrap()
        .cluster_id;
    assert!(
        items
            .iter()
            .all(|f| &f.cluster_id == cluster || &f.id == cluster)
    );
    // However the writer batched them, each member counts those stored before it.
    let mut sizes: Vec<usize> = items
        .iter()
        .filter_map(|f| flag(f, pb::FlagKind::DuplicateText))
        .map(|duplicate| {
            (2..=8)
                .find(|size| {
                    duplicate
                        .reason
                        .contains(&format!("member {size} of cluster"))
                })
                .unwrap_or_else(|| panic!("no member number in {:?}", duplicate.reason))
        })
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, (2..=8).collect::<Vec<_>>());
    server.stop().await;
}

#[tokio::test]
async fn a_campaign_imported_in_one_stream_stores_its_first_member_in_the_cluster() {
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut client = server.feedback().await;
    // The writer may take several of a stream's items into one batch, so the first member may
    // still be waiting to be written when the second one finds it; stored either way.
    let requests: Vec<pb::IngestFeedbackRequest> = CAMPAIGN
        .iter()
        .enumerate()
        .map(|(i, text)| {
            ingest_request(new_feedback(
                &format!("streamed-{i}"),
                &format!("streamed-customer-{i}"),
                text,
            ))
        })
        .collect();
    let members: Vec<pb::Feedback> = client
        .import_feedback(futures::stream::iter(requests))
        .await
        .unwrap()
        .into_inner()
        .map(|result| result.unwrap().feedback.unwrap())
        .collect()
        .await;
    let first = &members[0];
    assert!(members[1..].iter().all(|m| m.cluster_id == first.id));
    let stored = |client: &mut Client, id: String| {
        let mut client = client.clone();
        async move {
            client
                .get_feedback(pb::GetFeedbackRequest { id })
                .await
                .unwrap()
                .into_inner()
        }
    };
    assert_eq!(
        stored(&mut client, first.id.clone()).await.cluster_id,
        first.id,
        "the first member is stored in the cluster named after it"
    );
    server.stop().await;

    let server = TestServer::start(dir.path()).await;
    let mut client = server.feedback().await;
    assert_eq!(
        stored(&mut client, first.id.clone()).await.cluster_id,
        first.id
    );
    server.stop().await;
}
