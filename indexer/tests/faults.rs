//! An RPC that fails: errors, timeouts, garbage, and logs that are malformed or not
//! Assembly's. The follower retries, skips what cannot be decoded with a recorded reason,
//! never panics, and ends with the same events as an index through a healthy RPC.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::U256;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::sol_types::SolEvent;
use assembly_indexer::bindings::Assembly;
use assembly_indexer::sync::{Follower, SyncConfig};
use assembly_testkit::chain::{TestChain, T0};
use assembly_testkit::rng::Rng;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::watch;

#[derive(Clone)]
struct Proxy {
    upstream: String,
    client: reqwest::Client,
    calls: Arc<AtomicU64>,
    injected: Arc<AtomicU64>,
}

/// Forwards JSON-RPC to anvil, failing one call in three in one of several ways, and
/// slipping two bad logs into some `eth_getLogs` answers.
async fn proxy(State(p): State<Proxy>, body: Bytes) -> Response {
    let n = p.calls.fetch_add(1, Ordering::Relaxed);
    let roll = (n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 33) % 12;
    match roll {
        0 | 1 => return (StatusCode::SERVICE_UNAVAILABLE, "overloaded").into_response(),
        2 => return (StatusCode::TOO_MANY_REQUESTS, "rate limited").into_response(),
        3 => return (StatusCode::OK, "{\"jsonrpc\":\"2.0\",\"id\":").into_response(),
        4 => tokio::time::sleep(Duration::from_millis(500)).await,
        _ => {}
    }
    let upstream = match p
        .client
        .post(&p.upstream)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
    {
        Ok(r) => r.bytes().await.unwrap_or_default(),
        Err(_) => return (StatusCode::BAD_GATEWAY, "upstream").into_response(),
    };
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut answer: Value = match serde_json::from_slice(&upstream) {
        Ok(v) => v,
        Err(_) => return (StatusCode::OK, upstream).into_response(),
    };
    if request["method"] == "eth_getLogs" && roll >= 8 {
        if let Some(logs) = answer["result"].as_array_mut() {
            if let Some(first) = logs.first().cloned() {
                let mut unknown = first.clone();
                unknown["topics"] =
                    json!([format!("{:#x}", alloy::primitives::B256::repeat_byte(0xee))]);
                unknown["logIndex"] = json!("0x2710");
                let mut truncated = first;
                truncated["topics"] = json!([format!("{:#x}", Assembly::Enqueued::SIGNATURE_HASH)]);
                truncated["data"] = json!("0x1234");
                truncated["logIndex"] = json!("0x2711");
                logs.push(unknown);
                logs.push(truncated);
                p.injected.fetch_add(2, Ordering::Relaxed);
            }
        }
    }
    (StatusCode::OK, answer.to_string()).into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faulty_rpc_loses_nothing() {
    let mut chain = TestChain::start().await;
    let mut rng = Rng(31337);
    let id = chain.create_session(T0 + 5, 1_000_000, 30, 16).await;
    for _ in 0..60 {
        chain.advance(1 + rng.below(20)).await;
        let who = chain.accounts[1 + rng.below(5) as usize];
        if rng.below(3) < 2 {
            chain
                .try_send(chain.assembly.enqueue(U256::from(id)), who)
                .await;
        } else {
            chain
                .try_send(chain.assembly.yieldFloor(U256::from(id)), who)
                .await;
        }
    }

    let state = Proxy {
        upstream: chain.anvil.endpoint(),
        client: reqwest::Client::new(),
        calls: Arc::new(AtomicU64::new(0)),
        injected: Arc::new(AtomicU64::new(0)),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/", axum::routing::post(proxy))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let faulty = ProviderBuilder::new()
        .connect_http(url.parse().unwrap())
        .erased();
    let store = chain.store();
    let config = SyncConfig {
        confirmations: 2,
        max_batch: 8,
        poll_interval: Duration::from_millis(10),
        rpc_timeout: Duration::from_millis(250),
        max_backoff: Duration::from_millis(200),
    };
    let follower = Follower::new(
        faulty,
        store.clone(),
        chain.deployment.clone(),
        config,
        false,
    );
    let mut progress = follower.progress();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(follower.run(stopped));
    let latest = chain.provider.get_block_number().await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(90),
        progress.wait_for(|p| p.caught_up && p.head == Some(latest)),
    )
    .await
    .expect("caught up through the faulty RPC")
    .unwrap();
    stop.send(true).unwrap();
    task.await.expect("the follower never panics");

    let fresh = chain.fresh_index().await;
    assert_eq!(
        store.events().unwrap(),
        fresh.events().unwrap(),
        "nothing lost, nothing invented"
    );
    let stats = store.stats().unwrap();
    assert!(
        state.injected.load(Ordering::Relaxed) > 0,
        "bad logs were injected"
    );
    assert!(stats.skipped > 0, "bad logs were recorded as skipped");
    assert!(state.calls.load(Ordering::Relaxed) > 50);
}
