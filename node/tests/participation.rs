//! The assembly's record on anvil, scripted: a governor proposal and its debate; account 1
//! signs in, listens, reacts twice, speaks and yields; account 2 speaks its whole slot;
//! account 4 asks and withdraws; accounts 1 and 3 vote and 2 does not. The debate's Hansard
//! sets who said what beside how they voted, and each account's participation record
//! counts exactly what the script did.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use assembly_indexer::bindings::IAssembly;
use assembly_media::client;
use assembly_media::sdp::Intent;
use assembly_testkit::chain::{Mined, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::frames::pump_stamped;
use assembly_testkit::node::{get_json, node};
use assembly_testkit::siwe::token;
use assembly_testkit::wait::wait_until;
use futures::SinkExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const LPT: u64 = 1_000_000_000_000_000_000;

/// A governor proposal, open for votes; its id.
async fn proposal(chain: &TestChain) -> U256 {
    let r = chain
        .governor
        .propose(
            vec![Address::repeat_byte(0x11)],
            vec![U256::ZERO],
            vec![Bytes::from(vec![0xde, 0xad])],
            "Fund the Hansard's captions".into(),
        )
        .mined()
        .await;
    let id = r
        .inner
        .logs()
        .iter()
        .find_map(|l| {
            l.log_decode::<assembly_indexer::bindings::mocks::MockGovernor::ProposalCreated>()
                .ok()
        })
        .expect("ProposalCreated")
        .inner
        .data
        .proposalId;
    // Votes open at the proposal's snapshot round, one round (100 blocks) on.
    let _: () = chain
        .provider
        .raw_request("anvil_mine".into(), (U256::from(200), U256::from(0)))
        .await
        .unwrap();
    id
}

async fn vote(chain: &TestChain, i: usize, pid: U256, support: u8, weight: u64, reason: &str) {
    let voter = chain.accounts[i];
    chain
        .governor
        .setVotes(voter, U256::from(weight) * U256::from(LPT))
        .mined()
        .await;
    let cast = chain
        .try_send(
            chain
                .governor
                .castVoteWithReason(pid, support, reason.into()),
            voter,
        )
        .await;
    assert!(cast, "account {i} voted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_counts_what_each_account_did() {
    let chain = TestChain::start_at(&[], now()).await;
    let node = node(&chain, chain.anvil.endpoint(), Duration::from_millis(50)).await;
    let pid = proposal(&chain).await;
    let start = now();
    chain
        .assembly
        .createSession(IAssembly::SessionParams {
            start: alloy::primitives::Uint::from(start),
            duration: alloy::primitives::Uint::from(3600u64),
            period: alloy::primitives::Uint::from(0u64),
            count: 0,
            slotLength: 4,
            maxQueue: 8,
            speakers: 0,
            kind: 3,
            proposalId: pid,
        })
        .mined()
        .await;
    let session = chain
        .assembly
        .sessionCount()
        .call()
        .await
        .unwrap()
        .to::<u64>();
    wait_until("the debate live", Duration::from_secs(10), || {
        node.media().gate().is_live(session)
    })
    .await;

    // Account 1 listens on the live socket and reacts twice.
    let t1 = token(&node, &chain, 1).await;
    let url = format!("{}/api/v1/live?token={t1}", node.base.replace("http", "ws"));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    for _ in 0..2 {
        ws.send(Message::text(r#"{"type":"react","reaction":"clap"}"#))
            .await
            .unwrap();
    }

    let whip = format!("{}/api/v1/sessions/{session}/whip", node.base);
    let mut speakers = Vec::new();
    for (marker, i) in [(1u8, 1usize), (2, 2)] {
        let p = client::persistent(
            reqwest::Client::new(),
            whip.clone(),
            Some(token(&node, &chain, i).await),
            Intent::Publish,
            Arc::new(|_: &[u8], _| {}),
        );
        pump_stamped(p.frames.clone().unwrap(), marker);
        speakers.push(p);
    }
    let s = U256::from(session);
    for i in [1, 4, 2] {
        assert!(
            chain
                .try_send(chain.assembly.enqueue(s), chain.accounts[i])
                .await,
            "{i} enqueued"
        );
    }
    assert!(
        chain
            .try_send(chain.assembly.withdraw(s), chain.accounts[4])
            .await,
        "4 withdrew"
    );
    // Account 1 speaks about two seconds of its four, then yields.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert!(
        chain
            .try_send(chain.assembly.yieldFloor(s), chain.accounts[1])
            .await,
        "1 yielded"
    );
    vote(&chain, 1, pid, 1, 10_500, "captions | help delegators").await;
    vote(&chain, 3, pid, 0, 700, "not now").await;
    let second = chain.assembly.slotOf(s, 0, 2).call().await.unwrap();
    wait_until("account 2's slot over", Duration::from_secs(15), || {
        now() >= second.end
    })
    .await;
    ws.close(None).await.unwrap();
    drop(ws);
    // The recorder closes a speech after 3 s of silence.
    let archive = format!("/api/v1/archive/speeches?session={session}");
    for _ in 0..100 {
        let list = get_json(&node, &archive).await;
        let closed = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["open"] == false)
            .count();
        if closed == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let who = |i: usize| chain.accounts[i].to_checksum(None);
    let hansard = get_json(&node, &format!("/api/v1/hansard/sessions/{session}")).await;
    let d = &hansard["debate"];
    assert_eq!(d["proposal_id"], pid.to_string());
    assert_eq!(d["kind"], "governor");
    let people: Vec<(String, Value, usize)> = d["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["address"].as_str().unwrap().to_string(),
                p["vote"]["choice"].clone(),
                p["speeches"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        people,
        [
            (who(1), Value::from("for"), 1),
            (who(2), Value::Null, 1),
            (who(3), Value::from("against"), 0)
        ],
        "{d}"
    );
    assert_eq!(d["voted_without_speaking"], serde_json::json!([who(3)]));
    assert_eq!(d["spoke_without_voting"], serde_json::json!([who(2)]));
    let md = node
        .client
        .get(format!(
            "{}/api/v1/hansard/sessions/{session}/markdown",
            node.base
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        md.contains("| for | 10,500 LPT | captions \\| help delegators |"),
        "{md}"
    );

    // Attendance is written by the ledger's own thread: wait for the departure.
    let path = |i: usize| format!("/api/v1/participation/{}", who(i));
    let mut one = Value::Null;
    for _ in 0..50 {
        one = get_json(&node, &path(1)).await;
        if one["totals"]["reactions"] == 2 && one["totals"]["attended_ms"].as_u64() > Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let o = &one["occurrences"][0];
    assert_eq!(o["session"], session, "{one}");
    assert_eq!(one["role"], "orchestrator");
    for (field, want) in [
        ("requests", 1),
        ("slots_held", 1),
        ("yields", 1),
        ("withdrawals", 0),
        ("speeches", 1),
        ("reactions", 2),
    ] {
        assert_eq!(o[field], want, "account 1 {field}: {one}");
        assert_eq!(one["totals"][field], want, "account 1 total {field}: {one}");
    }
    assert_eq!(o["vote"], "for");
    assert_eq!(
        (
            one["totals"]["debates"].as_u64(),
            one["totals"]["votes_cast"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let spoken = o["spoken_ms"].as_u64().unwrap();
    // The publisher's retries start it a little after its slot does.
    assert!(
        (500..=2500).contains(&spoken),
        "at most two seconds spoken: {spoken}"
    );
    let attended = o["attended_ms"].as_u64().unwrap();
    assert!(
        attended >= 5000,
        "connected through both slots: {attended} ms"
    );

    let two = get_json(&node, &path(2)).await;
    let o = &two["occurrences"][0];
    assert_eq!(
        (
            o["requests"].as_u64(),
            o["slots_held"].as_u64(),
            o["yields"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "{two}"
    );
    assert_eq!(
        (o["attended_ms"].as_u64(), o["reactions"].as_u64()),
        (Some(0), Some(0)),
        "never on the live socket: {two}"
    );
    assert_eq!(o["vote"], Value::Null);
    assert!(o["spoken_ms"].as_u64().unwrap() >= 1000, "{two}");

    let four = get_json(&node, &path(4)).await;
    let o = &four["occurrences"][0];
    assert_eq!(
        (
            o["requests"].as_u64(),
            o["withdrawals"].as_u64(),
            o["slots_held"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "{four}"
    );

    // A delegator is pointed to its orchestrator.
    chain
        .bonding
        .setBonded(
            chain.accounts[8],
            chain.accounts[2],
            U256::from(50) * U256::from(LPT),
        )
        .mined()
        .await;
    let delegator = get_json(&node, &path(8)).await;
    assert_eq!(
        (delegator["role"].as_str(), delegator["delegate"].as_str()),
        (Some("delegator"), Some(who(2).as_str())),
        "{delegator}"
    );
    assert_eq!(delegator["totals"]["occurrences"], 1);

    let csv = node
        .client
        .get(format!("{}{}/csv", node.base, path(1)))
        .send()
        .await
        .unwrap();
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("session,occurrence,kind,proposal_id,start,end,attended_s"));
    assert!(
        lines[1].starts_with(&format!("{session},0,governor_debate,{pid},")),
        "{csv}"
    );
    let f: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(
        (&f[7..12], f[13], f[14]),
        (&["1", "1", "1", "0", "1"][..], "2", "for"),
        "{csv}"
    );

    for bad in [
        "/api/v1/participation/0x12",
        &format!("{}?from=9&to=9", path(1)),
        &format!("{}?from=0&to=99999999", path(1)),
    ] {
        let r = node
            .client
            .get(format!("{}{bad}", node.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "bad_request", "{bad}");
    }
    drop(speakers);
}
