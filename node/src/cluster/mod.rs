//! The cluster: the Assembly nodes that orchestrators registered on chain, as this node
//! knows them from its own index of the node registry, with no gossip and no shared
//! database. Every node answers `GET /api/v1/cluster` the same way (bar which entry is
//! itself), so a client can ask any member where to listen.
//!
//! A node is known to others by its key: the secp256k1 key in its key file ([`key`]), whose
//! address its operator registers with the node's URL. Membership is the registry's rule,
//! read from the index ([`assembly_indexer::nodes`]).

pub mod key;
pub mod relay;
pub mod share;
pub mod token;

use std::sync::Arc;

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use assembly_indexer::nodes::{is_member, RegisteredNode};
use assembly_indexer::roles::{Role, Roles};
use assembly_indexer::store::Store;
use serde::Serialize;

/// A registered node as the cluster endpoint shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Member {
    /// The node as the registry has it: operator, key, URL, standing.
    #[serde(flatten)]
    pub node: RegisteredNode,
    /// Whether it is a member now (the registry's `isMember`): relays, sign-ins and
    /// listeners are taken from members only.
    pub member: bool,
    /// Whether it is the node answering.
    pub this: bool,
}

/// Why the cluster could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The index could not be read.
    #[error("index: {0}")]
    Store(#[from] assembly_indexer::store::StoreError),
    /// An operator's role could not be read from the chain.
    #[error("chain: {0}")]
    Chain(#[from] assembly_indexer::roles::RolesError),
}

/// Why a sibling's request (a relay, a share of reactions and counts) was refused.
#[derive(Debug, thiserror::Error)]
pub enum SiblingRefused {
    /// Its token does not hold.
    #[error("relay token: {0}")]
    Token(#[from] token::TokenError),
    /// The registry could not be read.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// This node's view of the cluster.
pub struct Cluster {
    key: Address,
    signer: PrivateKeySigner,
    store: Arc<Store>,
    roles: Arc<Roles>,
    seen: token::Seen,
    /// The member siblings' URLs as last read (every round of [`share`]), for decisions
    /// that cannot wait on the index: where a full node sends a client.
    known: parking_lot::RwLock<Vec<String>>,
    turn: std::sync::atomic::AtomicUsize,
}

impl Cluster {
    /// The cluster as `store` indexes it, seen by the node signing with `signer`.
    pub fn new(signer: PrivateKeySigner, store: Arc<Store>, roles: Arc<Roles>) -> Self {
        Self {
            key: signer.address(),
            signer,
            store,
            roles,
            seen: token::Seen::default(),
            known: Default::default(),
            turn: Default::default(),
        }
    }

    /// This node's key address, which its operator registers.
    pub fn key(&self) -> Address {
        self.key
    }

    /// A token for pushing `session`'s program to the sibling at `url`.
    pub fn relay_token(&self, url: &str, session: u64) -> String {
        token::relay(&self.signer, url, session, assembly_floor::clock::now_s())
    }

    /// A token for telling the sibling at `url` this node's reactions and counts.
    pub fn live_token(&self, url: &str) -> String {
        self.token(url, "live")
    }

    /// A token for a request to the sibling at `url` for `purpose` (not a relay).
    pub fn token(&self, url: &str, purpose: &str) -> String {
        token::make(
            &self.signer,
            url,
            purpose,
            None,
            assembly_floor::clock::now_s(),
        )
    }

    /// Whom a relay of `session` presenting `token` comes from (see [`Cluster::admit`]).
    pub async fn admit_relay(&self, token: &str, session: u64) -> Result<Member, SiblingRefused> {
        self.admit(token, "relay", Some(session)).await
    }

    /// Whom a request presenting `token` for `purpose` (and `session`) comes from: a member
    /// node other than this one, whose key signed a fresh token made out to this node (by the
    /// URL this node is registered with, which is how its siblings know it).
    pub async fn admit(
        &self,
        token: &str,
        purpose: &str,
        session: Option<u64>,
    ) -> Result<Member, SiblingRefused> {
        let now = assembly_floor::clock::now_s();
        let nodes = self.nodes().await?;
        // Unregistered, this node is no one's sibling: no token can be made out to it.
        let me = nodes
            .iter()
            .find(|n| n.this)
            .ok_or(token::TokenError::WrongAudience)?;
        let claims = token::check(token, &me.node.url, purpose, session, now, &self.seen)?;
        nodes
            .into_iter()
            .find(|n| n.node.key == claims.key && n.member && !n.this)
            .ok_or(SiblingRefused::Token(token::TokenError::NotAMember))
    }

    /// The member nodes other than this one: where this node relays its speakers.
    pub async fn siblings(&self) -> Result<Vec<Member>, ClusterError> {
        let siblings: Vec<Member> = self
            .nodes()
            .await?
            .into_iter()
            .filter(|m| m.member && !m.this)
            .collect();
        *self.known.write() = siblings.iter().map(|m| m.node.url.clone()).collect();
        Ok(siblings)
    }

    /// The member siblings' URLs as last read.
    pub fn known_siblings(&self) -> Vec<String> {
        self.known.read().clone()
    }

    /// A counter that takes turns among the siblings.
    pub fn next_turn(&self) -> usize {
        self.turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Every registered node, by operator, with its membership now.
    pub async fn nodes(&self) -> Result<Vec<Member>, ClusterError> {
        let store = self.store.clone();
        let registered = tokio::task::spawn_blocking(move || store.nodes())
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
        let mut out = Vec::with_capacity(registered.len());
        for node in registered {
            let active = self.roles.standing(node.operator).await?.role == Role::Orchestrator;
            out.push(Member {
                member: is_member(node.standing, active),
                this: node.key == self.key,
                node,
            });
        }
        Ok(out)
    }
}
