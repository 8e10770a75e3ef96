//! What every handler shares, and who is asking: the state the router is built with, and
//! the signed-in identity a request carries. The HTTP routes (`http`, `whip`, `routes`)
//! depend on this module and never on each other.

use std::sync::Arc;

use assembly_floor::clock;
use axum::http::header::{AUTHORIZATION, COOKIE, ORIGIN};
use axum::http::HeaderMap;

use crate::auth::{Auth, Identity};
use crate::error::ApiError;
use assembly_indexer::roles::Roles;

use crate::live::Hub;
use crate::metrics::Metrics;

/// What the web client needs: chain id, contract addresses, a public RPC, the reaction set.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientConfig {
    /// The deployment's network name.
    pub network: String,
    /// The chain the contracts are on (wallets are asked to switch to it).
    pub chain_id: u64,
    /// The Assembly contract.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub assembly: alloy::primitives::Address,
    /// Livepeer's bonding manager.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub bonding_manager: alloy::primitives::Address,
    /// Livepeer's governor.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub governor: alloy::primitives::Address,
    /// A public RPC, offered to wallets on the wrong chain.
    pub rpc_url: String,
    /// Whether listening (WHEP) is open without a wallet.
    pub public_listening: bool,
    /// The fixed reaction set.
    pub reactions: Vec<ReactionInfo>,
    /// The local demo chain's accounts, offered as a built-in wallet so that a newcomer
    /// with a browser and `script/start` can sign in and speak. Empty on every other chain:
    /// only chain id 31337 with a deployment that names demo accounts (`DeployLocal`'s).
    pub demo_accounts: Vec<DemoAccount>,
}

/// One demo account: an anvil account the local deployment funded and bonded. Anvil signs
/// for it (its accounts are unlocked), so no key leaves the chain's own process.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DemoAccount {
    /// Its address.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub address: alloy::primitives::Address,
    /// How it is shown ("Demo orchestrator 1").
    pub label: String,
}

/// The chain id of anvil, and so of the local demo.
pub const DEMO_CHAIN_ID: u64 = 31337;

impl DemoAccount {
    /// The demo accounts `deployment` names, on the local demo chain only.
    pub fn of(deployment: &assembly_indexer::deployment::Deployment) -> Vec<DemoAccount> {
        if deployment.chain_id != DEMO_CHAIN_ID {
            return Vec::new();
        }
        let named = |kind: &str, list: &[alloy::primitives::Address]| {
            list.iter()
                .enumerate()
                .map(|(i, a)| DemoAccount {
                    address: *a,
                    label: format!("Demo {kind} {}", i + 1),
                })
                .collect::<Vec<_>>()
        };
        let mut all = named("orchestrator", &deployment.orchestrators);
        all.extend(named("delegator", &deployment.delegators));
        all
    }
}

/// One reaction a client may send.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReactionInfo {
    /// Its name on the wire.
    pub name: &'static str,
    /// How it is shown.
    pub emoji: &'static str,
}

impl ReactionInfo {
    /// The fixed reaction set.
    pub fn all() -> Vec<ReactionInfo> {
        crate::reactions::REACTIONS
            .iter()
            .map(|&(name, emoji)| ReactionInfo { name, emoji })
            .collect()
    }
}

/// The session cookie.
pub const COOKIE_NAME: &str = "assembly_session";

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Sign-in and session tokens.
    pub auth: Arc<Auth>,
    /// The live state and its fan-out.
    pub hub: Arc<Hub>,
    /// Roles on chain (the eligibility cache).
    pub roles: Arc<Roles>,
    /// The node's metrics.
    pub metrics: Arc<Metrics>,
    /// The media path (WHIP/WHEP sessions and the gate).
    pub media: Arc<assembly_media::Media>,
    /// Recordings and their index.
    pub archive: Arc<assembly_archive::record::archive::Archive>,
    /// What the web client needs to talk to the chain: the contracts and a public RPC.
    pub client_config: Arc<ClientConfig>,
    /// Which pages may open the live socket.
    pub origins: Arc<Origins>,
    /// Per-address budgets and socket bounds.
    pub limits: Arc<crate::limits::Limits>,
    /// Whether the session cookie is marked `Secure` (off only for plain-HTTP local use).
    pub secure_cookies: bool,
    /// ENS names for addresses, when the node has an ENS-capable RPC.
    pub names: Option<Arc<crate::names::Names>>,
    /// Webhooks and saved searches.
    pub alerts: Arc<crate::alerts::Alerts>,
    /// The registered nodes, and this node's key.
    pub cluster: Arc<crate::cluster::Cluster>,
    /// Speakers' corrections of their transcripts.
    pub corrections: Arc<crate::corrections::Corrections>,
}

