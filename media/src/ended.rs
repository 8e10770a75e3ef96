//! Why a media session ended, kept for a while after it has: a client that comes back to
//! its WHIP/WHEP resource (to `DELETE` it, as RFC 9725 has it do) learns what happened
//! (`410 Gone` with the reason) instead of a bare "no such session". Bounded: the oldest
//! are forgotten first, and any after [`KEPT_FOR`].

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How long a reason is kept.
pub const KEPT_FOR: Duration = Duration::from_secs(600);
/// Most reasons kept at once.
pub const MOST_KEPT: usize = 4096;

/// Why the node ended a peer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Ending {
    /// ICE or DTLS did not complete in time.
    #[error("it never connected within {0} s (ICE or DTLS did not complete)")]
    NeverConnected(u64),
    /// Its connection failed (a refused DTLS handshake, for one). What failed, in words a
    /// client may read; the library's own account goes to the node's log.
    #[error("its connection failed: {0}")]
    Failed(&'static str),
    /// Nothing arrived from it for this long.
    #[error("nothing arrived from it for {0} s")]
    Silent(u64),
    /// The client closed it in-band (DTLS close_notify).
    #[error("its client closed the connection")]
    ClosedByPeer,
    /// The client's `DELETE`.
    #[error("its client ended it")]
    Deleted,
    /// A speaker's turn is over (or was withdrawn).
    #[error("the speaker's turn on the floor is over")]
    FloorPassed,
    /// The same speaker connected again.
    #[error("a newer connection of the same speaker replaced it")]
    Replaced,
    /// The node is stopping.
    #[error("the node stopped")]
    Shutdown,
}

impl Ending {
    /// Whether this ending is a failure worth a warning in the node's log.
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::NeverConnected(_) | Self::Failed(_))
    }
}

/// Recently ended resources and why.
#[derive(Default)]
pub(crate) struct Ended {
    reasons: HashMap<String, (Ending, Instant)>,
    order: VecDeque<(String, Instant)>,
}

impl Ended {
    pub(crate) fn record(&mut self, resource: &str, why: Ending, now: Instant) {
        self.forget_old(now);
        while self.order.len() >= MOST_KEPT {
            self.pop();
        }
        self.reasons.insert(resource.to_string(), (why, now));
        self.order.push_back((resource.to_string(), now));
    }

    pub(crate) fn why(&mut self, resource: &str, now: Instant) -> Option<Ending> {
        self.forget_old(now);
        self.reasons.get(resource).map(|(why, _)| why.clone())
    }

    fn forget_old(&mut self, now: Instant) {
        while self
            .order
            .front()
            .is_some_and(|(_, at)| now.duration_since(*at) > KEPT_FOR)
        {
            self.pop();
        }
    }

    fn pop(&mut self) {
        if let Some((resource, at)) = self.order.pop_front() {
            // A resource id is never reused, but be exact: only its own entry goes.
            if self.reasons.get(&resource).is_some_and(|(_, t)| *t == at) {
                self.reasons.remove(&resource);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_kept_for_a_while_and_bounded() {
        let mut e = Ended::default();
        let t0 = Instant::now();
        e.record("a", Ending::FloorPassed, t0);
        assert_eq!(e.why("a", t0), Some(Ending::FloorPassed));
        assert_eq!(e.why("b", t0), None);
        assert_eq!(e.why("a", t0 + KEPT_FOR + Duration::from_secs(1)), None);
        for i in 0..MOST_KEPT + 10 {
            e.record(&i.to_string(), Ending::Silent(15), t0);
        }
        assert_eq!(e.reasons.len(), MOST_KEPT);
        assert_eq!(e.why("0", t0), None, "the oldest went first");
        assert!(e.why(&(MOST_KEPT + 9).to_string(), t0).is_some());
    }

    #[test]
    fn reasons_read_as_sentences() {
        assert_eq!(
            Ending::NeverConnected(20).to_string(),
            "it never connected within 20 s (ICE or DTLS did not complete)"
        );
        assert!(Ending::Failed("x").is_failure());
        assert!(!Ending::FloorPassed.is_failure());
    }
}
