//! Livepeer as it really is, on anvil: the keeper opens each poll's debate once, votes on
//! polls and governor proposals are indexed exactly as cast and follow a reorg, and a rebond
//! or a transferred bond changes a role in the block it happens.

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use assembly_indexer::bindings::mocks::MockPollCreator;
use assembly_indexer::events::Kind;
use assembly_indexer::keeper::{signing_provider, Keeper, Outcome};
use assembly_indexer::roles::{Role, Roles};
use assembly_indexer::store::Store;
use assembly_indexer::sync::{Change, SyncConfig};
use assembly_testkit::chain::{Mined, TestChain};
use assembly_testkit::rng::Rng;

const LPT: u64 = 1_000_000_000_000_000_000;

fn lpt(n: u64) -> U256 {
    U256::from(n) * U256::from(LPT)
}

fn id_of(poll: Address) -> U256 {
    U256::from_be_slice(poll.as_slice())
}

/// Creates a poll from `creator` (who needs 100 LPT of stake) and returns its address.
async fn create_poll(chain: &TestChain, creator: Address, cid: &str) -> Address {
    let r = chain
        .polls
        .createPoll(Bytes::from(cid.as_bytes().to_vec()))
        .from(creator)
        .mined()
        .await;
    assert!(r.status(), "createPoll mined");
    r.inner
        .logs()
        .iter()
        .find_map(|l| l.log_decode::<MockPollCreator::PollCreated>().ok())
        .expect("PollCreated")
        .inner
        .data
        .poll
}

/// Account 7, bonded with the 100 LPT PollCreator asks of a poll's creator.
async fn poll_creator(chain: &TestChain) -> Address {
    let creator = chain.accounts[7];
    chain
        .bonding
        .setBonded(creator, chain.accounts[1], lpt(100))
        .mined()
        .await;
    creator
}

/// The governor proposal id a `propose` receipt announces.
fn proposal_id_of(r: &alloy::rpc::types::TransactionReceipt) -> U256 {
    r.inner
        .logs()
        .iter()
        .find_map(|l| {
            l.log_decode::<assembly_indexer::bindings::mocks::MockGovernor::ProposalCreated>()
                .ok()
        })
        .expect("ProposalCreated")
        .inner
        .data
        .proposalId
}

/// The indexer's read API over `store`, on a loopback port.
async fn serve_api(
    chain: &TestChain,
    store: std::sync::Arc<Store>,
    roles: Option<Roles>,
) -> std::net::SocketAddr {
    let follower = chain.follower(store.clone(), follower_config());
    let api = assembly_indexer::api::router(assembly_indexer::api::ApiState {
        store,
        changes: follower.changes(),
        progress: follower.progress(),
        roles: roles.map(std::sync::Arc::new),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, api).await });
    at
}

async fn keeper_provider(chain: &TestChain, account: usize) -> alloy::providers::DynProvider {
    let signer = PrivateKeySigner::from(chain.anvil.keys()[account].clone());
    signing_provider(&chain.anvil.endpoint(), EthereumWallet::new(signer))
        .await
        .unwrap()
}

