//! The node's front door end to end, against anvil with the contracts deployed: sign-in
//! yields the chain's role (orchestrator, delegator, stranger, contract wallet), a role lost
//! on chain is lost without signing in again, bad input gets a clear 4xx and changes
//! nothing, live state and reactions reach WebSocket clients.

use std::time::Duration;

use alloy::primitives::{Address, U256};
use assembly_indexer::bindings::mocks::MockSmartWallet;
use assembly_testkit::chain::{Mined, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::live::{live_socket, next};
use assembly_testkit::node::{node, Node};
use assembly_testkit::siwe::{key, message, signed};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

async fn sign_in(node: &Node, chain: &TestChain, i: usize) -> (String, Value) {
    let k = key(chain, i);
    let (status, body, cookie) = node
        .post(signed(&k, &message(k.address(), &node.nonce().await)).await)
        .await;
    assert_eq!(status, 200, "{body}");
    let cookie = cookie.expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    (body["token"].as_str().unwrap().to_string(), body)
}

async fn wait_for(mut check: impl AsyncFnMut() -> bool, what: &str) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_roles_and_bad_input() {
    let chain = TestChain::start_at(&[], now()).await;
    let delegator = chain.accounts[7];
    chain
        .bonding
        .setBonded(delegator, chain.accounts[1], U256::from(700))
        .mined()
        .await;
    let node = node(&chain, chain.anvil.endpoint(), Duration::from_millis(50)).await;

    let (orch_token, body) = sign_in(&node, &chain, 1).await;
    assert_eq!(body["role"], "orchestrator");
    let (_, body) = sign_in(&node, &chain, 7).await;
    assert_eq!(body["role"], "delegator");
    let (_, body) = sign_in(&node, &chain, 8).await;
    assert_eq!(body["role"], "observer");

    // A contract wallet (EIP-1271) owned by account 3 signs in as itself.
    let wallet = MockSmartWallet::deploy(chain.provider.clone(), chain.accounts[3])
        .await
        .unwrap();
    let owner = key(&chain, 3);
    let (status, body, _) = node
        .post(signed(&owner, &message(*wallet.address(), &node.nonce().await)).await)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["address"].as_str().unwrap().to_lowercase(),
        wallet.address().to_string().to_lowercase()
    );
    let (status, _, _) = node
        .post(
            signed(
                &key(&chain, 4),
                &message(*wallet.address(), &node.nonce().await),
            )
            .await,
        )
        .await;
    assert_eq!(status, 400, "a wallet refuses a stranger's signature");

    // Losing the active set on chain loses the role, with the same session.
    chain
        .bonding
        .setActive(chain.accounts[1], false)
        .mined()
        .await;
    wait_for(
        async || node.me(&orch_token).await.1["role"] != "orchestrator",
        "the role to follow the chain",
    )
    .await;
    assert_eq!(node.me(&orch_token).await.0, 200);

    // Bad input: a clear 4xx each.
    let k = key(&chain, 2);
    let refuse = async |body: Value, status: u16, why: &str| {
        let (s, b, cookie) = node.post(body).await;
        assert_eq!(s, status, "{why}: {b}");
        assert!(cookie.is_none(), "{why}: no session");
        if s == 400 {
            assert!(
                b["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{why}: a reason"
            );
        }
    };
    let mut m = message(k.address(), &node.nonce().await);
    m.domain = "evil.example".into();
    refuse(signed(&k, &m).await, 400, "wrong domain").await;
    let mut m = message(k.address(), &node.nonce().await);
    m.chain_id = 1;
    refuse(signed(&k, &m).await, 400, "wrong chain").await;
    let mut m = message(k.address(), &node.nonce().await);
    m.issued_at -= chrono::Duration::minutes(30);
    m.expiration_time = Some(m.issued_at + chrono::Duration::minutes(5));
    refuse(signed(&k, &m).await, 400, "expired").await;
    let m = message(k.address(), &node.nonce().await);
    refuse(
        signed(&key(&chain, 5), &m).await,
        400,
        "signed by another key",
    )
    .await;
    refuse(
        signed(&k, &m).await,
        400,
        "nonce already spent by the failed attempt",
    )
    .await;
    let m = message(k.address(), "neverissued123");
    refuse(signed(&k, &m).await, 400, "unknown nonce").await;
    let good = signed(&k, &message(k.address(), &node.nonce().await)).await;
    assert_eq!(node.post(good.clone()).await.0, 200);
    refuse(good, 400, "reused nonce").await;
    refuse(
        json!({ "message": "hello", "signature": "0x00" }),
        400,
        "malformed message",
    )
    .await;
    refuse(
        json!({ "message": "x".repeat(20_000), "signature": "0x00" }),
        413,
        "oversized body",
    )
    .await;
    refuse(json!({ "msg": "x" }), 422, "wrong shape").await;
    let r = node
        .client
        .post(format!("{}/api/v1/auth/sign-in", node.base))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    assert_eq!(node.me("forged.token.value").await.0, 401);

    let metrics = node
        .client
        .get(format!("{}/metrics", node.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("assembly_sign_ins_total{result=\"ok\"} 5"),
        "{metrics}"
    );
    let spec: Value = node
        .client
        .get(format!("{}/openapi.json", node.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["paths"]["/api/v1/auth/sign-in"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_state_and_reactions() {
    let mut chain = TestChain::start_at(&[], now()).await;
    let start = chain.clock + 2;
    let id = chain.create_session(start, 3600, 60, 16).await;
    let node = node(&chain, chain.anvil.endpoint(), Duration::from_millis(50)).await;
    let (orch, _) = sign_in(&node, &chain, 1).await;

    let mut observer = live_socket(&node, None).await;
    let first = next(&mut observer, "state", |_| true).await;
    assert!(first["server_time_ms"].as_u64().unwrap() > 0);
    let mut speaker = live_socket(&node, Some(&orch)).await;
    next(&mut observer, "state", |v| {
        v["listeners"]["orchestrators"] == 1 && v["listeners"]["observers"] == 1
    })
    .await;

    // A request for the floor on chain reaches the clients.
    chain
        .try_send(chain.assembly.enqueue(U256::from(id)), chain.accounts[2])
        .await;
    let state = next(&mut observer, "state", |v| {
        v["live"].as_array().is_some_and(|l| {
            l.iter()
                .any(|s| s["session"] == id && !s["queue"].as_array().unwrap().is_empty())
        })
    })
    .await;
    assert_eq!(state["current"], id);

    // Reactions: fanned out in bursts with the stake behind them.
    for _ in 0..3 {
        speaker
            .send(Message::text(r#"{"type":"react","reaction":"clap"}"#))
            .await
            .unwrap();
    }
    let burst = next(&mut observer, "reactions", |v| {
        v["counts"]["clap"].as_u64().unwrap_or(0) >= 1
    })
    .await;
    assert!(burst["total_stake"].is_string());

    // Bad messages: an error frame each, the connection and the session unaffected.
    speaker.send(Message::text("not json")).await.unwrap();
    assert_eq!(
        next(&mut speaker, "error", |_| true).await["error"]["code"],
        "not_json"
    );
    speaker
        .send(Message::text(r#"{"type":"react","reaction":"poop"}"#))
        .await
        .unwrap();
    assert_eq!(
        next(&mut speaker, "error", |_| true).await["error"]["code"],
        "unknown_reaction"
    );
    observer
        .send(Message::text(r#"{"type":"react","reaction":"clap"}"#))
        .await
        .unwrap();
    assert_eq!(
        next(&mut observer, "error", |_| true).await["error"]["code"],
        "not_allowed"
    );
    for _ in 0..40 {
        speaker
            .send(Message::text(r#"{"type":"react","reaction":"fire"}"#))
            .await
            .unwrap();
    }
    let limited = next(&mut speaker, "error", |v| {
        v["error"]["code"] == "rate_limited"
    })
    .await;
    assert!(limited["error"]["retry_after_ms"].as_u64().unwrap() > 0);
    speaker
        .send(Message::text(r#"{"type":"ping"}"#))
        .await
        .unwrap();
    next(&mut speaker, "pong", |_| true).await;

    let metrics = node
        .client
        .get(format!("{}/metrics", node.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("assembly_reactions_total{outcome=\"rate_limited\"}"));
    assert!(
        !metrics.contains("assembly_reactions_total{outcome=\"rate_limited\"} 0"),
        "{metrics}"
    );
    let _ = Address::ZERO;
}

/// The OpenAPI document and the router agree: every documented path is served with exactly
/// the documented methods, and none of them by the web client's fallback. Axum cannot list
/// its routes, so the other direction (nothing served that the document leaves out) is
/// checked on the source by `openapi::tests::nothing_is_served_that_the_document_leaves_out`:
/// the router's routes are built only from the declarations the document is built from
/// (`http::api`, the indexer's `api::routes`). Served outside them, and so excepted here:
/// `/hls/` (plain files; the document describes its playlist) and the web client's static
/// files and fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_and_the_router_agree() {
    let chain = TestChain::start_at(&[], now()).await;
    let node = node(&chain, chain.anvil.endpoint(), Duration::from_millis(50)).await;
    let spec: Value = node
        .client
        .get(format!("{}/openapi.json", node.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() >= 29, "{} paths", paths.len());
    for (path, item) in paths {
        if path.starts_with("/hls/") {
            continue;
        }
        let mut documented: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| !matches!(k.as_str(), "parameters" | "summary" | "description"))
            .map(|k| k.to_ascii_uppercase())
            .collect();
        documented.sort();
        // Every path parameter as `0`: routing does not look at its value.
        let concrete: String = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "0" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let url = format!("{}{concrete}", node.base);
        // No route takes PUT, so the router answers 405 with the methods the path serves.
        let r = node.client.put(&url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 405, "PUT {path}");
        let mut served: Vec<String> = r
            .headers()
            .get("allow")
            .unwrap_or_else(|| panic!("{path}: 405 without Allow"))
            .to_str()
            .unwrap()
            .split(',')
            .map(|m| m.trim().to_string())
            .filter(|m| m != "HEAD")
            .collect();
        served.sort();
        assert_eq!(served, documented, "{path}: served vs documented methods");
        if documented.iter().any(|m| m == "GET") {
            let r = node.client.get(&url).send().await.unwrap();
            let kind = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            assert!(
                !kind.starts_with("text/html"),
                "GET {path} is answered by the web client's fallback"
            );
        }
    }
}

/// Sessions end when their owner says so, a refused attempt spends its nonce, unknown API
/// paths are API errors, and a page of another site never acts as the signed-in visitor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_and_other_sites_are_kept_out() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let chain = TestChain::start_at(&[], now()).await;
    let node = assembly_testkit::node::node_with(
        &chain,
        chain.anvil.endpoint(),
        Duration::from_millis(50),
        |c| c.embed_origins = vec!["https://explorer.example".into()],
    )
    .await;
    let http = &node.client;
    let (token, _) = sign_in(&node, &chain, 1).await;

    // Renewal gives a token of the same session; signing out ends every token of it.
    let renewed: Value = http
        .post(format!("{}/api/v1/auth/renew", node.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let renewed = renewed["token"]
        .as_str()
        .expect("a renewed token")
        .to_string();
    assert_eq!(node.me(&renewed).await.0, 200);
    let out = http
        .post(format!("{}/api/v1/auth/sign-out", node.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 204);
    assert_eq!(node.me(&token).await.0, 401, "the token signed out with");
    assert_eq!(node.me(&renewed).await.0, 401, "its renewal");
    let (other, _) = sign_in(&node, &chain, 1).await;
    assert_eq!(node.me(&other).await.0, 200, "a new sign-in");

    // A message refused for its domain has spent its nonce all the same.
    let k = key(&chain, 2);
    let nonce = node.nonce().await;
    let mut m = message(k.address(), &nonce);
    m.domain = "evil.example".into();
    assert_eq!(node.post(signed(&k, &m).await).await.0, 400);
    let (status, body, _) = node
        .post(signed(&k, &message(k.address(), &nonce)).await)
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("bad_nonce")));

    // Unknown API paths are JSON 404s, not the web client's page.
    for path in ["/api/v1/nope", "/chain/v1/nope"] {
        let r = http
            .get(format!("{}{path}", node.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404, "{path}");
        let body: Value = r.json().await.expect("a JSON body");
        assert_eq!(body["error"], "not_found", "{path}");
    }

    // The live socket: a foreign page is refused; an embedding page is served as an
    // observer, whatever token it passes; a frame over the bound closes the socket.
    let ws_url = format!(
        "{}/api/v1/live?token={other}",
        node.base.replace("http", "ws")
    );
    let from = |origin: &str| {
        let mut req = ws_url.as_str().into_client_request().unwrap();
        req.headers_mut().insert("origin", origin.parse().unwrap());
        req
    };
    let refused = tokio_tungstenite::connect_async(from("https://evil.example")).await;
    assert!(
        matches!(refused, Err(tokio_tungstenite::tungstenite::Error::Http(ref r)) if r.status() == 403),
        "a foreign origin: {refused:?}"
    );
    let (mut embedded, _) = tokio_tungstenite::connect_async(from("https://explorer.example"))
        .await
        .expect("an embedding site");
    next(&mut embedded, "state", |_| true).await;
    embedded
        .send(Message::text(r#"{"type":"react","reaction":"clap"}"#))
        .await
        .unwrap();
    let refusal = next(&mut embedded, "error", |_| true).await;
    assert_eq!(
        refusal["error"]["code"], "not_allowed",
        "no identity from another site"
    );
    let (mut own, _) = tokio_tungstenite::connect_async(from(assembly_testkit::siwe::URI))
        .await
        .expect("the node's own page");
    next(&mut own, "state", |_| true).await;
    own.send(Message::text("x".repeat(64 * 1024)))
        .await
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match own.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a 64 KiB frame closes the socket");
    assert_eq!(node.me(&other).await.0, 200, "and the node carries on");
}
