//! Following a chain live ends in the same state as a fresh backfill of it; a reorg is
//! rolled back and the canonical blocks re-applied.

use std::time::Duration;

use alloy::primitives::U256;
use alloy::providers::Provider;
use assembly_indexer::store::Store;
use assembly_indexer::sync::{Change, SyncConfig};
use assembly_testkit::chain::{TestChain, T0};
use assembly_testkit::rng::Rng;
use tokio::sync::watch;

fn history_of(store: &Store) -> Vec<(u64, u64, String)> {
    store.events().unwrap()
}

/// Sends a few random requests and yields.
async fn activity(chain: &mut TestChain, id: u64, rng: &mut Rng, n: usize) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        chain.advance(1 + rng.below(40)).await;
        let who = chain.accounts[1 + rng.below(5) as usize];
        let sid = U256::from(id);
        ok += match rng.below(3) {
            0 | 1 => chain.try_send(chain.assembly.enqueue(sid), who).await,
            _ => chain.try_send(chain.assembly.yieldFloor(sid), who).await,
        } as usize;
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_follow_equals_fresh_backfill() {
    let mut chain = TestChain::start().await;
    let mut rng = Rng(99);
    let id = chain.create_session(T0 + 10, 100_000, 60, 16).await;
    activity(&mut chain, id, &mut rng, 20).await;

    // Backfill what exists, then follow while more happens.
    let store = chain.store();
    let config = SyncConfig {
        confirmations: 3,
        max_batch: 4,
        poll_interval: Duration::from_millis(20),
        ..Default::default()
    };
    let follower = chain.follower(store.clone(), config);
    let mut progress = follower.progress();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(follower.run(stopped));
    activity(&mut chain, id, &mut rng, 30).await;
    let latest = chain.provider.get_block_number().await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(30),
        progress.wait_for(|p| p.caught_up && p.head == Some(latest)),
    )
    .await
    .expect("follower caught up")
    .unwrap();
    stop.send(true).unwrap();
    task.await.unwrap();

    let fresh = chain.fresh_index().await;
    let followed = history_of(&store);
    assert!(followed.len() > 20, "{} events", followed.len());
    assert_eq!(
        followed,
        history_of(&fresh),
        "followed and backfilled histories differ"
    );
    assert_eq!(store.stats().unwrap(), fresh.stats().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_rolls_back_and_reapplies() {
    let mut chain = TestChain::start().await;
    let mut rng = Rng(7);
    let id = chain.create_session(T0 + 10, 100_000, 60, 16).await;
    activity(&mut chain, id, &mut rng, 6).await;

    let store = chain.store();
    let mut follower = chain.follower(
        store.clone(),
        SyncConfig {
            confirmations: 50,
            max_batch: 1000,
            ..Default::default()
        },
    );
    let mut changes = follower.changes().subscribe();
    follower.sync_to_head().await.unwrap();

    // Fork: blocks the indexer has applied (unconfirmed) are replaced by a longer chain.
    let snapshot: U256 = chain
        .provider
        .raw_request("evm_snapshot".into(), ())
        .await
        .unwrap();
    let fork_time = chain.clock;
    activity(&mut chain, id, &mut rng, 8).await;
    follower.sync_to_head().await.unwrap();
    let orphaned = history_of(&store);
    let _: bool = chain
        .provider
        .raw_request("evm_revert".into(), (snapshot,))
        .await
        .unwrap();
    chain.clock = fork_time;
    let mut other = Rng(12345);
    activity(&mut chain, id, &mut other, 12).await;
    follower.sync_to_head().await.unwrap();

    let mut rolled_back = false;
    while let Ok(c) = changes.try_recv() {
        rolled_back |= matches!(c, Change::RolledBack { .. });
    }
    assert!(rolled_back, "the follower saw the reorg");
    let fresh = chain.fresh_index().await;
    assert_ne!(orphaned, history_of(&fresh), "the fork changed history");
    assert_eq!(
        history_of(&store),
        history_of(&fresh),
        "state after the reorg equals a fresh index"
    );
    assert_eq!(store.stats().unwrap(), fresh.stats().unwrap());
}
