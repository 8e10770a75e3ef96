//! What the node's end-to-end tests and its fan-out benchmark share: a node started against
//! a test chain, and signed EIP-4361 messages. Included with `mod support;` next to
//! `mod common;` (the indexer's test chain).

#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::Signer;
use assembly_indexer::start::IndexerConfig;
use assembly_media::MediaConfig;
use assembly_node::app;
use assembly_node::config::NodeConfig;
use assembly_node::siwe::SiweMessage;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::common::TestChain;

pub const DOMAIN: &str = "assembly.test";
pub const URI: &str = "http://assembly.test";

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub struct Node {
    pub base: String,
    pub app_media: Option<std::sync::Arc<assembly_media::Media>>,
    pub client: reqwest::Client,
    _stop: watch::Sender<bool>,
    _dir: std::path::PathBuf,
}

/// A node following `chain` over `rpc_url`, serving on a free loopback port.
pub async fn node(chain: &TestChain, rpc_url: String, poll: Duration) -> Node {
    node_with(chain, rpc_url, poll, |_| {}).await
}

/// As [`node`], with the configuration adjusted by `tweak`.
pub async fn node_with(
    chain: &TestChain,
    rpc_url: String,
    poll: Duration,
    tweak: impl FnOnce(&mut NodeConfig),
) -> Node {
    let dir = std::env::temp_dir().join(format!(
        "assembly-node-{}-{}",
        std::process::id(),
        chain.anvil.port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("deployment.json"),
        serde_json::to_vec(&chain.deployment).unwrap(),
    )
    .unwrap();
    let mut config = NodeConfig {
        indexer: IndexerConfig {
            rpc_url,
            deployment: dir.join("deployment.json"),
            db: Some(dir.join("node.sqlite")),
            confirmations: 0,
            poll_ms: poll.as_millis() as u64,
            ..IndexerConfig::default()
        },
        domain: DOMAIN.into(),
        public_url: URI.into(),
        media: MediaConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            // More shards than this machine has cores: listeners land on shards other than
            // the front, so every datagram and program packet crosses threads somewhere.
            threads: 3,
            ..MediaConfig::default()
        },
        recordings: dir.join("recordings"),
        hls: dir.join("hls"),
        ..NodeConfig::default()
    };
    tweak(&mut config);
    let (stop, stopped) = watch::channel(false);
    let app = app::start(&config, vec![7; 32], stopped).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app_media = Some(app.media.clone());
    tokio::spawn(async move { axum::serve(listener, app.router).await });
    Node {
        base,
        app_media,
        client: reqwest::Client::new(),
        _stop: stop,
        _dir: dir,
    }
}

impl Node {
    /// Where the node keeps its files.
    pub fn dir(&self) -> &std::path::Path {
        &self._dir
    }

    /// A session's WHIP or WHEP endpoint (`kind` is `whip` or `whep`).
    pub fn endpoint(&self, session: u64, kind: &str) -> String {
        format!("{}/api/v1/sessions/{session}/{kind}", self.base)
    }

    /// The in-process node's media handle.
    pub fn media(&self) -> &assembly_media::Media {
        self.app_media.as_ref().expect("an in-process node")
    }

    /// Another handle on the same node (for tasks on other runtimes); it does not stop it.
    pub fn view(&self) -> Node {
        Node {
            base: self.base.clone(),
            app_media: self.app_media.clone(),
            client: reqwest::Client::new(),
            _stop: watch::channel(false).0,
            _dir: self._dir.clone(),
        }
    }

