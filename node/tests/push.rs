//! WHIP push for fan-out beyond one node: a node pushes its session's program to an external
//! WHIP server — here a second media engine of our own behind a bare WHIP/WHEP endpoint,
//! standing in for MediaMTX or Livepeer's media server — and a listener of that server hears
//! the floor holder's audio, with silence between speakers keeping the stream alive.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::primitives::Address;
use assembly_floor::{Slot, Speakers};
use assembly_media::client;
use assembly_media::sdp::{self, Intent};
use assembly_media::stamp::{self, read_stamp};
use assembly_media::{Gate, Media, MediaConfig, MediaMetrics, PeerRole, Plan};
use assembly_testkit::chain::{enqueue, open_session, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::node::node_with;
use assembly_testkit::siwe::token;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use tokio::sync::watch;

/// A bare WHIP/WHEP server on a media engine that lets anyone publish to room 7.
async fn external_server() -> (String, Arc<Media>, watch::Sender<bool>) {
    let anyone = Address::repeat_byte(0xee);
    let always = Slot {
        index: 0,
        speaker: anyone,
        start: 0,
        end: u64::MAX / 4000,
        withdrawn: false,
    };
    let plan = Plan::new(0, Speakers::Orchestrators, &[always], |_| true);
    let (_plans_tx, plans) = watch::channel(Gate::new(HashMap::from([(7u64, plan)])));
    std::mem::forget(_plans_tx);
    let (stop, stopped) = watch::channel(false);
    let media = Media::start(
        MediaConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            ..MediaConfig::default()
        },
        Arc::new(MediaMetrics::default()),
        plans,
        Arc::new([]),
        assembly_media::attest::Provenance {
            domain: assembly_provenance::domain(31337, Address::ZERO),
            wallets: Arc::new(assembly_media::attest::NoContractWallets),
        },
        stopped,
    )
    .unwrap();
    async fn offer(
        media: Arc<Media>,
        body: Bytes,
        intent: Intent,
        role: PeerRole,
    ) -> axum::response::Response {
        let text = String::from_utf8_lossy(&body).to_string();
        let Ok(offer) = sdp::check(&text, intent) else {
            return StatusCode::BAD_REQUEST.into_response();
        };
        match media.open(7, role, None, None, offer) {
            Ok((resource, answer)) => (
                StatusCode::CREATED,
                [
                    ("content-type", "application/sdp".to_string()),
                    ("location", format!("/r/{resource}")),
                ],
                answer,
            )
                .into_response(),
            Err(_) => StatusCode::BAD_REQUEST.into_response(),
        }
    }
    let app = axum::Router::new()
        .route(
            "/whip",
            axum::routing::post(move |State(m): State<Arc<Media>>, body: Bytes| {
                offer(m, body, Intent::Publish, PeerRole::Publisher(anyone))
            }),
        )
        .route(
            "/whep",
            axum::routing::post(|State(m): State<Arc<Media>>, body: Bytes| {
                offer(m, body, Intent::Subscribe, PeerRole::Listener)
            }),
        )
        .with_state(media.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, media, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_program_reaches_an_external_whip_server() {
    let (external, _media, _stop) = external_server().await;
    let chain = TestChain::start_at(&[], now()).await;
    let session = open_session(&chain, now(), 600).await;
    let push_to = format!("{external}/whip");
    let node = node_with(
        &chain,
        chain.anvil.endpoint(),
        Duration::from_millis(50),
        |c| {
            c.push = Some(assembly_media::push::PushConfig {
                endpoint: push_to,
                token: None,
                session: Some(session),
            });
        },
    )
    .await;

    // A listener of the external server.
    let heard: Arc<Mutex<(u64, u64)>> = Arc::default(); // (silence frames, speaker frames)
    let h = heard.clone();
    let mut listener = client::connect(
        &reqwest::Client::new(),
        &format!("{external}/whep"),
        None,
        Intent::Subscribe,
        Some(Box::new(move |d: &[u8], _| {
            let mut h = h.lock().unwrap();
            if d == [0xf8, 0xff, 0xfe] {
                h.0 += 1;
            } else if read_stamp(d).is_some_and(|_| d.len() == 80 && d[16] == 1) {
                h.1 += 1;
            }
        })),
    )
    .await
    .unwrap();
    assert!(listener.wait_connected(Duration::from_secs(5)).await);
    // Before anyone speaks: the pushed program is silence.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while heard.lock().unwrap().0 < 25 {
        assert!(
            std::time::Instant::now() < deadline,
            "no program from the node"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Then an orchestrator takes the floor on the node.
    let t = token(&node, &chain, 1).await;
    enqueue(&chain, session, 1).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while node
        .media()
        .gate()
        .plan(session)
        .is_none_or(|p| p.slots().is_empty())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the request never reached the plan"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut speaker = client::connect(
        &node.client,
        &format!("{}/api/v1/sessions/{session}/whip", node.base),
        Some(&t),
        Intent::Publish,
        None,
    )
    .await
    .unwrap();
    assert!(speaker.wait_connected(Duration::from_secs(5)).await);
    let frames = speaker.frames.clone().unwrap();
    for n in 0..100u64 {
        let mut f = stamp::stamped_frame(n, 80).to_vec();
        f[16] = 1;
        frames.send(f.into()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (silence, spoken) = *heard.lock().unwrap();
    eprintln!("external listener: {silence} silence frames, {spoken} of 100 speaker frames");
    assert!(
        spoken >= 95,
        "the floor holder's audio reached the external server's listener"
    );
}
