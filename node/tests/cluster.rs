//! The cluster endpoint on anvil: a node creates its key, its operator registers it, and
//! the node lists itself and its siblings as the registry has them; a node whose operator
//! leaves Livepeer's active set is listed but no longer a member.

use std::time::{Duration, Instant};

use alloy::primitives::Address;
use assembly_testkit::chain::{Mined, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::node::{get_json, node, Node};
use assembly_testkit::registry::{node_key, register_key, register_node};
use serde_json::Value;

/// The node's cluster view once `ready` holds of it (the embedded indexer follows the chain).
async fn cluster_when(node: &Node, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let t0 = Instant::now();
    loop {
        let v = get_json(node, "/api/v1/cluster").await;
        if ready(&v) {
            return v;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "{what}: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn address(v: &Value) -> Option<Address> {
    v.as_str()?.parse().ok()
}

fn entry(view: &Value, operator: Address) -> Option<&Value> {
    view["nodes"]
        .as_array()?
        .iter()
        .find(|n| address(&n["operator"]) == Some(operator))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_knows_the_cluster_from_the_chain() {
    let chain = TestChain::start_at(&[], now()).await;
    let node = node(&chain, chain.anvil.endpoint(), Duration::from_millis(50)).await;
    let (mine, sibling) = (chain.accounts[1], chain.accounts[2]);

    // Unregistered, the node still knows its key and says it is no member.
    let key = node_key(node.dir());
    let view = get_json(&node, "/api/v1/cluster").await;
    assert_eq!(address(&view["key"]), Some(key.address()));
    assert_eq!(view["member"], false);

    assert!(register_key(&chain, mine, &key, "https://mine.example").await);
    register_node(&chain, sibling, "https://sibling.example")
        .await
        .expect("a sibling registers");
    let view = cluster_when(&node, "both nodes listed", |v| {
        v["nodes"].as_array().is_some_and(|n| n.len() == 2)
    })
    .await;
    assert_eq!(view["member"], true);
    let me = entry(&view, mine).unwrap();
    assert_eq!(
        (
            me["this"].as_bool(),
            me["member"].as_bool(),
            me["url"].as_str()
        ),
        (Some(true), Some(true), Some("https://mine.example"))
    );
    let other = entry(&view, sibling).unwrap();
    assert_eq!(
        (other["this"].as_bool(), other["member"].as_bool()),
        (Some(false), Some(true))
    );

    // The sibling's operator leaves the active set: still registered, no longer a member.
    chain.bonding.setActive(sibling, false).mined().await;
    let view = cluster_when(&node, "the sibling no longer a member", |v| {
        entry(v, sibling).is_some_and(|n| n["member"] == false)
    })
    .await;
    assert_eq!(entry(&view, mine).unwrap()["member"], true);
}
