//! A real anvil per test, with Livepeer's mocks and Assembly deployed from the forge
//! artifacts' bytecode, and a clock the test controls.

use std::future::Future;
use std::sync::Arc;

use alloy::network::EthereumWallet;
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use assembly_indexer::bindings::mocks::{
    MockBondingManager, MockGovernor, MockPollCreator, MockRoundsManager,
};
use assembly_indexer::bindings::{Assembly, IAssembly, NodeRegistry};
use assembly_indexer::deployment::Deployment;
use assembly_indexer::keeper::signing_provider;
use assembly_indexer::store::Store;
use assembly_indexer::sync::{Follower, SyncConfig};

use crate::paths::foundry;

/// A chain with Assembly and Livepeer's mocks deployed, signing for all of anvil's accounts,
/// whose next block's timestamp the test sets.
pub struct TestChain {
    /// The anvil process; it is killed when the chain is dropped.
    pub anvil: AnvilInstance,
    /// A provider over HTTP that signs for every one of anvil's accounts.
    pub provider: DynProvider,
    /// Where everything was deployed, as a deployment file would say.
    pub deployment: Deployment,
    /// Assembly itself.
    pub assembly: Assembly::AssemblyInstance<DynProvider>,
    /// Livepeer's BondingManager, mocked: roles and stake are set by the test.
    pub bonding: MockBondingManager::MockBondingManagerInstance<DynProvider>,
    /// Livepeer's governor, mocked: proposals are made by the test.
    pub governor: MockGovernor::MockGovernorInstance<DynProvider>,
    /// Livepeer's PollCreator, mocked: polls are made by the test.
    pub polls: MockPollCreator::MockPollCreatorInstance<DynProvider>,
    /// The registry of Assembly nodes, governed by account 0.
    pub registry: NodeRegistry::NodeRegistryInstance<DynProvider>,
    /// anvil's accounts; 0 deploys and governs, 1..=5 are orchestrators.
    pub accounts: Vec<Address>,
    /// The next block's timestamp.
    pub clock: u64,
}

/// Where a chain's clock starts unless told otherwise: a fixed time, so histories replay
/// exactly, far enough ahead of the present that no real timestamp overtakes it.
pub const T0: u64 = 2_000_000_000;

impl TestChain {
    /// A chain with anvil's default settings whose clock starts at [`T0`].
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// A chain with `args` passed to anvil whose clock starts at [`T0`].
    pub async fn start_with(args: &[&str]) -> Self {
        Self::start_at(args, T0).await
    }

    /// A chain whose clock starts at `t0` (tests of wall-clock services use the present).
    pub async fn start_at(args: &[&str], t0: u64) -> Self {
        let anvil = Anvil::new()
            .path(foundry("anvil"))
            .args(args.iter().copied())
            .spawn();
        let keys: Vec<PrivateKeySigner> = anvil
            .keys()
            .iter()
            .map(|k| PrivateKeySigner::from(k.clone()))
            .collect();
        let mut wallet = EthereumWallet::new(keys[0].clone());
        for k in &keys[1..] {
            wallet.register_signer(k.clone());
        }
        let provider = signing_provider(&anvil.endpoint(), wallet)
            .await
            .expect("a provider for anvil");
        let accounts: Vec<Address> = keys.iter().map(|k| k.address()).collect();
        let mut chain = Self::deploy(anvil, provider, accounts, t0).await;
        let orchestrators = chain.accounts[1..=5].to_vec();
        for o in orchestrators {
            chain.bonding.setActive(o, true).mined().await;
        }
        chain.clock = t0;
        chain
    }

