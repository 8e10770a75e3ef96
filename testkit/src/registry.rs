//! The node registry from a test: an operator's node key and its proof of consent.

use alloy::primitives::{Address, Bytes};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;

use crate::chain::TestChain;

/// `key`'s signature of `operator`'s claim to it (`NodeRegistry.keyDigest`), as `register`
/// and `rotateKey` take it.
pub async fn key_proof(chain: &TestChain, operator: Address, key: &PrivateKeySigner) -> Bytes {
    let digest = chain
        .registry
        .keyDigest(operator)
        .call()
        .await
        .expect("the registry answers keyDigest");
    let signature = key
        .sign_hash_sync(&digest)
        .expect("a local key signs a digest");
    Bytes::from(signature.as_bytes().to_vec())
}

/// Registers a node serving at `url` for `operator` with a new key; returns the key, or
/// None if the registry refused.
pub async fn register_node(
    chain: &TestChain,
    operator: Address,
    url: &str,
) -> Option<PrivateKeySigner> {
    let key = PrivateKeySigner::random();
    register_key(chain, operator, &key, url)
        .await
        .then_some(key)
}

/// Registers `key` as `operator`'s node serving at `url`; false if the registry refused.
pub async fn register_key(
    chain: &TestChain,
    operator: Address,
    key: &PrivateKeySigner,
    url: &str,
) -> bool {
    let proof = key_proof(chain, operator, key).await;
    chain
        .try_send(
            chain.registry.register(url.into(), key.address(), proof),
            operator,
        )
        .await
}

/// The key a test node created in `dir` (its `secret.key`, beside its session secret).
pub fn node_key(dir: &std::path::Path) -> PrivateKeySigner {
    std::fs::read_to_string(dir.join("secret.key"))
        .expect("the node wrote its key")
        .trim()
        .parse()
        .expect("a hex key")
}
