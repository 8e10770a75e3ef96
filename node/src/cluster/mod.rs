//! The cluster: the Assembly nodes that orchestrators registered on chain, as this node
//! knows them from its own index of the node registry, with no gossip and no shared
//! database. Every node answers `GET /api/v1/cluster` the same way (bar which entry is
//! itself), so a client can ask any member where to listen.
//!
//! A node is known to others by its key: the secp256k1 key in its key file ([`key`]), whose
//! address its operator registers with the node's URL. Membership is the registry's rule,
//! read from the index ([`assembly_indexer::nodes`]).

pub mod key;

use std::sync::Arc;

use alloy::primitives::Address;
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

/// This node's view of the cluster.
pub struct Cluster {
    key: Address,
    store: Arc<Store>,
    roles: Arc<Roles>,
}

impl Cluster {
    /// The cluster as `store` indexes it, seen by the node whose key is `key`.
    pub fn new(key: Address, store: Arc<Store>, roles: Arc<Roles>) -> Self {
        Self { key, store, roles }
    }

    /// This node's key address, which its operator registers.
    pub fn key(&self) -> Address {
        self.key
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
