//! The record anchored on chain. First the Rust record against the contract: each leaf is
//! `RecordAnchor.leafHash`'s, the root and every proof pass `RecordAnchor.verify`, an
//! altered speech fails, a stranger is refused (`NotAMember`), and the indexer follows
//! `RecordAnchored`. Then end to end on a two-node cluster: an occurrence with two
//! speeches (one signed by its speaker, one unsigned) ends; each node computes the same
//! root from its own recordings and transcripts and anchors it once, with its node key
//! (one root, two attestations); every speech's proof from the API verifies on chain and
//! an altered one does not; a member that anchors another root shows beside it; and a
//! node restarted after sending but before recording it asks the chain and sends nothing.

use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolEvent;
use assembly_indexer::bindings::RecordAnchor;
use assembly_provenance::record::{self, leaf_hash, Leaf, Tree};
use assembly_testkit::anchor::deploy_record_anchor;
use assembly_testkit::chain::{Mined, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::node::get_json;
use assembly_testkit::record::{
    anchoring_node, anchoring_pair, b256, eth_call, json_when, leaf_of, spoken_occurrence,
    verifies, Anchoring,
};
use assembly_testkit::registry::register_node;
use sha2::Digest;

/// Whether `from` anchoring `root` is refused with `NotAMember`.
async fn not_a_member(
    chain: &TestChain,
    anchor: Address,
    from: Address,
    session: u64,
    root: B256,
) -> bool {
    use RecordAnchor::RecordAnchorErrors as E;
    let contract = RecordAnchor::new(anchor, chain.provider.clone());
    match contract
        .anchor(U256::from(session), 0, root, 2)
        .from(from)
        .call()
        .await
    {
        Ok(_) => false,
        Err(e) => matches!(e.as_decoded_interface_error::<E>(), Some(E::NotAMember(_))),
    }
}

fn speech(session: u64, n: u8) -> Leaf {
    Leaf {
        sessionId: U256::from(session),
        occurrence: 0,
        slotStart: alloy::primitives::Uint::from(assembly_testkit::chain::T0 + u64::from(n) * 10),
        speaker: Address::repeat_byte(n),
        audioDigest: B256::repeat_byte(0x40 + n),
        attestationDigest: if n % 2 == 0 {
            B256::ZERO
        } else {
            B256::repeat_byte(n)
        },
        transcriptDigest: record::transcript_digest(Some(&format!("speech {n}"))),
        revision: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_record_is_the_contracts() {
    let mut chain = TestChain::start().await;
    let contract = deploy_record_anchor(&mut chain).await;
    let anchor = *contract.address();
    let start = chain.clock + 10;
    let session = chain.create_session(start, 30, 10, 4).await;
    let speeches: Vec<Leaf> = (1..=5).map(|n| speech(session, n)).collect();
    for s in &speeches {
        let on_chain: B256 = eth_call(
            &chain,
            anchor,
            record::RecordAnchor::leafHashCall { speech: s.clone() },
        )
        .await;
        assert_eq!(on_chain, leaf_hash(s), "leafHash of {s:?}");
    }
    let tree = Tree::of(&speeches).unwrap();
    let root = tree.root();

    // Operator 1 registers a node; the occurrence ends.
    register_node(&chain, chain.accounts[1], "https://one.example")
        .await
        .expect("operator 1 registers");
    chain.advance(60).await;
    chain.mine().await;
    let proof0 = tree.proof(leaf_hash(&speeches[0])).unwrap();
    assert!(
        !verifies(&chain, anchor, root, &speeches[0], &proof0).await,
        "nothing verifies under a root nobody anchored"
    );

    // A stranger is refused; the member operator anchors with its own key (a lone node).
    assert!(not_a_member(&chain, anchor, chain.accounts[7], session, root).await);
    chain.advance(1).await;
    let receipt = contract
        .anchor(U256::from(session), 0, root, speeches.len() as u32)
        .from(chain.accounts[1])
        .mined()
        .await;
    assert!(receipt.status());
    eprintln!(
        "anchor gas (first attestation of a root): {}",
        receipt.gas_used
    );

    for s in &speeches {
        let proof = tree.proof(leaf_hash(s)).unwrap();
        assert!(verifies(&chain, anchor, root, s, &proof).await, "{s:?}");
        let mut audio = s.clone();
        audio.audioDigest.0[31] ^= 1;
        assert!(
            !verifies(&chain, anchor, root, &audio, &proof).await,
            "one byte of audio digest"
        );
        let mut words = s.clone();
        words.transcriptDigest = record::transcript_digest(Some("altered"));
        assert!(
            !verifies(&chain, anchor, root, &words, &proof).await,
            "another transcript"
        );
    }
    let count: U256 = eth_call(
        &chain,
        anchor,
        record::RecordAnchor::rootCountCall {
            sessionId: U256::from(session),
            occurrence: 0,
        },
    )
    .await;
    assert_eq!(count, U256::from(1));

    // The indexer follows RecordAnchored.
    let store = chain.fresh_index().await;
    let rows = store.record_anchors(session, 0).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].root,
            rows[0].operator,
            rows[0].node,
            rows[0].speeches
        ),
        (root, chain.accounts[1], chain.accounts[1], 5)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_ended_occurrence_is_anchored_once_by_each_node() {
    // Blocks every second: the occurrence's end is read from chain time.
    let mut chain = TestChain::start_at(&["--block-time", "1"], now()).await;
    let contract = deploy_record_anchor(&mut chain).await;
    let anchor = *contract.address();
    let Anchoring {
        a,
        b,
        keys,
        dirs,
        transcriber: stt,
    } = anchoring_pair(&chain, "anchor").await;
    let (session, end) = spoken_occurrence(&chain, &a, &b).await;
    eprintln!("occurrence ends at {end}; now {}", now());

    // Each node computes the record and anchors it, once.
    let path = format!("/api/v1/sessions/{session}/occurrences/0/record");
    let mut records = Vec::new();
    for n in [&a, &b] {
        records.push(
            json_when(
                n,
                &path,
                "the record anchored",
                Duration::from_secs(60),
                |v| v["computed"]["attested"] == true,
            )
            .await,
        );
    }
    let root = b256(&records[0]["computed"]["root"]);
    assert_eq!(
        b256(&records[1]["computed"]["root"]),
        root,
        "one root on both nodes"
    );
    assert_eq!(
        records[0]["computed"]["leaves"].as_array().unwrap().len(),
        2
    );
    for (k, r) in records.iter().enumerate() {
        let c = &r["computed"];
        assert_eq!(
            c["operator"].as_str().unwrap().parse::<Address>().unwrap(),
            chain.accounts[1 + k]
        );
        assert_eq!(
            c["sender"].as_str().unwrap().parse::<Address>().unwrap(),
            keys[k].address()
        );
        eprintln!(
            "node {k} anchored {root} in {} using {} gas",
            c["tx"], c["gasUsed"]
        );
    }
    let id = U256::from(session);
    assert_eq!(
        contract.rootCount(id, 0).call().await.unwrap(),
        U256::from(1)
    );
    assert_eq!(
        contract.attestations(id, 0, root).call().await.unwrap(),
        U256::from(2)
    );
    let anchored = |chain: &TestChain| {
        let filter = alloy::rpc::types::Filter::new()
            .address(anchor)
            .event_signature(RecordAnchor::RecordAnchored::SIGNATURE_HASH)
            .from_block(0);
        let provider = chain.provider.clone();
        async move { provider.get_logs(&filter).await.unwrap() }
    };
    let logs = anchored(&chain).await;
    let mut by: Vec<(Address, Address)> = logs
        .iter()
        .map(|l| {
            let e = RecordAnchor::RecordAnchored::decode_log_data(l.data()).unwrap();
            (e.operator, e.node)
        })
        .collect();
    by.sort();
    let mut expected = vec![
        (chain.accounts[1], keys[0].address()),
        (chain.accounts[2], keys[1].address()),
    ];
    expected.sort();
    assert_eq!(
        by, expected,
        "exactly one attestation per node, by its node key"
    );
    for n in [&a, &b] {
        assert_eq!(
            n.metric("assembly_anchors_total{outcome=\"anchored\"}")
                .await,
            1
        );
    }

    // The speeches say who signed them; each one's proof verifies on chain, and an
    // altered one does not.
    let speeches = get_json(&a, &format!("/api/v1/archive/speeches?session={session}")).await;
    let speeches = speeches.as_array().unwrap();
    assert_eq!(speeches.len(), 2, "{speeches:?}");
    for s in speeches {
        let p = &s["provenance"];
        let signed =
            s["speaker"].as_str().unwrap().parse::<Address>().unwrap() == chain.accounts[4];
        eprintln!("speech {}: {p}", s["id"]);
        if signed {
            assert_eq!(p["verdict"], "signed");
            assert!(p["speaking_key"].is_string());
            assert!(p["frames"]["signed"].as_u64().unwrap() >= 75, "{p}");
            assert_ne!(b256(&p["attestation_digest"]), B256::ZERO);
        } else {
            assert_eq!(p["verdict"], "unsigned");
            assert_eq!(b256(&p["attestation_digest"]), B256::ZERO);
        }
        let proof = get_json(&a, &format!("/api/v1/archive/speeches/{}/proof", s["id"])).await;
        assert_eq!(
            proof["recordAnchor"]
                .as_str()
                .unwrap()
                .parse::<Address>()
                .unwrap(),
            anchor
        );
        assert_eq!(proof["chainId"].as_u64(), Some(chain.deployment.chain_id));
        assert_eq!(b256(&proof["root"]), root);
        let leaf = leaf_of(&proof["leaf"]);
        assert_eq!(leaf.attestationDigest, b256(&p["attestation_digest"]));
        let audio = a
            .client
            .get(format!("{}{}", a.base, proof["audio"].as_str().unwrap()))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(
            leaf.audioDigest,
            B256::from(<[u8; 32]>::from(sha2::Sha256::digest(&audio)))
        );
        assert_eq!(
            leaf.transcriptDigest,
            record::transcript_digest(Some("We should fund the record."))
        );
        assert_eq!(b256(&proof["leafHash"]), leaf_hash(&leaf));
        let path: Vec<B256> = proof["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(b256)
            .collect();
        assert!(
            verifies(&chain, anchor, root, &leaf, &path).await,
            "speech {} verifies",
            s["id"]
        );
        // `assembly verify`, as anyone would run it: the recording against the chain, and
        // the speech against the record anchored there.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_assembly"))
            .args([
                "verify",
                &format!("{}/api/v1/archive/speeches/{}", a.base, s["id"]),
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
        if signed {
            assert_eq!(out.status.code(), Some(0), "{text}");
            assert!(text.contains("RecordAnchor.verify: true"), "{text}");
            assert!(text.contains("attested by 2 member(s)"), "{text}");
        } else {
            assert_eq!(out.status.code(), Some(1), "an unsigned speech: {text}");
        }
        let mut altered = leaf.clone();
        altered.audioDigest.0[0] ^= 1;
        assert!(!verifies(&chain, anchor, root, &altered, &path).await);
        let mut altered = leaf.clone();
        altered.transcriptDigest = record::transcript_digest(Some("We should fund the record!"));
        assert!(!verifies(&chain, anchor, root, &altered, &path).await);
    }

    // A stranger is refused; another member (orchestrator 3, whose node is not running)
    // anchors a root of its own, and the record shows both.
    assert!(not_a_member(&chain, anchor, Address::repeat_byte(0x5e), session, root).await);
    register_node(&chain, chain.accounts[3], "https://three.example")
        .await
        .expect("operator 3 registers");
    let other = B256::repeat_byte(0x0d);
    assert!(contract
        .anchor(id, 0, other, 2)
        .from(chain.accounts[3])
        .mined()
        .await
        .status());
    let shown = json_when(&a, &path, "two roots", Duration::from_secs(10), |v| {
        v["roots"].as_array().is_some_and(|r| r.len() == 2)
    })
    .await;
    let roots = shown["roots"].as_array().unwrap();
    assert_eq!(
        (b256(&roots[0]["root"]), roots[0]["thisNode"].as_bool()),
        (root, Some(true))
    );
    assert_eq!(roots[0]["attestations"].as_array().unwrap().len(), 2);
    assert_eq!(
        (b256(&roots[1]["root"]), roots[1]["thisNode"].as_bool()),
        (other, Some(false))
    );
    let by3 = &roots[1]["attestations"][0];
    assert_eq!(
        by3["operator"]
            .as_str()
            .unwrap()
            .parse::<Address>()
            .unwrap(),
        chain.accounts[3]
    );
    let first_speech = speeches[0]["id"].as_i64().unwrap();
    let proof = get_json(
        &a,
        &format!("/api/v1/archive/speeches/{first_speech}/proof"),
    )
    .await;
    assert_eq!(proof["rootCount"], 2);
    assert_eq!(proof["attestations"].as_array().unwrap().len(), 2);

    // Node A dies after sending its anchor and before recording it: restarted over the
    // same files, it asks the chain, finds its operator's attestation, and sends nothing.
    drop(a);
    tokio::time::sleep(Duration::from_millis(500)).await;
    {
        let db = rusqlite::Connection::open(dirs[0].join("recordings/archive.sqlite")).unwrap();
        db.execute(
            "UPDATE occurrence_records SET anchored_ms = NULL, operator = NULL, sender = NULL, tx = NULL WHERE session = ?1",
            [session as i64],
        )
        .unwrap();
    }
    let a = anchoring_node(&chain, &dirs[0], &stt).await;
    let again = json_when(
        &a,
        &path,
        "the record attested again",
        Duration::from_secs(30),
        |v| v["computed"]["attested"] == true,
    )
    .await;
    assert_eq!(b256(&again["computed"]["root"]), root);
    assert!(again["computed"]["tx"].is_null(), "nothing sent: {again}");
    assert_eq!(
        a.metric("assembly_anchors_total{outcome=\"already\"}")
            .await,
        1
    );
    assert_eq!(
        a.metric("assembly_anchors_total{outcome=\"anchored\"}")
            .await,
        0
    );
    assert_eq!(
        anchored(&chain).await.len(),
        3,
        "two attestations of the root, one of the other"
    );
    for d in &dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}
