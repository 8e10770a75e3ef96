//! A node for the end-to-end tests and benchmarks: in process against a [`TestChain`]
//! (for tests that look inside it), or the `assembly-node` binary as its own process (for
//! restarts and for load that should not share the test's runtime).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use assembly_archive::ArchiveConfig;
use assembly_indexer::start::IndexerConfig;
use assembly_media::MediaConfig;
use assembly_node::app;
use assembly_node::config::NodeConfig;
use assembly_node::limits::LimitsConfig;
use serde_json::Value;
use tokio::sync::watch;

use crate::chain::{enqueue, open_session, TestChain};
use crate::clock::now;
use crate::siwe::{DOMAIN, URI};
use crate::wait::wait_for_slots;

/// A node as its clients see it: where it serves, and (in process) its media engine.
pub struct Node {
    /// The node's HTTP root, `http://127.0.0.1:port`.
    pub base: String,
    /// The media engine, for a node in this process.
    pub app_media: Option<Arc<assembly_media::Media>>,
    /// An HTTP client for talking to it.
    pub client: reqwest::Client,
    // The in-process node's shutdown signal, held for as long as the node should run.
    _stop: watch::Sender<bool>,
    _dir: PathBuf,
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
    // Several nodes may follow one chain (a cluster): each its own directory.
    static NODES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "assembly-node-{}-{}-{}",
        std::process::id(),
        chain.anvil.port(),
        NODES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("a directory for the node");
    std::fs::write(
        dir.join("deployment.json"),
        serde_json::to_vec(&chain.deployment).expect("the deployment as JSON"),
    )
    .expect("deployment.json written");
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
            // Every test peer comes from 127.0.0.1: the per-address bounds are the hostile
            // test's to exercise, with their defaults.
            max_listeners_per_address: 100_000,
            ..MediaConfig::default()
        },
        limits: LimitsConfig {
            connections_per_ip: 100_000,
            sockets_per_ip: 100_000,
            nonces_per_minute: 100_000,
            sign_ins_per_minute: 100_000,
            lookups_per_minute: 100_000,
            listen_offers_per_minute: 100_000,
            corrections_per_minute: 100_000,
            ..LimitsConfig::default()
        },
        secret_file: dir.join("secret"),
        archive: ArchiveConfig {
            recordings: dir.join("recordings"),
            hls: dir.join("hls"),
            ..ArchiveConfig::default()
        },
        ..NodeConfig::default()
    };
    tweak(&mut config);
    let (stop, stopped) = watch::channel(false);
    let app = app::start(&config, vec![7; 32], stopped.clone())
        .await
        .expect("the node starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port on 127.0.0.1");
    let base = format!(
        "http://{}",
        listener.local_addr().expect("a bound listener's address")
    );
    let app_media = Some(app.media.clone());
    let limits = config.limits.clone();
    tokio::spawn(async move {
        assembly_node::serve::serve(listener, app.router, &limits, stopped).await
    });
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
    pub fn dir(&self) -> &Path {
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

    /// A sample's value on the node's `/metrics`, named with its labels (`name{label="v"}`);
    /// 0 when absent.
    pub async fn metric(&self, sample: &str) -> u64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("the node answers /metrics")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.trim().parse::<f64>().ok())
            .map_or(0, |v| v as u64)
    }

    /// A fresh sign-in nonce from the node.
    pub async fn nonce(&self) -> String {
        let v: Value = self
            .client
            .get(format!("{}/api/v1/auth/nonce", self.base))
            .send()
            .await
            .expect("the node answers for a nonce")
            .json()
            .await
            .expect("a nonce as JSON");
        v["nonce"]
            .as_str()
            .expect("a nonce in the answer")
            .to_string()
    }

    /// POSTs `body` to the sign-in endpoint: the status, the JSON answer (`null` if none) and
    /// the session cookie, if set.
    pub async fn post(&self, body: Value) -> (u16, Value, Option<String>) {
        let r = self
            .client
            .post(format!("{}/api/v1/auth/sign-in", self.base))
            .json(&body)
            .send()
            .await
            .expect("the node answers sign-in");
        let status = r.status().as_u16();
        let cookie = r
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().expect("a cookie in ASCII").to_string());
        (status, r.json().await.unwrap_or(Value::Null), cookie)
    }

    /// GETs `/api/v1/me` with `token`: the status and the JSON answer (`null` if none).
    pub async fn me(&self, token: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}/api/v1/me", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("the node answers /api/v1/me");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

/// A configuration for a benchmark's node: every client of a load generator comes from
/// 127.0.0.1, and the per-address budgets, meant for strangers on the internet, would cut
/// its listeners at 20; here what one address may do is raised far past what it asks.
pub const LOOPBACK_LIMITS: &str = "
[media]
max_listeners_per_address = 100000

[limits]
connections_per_ip = 100000
sockets_per_ip = 100000
nonces_per_minute = 100000
sign_ins_per_minute = 100000
lookups_per_minute = 100000
listen_offers_per_minute = 100000
corrections_per_minute = 100000
";

/// The node binary as its own process (for restarts and for benchmarks), on fixed ports so a
/// restarted node is where its clients left it.
pub struct NodeProcess {
    /// The node's process; it is killed when this is dropped.
    pub child: std::process::Child,
    /// The node's HTTP root, `http://127.0.0.1:port`.
    pub base: String,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `assembly-node` on `http_port`/`udp_port` with its state in `dir` (which holds
/// `deployment.json`), and waits until its HTTP side answers.
/// It runs with the node's default limits: a hostile client's test needs them.
pub async fn spawn_node(
    binary: &str,
    chain: &TestChain,
    dir: &Path,
    http_port: u16,
    udp_port: u16,
) -> NodeProcess {
    spawn_node_with(binary, chain, dir, http_port, udp_port, None).await
}

/// [`spawn_node`] with `config` as its configuration file ([`LOOPBACK_LIMITS`] for a
/// benchmark whose load comes from one address).
pub async fn spawn_node_with(
    binary: &str,
    chain: &TestChain,
    dir: &Path,
    http_port: u16,
    udp_port: u16,
    config: Option<&str>,
) -> NodeProcess {
    std::fs::write(
        dir.join("deployment.json"),
        serde_json::to_vec(&chain.deployment).expect("the deployment as JSON"),
    )
    .expect("deployment.json written");
    let mut command = std::process::Command::new(binary);
    if let Some(config) = config {
        std::fs::write(dir.join("node.toml"), config).expect("node.toml written");
        command.env("ASSEMBLY_NODE_CONFIG", dir.join("node.toml"));
    }
    let child = command
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

/// GETs `path` from the node as JSON.
pub async fn get_json(node: &Node, path: &str) -> Value {
    node.client
        .get(format!("{}{path}", node.base))
        .send()
        .await
        .expect("the node answers")
        .json()
        .await
        .expect("a JSON answer")
}
