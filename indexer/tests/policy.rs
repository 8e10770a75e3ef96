//! A session's policy on signed audio is what its latest `SignedAudioSet` says, and only
//! governance sets it.

use alloy::primitives::U256;
use assembly_testkit::chain::{Mined, TestChain, T0};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_audio_is_the_latest_setting() {
    let mut chain = TestChain::start().await;
    let id = chain.create_session(T0 + 10, 100_000, 60, 16).await;
    let other = chain.create_session(T0 + 10, 100_000, 60, 16).await;
    let required = |store: &std::sync::Arc<assembly_indexer::store::Store>, id: u64| {
        store.session(id).unwrap().unwrap().signed_audio
    };
    assert!(
        !required(&chain.fresh_index().await, id),
        "counted by default"
    );

    chain
        .assembly
        .setSignedAudio(U256::from(id), true)
        .mined()
        .await;
    let store = chain.fresh_index().await;
    assert!(required(&store, id));
    assert!(!required(&store, other), "one session's policy only");

    chain
        .assembly
        .setSignedAudio(U256::from(id), false)
        .mined()
        .await;
    chain
        .assembly
        .setSignedAudio(U256::from(id), true)
        .mined()
        .await;
    chain
        .assembly
        .setSignedAudio(U256::from(id), false)
        .mined()
        .await;
    assert!(!required(&chain.fresh_index().await, id), "the latest wins");

    // A stranger cannot.
    let stranger = chain.accounts[3];
    assert!(
        !chain
            .try_send(
                chain.assembly.setSignedAudio(U256::from(id), true),
                stranger
            )
            .await
    );
}