    pub async fn nonce(&self) -> String {
        let v: Value = self
            .client
            .get(format!("{}/api/v1/auth/nonce", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["nonce"].as_str().unwrap().to_string()
    }

    pub async fn post(&self, body: Value) -> (u16, Value, Option<String>) {
        let r = self
            .client
            .post(format!("{}/api/v1/auth/sign-in", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let cookie = r
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_string());
        (status, r.json().await.unwrap_or(Value::Null), cookie)
    }

    pub async fn me(&self, token: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}/api/v1/me", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

/// Signs in anvil account `i`; returns its session token.
pub async fn token(node: &Node, chain: &TestChain, i: usize) -> String {
    let k = key(chain, i);
    let (status, body, _) = node
        .post(signed(&k, &message(k.address(), &node.nonce().await)).await)
        .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_string()
}

pub fn message(address: Address, nonce: &str) -> SiweMessage {
    let issued: chrono::DateTime<chrono::Utc> =
        chrono::DateTime::from_timestamp(now() as i64, 0).unwrap();
    SiweMessage {
        scheme: None,
        domain: DOMAIN.into(),
        address,
        statement: Some("Sign in to Assembly.".into()),
        uri: format!("{URI}/"),
        version: "1".into(),
        chain_id: 31337,
        nonce: nonce.into(),
        issued_at: issued,
        expiration_time: Some(issued + chrono::Duration::minutes(10)),
        not_before: None,
        request_id: None,
        resources: vec![],
    }
}

pub async fn signed(key: &PrivateKeySigner, msg: &SiweMessage) -> Value {
    let text = msg.to_string();
    let sig = key.sign_message(text.as_bytes()).await.unwrap();
    json!({ "message": text, "signature": format!("0x{}", alloy::hex::encode(sig.as_bytes())) })
}

pub fn key(chain: &TestChain, i: usize) -> PrivateKeySigner {
    PrivateKeySigner::from(chain.anvil.keys()[i].clone())
}

/// The node binary as its own process (for restarts and for benchmarks), on fixed ports so a
/// restarted node is where its clients left it.
pub struct NodeProcess {
    pub child: std::process::Child,
    pub base: String,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A path in the repository.
pub fn repo_path(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `assembly-node` on `http_port`/`udp_port` with its state in `dir` (which holds
/// `deployment.json`), and waits until its HTTP side answers.
pub async fn spawn_node(
    binary: &str,
    chain: &TestChain,
    dir: &std::path::Path,
    http_port: u16,
    udp_port: u16,
) -> NodeProcess {
    std::fs::write(
        dir.join("deployment.json"),
        serde_json::to_vec(&chain.deployment).unwrap(),
    )
    .unwrap();
    let child = std::process::Command::new(binary)
        .env("ASSEMBLY_NODE_LISTEN", format!("127.0.0.1:{http_port}"))
        .env("ASSEMBLY_RPC_URL", chain.anvil.ws_endpoint())
        .env("ASSEMBLY_DEPLOYMENT", dir.join("deployment.json"))
        .env("ASSEMBLY_DB", dir.join("node.sqlite"))
        .env("ASSEMBLY_SECRET_FILE", dir.join("secret"))
        .env("ASSEMBLY_DOMAIN", DOMAIN)
        .env("ASSEMBLY_PUBLIC_URL", URI)
        .env("ASSEMBLY_CONFIRMATIONS", "0")
        .env("ASSEMBLY_MEDIA_BIND", format!("127.0.0.1:{udp_port}"))
        .env("ASSEMBLY_RECORDINGS", dir.join("recordings"))
        .env("ASSEMBLY_HLS", dir.join("hls"))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("node binary");
    let node = NodeProcess {
        child,
        base: format!("http://127.0.0.1:{http_port}"),
    };
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{}/healthz", node.base)).send().await {
            if r.status().is_success() {
                return node;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("node did not come up");
}

impl NodeProcess {
    /// A client-side view for the sign-in helpers.
    pub fn view(&self) -> Node {
        Node {
            base: self.base.clone(),
            app_media: None,
            client: reqwest::Client::new(),
            _stop: watch::channel(false).0,
            _dir: std::env::temp_dir(),
        }
    }
}

/// A one-off open floor for orchestrators from `start`, an hour long, with `slot`-second
/// slots; returns its id.
/// A chain, an in-process node, and a live session (slots of two minutes) whose floor
/// account 1 holds, once the node's floor plan shows it.
pub async fn floor_held() -> (TestChain, Node, u64) {
    let chain = TestChain::start_at(&[], now()).await;
    let node = node(&chain, chain.anvil.endpoint(), Duration::from_millis(50)).await;
    let session = open_session(&chain, now(), 120).await;
    enqueue(&chain, session, 1).await;
    wait_for_slots(&node, session, 1, Duration::from_secs(10)).await;
    (chain, node, session)
}

/// Waits (up to `within`) until the in-process node's floor plan for `session` has `n` slots.
pub async fn wait_for_slots(node: &Node, session: u64, n: usize, within: Duration) {
    wait_until(&format!("{n} slots in the plan"), within, || {
        node.media()
            .gate()
            .plan(session)
            .is_some_and(|p| p.slots().len() == n)
    })
    .await;
}

/// Account `i` asks for the floor in `session`: an `enqueue`, mined.
pub async fn enqueue(chain: &TestChain, session: u64, i: usize) {
    let sent = chain
        .try_send(
            chain
                .assembly
                .enqueue(alloy::primitives::U256::from(session)),
            chain.accounts[i],
        )
        .await;
    assert!(sent, "account {i} enqueued in session {session}");
}

pub async fn open_session(chain: &TestChain, start: u64, slot: u32) -> u64 {
    use crate::common::Mined;
    let p = assembly_indexer::bindings::IAssembly::SessionParams {
        start: alloy::primitives::Uint::from(start),
        duration: alloy::primitives::Uint::from(3600u64),
        period: alloy::primitives::Uint::from(0u64),
        count: 0,
        slotLength: slot,
        maxQueue: 8,
        speakers: 0,
        kind: 0,
        proposalId: alloy::primitives::U256::ZERO,
    };
    chain.assembly.createSession(p).mined().await;
    chain
        .assembly
        .sessionCount()
        .call()
        .await
        .unwrap()
        .to::<u64>()
}

/// Polls `check` every 20 ms; panics naming `what` after `within`.
pub async fn wait_until(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + within;
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `packets` in a loop, one every 20 ms, until the channel closes.
pub fn pump_packets(
    frames: tokio::sync::mpsc::Sender<std::sync::Arc<[u8]>>,
    packets: Vec<std::sync::Arc<[u8]>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for packet in packets.iter().cycle() {
            tick.tick().await;
            if frames.send(packet.clone()).await.is_err() {
                return;
            }
        }
    })
}

/// Sends stamped frames (see `assembly_media::stamp::stamped_frame`) marked `marker` at byte 16,
/// one every 20 ms, until the channel closes.
pub fn pump_stamped(
    frames: tokio::sync::mpsc::Sender<std::sync::Arc<[u8]>>,
    marker: u8,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for n in 0u64.. {
            tick.tick().await;
            let mut f = assembly_media::stamp::stamped_frame(n, 80).to_vec();
            f[16] = marker;
            if frames.send(f.into()).await.is_err() {
                return;
            }
        }
    })
}

/// GETs `path` from the node as JSON.
pub async fn get_json(node: &Node, path: &str) -> Value {
    node.client
        .get(format!("{}{path}", node.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
