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

/// One aggregated burst, as sent to every client.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
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
    pending: Mutex<(BTreeMap<String, u64>, BTreeMap<String, U256>)>,
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

    /// The burst gathered since the last call, if any.
    pub fn drain(&self) -> Option<Burst> {
        let (counts, stakes) = std::mem::take(&mut *self.pending.lock());
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
        let b = r.drain().unwrap();
        assert_eq!(b.counts["clap"], 2);
        assert_eq!(b.stake["clap"], "15");
        assert_eq!(b.total_stake, "20");
        assert!(r.drain().is_none());
    }
}
