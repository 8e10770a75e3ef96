//! The record anchor from a test: RecordAnchor deployed over a chain's Assembly and node
//! registry, named in its deployment (so nodes started after it anchor), and ether for the
//! keys that send.

use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionRequest;
use assembly_indexer::bindings::RecordAnchor;

use crate::chain::TestChain;

/// Deploys RecordAnchor over `chain`'s Assembly and node registry, and names it in
/// `chain.deployment`.
pub async fn deploy_record_anchor(
    chain: &mut TestChain,
) -> RecordAnchor::RecordAnchorInstance<DynProvider> {
    let anchor = RecordAnchor::deploy(
        chain.provider.clone(),
        *chain.assembly.address(),
        *chain.registry.address(),
    )
    .await
    .expect("RecordAnchor deployed");
    chain.deployment.record_anchor = Some(*anchor.address());
    anchor
}

/// Sends `to` one ether from account 0 (a node key pays for its own anchoring).
pub async fn fund(chain: &TestChain, to: Address) {
    let tx = TransactionRequest::default()
        .from(chain.accounts[0])
        .to(to)
        .value(U256::from(10u64).pow(U256::from(18)));
    let receipt = chain
        .provider
        .send_transaction(tx)
        .await
        .expect("the transfer was sent")
        .get_receipt()
        .await
        .expect("its receipt");
    assert!(receipt.status(), "account 0 funded {to}");
}
