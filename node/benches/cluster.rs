//! Cluster relay benchmark (`cargo bench -p assembly-node --bench cluster`): what relaying a
//! speaker to the cluster's other members costs the node they speak to (the origin).
//!
//! anvil with the contracts and 32 accounts, a session whose floor an orchestrator holds,
//! the origin node as its own process, and members added as processes of their own, each
//! registered on chain by an orchestrator of its own, in steps of `ASSEMBLY_BENCH_MEMBERS`
//! (default `10,20`). At each size, once the origin's relay links to every member are up
//! (its `assembly_relay_links{state="up"}`), the load generator speaks to the origin for
//! `ASSEMBLY_BENCH_SECONDS` (default 10) twice: with a listener on the origin (the origin's
//! CPU, the loopback traffic, the latency with no hop) and with a listener on a member (the
//! latency through one relay hop). The same is measured first with no member, so:
//!
//! - added latency per hop: the member's listener's p50/p99 less the origin's;
//! - the origin's CPU per member: its CPU less the memberless run's, over the members;
//! - the origin's outbound bandwidth: what its relays sent (its
//!   `assembly_media_client_sent_total`, IPv4 and UDP headers added), over the middle of the
//!   speaking run;
//! - and, for the cluster's cost beyond the origin, all the loopback traffic less the
//!   memberless run's: every member's relay links to every other (idle but for RTCP and ICE
//!   checks), their shares of reactions and counts, their indexers following the chain.
//!
//! Everything shares the machine. Writes `$CARGO_TARGET_DIR/bench-cluster.json`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assembly_testkit::chain::{enqueue, open_session, Mined, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::node::{spawn_node_with, NodeProcess, LOOPBACK_LIMITS};
use assembly_testkit::ports::{free_port, free_udp_port};
use assembly_testkit::registry::{node_key, register_key};
use serde_json::{json, Value};

const ACCOUNTS: usize = 32;

/// Starts a node in `dir`, registered on chain by `operator`, and waits for it to answer.
async fn member(chain: &TestChain, dir: &std::path::Path, operator: usize) -> NodeProcess {
    std::fs::create_dir_all(dir).unwrap();
    let node = spawn_node_with(
        env!("CARGO_BIN_EXE_assembly-node"),
        chain,
        dir,
        free_port(),
        free_udp_port(),
        Some(LOOPBACK_LIMITS),
    )
    .await;
    let key = node_key(dir);
    assert!(
        register_key(chain, chain.accounts[operator], &key, &node.base).await,
        "the registry refused node {operator}"
    );
    node
}

