//! The indexer binary killed with SIGKILL at random moments — during backfill and during
//! live follow — and restarted each time ends in the same state as one uninterrupted
//! index of the chain, with no event applied twice.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use alloy::providers::Provider;
use assembly_indexer::store::Store;
use assembly_testkit::chain::{TestChain, T0};
use assembly_testkit::rng::Rng;

fn spawn(chain: &TestChain, dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_assembly-indexer"))
        .env("ASSEMBLY_RPC_URL", chain.anvil.endpoint())
        .env("ASSEMBLY_DEPLOYMENT", dir.join("deployment.json"))
        .env("ASSEMBLY_DB", dir.join("index.sqlite"))
        .env("ASSEMBLY_INDEXER_LISTEN", "127.0.0.1:0")
        .env("ASSEMBLY_CONFIRMATIONS", "4")
        // Small batches, so that backfill takes many steps to kill it in the middle of.
        .env("ASSEMBLY_MAX_BATCH", "2")
        .env("ASSEMBLY_POLL_MS", "10")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("indexer binary")
}

async fn activity(chain: &mut TestChain, id: u64, rng: &mut Rng, n: usize) {
    for _ in 0..n {
        chain.advance(1 + rng.below(30)).await;
        let who = chain.accounts[1 + rng.below(5) as usize];
        let sid = U256::from(id);
        if rng.below(3) < 2 {
            chain.try_send(chain.assembly.enqueue(sid), who).await;
        } else {
            chain.try_send(chain.assembly.yieldFloor(sid), who).await;
        }
    }
}

fn head(dir: &std::path::Path) -> Option<u64> {
    Store::open(dir.join("index.sqlite"))
        .ok()?
        .head()
        .ok()?
        .map(|b| b.number)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_and_restart_converge() {
    let mut chain = TestChain::start().await;
    let mut rng = Rng(2024);
    let id = chain.create_session(T0 + 5, 1_000_000, 45, 16).await;
    activity(&mut chain, id, &mut rng, 200).await;
    let dir = std::env::temp_dir().join(format!("assembly-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("deployment.json"),
        serde_json::to_vec(&chain.deployment).unwrap(),
    )
    .unwrap();

    // Killed during backfill, several times.
    let mut kills = 0;
    for _ in 0..6 {
        let mut child = spawn(&chain, &dir);
        tokio::time::sleep(Duration::from_millis(80 + rng.below(250))).await;
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
    }
    let mid_backfill = head(&dir);

    // Killed during live follow, while new blocks arrive.
    for _ in 0..4 {
        let mut child = spawn(&chain, &dir);
        activity(&mut chain, id, &mut rng, 8).await;
        tokio::time::sleep(Duration::from_millis(rng.below(150))).await;
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
    }

    // Finally left to catch up.
    let latest = chain.provider.get_block_number().await.unwrap();
    let mut child = spawn(&chain, &dir);
    let deadline = Instant::now() + Duration::from_secs(60);
    while head(&dir) != Some(latest) {
        assert!(
            Instant::now() < deadline,
            "indexer did not catch up: head {:?}, latest {latest}",
            head(&dir)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let restarted = Store::open(dir.join("index.sqlite")).unwrap();
    let fresh = chain.fresh_index().await;
    let events = restarted.events().unwrap();
    assert!(events.len() > 80, "{} events", events.len());
    assert_eq!(
        events,
        fresh.events().unwrap(),
        "restarted history differs from an uninterrupted one"
    );
    assert_eq!(restarted.stats().unwrap(), fresh.stats().unwrap());
    assert!(
        mid_backfill.is_none_or(|h| h < latest),
        "kills landed during backfill ({kills} kills)"
    );
    std::fs::remove_dir_all(&dir).ok();
}
