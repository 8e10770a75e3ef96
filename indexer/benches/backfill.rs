//! Indexer benchmark (`cargo bench -p assembly-indexer --bench backfill`):
//!
//! 1. backfill throughput: a local anvil holding `ASSEMBLY_BENCH_EVENTS` (default 100,000)
//!    real Assembly events is indexed from scratch into a file-backed SQLite store;
//! 2. lag: with the follower live (polling every 25 ms, and over a WebSocket subscription),
//!    the time from sending a transaction (anvil mines it at once) to the store — which the
//!    API reads — holding its event, over 200 transactions each.
//!
//! Results are printed and written to `$CARGO_TARGET_DIR/bench-indexer.json`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::providers::Provider;
use assembly_indexer::bindings::mocks::SessionFlood;
use assembly_indexer::store::Store;
use assembly_indexer::sync::{Follower, SyncConfig};
use common::{TestChain, T0};
use tokio::sync::watch;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn lag(
    chain: &TestChain,
    flood: &SessionFlood::SessionFloodInstance<alloy::providers::DynProvider>,
    websocket: bool,
) -> Vec<f64> {
    let dir = tempdir("lag");
    let store = Arc::new(Store::open(dir.join("lag.sqlite")).unwrap());
    let config = SyncConfig {
        confirmations: 0,
        poll_interval: Duration::from_millis(25),
        ..Default::default()
    };
    let url = if websocket {
        chain.anvil.ws_endpoint()
    } else {
        chain.anvil.endpoint()
    };
    let mut follower = Follower::connect(&url, store.clone(), chain.deployment.clone(), config)
        .await
        .unwrap();
    follower.sync_to_head().await.unwrap();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(follower.run(stopped));
    let mut samples = Vec::new();
    for _ in 0..200 {
        let before = store.stats().unwrap().sessions;
        let sent = Instant::now();
        flood
            .flood(
                *chain.assembly.address(),
                alloy::primitives::U256::from(1),
                alloy::primitives::Uint::from(T0 + 100_000),
            )
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        while store.stats().unwrap().sessions == before {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        samples.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    stop.send(true).unwrap();
    task.await.unwrap();
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("assembly-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let target: u64 = std::env::var("ASSEMBLY_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let per_tx = 2_000u64;
    let mut chain = TestChain::start_with(&["--gas-limit", "2000000000"]).await;
    let flood = SessionFlood::deploy(chain.provider.clone()).await.unwrap();
    chain
        .assembly
        .transferOwnership(*flood.address())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    flood
        .accept(*chain.assembly.address())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();

    let generated = Instant::now();
    let mut made = 0;
    while made < target {
        let n = per_tx.min(target - made);
        chain.advance(2).await;
        let r = flood
            .flood(
                *chain.assembly.address(),
                alloy::primitives::U256::from(n),
                alloy::primitives::Uint::from(T0 + 100_000),
            )
            .gas(1_900_000_000)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(r.status(), "flood transaction failed");
        made += n;
    }
    let blocks = chain.provider.get_block_number().await.unwrap();
    eprintln!(
        "generated {made} events in {blocks} blocks in {:.1} s",
        generated.elapsed().as_secs_f64()
    );

    let dir = tempdir("backfill");
    let store = Arc::new(Store::open(dir.join("backfill.sqlite")).unwrap());
    let config = SyncConfig {
        confirmations: 0,
        max_batch: 5,
        ..Default::default()
    };
    let mut follower = Follower::connect(
        &chain.anvil.endpoint(),
        store.clone(),
        chain.deployment.clone(),
        config,
    )
    .await
    .unwrap();
    let started = Instant::now();
    follower.sync_to_head().await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    let events = store.stats().unwrap().logs;
    let rate = events as f64 / secs;

    let polling = lag(&chain, &flood, false).await;
    let ws = lag(&chain, &flood, true).await;
    let report = serde_json::json!({
        "backfill": { "events": events, "seconds": secs, "events_per_second": rate },
        "lag_ms_polling_25ms": { "p50": percentile(&polling, 0.5), "p99": percentile(&polling, 0.99), "max": polling[polling.len() - 1] },
        "lag_ms_websocket": { "p50": percentile(&ws, 0.5), "p99": percentile(&ws, 0.99), "max": ws[ws.len() - 1] },
    });
    println!("indexer benchmark");
    println!("  backfill: {events} events in {secs:.2} s = {rate:.0} events/s (goal >= 10,000)");
    println!(
        "  lag, send -> store (polling 25 ms): p50 {:.1} ms, p99 {:.1} ms (goal < 1 s)",
        percentile(&polling, 0.5),
        percentile(&polling, 0.99)
    );
    println!(
        "  lag, send -> store (websocket):     p50 {:.1} ms, p99 {:.1} ms",
        percentile(&ws, 0.5),
        percentile(&ws, 0.99)
    );
    let out = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let _ = std::fs::write(
        format!("{out}/bench-indexer.json"),
        serde_json::to_vec_pretty(&report).unwrap(),
    );
    let _ = std::fs::remove_dir_all(&dir);
}
