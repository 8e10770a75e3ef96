//! Indexer benchmark (`cargo bench -p assembly-indexer --bench backfill`):
//!
//! 1. backfill throughput: a local anvil holding `ASSEMBLY_BENCH_EVENTS` (default 100,000)
//!    real Assembly events is indexed from scratch into a file-backed SQLite store;
//! 2. lag: with a follower live on that store (polling every 25 ms, then over a WebSocket
//!    subscription),
//!    the time from sending a transaction (anvil mines it at once) to the store — which the
//!    API reads — holding its event, over 200 transactions each.
//!
//! Results are printed and written to `$CARGO_TARGET_DIR/bench-indexer.json`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::providers::Provider;
use assembly_indexer::bindings::mocks::SessionFlood;
use assembly_indexer::store::Store;
use assembly_indexer::sync::{Follower, SyncConfig};
use assembly_testkit::chain::{Mined, TestChain, T0};
use tokio::sync::watch;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Lag samples with a follower that starts caught up on `store`.
async fn lag(
    chain: &TestChain,
    flood: &SessionFlood::SessionFloodInstance<alloy::providers::DynProvider>,
    websocket: bool,
    store: Arc<Store>,
) -> Vec<f64> {
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
        // Session ids are sequential: the next one is the one this transaction creates.
        let expected = store.stats().unwrap().sessions + 1;
        let call = flood
            .flood(
                *chain.assembly.address(),
                alloy::primitives::U256::from(1),
                alloy::primitives::Uint::from(T0 + 100_000),
            )
            .gas(500_000);
        // Built, priced and signed first, so the clock starts when anvil gets the
        // transaction, which it mines at once (waiting for the receipt would add the
        // client's 250 ms receipt polling, which is not the indexer's lag).
        let envelope = call.into_transaction_request();
        let sent = Instant::now();
        let _pending = chain.provider.send_transaction(envelope).await.unwrap();
        while store.session(expected).unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(1)).await;
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
    if std::env::var("RUST_LOG").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let target: u64 = std::env::var("ASSEMBLY_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let per_tx: u64 = std::env::var("ASSEMBLY_BENCH_PER_TX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let mut chain = TestChain::start_with(&["--gas-limit", "2000000000"]).await;
    let flood = SessionFlood::deploy(chain.provider.clone()).await.unwrap();
    chain
        .assembly
        .transferOwnership(*flood.address())
        .mined()
        .await;
    flood.accept(*chain.assembly.address()).mined().await;

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
            .mined()
            .await;
        assert!(r.status(), "flood transaction failed");
        made += n;
    }
    let blocks = chain.provider.get_block_number().await.unwrap();
    eprintln!(
        "generated {made} events in {blocks} blocks in {:.1} s",
        generated.elapsed().as_secs_f64()
    );

    // How fast the node itself answers eth_getLogs, for comparison with the indexer's rate.
    if std::env::var("ASSEMBLY_BENCH_PROBE").is_ok() {
        let mut from = chain.deployment.deploy_block;
        while from <= blocks {
            let filter = alloy::rpc::types::Filter::new()
                .address(vec![
                    chain.deployment.assembly,
                    chain.deployment.governor,
                    chain.deployment.bonding_manager,
                ])
                .from_block(from)
                .to_block(from + 4);
            let t = Instant::now();
            let logs = chain.provider.get_logs(&filter).await.unwrap();
            eprintln!(
                "eth_getLogs {from}..{}: {} logs in {:.3} s",
                from + 4,
                logs.len(),
                t.elapsed().as_secs_f64()
            );
            from += 5;
        }
    }

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

    let polling = lag(&chain, &flood, false, store.clone()).await;
    let ws = lag(&chain, &flood, true, store.clone()).await;
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
