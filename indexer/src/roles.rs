//! The eligibility cache: who is an active orchestrator or a delegator, with what stake,
//! read from Livepeer's BondingManager. Answers are cached until the Livepeer round
//! changes (the active set only changes between rounds) or the BondingManager emits an
//! event about the address (activation, deactivation, bond, unbond), whichever is first.
//! Anyone may look up any address, so the cache is bounded ([`DEFAULT_CACHE_CAPACITY`]).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::providers::DynProvider;
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::bindings::livepeer::{IBondingManager, IRoundsManager};
use crate::deployment::Deployment;
use crate::events::Event;
use crate::sync::Change;

pub use assembly_floor::Role;

/// A role with its stake: an orchestrator's total stake, a delegator's pending stake (bonded
/// plus unclaimed rewards, as Livepeer counts it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Standing {
    /// Orchestrator, delegator, or neither, as the BondingManager says.
    pub role: Role,
    /// Stake in LPT base units (hex): an orchestrator's total, a delegator's pending stake.
    #[schema(value_type = String, example = "0x2b5e3af16b1880000")]
    pub stake: U256,
    /// The Livepeer round this was read in.
    pub round: u64,
}

/// How many standings a [`Roles`] cache holds unless told otherwise: far more than there
/// are orchestrators and active delegators, yet a bounded amount of memory (about a
/// megabyte) however many addresses strangers look up.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// Lookup failures.
#[derive(Clone, Debug, thiserror::Error)]
pub enum RolesError {
    /// A BondingManager or RoundsManager call failed; the provider's message.
    #[error("bonding manager: {0}")]
    Rpc(String),
}

/// A map of at most `capacity` entries which, when full, makes room by CLOCK (second
/// chance): a hand sweeps a ring of the keys, sparing once each entry read since it last
/// passed, so entries in use outlive a scan of one-off keys. Every operation is O(1)
/// amortised: each step of the hand either evicts or clears a bit a read set.
struct Clock<K, V> {
    capacity: usize,
    map: HashMap<K, Slot<V>>,
    /// Every key in `map`, each once; a slot's `at` is its index here.
    ring: Vec<K>,
    hand: usize,
}

struct Slot<V> {
    value: V,
    at: usize,
    referenced: bool,
}

impl<K: Copy + Eq + Hash, V: Copy> Clock<K, V> {
    /// Room for `capacity` entries; with 0, nothing is kept.
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            // Grown as needed: a node with a large capacity and few users stays small.
            map: HashMap::new(),
            ring: Vec::new(),
            hand: 0,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }

    fn get(&mut self, key: &K) -> Option<V> {
        let slot = self.map.get_mut(key)?;
        slot.referenced = true;
        Some(slot.value)
    }

    fn insert(&mut self, key: K, value: V) {
        if let Some(slot) = self.map.get_mut(&key) {
            slot.value = value;
            slot.referenced = true;
            return;
        }
        if self.capacity == 0 {
            return;
        }
        while self.ring.len() >= self.capacity {
            self.evict_one();
        }
        // Unreferenced until read again: a key looked up once is the first to go.
        self.map.insert(
            key,
            Slot {
                value,
                at: self.ring.len(),
                referenced: false,
            },
        );
        self.ring.push(key);
    }

    fn remove(&mut self, key: &K) -> Option<V> {
        let slot = self.map.remove(key)?;
        self.ring.swap_remove(slot.at);
        // The last key took the removed one's place in the ring.
        if let Some(moved) = self.ring.get(slot.at) {
            if let Some(m) = self.map.get_mut(moved) {
                m.at = slot.at;
            }
        }
        Some(slot.value)
    }

    fn clear(&mut self) {
        self.map.clear();
        self.ring.clear();
        self.hand = 0;
    }

    /// Advances the hand to the first unreferenced entry, clearing bits on the way, and
    /// evicts it. Ends within two turns of the ring, the first clearing every bit.
    fn evict_one(&mut self) {
        while !self.ring.is_empty() {
            if self.hand >= self.ring.len() {
                self.hand = 0;
            }
            let key = self.ring[self.hand];
            match self.map.get_mut(&key) {
                Some(slot) if slot.referenced => {
                    slot.referenced = false;
                    self.hand += 1;
                }
                _ => {
                    // The hand stays: the ring's last key now sits under it.
                    self.remove(&key);
                    return;
                }
            }
        }
    }
}

