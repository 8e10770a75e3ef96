//! Debates open themselves: the keeper sends `openDebate` for each new proposal once, never
//! retries a proposal the chain refused for good, and the eligibility cache follows roles
//! as the BondingManager changes them.

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use assembly_indexer::keeper::{signing_provider, Keeper, Outcome};
use assembly_indexer::roles::{Role, Roles};
use assembly_indexer::sync::SyncConfig;
use assembly_testkit::chain::{Mined, TestChain};

async fn propose(chain: &TestChain, description: &str) -> U256 {
    let targets = vec![Address::repeat_byte(0x11)];
    let values = vec![U256::ZERO];
    let calldatas = vec![Bytes::from(vec![0xde, 0xad])];
    let r = chain
        .governor
        .propose(targets, values, calldatas, description.to_string())
        .mined()
        .await;
    assert!(r.status());
    let log = r
        .inner
        .logs()
        .iter()
        .find_map(|l| {
            l.log_decode::<assembly_indexer::bindings::mocks::MockGovernor::ProposalCreated>()
                .ok()
        })
        .unwrap();
    log.inner.data.proposalId
}

async fn keeper_provider(chain: &TestChain, account: usize) -> alloy::providers::DynProvider {
    let signer = PrivateKeySigner::from(chain.anvil.keys()[account].clone());
    signing_provider(&chain.anvil.endpoint(), EthereumWallet::new(signer))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeper_opens_each_debate_once() {
    let mut chain = TestChain::start().await;
    chain.advance(1).await;
    let open = propose(&chain, "LIP-101").await;
    let cancelled = propose(&chain, "LIP-102").await;
    chain.governor.cancel(cancelled).mined().await;
    let late = propose(&chain, "LIP-103").await;

    let store = chain.store();
    let mut follower = chain.follower(
        store.clone(),
        SyncConfig {
            confirmations: 0,
            ..Default::default()
        },
    );
    follower.sync_to_head().await.unwrap();
    // A stranger's account keeps: opening debates needs no permission.
    let keeper = Keeper::new(
        keeper_provider(&chain, 9).await,
        chain.deployment.assembly,
        store.clone(),
    );

    let first = keeper.tick().await.unwrap();
    let ids: Vec<U256> = first.iter().map(|(id, _)| *id).collect();
    assert!(
        !ids.contains(&cancelled),
        "a cancelled proposal is not tried"
    );
    assert!(
        first
            .iter()
            .all(|(_, o)| matches!(o, Outcome::Opened { .. })),
        "{first:?}"
    );
    assert_eq!(ids.len(), 2);
    follower.sync_to_head().await.unwrap();
    let (session, _) = store.debate_of(open).unwrap().expect("debate indexed");
    assert!(store.session(session).unwrap().is_some());
    assert!(store.debate_of(late).unwrap().is_some());

    // Nothing left to do, and a restarted keeper (same store) agrees.
    assert!(keeper.tick().await.unwrap().is_empty());
    let again = Keeper::new(
        keeper_provider(&chain, 8).await,
        chain.deployment.assembly,
        store.clone(),
    );
    assert!(again.tick().await.unwrap().is_empty());

    // A proposal whose vote has finished is refused once and never retried.
    let finished = propose(&chain, "LIP-104").await;
    let _: () = chain
        .provider
        .raw_request("anvil_mine".into(), (U256::from(1_400), U256::from(0)))
        .await
        .unwrap();
    follower.sync_to_head().await.unwrap();
    let pass = again.tick().await.unwrap();
    assert_eq!(pass.len(), 1);
    assert_eq!(pass[0].0, finished);
    assert!(
        matches!(&pass[0].1, Outcome::Refused { reason } if reason.contains("ProposalNotOpen")),
        "{pass:?}"
    );
    assert!(
        again.tick().await.unwrap().is_empty(),
        "refused proposals are not retried"
    );
    assert_eq!(store.keeper_state(finished).unwrap(), (true, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_follow_the_bonding_manager() {
    let mut chain = TestChain::start().await;
    let (orchestrator, delegator, stranger) =
        (chain.accounts[1], chain.accounts[7], chain.accounts[8]);
    chain.advance(1).await;
    chain
        .bonding
        .setBonded(delegator, orchestrator, U256::from(500))
        .mined()
        .await;

    let store = chain.store();
    let mut follower = chain.follower(
        store.clone(),
        SyncConfig {
            confirmations: 0,
            ..Default::default()
        },
    );
    let mut changes = follower.changes().subscribe();
    follower.sync_to_head().await.unwrap();
    let roles = Roles::new(chain.provider.clone(), &chain.deployment);

    let o = roles.standing(orchestrator).await.unwrap();
    assert_eq!(o.role, Role::Orchestrator);
    assert_eq!(o.stake, U256::from(500), "total stake includes delegations");
    assert_eq!(
        roles.standing(delegator).await.unwrap().role,
        Role::Delegator
    );
    assert_eq!(roles.standing(stranger).await.unwrap().role, Role::Observer);

    // Leaving the active set reaches the cache through the follower's change stream.
    chain.bonding.setActive(orchestrator, false).mined().await;
    assert_eq!(
        roles.standing(orchestrator).await.unwrap().role,
        Role::Orchestrator,
        "cached until told"
    );
    follower.sync_to_head().await.unwrap();
    while let Ok(c) = changes.try_recv() {
        roles.observe(&c);
    }
    assert_eq!(
        roles.standing(orchestrator).await.unwrap().role,
        Role::Observer
    );
}
