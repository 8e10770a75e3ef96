//! Fan-out benchmark (`cargo bench -p assembly-node --bench fanout`): a node on a local
//! anvil, `ASSEMBLY_BENCH_CLIENTS` (default 5,000) WebSocket clients connected as observers,
//! and one orchestrator reacting every 300 ms. Each reaction burst carries the server's
//! clock when it was serialized; every client records how long the burst took to reach it.
//! Reports clients held, bursts delivered, and the p50/p99/max fan-out delay. Then, with the
//! audience still connected, 20 sessions are created on chain one by one, and one more
//! client times each from sending the transaction to receiving the state that lists it.
//! Results go to `$CARGO_TARGET_DIR/bench-fanout.json`. Load generator and node share the
//! machine.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use assembly_testkit::chain::TestChain;
use assembly_testkit::node::node;
use assembly_testkit::siwe::{key, message, signed};
use futures::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let clients: usize = std::env::var("ASSEMBLY_BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let rounds = 20;
    let chain = TestChain::start_at(&[], now_ms() / 1000).await;
    // As deployed: new blocks announced over a WebSocket subscription.
    let node = node(
        &chain,
        chain.anvil.ws_endpoint(),
        Duration::from_millis(100),
    )
    .await;
    let addr = node.base.trim_start_matches("http://").to_string();

    // The reacting orchestrator signs in.
    let key = key(&chain, 1);
    let msg = message(key.address(), &node.nonce().await);
    let (_, me, _) = node.post(signed(&key, &msg).await).await;
    let token = me["token"].as_str().unwrap().to_string();

    // The audience.
    let received = Arc::new(AtomicU64::new(0));
    let (done_tx, done_rx) = watch::channel(false);
    let mut tasks = Vec::with_capacity(clients);
    let mut held = 0;
    let connect_started = std::time::Instant::now();
    for _ in 0..clients {
        let Ok((mut ws, _)) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/live")).await
        else {
            continue;
        };
        held += 1;
        let received = received.clone();
        let mut done = done_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut delays = Vec::new();
            loop {
                tokio::select! {
                    m = ws.next() => {
                        let Some(Ok(Message::Text(t))) = m else { break };
                        // The load generator shares the machine: read the stamp without
                        // parsing the whole message.
                        if let Some(stamp) = t.strip_prefix("{\"type\":\"reactions\",\"server_time_ms\":") {
                            let ms: u64 = stamp.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap();
                            delays.push(now_ms().saturating_sub(ms));
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    _ = done.changed() => break,
                }
            }
            let _ = ws.close(None).await;
            delays
        }));
    }
    let connect_secs = connect_started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let (mut reactor, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/live?token={token}"))
            .await
            .unwrap();
    for _ in 0..rounds {
        reactor
            .send(Message::text(r#"{"type":"react","reaction":"clap"}"#))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // Chain change -> client: with everyone still connected.
    let (mut watcher, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/live"))
        .await
        .unwrap();
    let mut change_ms = Vec::new();
    for i in 0..20u64 {
        let id = chain
            .assembly
            .sessionCount()
            .call()
            .await
            .unwrap()
            .to::<u64>()
            + 1;
        let p = assembly_indexer::bindings::IAssembly::SessionParams {
            // Each sooner than the last, so it is among the upcoming sessions the state lists.
            start: alloy::primitives::Uint::from(now_ms() / 1000 + 3000 - i * 100),
            duration: alloy::primitives::Uint::from(3600u64),
            period: alloy::primitives::Uint::from(0u64),
            count: 0,
            slotLength: 60,
            maxQueue: 8,
            speakers: 0,
            kind: 0,
            proposalId: alloy::primitives::U256::ZERO,
        };
        let request = chain
            .assembly
            .createSession(p)
            .gas(500_000)
            .into_transaction_request();
        let sent = std::time::Instant::now();
        let _pending = alloy::providers::Provider::send_transaction(&chain.provider, request)
            .await
            .unwrap();
        let needle = format!("\"session\":{id},");
        loop {
            let Some(Ok(Message::Text(t))) = watcher.next().await else {
                panic!("watcher closed")
            };
            if t.starts_with("{\"type\":\"state\"") && t.contains(&needle) {
                break;
            }
        }
        change_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    change_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    done_tx.send(true).unwrap();
    let mut delays = Vec::new();
    for t in tasks {
        delays.extend(t.await.unwrap());
    }
    delays.sort_unstable();
    let pct = |p: f64| {
        delays
            .get(((delays.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(0)
    };
    let expected = (held * rounds) as f64;
    let delivered = received.load(Ordering::Relaxed) as f64 / expected;
    let report = serde_json::json!({
        "clients_requested": clients, "clients_held": held, "connect_seconds": connect_secs,
        "bursts_sent": rounds, "delivery_ratio": delivered,
        "fanout_delay_ms": { "p50": pct(0.5), "p99": pct(0.99), "max": delays.last().copied().unwrap_or(0) },
        "chain_change_to_client_ms": { "p50": change_ms[change_ms.len() / 2], "max": change_ms[change_ms.len() - 1] },
    });
    println!("node fan-out benchmark");
    println!("  clients held: {held} of {clients} (connected in {connect_secs:.1} s)");
    println!(
        "  reaction bursts: {rounds}, delivered {:.2}% of {expected}",
        delivered * 100.0
    );
    println!(
        "  fan-out delay: p50 {} ms, p99 {} ms, max {} ms (goal p99 < 100 ms)",
        pct(0.5),
        pct(0.99),
        delays.last().copied().unwrap_or(0)
    );
    println!(
        "  chain change -> state at a client (5,000 connected): p50 {:.0} ms, max {:.0} ms of 20 (goal < 1 s)",
        change_ms[change_ms.len() / 2],
        change_ms[change_ms.len() - 1]
    );
    let out = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let _ = std::fs::write(
        format!("{out}/bench-fanout.json"),
        serde_json::to_vec_pretty(&report).unwrap(),
    );
}
