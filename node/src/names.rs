//! ENS names for addresses, when the node is given an ENS-capable RPC (Ethereum mainnet, where
//! orchestrators' names live; Livepeer itself runs on Arbitrum).
//!
//! A name is shown only if it resolves both ways: the address's reverse record
//! (`<address>.addr.reverse`, EIP-181) claims it, and the name's `addr` (EIP-137) is that
//! address. Anyone can write any name into their own reverse record; the forward check is
//! what stops `vitalik.eth` appearing beside a stranger. The avatar (ENSIP-12's `avatar`
//! text record) is passed on only as an `https:` or `data:image/` URL, the kinds the web
//! client's Content-Security-Policy loads; IPFS and NFT avatars are not resolved here.
//!
//! Answers, names or their absence, are cached for an hour, at most [`CAPACITY`] of them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use alloy::primitives::{keccak256, Address, B256};
use alloy::providers::DynProvider;
use assembly_indexer::bindings::ens::{IENSResolver, IENS};
use parking_lot::Mutex;
use serde::Serialize;
use utoipa::ToSchema;

/// ENS's registry on Ethereum mainnet.
pub const MAINNET_REGISTRY: Address =
    alloy::primitives::address!("00000000000C2E074eC69A0dFb2997BA6C7d2e1e");
/// How long an answer is kept.
const TTL: Duration = Duration::from_secs(3600);
/// The most answers kept; past it the cache starts over (names are cheap to read again).
pub const CAPACITY: usize = 10_000;

/// An address's ENS name and avatar, as far as they resolve.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Name {
    /// The primary name, checked forward; null if none resolves both ways.
    pub name: Option<String>,
    /// The name's avatar as an `https:` or `data:image/` URL; null otherwise.
    pub avatar: Option<String>,
}

/// Why a name could not be read (the RPC, never the records: a missing record is no name).
#[derive(Debug, thiserror::Error)]
#[error("ens: {0}")]
pub struct NamesError(String);

/// ENS lookups through one RPC, cached.
pub struct Names {
    provider: DynProvider,
    registry: Address,
    cache: Mutex<HashMap<Address, (Instant, Name)>>,
}

/// EIP-137's namehash of a dot-separated name, labels as given (names come from the chain
/// already normalized; one that is not simply fails the forward check).
pub fn namehash(name: &str) -> B256 {
    let mut node = B256::ZERO;
    if name.is_empty() {
        return node;
    }
    for label in name.rsplit('.') {
        let mut buf = [0u8; 64];
        buf[..32].copy_from_slice(node.as_slice());
        buf[32..].copy_from_slice(keccak256(label.as_bytes()).as_slice());
        node = keccak256(buf);
    }
    node
}

/// The reverse node of `address`: the namehash of `<lowercase hex>.addr.reverse`.
pub fn reverse_node(address: Address) -> B256 {
    namehash(&format!("{}.addr.reverse", hex_lower(address)))
}

fn hex_lower(a: Address) -> String {
    a.as_slice().iter().map(|b| format!("{b:02x}")).collect()
}

impl Names {
    /// Lookups through `provider` against the registry at `registry`.
    pub fn new(provider: DynProvider, registry: Address) -> Self {
        Self {
            provider,
            registry,
            cache: Mutex::default(),
        }
    }

    /// `address`'s name and avatar, from the cache or the chain.
    pub async fn of(&self, address: Address) -> Result<Name, NamesError> {
        if let Some((at, name)) = self.cache.lock().get(&address) {
            if at.elapsed() < TTL {
                return Ok(name.clone());
            }
        }
        let name = self.read(address).await?;
        let mut cache = self.cache.lock();
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(address, (Instant::now(), name.clone()));
        Ok(name)
    }

    async fn read(&self, address: Address) -> Result<Name, NamesError> {
        let rpc = |e: alloy::contract::Error| NamesError(e.to_string());
        let registry = IENS::new(self.registry, &self.provider);
        let reverse = reverse_node(address);
        let resolver = registry.resolver(reverse).call().await.map_err(rpc)?;
        if resolver.is_zero() {
            return Ok(Name::default());
        }
        let claimed = IENSResolver::new(resolver, &self.provider)
            .name(reverse)
            .call()
            .await
            .map_err(rpc)?;
        if claimed.is_empty() || claimed.len() > 255 {
            return Ok(Name::default());
        }
        let forward = namehash(&claimed);
        let resolver = registry.resolver(forward).call().await.map_err(rpc)?;
        if resolver.is_zero() {
            return Ok(Name::default());
        }
        let resolver = IENSResolver::new(resolver, &self.provider);
        if resolver.addr(forward).call().await.map_err(rpc)? != address {
            return Ok(Name::default());
        }
        let avatar = resolver
            .text(forward, "avatar".into())
            .call()
            .await
            .map_err(rpc)?;
        Ok(Name {
            name: Some(claimed),
            avatar: shown_avatar(&avatar).then_some(avatar),
        })
    }
}

/// Whether the web client may show `url` as an avatar: https, or an inline image, bounded.
fn shown_avatar(url: &str) -> bool {
    url.len() <= 100_000 && (url.starts_with("https://") || url.starts_with("data:image/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namehash_matches_eip137() {
        // EIP-137's own examples.
        assert_eq!(namehash(""), B256::ZERO);
        assert_eq!(
            namehash("eth").to_string(),
            "0x93cdeb708b7545dc668eb9280176169d1c33cfd8ed6f04690a0bcc88a93fc4ae"
        );
        assert_eq!(
            namehash("foo.eth").to_string(),
            "0xde9b09fd7c5f901e23a3f19fecc54828e9c848539801e86591bd9801b019f84f"
        );
    }

    #[test]
    fn only_https_and_inline_images_are_shown() {
        assert!(shown_avatar("https://example.org/a.png"));
        assert!(shown_avatar("data:image/png;base64,AAAA"));
        assert!(!shown_avatar("ipfs://Qm"));
        assert!(!shown_avatar("eip155:1/erc721:0x0/1"));
        assert!(!shown_avatar("javascript:alert(1)"));
        assert!(!shown_avatar("http://plain.example/a.png"));
    }
}
