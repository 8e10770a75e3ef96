//! `assembly-loadgen`: opens N WHEP listeners and one WHIP publisher against a running node,
//! sends stamped 20 ms frames, and reports listeners held, loss, added latency (p50/p99/max)
//! and — given the node's pid — the node's CPU and resident memory per listener. One JSON
//! object on stdout. In a cluster, `--listen-at` puts the listeners on another member than
//! the one the publisher speaks to (the relay hop is then on the path), and `--loopback`
//! reports the loopback interface's traffic over the measured window (all of it, from every
//! process: a benchmark on an otherwise quiet machine compares windows).
//!
//! Latency is measured twice from the publisher's stamp: `added_latency_ms` to the moment a
//! listener has decrypted the frame (what a user would hear, with this process's own
//! backlog of a thousand clients included), and `at_socket_ms` to the moment the datagram
//! reached the listener's socket (the kernel's stamp: what the node and the network added).
//!
//! ```text
//! assembly-loadgen --node http://127.0.0.1:8700 --session current --listeners 1000 \
//!     --key 0x<floor holder's key> --seconds 20 --node-pid 1234
//! ```
//!
//! The publisher must hold (or be next for) the floor on chain; `cargo bench -p
//! assembly-node --bench media` sets that up on anvil and runs this at several sizes.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use alloy::signers::local::PrivateKeySigner;
use alloy::signers::Signer;
use anyhow::{bail, Context};
use assembly_floor::clock::now_us as unix_micros;
use assembly_media::client::{self, Peer};
use assembly_media::sdp::Intent;
use assembly_media::stamp::read_stamp;
use assembly_node::siwe::SiweMessage;
use serde_json::{json, Value};

