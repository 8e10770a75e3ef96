//! `assembly verify` end to end: a signed speech is recorded by a node, and the binary, given
//! the speech's URL, finds it spoken by the floor holder in their slot; the same recording
//! with one bit of one frame altered (re-muxed, so the Ogg checksums hold) is not verified,
//! the raw file with one byte changed is refused as corrupt, and an unsigned speech is not
//! verified.

use std::process::Command;
use std::time::Duration;

use assembly_archive::record::ogg;
use assembly_media::client;
use assembly_media::sdp::Intent;
use assembly_media::stamp::stamped_frame;
use assembly_testkit::chain::{enqueue, open_session, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::node::{node_with, Node};
use assembly_testkit::siwe::token;
use assembly_testkit::speaking::signer;
use assembly_testkit::wait::wait_until;
use serde_json::Value;

fn verify(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_assembly"))
        .arg("verify")
        .args(args)
        .output()
        .expect("assembly runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The node's closed speeches of `session`.
async fn speeches(node: &Node, session: u64) -> Vec<Value> {
    let v: Value = node
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
    v.as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s["open"] == false)
        .collect()
}

/// Account `i` speaks `frames` stamped frames in `session`, signed or not, and stops.
async fn speak(node: &Node, chain: &TestChain, session: u64, i: usize, signed: bool) {
    let http = reqwest::Client::new();
    let whip = format!("{}/api/v1/sessions/{session}/whip", node.base);
    let t = token(node, chain, i).await;
    let mut peer = client::connect(&http, &whip, Some(&t), Intent::Publish, None)
        .await
        .expect("the holder's WHIP is answered");
    assert!(peer.wait_connected(Duration::from_secs(10)).await);
    let raw = peer.frames.clone().expect("a publisher");
    let frames = if signed {
        client::signed(raw, signer(chain, i, session, 0))
    } else {
        raw
    };
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for n in 0..110u64 {
        tick.tick().await;
        frames.send(stamped_frame(n, 80)).await.expect("sent");
    }
    // Closing the channel flushes the signer's last batch.
    drop(frames);
    tokio::time::sleep(Duration::from_millis(300)).await;
    peer.close(&http, Some(&t)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_signed_speech_verifies_against_the_chain_and_an_altered_one_does_not() {
    let chain = TestChain::start_at(&[], now()).await;
    // The RPC the node offers wallets is the test chain's (what `verify` falls back on).
    let rpc = chain.anvil.endpoint();
    let node = node_with(&chain, rpc.clone(), Duration::from_millis(50), |c| {
        c.public_rpc_url = rpc.clone()
    })
    .await;
    let session = open_session(&chain, now(), 5).await;
    wait_until("the session live", Duration::from_secs(10), || {
        node.media().gate().is_live(session)
    })
    .await;
    enqueue(&chain, session, 1).await;
    wait_until("account 1 holds the floor", Duration::from_secs(10), || {
        node.media()
            .gate()
            .heard(session, chain.accounts[1], assembly_floor::clock::now_ms())
            .is_some()
    })
    .await;
    speak(&node, &chain, session, 1, true).await;
    // The recorder closes a speech after 3 s without a packet.
    let t0 = std::time::Instant::now();
    let speech = loop {
        if let Some(s) = speeches(&node, session).await.into_iter().next() {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "the speech closed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let url = format!("{}/api/v1/archive/speeches/{}", node.base, speech["id"]);
    let assembly = chain.deployment.assembly.to_string();

    let (code, out) = verify(&[&url, "--rpc", &rpc, "--assembly", &assembly, "--json"]);
    assert_eq!(code, 0, "{out}");
    let report: Value = serde_json::from_str(&out).expect("a JSON report");
    assert_eq!(report["verified"], true);
    assert_eq!(
        report["holder"].as_str().unwrap().to_lowercase(),
        chain.accounts[1].to_string().to_lowercase()
    );
    assert_eq!(
        report["sha256"], speech["sha256"],
        "the node's digest of the same bytes"
    );
    let frames = &report["frames"];
    assert_eq!(frames["altered"], 0);
    assert_eq!(frames["unsigned"], 0);
    assert_eq!(
        frames["unattested"], 0,
        "the flush attested the last frames: {out}"
    );
    assert!(frames["signed"].as_u64().unwrap() >= 100, "{out}");
    // The chain named by the node itself serves too (and is said to be the node's).
    let (code, out) = verify(&[&url]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("VERIFIED") && out.contains("the RPC the node names"),
        "{out}"
    );

    // The recording, downloaded, with one bit of one frame flipped and re-muxed.
    let bytes = node
        .client
        .get(format!("{url}/audio"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let dir = tempfile_dir();
    let mut packets = ogg::packets(&bytes).expect("an Ogg Opus file");
    packets[40][20] ^= 0x01;
    let altered = dir.join("altered.ogg");
    let mut w = ogg::OggOpusWriter::create(&altered, 1, "assembly-test").unwrap();
    for p in &packets {
        w.write(p).unwrap();
    }
    w.finish().unwrap();
    let path = altered.to_string_lossy().to_string();
    let (code, out) = verify(&[&path, "--rpc", &rpc, "--assembly", &assembly]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("NOT VERIFIED") && out.contains("altered"),
        "{out}"
    );

    // One byte of the file itself changed: the container's checksum refuses it.
    let mut raw = bytes.to_vec();
    let at = raw.len() / 2;
    raw[at] ^= 0x01;
    let corrupt = dir.join("corrupt.ogg");
    std::fs::write(&corrupt, &raw).unwrap();
    let (code, out) = verify(&[
        &corrupt.to_string_lossy(),
        "--rpc",
        &rpc,
        "--assembly",
        &assembly,
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("checksum"), "{out}");

    // An unsigned speech (the same holder, asking again) carries no proof.
    enqueue(&chain, session, 1).await;
    wait_until(
        "account 1 holds the floor again",
        Duration::from_secs(15),
        || {
            node.media()
                .gate()
                .heard(session, chain.accounts[1], assembly_floor::clock::now_ms())
                .is_some()
        },
    )
    .await;
    speak(&node, &chain, session, 1, false).await;
    let t0 = std::time::Instant::now();
    let unsigned = loop {
        let all = speeches(&node, session).await;
        if all.len() >= 2 {
            break all.into_iter().find(|s| s["id"] != speech["id"]).unwrap();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the second speech closed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let url = format!("{}/api/v1/archive/speeches/{}", node.base, unsigned["id"]);
    let (code, out) = verify(&[&url, "--rpc", &rpc, "--assembly", &assembly]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unsigned"), "{out}");
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("assembly-verify-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