/// A lookup under way; every caller asking for the same address meanwhile waits on it.
type Pending = tokio::sync::OnceCell<Result<Standing, RolesError>>;

struct Inner {
    standings: Clock<Address, Standing>,
    inflight: HashMap<Address, Arc<Pending>>,
    /// Bumped by every invalidation, so a lookup that began before one does not store
    /// what it read (it may be what was just invalidated).
    epoch: u64,
}

/// The standings read so far and the lookups under way, under one lock that is never held
/// across an await.
struct Cache {
    inner: Mutex<Inner>,
}

impl Cache {
    fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                standings: Clock::new(capacity),
                inflight: HashMap::new(),
                epoch: 0,
            }),
        }
    }

    /// `account`'s cached standing, or what `fetch` reads, read once however many callers
    /// ask at the same time.
    async fn get_or_fetch<F, Fut>(&self, account: Address, fetch: F) -> Result<Standing, RolesError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Standing, RolesError>>,
    {
        let pending = {
            let mut inner = self.inner.lock();
            if let Some(s) = inner.standings.get(&account) {
                return Ok(s);
            }
            Arc::clone(inner.inflight.entry(account).or_default())
        };
        let flight = Flight {
            cache: self,
            account,
            pending: Some(pending),
        };
        let read = || async {
            let epoch = self.inner.lock().epoch;
            let got = fetch().await;
            if let Ok(s) = &got {
                let mut inner = self.inner.lock();
                if inner.epoch == epoch {
                    inner.standings.insert(account, *s);
                }
            }
            got
        };
        // If the caller running `read` is dropped, tokio hands it to one of the waiters.
        match flight.pending.as_deref() {
            Some(p) => p.get_or_init(read).await.clone(),
            // Only `Flight::drop` empties it.
            None => read().await,
        }
    }

    fn invalidate(&self, account: Address) {
        let mut inner = self.inner.lock();
        inner.standings.remove(&account);
        // Later callers start a fresh read rather than wait for a stale one.
        inner.inflight.remove(&account);
        inner.epoch += 1;
    }

    fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.standings.clear();
        inner.inflight.clear();
        inner.epoch += 1;
    }
}

/// One caller's share in a lookup. Dropped on return or on cancellation, it removes the
/// lookup from `inflight` once it has an answer or nobody else waits on it, so neither
/// finished nor abandoned lookups pile up.
struct Flight<'a> {
    cache: &'a Cache,
    account: Address,
    pending: Option<Arc<Pending>>,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let mut inner = self.cache.inner.lock();
        // Every clone of `pending` is made and dropped under this lock, so the count is
        // exact: 2 is the map's and ours.
        let ours = inner
            .inflight
            .get(&self.account)
            .is_some_and(|p| Arc::ptr_eq(p, &pending));
        if ours && (pending.initialized() || Arc::strong_count(&pending) == 2) {
            inner.inflight.remove(&self.account);
        }
        drop(pending);
    }
}

/// The cache. The Livepeer contracts it calls are the ones named by the deployment.
pub struct Roles {
    bonding: IBondingManager::IBondingManagerInstance<DynProvider>,
    rounds: IRoundsManager::IRoundsManagerInstance<DynProvider>,
    cache: Cache,
    round: Mutex<Option<u64>>,
}

impl Roles {
    /// An empty cache of [`DEFAULT_CACHE_CAPACITY`] standings that reads the deployment's
    /// BondingManager and RoundsManager through `provider`.
    pub fn new(provider: DynProvider, deployment: &Deployment) -> Self {
        Self {
            bonding: IBondingManager::new(deployment.bonding_manager, provider.clone()),
            rounds: IRoundsManager::new(deployment.rounds_manager, provider),
            cache: Cache::new(DEFAULT_CACHE_CAPACITY),
            round: Mutex::new(None),
        }
    }

