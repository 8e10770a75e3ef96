//! Speaker-signed audio on the live path: the holder's signed speech is counted signed; a
//! sibling's relay that flips one bit of one frame is caught; a key certified by someone
//! else leaves a speech unsigned; and none of it drops the listener.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use assembly_media::client::{self, Peer};
use assembly_media::sdp::Intent;
use assembly_media::stamp::{read_stamp, stamped_frame};
use assembly_node::cluster::token;
use assembly_provenance::carrier::Signer;
use assembly_testkit::chain::{enqueue, open_session, Mined, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::node::{node, Node};
use assembly_testkit::registry::{node_key, register_key, register_node};
use assembly_testkit::siwe::token as sign_in;
use assembly_testkit::speaking::{certified_by, signer};
use assembly_testkit::wait::wait_until;

/// Waits until `sample` on `node` satisfies `ok`, for up to ten seconds (a loaded machine).
async fn until(node: &Node, sample: &str, ok: impl Fn(u64) -> bool) -> u64 {
    let t0 = Instant::now();
    loop {
        let v = node.metric(sample).await;
        if ok(v) {
            return v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{sample} stayed at {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const SIGNED: &str = "assembly_provenance_frames_total{verdict=\"signed\"}";
const ALTERED: &str = "assembly_provenance_frames_total{verdict=\"altered\"}";

async fn frames_counted(node: &Node, verdict: &str) -> u64 {
    node.metric(&format!(
        "assembly_provenance_frames_total{{verdict=\"{verdict}\"}}"
    ))
    .await
}

async fn refused(node: &Node, reason: &str) -> u64 {
    node.metric(&format!(
        "assembly_provenance_refused_total{{reason=\"{reason}\"}}"
    ))
    .await
}

/// A listener on `session` at `node`, and how many stamped frames it has heard.
fn listening(node: &Node, session: u64) -> (client::Persistent, Arc<AtomicU64>) {
    let heard = Arc::new(AtomicU64::new(0));
    let h = heard.clone();
    let listener = client::persistent(
        reqwest::Client::new(),
        format!("{}/api/v1/sessions/{session}/whep", node.base),
        None,
        Intent::Subscribe,
        Arc::new(move |d: &[u8], _| {
            if read_stamp(d).is_some() {
                h.fetch_add(1, Relaxed);
            }
        }),
    );
    (listener, heard)
}

/// Waits until `node`'s gate lets `who` speak in `session`.
async fn holding(node: &Node, session: u64, who: alloy::primitives::Address) {
    wait_until("the floor held", Duration::from_secs(10), || {
        node.media()
            .gate()
            .heard(session, who, assembly_floor::clock::now_ms())
            .is_some()
    })
    .await;
}

/// A connected WHIP publisher at `whip`, signed in with `token`.
async fn publishing(http: &reqwest::Client, whip: &str, token: &str) -> Peer {
    let mut peer = client::connect(http, whip, Some(token), Intent::Publish, None)
        .await
        .expect("the WHIP offer is answered");
    assert!(peer.wait_connected(Duration::from_secs(10)).await);
    peer
}

/// Sends `count` stamped frames through `signer` to `peer`, one every 20 ms, flipping one
/// bit of each frame in `flip` after signing (as a relay in the way would).
async fn speak(peer: &Peer, mut signer: Option<Signer>, count: u64, flip: &[u64]) {
    let frames = peer.frames.clone().expect("a publisher");
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for n in 0..count {
        tick.tick().await;
        let plain = stamped_frame(n, 80);
        let mut out = match signer.as_mut() {
            Some(s) => s
                .sign(&plain, assembly_floor::clock::now_ms())
                .expect("a stamped frame parses as Opus"),
            None => plain.to_vec(),
        };
        if flip.contains(&n) {
            let last = out.len() - 1;
            // A byte of speech, not of padding: no frame in `flip` carries attestations.
            out[last.min(40)] ^= 0x01;
        }
        frames
            .send(out.into())
            .await
            .expect("the peer takes frames");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_speech_is_the_holders_and_a_relay_that_alters_it_is_caught() {
    let chain = TestChain::start_at(&[], now()).await;
    let node = node(&chain, chain.anvil.endpoint(), Duration::from_millis(50)).await;
    let session = open_session(&chain, now(), 60).await;
    wait_until("the session live", Duration::from_secs(10), || {
        node.media().gate().is_live(session)
    })
    .await;
    let (listener, heard) = listening(&node, session);
    enqueue(&chain, session, 1).await;
    holding(&node, session, chain.accounts[1]).await;

    // The holder speaks, signed, two seconds.
    let http = reqwest::Client::new();
    let whip = format!("{}/api/v1/sessions/{session}/whip", node.base);
    let t = sign_in(&node, &chain, 1).await;
    let holder = publishing(&http, &whip, &t).await;
    speak(&holder, Some(signer(&chain, 1, session, 0)), 100, &[]).await;
    // The last frames out of the client's queue before it goes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    holder.close(&http, Some(&t)).await;
    until(&node, SIGNED, |n| n >= 95).await;
    assert_eq!(frames_counted(&node, "altered").await, 0);
    assert_eq!(frames_counted(&node, "unsigned").await, 0);
    let before = heard.load(Relaxed);
    assert!(before >= 90, "the listener heard the holder: {before}");

    // A sibling relays the holder's speech (from another node) and flips one bit of one
    // frame on the way. Its key is a registered member's; so is this node's (relays are
    // between members).
    assert!(register_key(&chain, chain.accounts[2], &node_key(node.dir()), &node.base).await);
    let sibling = format!("http://127.0.0.1:{}", assembly_testkit::ports::free_port());
    let key = register_node(&chain, chain.accounts[5], &sibling)
        .await
        .expect("orchestrator 5 registers a node");
    let relay_url = format!("{}/api/v1/sessions/{session}/relay", node.base);
    let t0 = Instant::now();
    let mut relay = loop {
        let rt = token::relay(&key, &node.base, session, now());
        match client::connect(&http, &relay_url, Some(&rt), Intent::Publish, None).await {
            Ok(p) => break p,
            // The node has yet to see the member registered.
            Err(e) if t0.elapsed() < Duration::from_secs(10) => {
                tracing::debug!(error = %e, "relay refused, again");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("a member's relay is admitted: {e}"),
        }
    };
    assert!(relay.wait_connected(Duration::from_secs(10)).await);
    let signed_before = frames_counted(&node, "signed").await;
    // One altered frame in each of two batches: on a loaded machine a datagram lost on
    // loopback can leave one batch's frames unattested rather than altered.
    speak(&relay, Some(signer(&chain, 1, session, 0)), 100, &[30, 55]).await;
    until(&node, ALTERED, |n| n >= 1).await;
    assert!(refused(&node, "altered").await >= 1);
    // The relay's other frames checked out (the last batch's included, once its carrier
    // has arrived).
    until(&node, SIGNED, |n| n >= signed_before + 70).await;

    // A key the holder did not certify (a stranger did): refused, and its speech unsigned.
    let stranger =
        assembly_provenance::k256::ecdsa::SigningKey::from(chain.anvil.keys()[7].clone());
    speak(
        &relay,
        Some(certified_by(&chain, &stranger, session, 0)),
        25,
        &[],
    )
    .await;
    until(
        &node,
        "assembly_provenance_refused_total{reason=\"not_the_holders\"}",
        |n| n >= 1,
    )
    .await;
    // The relay's stream was tainted by the flipped bit already; what the stranger's key
    // did is counted as refused. The listener was never dropped.
    assert!(*listener.up.borrow(), "the listener stays connected");
    assert!(
        heard.load(Relaxed) > before,
        "the relayed speech was heard (counted, not required)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_requires_signed_audio_forwards_only_the_holders_signed_audio() {
    let chain = TestChain::start_at(&[], now()).await;
    let node = node(&chain, chain.anvil.endpoint(), Duration::from_millis(50)).await;
    let session = open_session(&chain, now(), 60).await;
    chain
        .assembly
        .setSignedAudio(alloy::primitives::U256::from(session), true)
        .mined()
        .await;
    wait_until(
        "the session live, requiring signed audio",
        Duration::from_secs(10),
        || node.media().gate().signed_audio(session) == assembly_media::SignedAudio::Required,
    )
    .await;
    let (_listener, heard) = listening(&node, session);
    enqueue(&chain, session, 1).await;
    holding(&node, session, chain.accounts[1]).await;
    let http = reqwest::Client::new();
    let whip = format!("{}/api/v1/sessions/{session}/whip", node.base);
    let t = sign_in(&node, &chain, 1).await;
    let holder = publishing(&http, &whip, &t).await;

    // Unsigned: not forwarded, counted withheld.
    speak(&holder, None, 50, &[]).await;
    until(&node, "assembly_provenance_withheld_total", |n| n >= 45).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        heard.load(Relaxed),
        0,
        "no unsigned audio reached the listener"
    );

    // The same connection, now signing: heard.
    speak(&holder, Some(signer(&chain, 1, session, 0)), 50, &[]).await;
    let t0 = Instant::now();
    while heard.load(Relaxed) < 45 && t0.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        heard.load(Relaxed) >= 45,
        "signed audio heard: {}",
        heard.load(Relaxed)
    );

    // Then a frame altered on the way (one in each of two batches, as above): once a batch
    // shows it, the stream is cut.
    let withheld = node.metric("assembly_provenance_withheld_total").await;
    speak(&holder, Some(signer(&chain, 1, session, 0)), 100, &[30, 55]).await;
    until(&node, "assembly_provenance_withheld_total", |n| {
        n >= withheld + 20
    })
    .await;
    assert!(refused(&node, "altered").await >= 1);
    holder.close(&http, Some(&t)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_wallets_speaking_key_is_taken_once_the_wallet_vouches_for_it() {
    use alloy::providers::Provider;
    use assembly_indexer::bindings::mocks::MockSmartWallet;
    use assembly_testkit::siwe::{key, message, signed};

    let chain = TestChain::start_at(&[], now()).await;
    let node = node(&chain, chain.anvil.endpoint(), Duration::from_millis(50)).await;
    // A one-owner contract wallet (account 3 owns it) holds an orchestrator's role.
    let wallet = MockSmartWallet::deploy(chain.provider.clone(), chain.accounts[3])
        .await
        .expect("the wallet deploys");
    let holder = *wallet.address();
    chain.bonding.setActive(holder, true).mined().await;
    let session = open_session(&chain, now(), 60).await;
    wait_until("the session live", Duration::from_secs(10), || {
        node.media().gate().is_live(session)
    })
    .await;
    // The wallet asks for the floor (anvil sends as it).
    let _: serde_json::Value = chain
        .provider
        .raw_request("anvil_impersonateAccount".into(), (holder,))
        .await
        .expect("impersonated");
    let _: serde_json::Value = chain
        .provider
        .raw_request("anvil_setBalance".into(), (holder, "0xde0b6b3a7640000"))
        .await
        .expect("funded");
    let call = chain
        .assembly
        .enqueue(alloy::primitives::U256::from(session))
        .calldata()
        .clone();
    let tx: alloy::primitives::B256 = chain
        .provider
        .raw_request(
            "eth_sendTransaction".into(),
            (serde_json::json!({
                "from": holder, "to": chain.deployment.assembly, "data": call, "gas": "0x100000"
            }),),
        )
        .await
        .expect("the wallet's enqueue is sent");
    assert_ne!(tx, alloy::primitives::B256::ZERO);
    holding(&node, session, holder).await;

    // It signs in (EIP-1271) and speaks, its owner certifying the speaking key.
    let owner = key(&chain, 3);
    let (status, body, _) = node
        .post(signed(&owner, &message(holder, &node.nonce().await)).await)
        .await;
    assert_eq!(status, 200, "{body}");
    let t = body["token"].as_str().expect("a token").to_string();
    let http = reqwest::Client::new();
    let whip = format!("{}/api/v1/sessions/{session}/whip", node.base);
    let peer = publishing(&http, &whip, &t).await;
    let owner_key =
        assembly_provenance::k256::ecdsa::SigningKey::from(chain.anvil.keys()[3].clone());
    // Twelve batches: the certificate rides on the first frame and again four seconds in.
    speak(
        &peer,
        Some(certified_by(&chain, &owner_key, session, 0)),
        300,
        &[],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    peer.close(&http, Some(&t)).await;
    // The first carry is not the holder's key's: asked of the wallet; the second is taken.
    assert!(refused(&node, "not_the_holders").await >= 1);
    let signed_frames = until(&node, SIGNED, |n| n >= 75).await;
    assert!(signed_frames >= 75, "{signed_frames}");
    assert_eq!(frames_counted(&node, "altered").await, 0);

    // The recording is the wallet's from its first frame (read again once the wallet had
    // vouched), and `assembly verify` finds so, asking the wallet itself.
    let t0 = Instant::now();
    let speech = loop {
        let list: serde_json::Value = node
            .client
            .get(format!(
                "{}/api/v1/archive/speeches?session={session}",
                node.base
            ))
            .send()
            .await
            .expect("archive answers")
            .json()
            .await
            .expect("json");
        if let Some(s) = list
            .as_array()
            .and_then(|l| l.iter().find(|s| s["open"] == false))
        {
            break s.clone();
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "the speech closed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let p = &speech["provenance"];
    assert_eq!(p["verdict"], "signed", "{p}");
    assert_eq!(p["frames"]["unsigned"], 0, "{p}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_assembly"))
        .args([
            "verify",
            &format!("{}/api/v1/archive/speeches/{}", node.base, speech["id"]),
        ])
        .args(["--rpc", &chain.anvil.endpoint()])
        .args(["--assembly", &chain.deployment.assembly.to_string()])
        .output()
        .expect("assembly runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("contract wallet"), "{text}");
}
