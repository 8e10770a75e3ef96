//! Reactions: a fixed, documented set, rate-limited per address and per connection, and
//! aggregated into bursts (counts and the stake behind them) so a thousand claps
//! cost every listener one message, not a thousand.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use serde::Serialize;

/// The reactions, by wire name, with the emoji clients show.
pub const REACTIONS: [(&str, &str); 8] = [
    ("clap", "👏"),
    ("agree", "👍"),
    ("disagree", "👎"),
    ("heart", "❤️"),
    ("laugh", "😂"),
    ("thinking", "🤔"),
    ("fire", "🔥"),
    ("thanks", "🙏"),
];

/// Whether `name` is one of [`REACTIONS`].
pub fn known(name: &str) -> bool {
    REACTIONS.iter().any(|(n, _)| *n == name)
}

/// `rate` per second, up to `burst` at once (at least one). `None` unless `rate` is a positive
/// number small enough to time: such a limit lets nothing through.
fn quota(rate: f64, burst: f64) -> Option<Quota> {
    if !(rate.is_finite() && rate > 0.0) {
        return None;
    }
    let period = Duration::try_from_secs_f64(1.0 / rate).ok()?;
    let burst = NonZeroU32::new(burst.floor().clamp(1.0, u32::MAX as f64) as u32)?;
    Some(Quota::with_period(period)?.allow_burst(burst))
}

/// A token bucket (governor's GCRA): `rate` per second, up to `burst` at once. One per
/// WebSocket connection.
pub struct Bucket<C: Clock = DefaultClock> {
    limiter: Option<RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<C::Instant>>>,
    clock: C,
}

impl Bucket {
    /// `rate` per second, `burst` at once, on the system clock.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self::with_clock(rate, burst, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Bucket<C> {
    /// The same on `clock` (tests move a fake one).
    pub fn with_clock(rate: f64, burst: f64, clock: C) -> Self {
        Self {
            limiter: quota(rate, burst).map(|q| RateLimiter::direct_with_clock(q, clock.clone())),
            clock,
        }
    }

    /// Takes a token, or says how long until one is free.
    pub fn take(&self) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Err(Duration::MAX);
        };
        limiter
            .check()
            .map_err(|until| until.wait_time_from(self.clock.now()))
    }
}

/// One aggregated burst, as sent to every client (and, for reactions given on this node,
/// to the cluster's other members).
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Burst {
    /// How many of each reaction the burst holds, by reaction id.
    pub counts: BTreeMap<String, u64>,
    /// Stake (LPT base units, decimal) behind each reaction in the burst.
    pub stake: BTreeMap<String, String>,
    /// Stake behind all the burst's reactions (LPT base units, decimal).
    pub total_stake: String,
}

/// governor's keyed limiter: one bucket per address.
type PerAddress<C> =
    RateLimiter<Address, DefaultKeyedStateStore<Address>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Rate limits per address and the burst being gathered.
pub struct Reactions<C: Clock = DefaultClock> {
    /// One bucket per address; `None` lets nothing through.
    per_address: Option<PerAddress<C>>,
    clock: C,
    pending: Mutex<Pool>,
    /// Reactions other members of the cluster gathered, for this node's clients only.
    relayed: Mutex<Pool>,
}

/// Counts and stake by reaction.
type Pool = (BTreeMap<String, u64>, BTreeMap<String, U256>);

/// The most of one reaction a sibling's burst may carry (a quarter second of a large room).
pub const MAX_RELAYED_COUNT: u64 = 100_000;

/// Why a sibling's burst was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadBurst {
    /// A reaction not in the set.
    #[error("unknown reaction {0:?}")]
    Unknown(String),
    /// A count of zero or over [`MAX_RELAYED_COUNT`].
    #[error("count out of range")]
    Count,
    /// A stake that is not a decimal amount, or a total that is not the stakes' sum.
    #[error("stake is not a decimal amount, or the total is not the sum")]
    Stake,
}

impl Burst {
    /// The burst's counts and stake, checked: known reactions, counts in range, stakes that
    /// parse and sum to the total. What a sibling says it gathered is bounded, not believed.
    fn checked(&self) -> Result<Pool, BadBurst> {
        let mut pool = Pool::default();
        let mut total = U256::ZERO;
        for (name, n) in &self.counts {
            if !known(name) {
                return Err(BadBurst::Unknown(name.chars().take(32).collect()));
            }
            if *n == 0 || *n > MAX_RELAYED_COUNT {
                return Err(BadBurst::Count);
            }
            pool.0.insert(name.clone(), *n);
        }
        for (name, stake) in &self.stake {
            if !self.counts.contains_key(name) {
                return Err(BadBurst::Unknown(name.chars().take(32).collect()));
            }
            let v: U256 = stake.parse().map_err(|_| BadBurst::Stake)?;
            total = total.checked_add(v).ok_or(BadBurst::Stake)?;
            pool.1.insert(name.clone(), v);
        }
        if self.total_stake.parse::<U256>().ok() != Some(total) {
            return Err(BadBurst::Stake);
        }
        Ok(pool)
    }
}

fn pour(into: &mut Pool, from: Pool) {
    for (k, n) in from.0 {
        let c = into.0.entry(k).or_default();
        *c = c.saturating_add(n);
    }
    for (k, v) in from.1 {
        let s = into.1.entry(k).or_default();
        *s = s.saturating_add(v);
    }
}

fn burst_of((counts, stakes): Pool) -> Option<Burst> {
    if counts.is_empty() {
        return None;
    }
    let total = stakes
        .values()
        .fold(U256::ZERO, |a, b| a.saturating_add(*b));
    Some(Burst {
        counts,
        stake: stakes
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect(),
        total_stake: total.to_string(),
    })
}

