//! Recordings end to end: a speaker holds two slots and a second speaker one; the archive
//! lists three speeches with the right speakers and slots, each file's SHA-256 is the digest
//! recorded, and each file holds exactly the audio listeners heard in that slot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::primitives::U256;
use assembly_archive::record::ogg;
use assembly_media::client;
use assembly_media::sdp::Intent;
use assembly_media::stamp::read_stamp;
use assembly_testkit::chain::{open_session, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::frames::pump_stamped;
use assembly_testkit::node::node;
use assembly_testkit::siwe::token;
use assembly_testkit::wait::wait_until;
use serde_json::Value;
use sha2::Digest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_speeches_recorded_with_speakers_slots_and_digests() {
    let chain = TestChain::start_at(&[], now()).await;
    let node = node(&chain, chain.anvil.endpoint(), Duration::from_millis(50)).await;
    let session = open_session(&chain, now(), 3).await;
    wait_until("the session live", Duration::from_secs(10), || {
        node.media().gate().is_live(session)
    })
    .await;

    // What the listener heard, by speaker marker: the payloads.
    let heard: Arc<Mutex<HashMap<u8, Vec<Vec<u8>>>>> = Arc::default();
    let h = heard.clone();
    let whep = format!("{}/api/v1/sessions/{session}/whep", node.base);
    let whip = format!("{}/api/v1/sessions/{session}/whip", node.base);
    let listener = client::persistent(
        reqwest::Client::new(),
        whep,
        None,
        Intent::Subscribe,
        Arc::new(move |d: &[u8], _| {
            if read_stamp(d).is_some() {
                h.lock().unwrap().entry(d[16]).or_default().push(d.to_vec());
            }
        }),
    );
    let speakers = [1usize, 2];
    let mut pumps = Vec::new();
    for (k, i) in speakers.iter().enumerate() {
        let t = token(&node, &chain, *i).await;
        // Reconnecting publishers: refused until queued (and next), evicted after the slot.
        let p = client::persistent(
            reqwest::Client::new(),
            whip.clone(),
            Some(t),
            Intent::Publish,
            Arc::new(|_: &[u8], _| {}),
        );
        pump_stamped(p.frames.clone().unwrap(), k as u8 + 1);
        pumps.push(p);
    }
    let enqueue = |i: usize| {
        let chain = &chain;
        async move {
            assert!(
                chain
                    .try_send(
                        chain.assembly.enqueue(U256::from(session)),
                        chain.accounts[i]
                    )
                    .await,
                "account {i} enqueued"
            );
        }
    };
    enqueue(1).await;
    enqueue(2).await;
    let slot = |i: u32| {
        let chain = &chain;
        async move {
            let s = chain
                .assembly
                .slotOf(U256::from(session), 0, i)
                .call()
                .await
                .unwrap();
            (s.start, s.end)
        }
    };
    // The first speaker asks again once their slot is over (one request at a time).
    let (_, end0) = slot(0).await;
    wait_until("the first slot over", Duration::from_secs(10), || {
        now() >= end0
    })
    .await;
    enqueue(1).await;
    let (_, end2) = slot(2).await;
    wait_until("the third slot over", Duration::from_secs(15), || {
        now() >= end2
    })
    .await;
    // The recorder closes a speech after 3 s of silence.
    tokio::time::sleep(Duration::from_millis(3500)).await;

    let list: Value = node
        .client
        .get(format!(
            "{}/api/v1/archive/speeches?session={session}",
            node.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = list.as_array().unwrap().clone();
    let who = |i: usize| chain.accounts[i].to_checksum(None);
    assert_eq!(
        list.iter()
            .map(|s| s["speaker"].as_str().unwrap().to_string())
            .collect::<Vec<_>>(),
        vec![who(1), who(2), who(1)],
        "three speeches in order: {list:?}"
    );
    let heard = heard.lock().unwrap().clone();
    let mut recorded: HashMap<u8, Vec<Vec<u8>>> = HashMap::new();
    for (k, s) in list.iter().enumerate() {
        let (start, end) = slot(k as u32).await;
        assert_eq!(
            (
                s["slot_start"].as_u64().unwrap(),
                s["slot_end"].as_u64().unwrap()
            ),
            (start, end)
        );
        assert_eq!(s["open"], false);
        let bytes = node
            .client
            .get(format!("{}{}", node.base, s["audio"].as_str().unwrap()))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(
            s["sha256"].as_str().unwrap(),
            alloy::hex::encode(sha2::Sha256::digest(&bytes)),
            "digest of speech {k}"
        );
        let path = std::env::temp_dir().join(format!("speech-{}-{k}.ogg", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let packets = ogg::read_packets(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(packets.len() as u64, s["packets"].as_u64().unwrap());
        let marker = if k == 1 { 2 } else { 1 };
        assert!(
            packets.iter().all(|p| p[16] == marker),
            "only the slot holder in speech {k}"
        );
        eprintln!(
            "speech {k}: {} packets, {} ms, slot [{start}, {end}), sha256 {}",
            packets.len(),
            s["duration_ms"],
            &s["sha256"].as_str().unwrap()[..16]
        );
        recorded.entry(marker).or_default().extend(packets);
    }
    for (marker, packets) in &recorded {
        assert_eq!(
            packets, &heard[marker],
            "the recording holds exactly what listeners heard from speaker {marker}"
        );
    }
    listener.task.abort();
    for p in pumps {
        p.task.abort();
    }
}