    async fn deploy(
        anvil: AnvilInstance,
        provider: DynProvider,
        accounts: Vec<Address>,
        t0: u64,
    ) -> Self {
        // Deploy a little before `t0`, unless the chain is already past that (a chain
        // started at the present keeps the present).
        let genesis = provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .expect("anvil answers for its latest block")
            .expect("anvil has a latest block");
        if genesis.header.timestamp < t0 - 1000 {
            provider
                .raw_request::<_, ()>("evm_setNextBlockTimestamp".into(), (t0 - 1000,))
                .await
                .expect("anvil sets the next timestamp");
        }
        let rounds = MockRoundsManager::deploy(provider.clone(), U256::from(100), U256::from(4000))
            .await
            .expect("MockRoundsManager deployed");
        let bonding =
            MockBondingManager::deploy(provider.clone(), *rounds.address(), U256::from(100))
                .await
                .expect("MockBondingManager deployed");
        let governor = MockGovernor::deploy(
            provider.clone(),
            *rounds.address(),
            U256::from(1),
            U256::from(10),
        )
        .await
        .expect("MockGovernor deployed");
        let polls = MockPollCreator::deploy(provider.clone(), *bonding.address())
            .await
            .expect("MockPollCreator deployed");
        let token = Address::repeat_byte(0x77);
        let defaults = IAssembly::Defaults {
            slotLength: 120,
            maxQueue: 16,
            debateDuration: 3600,
            debateLead: 1800,
            debateNotice: 600,
            l1BlockTime: 12,
            debateSpeakers: 1,
            minDelegatorStake: alloy::primitives::Uint::from(1u64),
        };
        let deploy_block = provider
            .get_block_number()
            .await
            .expect("anvil answers for its block number")
            + 1;
        let assembly = Assembly::deploy(
            provider.clone(),
            accounts[0],
            *bonding.address(),
            *rounds.address(),
            *governor.address(),
            token,
            *polls.address(),
            defaults,
        )
        .await
        .expect("Assembly deployed");
        let registry = NodeRegistry::deploy(provider.clone(), accounts[0], *bonding.address())
            .await
            .expect("NodeRegistry deployed");
        let deployment = Deployment {
            network: "test".into(),
            chain_id: provider
                .get_chain_id()
                .await
                .expect("anvil answers for its chain id"),
            deploy_block,
            assembly: *assembly.address(),
            bonding_manager: *bonding.address(),
            rounds_manager: *rounds.address(),
            governor: *governor.address(),
            livepeer_token: token,
            poll_creator: Some(*polls.address()),
            node_registry: Some(*registry.address()),
            record_anchor: None,
            controller: None,
            orchestrators: accounts[1..=3].to_vec(),
            delegators: vec![],
        };
        Self {
            anvil,
            provider,
            deployment,
            assembly,
            bonding,
            governor,
            polls,
            registry,
            accounts,
            clock: t0,
        }
    }

    /// Sets the next block's timestamp `dt` seconds on.
    pub async fn advance(&mut self, dt: u64) {
        self.clock += dt.max(1);
        self.provider
            .raw_request::<_, ()>("evm_setNextBlockTimestamp".into(), (self.clock,))
            .await
            .expect("anvil sets the next timestamp");
    }

    /// Mines an empty block at the clock.
    pub async fn mine(&mut self) {
        self.provider
            .raw_request::<_, String>("evm_mine".into(), ())
            .await
            .expect("anvil mines a block");
    }

    /// A one-off open floor for orchestrators.
    pub async fn create_session(
        &mut self,
        start: u64,
        duration: u64,
        slot: u32,
        max_queue: u16,
    ) -> u64 {
        let p = IAssembly::SessionParams {
            start: alloy::primitives::Uint::from(start),
            duration: alloy::primitives::Uint::from(duration),
            period: alloy::primitives::Uint::from(0u64),
            count: 0,
            slotLength: slot,
            maxQueue: max_queue,
            speakers: 0,
            kind: 0,
            proposalId: U256::ZERO,
        };
        self.advance(1).await;
        self.assembly.createSession(p).mined().await;
        self.assembly
            .sessionCount()
            .call()
            .await
            .expect("Assembly answers sessionCount")
            .to::<u64>()
    }

