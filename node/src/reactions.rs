//! Reactions: a fixed, documented set, rate-limited per address and per connection, and
//! aggregated into bursts (counts and the bonded stake behind them) so a thousand claps
//! cost every listener one message, not a thousand.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
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

/// A token bucket: `rate` per second, up to `burst` at once.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

impl Bucket {
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            tokens: burst,
            last: Instant::now(),
            rate,
            burst,
        }
    }

    /// Takes a token, or says how long until one is free.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// One aggregated burst, as sent to every client.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Burst {
    pub counts: BTreeMap<String, u64>,
    /// Bonded stake (LPT base units, decimal) behind each reaction in the burst.
    pub stake: BTreeMap<String, String>,
    pub total_stake: String,
}

/// Rate limits per address and the burst being gathered.
pub struct Reactions {
    per_address: Mutex<HashMap<Address, Bucket>>,
    pending: Mutex<(BTreeMap<String, u64>, BTreeMap<String, U256>)>,
    rate: f64,
    burst: f64,
}

impl Reactions {
    /// `rate` reactions per second per address, `burst` at once.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            per_address: Mutex::new(HashMap::new()),
            pending: Mutex::new(Default::default()),
            rate,
            burst,
        }
    }

    /// Records a reaction by `who` (holding `stake`), or says how long to wait.
    pub fn react(
        &self,
        who: Address,
        stake: U256,
        name: &str,
        now: Instant,
    ) -> Result<(), Duration> {
        {
            let mut buckets = self.per_address.lock().unwrap_or_else(|p| p.into_inner());
            let b = buckets
                .entry(who)
                .or_insert_with(|| Bucket::new(self.rate, self.burst));
            b.take(now)?;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        *pending.0.entry(name.to_string()).or_default() += 1;
        let s = pending.1.entry(name.to_string()).or_default();
        *s = s.saturating_add(stake);
        Ok(())
    }

    /// The burst gathered since the last call, if any.
    pub fn drain(&self) -> Option<Burst> {
        let (counts, stakes) =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
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
    pub fn prune(&self, now: Instant) {
        let full_after = Duration::from_secs_f64(self.burst / self.rate);
        self.per_address
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, b| now.duration_since(b.last) < full_after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_limits_and_refills() {
        let t = Instant::now();
        let mut b = Bucket::new(2.0, 3.0);
        assert!(b.take(t).is_ok() && b.take(t).is_ok() && b.take(t).is_ok());
        let wait = b.take(t).unwrap_err();
        assert!(wait <= Duration::from_millis(500));
        assert!(b.take(t + Duration::from_millis(500)).is_ok());
    }

    #[test]
    fn bursts_aggregate_counts_and_stake() {
        let r = Reactions::new(5.0, 10.0);
        let t = Instant::now();
        r.react(Address::repeat_byte(1), U256::from(10), "clap", t)
            .unwrap();
        r.react(Address::repeat_byte(2), U256::from(5), "clap", t)
            .unwrap();
        r.react(Address::repeat_byte(2), U256::from(5), "fire", t)
            .unwrap();
        let b = r.drain().unwrap();
        assert_eq!(b.counts["clap"], 2);
        assert_eq!(b.stake["clap"], "15");
        assert_eq!(b.total_stake, "20");
        assert!(r.drain().is_none());
    }
}