struct Args {
    node: String,
    session: String,
    listeners: usize,
    seconds: u64,
    key: String,
    node_pid: Option<u32>,
    ramp: f64,
    /// For servers without sign-in (the webrtc-rs comparison): publish without a token.
    no_sign_in: bool,
    /// Where the listeners connect, if not to `node` (another member of its cluster).
    listen_at: Option<String>,
    /// Report the loopback interface's bytes sent over the window.
    loopback: bool,
    /// Sign the publisher's audio as a speaker's client does (`--key` certifies the key).
    sign: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        node: "http://127.0.0.1:8700".into(),
        session: "current".into(),
        listeners: 100,
        seconds: 20,
        key: String::new(),
        node_pid: None,
        ramp: 150.0,
        no_sign_in: false,
        listen_at: None,
        loopback: false,
        sign: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut v = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--node" => a.node = v()?,
            "--session" => a.session = v()?,
            "--listeners" => a.listeners = v()?.parse()?,
            "--seconds" => a.seconds = v()?.parse()?,
            "--key" => a.key = v()?,
            "--node-pid" => a.node_pid = Some(v()?.parse()?),
            "--ramp" => a.ramp = v()?.parse()?,
            "--no-sign-in" => a.no_sign_in = true,
            "--listen-at" => a.listen_at = Some(v()?),
            "--loopback" => a.loopback = true,
            "--sign" => a.sign = true,
            "-h" | "--help" => {
                println!("assembly-loadgen --node URL --session ID|current --listeners N --seconds S --key HEX [--node-pid PID] [--ramp OFFERS_PER_S] [--no-sign-in] [--listen-at URL] [--loopback] [--sign]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    if a.key.is_empty() && !a.no_sign_in {
        bail!("--key (the floor holder's private key) is required");
    }
    Ok(a)
}

/// A speaking key for this run, which `--key` (the holder's wallet) certifies for the
/// session's occurrence in progress, on the chain and contract the node names.
async fn speaking_key(
    http: &reqwest::Client,
    a: &Args,
) -> anyhow::Result<assembly_provenance::carrier::Signer> {
    use assembly_provenance::carrier::{Certificate, Signer};
    let session: u64 = a
        .session
        .parse()
        .context("--sign needs a numeric --session")?;
    let config: Value = http
        .get(format!("{}/api/v1/config", a.node))
        .send()
        .await?
        .json()
        .await?;
    let floor: Value = http
        .get(format!("{}/chain/v1/sessions/{session}/floor", a.node))
        .send()
        .await?
        .json()
        .await?;
    let chain_id = config["chainId"].as_u64().context("config: chainId")?;
    let assembly: alloy::primitives::Address = config["assembly"]
        .as_str()
        .context("config: assembly")?
        .parse()?;
    let occurrence = floor["occurrence"]
        .as_u64()
        .context("the session has no occurrence in progress")? as u32;
    let wallet: PrivateKeySigner = a.key.trim_start_matches("0x").parse().context("--key")?;
    let key = PrivateKeySigner::random();
    let body = assembly_provenance::SpeakingKey {
        session: alloy::primitives::U256::from(session),
        occurrence,
        key: key.address(),
        notAfter: unix_micros() / 1_000_000 + a.seconds + 600,
    };
    let certificate = Certificate::sign(
        body,
        wallet.credential(),
        &assembly_provenance::domain(chain_id, assembly),
    );
    Ok(Signer::new(certificate, key.credential().clone())?)
}

/// Signs in with SIWE as the node asks (its domain, URI and chain) and returns the token.
async fn sign_in(
    http: &reqwest::Client,
    node: &str,
    key: &PrivateKeySigner,
) -> anyhow::Result<String> {
    let n: Value = http
        .get(format!("{node}/api/v1/auth/nonce"))
        .send()
        .await?
        .json()
        .await?;
    let now = chrono::Utc::now();
    let msg = SiweMessage {
        scheme: None,
        domain: n["domain"].as_str().context("domain")?.into(),
        address: key.address(),
        statement: Some("Sign in to Assembly.".into()),
        uri: format!("{}/", n["uri"].as_str().context("uri")?),
        version: "1".into(),
        chain_id: n["chain_id"].as_u64().context("chain_id")?,
        nonce: n["nonce"].as_str().context("nonce")?.into(),
        issued_at: now,
        expiration_time: Some(now + chrono::Duration::minutes(10)),
        not_before: None,
        request_id: None,
        resources: vec![],
    };
    let text = msg.to_string();
    let sig = key.sign_message(text.as_bytes()).await?;
    let r: Value = http
        .post(format!("{node}/api/v1/auth/sign-in"))
        .json(&json!({ "message": text, "signature": format!("0x{}", alloy::hex::encode(sig.as_bytes())) }))
        .send()
        .await?
        .json()
        .await?;
    Ok(r["token"]
        .as_str()
        .with_context(|| format!("sign-in refused: {r}"))?
        .to_string())
}

/// (user+system CPU seconds, resident bytes) of a process, from /proc.
fn usage(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    // CLK_TCK is 100 on Linux builds that matter here.
    Some((ticks / 100.0, rss_kb * 1024))
}

/// Bytes the loopback interface has sent, from /proc/net/dev.
fn loopback_tx() -> Option<u64> {
    let dev = std::fs::read_to_string("/proc/net/dev").ok()?;
    let line = dev.lines().find(|l| l.trim_start().starts_with("lo:"))?;
    let fields: Vec<&str> = line.split(':').nth(1)?.split_whitespace().collect();
    fields.get(8)?.parse().ok()
}

/// What one listener heard: (frame counter, latency µs to decrypted, to the socket).
type Log = Arc<Mutex<Vec<(u64, u32, u32)>>>;

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let token = if a.no_sign_in {
        None
    } else {
        let key: PrivateKeySigner = a.key.trim_start_matches("0x").parse().context("--key")?;
        Some(sign_in(&http, &a.node, &key).await?)
    };
    let whep = format!(
        "{}/api/v1/sessions/{}/whep",
        a.listen_at.as_deref().unwrap_or(&a.node),
        a.session
    );
    let whip = format!("{}/api/v1/sessions/{}/whip", a.node, a.session);
    let base = a.node_pid.and_then(usage);

