//! Alerts end to end, on anvil with the node in process: webhooks registered by a signed-in
//! account receive "X took the floor" signed as Standard Webhooks specify; an endpoint that
//! answers 500 twice is retried with the same message id and gets it later, one that hangs
//! past the timeout is retried too, and neither delays the fast endpoint. A transcript (from
//! a stand-in transcription server) with a subscriber's word reaches them as `hansard.word`,
//! and appears in the Atom feeds, which are parsed as XML; a debate opened on chain reaches a
//! `debate.opened` subscriber and its proposal's feed. Webhooks and saved searches are their
//! owner's alone.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use serde_json::{json, Value};
use sha2::Sha256;

use alloy::primitives::{keccak256, Address, Bytes, U256};
use assembly_archive::record::archive::Archive;
use assembly_testkit::chain::{enqueue, open_session, Mined, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::node::{node_with, Node};
use assembly_testkit::siwe::token;
use assembly_testkit::wait::wait_until;

/// What a receiver was sent: when, the three Standard Webhooks headers, the body.
#[derive(Clone, Debug)]
struct Received {
    at: Instant,
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

#[derive(Clone, Copy)]
enum Behaviour {
    Fast,
    /// 500 to the first two requests, then 200.
    FailsTwice,
    /// Answers after ten seconds, past the node's timeout.
    Hangs,
}

/// A local endpoint; returns its URL and what it receives.
async fn receiver(how: Behaviour) -> (String, Arc<Mutex<Vec<Received>>>) {
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let log = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let (log, count) = (log.clone(), count.clone());
            async move {
                let h = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                log.lock().push(Received {
                    at: Instant::now(),
                    id: h("webhook-id"),
                    timestamp: h("webhook-timestamp"),
                    signature: h("webhook-signature"),
                    body,
                });
                let n = count.fetch_add(1, Ordering::SeqCst);
                match how {
                    Behaviour::Fast => StatusCode::NO_CONTENT,
                    Behaviour::FailsTwice if n < 2 => StatusCode::INTERNAL_SERVER_ERROR,
                    Behaviour::FailsTwice => StatusCode::OK,
                    Behaviour::Hangs => {
                        tokio::time::sleep(Duration::from_secs(10)).await;
                        StatusCode::OK
                    }
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

/// A stand-in for an OpenAI-compatible transcription server: every speech says the same.
async fn transcriber() -> String {
    let app = axum::Router::new().route(
        "/v1/audio/transcriptions",
        post(|| async {
            axum::Json(json!({"text": "The treasury should fund <better> monitoring & tools."}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("openai:http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Verifies `r` with `secret` independently of the node's code: HMAC-SHA256 over
/// "{id}.{timestamp}.{body}" keyed by the secret's base64-decoded bytes.
fn verifies(secret: &str, r: &Received) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.trim_start_matches("whsec_")).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = format!("v1,{}", b64.encode(mac.finalize().into_bytes()));
    let fresh = r
        .timestamp
        .parse::<u64>()
        .is_ok_and(|t| t.abs_diff(now()) < 300);
    fresh && r.signature.split(' ').any(|s| s == expected)
}

async fn call(
    node: &Node,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, String) {
    let url = format!("{}{path}", node.base);
    let mut req = match method {
        "POST" => node.client.post(url),
        "DELETE" => node.client.delete(url),
        _ => node.client.get(url),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = r.text().await.unwrap();
    let v = if kind.contains("json") {
        serde_json::from_str(&text).unwrap_or(Value::Null)
    } else {
        Value::String(text)
    };
    (status, v, kind)
}

/// The entries' titles of an Atom document, read with a real XML parser (a malformed
/// document fails), after checking the feed-level elements RFC 4287 requires.
fn atom_titles(doc: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(doc);
    let (mut path, mut titles, mut seen) = (Vec::<String>::new(), Vec::new(), Vec::new());
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                path.push(String::from_utf8(e.local_name().as_ref().to_vec()).unwrap());
                seen.push(path.join("/"));
                if path.join("/") == "feed/entry/title" {
                    titles.push(String::new());
                }
            }
            Event::Empty(e) => seen.push(format!(
                "{}/{}",
                path.join("/"),
                String::from_utf8(e.local_name().as_ref().to_vec()).unwrap()
            )),
            Event::Text(t) if path.join("/") == "feed/entry/title" => {
                titles.last_mut().unwrap().push_str(&t.decode().unwrap())
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    for required in ["feed", "feed/id", "feed/title", "feed/updated", "feed/link"] {
        assert!(
            seen.iter().any(|s| s == required),
            "{required} missing:\n{doc}"
        );
    }
    titles
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_retried_and_independent_and_feeds_parse() {
    let stt = transcriber().await;
    let chain = TestChain::start_at(&[], now()).await;
    let node = node_with(
        &chain,
        chain.anvil.endpoint(),
        Duration::from_millis(50),
        |c| {
            c.webhooks.allow_private = true;
            c.webhooks.retry_secs = vec![1, 1, 1];
            c.webhooks.timeout_secs = 2;
            c.archive.transcriber = Some(assembly_archive::TranscriberConfig {
                service: stt,
                model: None,
                key: None,
            });
        },
    )
    .await;
    let owner = token(&node, &chain, 1).await;
    let other = token(&node, &chain, 2).await;
    let (fast_url, fast) = receiver(Behaviour::Fast).await;
    let (flaky_url, flaky) = receiver(Behaviour::FailsTwice).await;
    let (slow_url, slow) = receiver(Behaviour::Hangs).await;

    // Bad registrations: a clear 4xx each.
    let hook = |url: &str, events: Value| json!({"url": url, "events": events});
    assert_eq!(
        call(
            &node,
            "POST",
            "/api/v1/webhooks",
            None,
            Some(hook(&fast_url, json!(["floor.taken"])))
        )
        .await
        .0,
        401
    );
    let (status, v, _) = call(
        &node,
        "POST",
        "/api/v1/webhooks",
        Some(&owner),
        Some(hook("ftp://x.example/", json!(["floor.taken"]))),
    )
    .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("bad_request")),
        "{v}"
    );
    assert_eq!(
        call(
            &node,
            "POST",
            "/api/v1/webhooks",
            Some(&owner),
            Some(hook(&fast_url, json!(["nope"])))
        )
        .await
        .0,
        422
    );
    assert_eq!(
        call(
            &node,
            "POST",
            "/api/v1/webhooks",
            Some(&owner),
            Some(hook(&fast_url, json!(["hansard.word"])))
        )
        .await
        .0,
        400,
        "words required"
    );

    let mut secrets = Vec::new();
    for url in [&fast_url, &flaky_url, &slow_url] {
        let (status, v, _) = call(
            &node,
            "POST",
            "/api/v1/webhooks",
            Some(&owner),
            Some(hook(url, json!(["floor.taken"]))),
        )
        .await;
        assert_eq!(status, 201, "{v}");
        secrets.push((
            v["id"].as_str().unwrap().to_string(),
            v["secret"].as_str().unwrap().to_string(),
        ));
    }
    let words = json!({"url": fast_url, "events": ["hansard.word"], "filter": {"words": ["Treasury", "quorum"]}});
    assert_eq!(
        call(&node, "POST", "/api/v1/webhooks", Some(&owner), Some(words))
            .await
            .0,
        201
    );
    // Theirs alone: listed without secrets, invisible and undeletable to another account.
    let (_, listed, _) = call(&node, "GET", "/api/v1/webhooks", Some(&owner), None).await;
    assert_eq!(listed.as_array().unwrap().len(), 4);
    assert!(!listed.to_string().contains("whsec_"));
    assert_eq!(
        call(&node, "GET", "/api/v1/webhooks", Some(&other), None)
            .await
            .1,
        json!([])
    );
    let theirs = format!("/api/v1/webhooks/{}", secrets[0].0);
    assert_eq!(call(&node, "GET", &theirs, Some(&other), None).await.0, 404);
    assert_eq!(
        call(&node, "DELETE", &theirs, Some(&other), None).await.0,
        404
    );
    assert_eq!(call(&node, "GET", &theirs, Some(&owner), None).await.0, 200);

    // Account 1 takes the floor.
    let session = open_session(&chain, now(), 120).await;
    enqueue(&chain, session, 1).await;
    let taken = Instant::now();
    wait_until(
        "the fast endpoint hears of it",
        Duration::from_secs(15),
        || !fast.lock().is_empty(),
    )
    .await;
    let fast_wait = fast.lock()[0].at - taken;
    wait_until(
        "the failing endpoint gets it at its third attempt",
        Duration::from_secs(20),
        || flaky.lock().len() >= 3,
    )
    .await;
    wait_until(
        "the hanging endpoint is tried again",
        Duration::from_secs(20),
        || slow.lock().len() >= 2,
    )
    .await;
    let (f, fl, sl) = (
        fast.lock().clone(),
        flaky.lock().clone(),
        slow.lock().clone(),
    );
    let flaky_wait = fl[2].at - taken;
    eprintln!(
        "floor.taken reached the fast endpoint {:.0} ms after the enqueue was mined; the failing one {:.0} ms after (3rd attempt); the hanging one was tried {} times",
        fast_wait.as_secs_f64() * 1000.0,
        flaky_wait.as_secs_f64() * 1000.0,
        sl.len()
    );
    let body: Value = serde_json::from_str(&f[0].body).unwrap();
    assert_eq!(body["type"], "floor.taken");
    assert_eq!(body["data"]["session"], session);
    assert_eq!(
        body["data"]["speaker"].as_str().unwrap().to_lowercase(),
        format!("{:#x}", chain.accounts[1])
    );
    assert!(
        verifies(&secrets[0].1, &f[0]),
        "the fast endpoint's signature verifies"
    );
    assert!(
        !verifies(&secrets[1].1, &f[0]),
        "and not with another webhook's secret"
    );
    for r in &fl {
        assert!(verifies(&secrets[1].1, r), "every attempt is signed afresh");
        assert_eq!(
            r.id, fl[0].id,
            "one message id across retries (receivers dedupe by it)"
        );
        assert_eq!(r.body, fl[0].body);
    }
    assert_ne!(fl[0].id, f[0].id, "ids differ between webhooks");
    assert!(verifies(&secrets[2].1, &sl[0]));
    // The fast endpoint was not held up by the failing or hanging ones.
    assert!(fast_wait < Duration::from_secs(3), "{fast_wait:?}");
    assert!(
        fl[2].at - fl[0].at >= Duration::from_millis(1900),
        "two retries, a second apart"
    );
    assert_eq!(f.len(), 1, "once, however often the floor is seen held");

    // A speech, transcribed by the stand-in server, carries a subscribed word.
    let archive = Archive::open(&node.dir().join("recordings")).unwrap();
    std::fs::write(
        node.dir().join("recordings/test-speech.ogg"),
        b"not really audio",
    )
    .unwrap();
    let start = now() * 1000;
    let speaker = chain.accounts[1].to_checksum(None);
    let id = archive
        .begin(
            session,
            0,
            &speaker,
            (now(), now() + 120),
            start,
            "test-speech.ogg",
        )
        .unwrap();
    archive.close(id, start + 3000, 150, 3000, "00").unwrap();
    wait_until("the word alert arrives", Duration::from_secs(20), || {
        fast.lock().len() >= 2
    })
    .await;
    let said = fast.lock()[1].clone();
    let v: Value = serde_json::from_str(&said.body).unwrap();
    assert_eq!(
        (v["type"].as_str(), v["data"]["words"].clone()),
        (Some("hansard.word"), json!(["Treasury"]))
    );
    assert_eq!(v["data"]["speech"], id);

    // Feeds.
    let (status, doc, kind) = call(
        &node,
        "GET",
        &format!("/api/v1/feeds/orchestrators/{:#x}.atom", chain.accounts[1]),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("application/atom+xml"), "{kind}");
    let titles = atom_titles(doc.as_str().unwrap());
    assert_eq!(titles.len(), 1, "{doc}");
    assert!(titles[0].contains(&format!("spoke in session {session}")));
    assert!(doc
        .as_str()
        .unwrap()
        .contains("&lt;better&gt; monitoring &amp; tools"));
    let (status, doc, _) = call(
        &node,
        "GET",
        "/api/v1/feeds/proposals/12345.atom",
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(atom_titles(doc.as_str().unwrap()).is_empty());
    for bad in [
        "/api/v1/feeds/orchestrators/0x12.atom",
        "/api/v1/feeds/orchestrators/0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
        "/api/v1/feeds/proposals/twelve.atom",
    ] {
        let (status, v, _) = call(&node, "GET", bad, None, None).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (400, Some("bad_request")),
            "{bad}: {v}"
        );
    }
    let huge = json!({"q": "treasury ".repeat(5000)});
    assert_eq!(
        call(
            &node,
            "POST",
            "/api/v1/feeds/searches",
            Some(&owner),
            Some(huge)
        )
        .await
        .0,
        413,
        "over the body limit"
    );
    let long = json!({"q": "x".repeat(201)});
    assert_eq!(
        call(
            &node,
            "POST",
            "/api/v1/feeds/searches",
            Some(&owner),
            Some(long)
        )
        .await
        .0,
        400
    );
    let (status, saved, _) = call(
        &node,
        "POST",
        "/api/v1/feeds/searches",
        Some(&owner),
        Some(json!({"q": "funding monitoring"})),
    )
    .await;
    assert_eq!(status, 201, "{saved}");
    let path = saved["url"]
        .as_str()
        .unwrap()
        .trim_start_matches(assembly_testkit::siwe::URI)
        .to_string();
    let (status, doc, _) = call(&node, "GET", &path, None, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        atom_titles(doc.as_str().unwrap()).len(),
        1,
        "stemmed: funding finds fund"
    );
    assert_eq!(
        call(
            &node,
            "GET",
            "/api/v1/feeds/searches/00000000000000000000000000000000.atom",
            None,
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(&node, "DELETE", &path, Some(&other), None).await.0,
        404,
        "not theirs to delete"
    );
    assert_eq!(
        call(&node, "DELETE", &path, Some(&owner), None).await.0,
        204
    );
    assert_eq!(call(&node, "GET", &path, None, None).await.0, 404);

    // A debate opens: its subscriber hears of it, and the proposal's feed shows it.
    let (debate_url, debates) = receiver(Behaviour::Fast).await;
    let (status, v, _) = call(
        &node,
        "POST",
        "/api/v1/webhooks",
        Some(&owner),
        Some(hook(&debate_url, json!(["debate.opened"]))),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let debate_secret = v["secret"].as_str().unwrap().to_string();
    let (targets, values) = (vec![Address::repeat_byte(0x11)], vec![U256::ZERO]);
    let calldatas = vec![Bytes::from(vec![0xde, 0xad])];
    let description = "LIP-200: alerts by identity";
    let r = chain
        .governor
        .propose(
            targets.clone(),
            values.clone(),
            calldatas.clone(),
            description.to_string(),
        )
        .mined()
        .await;
    assert!(r.status());
    let r = chain
        .assembly
        .openDebate(targets, values, calldatas, keccak256(description))
        .mined()
        .await;
    assert!(r.status(), "openDebate mined");
    wait_until("debate.opened arrives", Duration::from_secs(15), || {
        !debates.lock().is_empty()
    })
    .await;
    let opened = debates.lock()[0].clone();
    assert!(verifies(&debate_secret, &opened));
    let v: Value = serde_json::from_str(&opened.body).unwrap();
    assert_eq!(v["type"], "debate.opened");
    let proposal = v["data"]["proposal_id"].as_str().unwrap().to_string();
    let (status, doc, _) = call(
        &node,
        "GET",
        &format!("/api/v1/feeds/proposals/{proposal}.atom"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let titles = atom_titles(doc.as_str().unwrap());
    assert_eq!(titles.len(), 1, "{doc}");
    assert!(titles[0].starts_with("Debate opened"), "{titles:?}");

    let (_, metrics, _) = call(&node, "GET", "/metrics", None, None).await;
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(
        metrics.contains("assembly_webhook_deliveries_total{outcome=\"retried\"}"),
        "{metrics}"
    );
    // Deleting a webhook stops its deliveries.
    assert_eq!(
        call(&node, "DELETE", &theirs, Some(&owner), None).await.0,
        204
    );
    assert_eq!(call(&node, "GET", &theirs, Some(&owner), None).await.0, 404);
}
