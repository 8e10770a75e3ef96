//! A speaker corrects their speech's transcript, end to end on a two-node cluster that
//! anchors: the occurrence ends and both nodes anchor its record; the speaker signs a
//! correction and brings it to A; A takes it as revision 1 and tells B; the Hansard shows
//! and searches the corrected words while the original stays readable; each node adds the
//! correction's leaf beside the original's in a new edition of the record and anchors it,
//! so the chain holds both roots, each attested by both members; the corrected leaf, the
//! original and the first root's proofs all verify on chain; and `assembly verify` accepts
//! the speech with its corrected transcript. Corrections that are not the speaker's, skip
//! a revision, name a speech no one heard or carry no words are each refused with their own
//! code, and none is kept. Then B goes down, the
//! speaker corrects again, and B, back without any member able to reach it, reads the
//! correction from A's list and anchors the third edition with A. Last, two texts the
//! speaker signs for one revision, brought to A and B at once, end in one root on both
//! holding both texts, and both nodes show the same one.

use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::SignerSync;
use assembly_provenance::correction::TranscriptCorrection;
use assembly_provenance::domain;
use assembly_provenance::record::{leaf_hash, transcript_digest};
use assembly_testkit::anchor::deploy_record_anchor;
use assembly_testkit::chain::TestChain;
use assembly_testkit::clock::now;
use assembly_testkit::node::{get_json, Node};
use assembly_testkit::record::{
    anchoring_node, anchoring_pair, b256, json_when, leaf_of, spoken_occurrence, verifies,
    Anchoring,
};
use assembly_testkit::siwe::key;
use serde_json::{json, Value};

const CORRECTED: &str = "We should fund the public archive in full.";
const SECOND: &str = "We should fund the public archive, in full, this year.";

/// The body correcting `speech` (a `/transcript` answer) to `text` as `revision`, signed by
/// anvil account `signer`.
fn correction(
    chain: &TestChain,
    speech: &Value,
    revision: u32,
    text: &str,
    signer: usize,
) -> Value {
    let typed = TranscriptCorrection {
        session: U256::from(speech["sessionId"].as_u64().unwrap()),
        occurrence: speech["occurrence"].as_u64().unwrap() as u32,
        slotStart: speech["slotStart"].as_u64().unwrap(),
        audio: b256(&speech["audioDigest"]),
        revision,
        text: text.into(),
    };
    let digest = typed.digest(&domain(
        chain.deployment.chain_id,
        chain.deployment.assembly,
    ));
    let signature = key(chain, signer).sign_hash_sync(&digest).unwrap();
    json!({
        "sessionId": speech["sessionId"],
        "occurrence": speech["occurrence"],
        "slotStart": speech["slotStart"],
        "speaker": speech["speaker"],
        "audioDigest": speech["audioDigest"],
        "revision": revision,
        "text": text,
        "signature": alloy::hex::encode_prefixed(signature.as_bytes()),
    })
}

