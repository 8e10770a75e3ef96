//! ENS names on anvil: an ENS registry and resolver (the mocks) hold reverse and forward
//! records; the node shows a name only when it resolves both ways, and an avatar only as an
//! https or inline image URL.

use std::time::Duration;

use alloy::primitives::Address;
use assembly_indexer::bindings::ens::{MockENS, MockENSResolver};
use assembly_node::names::{namehash, reverse_node};
use assembly_testkit::chain::{Mined, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::node::{get_json, node_with};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_resolve_both_ways_or_not_at_all() {
    let chain = TestChain::start_at(&[], now()).await;
    let ens = MockENS::deploy(chain.provider.clone()).await.unwrap();
    let resolver = MockENSResolver::deploy(chain.provider.clone())
        .await
        .unwrap();
    let a = |i: usize| chain.accounts[i];
    let name = |who: Address, claimed: &str| {
        let (ens, resolver) = (&ens, &resolver);
        let claimed = claimed.to_string();
        async move {
            ens.setResolver(reverse_node(who), *resolver.address())
                .mined()
                .await;
            resolver.setName(reverse_node(who), claimed).mined().await;
        }
    };
    let forward = |claimed: &str, to: Address, avatar: &str| {
        let (ens, resolver) = (&ens, &resolver);
        let node = namehash(claimed);
        let avatar = avatar.to_string();
        async move {
            ens.setResolver(node, *resolver.address()).mined().await;
            resolver.setAddr(node, to).mined().await;
            resolver
                .setText(node, "avatar".into(), avatar)
                .mined()
                .await;
        }
    };
    name(a(1), "alice.eth").await;
    forward("alice.eth", a(1), "https://example.org/alice.png").await;
    // Account 2 claims alice's name in its own reverse record: the forward check refuses it.
    name(a(2), "alice.eth").await;
    name(a(4), "bob.eth").await;
    forward("bob.eth", a(4), "ipfs://QmAvatar").await;

    let registry = *ens.address();
    let endpoint = chain.anvil.endpoint();
    let node = node_with(
        &chain,
        chain.anvil.endpoint(),
        Duration::from_millis(50),
        |c| {
            c.ens_rpc_url = Some(endpoint);
            c.ens_registry = registry;
        },
    )
    .await;
    let of = |i: usize| format!("/api/v1/names/{}", a(i));
    assert_eq!(
        get_json(&node, &of(1)).await,
        json!({"name": "alice.eth", "avatar": "https://example.org/alice.png"})
    );
    let nobody = json!({"name": null, "avatar": null});
    assert_eq!(
        get_json(&node, &of(2)).await,
        nobody,
        "a reverse record the name does not confirm"
    );
    assert_eq!(get_json(&node, &of(3)).await, nobody, "no reverse record");
    assert_eq!(
        get_json(&node, &of(4)).await,
        json!({"name": "bob.eth", "avatar": null}),
        "an IPFS avatar is not passed on"
    );
    let bad: Value = node
        .client
        .get(format!("{}/api/v1/names/0x12", node.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bad["error"], "bad_request");
}
