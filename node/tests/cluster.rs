//! The cluster on anvil. A node creates its key, its operator registers it, and the node
//! lists itself and its siblings as the registry has them; a node whose operator leaves
//! Livepeer's active set is listed but no longer a member. Three nodes, one chain: a
//! speaker on one is heard, the same frames in the same order, by listeners on all three;
//! a relay from a key no member holds, with a forged signature or a replayed token is
//! refused and counted, and a member relaying while nobody holds the floor is not heard;
//! every node records the speech, with one digest on all three; the floor
//! passes from a speaker on one node to one on another; a full node sends a listener to a
//! sibling (307); a speaker whose node is SIGKILLed mid-slot carries on at another member,
//! and a listener elsewhere hears a gap, not an end, while the relays to the dead node are
//! counted down; when it comes back, the relays to it resume and its listeners hear the
//! speaker;
//! a reaction given on one node reaches a client of another, whose counts are the cluster's.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use assembly_media::client;
use assembly_media::sdp::Intent;
use assembly_media::stamp::read_stamp;
use assembly_node::cluster::token;
use assembly_testkit::chain::{enqueue, open_session, Mined, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::frames::pump_stamped;
use assembly_testkit::live::{live_socket, next};
use assembly_testkit::node::{get_json, node, node_with, Node};
use assembly_testkit::registry::{node_key, register_key, register_node};
use assembly_testkit::siwe::token;
use assembly_testkit::wait::wait_for_slots;
use serde_json::Value;

/// One cluster at a time: each test runs three nodes, and their media timing is what is
/// checked, so they do not share two cores with another test's three.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The node's cluster view once `ready` holds of it (the embedded indexer follows the chain).
async fn cluster_when(node: &Node, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let t0 = Instant::now();
    loop {
        let v = get_json(node, "/api/v1/cluster").await;
        if ready(&v) {
            return v;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "{what}: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn address(v: &Value) -> Option<Address> {
    v.as_str()?.parse().ok()
}

fn entry(view: &Value, operator: Address) -> Option<&Value> {
    view["nodes"]
        .as_array()?
        .iter()
        .find(|n| address(&n["operator"]) == Some(operator))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_knows_the_cluster_from_the_chain() {
    let _one = ONE_AT_A_TIME.lock().await;
    let chain = TestChain::start_at(&[], now()).await;
    let node = node(&chain, chain.anvil.endpoint(), Duration::from_millis(50)).await;
    let (mine, sibling) = (chain.accounts[1], chain.accounts[2]);

    // Unregistered, the node still knows its key and says it is no member.
    let key = node_key(node.dir());
    let view = get_json(&node, "/api/v1/cluster").await;
    assert_eq!(address(&view["key"]), Some(key.address()));
    assert_eq!(view["member"], false);

    assert!(register_key(&chain, mine, &key, "https://mine.example").await);
    register_node(&chain, sibling, "https://sibling.example")
        .await
        .expect("a sibling registers");
    let view = cluster_when(&node, "both nodes listed", |v| {
        v["nodes"].as_array().is_some_and(|n| n.len() == 2)
    })
    .await;
    assert_eq!(view["member"], true);
    let me = entry(&view, mine).unwrap();
    assert_eq!(
        (
            me["this"].as_bool(),
            me["member"].as_bool(),
            me["url"].as_str()
        ),
        (Some(true), Some(true), Some("https://mine.example"))
    );
    let other = entry(&view, sibling).unwrap();
    assert_eq!(
        (other["this"].as_bool(), other["member"].as_bool()),
        (Some(false), Some(true))
    );
    // The web client may connect to the members (a listener sent on, or choosing one): the
    // Content-Security-Policy names them, once a round of the cluster has read them.
    let t0 = Instant::now();
    loop {
        let r = node
            .client
            .get(format!("{}/", node.base))
            .send()
            .await
            .unwrap();
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        if csp.contains("connect-src 'self'") && csp.contains(" https://sibling.example") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "{csp}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The sibling's operator leaves the active set: still registered, no longer a member.
    chain.bonding.setActive(sibling, false).mined().await;
    let view = cluster_when(&node, "the sibling no longer a member", |v| {
        entry(v, sibling).is_some_and(|n| n["member"] == false)
    })
    .await;
    assert_eq!(entry(&view, mine).unwrap()["member"], true);
}

/// Frame counters (of speaker frames, marked 1) a listener on `node` hears in `session`.
async fn listen(node: &Node, session: u64) -> (client::Persistent, Arc<Mutex<Vec<u64>>>) {
    listen_to(node, session, 1).await
}

/// Frame counters of the speaker frames marked `marker` a listener on `node` hears.
async fn listen_to(
    node: &Node,
    session: u64,
    marker: u8,
) -> (client::Persistent, Arc<Mutex<Vec<u64>>>) {
    let heard: Arc<Mutex<Vec<u64>>> = Arc::default();
    let h = heard.clone();
    let peer = client::persistent(
        reqwest::Client::new(),
        format!("{}/api/v1/sessions/{session}/whep", node.base),
        None,
        Intent::Subscribe,
        Arc::new(move |d: &[u8], _| {
            if let Some((_, n)) = read_stamp(d).filter(|_| d.len() == 80 && d[16] == marker) {
                h.lock().unwrap().push(n);
            }
        }),
    );
    (peer, heard)
}

/// A relay offer to `node` for `session` bearing `token`: its status and error code.
async fn relay_offer(node: &Node, session: u64, token: &str) -> (u16, String) {
    let offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
    let r = node
        .client
        .post(format!("{}/api/v1/sessions/{session}/relay", node.base))
        .header("content-type", "application/sdp")
        .bearer_auth(token)
        .body(offer)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or_default();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_speaker_on_one_node_is_heard_on_every_node() {
    let _one = ONE_AT_A_TIME.lock().await;
    let chain = TestChain::start_at(&[], now()).await;
    // Three orchestrators register a node each, at the URL the node serves.
    let nodes = cluster_of_three(&chain).await;
    let session = open_session(&chain, now(), 600).await;
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let mut listeners = Vec::new();
    for n in &nodes {
        listeners.push(listen(n, session).await);
    }

    // Strangers at the relay door: a key no node registered, a forged signature, a replay.
    let stranger = PrivateKeySigner::random();
    let aud = b.base.clone();
    let mint = |key: &PrivateKeySigner| token::relay(key, &aud, session, now());
    assert_eq!(
        relay_offer(b, session, &mint(&stranger)).await,
        (403, "not_a_member".into())
    );
    let genuine = mint(&node_key(a.dir()));
    let (body, _) = genuine.split_once('.').unwrap();
    let stranger_sig = mint(&stranger);
    let (_, forged_sig) = stranger_sig.split_once('.').unwrap();
    assert_eq!(
        relay_offer(b, session, &format!("{body}.{forged_sig}")).await,
        (403, "bad_signature".into())
    );
    // The genuine token is spent on a bad offer (its nonce is taken first), then replayed.
    let _ = relay_offer(b, session, &genuine).await;
    assert_eq!(
        relay_offer(b, session, &genuine).await,
        (403, "replayed".into())
    );

    // A fourth member whose node does not answer (orchestrator 5 registered it at a port
    // nobody serves): every node's relay to it is counted down, and skipped.
    let dead = format!("http://127.0.0.1:{}", assembly_testkit::ports::free_port());
    let d = register_node(&chain, chain.accounts[5], &dead)
        .await
        .expect("orchestrator 5 registers a node");
    for n in &nodes {
        cluster_when(n, "four members", |v| {
            v["nodes"]
                .as_array()
                .is_some_and(|l| l.iter().filter(|m| m["member"] == true).count() == 4)
        })
        .await;
    }

    // That member relaying while nobody holds the floor: heard by no listener, and counted
    // once it has waited for B's view of the chain to show a holder. (Its key, not a running
    // node's: a relay from a node replaces the one it had.)
    let (_early_ear, early) = listen_to(b, session, 2).await;
    let http = reqwest::Client::new();
    let t0 = Instant::now();
    let (mut early_relay, early_token) = loop {
        let early_token = token::relay(&d, &b.base, session, now());
        match client::connect(
            &http,
            &format!("{}/api/v1/sessions/{session}/relay", b.base),
            Some(&early_token),
            Intent::Publish,
            None,
        )
        .await
        {
            Ok(peer) => break (peer, early_token),
            // B's view of the chain has yet to show the session open.
            Err(client::ClientError::Refused { status: 404, .. })
                if t0.elapsed() < Duration::from_secs(10) =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("a member's relay is admitted while the session is in progress: {e}"),
        }
    };
    assert!(early_relay.wait_connected(Duration::from_secs(10)).await);
    let early_pump = pump_stamped(early_relay.frames.clone().unwrap(), 2);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    early_pump.abort();
    early_relay.frames = None;
    early_relay.close(&http, Some(&early_token)).await;
    // Slots begin on a block's timestamp, in whole seconds: the request below must not be
    // mined in the second the early relay was heard in.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Account 4, an orchestrator with no node, takes the floor on A.
    let t = token(a, &chain, 4).await;
    enqueue(&chain, session, 4).await;
    wait_for_slots(a, session, 1, Duration::from_secs(10)).await;
    let speaker = client::persistent(
        reqwest::Client::new(),
        format!("{}/api/v1/sessions/{session}/whip", a.base),
        Some(t),
        Intent::Publish,
        Arc::new(|_: &[u8], _| {}),
    );
    // Frames from the moment it is connected (frames queued while connecting would arrive
    // in a burst, which a listener's jitter buffer may drop).
    let mut connects = speaker.connects.clone();
    tokio::time::timeout(Duration::from_secs(10), connects.wait_for(|n| *n >= 1))
        .await
        .expect("the speaker connects")
        .unwrap();
    let pump = pump_stamped(speaker.frames.clone().unwrap(), 1);
    tokio::time::sleep(Duration::from_secs(4)).await;
    pump.abort();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let heard: Vec<Vec<u64>> = listeners
        .iter()
        .map(|(_, h)| h.lock().unwrap().clone())
        .collect();
    for (name, h) in ["A", "B", "C"].iter().zip(&heard) {
        eprintln!(
            "listener on {name}: {} frames, {:?}..{:?}",
            h.len(),
            h.first(),
            h.last()
        );
    }
    // Every listener heard (nearly) all of it, and the same payloads in the same order:
    // over the stretch all three heard, the three sequences are one.
    let most = heard.iter().map(Vec::len).max().unwrap_or(0);
    // (A listener may miss the frames that arrive in a burst as the speaker connects, and
    // a loaded machine misses a few more.)
    assert!(most >= 180, "the speaker's 200 frames: {most}");
    for (name, h) in ["A", "B", "C"].iter().zip(&heard) {
        assert!(
            h.len() * 100 >= most * 90,
            "{name} heard {} of {most}",
            h.len()
        );
    }
    let from = heard
        .iter()
        .filter_map(|h| h.first())
        .max()
        .copied()
        .unwrap_or(0);
    let to = heard
        .iter()
        .filter_map(|h| h.last())
        .min()
        .copied()
        .unwrap_or(0);
    let stretch = |h: &Vec<u64>| -> Vec<u64> {
        h.iter()
            .copied()
            .filter(|n| (from..=to).contains(n))
            .collect()
    };
    assert_eq!(stretch(&heard[1]), stretch(&heard[0]), "B as A");
    assert_eq!(stretch(&heard[2]), stretch(&heard[0]), "C as A");
    let m = get_text(b, "/metrics").await;
    assert!(
        m.contains("assembly_relays_refused_total{reason=\"not_a_member\"} 1"),
        "refusals counted"
    );
    assert!(
        early.lock().unwrap().is_empty(),
        "a relay outside every slot is not heard"
    );
    let unheard = m
        .lines()
        .find_map(|l| l.strip_prefix("assembly_relayed_unheard_total "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(
        unheard.is_some_and(|n| n >= 10),
        "the early relay's packets counted unheard: {unheard:?}"
    );
    let links = |m: &str, state: &str| {
        m.lines()
            .find_map(|l| l.strip_prefix(&format!("assembly_relay_links{{state=\"{state}\"}} ")))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let m = get_text(a, "/metrics").await;
    assert_eq!(
        (links(&m, "up"), links(&m, "down")),
        (Some(2), Some(1)),
        "A's relays: to B and C up, to the member that does not answer down"
    );
    drop(speaker);

    // Every node recorded the speech.
    let mut digests = Vec::new();
    for n in [a, b, c] {
        let t0 = Instant::now();
        let digest = loop {
            let speeches =
                get_json(n, &format!("/api/v1/archive/speeches?session={session}")).await;
            if let Some(d) = speeches[0]["sha256"].as_str() {
                break d.to_string();
            }
            assert!(
                t0.elapsed() < Duration::from_secs(15),
                "no closed recording: {speeches}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        digests.push(digest);
    }
    // One recording: every node recorded the same packets (a relay that arrived before a
    // node's view of the chain showed the slot waited for it) and the Ogg serial comes from
    // the speech, not the node.
    eprintln!("recording digests: {digests:?}");
    assert!(
        digests.iter().all(|d| *d == digests[0]),
        "one digest on all three nodes: {digests:?}"
    );
}

async fn get_text(node: &Node, path: &str) -> String {
    node.client
        .get(format!("{}{path}", node.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Three registered nodes on `chain`, each known to all as a member.
async fn cluster_of_three(chain: &TestChain) -> [Node; 3] {
    cluster_with_first(chain, |_| {}).await
}

/// As [`cluster_of_three`], the first node's configuration adjusted by `tweak`.
async fn cluster_with_first(
    chain: &TestChain,
    tweak: impl FnOnce(&mut assembly_node::config::NodeConfig),
) -> [Node; 3] {
    let poll = Duration::from_millis(50);
    let nodes = [
        node_with(chain, chain.anvil.endpoint(), poll, tweak).await,
        node(chain, chain.anvil.endpoint(), poll).await,
        node(chain, chain.anvil.endpoint(), poll).await,
    ];
    for (i, n) in nodes.iter().enumerate() {
        assert!(register_key(chain, chain.accounts[1 + i], &node_key(n.dir()), &n.base).await);
    }
    for n in &nodes {
        cluster_when(n, "three members", |v| {
            v["nodes"]
                .as_array()
                .is_some_and(|l| l.iter().filter(|m| m["member"] == true).count() == 3)
        })
        .await;
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_floor_passes_from_a_speaker_on_one_node_to_one_on_another() {
    let _one = ONE_AT_A_TIME.lock().await;
    let chain = TestChain::start_at(&[], now()).await;
    let nodes = cluster_of_three(&chain).await;
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let session = open_session(&chain, now(), 4).await;
    // Accounts 4 and 5, orchestrators without nodes, queue one after the other.
    let (t4, t5) = (token(a, &chain, 4).await, token(b, &chain, 5).await);
    enqueue(&chain, session, 4).await;
    enqueue(&chain, session, 5).await;
    wait_for_slots(c, session, 2, Duration::from_secs(10)).await;
    let mut ears = Vec::new();
    for n in &nodes {
        ears.push((
            listen_to(n, session, 1).await,
            listen_to(n, session, 2).await,
        ));
    }
    let speak = |node: &Node, t: String, marker: u8| {
        let peer = client::persistent(
            reqwest::Client::new(),
            format!("{}/api/v1/sessions/{session}/whip", node.base),
            Some(t),
            Intent::Publish,
            Arc::new(|_: &[u8], _| {}),
        );
        let pump = pump_stamped(peer.frames.clone().unwrap(), marker);
        (peer, pump)
    };
    // The first on A, the second on B (connected ahead, as next); each heard in their slot.
    let first = speak(a, t4, 1);
    let second = speak(b, t5, 2);
    let slots = a.media().gate().plan(session).unwrap().slots().to_vec();
    let end = slots[1].end * 1000;
    while assembly_floor::clock::now_ms() < end + 300 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.1.abort();
    second.1.abort();
    for (name, ((_, one), (_, two))) in ["A", "B", "C"].iter().zip(&ears) {
        let (one, two) = (one.lock().unwrap().len(), two.lock().unwrap().len());
        eprintln!("listener on {name}: {one} frames of the first speaker, {two} of the second");
        // A slot of 4 s is 200 frames; the first speaker's first moments go to connecting
        // (the second connected ahead, as next).
        assert!(one >= 50, "{name} heard the first speaker: {one}");
        assert!(
            two >= 160,
            "{name} heard the second, on another node: {two}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reactions_and_counts_are_the_clusters() {
    let _one = ONE_AT_A_TIME.lock().await;
    use futures::SinkExt;
    let chain = TestChain::start_at(&[], now()).await;
    let nodes = cluster_of_three(&chain).await;
    let (b, c) = (&nodes[1], &nodes[2]);
    open_session(&chain, now(), 60).await;

    // Two observers on B; an orchestrator on B reacts; a listener on C sees both.
    let _watchers = [live_socket(b, None).await, live_socket(b, None).await];
    let t = token(b, &chain, 4).await;
    let mut reacting = live_socket(b, Some(&t)).await;
    let mut far = live_socket(c, None).await;
    // C's counts are the cluster's: B's orchestrator and its observers (anonymous ones count
    // once per address) with C's own observer.
    let state = next(&mut far, "state", |v| {
        v["listeners"]["orchestrators"].as_i64() >= Some(1)
    })
    .await;
    assert!(
        state["listeners"]["observers"].as_i64() >= Some(2),
        "{}",
        state["listeners"]
    );
    for _ in 0..3 {
        reacting
            .send(tokio_tungstenite::tungstenite::Message::text(
                r#"{"type":"react","reaction":"clap"}"#,
            ))
            .await
            .unwrap();
    }
    let burst = next(&mut far, "reactions", |v| {
        v["counts"]["clap"].as_u64() >= Some(1)
    })
    .await;
    assert!(burst["total_stake"].is_string(), "{burst}");

    // A stranger's share, and a member's share with a made-up reaction, are refused.
    let stranger = PrivateKeySigner::random();
    let share = |token: String, body: Value| {
        let client = c.client.clone();
        let url = format!("{}/api/v1/cluster/live", c.base);
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let counts = serde_json::json!({"orchestrators": 1, "delegators": 0, "observers": 0});
    assert_eq!(
        share(
            token::make(&stranger, &c.base, "live", None, now()),
            serde_json::json!({"counts": counts, "burst": null})
        )
        .await,
        403
    );
    let lie = serde_json::json!({"counts": counts, "burst": {"counts": {"boo": 5}, "stake": {}, "total_stake": "0"}});
    assert_eq!(
        share(
            token::make(&node_key(b.dir()), &c.base, "live", None, now()),
            lie
        )
        .await,
        400
    );
    let m = get_text(c, "/metrics").await;
    assert!(
        m.contains("assembly_cluster_shares_refused_total{reason=\"not_a_member\"} 1")
            && m.contains("assembly_cluster_shares_refused_total{reason=\"bad_burst\"} 1"),
        "refusals counted"
    );
}

/// `GET /api/v1/me` on `node` with `token`: its status.
async fn me(node: &Node, token: &str) -> u16 {
    node.client
        .get(format!("{}/api/v1/me", node.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Waits (up to ten seconds) until `me` on `node` answers `status`.
async fn me_becomes(node: &Node, token: &str, status: u16, what: &str) {
    let t0 = Instant::now();
    while me(node, token).await != status {
        assert!(t0.elapsed() < Duration::from_secs(10), "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signed_in_once_known_everywhere() {
    let _one = ONE_AT_A_TIME.lock().await;
    let chain = TestChain::start_at(&[], now()).await;
    let nodes = cluster_of_three(&chain).await;
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    // Signed in on B: known on C too, with no secret shared.
    let t = token(b, &chain, 4).await;
    assert_eq!(me(b, &t).await, 200);
    me_becomes(c, &t, 200, "B's sign-in accepted on C").await;
    // Signed out on B: refused on C, told within a moment.
    let out = b
        .client
        .post(format!("{}/api/v1/auth/sign-out", b.base))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success(), "{}", out.status());
    assert_eq!(me(b, &t).await, 401);
    me_becomes(c, &t, 401, "B's sign-out told to C").await;

    // A's key rotated away: A's tokens are refused on the other members.
    let t = token(a, &chain, 5).await;
    me_becomes(c, &t, 200, "A's sign-in accepted on C").await;
    let new_key = PrivateKeySigner::random();
    let proof = assembly_testkit::registry::key_proof(&chain, chain.accounts[1], &new_key).await;
    chain
        .registry
        .rotateKey(new_key.address(), proof)
        .from(chain.accounts[1])
        .mined()
        .await;
    me_becomes(c, &t, 401, "a rotated key's tokens refused").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_node_sends_listeners_to_a_sibling() {
    let _one = ONE_AT_A_TIME.lock().await;
    let chain = TestChain::start_at(&[], now()).await;
    let nodes = cluster_with_first(&chain, |c| c.media.max_listeners = 1).await;
    let a = &nodes[0];
    let session = open_session(&chain, now(), 60).await;
    // The cluster's round (every 2 s) has told A its siblings.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let http = reqwest::Client::new();
    let whep = format!("{}/api/v1/sessions/{session}/whep", a.base);
    let mut first = client::connect(&http, &whep, None, Intent::Subscribe, None)
        .await
        .expect("A's one listener");
    assert!(first.resource.starts_with(&a.base), "{}", first.resource);
    // The next is sent on (307) and lands on B or C: its resource is there.
    let mut second = client::connect(&http, &whep, None, Intent::Subscribe, None)
        .await
        .expect("sent to a sibling");
    assert!(
        [&nodes[1], &nodes[2]]
            .iter()
            .any(|n| second.resource.starts_with(&n.base)),
        "{}",
        second.resource
    );
    assert!(
        second.wait_connected(Duration::from_secs(5)).await,
        "connected at the sibling"
    );
    assert!(first.wait_connected(Duration::from_secs(5)).await);
    assert!(get_text(a, "/metrics")
        .await
        .contains("assembly_media_redirected_total 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_speaker_whose_node_dies_carries_on_at_another() {
    let _one = ONE_AT_A_TIME.lock().await;
    use assembly_testkit::node::spawn_node;
    use assembly_testkit::ports::{free_port, free_udp_port};
    let chain = TestChain::start_at(&[], now()).await;
    let poll = Duration::from_millis(50);
    // A is a process of its own, to be SIGKILLed; B and C run here.
    let dir = std::env::temp_dir().join(format!("assembly-cluster-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let binary = env!("CARGO_BIN_EXE_assembly-node");
    let (a_http, a_udp) = (free_port(), free_udp_port());
    let mut a = spawn_node(binary, &chain, &dir, a_http, a_udp).await;
    let (b, c) = (
        node(&chain, chain.anvil.endpoint(), poll).await,
        node(&chain, chain.anvil.endpoint(), poll).await,
    );
    assert!(register_key(&chain, chain.accounts[1], &node_key(&dir), &a.base).await);
    assert!(register_key(&chain, chain.accounts[2], &node_key(b.dir()), &b.base).await);
    assert!(register_key(&chain, chain.accounts[3], &node_key(c.dir()), &c.base).await);
    for n in [&b, &c] {
        cluster_when(n, "three members", |v| {
            v["nodes"]
                .as_array()
                .is_some_and(|l| l.iter().filter(|m| m["member"] == true).count() == 3)
        })
        .await;
    }
    let session = open_session(&chain, now(), 600).await;
    // The speaker signs in on A (known on every member) and speaks to A, with B to fall to.
    let t = token(&a.view(), &chain, 4).await;
    enqueue(&chain, session, 4).await;
    wait_for_slots(&c, session, 1, Duration::from_secs(10)).await;
    let heard: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
    let h = heard.clone();
    let _listener = client::persistent(
        reqwest::Client::new(),
        format!("{}/api/v1/sessions/{session}/whep", c.base),
        None,
        Intent::Subscribe,
        Arc::new(move |d: &[u8], at| {
            if let Some((_, n)) = read_stamp(d).filter(|_| d.len() == 80 && d[16] == 1) {
                h.lock().unwrap().push((n, at));
            }
        }),
    );
    let speaker = client::persistent_across(
        reqwest::Client::new(),
        [&a.base, &b.base]
            .iter()
            .map(|n| format!("{n}/api/v1/sessions/{session}/whip"))
            .collect(),
        Arc::new(move || Some(t.clone())),
        Intent::Publish,
        Arc::new(|_: &[u8], _| {}),
    );
    let pump = pump_stamped(speaker.frames.clone().unwrap(), 1);
    let wait_frames = |n: usize, what: &'static str| {
        let heard = heard.clone();
        async move {
            let t0 = Instant::now();
            while heard.lock().unwrap().len() < n {
                assert!(t0.elapsed() < Duration::from_secs(20), "{what}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    wait_frames(100, "C hears the speaker through A").await;
    // A dies mid-slot: nothing flushed, nothing said.
    a.child.kill().unwrap();
    let killed = Instant::now();
    let before = heard.lock().unwrap().len();
    wait_frames(before + 100, "C hears the speaker again, through B").await;
    let frames = heard.lock().unwrap().clone();
    let last_before = frames
        .iter()
        .filter(|(_, at)| *at <= killed)
        .map(|(_, at)| *at)
        .max()
        .unwrap();
    let first_after = frames
        .iter()
        .filter(|(_, at)| *at > killed)
        .map(|(_, at)| *at)
        .min()
        .unwrap();
    let gap = first_after - last_before;
    eprintln!(
        "C's listener: a gap of {} ms when the speaker's node died, then {} frames",
        gap.as_millis(),
        frames.len() - before
    );
    assert!(gap < Duration::from_secs(10), "a gap, not an end: {gap:?}");
    assert!(
        speaker.connects.borrow().to_owned() >= 2,
        "the speaker connected again, to B"
    );
    // C's relay to the dead member is counted down (and still tried): B's is up.
    let t0 = Instant::now();
    loop {
        let m = get_text(&c, "/metrics").await;
        if m.contains("assembly_relay_links{state=\"down\"} 1")
            && m.contains("assembly_relay_links{state=\"up\"} 1")
        {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the link to A counted down: {}",
            m.lines()
                .filter(|l| l.starts_with("assembly_relay_links"))
                .collect::<Vec<_>>()
                .join("; ")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A comes back, with its key and at its address: the relays to it resume by themselves,
    // and a listener on A hears the speaker, who stays at B.
    drop(a);
    let a = spawn_node(binary, &chain, &dir, a_http, a_udp).await;
    let (_ear, back) = listen(&a.view(), session).await;
    let t0 = Instant::now();
    while back.lock().unwrap().len() < 50 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "a listener on A, back, hears the speaker through B: {} frames",
            back.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "A back: its listener heard the speaker {} ms after A answered",
        t0.elapsed().as_millis()
    );
    pump.abort();
}
