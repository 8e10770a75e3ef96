//! WHIP and WHEP with GStreamer's `webrtcbin` (`tools/interop/gst_peer.py`): libnice for ICE,
//! GStreamer's OpenSSL DTLS with the RSA certificate it makes, no BUNDLE group for one audio
//! section, Binding Indications (not requests) as keepalives. This is the stack of GStreamer's
//! whipsink, whipclientsink and whepsrc and of simple-whip-client. A speaker and a listener
//! built on it stay connected for a slot longer than 30 s, hear the tone at its level, and are
//! told in-band (DTLS close_notify) when the node ends the speaker's turn at the slot's end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use assembly_media::client;
use assembly_media::sdp::Intent;
use assembly_testkit::chain::{enqueue, open_session, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::node::node_with;
use assembly_testkit::peers;
use assembly_testkit::siwe::token;
use assembly_testkit::wait::wait_for_slots;
use serde_json::Value;

/// The slot: long enough that a 15 s keepalive rule would cut both peers twice over.
const SLOT: u32 = 45;

/// Runs the GStreamer peer (Debian's python3, where its bindings are) and returns its report.
async fn gst(mode: &str, url: &str, token: Option<&str>, seconds: u32) -> Value {
    gst_with(mode, url, token, seconds, &[]).await
}

async fn gst_with(
    mode: &str,
    url: &str,
    token: Option<&str>,
    seconds: u32,
    extra: &[&str],
) -> Value {
    let seconds = seconds.to_string();
    let mut args = vec![mode, url, "--seconds", &seconds];
    if let Some(t) = token {
        args.extend(["--token", t]);
    }
    args.extend(extra);
    peers::report(
        "/usr/bin/python3",
        "tools/interop/gst_peer.py",
        &args,
        "script/test installs python3-gst-1.0",
    )
    .await
}

fn ms(report: &Value, key: &str) -> u64 {
    report[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gstreamer_speaker_and_listener_last_their_slot_and_hear_its_end() {
    let chain = TestChain::start_at(&[], now()).await;
    let node = node_with(
        &chain,
        chain.anvil.endpoint(),
        Duration::from_millis(50),
        |c| {
            // libnice gathers no loopback candidates and pins its sockets to an interface: the
            // node answers on the machine's own address, as `script/start` does.
            c.media.bind = "0.0.0.0:0".parse().unwrap();
        },
    )
    .await;
    let session = open_session(&chain, now(), SLOT).await;
    enqueue(&chain, session, 1).await;
    wait_for_slots(&node, session, 1, Duration::from_secs(10)).await;
    let holder = token(&node, &chain, 1).await;
    let stranger = token(&node, &chain, 8).await;
    let (whip, whep) = (
        node.endpoint(session, "whip"),
        node.endpoint(session, "whep"),
    );

    let refused = gst("publish", &whip, Some(&stranger), 3).await;
    assert_eq!(refused["status"], 403, "{refused}");
    assert!(refused["body"].as_str().unwrap().contains("not_eligible"));

    // A client whose certificate is not the one its offer names: answered, then refused at
    // the DTLS handshake, and its DELETE learns why.
    let forged = gst_with("listen", &whep, None, 4, &["--wrong-fingerprint"]).await;
    assert_eq!(forged["status"], 201, "{forged}");
    assert_eq!(forged["delete_status"], 410, "{forged}");
    let why = forged["delete_body"].as_str().unwrap_or_default();
    assert!(
        why.contains("does not match the offer's a=fingerprint"),
        "{why}"
    );

    // A str0m listener beside the GStreamer one: both hear the GStreamer speaker.
    let packets = Arc::new(AtomicUsize::new(0));
    let heard = packets.clone();
    let mut str0m_listener = client::connect(
        &node.client,
        &whep,
        None,
        Intent::Subscribe,
        Some(Box::new(move |_: &[u8], _| {
            heard.fetch_add(1, Ordering::Relaxed);
        })),
    )
    .await
    .expect("WHEP answered");
    assert!(str0m_listener.wait_connected(Duration::from_secs(5)).await);
    let started = std::time::Instant::now();
    let (speaker, listener) =
        tokio::join!(gst("publish", &whip, Some(&holder), SLOT + 30), async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            gst("listen", &whep, None, SLOT - 4).await
        });
    eprintln!(
        "GStreamer speaker: {speaker}\nGStreamer listener: {listener}\n({} s)",
        started.elapsed().as_secs()
    );
    let forwarded = packets.load(Ordering::Relaxed);
    eprintln!("str0m listener: {forwarded} packets");
    for (who, r) in [("speaker", &speaker), ("listener", &listener)] {
        assert_eq!(r["status"], 201, "{who}: {r}");
        assert_eq!(
            r["offer_has_bundle"], false,
            "{who} offers no BUNDLE group: {r}"
        );
        assert_eq!(
            r["answer_has_bundle"], false,
            "{who}: an answer may not add one"
        );
        assert_eq!(r["certificate"], "rsaEncryption", "{who}: {r}");
        assert!(ms(r, "connected_ms") < 5_000, "{who} connected late: {r}");
    }
    // The listener stays to the end of its run, well past 30 s, without being cut.
    assert!(
        listener.get("ended_ms").is_none(),
        "the listener was cut: {listener}"
    );
    assert!(ms(&listener, "ran_ms") > 30_000, "{listener}");
    assert_eq!(listener["delete_status"], 200, "{listener}");
    // ~50 frames a second for its ~30 s after the first second.
    let frames = listener["frames"].as_u64().unwrap();
    assert!(
        frames > 1_300,
        "the GStreamer listener decoded {frames} frames"
    );
    // The tone is RMS 3,890 as sent (mono); decoded as stereo it loses the 3 dB of the pan.
    let rms = listener["rms"].as_f64().unwrap();
    assert!((2_000.0..4_500.0).contains(&rms), "tone level {rms}");
    // The speaker spoke past 30 s and was told, in-band, when its slot ended.
    let spoke = ms(&speaker, "ended_ms") - ms(&speaker, "connected_ms");
    assert!(
        spoke > 30_000,
        "the speaker was cut after {spoke} ms: {speaker}"
    );
    assert_eq!(speaker["ended_as"], "dtls-closed", "{speaker}");
    // Its DELETE afterwards learns why (RFC 9725 has a client DELETE its session).
    assert_eq!(speaker["delete_status"], 410, "{speaker}");
    let why = speaker["delete_body"].as_str().unwrap_or_default();
    assert!(why.contains("turn on the floor is over"), "{why}");
    assert!(
        started.elapsed() < Duration::from_secs(u64::from(SLOT) + 20),
        "the speaker ran on after its slot"
    );
}
