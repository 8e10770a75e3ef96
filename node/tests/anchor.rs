//! The record anchored on chain. First the Rust record against the contract: each leaf is
//! `RecordAnchor.leafHash`'s, the root and every proof pass `RecordAnchor.verify`, an
//! altered speech fails, a stranger is refused (`NotAMember`), and the indexer follows
//! `RecordAnchored`. Then end to end on a two-node cluster: an occurrence with two
//! speeches (one signed by its speaker, one unsigned) ends; each node computes the same
//! root from its own recordings and transcripts and anchors it once, with its node key
//! (one root, two attestations); every speech's proof from the API verifies on chain and
//! an altered one does not; a member that anchors another root shows beside it; and a
//! node restarted after sending but before recording it asks the chain and sends nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::{SolCall, SolEvent};
use assembly_indexer::bindings::{IAssembly, RecordAnchor};
use assembly_media::client;
use assembly_media::sdp::Intent;
use assembly_media::stamp::stamped_frame;
use assembly_node::config::NodeConfig;
use assembly_provenance::record::{self, leaf_hash, Leaf, Tree};
use assembly_testkit::anchor::{deploy_record_anchor, fund};
use assembly_testkit::chain::{Mined, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::node::{get_json, node_with, Node};
use assembly_testkit::registry::{node_key, register_key, register_node};
use assembly_testkit::siwe::token;
use assembly_testkit::speaking::signer;
use serde_json::Value;
use sha2::Digest;

/// `call` as an `eth_call` to `to`, with the types the record is built from
/// (`assembly_provenance::record`, taken from the same ABI as the node's bindings).
async fn eth_call<C: SolCall>(chain: &TestChain, to: Address, call: C) -> C::Return {
    let tx = TransactionRequest::default()
        .to(to)
        .input(Bytes::from(call.abi_encode()).into());
    let out = chain.provider.call(tx).await.expect("eth_call answered");
    C::abi_decode_returns(&out).expect("the answer decodes")
}

/// `RecordAnchor.verify` on chain.
async fn verifies(
    chain: &TestChain,
    anchor: Address,
    root: B256,
    leaf: &Leaf,
    proof: &[B256],
) -> bool {
    eth_call(
        chain,
        anchor,
        record::RecordAnchor::verifyCall {
            sessionId: leaf.sessionId,
            occurrence: leaf.occurrence,
            root,
            speech: leaf.clone(),
            proof: proof.to_vec(),
        },
    )
    .await
}

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

/// A stand-in for an OpenAI-compatible transcription server: every speech says the same,
/// so every node's transcript of a speech is the same text.
async fn transcriber() -> String {
    let app = axum::Router::new().route(
        "/v1/audio/transcriptions",
        axum::routing::post(|| async {
            axum::Json(serde_json::json!({"text": "We should fund the record."}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("openai:http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A node whose files are in `dir` (so that it can be restarted over them), transcribing
/// with `transcriber` and anchoring every half second.
async fn anchoring_node(chain: &TestChain, dir: &std::path::Path, transcriber: &str) -> Node {
    let (dir, transcriber) = (dir.to_path_buf(), transcriber.to_string());
    node_with(
        chain,
        chain.anvil.endpoint(),
        Duration::from_millis(50),
        move |c: &mut NodeConfig| {
            c.secret_file = dir.join("secret");
            c.indexer.db = Some(dir.join("node.sqlite"));
            c.archive.recordings = dir.join("recordings");
            c.archive.transcriber = Some(assembly_archive::TranscriberConfig {
                service: transcriber,
                model: None,
                key: None,
            });
            c.archive.captions = false;
            c.anchor.every_ms = 500;
            c.anchor.transcript_wait_secs = 60;
        },
    )
    .await
}

/// `path` on `node` once `ready` holds of it, within `within`.
async fn json_when(
    node: &Node,
    path: &str,
    what: &str,
    within: Duration,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let t0 = Instant::now();
    loop {
        let v = get_json(node, path).await;
        if ready(&v) {
            return v;
        }
        assert!(t0.elapsed() < within, "{what}: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Account `i` enqueues in `session`; panics with the chain's reason if refused. The gas
/// is set, not estimated: with a block a second, the estimate is made at the last block's
/// time, and an occurrence that begins in between costs more to enqueue in.
async fn ask_for_the_floor(chain: &TestChain, session: u64, i: usize) {
    let sent = chain
        .assembly
        .enqueue(U256::from(session))
        .from(chain.accounts[i])
        .gas(400_000)
        .send()
        .await;
    let receipt = match sent {
        Ok(pending) => pending.get_receipt().await.expect("a receipt"),
        Err(e) => panic!(
            "account {i} enqueued: {e} {:?}",
            e.as_decoded_interface_error::<assembly_indexer::bindings::Assembly::AssemblyErrors>()
        ),
    };
    assert!(receipt.status(), "account {i}'s enqueue mined: {receipt:?}");
}

fn b256(v: &Value) -> B256 {
    v.as_str()
        .expect("a hex string")
        .parse()
        .expect("32 bytes of hex")
}

/// The leaf a proof answer names, with `IRecordAnchor.Speech`'s types.
fn leaf_of(v: &Value) -> Leaf {
    Leaf {
        sessionId: U256::from(v["sessionId"].as_u64().unwrap()),
        occurrence: v["occurrence"].as_u64().unwrap() as u32,
        slotStart: alloy::primitives::Uint::from(v["slotStart"].as_u64().unwrap()),
        speaker: v["speaker"].as_str().unwrap().parse().unwrap(),
        audioDigest: b256(&v["audioDigest"]),
        attestationDigest: b256(&v["attestationDigest"]),
        transcriptDigest: b256(&v["transcriptDigest"]),
        revision: v["revision"].as_u64().unwrap() as u32,
    }
}

/// Account `i` speaks for two seconds on `node` once its slot begins, signed or not.
async fn speak(
    node: &Node,
    chain: &TestChain,
    session: u64,
    i: usize,
    slot_start: u64,
    signed: bool,
) {
    let t = token(node, chain, i).await;
    let peer = client::persistent(
        reqwest::Client::new(),
        format!("{}/api/v1/sessions/{session}/whip", node.base),
        Some(t),
        Intent::Publish,
        Arc::new(|_: &[u8], _| {}),
    );
    let mut up = peer.up.clone();
    // Admitted once the slot is the speaker's (or next); frames sent only within it.
    while now() < slot_start || !*up.borrow() {
        let _ = tokio::time::timeout(Duration::from_millis(100), up.changed()).await;
    }
    let frames = peer.frames.clone().unwrap();
    let mut signing = signed.then(|| signer(chain, i, session, 0));
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for n in 0..100 {
        tick.tick().await;
        let plain = stamped_frame(n, 80);
        let out: Arc<[u8]> = match signing.as_mut() {
            Some(s) => s
                .sign(&plain, assembly_floor::clock::now_ms())
                .unwrap()
                .into(),
            None => plain,
        };
        frames.send(out).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    peer.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_ended_occurrence_is_anchored_once_by_each_node() {
    // Blocks every second: the occurrence's end is read from chain time.
    let mut chain = TestChain::start_at(&["--block-time", "1"], now()).await;
    let contract = deploy_record_anchor(&mut chain).await;
    let anchor = *contract.address();
    let stt = transcriber().await;
    let dirs: Vec<std::path::PathBuf> = (0..2)
        .map(|k| {
            std::env::temp_dir().join(format!(
                "assembly-anchor-{}-{}-{k}",
                std::process::id(),
                chain.anvil.port()
            ))
        })
        .collect();
    for d in &dirs {
        let _ = std::fs::remove_dir_all(d);
        std::fs::create_dir_all(d).unwrap();
    }
    let a = anchoring_node(&chain, &dirs[0], &stt).await;
    let b = anchoring_node(&chain, &dirs[1], &stt).await;
    let keys = [node_key(&dirs[0]), node_key(&dirs[1])];
    // Operators 1 and 2 register the two nodes and fund their keys, which anchor.
    for (k, n) in [&a, &b].iter().enumerate() {
        assert!(register_key(&chain, chain.accounts[1 + k], &keys[k], &n.base).await);
        fund(&chain, keys[k].address()).await;
    }
    for n in [&a, &b] {
        json_when(
            n,
            "/api/v1/cluster",
            "two members",
            Duration::from_secs(10),
            |v| {
                v["nodes"]
                    .as_array()
                    .is_some_and(|l| l.iter().filter(|m| m["member"] == true).count() == 2)
            },
        )
        .await;
    }

    // One occurrence, 16 s long from 3 s on, with slots of 5 s: orchestrator 4 speaks
    // first (signed, on A), orchestrator 5 second (unsigned, on B).
    let start = now() + 3;
    let p = IAssembly::SessionParams {
        start: alloy::primitives::Uint::from(start),
        duration: alloy::primitives::Uint::from(16u64),
        period: alloy::primitives::Uint::from(0u64),
        count: 0,
        slotLength: 5,
        maxQueue: 8,
        speakers: 0,
        kind: 0,
        proposalId: U256::ZERO,
    };
    chain.assembly.createSession(p).mined().await;
    let session = chain
        .assembly
        .sessionCount()
        .call()
        .await
        .unwrap()
        .to::<u64>();
    ask_for_the_floor(&chain, session, 4).await;
    ask_for_the_floor(&chain, session, 5).await;
    let slot = |i: u32| {
        let chain = &chain;
        async move {
            chain
                .assembly
                .slotOf(U256::from(session), 0, i)
                .call()
                .await
                .unwrap()
        }
    };
    let (first, second) = (slot(0).await, slot(1).await);
    tokio::join!(
        speak(&a, &chain, session, 4, first.start, true),
        speak(&b, &chain, session, 5, second.start, false),
    );
    let end = start + 16;
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
