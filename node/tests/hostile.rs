//! The node under attack: the `assembly-node` binary with its default limits, a speaker
//! holding the floor and a listener listening, while the test attacks it from many loopback
//! addresses (all of 127.0.0.0/8 is `lo` on Linux, so each attacker, the victim and the
//! session's own peers have an address, and a budget, of their own):
//!
//! - slow and silent HTTP connections (all through the test): closed by the header timeout;
//! - the live WebSocket: sockets announcing 15 MB frames, and 2,000 upgrades from one address;
//!   the node's memory stays bounded;
//! - a WHEP (listener offer) flood from 60 addresses: the next speaker's WHIP is still 201;
//! - a nonce flood from 100 addresses and a role-lookup flood: a victim still signs in,
//!   `/healthz` stays quick, and the victim's token is refused once signed out.
//!
//! Every attack is bounded in count and in time; the whole test takes under twenty seconds
//! (the slow connections' header timeout, fifteen, is most of it; 40 s against a node without
//! one). It
//! prints its figures (`hostile: …` lines). `ASSEMBLY_HOSTILE_REPORT_ONLY=1` prints them
//! without asserting, and `ASSEMBLY_HOSTILE_BINARY=/path/to/assembly-node` points the test at
//! another build, for before/after figures.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assembly_floor::clock::now_us;
use assembly_media::client::{self, ClientError};
use assembly_media::sdp::Intent;
use assembly_media::stamp::read_stamp;
use assembly_testkit::chain::{enqueue, open_session, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::frames::pump_stamped;
use assembly_testkit::node::spawn_node;
use assembly_testkit::ports::{free_port, free_udp_port};
use assembly_testkit::siwe::{key, message, signed};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The node's default `header_timeout_secs`.
const HEADER_TIMEOUT: Duration = Duration::from_secs(15);
/// The node's default `connections_per_ip`.
const CONNECTIONS_PER_IP: usize = 64;

/// How much the node's resident memory may grow under the WebSocket attack. Twenty sockets
/// announcing 15 MB frames cost a node that buffers what a frame header announces some
/// 300 MB; one that refuses such a frame at its header costs next to nothing, and the rest of
/// the attack (32 idle sockets held, 2,000 handshakes) a few MB.
const RSS_GROWTH_BOUND_MB: f64 = 64.0;
/// Frames (20 ms each) the listener may lose over all the attacks (some 15 s). Nothing on the
/// node's side should drop any, and none was lost in any run (nor against the node before its
/// bounds); what could be lost is lost to this machine's two cores being shared by the node,
/// the attackers and both peers (a starved client socket overflowing). 25 frames, half a
/// second of audio, is that margin, and well under what a stalled forwarder would lose.
const FRAMES_LOST_BOUND: u64 = 25;
/// `/healthz` p99 during the nonce flood. Measured at 2 to 6 ms before and 25 to 45 ms during
/// (the flood shares the two cores with the node); a node whose request path queued behind
/// nonce minting would be in the seconds.
const HEALTHZ_P99_BOUND: Duration = Duration::from_millis(300);
/// How late past the header timeout a slow or silent connection may be closed.
const CLOSE_SLACK: Duration = Duration::from_secs(3);

/// (arrival µs, send µs, frame counter) of each frame the listener heard.
type Heard = Arc<Mutex<Vec<(u64, u64, u64)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_under_attack_keeps_its_session_and_its_bounds() {
    let began = Instant::now();
    let report_only = std::env::var("ASSEMBLY_HOSTILE_REPORT_ONLY").is_ok_and(|v| v == "1");
    let binary = std::env::var("ASSEMBLY_HOSTILE_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_assembly-node").to_string());
    let mut checks = Checks::default();

    // A session whose first slot (ten minutes) is account 1's, account 2 next.
    let chain = TestChain::start_at(&[], now()).await;
    let session = open_session(&chain, now(), 600).await;
    enqueue(&chain, session, 1).await;
    enqueue(&chain, session, 2).await;
    let dir = std::env::temp_dir().join(format!("assembly-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let http_port = free_port();
    let node = spawn_node(&binary, &chain, &dir, http_port, free_udp_port()).await;
    let pid = node.child.id();
    let base = node.base.clone();
    let addr: SocketAddr = ([127, 0, 0, 1], http_port).into();
    let whep_url = format!("{base}/api/v1/sessions/{session}/whep");
    let whip_url = format!("{base}/api/v1/sessions/{session}/whip");
    let home = client_from([127, 0, 0, 1]);
    let holder = sign_in(&home, &base, &chain, 1)
        .await
        .expect("the holder signs in")
        .0;
    let next = sign_in(&home, &base, &chain, 2)
        .await
        .expect("the next speaker signs in")
        .0;

    // The session's peers on a runtime of their own, as on other machines: the attackers in
    // this process must not starve them of this process's threads.
    let peers = PeersRuntime::new();
    let heard: Heard = Arc::default();
    let (h, url) = (heard.clone(), whep_url.clone());
    let _listener = peers
        .spawn(async move {
            let http = reqwest::Client::new();
            let on_media: client::OnMedia = Box::new(move |data: &[u8], _| {
                if let Some((sent, n)) = read_stamp(data) {
                    h.lock().unwrap().push((now_us(), sent, n));
                }
            });
            let mut peer = client::connect(&http, &url, None, Intent::Subscribe, Some(on_media))
                .await
                .expect("the listener's offer answered");
            assert!(
                peer.wait_connected(Duration::from_secs(5)).await,
                "the listener connects"
            );
            peer
        })
        .await
        .unwrap();
    let (url, token) = (whip_url.clone(), holder.clone());
    let _speaker = peers
        .spawn(async move {
            let http = reqwest::Client::new();
            // The node follows the chain: the holder is admitted once its plan has the queue.
            let deadline = Instant::now() + Duration::from_secs(20);
            let peer = loop {
                match client::connect(&http, &url, Some(&token), Intent::Publish, None).await {
                    Ok(p) => break p,
                    Err(_) if Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(e) => panic!("the holder is not admitted: {e}"),
                }
            };
            pump_stamped(peer.frames.clone().expect("a publisher"), 1);
            peer
        })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while heard.lock().unwrap().len() < 25 {
        assert!(Instant::now() < deadline, "no audio at the listener");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "hostile: setup (chain, node, sign-ins, speaker heard) took {:.1} s",
        began.elapsed().as_secs_f64()
    );

    // The node's memory, sampled every 20 ms from here on.
    let rss = RssSampler::start(pid);
    let attacks_began = now_us();

    // Slow and silent connections, through every other attack.
    let slow = tokio::spawn(slowloris(addr, [127, 0, 0, 7]));
    let silent = tokio::spawn(silent_connections(addr, [127, 0, 0, 8], 500));

    // 1. The live WebSocket.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ws_began = now_us();
    let baseline = rss.mean_since(ws_began - 300_000);
    let ws = ws_attack(addr).await;
    let ws_ended = now_us();
    let peak = rss.peak_between(ws_began, ws_ended + 200_000);
    eprintln!(
        "hostile: rss baseline {:.1} MB, peak {:.1} MB under the WebSocket attack (+{:.1} MB; bound +{RSS_GROWTH_BOUND_MB} MB)",
        baseline,
        peak,
        peak - baseline
    );
    eprintln!(
        "hostile: ws 15 MB frames: {}/20 upgraded, {} KB taken by the kernel before the close, {} closed by the node (slowest after {} ms)",
        ws.big_upgraded, ws.big_bytes / 1024, ws.big_closed, ws.big_slowest_close_ms
    );
    eprintln!(
        "hostile: ws 2000 upgrades from one address: {:?}",
        ws.attempts
    );
    checks.check(
        peak - baseline < RSS_GROWTH_BOUND_MB,
        format!(
            "memory under the WebSocket attack grew {:.1} MB",
            peak - baseline
        ),
    );

    // 2. A WHEP flood; the next speaker connects ahead while it runs.
    let whep_began = now_us();
    let flood = whep_flood(&whep_url, &whip_url, &next).await;
    let whep_ended = now_us();
    eprintln!(
        "hostile: whep flood: {} offers from 60 addresses in {:.1} s: {:?}",
        flood.counts.values().sum::<u32>(),
        flood.secs,
        flood.counts
    );
    eprintln!(
        "hostile: speaker WHIP during the flood: {} in {} ms ({} `busy` refusals before it)",
        flood.whip_status, flood.whip_ms, flood.busy_before_whip
    );
    // The flood is the point: the listeners' budget is spent when the speaker offers.
    checks.check(
        flood.busy_before_whip > 0,
        "the WHEP flood did not reach the node's offer budget before the WHIP".into(),
    );
    checks.check(
        flood.whip_status == 201,
        format!("the speaker's WHIP during the flood: {}", flood.whip_status),
    );
    checks.check(
        flood
            .counts
            .keys()
            .all(|k| k.starts_with("201") || k.starts_with("429")),
        format!("only answers and 429s to the flood: {:?}", flood.counts),
    );

    // 3. A nonce flood (and a role-lookup flood); a victim signs in and out meanwhile.
    let nonce_began = now_us();
    let nf = nonce_flood(&base, &chain).await;
    let nonce_ended = now_us();
    eprintln!(
        "hostile: nonce flood: {} requests from 100 addresses in {:.1} s: {:?}",
        nf.counts.values().sum::<u32>(),
        nf.secs,
        nf.counts
    );
    eprintln!(
        "hostile: /healthz before the flood p50 {:.1} ms p99 {:.1} ms (n={}); during p50 {:.1} ms p99 {:.1} ms (n={})",
        ms(nf.health_before.0), ms(nf.health_before.1), nf.health_before.2,
        ms(nf.health_during.0), ms(nf.health_during.1), nf.health_during.2
    );
    eprintln!(
        "hostile: victim sign-in during the flood: {} in {} ms",
        nf.victim, nf.victim_ms
    );
    eprintln!(
        "hostile: role lookups, 2000 from one address: {:?}",
        nf.lookups
    );
    eprintln!(
        "hostile: sign-out: /me {} before, sign-out {}, /me {} after",
        nf.me_before, nf.sign_out, nf.me_after
    );
    checks.check(
        nf.victim == "200",
        format!("the victim's sign-in: {}", nf.victim),
    );
    checks.check(
        nf.health_during.1 < HEALTHZ_P99_BOUND,
        format!(
            "/healthz p99 during the flood {:.1} ms",
            ms(nf.health_during.1)
        ),
    );
    checks.check(
        nf.counts.get("429").copied().unwrap_or(0) > 0,
        "the nonce flood is rate limited".into(),
    );
    checks.check(
        nf.lookups.get("429").copied().unwrap_or(0) > 0,
        format!("the lookup flood is rate limited: {:?}", nf.lookups),
    );
    checks.check(
        (nf.me_before, nf.sign_out, nf.me_after) == (200, 204, 401),
        format!(
            "a token after sign-out: /me {} before, sign-out {}, /me {} after",
            nf.me_before, nf.sign_out, nf.me_after
        ),
    );

    // 4. The slow connections, by now closed.
    let slow = slow.await.unwrap();
    let silent = silent.await.unwrap();
    eprintln!(
        "hostile: slowloris ({} header bytes, one every 2 s) lived {:.1} s",
        slow.1,
        slow.0.as_secs_f64()
    );
    eprintln!(
        "hostile: 500 silent connections: {} held, closed after at most {:.1} s; {} closed at once; {} still open",
        silent.held, silent.held_max.as_secs_f64(), silent.dropped, silent.open
    );
    let on_time = HEADER_TIMEOUT + CLOSE_SLACK;
    checks.check(
        slow.0 <= on_time,
        format!("the slowloris lived {:.1} s", slow.0.as_secs_f64()),
    );
    checks.check(
        silent.open == 0 && silent.held_max <= on_time,
        format!(
            "silent connections closed after {:.1} s, {} still open",
            silent.held_max.as_secs_f64(),
            silent.open
        ),
    );
    checks.check(
        silent.held <= CONNECTIONS_PER_IP,
        format!("{} silent connections held from one address", silent.held),
    );

    // 5. What the listener heard through it all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let attacks_ended = now_us();
    let heard = heard.lock().unwrap().clone();
    let phases = [
        ("ws", ws_began, ws_ended),
        ("whep", whep_began, whep_ended),
        ("nonce", nonce_began, nonce_ended),
        ("all", attacks_began, attacks_ended),
    ];
    let mut all = (0, 0, 0);
    for (name, from, to) in phases {
        let (expected, lost, worst) = losses(&heard, from, to);
        eprintln!(
            "hostile: frames during {name}: {expected} sent, {lost} lost, worst delay {} ms",
            worst / 1000
        );
        all = (expected, lost, worst);
    }
    eprintln!(
        "hostile: node rss peak over all attacks {:.1} MB",
        rss.peak_between(attacks_began, attacks_ended)
    );
    let attack_frames = (attacks_ended - attacks_began) / 20_000;
    checks.check(
        all.0 * 10 >= attack_frames * 9,
        format!(
            "audio flowed through the attacks ({} frames of {attack_frames})",
            all.0
        ),
    );
    checks.check(
        all.1 <= FRAMES_LOST_BOUND,
        format!("the listener lost {} frames", all.1),
    );
    rss.stop();
    eprintln!(
        "hostile: wall {:.1} s ({:.1} s of attacks)",
        began.elapsed().as_secs_f64(),
        (attacks_ended - attacks_began) as f64 / 1e6
    );
    drop(peers);
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
    checks.finish(report_only);
}

// ---------------------------------------------------------------------------------------------
// Checks that report before they assert.

#[derive(Default)]
struct Checks(Vec<String>);

impl Checks {
    fn check(&mut self, ok: bool, what: String) {
        if !ok {
            eprintln!("hostile: FAILED: {what}");
            self.0.push(what);
        }
    }

    fn finish(self, report_only: bool) {
        if report_only {
            eprintln!("hostile: report only; {} checks failed", self.0.len());
        } else {
            assert!(self.0.is_empty(), "under attack: {}", self.0.join("; "));
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// The session's peers and their audio.

/// A runtime for the session's peers, shut down without blocking when dropped (a test's
/// runtime may not block on another's shutdown).
struct PeersRuntime(Option<tokio::runtime::Runtime>);

impl PeersRuntime {
    fn new() -> Self {
        Self(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap(),
        ))
    }

    fn spawn<F: std::future::Future + Send + 'static>(
        &self,
        f: F,
    ) -> tokio::task::JoinHandle<F::Output>
    where
        F::Output: Send + 'static,
    {
        self.0.as_ref().unwrap().spawn(f)
    }
}

impl Drop for PeersRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Frames the speaker sent from `from` to `to` (µs; by when they arrived), how many of them
/// the listener never heard, and the worst delay of those it did.
fn losses(heard: &[(u64, u64, u64)], from: u64, to: u64) -> (u64, u64, u64) {
    let window: Vec<_> = heard.iter().filter(|h| h.0 >= from && h.0 < to).collect();
    let counters: BTreeSet<u64> = window.iter().map(|h| h.2).collect();
    let (Some(first), Some(last)) = (counters.first(), counters.last()) else {
        return (0, 0, 0);
    };
    let expected = last - first + 1;
    let worst = window
        .iter()
        .map(|h| h.0.saturating_sub(h.1))
        .max()
        .unwrap_or(0);
    (expected, expected - counters.len() as u64, worst)
}

// ---------------------------------------------------------------------------------------------
// Clients from an address of their own.

/// An HTTP client whose connections leave from `from`.
fn client_from(from: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::from(from)))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A TCP connection to `to` from `from`.
async fn connect_from(from: [u8; 4], to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind((Ipv4Addr::from(from), 0).into())?;
    socket.connect(to).await
}

/// Signs in anvil account `i` with `http`: its token and how long the sign-in took, or what
/// went wrong.
async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    chain: &TestChain,
    i: usize,
) -> Result<(String, Duration), String> {
    let began = Instant::now();
    let r = http
        .get(format!("{base}/api/v1/auth/nonce"))
        .send()
        .await
        .map_err(|e| format!("nonce: {e}"))?;
    if r.status() != 200 {
        return Err(format!("nonce: {}", r.status().as_u16()));
    }
    let v: Value = r.json().await.map_err(|e| format!("nonce: {e}"))?;
    let nonce = v["nonce"].as_str().ok_or("no nonce")?;
    let k = key(chain, i);
    let body = signed(&k, &message(k.address(), nonce)).await;
    let r = http
        .post(format!("{base}/api/v1/auth/sign-in"))
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("sign-in: {e}"))?;
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if status != 200 {
        return Err(format!("{status}"));
    }
    let token = v["token"].as_str().ok_or("no token")?.to_string();
    Ok((token, began.elapsed()))
}

