//! The floor in sound, end to end against anvil with real WebRTC peers (str0m clients):
//! the holder's audio reaches listeners, strangers and the not-yet-next are refused, a
//! pre-connected next speaker is silent until their slot, a holder is cut at the slot's end
//! and on yield, and hostile offers, floods and junk at the media port get clear errors (or
//! nothing) without disturbing the session in progress.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use assembly_floor::clock::now_us as unix_micros;
use assembly_media::client::{self, Peer};
use assembly_media::sdp::Intent;
use assembly_media::stamp::read_stamp;
use assembly_testkit::chain::{enqueue, open_session, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::frames::pump_stamped;
use assembly_testkit::node::{floor_held, node, node_with, spawn_node, Node};
use assembly_testkit::ports::{free_port, free_udp_port};
use assembly_testkit::siwe::token;
use assembly_testkit::wait::{wait_for_slots, wait_until};
use serde_json::Value;

/// (arrival µs, speaker marker, send µs, frame counter) of each frame a listener heard.
type Heard = Arc<Mutex<Vec<(u64, u8, u64, u64)>>>;

async fn listener(node: &Node, session: u64) -> (Peer, Heard) {
    let heard: Heard = Arc::default();
    let h = heard.clone();
    let mut peer = client::connect(
        &node.client,
        &node.endpoint(session, "whep"),
        None,
        Intent::Subscribe,
        Some(Box::new(move |data: &[u8], _| {
            if let Some((sent, n)) = read_stamp(data) {
                h.lock().unwrap().push((unix_micros(), data[16], sent, n));
            }
        })),
    )
    .await
    .expect("WHEP offer answered");
    assert!(
        peer.wait_connected(Duration::from_secs(5)).await,
        "listener connected"
    );
    (peer, heard)
}

/// Publishes stamped frames marked `marker` every 20 ms until the peer's channel closes.
fn pump(peer: &Peer, marker: u8) {
    pump_stamped(peer.frames.clone().expect("a publisher"), marker);
}

async fn whip(node: &Node, session: u64, token: &str) -> Result<Peer, client::ClientError> {
    client::connect(
        &node.client,
        &node.endpoint(session, "whip"),
        Some(token),
        Intent::Publish,
        None,
    )
    .await
}

fn refusal(e: client::ClientError) -> (u16, String) {
    match e {
        client::ClientError::Refused { status, body } => {
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            (status, v["reason"].as_str().unwrap_or("").to_string())
        }
        other => panic!("expected a refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_floor_holder_is_heard_and_nobody_else() {
    let chain = TestChain::start_at(&[], now()).await;
    let node = node(&chain, chain.anvil.endpoint(), Duration::from_millis(50)).await;
    let session = open_session(&chain, now() + 1, 4).await;
    wait_until("the session to go live", Duration::from_secs(10), || {
        node.media().gate().is_live(session)
    })
    .await;
    // Three listeners on the node's three shards (the front's own included).
    let (_listener, heard) = listener(&node, session).await;
    let (_l2, heard2) = listener(&node, session).await;
    let (_l3, heard3) = listener(&node, session).await;

    let tokens = [
        token(&node, &chain, 1).await,
        token(&node, &chain, 2).await,
        token(&node, &chain, 3).await,
    ];
    let stranger = token(&node, &chain, 8).await;
    assert_eq!(
        refusal(whip(&node, session, &stranger).await.err().unwrap()),
        (403, "not_eligible".into())
    );
    assert_eq!(
        refusal(whip(&node, session, &tokens[0]).await.err().unwrap()),
        (403, "not_queued".into())
    );

    for i in 1..=3 {
        enqueue(&chain, session, i).await;
    }
    wait_for_slots(&node, session, 3, Duration::from_secs(5)).await;
    assert_eq!(
        refusal(whip(&node, session, &tokens[2]).await.err().unwrap()),
        (403, "not_next".into())
    );
    let first = whip(&node, session, &tokens[0])
        .await
        .expect("holder admitted");
    let second = whip(&node, session, &tokens[1])
        .await
        .expect("next admitted ahead");
    pump(&first, 1);
    pump(&second, 2);

    let slot = |i: u32| {
        let chain = &chain;
        async move {
            let s = chain
                .assembly
                .slotOf(U256::from(session), 0, i)
                .call()
                .await
                .unwrap();
            (s.start * 1000, s.end * 1000)
        }
    };
    let (_, end1) = slot(0).await;
    // Into the second slot: the third speaker is next now and connects ahead.
    wait_until("the second slot", Duration::from_secs(10), || {
        unix_micros() / 1000 > end1 + 1500
    })
    .await;
    let third = whip(&node, session, &tokens[2]).await.expect("now next");
    pump(&third, 3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let yielded = chain
        .try_send(
            chain.assembly.yieldFloor(U256::from(session)),
            chain.accounts[2],
        )
        .await;
    assert!(yielded);
    let yield_ms = unix_micros() / 1000;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let slots = [slot(0).await, slot(1).await, slot(2).await];
    let heard = heard.lock().unwrap().clone();
    let by = |m: u8| heard.iter().filter(|h| h.1 == m).collect::<Vec<_>>();
    for (k, (start, end)) in slots.iter().enumerate() {
        let frames = by(k as u8 + 1);
        assert!(
            frames.len() > 20,
            "speaker {} heard ({} frames)",
            k + 1,
            frames.len()
        );
        let first_sent = frames.iter().map(|f| f.2 / 1000).min().unwrap();
        let last_sent = frames.iter().map(|f| f.2 / 1000).max().unwrap();
        // Nothing before the slot: a pre-connected next speaker is not forwarded early.
        assert!(
            first_sent + 20 >= *start,
            "speaker {} early: {first_sent} < {start}",
            k + 1
        );
        if k == 0 {
            // Cut within 100 ms of the slot's end, by the node's clock, not the client's.
            assert!(
                last_sent <= end + 100,
                "speaker 1 late: {last_sent} > {end}"
            );
            assert!(
                last_sent + 100 >= *end,
                "speaker 1 cut early: {last_sent} < {end}"
            );
        }
        eprintln!(
            "speaker {}: {} frames, slot [{start}, {end}), first sent {first_sent}, last sent {last_sent}",
            k + 1,
            frames.len()
        );
    }
    // The yield: the second speaker stops and the third starts once the block is indexed.
    let last2 = by(2).iter().map(|f| f.2 / 1000).max().unwrap();
    let first3 = by(3).iter().map(|f| f.2 / 1000).min().unwrap();
    eprintln!(
        "yield receipt at {yield_ms}: second speaker's last frame {} ms after, third's first {} ms after",
        last2 as i64 - yield_ms as i64,
        first3 as i64 - yield_ms as i64
    );
    assert!(last2 <= yield_ms + 500, "second speaker not cut on yield");
    assert!(
        first3 <= yield_ms + 500,
        "third speaker not handed the floor at once"
    );
    // One speaker at a time: between consecutive frames, the speaker never alternates.
    let mut order: Vec<u8> = heard.iter().map(|h| h.1).collect();
    order.dedup();
    assert_eq!(
        order,
        vec![1, 2, 3],
        "speakers heard in order, never interleaved"
    );
    // Every shard wrote the same program: the same frames, in the same order.
    let program = |h: &[(u64, u8, u64, u64)]| h.iter().map(|f| (f.1, f.3)).collect::<Vec<_>>();
    let p1 = program(&heard);
    let p2 = program(&heard2.lock().unwrap());
    let p3 = program(&heard3.lock().unwrap());
    // A listener may have missed the very last frame when the copy above was taken.
    let common = p1.len().min(p2.len()).min(p3.len());
    assert!(common + 2 >= p1.len().max(p2.len()).max(p3.len()));
    assert_eq!(
        p1[..common],
        p2[..common],
        "listeners on two shards heard the same"
    );
    assert_eq!(
        p1[..common],
        p3[..common],
        "listeners on three shards heard the same"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_offers_and_floods_leave_the_session_alone() {
    let (chain, node, session) = floor_held().await;
    // The session's own peers run on a runtime of their own, as they would on other
    // machines: the flood below must not be able to starve them in this process.
    let peers_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let holder = token(&node, &chain, 1).await;
    let other = token(&node, &chain, 2).await;
    let (listen_node, whip_node, holder_token) =
        (Node::view(&node), Node::view(&node), holder.clone());
    let (_listener, heard) = peers_rt
        .spawn(async move { listener(&listen_node, session).await })
        .await
        .unwrap();
    let publisher = peers_rt
        .spawn(async move {
            let p = whip(&whip_node, session, &holder_token)
                .await
                .expect("holder admitted");
            pump(&p, 1);
            p
        })
        .await
        .unwrap();
    wait_until("audio at the listener", Duration::from_secs(5), || {
        heard.lock().unwrap().len() > 10
    })
    .await;

    let post = |kind: &'static str, ctype: &'static str, body: String, auth: Option<String>| {
        let req = node
            .client
            .post(node.endpoint(session, kind))
            .header("content-type", ctype)
            .body(body);
        let req = match auth {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let www = r.headers().get("www-authenticate").is_some();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body, www)
        }
    };
    let good = good_offer(&node, session).await;
    let cases: Vec<(&str, String, &str, u16)> = vec![
        ("not SDP", "hello".into(), "application/sdp", 400),
        (
            "video only",
            good.replace("m=audio", "m=video")
                .replace("opus/48000/2", "VP8/90000"),
            "application/sdp",
            400,
        ),
        (
            "wrong codec",
            good.replace("opus/48000/2", "PCMU/8000"),
            "application/sdp",
            400,
        ),
        (
            "listener's direction on WHIP",
            good.replace("a=sendonly", "a=recvonly"),
            "application/sdp",
            400,
        ),
        (
            "oversized",
            good.clone() + &"a=x-pad:0123456789\r\n".repeat(3000),
            "application/sdp",
            413,
        ),
        ("wrong content type", good.clone(), "text/plain", 415),
    ];
    for (what, body, ctype, want) in cases {
        let (status, body, _) = post("whip", ctype, body, Some(holder.clone())).await;
        assert_eq!(status, want, "{what}: {body}");
        assert!(body["error"].is_string(), "{what}: a clear error");
    }
    let (status, _, www) = post("whip", "application/sdp", good.clone(), None).await;
    assert_eq!((status, www), (401, true), "WHIP without a token");
    let (status, _, _) = post(
        "whip",
        "application/sdp",
        good.clone(),
        Some("forged".into()),
    )
    .await;
    assert_eq!(status, 401, "forged token");

    // The resource: no trickle, no deleting someone else's.
    let patch = node
        .client
        .patch(&publisher.resource)
        .header("content-type", "application/trickle-ice-sdpfrag")
        .body("a=candidate:1 1 udp 1 127.0.0.1 9 typ host")
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status().as_u16(), 405);
    let steal = node
        .client
        .delete(&publisher.resource)
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(steal.status().as_u16(), 403);
    let unknown = node
        .client
        .delete(format!("{}/api/v1/media/00", node.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);

    // A listener's offer carries transport-wide congestion control (as browsers' do); the
    // answer keeps only MID, so no listener sends per-packet feedback the node cannot use.
    let listen_offer = good_listen_offer(&node, session).await;
    assert!(listen_offer.contains("transport-wide-cc"));
    let answer = node
        .client
        .post(node.endpoint(session, "whep"))
        .header("content-type", "application/sdp")
        .body(listen_offer.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 201);
    let answer = answer.text().await.unwrap();
    let extmaps: Vec<&str> = answer
        .lines()
        .filter(|l| l.starts_with("a=extmap:"))
        .collect();
    assert_eq!(extmaps.len(), 1, "only MID negotiated: {extmaps:?}");
    assert!(extmaps[0].ends_with("urn:ietf:params:rtp-hdrext:sdes:mid"));

    // A flood of listener offers: the node answers what its budget allows, refuses the rest
    // with 429, and the listener already connected loses nothing and hears no added delay.
    // (The flood, the publisher and the listener share this process's two threads, so
    // frames may leave the publisher late; what the node adds is arrival minus send.)
    let before = heard.lock().unwrap().len();
    // At the same time, junk at the media port: random bytes, connectivity checks for no
    // peer, and checks naming a real peer's ufrag (taken from its answer) sent from an
    // address that is not the peer's and without its password.
    let ufrag = answer
        .lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .expect("the answer's ufrag")
        .trim()
        .to_string();
    let port = node.media().local_addr();
    let junk = std::thread::spawn(move || junk_at(port, &ufrag, 6_000));
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let req = node
            .client
            .post(node.endpoint(session, "whep"))
            .header("content-type", "application/sdp")
            .body(listen_offer.clone());
        tasks.push(tokio::spawn(async move {
            req.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
        }));
    }
    let mut counts = std::collections::BTreeMap::new();
    for t in tasks {
        *counts.entry(t.await.unwrap()).or_insert(0) += 1;
    }
    let junk_sent = junk.join().unwrap();
    eprintln!(
        "flood of 1000 WHEP offers: {counts:?}; {junk_sent} junk datagrams at the media port"
    );
    assert!(counts.get(&429).copied().unwrap_or(0) > 0, "flood limited");
    assert!(
        counts.keys().all(|s| *s == 201 || *s == 429),
        "only answers and 429s: {counts:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let heard = heard.lock().unwrap().clone();
    let during = &heard[before..];
    let lost = during.windows(2).filter(|w| w[1].3 != w[0].3 + 1).count();
    let worst = during
        .iter()
        .map(|h| h.0.saturating_sub(h.2))
        .max()
        .unwrap_or(u64::MAX);
    eprintln!(
        "during the flood: {} frames, {lost} gaps in the sequence, worst added delay {} ms",
        during.len(),
        worst / 1000
    );
    assert!(during.len() > 20, "audio kept flowing");
    assert_eq!(lost, 0, "frames lost during the flood");
    assert!(
        worst < 150_000,
        "the session was delayed: {} ms",
        worst / 1000
    );
    let health = node
        .client
        .get(format!("{}/healthz", node.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    peers_rt.shutdown_background();
}

/// Sends `n` hostile datagrams to the media port, a third each of random bytes, Binding
/// requests for an unknown ufrag, and Binding requests naming `ufrag` with a made-up
/// MESSAGE-INTEGRITY. Returns how many were sent.
fn junk_at(port: std::net::SocketAddr, ufrag: &str, n: usize) -> usize {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let stun = |user: &str, k: usize| {
        let mut attrs = Vec::new();
        let user = format!("{user}:attacker");
        attrs.extend_from_slice(&[0x00, 0x06]);
        attrs.extend_from_slice(&(user.len() as u16).to_be_bytes());
        attrs.extend_from_slice(user.as_bytes());
        attrs.resize(attrs.len().div_ceil(4) * 4, 0);
        attrs.extend_from_slice(&[0x00, 0x08, 0x00, 0x14]);
        attrs.extend_from_slice(&[k as u8; 20]);
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        m.extend_from_slice(&0x2112_A442u32.to_be_bytes());
        m.extend_from_slice(&[k as u8; 12]);
        m.extend_from_slice(&attrs);
        m
    };
    let mut sent = 0;
    for k in 0..n {
        let datagram = match k % 3 {
            0 => (0..(k % 300 + 1)).map(|i| (i * 31 + k) as u8).collect(),
            1 => stun("nobody", k),
            _ => stun(ufrag, k),
        };
        if socket.send_to(&datagram, port).is_ok() {
            sent += 1;
        }
        if k % 500 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    sent
}

/// A real client offer (str0m's), as text.
async fn good_offer(_node: &Node, _session: u64) -> String {
    offer_text(str0m::media::Direction::SendOnly)
}

async fn good_listen_offer(_node: &Node, _session: u64) -> String {
    offer_text(str0m::media::Direction::RecvOnly)
}

fn offer_text(direction: str0m::media::Direction) -> String {
    let mut rtc = str0m::Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .build(Instant::now());
    rtc.add_local_candidate(str0m::Candidate::host("127.0.0.1:9".parse().unwrap(), "udp").unwrap());
    let mut change = rtc.sdp_api();
    change.add_media(str0m::media::MediaKind::Audio, direction, None, None, None);
    let (offer, _) = change.apply().unwrap();
    offer.to_sdp_string()
}

/// A node killed mid-session (SIGKILL: nothing flushed, nothing said goodbye) and started
/// again: listener and speaker reconnect by themselves, the floor is still the chain's
/// (the holder is admitted again, a stranger still is not), audio flows again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_is_rejoined_and_keeps_the_chain_s_floor() {
    let chain = TestChain::start_at(&[], now()).await;
    let session = open_session(&chain, now(), 600).await;
    enqueue(&chain, session, 1).await;
    let dir = std::env::temp_dir().join(format!("assembly-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (http_port, udp_port) = (free_port(), free_udp_port());
    let binary = env!("CARGO_BIN_EXE_assembly-node");
    let mut first = spawn_node(binary, &chain, &dir, http_port, udp_port).await;
    let view = first.view();
    let holder = token(&view, &chain, 1).await;
    let stranger = token(&view, &chain, 8).await;
    let base = first.base.clone();

    let heard: Heard = Arc::default();
    let h = heard.clone();
    let listener = client::persistent(
        reqwest::Client::new(),
        format!("{base}/api/v1/sessions/{session}/whep"),
        None,
        Intent::Subscribe,
        Arc::new(move |data: &[u8], _| {
            if let Some((sent, n)) = read_stamp(data) {
                h.lock().unwrap().push((unix_micros(), data[16], sent, n));
            }
        }),
    );
    let speaker = client::persistent(
        reqwest::Client::new(),
        format!("{base}/api/v1/sessions/{session}/whip"),
        Some(holder.clone()),
        Intent::Publish,
        Arc::new(|_: &[u8], _| {}),
    );
    pump_stamped(speaker.frames.clone().unwrap(), 1);
    wait_until("audio before the restart", Duration::from_secs(20), || {
        heard.lock().unwrap().len() > 50
    })
    .await;

    // The broadcast is under way before the crash (two segments written).
    let playlist_url = format!("{base}/hls/{session}/index.m3u8");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = match view.client.get(&playlist_url).send().await {
            Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
            _ => String::new(),
        };
        if text.matches(".m4s").count() >= 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no broadcast before the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let killed = unix_micros();
    let before = heard.lock().unwrap().len();
    let _second = spawn_node(binary, &chain, &dir, http_port, udp_port).await;
    wait_until("audio after the restart", Duration::from_secs(40), || {
        heard.lock().unwrap()[before..]
            .iter()
            .filter(|h| h.0 > killed)
            .count()
            > 50
    })
    .await;
    assert!(*listener.connects.borrow() >= 2, "the listener reconnected");
    assert!(*speaker.connects.borrow() >= 2, "the speaker reconnected");
    let back = heard
        .lock()
        .unwrap()
        .iter()
        .find(|h| h.0 > killed)
        .map(|h| h.0)
        .unwrap();
    eprintln!(
        "audio back {} ms after the node was killed",
        (back - killed) / 1000
    );
    // The recording of the speech the crash cut off is kept, closed, digested and playable;
    // the speech after the restart is recorded too.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let speeches: Value = view
        .client
        .get(format!("{base}/api/v1/archive/speeches?session={session}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let speeches = speeches.as_array().unwrap();
    assert!(
        speeches.len() >= 2,
        "before and after the crash: {speeches:?}"
    );
    let cut = &speeches[0];
    assert_eq!(cut["open"], false, "closed on restart");
    let file = view
        .client
        .get(format!("{base}{}", cut["audio"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let path = dir.join("cut.ogg");
    std::fs::write(&path, &file).unwrap();
    let packets = assembly_archive::record::ogg::read_packets(&path).unwrap();
    eprintln!(
        "speech cut by the crash: {} packets kept of {} indexed",
        packets.len(),
        cut["packets"]
    );
    assert!(
        packets.len() > 40,
        "what was recorded before the crash is playable"
    );
    assert_eq!(cut["packets"].as_u64().unwrap() as usize, packets.len());
    assert_eq!(cut["sha256"].as_str().unwrap(), sha256_hex(&file));

    // The broadcast goes on in the same playlist, the restart marked as a discontinuity.
    let playlist = view
        .client
        .get(format!("{base}/hls/{session}/index.m3u8"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(playlist.contains("#EXT-X-DISCONTINUITY\n"), "{playlist}");

    // Tokens survive (the key is on disk); the floor is still the chain's.
    assert_eq!(
        refusal(whip(&view, session, &stranger).await.err().unwrap()),
        (403, "not_eligible".into())
    );
    listener.task.abort();
    speaker.task.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A node that does not allow public listening: WHEP needs a session token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_can_require_a_wallet() {
    let chain = TestChain::start_at(&[], now()).await;
    let node = node_with(
        &chain,
        chain.anvil.endpoint(),
        Duration::from_millis(50),
        |c| {
            c.media.public_listening = false;
        },
    )
    .await;
    let session = open_session(&chain, now(), 60).await;
    wait_until("the session to go live", Duration::from_secs(10), || {
        node.media().gate().is_live(session)
    })
    .await;
    let url = node.endpoint(session, "whep");
    let anonymous = client::connect(&node.client, &url, None, Intent::Subscribe, None).await;
    let (status, _) = refusal(anonymous.err().expect("refused without a wallet"));
    assert_eq!(status, 401);
    let delegator = token(&node, &chain, 8).await;
    let mut signed = client::connect(
        &node.client,
        &url,
        Some(&delegator),
        Intent::Subscribe,
        None,
    )
    .await
    .expect("a signed-in observer may listen");
    assert!(signed.wait_connected(Duration::from_secs(5)).await);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    alloy::hex::encode(sha2::Sha256::digest(bytes))
}
