//! Who is connected to the live state, counted once per person: a signed-in account once
//! however many tabs it has open, an anonymous observer once per network address. The live
//! state's listener counts are read here; sockets themselves are bounded by
//! [`crate::limits`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use alloy::primitives::Address;
use assembly_archive::attendance::Ledger;
use assembly_floor::clock;
use assembly_indexer::roles::Role;
use parking_lot::Mutex;

use serde::Serialize;
use utoipa::ToSchema;

/// People connected, by role: an account once however many sockets it holds, an anonymous
/// observer once per network address.
#[derive(Clone, Copy, Debug, Default, Serialize, serde::Deserialize, PartialEq, Eq, ToSchema)]
pub struct Listeners {
    /// Accounts connected as an orchestrator.
    pub orchestrators: i64,
    /// Accounts connected as a delegator.
    pub delegators: i64,
    /// Observers: anonymous addresses, and accounts with neither role (or a failed role lookup).
    pub observers: i64,
}

/// Whom a socket is counted as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Who {
    /// A signed-in account.
    Account(Address),
    /// An anonymous observer at this address.
    Address(IpAddr),
    /// An anonymous observer whose address is unknown: counted alone.
    Unknown(u64),
}

#[derive(Debug)]
struct Entry {
    role: Role,
    sockets: usize,
}

/// The people connected now.
#[derive(Debug, Default)]
pub struct Presence {
    here: Mutex<HashMap<Who, Entry>>,
    next_unknown: AtomicU64,
    /// Where signed-in arrivals and departures are written, once the node has an archive.
    ledger: OnceLock<Ledger>,
    /// The counts the cluster's other members last reported, by node key, and when.
    siblings: Mutex<HashMap<Address, (Listeners, std::time::Instant)>>,
}

/// How long a sibling's reported counts stand without a new report (a member that went
/// away stops being counted).
pub const SIBLING_COUNTS_LAST: std::time::Duration = std::time::Duration::from_secs(10);

/// The most a sibling may report of one role (a node's own limits are far below).
const MAX_SIBLING_COUNT: i64 = 1_000_000;

/// One socket's presence; dropping it leaves.
pub struct Here {
    presence: Arc<Presence>,
    who: Who,
}

impl Presence {
    /// Writes signed-in accounts' arrivals and departures to `ledger` from now on.
    pub fn record_to(&self, ledger: Ledger) {
        let _ = self.ledger.set(ledger);
    }

    /// The attendance ledger, if presence is recorded.
    pub fn ledger(&self) -> Option<&Ledger> {
        self.ledger.get()
    }

    /// Takes a sibling node's report of its own counts (bounded, never negative).
    pub fn sibling(&self, key: Address, counts: Listeners) {
        let bound = |n: i64| n.clamp(0, MAX_SIBLING_COUNT);
        let counts = Listeners {
            orchestrators: bound(counts.orchestrators),
            delegators: bound(counts.delegators),
            observers: bound(counts.observers),
        };
        self.siblings
            .lock()
            .insert(key, (counts, std::time::Instant::now()));
    }

    /// This node's counts and its siblings' last reports (those not yet stale).
    pub fn counts_with_siblings(&self) -> Listeners {
        let mut l = self.counts();
        let mut siblings = self.siblings.lock();
        siblings.retain(|_, (_, at)| at.elapsed() < SIBLING_COUNTS_LAST);
        for (c, _) in siblings.values() {
            l.orchestrators += c.orchestrators;
            l.delegators += c.delegators;
            l.observers += c.observers;
        }
        l
    }

    /// Counts a socket of `account` (with `role`), or an anonymous one from `ip`.
    pub fn join(
        self: &Arc<Self>,
        account: Option<Address>,
        ip: Option<IpAddr>,
        role: Role,
    ) -> Here {
        let who = match (account, ip) {
            (Some(a), _) => Who::Account(a),
            (None, Some(ip)) => Who::Address(ip),
            (None, None) => Who::Unknown(self.next_unknown.fetch_add(1, Relaxed)),
        };
        let mut here = self.here.lock();
        let e = here.entry(who).or_insert(Entry { role, sockets: 0 });
        // The latest socket's role stands: a role read later is the fresher one.
        e.role = role;
        e.sockets += 1;
        if let (1, Who::Account(a), Some(l)) = (e.sockets, who, self.ledger.get()) {
            l.arrived(a, role_name(role), clock::now_ms());
        }
        Here {
            presence: self.clone(),
            who,
        }
    }

    /// People connected, by role.
    pub fn counts(&self) -> Listeners {
        let mut l = Listeners::default();
        for e in self.here.lock().values() {
            *match e.role {
                Role::Orchestrator => &mut l.orchestrators,
                Role::Delegator => &mut l.delegators,
                Role::Observer => &mut l.observers,
            } += 1;
        }
        l
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Orchestrator => "orchestrator",
        Role::Delegator => "delegator",
        Role::Observer => "observer",
    }
}

impl Drop for Here {
    fn drop(&mut self) {
        let mut here = self.presence.here.lock();
        if let Some(e) = here.get_mut(&self.who) {
            e.sockets -= 1;
            if e.sockets == 0 {
                here.remove(&self.who);
                if let (Who::Account(a), Some(l)) = (self.who, self.presence.ledger.get()) {
                    l.left(a, clock::now_ms());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_are_counted_once_however_many_sockets() {
        let p = Arc::new(Presence::default());
        let a = Address::repeat_byte(1);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let tabs: Vec<Here> = (0..50)
            .map(|_| p.join(Some(a), Some(ip), Role::Orchestrator))
            .collect();
        let anon: Vec<Here> = (0..50)
            .map(|_| p.join(None, Some(ip), Role::Observer))
            .collect();
        let _other = p.join(None, Some("10.0.0.2".parse().unwrap()), Role::Observer);
        let _unknown = (
            p.join(None, None, Role::Observer),
            p.join(None, None, Role::Observer),
        );
        let c = p.counts();
        assert_eq!((c.orchestrators, c.delegators, c.observers), (1, 0, 4));
        drop(tabs);
        drop(anon);
        let c = p.counts();
        assert_eq!((c.orchestrators, c.observers), (0, 3));
    }
}
