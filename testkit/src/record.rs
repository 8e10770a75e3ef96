//! Records and the nodes that anchor them, from a test: nodes that transcribe (with a
//! stand-in server that gives every speech the same words, so every node agrees) and
//! anchor every half second, a speaker who takes the floor and speaks, a record read once
//! it is ready, and a leaf checked with `RecordAnchor.verify` on chain.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use assembly_media::client;
use assembly_media::sdp::Intent;
use assembly_media::stamp::stamped_frame;
use assembly_node::config::NodeConfig;
use assembly_provenance::record::{self, Leaf};
use serde_json::Value;

use alloy::signers::local::PrivateKeySigner;

use crate::anchor::fund;
use crate::chain::{one_off_session, TestChain};
use crate::clock::now;
use crate::node::{get_json, node_with, Node};
use crate::registry::{node_key, register_key};
use crate::siwe::token;
use crate::speaking::signer;

/// `call` as an `eth_call` to `to`, with the types the record is built from
/// (`assembly_provenance::record`, taken from the same ABI as the node's bindings).
pub async fn eth_call<C: SolCall>(chain: &TestChain, to: Address, call: C) -> C::Return {
    let tx = TransactionRequest::default()
        .to(to)
        .input(Bytes::from(call.abi_encode()).into());
    let out = chain.provider.call(tx).await.expect("eth_call answered");
    C::abi_decode_returns(&out).expect("the answer decodes")
}

/// `RecordAnchor.verify` on chain.
pub async fn verifies(
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

/// A stand-in for an OpenAI-compatible transcription server: every speech says the same,
/// so every node's transcript of a speech is the same text.
pub async fn transcriber() -> String {
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
pub async fn anchoring_node(chain: &TestChain, dir: &std::path::Path, transcriber: &str) -> Node {
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
            c.anchor.corrections_every_secs = 0;
        },
    )
    .await
}

/// `path` on `node` once `ready` holds of it, within `within`.
pub async fn json_when(
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
pub async fn ask_for_the_floor(chain: &TestChain, session: u64, i: usize) {
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

/// The 32 bytes a JSON hex string holds.
pub fn b256(v: &Value) -> B256 {
    v.as_str()
        .expect("a hex string")
        .parse()
        .expect("32 bytes of hex")
}

/// The leaf a proof answer names, with `IRecordAnchor.Speech`'s types.
pub fn leaf_of(v: &Value) -> Leaf {
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
pub async fn speak(
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
            Some(s) => s.sign(&plain, crate::clock::now_ms()).unwrap().into(),
            None => plain,
        };
        frames.send(out).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    peer.task.abort();
}

/// Two nodes, A and B, members of one cluster: registered by operators 1 and 2, their
/// keys funded to anchor, each transcribing with the same stand-in and anchoring every half
/// second, their files in `dirs` so that either can be restarted over them.
pub struct Anchoring {
    /// Node A (operator 1's).
    pub a: Node,
    /// Node B (operator 2's).
    pub b: Node,
    /// Their node keys.
    pub keys: [PrivateKeySigner; 2],
    /// Their files.
    pub dirs: Vec<std::path::PathBuf>,
    /// The transcriber both use.
    pub transcriber: String,
}

/// Starts [`Anchoring`]'s two nodes on `chain` (which names a RecordAnchor), their
/// directories named after `tag`, and waits until each sees both as members.
pub async fn anchoring_pair(chain: &TestChain, tag: &str) -> Anchoring {
    let stt = transcriber().await;
    let dirs: Vec<std::path::PathBuf> = (0..2)
        .map(|k| {
            std::env::temp_dir().join(format!(
                "assembly-{tag}-{}-{}-{k}",
                std::process::id(),
                chain.anvil.port()
            ))
        })
        .collect();
    for d in &dirs {
        let _ = std::fs::remove_dir_all(d);
        std::fs::create_dir_all(d).unwrap();
    }
    let a = anchoring_node(chain, &dirs[0], &stt).await;
    let b = anchoring_node(chain, &dirs[1], &stt).await;
    let keys = [node_key(&dirs[0]), node_key(&dirs[1])];
    // Operators 1 and 2 register the two nodes and fund their keys, which anchor.
    for (k, n) in [&a, &b].iter().enumerate() {
        assert!(register_key(chain, chain.accounts[1 + k], &keys[k], &n.base).await);
        fund(chain, keys[k].address()).await;
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

    Anchoring {
        a,
        b,
        keys,
        dirs,
        transcriber: stt,
    }
}

/// One occurrence of a new session, 16 s long from 3 s on, with slots of 5 s: account 4
/// speaks first (signed, on `a`), account 5 second (unsigned, on `b`). Returns the session
/// and when the occurrence ends, once both have spoken.
pub async fn spoken_occurrence(chain: &TestChain, a: &Node, b: &Node) -> (u64, u64) {
    // One occurrence, 16 s long from 3 s on, with slots of 5 s: orchestrator 4 speaks
    // first (signed, on A), orchestrator 5 second (unsigned, on B).
    let start = now() + 3;
    let session = one_off_session(chain, start, 16, 5).await;
    ask_for_the_floor(chain, session, 4).await;
    ask_for_the_floor(chain, session, 5).await;
    let slot = |i: u32| async move {
        chain
            .assembly
            .slotOf(U256::from(session), 0, i)
            .call()
            .await
            .unwrap()
    };
    let (first, second) = (slot(0).await, slot(1).await);
    tokio::join!(
        speak(a, chain, session, 4, first.start, true),
        speak(b, chain, session, 5, second.start, false),
    );
    (session, start + 16)
}