    /// Sends `call` from `from`; false if the chain refused it (the reason printed, for the
    /// test's output).
    pub async fn try_send(
        &self,
        call: alloy::contract::CallBuilder<
            &DynProvider,
            std::marker::PhantomData<impl alloy::sol_types::SolCall>,
        >,
        from: Address,
    ) -> bool {
        match call.from(from).send().await {
            Ok(pending) => match pending.get_receipt().await {
                Ok(r) if r.status() => true,
                Ok(r) => {
                    eprintln!(
                        "try_send from {from}: reverted in {} ({} gas)",
                        r.transaction_hash, r.gas_used
                    );
                    false
                }
                Err(e) => {
                    eprintln!("try_send from {from}: no receipt: {e}");
                    false
                }
            },
            Err(e) => {
                eprintln!("try_send from {from}: refused: {e}");
                false
            }
        }
    }

    /// An empty in-memory store.
    pub fn store(&self) -> Arc<Store> {
        Arc::new(Store::in_memory().expect("an in-memory store"))
    }

    /// A follower of this chain's deployment writing to `store`, without a keeper.
    pub fn follower(&self, store: Arc<Store>, config: SyncConfig) -> Follower {
        Follower::new(
            self.provider.clone(),
            store,
            self.deployment.clone(),
            config,
            false,
        )
    }

    /// Indexes the whole chain into a fresh store.
    pub async fn fresh_index(&self) -> Arc<Store> {
        let store = self.store();
        let mut f = self.follower(
            store.clone(),
            SyncConfig {
                confirmations: 0,
                ..SyncConfig::default()
            },
        );
        f.sync_to_head()
            .await
            .expect("the follower indexes the chain");
        store
    }
}

/// Sending a contract call and waiting for it to be mined, the step most tests repeat.
pub trait Mined {
    /// Sends the call (from account 0 unless it names another) and waits for its receipt;
    /// panics if either fails. For a call the chain may refuse, [`TestChain::try_send`].
    fn mined(self) -> impl Future<Output = alloy::rpc::types::TransactionReceipt> + Send;
}

impl<C: alloy::sol_types::SolCall + Send + Sync> Mined
    for alloy::contract::CallBuilder<&DynProvider, std::marker::PhantomData<C>>
{
    async fn mined(self) -> alloy::rpc::types::TransactionReceipt {
        self.send()
            .await
            .expect("the call was sent")
            .get_receipt()
            .await
            .expect("its receipt")
    }
}

/// A one-off open floor for orchestrators from `start`, an hour long, with `slot`-second
/// slots and a queue of eight; returns its id. Unlike [`TestChain::create_session`] it
/// leaves the clock alone, for chains that follow the present.
pub async fn open_session(chain: &TestChain, start: u64, slot: u32) -> u64 {
    one_off_session(chain, start, 3600, slot).await
}

/// A one-off open floor for orchestrators from `start`, `duration` seconds long, with
/// `slot`-second slots and a queue of eight; returns its id. Leaves the clock alone.
pub async fn one_off_session(chain: &TestChain, start: u64, duration: u64, slot: u32) -> u64 {
    let p = IAssembly::SessionParams {
        start: alloy::primitives::Uint::from(start),
        duration: alloy::primitives::Uint::from(duration),
        period: alloy::primitives::Uint::from(0u64),
        count: 0,
        slotLength: slot,
        maxQueue: 8,
        speakers: 0,
        kind: 0,
        proposalId: U256::ZERO,
    };
    chain.assembly.createSession(p).mined().await;
    chain
        .assembly
        .sessionCount()
        .call()
        .await
        .expect("Assembly answers sessionCount")
        .to::<u64>()
}

/// Account `i` asks for the floor in `session`: an `enqueue`, mined; panics if refused.
pub async fn enqueue(chain: &TestChain, session: u64, i: usize) {
    let sent = chain
        .try_send(
            chain.assembly.enqueue(U256::from(session)),
            chain.accounts[i],
        )
        .await;
    assert!(sent, "account {i} enqueued in session {session}");
}
