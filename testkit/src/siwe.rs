//! Signing in as an anvil account: EIP-4361 messages for the domain the harness's nodes
//! serve, signed with the account's key.

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::Signer;
use assembly_node::siwe::SiweMessage;
use serde_json::{json, Value};

use crate::chain::TestChain;
use crate::clock::now;
use crate::node::Node;

/// The domain the harness's nodes expect in a sign-in message.
pub const DOMAIN: &str = "assembly.test";
/// The harness's nodes' public URL.
pub const URI: &str = "http://assembly.test";

/// Signs in anvil account `i`; returns its session token. Panics if the node refuses.
pub async fn token(node: &Node, chain: &TestChain, i: usize) -> String {
    let k = key(chain, i);
    let (status, body, _) = node
        .post(signed(&k, &message(k.address(), &node.nonce().await)).await)
        .await;
    assert_eq!(status, 200, "{body}");
    body["token"]
        .as_str()
        .expect("a sign-in answer with a token")
        .to_string()
}

/// A sign-in message for `address` with `nonce`, issued now, valid for ten minutes, on
/// anvil's chain id.
pub fn message(address: Address, nonce: &str) -> SiweMessage {
    let issued: chrono::DateTime<chrono::Utc> =
        chrono::DateTime::from_timestamp(now() as i64, 0).expect("the present is a valid date");
    SiweMessage {
        scheme: None,
        domain: DOMAIN.into(),
        address,
        statement: Some("Sign in to Assembly.".into()),
        uri: format!("{URI}/"),
        version: "1".into(),
        chain_id: 31337,
        nonce: nonce.into(),
        issued_at: issued,
        expiration_time: Some(issued + chrono::Duration::minutes(10)),
        not_before: None,
        request_id: None,
        resources: vec![],
    }
}

/// The sign-in request body: `msg` as text and its EIP-191 signature by `key`.
pub async fn signed(key: &PrivateKeySigner, msg: &SiweMessage) -> Value {
    let text = msg.to_string();
    let sig = key
        .sign_message(text.as_bytes())
        .await
        .expect("a local key signs");
    json!({ "message": text, "signature": format!("0x{}", alloy::hex::encode(sig.as_bytes())) })
}

/// Anvil account `i`'s key.
pub fn key(chain: &TestChain, i: usize) -> PrivateKeySigner {
    PrivateKeySigner::from(chain.anvil.keys()[i].clone())
}
