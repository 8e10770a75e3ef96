//! The node registry as the indexer knows it, on anvil: nodes registered, moved, re-keyed,
//! suspended, approved and removed are indexed as the registry has them; membership follows
//! Livepeer's active set with no event of the registry's; a stranger cannot register; a
//! registration a reorg undoes is gone from the index.

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use assembly_indexer::api::{router, ApiState};
use assembly_indexer::events::NodeStanding;
use assembly_indexer::nodes::RegisteredNode;
use assembly_indexer::roles::Roles;
use assembly_indexer::store::Store;
use assembly_indexer::sync::SyncConfig;
use assembly_testkit::chain::{Mined, TestChain};
use assembly_testkit::registry::{key_proof, register_node};

fn config() -> SyncConfig {
    SyncConfig {
        confirmations: 0,
        ..SyncConfig::default()
    }
}

fn node(store: &Store, operator: Address) -> Option<RegisteredNode> {
    store
        .nodes()
        .unwrap()
        .into_iter()
        .find(|n| n.operator == operator)
}

/// `/v1/nodes` over `store`, with role lookups, as (operator, member) pairs.
async fn members(chain: &TestChain, store: std::sync::Arc<Store>) -> Vec<(Address, bool)> {
    let follower = chain.follower(store.clone(), config());
    let api = router(ApiState {
        store,
        changes: follower.changes(),
        progress: follower.progress(),
        roles: Some(std::sync::Arc::new(Roles::new(
            chain.provider.clone(),
            &chain.deployment,
        ))),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, api).await });
    let body: serde_json::Value = reqwest::get(format!("http://{at}/v1/nodes"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body.as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["operator"].as_str().unwrap().parse().unwrap(),
                n["member"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_is_what_the_registry_says() {
    let chain = TestChain::start().await;
    let (one, two, stranger) = (chain.accounts[1], chain.accounts[2], chain.accounts[7]);
    let store = chain.store();
    let mut follower = chain.follower(store.clone(), config());

    let key_one = register_node(&chain, one, "https://one.example")
        .await
        .expect("an orchestrator registers");
    let key_two = register_node(&chain, two, "https://two.example")
        .await
        .expect("another orchestrator registers");
    assert!(
        register_node(&chain, stranger, "https://stranger.example")
            .await
            .is_none(),
        "a stranger may not register"
    );
    // A key whose holder did not consent (a proof for another operator) is refused.
    let taken = PrivateKeySigner::random();
    let proof_for_one = key_proof(&chain, one, &taken).await;
    assert!(
        !chain
            .try_send(
                chain.registry.register(
                    "https://three.example".into(),
                    taken.address(),
                    proof_for_one
                ),
                chain.accounts[3]
            )
            .await,
        "a key proof made out to someone else"
    );
    follower.sync_to_head().await.unwrap();
    let n1 = node(&store, one).expect("node one indexed");
    assert_eq!(
        (n1.key, n1.url.as_str(), n1.standing),
        (
            key_one.address(),
            "https://one.example",
            NodeStanding::Default
        )
    );
    assert_eq!(node(&store, two).unwrap().key, key_two.address());
    assert!(node(&store, stranger).is_none());

    // Moved, re-keyed; one leaves the active set; governance suspends two and approves
    // the stranger, who then registers.
    chain
        .registry
        .updateUrl("https://one.example/assembly".into())
        .from(one)
        .mined()
        .await;
    let rekeyed = PrivateKeySigner::random();
    let proof = key_proof(&chain, one, &rekeyed).await;
    chain
        .registry
        .rotateKey(rekeyed.address(), proof)
        .from(one)
        .mined()
        .await;
    chain.bonding.setActive(one, false).mined().await;
    chain.registry.setStanding(two, 2).mined().await;
    chain.registry.setStanding(stranger, 1).mined().await;
    register_node(&chain, stranger, "https://foundation.example")
        .await
        .expect("an approved operator registers");
    follower.sync_to_head().await.unwrap();
    let n1 = node(&store, one).unwrap();
    assert_eq!(
        (n1.key, n1.url.as_str()),
        (rekeyed.address(), "https://one.example/assembly")
    );
    assert_eq!(node(&store, two).unwrap().standing, NodeStanding::Suspended);
    assert_eq!(
        node(&store, stranger).unwrap().standing,
        NodeStanding::Approved
    );
    let mut expected = vec![(one, false), (two, false), (stranger, true)];
    expected.sort();
    assert_eq!(members(&chain, store.clone()).await, expected);
    // The indexer's rule is the registry's own.
    for (operator, member) in &expected {
        assert_eq!(
            chain.registry.isMember(*operator).call().await.unwrap(),
            *member,
            "{operator}"
        );
    }

    // Deregistered: gone. Then a registration that a reorg undoes.
    chain.registry.deregister().from(two).mined().await;
    follower.sync_to_head().await.unwrap();
    assert!(node(&store, two).is_none());
    let snapshot: U256 = chain
        .provider
        .raw_request("evm_snapshot".into(), ())
        .await
        .unwrap();
    register_node(&chain, chain.accounts[4], "https://four.example")
        .await
        .expect("registered before the reorg");
    follower.sync_to_head().await.unwrap();
    assert!(node(&store, chain.accounts[4]).is_some());
    let _: bool = chain
        .provider
        .raw_request("evm_revert".into(), (snapshot,))
        .await
        .unwrap();
    for _ in 0..3 {
        let _: String = chain
            .provider
            .raw_request("evm_mine".into(), ())
            .await
            .unwrap();
    }
    follower.sync_to_head().await.unwrap();
    assert!(
        node(&store, chain.accounts[4]).is_none(),
        "the reorg undid the registration"
    );
    assert_eq!(
        store.nodes().unwrap(),
        chain.fresh_index().await.nodes().unwrap(),
        "a fresh index agrees"
    );
}