async fn submit(node: &Node, body: &Value) -> (u16, Value) {
    let r = node
        .client
        .post(format!("{}/api/v1/archive/corrections", node.base))
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// The id of `speaker`'s speech of `session` on `node`.
async fn speech_of(node: &Node, session: u64, speaker: Address) -> i64 {
    let list = get_json(node, &format!("/api/v1/archive/speeches?session={session}")).await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["speaker"].as_str().unwrap().parse::<Address>().unwrap() == speaker)
        .and_then(|s| s["id"].as_i64())
        .expect("the speech")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_speaker_corrects_their_transcript_and_both_roots_stand() {
    let mut chain = TestChain::start_at(&["--block-time", "1"], now()).await;
    let contract = deploy_record_anchor(&mut chain).await;
    let anchor = *contract.address();
    let Anchoring {
        a,
        b,
        dirs,
        transcriber: stt,
        ..
    } = anchoring_pair(&chain, "corrections").await;
    let (session, end) = spoken_occurrence(&chain, &a, &b).await;
    eprintln!("occurrence ends at {end}; now {}", now());
    let path = format!("/api/v1/sessions/{session}/occurrences/0/record");
    let first_anchored = |v: &Value| v["computed"]["attested"] == true;
    let mut first = Vec::new();
    for n in [&a, &b] {
        first.push(
            json_when(
                n,
                &path,
                "edition 0 anchored",
                Duration::from_secs(60),
                first_anchored,
            )
            .await,
        );
    }
    let root0 = b256(&first[0]["computed"]["root"]);
    assert_eq!(b256(&first[1]["computed"]["root"]), root0);
    assert_eq!(first[0]["computed"]["edition"], 0);

    // Account 4's speech, as A holds it, and what correcting it takes.
    let speaker = chain.accounts[4];
    let id = speech_of(&a, session, speaker).await;
    let t = get_json(&a, &format!("/api/v1/archive/speeches/{id}/transcript")).await;
    assert_eq!(t["nextRevision"], 1, "{t}");
    assert_eq!(t["revisions"].as_array().unwrap().len(), 1);
    let original = t["revisions"][0]["text"].as_str().unwrap().to_string();
    assert_eq!(original, "We should fund the record.");
    assert_eq!(t["chainId"].as_u64(), Some(chain.deployment.chain_id));

    // What is refused, each with its code, and nothing of it kept.
    let stranger = correction(&chain, &t, 1, CORRECTED, 5);
    assert_eq!(submit(&a, &stranger).await.0, 403);
    assert_eq!(submit(&a, &stranger).await.1["error"], "not_the_speaker");
    let (status, e) = submit(&a, &correction(&chain, &t, 2, CORRECTED, 4)).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (409, Some("revision_gap")),
        "{e}"
    );
    let mut unheard = t.clone();
    unheard["audioDigest"] = json!(B256::repeat_byte(0x77).to_string());
    let (status, e) = submit(&a, &correction(&chain, &unheard, 1, CORRECTED, 4)).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (404, Some("unknown_speech")),
        "{e}"
    );
    let (status, e) = submit(&a, &correction(&chain, &t, 1, "  ", 4)).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("empty_text")),
        "{e}"
    );
    // The speaker's signature over one text, carried with another: not theirs.
    let mut swapped = correction(&chain, &t, 1, CORRECTED, 4);
    swapped["text"] = json!("Words they never signed.");
    assert_eq!(submit(&a, &swapped).await.1["error"], "not_the_speaker");
    // Another speech's fields under this signature (a replay): not theirs either.
    let other = speech_of(&a, session, chain.accounts[5]).await;
    let other_t = get_json(
        &b,
        &format!(
            "/api/v1/archive/speeches/{}/transcript",
            speech_of(&b, session, chain.accounts[5]).await
        ),
    )
    .await;
    let mut replayed = correction(&chain, &t, 1, CORRECTED, 4);
    for f in ["slotStart", "speaker", "audioDigest"] {
        replayed[f] = other_t[f].clone();
    }
    assert_eq!(submit(&a, &replayed).await.1["error"], "not_the_speaker");
    let untouched = get_json(&a, &format!("/api/v1/archive/speeches/{other}/transcript")).await;
    assert_eq!(untouched["revisions"].as_array().unwrap().len(), 1);

    // The speaker's correction: taken once, held after, and its revision not rewritten.
    let body = correction(&chain, &t, 1, CORRECTED, 4);
    let (status, taken) = submit(&a, &body).await;
    assert_eq!(status, 201, "{taken}");
    assert_eq!(taken["revision"], 1);
    assert_eq!(
        b256(&taken["transcriptDigest"]),
        transcript_digest(Some(CORRECTED))
    );
    assert_eq!(submit(&a, &body).await.0, 200, "the same correction again");
    assert_eq!(
        a.metric("assembly_corrections_total{outcome=\"taken\",source=\"client\"}")
            .await,
        1
    );
    assert!(
        a.metric("assembly_corrections_total{outcome=\"refused\",source=\"client\"}")
            .await
            >= 7
    );

    // B is told, and takes it as its own speech's revision 1.
    let id_b = speech_of(&b, session, speaker).await;
    let on_b = json_when(
        &b,
        &format!("/api/v1/archive/speeches/{id_b}/transcript"),
        "B holds revision 1",
        Duration::from_secs(15),
        |v| v["revisions"].as_array().is_some_and(|r| r.len() == 2),
    )
    .await;
    assert_eq!(on_b["revisions"][1]["text"], CORRECTED);
    assert_eq!(
        on_b["revisions"][0]["text"], original,
        "the original is kept"
    );
    assert_eq!(on_b["nextRevision"], 2);
    assert_eq!(
        b.metric("assembly_corrections_total{outcome=\"taken\",source=\"told\"}")
            .await,
        1
    );

    // The Hansard shows the corrected words, and search finds them, not the replaced ones.
    let hansard = get_json(&a, &format!("/api/v1/hansard/sessions/{session}")).await;
    let entry = hansard["speeches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(
        (entry["text"].as_str(), entry["revision"].as_u64()),
        (Some(CORRECTED), Some(1))
    );
    let hits = get_json(
        &a,
        &format!("/api/v1/hansard/search?q=public&session={session}"),
    )
    .await;
    assert_eq!(hits.as_array().map(Vec::len), Some(1), "{hits}");
    assert_eq!(hits[0]["revision"], 1);
    let replaced = get_json(
        &a,
        &format!("/api/v1/hansard/search?q=record&session={session}"),
    )
    .await;
    assert!(
        replaced.as_array().unwrap().iter().all(|h| h["id"] != id),
        "the replaced words are no longer searched: {replaced}"
    );
    // The list members read each other's from: all, by occurrence, and from a place on.
    let listed = get_json(&a, "/api/v1/archive/corrections").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["text"], CORRECTED);
    assert_eq!(listed[0]["signature"], body["signature"]);
    let seq = listed[0]["seq"].as_i64().unwrap();
    let of = |q: String| {
        let a = &a;
        async move { get_json(a, &format!("/api/v1/archive/corrections?{q}")).await }
    };
    assert_eq!(
        of(format!("session={session}&occurrence=0"))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(of(format!("session={session}&occurrence=1"))
        .await
        .as_array()
        .unwrap()
        .is_empty());
    assert!(of(format!("after={seq}"))
        .await
        .as_array()
        .unwrap()
        .is_empty());
    let half = a
        .client
        .get(format!(
            "{}/api/v1/archive/corrections?session={session}",
            a.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(half.status().as_u16(), 400);

    // Each node adds the correction's leaf in a new edition and anchors its root.
    let corrected = |v: &Value| v["computed"]["edition"] == 1 && v["computed"]["attested"] == true;
    let mut second = Vec::new();
    for n in [&a, &b] {
        second.push(
            json_when(
                n,
                &path,
                "edition 1 anchored",
                Duration::from_secs(60),
                corrected,
            )
            .await,
        );
    }
    let root1 = b256(&second[0]["computed"]["root"]);
    assert_eq!(
        b256(&second[1]["computed"]["root"]),
        root1,
        "one corrected root"
    );
    assert_ne!(root1, root0);
    assert_eq!(second[0]["computed"]["leaves"].as_array().unwrap().len(), 3);
    assert_eq!(b256(&second[0]["earlier"][0]["root"]), root0);
    let id_u = U256::from(session);
    assert_eq!(
        contract.rootCount(id_u, 0).call().await.unwrap(),
        U256::from(2)
    );
    for root in [root0, root1] {
        assert_eq!(
            contract.attestations(id_u, 0, root).call().await.unwrap(),
            U256::from(2)
        );
    }
    let shown = json_when(
        &a,
        &path,
        "both roots indexed",
        Duration::from_secs(10),
        |v| v["roots"].as_array().is_some_and(|r| r.len() == 2),
    )
    .await;
    assert!(shown["roots"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["thisNode"] == true));

    // The corrected leaf proves under the new root; the original, under both.
    let latest = get_json(&a, &format!("/api/v1/archive/speeches/{id}/proof")).await;
    assert_eq!(latest["revisions"], json!([0, 1]));
    let leaf = leaf_of(&latest["leaf"]);
    assert_eq!(
        (leaf.revision, leaf.transcriptDigest),
        (1, transcript_digest(Some(CORRECTED)))
    );
    let proof =
        |v: &Value| -> Vec<B256> { v["proof"].as_array().unwrap().iter().map(b256).collect() };
    assert!(verifies(&chain, anchor, root1, &leaf, &proof(&latest)).await);
    let zero = get_json(
        &a,
        &format!("/api/v1/archive/speeches/{id}/proof?revision=0"),
    )
    .await;
    let original_leaf = leaf_of(&zero["leaf"]);
    assert_eq!(
        original_leaf.transcriptDigest,
        transcript_digest(Some(&original))
    );
    assert!(verifies(&chain, anchor, root1, &original_leaf, &proof(&zero)).await);
    let before = get_json(
        &a,
        &format!("/api/v1/archive/speeches/{id}/proof?edition=0"),
    )
    .await;
    assert_eq!(
        (b256(&before["root"]), before["revisions"].clone()),
        (root0, json!([0]))
    );
    assert_eq!(
        leaf_hash(&leaf_of(&before["leaf"])),
        leaf_hash(&original_leaf)
    );
    assert!(verifies(&chain, anchor, root0, &original_leaf, &proof(&before)).await);
    assert!(
        !verifies(&chain, anchor, root0, &leaf, &proof(&before)).await,
        "the correction is not in the first root"
    );

    // Anyone checks the speech, with its corrected transcript, against the chain.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_assembly"))
        .args([
            "verify",
            &format!("{}/api/v1/archive/speeches/{id}", a.base),
        ])
        .args(["--rpc", &chain.anvil.endpoint()])
        .args(["--assembly", &chain.deployment.assembly.to_string()])
        .output()
        .expect("assembly runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    eprintln!(
        "assembly verify:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("RecordAnchor.verify: true"), "{text}");
    assert!(text.contains("revision 1"), "{text}");

    // B goes down, and the speaker corrects again on A. B comes back over its files but on
    // another port than its operator registered, so no member can tell it anything: it
    // catches up by reading A's list, and both anchor a third edition.
    drop(b);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t2 = get_json(&a, &format!("/api/v1/archive/speeches/{id}/transcript")).await;
    assert_eq!(t2["nextRevision"], 2);
    let (status, e) = submit(&a, &correction(&chain, &t2, 2, SECOND, 4)).await;
    assert_eq!(status, 201, "{e}");
    let b = anchoring_node(&chain, &dirs[1], &stt).await;
    let caught_up = json_when(
        &b,
        &format!("/api/v1/archive/speeches/{id_b}/transcript"),
        "B read revision 2 from A's list",
        Duration::from_secs(30),
        |v| v["revisions"].as_array().is_some_and(|r| r.len() == 3),
    )
    .await;
    assert_eq!(caught_up["revisions"][2]["text"], SECOND);
    assert_eq!(
        b.metric("assembly_corrections_total{outcome=\"taken\",source=\"listed\"}")
            .await,
        1
    );
    let third = |v: &Value| v["computed"]["edition"] == 2 && v["computed"]["attested"] == true;
    let mut roots = Vec::new();
    for n in [&a, &b] {
        let r = json_when(
            n,
            &path,
            "edition 2 anchored",
            Duration::from_secs(60),
            third,
        )
        .await;
        assert_eq!(r["computed"]["leaves"].as_array().unwrap().len(), 4);
        roots.push(b256(&r["computed"]["root"]));
    }
    assert_eq!(roots[0], roots[1], "one root for the second correction");
    assert_eq!(
        contract.rootCount(id_u, 0).call().await.unwrap(),
        U256::from(3)
    );
    assert_eq!(
        contract
            .attestations(id_u, 0, roots[0])
            .call()
            .await
            .unwrap(),
        U256::from(2)
    );

    // The speaker signs two texts for revision 3, one brought to A and one to B at once:
    // each node takes both (from the client, and told by the other), both anchor one root
    // holding both, and both show the same one.
    let t3 = get_json(&a, &format!("/api/v1/archive/speeches/{id}/transcript")).await;
    let t3_b = get_json(&b, &format!("/api/v1/archive/speeches/{id_b}/transcript")).await;
    let (x, y) = ("Fund the archive.", "Fund the public archive.");
    let (to_a, to_b) = (
        correction(&chain, &t3, 3, x, 4),
        correction(&chain, &t3_b, 3, y, 4),
    );
    let (on_a, on_b) = tokio::join!(submit(&a, &to_a), submit(&b, &to_b));
    assert_eq!((on_a.0, on_b.0), (201, 201), "{on_a:?} {on_b:?}");
    // A takes both at once (B tells it); B, whose registered address is stale since its
    // restart, gets A's from A's list at its next minutely read: the two converge on one
    // root holding both texts, whichever edition each reaches it in.
    let both = |v: &Value| {
        v["computed"]["attested"] == true
            && v["computed"]["leaves"]
                .as_array()
                .is_some_and(|l| l.len() == 6)
    };
    let mut ends = Vec::new();
    for n in [&a, &b] {
        let r = json_when(
            n,
            &path,
            "both texts of revision 3 anchored",
            Duration::from_secs(120),
            both,
        )
        .await;
        ends.push(b256(&r["computed"]["root"]));
    }
    assert_eq!(
        ends[0], ends[1],
        "one root holding both texts of revision 3"
    );
    assert_eq!(
        contract
            .attestations(id_u, 0, ends[0])
            .call()
            .await
            .unwrap(),
        U256::from(2)
    );
    let lower = if transcript_digest(Some(x)) < transcript_digest(Some(y)) {
        x
    } else {
        y
    };
    for (n, speech) in [(&a, id), (&b, id_b)] {
        let hansard = get_json(n, &format!("/api/v1/hansard/sessions/{session}")).await;
        let entry = hansard["speeches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == speech)
            .unwrap()
            .clone();
        assert_eq!(
            (entry["text"].as_str(), entry["revision"].as_u64()),
            (Some(lower), Some(3))
        );
    }
    for d in &dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}
