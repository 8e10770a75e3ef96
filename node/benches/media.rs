//! Audio fan-out benchmark (`cargo bench -p assembly-node --bench media`): anvil with the
//! contracts, a session whose floor an orchestrator holds, the node binary as its own
//! process, and the load generator binary (`assembly-loadgen`) as another, at each size in
//! `ASSEMBLY_BENCH_LISTENERS` (default `100,250,500,1000`). The node is restarted for each
//! size so its memory per listener is measured from a clean start. With
//! `ASSEMBLY_BENCH_SIGNED=both` each size runs twice, the publisher's audio unsigned then
//! speaker-signed (`on`: signed only), for what checking it costs the node. Prints one JSON
//! report per run and writes them all to `$CARGO_TARGET_DIR/bench-media.json`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assembly_testkit::chain::{enqueue, one_off_session, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::node::{spawn_node_with, NodeProcess, LOOPBACK_LIMITS};
use assembly_testkit::ports::{free_port, free_udp_port};
use serde_json::Value;

async fn start_node(chain: &TestChain, dir: &std::path::Path, session: u64) -> NodeProcess {
    let _ = std::fs::remove_file(dir.join("node.sqlite"));
    let node = spawn_node_with(
        env!("CARGO_BIN_EXE_assembly-node"),
        chain,
        dir,
        free_port(),
        free_udp_port(),
        Some(LOOPBACK_LIMITS),
    )
    .await;
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "the floor never showed");
        let Ok(r) = http.get(format!("{}/api/v1/state", node.base)).send().await else {
            continue;
        };
        let v: Value = r.json().await.unwrap_or(Value::Null);
        let held = v["live"].as_array().is_some_and(|l| {
            l.iter()
                .any(|s| s["session"] == session && !s["floor"].is_null())
        });
        if held {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes: Vec<usize> = std::env::var("ASSEMBLY_BENCH_LISTENERS")
        .unwrap_or_else(|_| "100,250,500,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let seconds: u64 = std::env::var("ASSEMBLY_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let chain = TestChain::start_at(&[], now()).await;
    let session = one_off_session(&chain, now(), 86_400, 86_000).await;
    enqueue(&chain, session, 1).await;
    let dir = std::env::temp_dir().join(format!("assembly-bench-media-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = format!("0x{}", alloy::hex::encode(chain.anvil.keys()[1].to_bytes()));

    let signing: &[bool] = match std::env::var("ASSEMBLY_BENCH_SIGNED").as_deref() {
        Ok("both") => &[false, true],
        Ok("on") => &[true],
        _ => &[false],
    };
    let mut reports = Vec::new();
    for (n, signed) in sizes
        .iter()
        .flat_map(|n| signing.iter().map(move |s| (*n, *s)))
    {
        let node = start_node(&chain, &dir, session).await;
        let mut loadgen = Command::new(env!("CARGO_BIN_EXE_assembly-loadgen"));
        if signed {
            loadgen.arg("--sign");
        }
        let out = loadgen
            .args(["--node", &node.base, "--session", &session.to_string()])
            .args([
                "--listeners",
                &n.to_string(),
                "--seconds",
                &seconds.to_string(),
            ])
            .args(["--key", &key, "--node-pid", &node.child.id().to_string()])
            .stderr(Stdio::inherit())
            .output()
            .expect("load generator");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut report: Value = serde_json::from_str(text.trim())
            .unwrap_or_else(|_| panic!("load generator failed ({}): {text}", out.status));
        // What the node's checks made of the publisher's frames.
        let metrics = reqwest::get(format!("{}/metrics", node.base))
            .await
            .expect("metrics")
            .text()
            .await
            .unwrap_or_default();
        for verdict in ["signed", "unsigned", "altered", "unattested"] {
            let name = format!("assembly_provenance_frames_total{{verdict=\"{verdict}\"}} ");
            let n = metrics
                .lines()
                .find_map(|l| l.strip_prefix(name.as_str()))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(0.0);
            report["provenance_frames"][verdict] = (n as u64).into();
        }
        println!("{report}");
        reports.push(report);
        drop(node);
    }
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let _ = std::fs::write(
        std::path::Path::new(&target).join("bench-media.json"),
        serde_json::to_vec_pretty(&reports).unwrap(),
    );
    let _ = std::fs::remove_dir_all(&dir);
}