impl Reactions {
    /// `rate` reactions per second per address, `burst` at once.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self::with_clock(rate, burst, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Reactions<C> {
    /// The same on `clock` (tests move a fake one).
    pub fn with_clock(rate: f64, burst: f64, clock: C) -> Self {
        Self {
            per_address: quota(rate, burst)
                .map(|q| RateLimiter::dashmap_with_clock(q, clock.clone())),
            clock,
            pending: Mutex::new(Default::default()),
            relayed: Mutex::new(Default::default()),
        }
    }

    /// Records a reaction by `who` (holding `stake`), or says how long to wait.
    pub fn react(&self, who: Address, stake: U256, name: &str) -> Result<(), Duration> {
        let Some(limiter) = &self.per_address else {
            return Err(Duration::MAX);
        };
        limiter
            .check_key(&who)
            .map_err(|until| until.wait_time_from(self.clock.now()))?;
        let mut pending = self.pending.lock();
        *pending.0.entry(name.to_string()).or_default() += 1;
        let s = pending.1.entry(name.to_string()).or_default();
        *s = s.saturating_add(stake);
        Ok(())
    }

    /// The burst gathered since the last call, if any: everything, for this node's clients,
    /// and the part given on this node, for the cluster's other members.
    pub fn drain(&self) -> Option<(Burst, Option<Burst>)> {
        let local = std::mem::take(&mut *self.pending.lock());
        let mut all = std::mem::take(&mut *self.relayed.lock());
        pour(&mut all, local.clone());
        Some((burst_of(all)?, burst_of(local)))
    }

    /// Adds a burst a sibling node gathered, for this node's clients (never sent on).
    pub fn absorb(&self, burst: &Burst) -> Result<(), BadBurst> {
        let pool = burst.checked()?;
        pour(&mut self.relayed.lock(), pool);
        Ok(())
    }

    /// Forgets buckets idle long enough to be full again.
    pub fn prune(&self) {
        if let Some(limiter) = &self.per_address {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn bucket_limits_and_refills() {
        let clock = FakeRelativeClock::default();
        let b = Bucket::with_clock(2.0, 3.0, clock.clone());
        assert!(b.take().is_ok() && b.take().is_ok() && b.take().is_ok());
        let wait = b.take().unwrap_err();
        assert!(wait <= Duration::from_millis(500));
        clock.advance(Duration::from_millis(500));
        assert!(b.take().is_ok());
    }

    #[test]
    fn addresses_have_their_own_buckets() {
        let clock = FakeRelativeClock::default();
        let r = Reactions::with_clock(2.0, 3.0, clock.clone());
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        for _ in 0..3 {
            r.react(a, U256::ZERO, "clap").unwrap();
        }
        let wait = r.react(a, U256::ZERO, "clap").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500));
        r.react(b, U256::ZERO, "clap").unwrap();
        clock.advance(Duration::from_millis(500));
        r.react(a, U256::ZERO, "clap").unwrap();
    }

    #[test]
    fn bursts_aggregate_counts_and_stake() {
        let r = Reactions::new(5.0, 10.0);
        r.react(Address::repeat_byte(1), U256::from(10), "clap")
            .unwrap();
        r.react(Address::repeat_byte(2), U256::from(5), "clap")
            .unwrap();
        r.react(Address::repeat_byte(2), U256::from(5), "fire")
            .unwrap();
        let (b, local) = r.drain().unwrap();
        assert_eq!(b.counts["clap"], 2);
        assert_eq!(b.stake["clap"], "15");
        assert_eq!(b.total_stake, "20");
        assert_eq!(local.as_ref(), Some(&b), "all given here");
        assert!(r.drain().is_none());
    }

    #[test]
    fn a_siblings_burst_reaches_clients_but_is_not_sent_on() {
        let r = Reactions::new(5.0, 10.0);
        let theirs = Burst {
            counts: BTreeMap::from([("clap".into(), 3)]),
            stake: BTreeMap::from([("clap".into(), "30".into())]),
            total_stake: "30".into(),
        };
        r.absorb(&theirs).unwrap();
        r.react(Address::repeat_byte(1), U256::from(10), "clap")
            .unwrap();
        let (all, local) = r.drain().unwrap();
        assert_eq!((all.counts["clap"], all.total_stake.as_str()), (4, "40"));
        let local = local.unwrap();
        assert_eq!(
            (local.counts["clap"], local.total_stake.as_str()),
            (1, "10")
        );
        // Only theirs: shown here, nothing to send on.
        r.absorb(&theirs).unwrap();
        assert_eq!(r.drain().unwrap().1, None);

        let bad = |counts: &[(&str, u64)], stake: &[(&str, &str)], total: &str| Burst {
            counts: counts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            stake: stake
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            total_stake: total.into(),
        };
        assert_eq!(
            r.absorb(&bad(&[("boo", 1)], &[], "0")),
            Err(BadBurst::Unknown("boo".into()))
        );
        assert_eq!(
            r.absorb(&bad(&[("clap", 0)], &[], "0")),
            Err(BadBurst::Count)
        );
        assert_eq!(
            r.absorb(&bad(&[("clap", MAX_RELAYED_COUNT + 1)], &[], "0")),
            Err(BadBurst::Count)
        );
        assert_eq!(
            r.absorb(&bad(&[("clap", 1)], &[("clap", "5")], "6")),
            Err(BadBurst::Stake),
            "a total that is not the sum"
        );
        assert_eq!(
            r.absorb(&bad(&[("clap", 1)], &[("clap", "lots")], "0")),
            Err(BadBurst::Stake)
        );
        assert!(r.drain().is_none(), "nothing refused was kept");
    }
}