    // Listeners, at the ramp rate.
    let t_open = Instant::now();
    let mut logs: Vec<Log> = Vec::with_capacity(a.listeners);
    let mut opening = Vec::with_capacity(a.listeners);
    let gap = Duration::from_secs_f64(1.0 / a.ramp);
    for i in 0..a.listeners {
        let log: Log = Arc::default();
        logs.push(log.clone());
        let (http, whep) = (http.clone(), whep.clone());
        opening.push(tokio::spawn(async move {
            let on_media = || -> client::OnMedia {
                let log = log.clone();
                Box::new(move |data: &[u8], arrived: Instant| {
                    if let Some((sent, n)) = read_stamp(data) {
                        let now = unix_micros();
                        let arrived = now.saturating_sub(arrived.elapsed().as_micros() as u64);
                        let micros = |t: u64| t.saturating_sub(sent).min(u32::MAX as u64) as u32;
                        log.lock().push((n, micros(now), micros(arrived)));
                    }
                })
            };
            for attempt in 0..5 {
                match client::connect(&http, &whep, None, Intent::Subscribe, Some(on_media())).await
                {
                    Ok(mut p) => {
                        let ok = p.wait_connected(Duration::from_secs(15)).await;
                        return ok.then_some(p);
                    }
                    Err(client::ClientError::Refused {
                        status: 429 | 503, ..
                    }) if attempt < 4 => {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    Err(e) => {
                        eprintln!("listener {i}: {e}");
                        return None;
                    }
                }
            }
            None
        }));
        tokio::time::sleep(gap).await;
    }
    let mut listeners: Vec<Peer> = Vec::new();
    for o in opening {
        if let Ok(Some(p)) = o.await {
            listeners.push(p);
        }
    }
    let connected = listeners.len();
    let open_secs = t_open.elapsed().as_secs_f64();
    let idle = a.node_pid.and_then(usage);

    // The publisher.
    let mut publisher = client::connect(&http, &whip, token.as_deref(), Intent::Publish, None)
        .await
        .context("WHIP refused: does this key hold the floor on chain?")?;
    if !publisher.wait_connected(Duration::from_secs(10)).await {
        bail!("publisher did not connect");
    }
    let frames = publisher
        .frames
        .clone()
        .context("publisher has no frame channel")?;
    let frames = if a.sign {
        client::signed(frames, speaking_key(&http, &a).await?)
    } else {
        frames
    };
    let sent = Arc::new(AtomicU64::new(0));
    let sent2 = sent.clone();
    let pump = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        for n in 0u64.. {
            tick.tick().await;
            if frames
                .send(assembly_media::stamp::stamped_frame(n, 80))
                .await
                .is_err()
            {
                return;
            }
            sent2.store(n + 1, Relaxed);
        }
    });

    // Warm up 2 s, measure, then stop sending and let the last frames land.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let first = sent.load(Relaxed);
    let t0 = Instant::now();
    let u0 = a.node_pid.and_then(usage);
    let me0 = usage(std::process::id());
    let lo0 = a.loopback.then(loopback_tx).flatten();
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    let last = sent.load(Relaxed);
    let u1 = a.node_pid.and_then(usage);
    let me1 = usage(std::process::id());
    let lo1 = a.loopback.then(loopback_tx).flatten();
    let elapsed = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    pump.abort();

    let window = last.saturating_sub(first);
    let held = listeners.iter().filter(|p| *p.connected.borrow()).count();
    let mut latencies: Vec<u32> = Vec::new();
    let mut at_socket: Vec<u32> = Vec::new();
    let mut received = 0u64;
    for log in &logs {
        let log = log.lock();
        for (n, added, socket) in log.iter() {
            if (first..last).contains(n) {
                received += 1;
                latencies.push(*added);
                at_socket.push(*socket);
            }
        }
    }
    latencies.sort_unstable();
    at_socket.sort_unstable();
    let expected = window * connected as u64;
    let loss = if expected == 0 {
        f64::NAN
    } else {
        100.0 * (1.0 - received as f64 / expected as f64)
    };
    let cpu = |a: Option<(f64, u64)>, b: Option<(f64, u64)>| match (a, b) {
        (Some(a), Some(b)) => Some(100.0 * (b.0 - a.0) / elapsed),
        _ => None,
    };
    let per_listener_kb = match (base, u1) {
        (Some(b), Some(e)) if connected > 0 => {
            Some((e.1 as f64 - b.1 as f64) / connected as f64 / 1024.0)
        }
        _ => None,
    };
    let report = json!({
        "signed": a.sign,
        "listeners_requested": a.listeners,
        "listeners_connected": connected,
        "listeners_held": held,
        "seconds_to_connect": (open_secs * 10.0).round() / 10.0,
        "frames_in_window": window,
        "deliveries_expected": expected,
        "deliveries": received,
        "loss_percent": (loss * 1000.0).round() / 1000.0,
        "added_latency_ms": {
            "p50": percentile(&latencies, 0.50),
            "p99": percentile(&latencies, 0.99),
            "max": percentile(&latencies, 1.0),
        },
        "at_socket_ms": {
            "p50": percentile(&at_socket, 0.50),
            "p99": percentile(&at_socket, 0.99),
            "max": percentile(&at_socket, 1.0),
        },
        "node_cpu_percent": cpu(u0, u1).map(|c| (c * 10.0).round() / 10.0),
        "node_rss_mb": u1.map(|u| (u.1 as f64 / 1048576.0 * 10.0).round() / 10.0),
        "node_rss_idle_mb": idle.map(|u| (u.1 as f64 / 1048576.0 * 10.0).round() / 10.0),
        "node_kb_per_listener": per_listener_kb.map(|k| (k * 10.0).round() / 10.0),
        "loadgen_cpu_percent": cpu(me0, me1).map(|c| (c * 10.0).round() / 10.0),
        "loopback_kbit_s": lo0.zip(lo1).map(|(a, b)| ((b - a) as f64 * 8.0 / 1000.0 / elapsed).round()),
    });
    println!("{report}");
    publisher.frames = None;
    publisher.close(&http, token.as_deref()).await;
    for p in listeners {
        p.close(&http, None).await;
    }
    Ok(())
}