async fn metrics(http: &reqwest::Client, node: &NodeProcess) -> String {
    match http.get(format!("{}/metrics", node.base)).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until `node`'s floor plan shows `session` held.
async fn floor_shows(http: &reqwest::Client, node: &NodeProcess, session: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "the floor never showed");
        if let Ok(r) = http.get(format!("{}/api/v1/state", node.base)).send().await {
            let v: Value = r.json().await.unwrap_or(Value::Null);
            let held = v["live"].as_array().is_some_and(|l| {
                l.iter()
                    .any(|s| s["session"] == session && !s["floor"].is_null())
            });
            if held {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the origin's relay links to `n` members are up.
async fn links_up(http: &reqwest::Client, origin: &NodeProcess, n: usize) {
    let want = format!("assembly_relay_links{{state=\"up\"}} {n}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let m = metrics(http, origin).await;
        if m.lines().any(|l| l == want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the origin's links to {n} members: {}",
            m.lines()
                .filter(|l| l.starts_with("assembly_relay_links"))
                .collect::<Vec<_>>()
                .join("; ")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What the origin's own clients (its relays) have sent: (UDP datagrams, payload bytes).
async fn sent(http: &reqwest::Client, origin: &NodeProcess) -> (f64, f64) {
    let m = metrics(http, origin).await;
    let read = |unit: &str| {
        let prefix = format!("assembly_media_client_sent_total{{unit=\"{unit}\"}} ");
        m.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (read("datagrams"), read("bytes"))
}

/// One run of the load generator: the speaker on `origin`, one listener at `listen_at`.
/// Returns its report and the origin's relay traffic, in kbit/s on the wire (IPv4 and UDP
/// headers counted), over the middle of the run (the speaker speaking throughout).
async fn loadgen(
    http: &reqwest::Client,
    origin: &NodeProcess,
    listen_at: &str,
    session: u64,
    key: &str,
    seconds: u64,
) -> (Value, f64) {
    let child = Command::new(env!("CARGO_BIN_EXE_assembly-loadgen"))
        .args(["--node", &origin.base, "--listen-at", listen_at])
        .args(["--session", &session.to_string(), "--listeners", "1"])
        .args(["--seconds", &seconds.to_string(), "--key", key])
        .args(["--node-pid", &origin.child.id().to_string(), "--loopback"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("load generator");
    // Its listener and speaker connect, then it warms up for 2 s before its own window.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let (d0, b0, t0) = {
        let (d, b) = sent(http, origin).await;
        (d, b, Instant::now())
    };
    tokio::time::sleep(Duration::from_secs(seconds.saturating_sub(2).max(1))).await;
    let (d1, b1) = sent(http, origin).await;
    let kbit_s = ((b1 - b0) + 28.0 * (d1 - d0)) * 8.0 / 1000.0 / t0.elapsed().as_secs_f64();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("waiting for the load generator")
        .expect("load generator");
    let text = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(text.trim())
        .unwrap_or_else(|_| panic!("load generator failed ({}): {text}", out.status));
    (report, kbit_s)
}

fn num(v: &Value, path: &[&str]) -> f64 {
    path.iter()
        .fold(v, |v, k| &v[*k])
        .as_f64()
        .unwrap_or(f64::NAN)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes: Vec<usize> = std::env::var("ASSEMBLY_BENCH_MEMBERS")
        .unwrap_or_else(|_| "10,20".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|n| *n + 3 <= ACCOUNTS)
        .collect();
    let seconds: u64 = std::env::var("ASSEMBLY_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let accounts = ACCOUNTS.to_string();
    let chain = TestChain::start_at(&["--accounts", &accounts], now()).await;
    // Every account but the deployer is an orchestrator in Livepeer's active set.
    for o in &chain.accounts[6..] {
        chain.bonding.setActive(*o, true).mined().await;
    }
    // Slots of 50 minutes: the whole run is one speaker's.
    let session = open_session(&chain, now(), 3000).await;
    // Account 1 speaks; account 2 runs the origin, accounts 3.. the members.
    enqueue(&chain, session, 1).await;
    let key = format!("0x{}", alloy::hex::encode(chain.anvil.keys()[1].to_bytes()));
    let root = std::env::temp_dir().join(format!("assembly-bench-cluster-{}", std::process::id()));
    let http = reqwest::Client::new();
    let origin = member(&chain, &root.join("origin"), 2).await;
    floor_shows(&http, &origin, session).await;

    let mut members: Vec<NodeProcess> = Vec::new();
    let mut runs = Vec::new();
    let mut alone: Option<(f64, f64)> = None;
    for n in std::iter::once(0).chain(sizes) {
        while members.len() < n {
            let i = members.len();
            members.push(member(&chain, &root.join(format!("member-{i}")), 3 + i).await);
        }
        links_up(&http, &origin, n).await;
        // Let the new links' handshakes and first reports settle.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (here, relay_kbit_s) =
            loadgen(&http, &origin, &origin.base, session, &key, seconds).await;
        let there = match members.first() {
            Some(m) => Some(
                loadgen(&http, &origin, &m.base, session, &key, seconds)
                    .await
                    .0,
            ),
            None => None,
        };
        let cpu = num(&here, &["node_cpu_percent"]);
        let lo = num(&here, &["loopback_kbit_s"]);
        let (cpu0, lo0) = *alone.get_or_insert((cpu, lo));
        let per = |x: f64| if n == 0 { f64::NAN } else { x / n as f64 };
        let hop = |p: &str| {
            there
                .as_ref()
                .map(|t| {
                    round1(num(t, &["added_latency_ms", p]) - num(&here, &["added_latency_ms", p]))
                })
                .unwrap_or(f64::NAN)
        };
        let run = json!({
            "members": n,
            "origin_cpu_percent": cpu,
            "origin_cpu_percent_per_member": round1(per(cpu - cpu0) * 10.0) / 10.0,
            "origin_relay_out_kbit_s": relay_kbit_s.round(),
            "origin_relay_out_kbit_s_per_member": round1(per(relay_kbit_s)),
            "loopback_kbit_s": lo,
            "loopback_kbit_s_per_member": round1(per(lo - lo0)),
            "latency_at_origin_ms": here["added_latency_ms"],
            "latency_at_member_ms": there.as_ref().map(|t| t["added_latency_ms"].clone()),
            "hop_added_ms": { "p50": hop("p50"), "p99": hop("p99") },
            "loss_percent_at_member": there.as_ref().map(|t| t["loss_percent"].clone()),
            "origin_rss_mb": here["node_rss_mb"],
        });
        println!("{run}");
        runs.push(run);
    }
    drop(members);
    drop(origin);
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let _ = std::fs::write(
        std::path::Path::new(&target).join("bench-cluster.json"),
        serde_json::to_vec_pretty(&runs).unwrap(),
    );
    let _ = std::fs::remove_dir_all(&root);
}