/// The bearer token of a request's `Authorization` header, if it has one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The session token a request carries: bearer header, cookie, or (for WebSockets, which
/// browsers open without custom headers) the `token` query parameter.
fn token_of(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(t) = bearer(headers) {
        return Some(t.to_string());
    }
    for v in headers.get_all(COOKIE) {
        if let Ok(v) = v.to_str() {
            for part in v.split(';') {
                if let Some(t) = part.trim().strip_prefix(&format!("{COOKIE_NAME}=")) {
                    return Some(t.to_string());
                }
            }
        }
    }
    query.map(str::to_string)
}

/// The signed-in identity of a request, if it carries a token; a bad token is an error.
pub(crate) fn identify(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Option<Identity>, ApiError> {
    match token_of(headers, query) {
        None => Ok(None),
        Some(t) => Ok(Some(state.auth.identify(&t, clock::now_s())?)),
    }
}

/// Which web pages may open the live socket. A page of the node's own origin gets the full
/// socket; a page of an embedding site (`embed_origins`, `*` for any) gets an observer's,
/// whatever cookie the browser attaches, so no other site can act as the signed-in person;
/// any other page is refused. Clients that are not browsers send no `Origin`.
#[derive(Clone, Debug)]
pub struct Origins {
    own: String,
    embed: Vec<String>,
}

/// How a request's page stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// The node's own page, or no browser at all.
    Own,
    /// An embedding site: served anonymously.
    Embedding,
    /// A site that may not open the socket.
    Refused,
}

impl Origins {
    /// The origin of `public_url` is the node's own.
    pub fn new(public_url: &str, embed: Vec<String>) -> Self {
        let own = url::Url::parse(public_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| public_url.trim_end_matches('/').to_ascii_lowercase());
        let embed = embed
            .into_iter()
            .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
            .collect();
        Self { own, embed }
    }

    /// The node's own origin (`https://assembly.example`).
    pub fn own(&self) -> &str {
        &self.own
    }

    /// Judges the request's `Origin`.
    pub fn judge(&self, headers: &HeaderMap) -> Page {
        let Some(origin) = headers.get(ORIGIN) else {
            return Page::Own;
        };
        let origin = origin.to_str().unwrap_or("").to_ascii_lowercase();
        if origin == self.own {
            Page::Own
        } else if self.embed.iter().any(|e| e == "*" || *e == origin) {
            Page::Embedding
        } else {
            Page::Refused
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in demo wallet exists on the local demo chain and nowhere else.
    #[test]
    fn demo_accounts_only_on_the_local_demo_chain() {
        let deployment = |chain: u64, demo: bool| {
            let a = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
            let list = if demo {
                format!("[\"{a}\"]")
            } else {
                "[]".into()
            };
            serde_json::from_str::<assembly_indexer::deployment::Deployment>(&format!(
                r#"{{"network":"n","chainId":{chain},"deployBlock":0,"assembly":"{a}",
                "bondingManager":"{a}","roundsManager":"{a}","governor":"{a}",
                "livepeerToken":"{a}","orchestrators":{list},"delegators":{list}}}"#
            ))
            .unwrap()
        };
        let local = DemoAccount::of(&deployment(DEMO_CHAIN_ID, true));
        let labels: Vec<&str> = local.iter().map(|a| a.label.as_str()).collect();
        assert_eq!(labels, ["Demo orchestrator 1", "Demo delegator 1"]);
        // Another chain, even with a file that names accounts: none.
        assert!(DemoAccount::of(&deployment(42161, true)).is_empty());
        assert!(DemoAccount::of(&deployment(1, true)).is_empty());
        // The local chain with a deployment of its own making (no demo accounts): none.
        assert!(DemoAccount::of(&deployment(DEMO_CHAIN_ID, false)).is_empty());
    }

    #[test]
    fn origins() {
        let o = Origins::new(
            "https://assembly.example/",
            vec!["https://explorer.livepeer.org".into()],
        );
        let page = |origin: Option<&str>| {
            let mut h = HeaderMap::new();
            if let Some(v) = origin {
                h.insert(ORIGIN, v.parse().unwrap());
            }
            o.judge(&h)
        };
        assert_eq!(page(None), Page::Own);
        assert_eq!(page(Some("https://assembly.example")), Page::Own);
        assert_eq!(page(Some("https://explorer.livepeer.org")), Page::Embedding);
        assert_eq!(
            page(Some("https://assembly.example.evil.example")),
            Page::Refused
        );
        assert_eq!(page(Some("http://assembly.example")), Page::Refused);
        assert_eq!(page(Some("null")), Page::Refused);
        let any = Origins::new("http://localhost:8700", vec!["*".into()]);
        let mut h = HeaderMap::new();
        h.insert(ORIGIN, "https://elsewhere.example".parse().unwrap());
        assert_eq!(any.judge(&h), Page::Embedding);
    }
}
