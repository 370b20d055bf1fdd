//! Crash safety: the server runs as a child process, is killed with SIGKILL in the middle of an
//! import, and restarted on the same data dir. Everything acknowledged before the kill must be
//! there afterwards, exactly once.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use crate::common::{DEADLINE, ingest_request, new_feedback};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use triage::pb;
use triage::pb::feedback_service_client::FeedbackServiceClient;

struct ChildServer {
    child: Child,
    url: String,
}

impl ChildServer {
    /// Starts `triage serve` on port 0 and reads the bound address from its first stdout line.
    fn start(data_dir: &Path) -> ChildServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_triage"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("TRIAGE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start triage serve");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let address = line
            .trim()
            .strip_prefix("triage listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        ChildServer {
            child,
            url: format!("http://{address}"),
        }
    }

    async fn client(&self) -> FeedbackServiceClient<Channel> {
        let started = Instant::now();
        loop {
            if let Ok(channel) = Channel::from_shared(self.url.clone())
                .unwrap()
                .connect()
                .await
            {
                return FeedbackServiceClient::new(channel);
            }
            assert!(started.elapsed() < DEADLINE, "child server unreachable");
            tokio::task::yield_now().await;
        }
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }
}

fn item(i: usize) -> pb::IngestFeedbackRequest {
    let text = format!(
        "Заказ номер {i} привезли с опозданием, упаковка была повреждена, прошу разобраться."
    );
    ingest_request(new_feedback(
        &format!("crash-{i}"),
        &format!("c{}", i % 97),
        &text,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_items_survive_sigkill_during_import() {
    const ITEMS: usize = 3000;
    const ROUNDS: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    // external id → server id of every acknowledged item.
    let mut acknowledged: HashMap<String, String> = HashMap::new();

    for round in 0..ROUNDS {
        let server = ChildServer::start(dir.path());
        let mut client = server.client().await;
        // Kill after a different, scattered number of acknowledgements each round (the writes
        // queued behind the last acknowledgement make the exact point of the kill arbitrary).
        let kill_after = 50 + (round * 7919) % (ITEMS - 100);
        let (requests, stream) = mpsc::channel(64);
        let feeder = tokio::spawn(async move {
            for i in 0..ITEMS {
                if requests.send(item(i)).await.is_err() {
                    break;
                }
            }
        });
        let mut answers = client
            .import_feedback(ReceiverStream::new(stream))
            .await
            .unwrap()
            .into_inner();
        let mut seen = 0;
        while let Some(Ok(result)) = answers.next().await {
            let feedback = result.feedback.expect("valid items are stored");
            if let Some(earlier) =
                acknowledged.insert(feedback.external_id.clone(), feedback.id.clone())
            {
                assert_eq!(
                    earlier, feedback.id,
                    "an item changed its id across a crash"
                );
            }
            seen += 1;
            if seen == kill_after {
                break;
            }
        }
        server.kill();
        feeder.abort();
    }

    let server = ChildServer::start(dir.path());
    let mut client = server.client().await;
    for (external_id, id) in &acknowledged {
        let stored = client
            .get_feedback(pb::GetFeedbackRequest { id: id.clone() })
            .await
            .unwrap_or_else(|status| panic!("{external_id} lost after SIGKILL: {status}"))
            .into_inner();
        assert_eq!(&stored.external_id, external_id);
    }
    // Re-importing everything creates exactly the items that were never acknowledged.
    let results: Vec<_> = client
        .import_feedback(futures::stream::iter((0..ITEMS).map(item)))
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(results.len(), ITEMS);
    // The index, derived state, catches up to the store: a match-all search counts every item.
    let mut search =
        triage::pb::search_service_client::SearchServiceClient::connect(server.url.clone())
            .await
            .unwrap();
    let started = Instant::now();
    loop {
        let total = search
            .search_feedback(pb::SearchFeedbackRequest::default())
            .await
            .unwrap()
            .into_inner()
            .total_size;
        if total == ITEMS as i64 {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "index stuck at {total} of {ITEMS}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for result in &results {
        let feedback = result.feedback.as_ref().unwrap();
        if let Some(id) = acknowledged.get(&feedback.external_id) {
            assert!(
                result.already_existed,
                "{} stored twice",
                feedback.external_id
            );
            assert_eq!(&feedback.id, id);
        }
    }
    server.kill();
}