    /// The same, holding at most `capacity` standings (0: none, every lookup reads the
    /// chain). Past it, standings not read lately are dropped first.
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache = Cache::new(capacity);
        self
    }

    /// `account`'s standing, from the cache or the chain. Concurrent lookups of the same
    /// uncached account share one read.
    pub async fn standing(&self, account: Address) -> Result<Standing, RolesError> {
        self.cache
            .get_or_fetch(account, || self.read(account))
            .await
    }

    /// `account`'s standing as the chain says now.
    async fn read(&self, account: Address) -> Result<Standing, RolesError> {
        let rpc = |e: alloy::contract::Error| RolesError::Rpc(e.to_string());
        let round = self
            .rounds
            .currentRound()
            .call()
            .await
            .map_err(rpc)?
            .to::<u64>();
        let active = self
            .bonding
            .isActiveTranscoder(account)
            .call()
            .await
            .map_err(rpc)?;
        if active {
            let stake = self
                .bonding
                .transcoderTotalStake(account)
                .call()
                .await
                .map_err(rpc)?;
            return Ok(Standing {
                role: Role::Orchestrator,
                stake,
                round,
            });
        }
        // Livepeer counts a delegator's stake as its pending stake: what it bonded plus the
        // rewards earned since it last claimed (PollCreator and Explorer do the same).
        // `bondedAmount` alone lags for as long as the delegator does not claim.
        let stake = self
            .bonding
            .pendingStake(account, U256::ZERO)
            .call()
            .await
            .map_err(rpc)?;
        let role = if stake.is_zero() {
            Role::Observer
        } else {
            Role::Delegator
        };
        Ok(Standing { role, stake, round })
    }

    /// The orchestrator `account` is bonded to, as the chain says now (not cached: asked
    /// for once per page a delegator opens); None if it is bonded to nobody.
    pub async fn delegate_of(&self, account: Address) -> Result<Option<Address>, RolesError> {
        let d = self
            .bonding
            .getDelegator(account)
            .call()
            .await
            .map_err(|e| RolesError::Rpc(e.to_string()))?;
        Ok((!d.delegateAddress.is_zero()).then_some(d.delegateAddress))
    }

    /// Forgets `account`, so its next lookup reads the chain.
    pub fn invalidate(&self, account: Address) {
        self.cache.invalidate(account);
    }

    /// Applies a change from the follower: role events invalidate; a rollback invalidates
    /// everything (the orphaned blocks may have changed anyone).
    pub fn observe(&self, change: &Change) {
        match change {
            Change::Applied { events, .. } => {
                for e in events {
                    if let Event::RoleChanged { accounts, .. } = e {
                        for account in accounts {
                            self.invalidate(*account);
                        }
                    }
                }
            }
            Change::RolledBack { .. } => self.cache.clear(),
        }
    }

    /// Clears the cache when the Livepeer round has moved on.
    pub async fn check_round(&self) -> Result<(), RolesError> {
        let now = self
            .rounds
            .currentRound()
            .call()
            .await
            .map_err(|e| RolesError::Rpc(e.to_string()))?
            .to::<u64>();
        let mut round = self.round.lock();
        if *round != Some(now) {
            *round = Some(now);
            self.cache.clear();
        }
        Ok(())
    }

    /// Keeps the cache fresh until `shutdown`: follows changes, and checks the round every
    /// `round_check`.
    pub async fn maintain(
        self: std::sync::Arc<Self>,
        mut changes: broadcast::Receiver<Change>,
        round_check: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(round_check);
        loop {
            tokio::select! {
                c = changes.recv() => match c {
                    Ok(c) => self.observe(&c),
                    // Missed changes: anything may be stale.
                    Err(broadcast::error::RecvError::Lagged(_)) => self.cache.clear(),
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick() => {
                    if let Err(e) = self.check_round().await {
                        tracing::warn!(error = %e, "round check failed");
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn addr(i: u64) -> Address {
        let mut b = [0u8; 20];
        b[12..].copy_from_slice(&i.to_be_bytes());
        Address::from(b)
    }

    fn standing(round: u64) -> Standing {
        Standing {
            role: Role::Observer,
            stake: U256::ZERO,
            round,
        }
    }

    /// Checks the ring and the map agree: each key once, each slot pointing at its key.
    fn consistent<K: Copy + Eq + Hash + std::fmt::Debug, V: Copy>(c: &Clock<K, V>) {
        assert_eq!(c.ring.len(), c.map.len());
        assert!(c.map.len() <= c.capacity);
        for (i, k) in c.ring.iter().enumerate() {
            assert_eq!(c.map[k].at, i, "{k:?}");
        }
    }

    #[test]
    fn a_scan_of_strangers_stays_within_the_bound() {
        let mut c = Clock::new(100);
        for i in 0..10 {
            c.insert(addr(i), standing(i));
        }
        for i in 10..100_000 {
            // The first ten are read all along; strangers are looked up once each.
            for j in 0..10 {
                assert_eq!(c.get(&addr(j)), Some(standing(j)), "{j} evicted at {i}");
            }
            c.insert(addr(i), standing(i));
            assert!(c.len() <= 100);
        }
        consistent(&c);
        assert_eq!(c.len(), 100);
        assert_eq!(c.get(&addr(99_999)), Some(standing(99_999)), "newest kept");
    }

    #[test]
    fn removal_and_replacement_keep_the_ring_whole() {
        let mut c = Clock::new(8);
        for i in 0..8 {
            c.insert(addr(i), standing(i));
        }
        assert_eq!(c.remove(&addr(3)), Some(standing(3)));
        assert_eq!(c.remove(&addr(3)), None);
        c.insert(addr(5), standing(50));
        assert_eq!(c.get(&addr(5)), Some(standing(50)));
        consistent(&c);
        for i in 100..140 {
            c.insert(addr(i), standing(i));
            if i % 3 == 0 {
                c.remove(&addr(i - 1));
            }
            consistent(&c);
        }
        c.clear();
        assert_eq!(c.len(), 0);
        c.insert(addr(1), standing(1));
        assert_eq!(c.get(&addr(1)), Some(standing(1)));

        let mut none = Clock::new(0);
        none.insert(addr(1), standing(1));
        assert_eq!(none.get(&addr(1)), None, "capacity 0 keeps nothing");
    }

    #[tokio::test]
    async fn concurrent_lookups_of_one_address_share_a_read() {
        let cache = Cache::new(10);
        let reads = AtomicUsize::new(0);
        let fetch = || async {
            reads.fetch_add(1, Ordering::SeqCst);
            // Pending once, so the other lookups arrive while this one is under way.
            tokio::task::yield_now().await;
            Ok(standing(7))
        };
        let (a, b, c) = tokio::join!(
            cache.get_or_fetch(addr(1), fetch),
            cache.get_or_fetch(addr(1), fetch),
            cache.get_or_fetch(addr(1), fetch),
        );
        assert_eq!(
            (a.unwrap(), b.unwrap(), c.unwrap()),
            (standing(7), standing(7), standing(7))
        );
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        assert!(cache.inner.lock().inflight.is_empty());
        assert_eq!(
            cache.get_or_fetch(addr(1), fetch).await.unwrap(),
            standing(7)
        );
        assert_eq!(reads.load(Ordering::SeqCst), 1, "then cached");
    }

    #[tokio::test]
    async fn failures_and_abandoned_lookups_leave_nothing_behind() {
        let cache = Cache::new(10);
        let failed = cache
            .get_or_fetch(addr(1), || async { Err(RolesError::Rpc("down".into())) })
            .await;
        assert!(failed.is_err());
        assert!(cache.inner.lock().inflight.is_empty());
        assert_eq!(
            cache.inner.lock().standings.len(),
            0,
            "failures are not cached"
        );

        // A lookup dropped mid-read (its client went away).
        let never = cache.get_or_fetch(addr(2), std::future::pending);
        let abandoned = tokio::time::timeout(Duration::from_millis(5), never).await;
        assert!(abandoned.is_err());
        assert!(cache.inner.lock().inflight.is_empty());
    }

    #[tokio::test]
    async fn a_read_overtaken_by_an_invalidation_is_not_stored() {
        let cache = Cache::new(10);
        let got = tokio::join!(
            cache.get_or_fetch(addr(1), || async {
                tokio::task::yield_now().await;
                Ok(standing(1))
            }),
            async { cache.invalidate(addr(1)) },
        )
        .0;
        assert_eq!(got.unwrap(), standing(1));
        assert_eq!(cache.inner.lock().standings.len(), 0);
    }
}
