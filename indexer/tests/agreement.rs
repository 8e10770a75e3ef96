//! The Rust floor rule agrees with the contract's `floorAt` on randomized histories of
//! requests, withdrawals, yields and time, on a real anvil.

use alloy::primitives::U256;
use assembly_indexer::api::floor_of;
use assembly_testkit::chain::{TestChain, T0};
use assembly_testkit::rng::Rng;

async fn history(seed: u64) {
    let mut chain = TestChain::start().await;
    let mut rng = Rng(seed);
    let slot = 20 + rng.below(180) as u32;
    let start = T0 + 50;
    let duration = 600 + rng.below(1500);
    let id = chain.create_session(start, duration, slot, 32).await;
    let people = chain.accounts[1..=6].to_vec(); // account 6 is not an orchestrator
    let mut applied = 0;
    for _ in 0..45 {
        chain.advance(1 + rng.below(70)).await;
        let who = people[rng.below(people.len() as u64) as usize];
        let sid = U256::from(id);
        let ok = match rng.below(4) {
            0 | 1 => chain.try_send(chain.assembly.enqueue(sid), who).await,
            2 => chain.try_send(chain.assembly.withdraw(sid), who).await,
            _ => chain.try_send(chain.assembly.yieldFloor(sid), who).await,
        };
        applied += ok as u32;
    }
    chain.advance(duration).await;
    chain.mine().await;
    assert!(
        applied >= 3,
        "seed {seed}: history too thin ({applied} transactions)"
    );

    let store = chain.fresh_index().await;
    let mut probes: Vec<u64> = (start - 20..start + duration + 40).step_by(13).collect();
    let (_, slots, _) = store
        .timeline(&store.session(id).unwrap().unwrap(), 0)
        .unwrap();
    for s in &slots {
        probes.extend([
            s.start.saturating_sub(1),
            s.start,
            s.end.saturating_sub(1),
            s.end,
        ]);
    }
    for t in probes {
        let want = chain
            .assembly
            .floorAt(U256::from(id), U256::from(t))
            .call()
            .await
            .unwrap();
        let got = floor_of(&store, id, t).unwrap();
        let speaker = (!want.speaker.is_zero()).then_some(want.speaker);
        assert_eq!(got.speaker, speaker, "seed {seed}, t = {t}");
        if speaker.is_some() {
            assert_eq!(got.start, Some(want.start), "seed {seed}, t = {t}: start");
            assert_eq!(got.end, Some(want.end), "seed {seed}, t = {t}: end");
            assert_eq!(got.index, Some(want.index), "seed {seed}, t = {t}: index");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_rule_equals_contract_floor_at() {
    for seed in (1..=12u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)) {
        history(seed).await;
    }
}
