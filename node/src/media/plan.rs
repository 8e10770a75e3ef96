//! The floor, as the media path needs it: for each session in progress, the slots the
//! chain's timeline gives (speaker, start, end), in order. Audio from an address is
//! forwarded only inside one of its slots, judged per packet against the wall clock, so a
//! slot ends on time even when no block arrives at that moment; a yield or a new request
//! reaches the media path as a new plan the moment the indexer applies its block.

use std::collections::HashMap;
use std::sync::Arc;

use alloy::primitives::Address;
use serde::Serialize;

/// One slot, in milliseconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub speaker: Address,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// The slots of one session in progress, ordered by start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub occurrence: u32,
    pub slots: Vec<Slot>,
}

/// Every session in progress, by id.
pub type Plans = Arc<HashMap<u64, Plan>>;

/// Why a publisher was turned away (sent to the client as the 403's reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    #[error("this session is not in progress")]
    SessionNotLive,
    #[error("you hold no slot in this session: request the floor on chain first")]
    NotQueued,
    #[error("you are queued but not next: connect when the speaker before you takes the floor")]
    NotNext,
    #[error("your role on chain does not allow you to speak in this session")]
    NotEligible,
}

/// What an address may do with its audio at some instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Holds the floor until `end_ms`: forwarded.
    Holder { end_ms: u64 },
    /// Holds the next slot: may connect ahead, not forwarded yet.
    Next { start_ms: u64 },
}

impl Plan {
    /// From one occurrence's queue in the live state (which already leaves out withdrawn and
    /// ended slots).
    pub fn from_queue(
        occurrence: u32,
        queue: impl IntoIterator<Item = (Address, u64, u64)>,
    ) -> Self {
        let mut slots: Vec<Slot> = queue
            .into_iter()
            .filter(|(_, s, e)| e > s)
            .map(|(speaker, s, e)| Slot {
                speaker,
                start_ms: s * 1000,
                end_ms: e * 1000,
            })
            .collect();
        slots.sort_by_key(|s| s.start_ms);
        Self { occurrence, slots }
    }

    /// The slot holding the floor at `ms`, if any.
    pub fn holder_at(&self, ms: u64) -> Option<&Slot> {
        // Slots are disjoint and ordered: the last one starting at or before `ms`.
        let i = self.slots.partition_point(|s| s.start_ms <= ms);
        self.slots[..i].last().filter(|s| ms < s.end_ms)
    }

    /// The first slot starting after `ms`.
    pub fn next_after(&self, ms: u64) -> Option<&Slot> {
        let i = self.slots.partition_point(|s| s.start_ms <= ms);
        self.slots.get(i)
    }

    /// Whether `who` may be connected as a publisher at `ms`: holding the floor, or next.
    pub fn standing(&self, who: Address, ms: u64) -> Result<Standing, Refusal> {
        if let Some(s) = self.holder_at(ms).filter(|s| s.speaker == who) {
            return Ok(Standing::Holder { end_ms: s.end_ms });
        }
        if let Some(s) = self.next_after(ms).filter(|s| s.speaker == who) {
            return Ok(Standing::Next {
                start_ms: s.start_ms,
            });
        }
        if self.slots.iter().any(|s| s.speaker == who && s.end_ms > ms) {
            Err(Refusal::NotNext)
        } else {
            Err(Refusal::NotQueued)
        }
    }

    /// The slot `who` holds at `ms`: a packet from `who` arriving then is forwarded.
    pub fn holding(&self, who: Address, ms: u64) -> Option<&Slot> {
        self.holder_at(ms).filter(|s| s.speaker == who)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    #[test]
    fn holder_next_and_refusals() {
        let p = Plan::from_queue(0, [(a(2), 110, 120), (a(1), 100, 110), (a(3), 120, 130)]);
        assert_eq!(p.holder_at(99_999), None);
        assert_eq!(p.holder_at(100_000).map(|s| s.speaker), Some(a(1)));
        assert_eq!(p.holder_at(109_999).map(|s| s.speaker), Some(a(1)));
        assert_eq!(p.holder_at(110_000).map(|s| s.speaker), Some(a(2)));
        assert_eq!(p.holder_at(130_000), None);
        assert_eq!(
            p.standing(a(1), 105_000),
            Ok(Standing::Holder { end_ms: 110_000 })
        );
        assert_eq!(
            p.standing(a(2), 105_000),
            Ok(Standing::Next { start_ms: 110_000 })
        );
        assert_eq!(p.standing(a(3), 105_000), Err(Refusal::NotNext));
        assert_eq!(p.standing(a(4), 105_000), Err(Refusal::NotQueued));
        // After its slot, the first speaker holds nothing.
        assert_eq!(p.standing(a(1), 111_000), Err(Refusal::NotQueued));
        assert!(p.holding(a(1), 109_999).is_some());
        assert!(p.holding(a(1), 110_000).is_none());
        assert!(p.holding(a(2), 109_999).is_none());
    }

    #[test]
    fn gap_before_the_first_slot_makes_it_next() {
        let p = Plan::from_queue(0, [(a(1), 100, 110)]);
        assert_eq!(
            p.standing(a(1), 90_000),
            Ok(Standing::Next { start_ms: 100_000 })
        );
        assert!(p.holding(a(1), 90_000).is_none());
    }

    #[test]
    fn empty_slots_are_ignored() {
        let p = Plan::from_queue(0, [(a(1), 100, 100), (a(2), 100, 110)]);
        assert_eq!(p.holder_at(100_000).map(|s| s.speaker), Some(a(2)));
    }
}
