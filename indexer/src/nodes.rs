//! The cluster as the node registry's events make it: each registered node with its URL, its
//! key and its operator's standing. It is folded from those events in chain order whenever
//! it is asked for, so a reorg's rollback (which drops the events above a block) needs
//! nothing of its own, and a registry of a few hundred nodes folds in microseconds.
//!
//! Membership is the registry's rule (`NodeRegistry.isMember`), with the one input that
//! changes without an event here, whether the operator is in Livepeer's active set, given
//! by the caller from its role cache: [`is_member`].

use std::collections::BTreeMap;

use alloy::primitives::Address;
use serde::Serialize;

use crate::events::{Event, NodeStanding};

/// A registered node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RegisteredNode {
    /// The operator whose node it is.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub operator: Address,
    /// The address of the key the node signs with now.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub key: Address,
    /// Where the node serves.
    pub url: String,
    /// Governance's say over the operator.
    pub standing: NodeStanding,
    /// The block of the node's registration.
    pub registered_block: u64,
}

/// The registry's membership rule: registered (the caller holds a [`RegisteredNode`]), not
/// suspended, and approved or in the active set.
pub fn is_member(standing: NodeStanding, active_orchestrator: bool) -> bool {
    match standing {
        NodeStanding::Approved => true,
        NodeStanding::Default => active_orchestrator,
        NodeStanding::Suspended => false,
    }
}

/// The registered nodes after `events` (block, event), in chain order; events of other
/// contracts are passed over. Ordered by operator.
pub fn fold<'a>(events: impl IntoIterator<Item = (u64, &'a Event)>) -> Vec<RegisteredNode> {
    let mut nodes: BTreeMap<Address, RegisteredNode> = BTreeMap::new();
    // A standing may be set before its operator registers, and outlives a deregistration.
    let mut standings: BTreeMap<Address, NodeStanding> = BTreeMap::new();
    for (block, event) in events {
        match event {
            Event::NodeRegistered { operator, key, url } => {
                nodes.insert(
                    *operator,
                    RegisteredNode {
                        operator: *operator,
                        key: *key,
                        url: url.clone(),
                        standing: NodeStanding::Default,
                        registered_block: block,
                    },
                );
            }
            Event::NodeUrlChanged { operator, url } => {
                if let Some(n) = nodes.get_mut(operator) {
                    n.url = url.clone();
                }
            }
            Event::NodeKeyRotated {
                operator, new_key, ..
            } => {
                if let Some(n) = nodes.get_mut(operator) {
                    n.key = *new_key;
                }
            }
            Event::NodeDeregistered { operator, .. } => {
                nodes.remove(operator);
            }
            Event::NodeStandingChanged { operator, standing } => {
                standings.insert(*operator, *standing);
            }
            _ => {}
        }
    }
    nodes
        .into_values()
        .map(|mut n| {
            n.standing = standings.get(&n.operator).copied().unwrap_or_default();
            n
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    #[test]
    fn the_registry_folds_in_order() {
        let events = [
            Event::NodeStandingChanged {
                operator: a(2),
                standing: NodeStanding::Approved,
            },
            Event::NodeRegistered {
                operator: a(1),
                key: a(11),
                url: "https://one.example".into(),
            },
            Event::NodeRegistered {
                operator: a(2),
                key: a(12),
                url: "https://two.example".into(),
            },
            Event::NodeUrlChanged {
                operator: a(1),
                url: "https://one.example/assembly".into(),
            },
            Event::NodeKeyRotated {
                operator: a(1),
                old_key: a(11),
                new_key: a(21),
            },
            Event::NodeRegistered {
                operator: a(3),
                key: a(13),
                url: "http://three.example".into(),
            },
            Event::NodeDeregistered {
                operator: a(3),
                key: a(13),
            },
        ];
        let nodes = fold(events.iter().enumerate().map(|(i, e)| (i as u64, e)));
        assert_eq!(
            nodes,
            [
                RegisteredNode {
                    operator: a(1),
                    key: a(21),
                    url: "https://one.example/assembly".into(),
                    standing: NodeStanding::Default,
                    registered_block: 1,
                },
                RegisteredNode {
                    operator: a(2),
                    key: a(12),
                    url: "https://two.example".into(),
                    standing: NodeStanding::Approved,
                    registered_block: 2,
                },
            ]
        );
        assert!(is_member(NodeStanding::Approved, false));
        assert!(is_member(NodeStanding::Default, true));
        assert!(!is_member(NodeStanding::Default, false));
        assert!(!is_member(NodeStanding::Suspended, true));
    }
}