fn follower_config() -> SyncConfig {
    SyncConfig {
        confirmations: 0,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeper_opens_each_poll_debate_once() {
    let mut chain = TestChain::start().await;
    chain.advance(1).await;
    let creator = poll_creator(&chain).await;
    let first = create_poll(&chain, creator, "QmFirst").await;
    let second = create_poll(&chain, creator, "QmSecond").await;

    let dir = std::env::temp_dir().join(format!("assembly-polls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("index.sqlite");
    let _ = std::fs::remove_file(&path);
    let store = std::sync::Arc::new(Store::open(&path).unwrap());
    let mut follower = chain.follower(store.clone(), follower_config());
    follower.sync_to_head().await.unwrap();
    assert_eq!(
        store.polls().unwrap(),
        vec![first, second],
        "in creation order"
    );

    let keeper = Keeper::new(
        keeper_provider(&chain, 9).await,
        chain.deployment.assembly,
        store.clone(),
    );
    let pass = keeper.tick().await.unwrap();
    assert_eq!(pass.len(), 2, "{pass:?}");
    assert!(
        pass.iter()
            .all(|(_, o)| matches!(o, Outcome::Opened { .. })),
        "{pass:?}"
    );
    follower.sync_to_head().await.unwrap();
    for poll in [first, second] {
        let (session, vote_closes_at) = store
            .debate_of(id_of(poll))
            .unwrap()
            .expect("debate indexed");
        let row = store.session(session).unwrap().expect("session indexed");
        // The debate ends before the vote it precedes closes.
        assert!(row.schedule.start < vote_closes_at);
        assert_eq!(row.kind, Kind::LipDebate);
    }

    // The keeper is gone (its process killed) and another starts on the same database: it
    // has nothing to do, and neither does the chain's idempotent `openPollDebate` leave a
    // second session.
    drop(keeper);
    drop(follower);
    drop(store);
    let store = std::sync::Arc::new(Store::open(&path).unwrap());
    let again = Keeper::new(
        keeper_provider(&chain, 8).await,
        chain.deployment.assembly,
        store.clone(),
    );
    assert!(again.tick().await.unwrap().is_empty());
    // (A poll already over when the keeper sees it is refused with `PollEnded`, tested in
    // forge: reaching its end block here would take mining 57,600 anvil blocks.)
    let _ = std::fs::remove_dir_all(&dir);
}

/// One vote as the store should hold it: (voter, support, weight, reason).
type Cast = (Address, u8, Option<U256>, String);

/// Casts `n` random votes on the governor proposal `pid` and the poll `poll`.
async fn cast_votes(
    chain: &TestChain,
    rng: &mut Rng,
    pid: U256,
    poll: Address,
    n: usize,
    governor_votes: &mut Vec<Cast>,
    poll_votes: &mut Vec<Cast>,
) {
    for _ in 0..n {
        let voter = chain.accounts[1 + rng.below(9) as usize];
        if rng.below(2) == 0 {
            let choice = rng.below(2);
            let r = chain
                .polls
                .provider()
                .send_transaction(
                    alloy::rpc::types::TransactionRequest::default()
                        .from(voter)
                        .to(poll)
                        .input(
                            alloy::sol_types::SolCall::abi_encode(
                                &assembly_indexer::bindings::livepeer::IPoll::voteCall {
                                    _choiceID: U256::from(choice),
                                },
                            )
                            .into(),
                        ),
                )
                .await
                .unwrap();
            let r = receipt(chain, *r.tx_hash()).await;
            assert!(r.status());
            poll_votes.push((voter, choice as u8, None, String::new()));
        } else {
            // A voter votes once on a governor proposal; a second try is refused.
            if governor_votes.iter().any(|v| v.0 == voter) {
                continue;
            }
            let weight = lpt(1 + rng.below(1000));
            let set = chain.governor.setVotes(voter, weight).send().await.unwrap();
            receipt(chain, *set.tx_hash()).await;
            let support = rng.below(3) as u8;
            let reason = if rng.below(3) == 0 {
                String::new()
            } else {
                format!("reason {} — ünïcode", rng.below(1_000_000))
            };
            let sent = if rng.below(2) == 0 {
                chain
                    .governor
                    .castVoteWithReason(pid, support, reason.clone())
                    .from(voter)
                    .send()
                    .await
            } else {
                chain
                    .governor
                    .castVoteWithReasonAndParams(
                        pid,
                        support,
                        reason.clone(),
                        Bytes::from(vec![1, 2, 3]),
                    )
                    .from(voter)
                    .send()
                    .await
            };
            let r = receipt(chain, *sent.unwrap().tx_hash()).await;
            assert!(r.status());
            governor_votes.push((voter, support, Some(weight), reason));
        }
    }
}

/// The receipt of a transaction anvil mines at once, read by hash: a pending-transaction
/// watcher follows new blocks, and after `evm_revert` the chain's height goes back, which
/// can leave it waiting for a block it already saw.
async fn receipt(
    chain: &TestChain,
    hash: alloy::primitives::B256,
) -> alloy::rpc::types::TransactionReceipt {
    for _ in 0..200 {
        if let Some(r) = chain.provider.get_transaction_receipt(hash).await.unwrap() {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no receipt for {hash}");
}

fn indexed(store: &Store, id: U256) -> Vec<Cast> {
    store
        .votes(id)
        .unwrap()
        .into_iter()
        .map(|v| (v.voter, v.support, v.weight, v.reason))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_indexed_are_votes_cast_and_follow_a_reorg() {
    let mut chain = TestChain::start().await;
    chain.advance(1).await;
    poll_creator(&chain).await;
    let r = chain
        .governor
        .propose(
            vec![Address::repeat_byte(0x11)],
            vec![U256::ZERO],
            vec![Bytes::from(vec![0xde, 0xad])],
            "Treasury: fund the Hansard".into(),
        )
        .mined()
        .await;
    let pid = proposal_id_of(&r);
    // Votes open at the proposal's snapshot round: move one round on.
    let _: () = chain
        .provider
        .raw_request("anvil_mine".into(), (U256::from(200), U256::from(0)))
        .await
        .unwrap();
    // The poll is created in the same follower batch as its first votes.
    let poll = create_poll(&chain, chain.accounts[7], "QmVotes").await;

    let store = chain.store();
    let mut follower = chain.follower(
        store.clone(),
        SyncConfig {
            confirmations: 50,
            max_batch: 1000,
            ..Default::default()
        },
    );
    let mut rng = Rng(0x5eed_7013);
    let (mut governor_votes, mut poll_votes) = (Vec::new(), Vec::new());
    cast_votes(
        &chain,
        &mut rng,
        pid,
        poll,
        30,
        &mut governor_votes,
        &mut poll_votes,
    )
    .await;
    follower.sync_to_head().await.unwrap();
    assert!(!governor_votes.is_empty() && !poll_votes.is_empty());
    assert_eq!(indexed(&store, pid), governor_votes, "governor votes");
    assert_eq!(
        store.proposer(pid).unwrap(),
        Some(chain.accounts[0]),
        "the proposer"
    );
    assert_eq!(
        store.proposer(id_of(poll)).unwrap(),
        Some(chain.accounts[7]),
        "a poll's creator, from its transaction"
    );
    assert_eq!(indexed(&store, id_of(poll)), poll_votes, "poll votes");
    assert!(store.is_poll(id_of(poll)).unwrap());
    assert!(!store.is_poll(pid).unwrap());

    // Fork: the last votes the indexer applied are replaced by others.
    let snapshot: U256 = chain
        .provider
        .raw_request("evm_snapshot".into(), ())
        .await
        .unwrap();
    let (kept_governor, kept_poll) = (governor_votes.clone(), poll_votes.clone());
    cast_votes(
        &chain,
        &mut rng,
        pid,
        poll,
        12,
        &mut governor_votes,
        &mut poll_votes,
    )
    .await;
    let mut changes = follower.changes().subscribe();
    follower.sync_to_head().await.unwrap();
    let _: bool = chain
        .provider
        .raw_request("evm_revert".into(), (snapshot,))
        .await
        .unwrap();
    let (mut governor_votes, mut poll_votes) = (kept_governor, kept_poll);
    let mut other = Rng(777);
    cast_votes(
        &chain,
        &mut other,
        pid,
        poll,
        16,
        &mut governor_votes,
        &mut poll_votes,
    )
    .await;
    follower.sync_to_head().await.unwrap();
    let mut rolled_back = false;
    while let Ok(c) = changes.try_recv() {
        rolled_back |= matches!(c, Change::RolledBack { .. });
    }
    assert!(rolled_back, "the follower saw the reorg");
    assert_eq!(
        indexed(&store, pid),
        governor_votes,
        "governor votes after the reorg"
    );
    assert_eq!(
        indexed(&store, id_of(poll)),
        poll_votes,
        "poll votes after the reorg"
    );
    let fresh = chain.fresh_index().await;
    assert_eq!(indexed(&fresh, pid), governor_votes, "a fresh index agrees");
    assert_eq!(
        indexed(&fresh, id_of(poll)),
        poll_votes,
        "a fresh index agrees"
    );

    // Served: the governor's tally by weight; the poll's by each voter's last vote, with
    // every voter's standing.
    let roles = Roles::new(chain.provider.clone(), &chain.deployment);
    let at = serve_api(&chain, store.clone(), Some(roles)).await;
    let get = |path: String| async move {
        reqwest::get(format!("http://{at}{path}"))
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    let g = get(format!("/v1/proposals/{pid}/votes")).await;
    assert_eq!(g["kind"], "governor");
    assert_eq!(g["votes"].as_array().unwrap().len(), governor_votes.len());
    for (support, line) in g["tally"].as_array().unwrap().iter().enumerate() {
        let want: U256 = governor_votes
            .iter()
            .filter(|v| usize::from(v.1) == support)
            .map(|v| v.2.unwrap())
            .fold(U256::ZERO, |a, b| a + b);
        let got: U256 = line["weight"].as_str().unwrap().parse().unwrap();
        assert_eq!(got, want, "governor tally line {support}");
    }
    let p = get(format!("/v1/proposals/{poll}/votes")).await;
    assert_eq!(p["kind"], "poll");
    let mut last = std::collections::HashMap::new();
    for v in &poll_votes {
        last.insert(v.0, v.1);
    }
    let yes = last.values().filter(|c| **c == 0).count() as u64;
    assert_eq!(p["tally"][0]["choice"], "yes");
    assert_eq!(
        p["tally"][0]["voters"].as_u64(),
        Some(yes),
        "each voter's last vote"
    );
    assert_eq!(
        p["tally"][1]["voters"].as_u64(),
        Some(last.len() as u64 - yes)
    );
    let standings = p["standings"].as_array().unwrap();
    assert_eq!(standings.len(), last.len(), "one standing per voter");
    assert!(standings.iter().all(|s| s["standing"]["role"].is_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebond_and_transfer_bond_change_roles_in_their_block() {
    let mut chain = TestChain::start().await;
    let (orchestrator, delegator, receiver) =
        (chain.accounts[1], chain.accounts[7], chain.accounts[8]);
    chain.advance(1).await;
    chain
        .bonding
        .setBonded(delegator, orchestrator, lpt(500))
        .mined()
        .await;
    // Unbond everything: lock 0 holds the 500 LPT.
    chain
        .bonding
        .setBonded(delegator, orchestrator, U256::ZERO)
        .mined()
        .await;

    let store = chain.store();
    let mut follower = chain.follower(store.clone(), follower_config());
    let mut changes = follower.changes().subscribe();
    follower.sync_to_head().await.unwrap();
    let roles = Roles::new(chain.provider.clone(), &chain.deployment);
    let observe = |changes: &mut tokio::sync::broadcast::Receiver<Change>| {
        while let Ok(c) = changes.try_recv() {
            roles.observe(&c);
        }
    };
    observe(&mut changes);
    assert_eq!(
        roles.standing(delegator).await.unwrap().role,
        Role::Observer
    );
    assert_eq!(roles.standing(receiver).await.unwrap().role, Role::Observer);
    let before = roles.standing(orchestrator).await.unwrap().stake;

    // Rebond: the delegator (and its orchestrator's total) change in that block.
    let r = chain.bonding.rebond(delegator, U256::ZERO).mined().await;
    let block = r.block_number.unwrap();
    follower.sync_to_head().await.unwrap();
    observe(&mut changes);
    let d = roles.standing(delegator).await.unwrap();
    assert_eq!(d.role, Role::Delegator, "rebonded in block {block}");
    assert_eq!(d.stake, lpt(500));
    assert_eq!(
        roles.standing(orchestrator).await.unwrap().stake,
        before + lpt(500),
        "the delegate's total moved too"
    );

    // TransferBond: both sides change in that block, no round boundary needed.
    chain
        .bonding
        .transferBond(delegator, receiver, lpt(200))
        .mined()
        .await;
    follower.sync_to_head().await.unwrap();
    observe(&mut changes);
    let d = roles.standing(delegator).await.unwrap();
    let n = roles.standing(receiver).await.unwrap();
    assert_eq!((d.role, d.stake), (Role::Delegator, lpt(300)));
    assert_eq!((n.role, n.stake), (Role::Delegator, lpt(200)));
}

/// The demo's IPFS gateway stand-in (tools/ipfs/gateway.py), serving script/demo on `port`.
struct DemoGateway(std::process::Child);

impl DemoGateway {
    async fn start(port: u16) -> Self {
        let child = std::process::Command::new("python3")
            .arg(assembly_testkit::paths::repo_path("tools/ipfs/gateway.py"))
            .arg(assembly_testkit::paths::repo_path("script/demo"))
            .arg(port.to_string())
            .spawn()
            .expect("python3 runs the gateway stand-in");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Self(child)
    }
}

impl Drop for DemoGateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lip_titles_are_resolved_verified_and_retried() {
    use assembly_indexer::ipfs::Gateway;
    use assembly_indexer::titles::{Resolver, FIRST_BACKOFF};

    let mut chain = TestChain::start().await;
    chain.advance(1).await;
    poll_creator(&chain).await;
    let cid = std::process::Command::new("python3")
        .arg(assembly_testkit::paths::repo_path("tools/ipfs/gateway.py"))
        .arg("--cid")
        .arg(assembly_testkit::paths::repo_path(
            "script/demo/sample-lip.json",
        ))
        .output()
        .expect("the gateway stand-in prints a CID");
    let cid = String::from_utf8(cid.stdout).unwrap().trim().to_string();
    let poll = create_poll(&chain, chain.accounts[7], &cid).await;
    let store = chain.fresh_index().await;
    let id = id_of(poll);
    let shown = store.title(id).unwrap().expect("a poll has a title row");
    assert_eq!(
        (shown.lip, shown.title.as_deref(), shown.cid.as_deref()),
        (None, None, Some(cid.as_str())),
        "shown by its CID until resolved"
    );

    // The gateway is down: the poll is retried later, not given up on.
    let port = assembly_testkit::ports::free_port();
    let gateway = Gateway::new(
        format!("http://127.0.0.1:{port}"),
        std::time::Duration::from_secs(2),
    )
    .unwrap();
    let resolver = Resolver::new(gateway, store.clone());
    let now = 1_000_000;
    assert_eq!(resolver.tick(now).await.unwrap(), 0);
    assert!(
        store.polls_to_resolve(now).unwrap().is_empty(),
        "not before its pause"
    );
    let later = now + FIRST_BACKOFF.as_secs();
    assert_eq!(
        store.polls_to_resolve(later).unwrap().len(),
        1,
        "due again after the pause"
    );

    // Up: the text is fetched, hashed against the poll's CID, and its front matter read.
    let _gateway = DemoGateway::start(port).await;
    assert_eq!(resolver.tick(later).await.unwrap(), 1);
    let t = store.title(id).unwrap().unwrap();
    assert_eq!(t.lip, Some(100));
    assert_eq!(
        t.title.as_deref(),
        Some("Demo LIP - an on-chain floor for orchestrator debates")
    );
    assert_eq!(t.cid.as_deref(), Some(cid.as_str()));
    assert!(
        store.polls_to_resolve(u64::MAX / 2).unwrap().is_empty(),
        "resolved once, for good"
    );

    // Served by the indexer's API, by the poll's address; an unknown id is a typed 404.
    let at = serve_api(&chain, store.clone(), None).await;
    let p: serde_json::Value = reqwest::get(format!("http://{at}/v1/proposals/{poll}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(p["kind"], "poll");
    assert_eq!(p["title"]["lip"], 100);
    assert_eq!(p["title"]["cid"], cid.as_str());
    let missing = reqwest::get(format!(
        "http://{at}/v1/proposals/{}",
        Address::repeat_byte(0xee)
    ))
    .await
    .unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "unknown_proposal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_takes_effect_in_the_next_round() {
    let mut chain = TestChain::start().await;
    let newcomer = chain.accounts[8];
    chain.advance(1).await;
    chain
        .bonding
        .setBonded(newcomer, newcomer, lpt(50_000))
        .mined()
        .await;
    let store = chain.store();
    let mut follower = chain.follower(store.clone(), follower_config());
    let mut changes = follower.changes().subscribe();
    follower.sync_to_head().await.unwrap();
    let roles = Roles::new(chain.provider.clone(), &chain.deployment);
    roles.check_round().await.unwrap();
    // Bonded to itself but not active: a delegator's standing.
    assert_eq!(
        roles.standing(newcomer).await.unwrap().role,
        Role::Delegator
    );

    // Activation is announced now, for the next round: the role read after the event is
    // still not an orchestrator's, and nothing is cached past the round's end.
    chain.bonding.activate(newcomer).mined().await;
    follower.sync_to_head().await.unwrap();
    while let Ok(c) = changes.try_recv() {
        roles.observe(&c);
    }
    assert_eq!(
        roles.standing(newcomer).await.unwrap().role,
        Role::Delegator,
        "not before its activation round"
    );
    // The round ends (rounds are 100 blocks here): the cache notices and reads again.
    let _: () = chain
        .provider
        .raw_request("anvil_mine".into(), (U256::from(100), U256::from(0)))
        .await
        .unwrap();
    roles.check_round().await.unwrap();
    assert_eq!(
        roles.standing(newcomer).await.unwrap().role,
        Role::Orchestrator,
        "an orchestrator from its activation round"
    );
}

/// The indexer binary with its keeper on, killed with SIGKILL at random moments and
/// restarted: every poll and every governor proposal ends with exactly one debate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeper_opens_every_debate_once_across_sigkills() {
    use std::process::{Command, Stdio};
    let mut chain = TestChain::start().await;
    chain.advance(1).await;
    let creator = poll_creator(&chain).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(id_of(
            create_poll(&chain, creator, &format!("QmPoll{i}")).await,
        ));
        let r = chain
            .governor
            .propose(
                vec![Address::repeat_byte(0x11)],
                vec![U256::ZERO],
                vec![Bytes::from(vec![i as u8])],
                format!("Proposal {i}"),
            )
            .mined()
            .await;
        ids.push(proposal_id_of(&r));
    }
    let dir = std::env::temp_dir().join(format!("assembly-keeper-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(dir.join("index.sqlite"));
    std::fs::write(
        dir.join("deployment.json"),
        serde_json::to_vec(&chain.deployment).unwrap(),
    )
    .unwrap();
    let key = format!("0x{}", alloy::hex::encode(chain.anvil.keys()[9].to_bytes()));
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_assembly-indexer"))
            .env("ASSEMBLY_RPC_URL", chain.anvil.endpoint())
            .env("ASSEMBLY_DEPLOYMENT", dir.join("deployment.json"))
            .env("ASSEMBLY_DB", dir.join("index.sqlite"))
            .env("ASSEMBLY_INDEXER_LISTEN", "127.0.0.1:0")
            .env("ASSEMBLY_CONFIRMATIONS", "0")
            .env("ASSEMBLY_POLL_MS", "10")
            .env("ASSEMBLY_KEEPER_KEY", &key)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("indexer binary")
    };
    let mut rng = Rng(0x6b11);
    // Killed at random moments of its first passes (the keeper passes every 5 s): before it
    // has followed the chain, between sending a transaction and recording it, after.
    for _ in 0..4 {
        let mut child = spawn();
        tokio::time::sleep(std::time::Duration::from_millis(300 + rng.below(6000))).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let mut child = spawn();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let mut open = 0;
        for id in &ids {
            if !chain.assembly.debateOf(*id).call().await.unwrap().is_zero() {
                open += 1;
            }
        }
        if open == ids.len() || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let mut sessions = std::collections::HashSet::new();
    for id in &ids {
        let s = chain.assembly.debateOf(*id).call().await.unwrap();
        assert!(!s.is_zero(), "proposal {id} has its debate");
        assert!(sessions.insert(s), "one session per proposal");
    }
    assert_eq!(
        chain.assembly.sessionCount().call().await.unwrap(),
        U256::from(ids.len()),
        "no debate opened twice"
    );
}
