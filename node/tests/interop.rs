//! WHIP and WHEP with a WebRTC stack that is neither the node's (str0m) nor a browser's:
//! aiortc (`tools/interop/aiortc_peer.py`: aioice, OpenSSL DTLS, libsrtp, libopus). The
//! floor holder publishes a tone from it; an aiortc listener decodes the tone and a str0m
//! listener receives the same packets; a stranger publishing from it is refused with the
//! reason, like any other client. The holder's audio is speaker-signed (issue 16): its wallet
//! certifies a speaking key and the peer signs every Opus packet (tools/interop/provenance.py),
//! and the node finds every frame it heard vouched for.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use assembly_media::client;
use assembly_media::sdp::Intent;
use assembly_testkit::node::floor_held;
use assembly_testkit::peers;
use assembly_testkit::siwe::{key, token};
use serde_json::Value;

/// Runs the aiortc peer and returns its JSON report.
async fn aiortc(mode: &str, url: &str, token: Option<&str>, seconds: u32, extra: &[&str]) -> Value {
    let seconds = seconds.to_string();
    let mut args = vec![mode, url, "--seconds", &seconds];
    if let Some(t) = token {
        args.extend(["--token", t]);
    }
    args.extend(extra);
    peers::report(
        "python3",
        "tools/interop/aiortc_peer.py",
        &args,
        "script/test installs tools/interop/requirements.txt",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_webrtc_stack_speaks_and_listens() {
    let (chain, node, session) = floor_held().await;
    let holder = token(&node, &chain, 1).await;
    let stranger = token(&node, &chain, 8).await;
    let (whip, whep) = (
        node.endpoint(session, "whip"),
        node.endpoint(session, "whep"),
    );

    // A str0m listener beside the aiortc one: both hear the aiortc speaker.
    let packets = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let p = packets.clone();
    let mut str0m_listener = client::connect(
        &node.client,
        &whep,
        None,
        Intent::Subscribe,
        Some(Box::new(move |data: &[u8], _| {
            p.lock().unwrap().push(data.to_vec())
        })),
    )
    .await
    .expect("WHEP answered");
    assert!(str0m_listener.wait_connected(Duration::from_secs(5)).await);

    let refused = aiortc("publish", &whip, Some(&stranger), 1, &[]).await;
    assert_eq!(refused["status"], 403, "{refused}");
    assert!(refused["body"].as_str().unwrap().contains("not_eligible"));

    // The holder's wallet certifies the peer's speaking key (the session, its occurrence, the
    // chain and the contract the peer asks the node for).
    let wallet = alloy::hex::encode(key(&chain, 1).to_bytes());
    let sign = ["--sign-key", wallet.as_str()];
    let (speaker, listener) =
        tokio::join!(aiortc("publish", &whip, Some(&holder), 6, &sign), async {
            // The listener joins once the speaker is on: it hears 4 s of the tone.
            tokio::time::sleep(Duration::from_millis(1000)).await;
            aiortc("listen", &whep, None, 4, &[]).await
        });
    eprintln!("aiortc speaker: {speaker}\naiortc listener: {listener}");
    assert_eq!(speaker["status"], 201, "{speaker}");
    assert_eq!(listener["status"], 201, "{listener}");
    assert_eq!(listener["ice"], "completed", "{listener}");
    // ~200 frames in 4 s, less its connection set-up.
    let frames = listener["frames"].as_u64().unwrap();
    assert!(frames > 100, "aiortc listener decoded {frames} frames");
    // The tone is 5,500 peak (RMS 3,890 as sent, mono); decoded as stereo it measures 2,745,
    // the 3 dB a mono-to-stereo pan takes. Silence is 0; a wrong stream would not be near.
    let rms = listener["rms"].as_f64().unwrap();
    assert!((2_000.0..4_500.0).contains(&rms), "tone level {rms}");

    let heard = packets.lock().unwrap().clone();
    eprintln!("str0m listener: {} packets", heard.len());
    assert!(heard.len() > 200, "str0m listener got {}", heard.len());

    // Speaker-signed: 6 s is 12 batches of 25 frames, less the connection's set-up; every
    // frame the node settled was vouched for by a batch the holder's certified key signed
    // (the last, unfinished batch's frames are still pending), and nothing was refused.
    let batches = speaker["signed"]["batches"].as_u64().unwrap_or(0);
    assert!(batches >= 8, "{speaker}");
    let metrics = node
        .client
        .get(format!("{}/metrics", node.base))
        .send()
        .await
        .expect("the node answers")
        .text()
        .await
        .expect("metrics");
    let settled = |verdict: &str| -> u64 {
        let name = format!("assembly_provenance_frames_total{{verdict=\"{verdict}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name.as_str()))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name}missing from\n{metrics}"))
    };
    eprintln!(
        "provenance: {} signed, {} unsigned, {} altered, {} unattested",
        settled("signed"),
        settled("unsigned"),
        settled("altered"),
        settled("unattested")
    );
    assert!(settled("signed") >= 25 * (batches - 1), "{metrics}");
    assert_eq!(settled("unsigned") + settled("altered"), 0, "{metrics}");
    let refused: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("assembly_provenance_refused_total") && !l.ends_with(" 0"))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}