/// `status` and, for a refusal, its `error` code, as counted.
async fn status_and_code(r: reqwest::Response) -> String {
    let status = r.status().as_u16();
    if status < 400 {
        return status.to_string();
    }
    let v: Value = r.json().await.unwrap_or(Value::Null);
    match v["error"].as_str() {
        Some(code) => format!("{status} {code}"),
        None => status.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Memory.

/// The node's resident memory, sampled every 20 ms on a thread of its own.
struct RssSampler {
    samples: Arc<Mutex<Vec<(u64, f64)>>>,
    stop: Arc<AtomicBool>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let samples: Arc<Mutex<Vec<(u64, f64)>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (s, halt) = (samples.clone(), stop.clone());
        std::thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                if let Some(mb) = rss_mb(pid) {
                    s.lock().unwrap().push((now_us(), mb));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Self { samples, stop }
    }

    fn mean_since(&self, from: u64) -> f64 {
        let s = self.samples.lock().unwrap();
        let w: Vec<f64> = s.iter().filter(|x| x.0 >= from).map(|x| x.1).collect();
        if w.is_empty() {
            return s.last().map(|x| x.1).unwrap_or(0.0);
        }
        w.iter().sum::<f64>() / w.len() as f64
    }

    fn peak_between(&self, from: u64, to: u64) -> f64 {
        self.samples
            .lock()
            .unwrap()
            .iter()
            .filter(|x| x.0 >= from && x.0 <= to)
            .map(|x| x.1)
            .fold(0.0, f64::max)
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// `VmRSS` of process `pid`, in MB.
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

// ---------------------------------------------------------------------------------------------
// Slow and silent connections.

/// One connection sending a request head a byte every two seconds: how long the node kept
/// it, and how many bytes it sent.
async fn slowloris(to: SocketAddr, from: [u8; 4]) -> (Duration, usize) {
    let head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let began = Instant::now();
    let Ok(stream) = connect_from(from, to).await else {
        return (Duration::ZERO, 0);
    };
    let (mut read, mut write) = stream.into_split();
    let mut sent = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut buf = [0u8; 1024];
    let cap = began + Duration::from_secs(40);
    loop {
        tokio::select! {
            r = read.read(&mut buf) => match r {
                Ok(n) if n > 0 => continue,
                _ => break,
            },
            _ = tick.tick() => {
                if write.write_all(&head[sent % head.len()..][..1]).await.is_err() {
                    break;
                }
                sent += 1;
            }
            _ = tokio::time::sleep_until(cap.into()) => break,
        }
    }
    (began.elapsed(), sent)
}

struct Silent {
    /// Connections the node kept past two seconds.
    held: usize,
    /// The longest any lived.
    held_max: Duration,
    /// Connections closed within two seconds (over the per-address bound).
    dropped: usize,
    /// Connections still open after 40 s.
    open: usize,
}

/// `n` connections from `from` that never send a byte: how long each lived.
async fn silent_connections(to: SocketAddr, from: [u8; 4], n: usize) -> Silent {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            tokio::spawn(async move {
                let Ok(mut s) = connect_from(from, to).await else {
                    return Some(Duration::ZERO);
                };
                let began = Instant::now();
                let mut buf = [0u8; 256];
                let deadline = began + Duration::from_secs(40);
                loop {
                    match tokio::time::timeout_at(deadline.into(), s.read(&mut buf)).await {
                        Err(_) => return None,
                        Ok(Ok(n)) if n > 0 => continue,
                        Ok(_) => return Some(began.elapsed()),
                    }
                }
            })
        })
        .collect();
    let mut out = Silent {
        held: 0,
        held_max: Duration::ZERO,
        dropped: 0,
        open: 0,
    };
    for t in tasks {
        match t.await.unwrap() {
            None => out.open += 1,
            Some(d) if d > Duration::from_secs(2) => {
                out.held += 1;
                out.held_max = out.held_max.max(d);
            }
            Some(_) => out.dropped += 1,
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The live WebSocket.

struct WsAttack {
    big_upgraded: usize,
    big_bytes: usize,
    big_closed: usize,
    big_slowest_close_ms: u128,
    attempts: BTreeMap<String, u32>,
}

/// Sends a WebSocket upgrade for `/api/v1/live` and reads the answer's head: its status
/// (`None` if the connection closed first).
async fn upgrade(s: &mut TcpStream, to: SocketAddr) -> Option<u16> {
    let req = format!(
        "GET /api/v1/live HTTP/1.1\r\nHost: {to}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    // Byte by byte, so nothing after the head (the first state message) is consumed.
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
        if head.len() > 16 * 1024 {
            return None;
        }
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Twenty sockets from 127.0.0.4 each announcing a 15 MB frame, sending up to 1 MB of it and
/// stalling; and 2,000 upgrades from 127.0.0.5 (200 at a time), those upgraded held
/// throughout. About four seconds.
async fn ws_attack(to: SocketAddr) -> WsAttack {
    let hold = Instant::now() + Duration::from_secs(4);
    let big: Vec<_> = (0..20)
        .map(|i| {
            tokio::spawn(async move {
                let Ok(mut s) = connect_from([127, 0, 0, 4], to).await else {
                    return (false, 0, None);
                };
                if upgrade(&mut s, to).await != Some(101) {
                    return (false, 0, None);
                }
                let began = Instant::now();
                let mut header = vec![0x82, 0x80 | 127];
                header.extend_from_slice(&15_000_000u64.to_be_bytes());
                header.extend_from_slice(&[i as u8, 1, 2, 3]);
                let chunk = vec![0x5a; 64 * 1024];
                let mut sent = 0;
                let send = async {
                    s.write_all(&header).await?;
                    while sent < 1024 * 1024 {
                        s.write_all(&chunk).await?;
                        sent += chunk.len();
                    }
                    std::io::Result::Ok(())
                };
                let _ = tokio::time::timeout(Duration::from_secs(3), send).await;
                // Stalled: does the node close it?
                let mut buf = vec![0u8; 16 * 1024];
                let closed = loop {
                    match tokio::time::timeout_at(hold.into(), s.read(&mut buf)).await {
                        Err(_) => break None,
                        Ok(Ok(n)) if n > 0 => continue,
                        Ok(_) => break Some(began.elapsed()),
                    }
                };
                (true, sent, closed)
            })
        })
        .collect();
    let permits = Arc::new(tokio::sync::Semaphore::new(200));
    let attempts: Vec<_> = (0..2000)
        .map(|_| {
            let permits = permits.clone();
            tokio::spawn(async move {
                let permit = permits.acquire_owned().await.unwrap();
                let attempt = async {
                    let Ok(mut s) = connect_from([127, 0, 0, 5], to).await else {
                        return ("connect failed".to_string(), None);
                    };
                    match upgrade(&mut s, to).await {
                        Some(101) => ("101".to_string(), Some(s)),
                        Some(status) => (status.to_string(), None),
                        None => ("closed at once".to_string(), None),
                    }
                };
                let r = tokio::time::timeout(Duration::from_secs(3), attempt)
                    .await
                    .unwrap_or(("no answer in 3 s".to_string(), None));
                drop(permit);
                // The upgraded are held (and never read) until the attack ends.
                if let Some(s) = r.1 {
                    tokio::time::sleep_until(hold.into()).await;
                    drop(s);
                }
                r.0
            })
        })
        .collect();
    let mut out = WsAttack {
        big_upgraded: 0,
        big_bytes: 0,
        big_closed: 0,
        big_slowest_close_ms: 0,
        attempts: BTreeMap::new(),
    };
    for t in attempts {
        *out.attempts.entry(t.await.unwrap()).or_insert(0) += 1;
    }
    for t in big {
        let (upgraded, sent, closed) = t.await.unwrap();
        out.big_upgraded += upgraded as usize;
        out.big_bytes += sent;
        if let Some(d) = closed {
            out.big_closed += 1;
            out.big_slowest_close_ms = out.big_slowest_close_ms.max(d.as_millis());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The WHEP flood.

struct WhepFlood {
    counts: BTreeMap<String, u32>,
    secs: f64,
    whip_status: u16,
    whip_ms: u128,
    busy_before_whip: u32,
}

/// A real listener's offer (str0m's), as text.
fn listen_offer() -> String {
    let mut rtc = str0m::Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .build(Instant::now());
    rtc.add_local_candidate(str0m::Candidate::host("127.0.0.1:9".parse().unwrap(), "udp").unwrap());
    let mut change = rtc.sdp_api();
    change.add_media(
        str0m::media::MediaKind::Audio,
        str0m::media::Direction::RecvOnly,
        None,
        None,
        None,
    );
    let (offer, _) = change.apply().unwrap();
    offer.to_sdp_string()
}

/// 1,500 listener offers from 127.0.1.1..=60 (25 each, 4 at a time per address), for at most
/// ten seconds; once the node's own offer budget refuses some (or after two seconds), the
/// next speaker (`token`) offers to WHIP.
async fn whep_flood(whep: &str, whip: &str, token: &str) -> WhepFlood {
    let began = Instant::now();
    let deadline = began + Duration::from_secs(10);
    let offer = Arc::new(listen_offer());
    let busy = Arc::new(AtomicU32::new(0));
    let counts: Arc<Mutex<BTreeMap<String, u32>>> = Arc::default();
    let mut tasks = Vec::new();
    for a in 1..=60u8 {
        let http = client_from([127, 0, 1, a]);
        for j in 0..4 {
            // 7 + 6 + 6 + 6: 25 from each address.
            let n = (25 + 3 - j) / 4;
            let (http, offer, busy, counts, url) = (
                http.clone(),
                offer.clone(),
                busy.clone(),
                counts.clone(),
                whep.to_string(),
            );
            tasks.push(tokio::spawn(async move {
                for _ in 0..n {
                    if Instant::now() > deadline {
                        return;
                    }
                    let r = http
                        .post(&url)
                        .header("content-type", "application/sdp")
                        .body(offer.as_str().to_owned())
                        .send()
                        .await;
                    let what = match r {
                        Ok(r) => status_and_code(r).await,
                        Err(e) if e.is_timeout() => "timeout".into(),
                        Err(_) => "connection failed".into(),
                    };
                    if what == "429 busy" {
                        busy.fetch_add(1, Ordering::Relaxed);
                    }
                    *counts.lock().unwrap().entry(what).or_insert(0) += 1;
                }
            }));
        }
    }
    // The speaker offers once the listeners' budget is spent, however long the flood takes
    // to spend it on a loaded machine (it once took more than 2 s).
    while busy.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let busy_before_whip = busy.load(Ordering::Relaxed);
    let http = client_from([127, 0, 0, 1]);
    let asked = Instant::now();
    let whip_status = match client::connect(&http, whip, Some(token), Intent::Publish, None).await {
        Ok(peer) => {
            // Connected ahead, then gone: the flood was the point.
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                drop(peer);
            });
            201
        }
        Err(ClientError::Refused { status, .. }) => status,
        Err(_) => 0,
    };
    let whip_ms = asked.elapsed().as_millis();
    for t in tasks {
        t.await.unwrap();
    }
    let counts = counts.lock().unwrap().clone();
    WhepFlood {
        counts,
        secs: began.elapsed().as_secs_f64(),
        whip_status,
        whip_ms,
        busy_before_whip,
    }
}

// ---------------------------------------------------------------------------------------------
// The nonce flood.

struct NonceFlood {
    counts: BTreeMap<String, u32>,
    secs: f64,
    /// p50, p99, samples.
    health_before: (Duration, Duration, usize),
    health_during: (Duration, Duration, usize),
    victim: String,
    victim_ms: u128,
    lookups: BTreeMap<String, u32>,
    me_before: u16,
    sign_out: u16,
    me_after: u16,
}

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration, usize) {
    if v.is_empty() {
        return (Duration::ZERO, Duration::ZERO, 0);
    }
    v.sort();
    let at = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    (at(0.50), at(0.99), v.len())
}

/// `/healthz` from 127.0.0.6, one request at a time, until `stop`: each one's latency.
async fn health_probe(base: String, stop: Arc<AtomicBool>, at_most: usize) -> Vec<Duration> {
    let http = client_from([127, 0, 0, 6]);
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) && out.len() < at_most {
        let t = Instant::now();
        let ok = http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        // A failed probe counts as the client's whole timeout.
        out.push(if ok {
            t.elapsed()
        } else {
            Duration::from_secs(10)
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    out
}

/// 20,000 nonce requests (`ASSEMBLY_HOSTILE_NONCES` for another count: 120,000 fills the
/// 100,000-entry nonce store older nodes kept) from 127.0.2.1..=100 (4 at a time per
/// address) for at most fifteen seconds per 20,000, and 2,000 role lookups of random addresses from 127.0.0.9 (16 at a
/// time); meanwhile `/healthz` is probed and a victim (account 3, from 127.0.0.2) signs in
/// and out. `/healthz` is probed before it all too.
async fn nonce_flood(base: &str, chain: &TestChain) -> NonceFlood {
    let warm = health_probe(base.to_string(), Arc::default(), 20).await;
    drop(warm);
    let health_before = percentiles(health_probe(base.to_string(), Arc::default(), 200).await);

    let total: u32 = std::env::var("ASSEMBLY_HOSTILE_NONCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let began = Instant::now();
    let deadline = began + Duration::from_secs(15) * total.div_ceil(20_000).max(1);
    let counts: Arc<Mutex<BTreeMap<String, u32>>> = Arc::default();
    let mut tasks = Vec::new();
    for a in 1..=100u8 {
        let http = client_from([127, 0, 2, a]);
        for _ in 0..4 {
            let (http, counts, url) = (
                http.clone(),
                counts.clone(),
                format!("{base}/api/v1/auth/nonce"),
            );
            tasks.push(tokio::spawn(async move {
                let mut mine = BTreeMap::new();
                for _ in 0..total.div_ceil(400) {
                    if Instant::now() > deadline {
                        break;
                    }
                    let what = match http.get(&url).send().await {
                        Ok(r) => r.status().as_u16().to_string(),
                        Err(_) => "failed".into(),
                    };
                    *mine.entry(what).or_insert(0) += 1;
                }
                let mut c = counts.lock().unwrap();
                for (k, v) in mine {
                    *c.entry(k).or_insert(0) += v;
                }
            }));
        }
    }
    let lookups: Arc<Mutex<BTreeMap<String, u32>>> = Arc::default();
    let lookup_http = client_from([127, 0, 0, 9]);
    let mut lookup_tasks = Vec::new();
    for t in 0..16u64 {
        let (http, lookups, base) = (lookup_http.clone(), lookups.clone(), base.to_string());
        lookup_tasks.push(tokio::spawn(async move {
            let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (t + 1);
            for _ in 0..2000 / 16 {
                if Instant::now() > deadline {
                    break;
                }
                let mut address = String::from("0x");
                for _ in 0..5 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    address.push_str(&format!("{:08x}", x as u32));
                }
                let what = match http
                    .get(format!("{base}/chain/v1/roles/{address}"))
                    .send()
                    .await
                {
                    Ok(r) => r.status().as_u16().to_string(),
                    Err(_) => "failed".into(),
                };
                *lookups.lock().unwrap().entry(what).or_insert(0) += 1;
            }
        }));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let probe = tokio::spawn(health_probe(base.to_string(), stop.clone(), usize::MAX));

    // The victim, a second into the flood.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let victim_http = client_from([127, 0, 0, 2]);
    let signed_in = sign_in(&victim_http, base, chain, 3).await;
    let (victim, victim_ms) = match &signed_in {
        Ok((_, took)) => ("200".to_string(), took.as_millis()),
        Err(e) => (e.clone(), 0),
    };
    let (mut me_before, mut sign_out, mut me_after) = (0, 0, 0);
    if let Ok((token, _)) = &signed_in {
        let me = |http: &reqwest::Client| {
            http.get(format!("{base}/api/v1/me"))
                .bearer_auth(token)
                .send()
        };
        me_before = me(&victim_http).await.map_or(0, |r| r.status().as_u16());
        sign_out = victim_http
            .post(format!("{base}/api/v1/auth/sign-out"))
            .bearer_auth(token)
            .send()
            .await
            .map_or(0, |r| r.status().as_u16());
        me_after = me(&victim_http).await.map_or(0, |r| r.status().as_u16());
    }

    for t in tasks {
        t.await.unwrap();
    }
    let secs = began.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let health_during = percentiles(probe.await.unwrap());
    for t in lookup_tasks {
        t.await.unwrap();
    }
    let counts = counts.lock().unwrap().clone();
    let lookups = lookups.lock().unwrap().clone();
    NonceFlood {
        counts,
        secs,
        health_before,
        health_during,
        victim,
        victim_ms,
        lookups,
        me_before,
        sign_out,
        me_after,
    }
}
