//! Slots and the timeline: the rule stated in the crate docs, and the calendar of a
//! (possibly recurring) session. Times are seconds since the epoch, as on chain.

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};

/// A session duration meaning "always in session" (the contract's `FOREVER`).
pub const FOREVER: u64 = (1 << 40) - 1;

/// A session's calendar: occurrence `i` runs over
/// `[start + i * period, start + i * period + duration)`, cut at `cancelled_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// When occurrence 0 begins.
    pub start: u64,
    /// Each occurrence's length ([`FOREVER`] for an always-open floor).
    pub duration: u64,
    /// 0 for a single occurrence.
    pub period: u64,
    /// Number of occurrences when recurring; 0 means until cancelled.
    pub count: u32,
    /// The longest a slot may run.
    pub slot_length: u64,
    /// When the session was cancelled, if it was: occurrences end there.
    pub cancelled_at: Option<u64>,
}

/// The bounds of one occurrence and the slot length: all the rule needs of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Span {
    /// The occurrence's start.
    pub start: u64,
    /// Its end (exclusive), cut at a cancellation.
    pub end: u64,
    /// The longest a slot may run.
    pub slot_length: u64,
}

/// One request for the floor, as the events describe it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Who asked.
    pub speaker: Address,
    /// When the request was mined.
    pub enqueued_at: u64,
    /// When the speaker yielded the rest of the slot, if they did.
    pub yielded_at: Option<u64>,
    /// Whether the request was withdrawn before its slot.
    pub withdrawn: bool,
}

/// The slot the rule gives one request. `end` is exclusive; `start == end` is an empty slot
/// (withdrawn, yielded at once, or no time left).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// The request's place in the occurrence's queue.
    pub index: u32,
    /// Who holds it.
    pub speaker: Address,
    /// When it begins.
    pub start: u64,
    /// When it ends (exclusive).
    pub end: u64,
    /// Whether its request was withdrawn (then it takes no time).
    pub withdrawn: bool,
}

impl Slot {
    /// Whether this slot holds the floor at `t`.
    pub fn contains(&self, t: u64) -> bool {
        !self.withdrawn && self.start <= t && t < self.end
    }
}

/// One request's slot given the end of the previous one (`cursor`); the rule itself.
pub fn slot(cursor: u64, span: Span, enqueued_at: u64, yielded_at: Option<u64>) -> (u64, u64) {
    let start = span.start.max(enqueued_at).max(cursor);
    let mut end = start.saturating_add(span.slot_length);
    if let Some(y) = yielded_at.filter(|&y| y != 0) {
        end = end.min(y);
    }
    end = end.min(span.end).max(start);
    (start, end)
}

/// Every request's slot, in queue order.
pub fn timeline(span: Span, requests: &[Request]) -> Vec<Slot> {
    let mut cursor = 0;
    requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (start, end) = if r.withdrawn {
                (cursor, cursor)
            } else {
                let (s, e) = slot(cursor, span, r.enqueued_at, r.yielded_at);
                cursor = e;
                (s, e)
            };
            Slot {
                index: i as u32,
                speaker: r.speaker,
                start,
                end,
                withdrawn: r.withdrawn,
            }
        })
        .collect()
}

/// The slot holding the floor at `t`, if any. Non-empty slots are disjoint and sorted, so
/// this is a binary search.
pub fn holder_at(timeline: &[Slot], t: u64) -> Option<&Slot> {
    let after = timeline.partition_point(|s| s.start <= t);
    timeline[..after]
        .iter()
        .rev()
        .find(|s| !s.withdrawn && s.start < s.end)
        .filter(|s| s.contains(t))
}

impl Schedule {
    fn exists(&self, i: u64) -> bool {
        if self.period == 0 {
            return i == 0;
        }
        (self.count == 0 || i < u64::from(self.count)) && i <= u64::from(u32::MAX)
    }

    /// Bounds of occurrence `i`, its end cut at the cancellation.
    pub fn bounds(&self, i: u32) -> (u64, u64) {
        let start = u128::from(self.start) + u128::from(i) * u128::from(self.period);
        let mut end = start + u128::from(self.duration);
        if let Some(c) = self.cancelled_at.filter(|&c| c != 0) {
            end = end.min(u128::from(c));
        }
        let clamp = |x: u128| u64::try_from(x).unwrap_or(u64::MAX);
        (clamp(start), clamp(end.max(start)))
    }

    /// The span of occurrence `i`.
    pub fn span(&self, i: u32) -> Span {
        let (start, end) = self.bounds(i);
        Span {
            start,
            end,
            slot_length: self.slot_length,
        }
    }

    /// The occurrence in progress at `t`, if any.
    pub fn containing(&self, t: u64) -> Option<u32> {
        if t < self.start {
            return None;
        }
        // A single occurrence (period 0) is occurrence 0.
        let n = (t - self.start).checked_div(self.period).unwrap_or(0);
        if !self.exists(n) {
            return None;
        }
        let (start, end) = self.bounds(n as u32);
        (start <= t && t < end).then_some(n as u32)
    }

    /// The occurrence in progress at `t`, or else the next to begin (ignoring cancellation):
    /// what a request made at `t` queues for.
    pub fn current_or_next(&self, t: u64) -> Option<u32> {
        let mut n = 0;
        if t >= self.start && self.period != 0 {
            n = (t - self.start) / self.period;
            if u128::from(t)
                >= u128::from(self.start)
                    + u128::from(n) * u128::from(self.period)
                    + u128::from(self.duration)
            {
                n += 1;
            }
        } else if u128::from(t) >= u128::from(self.start) + u128::from(self.duration) {
            return None;
        }
        self.exists(n).then_some(n as u32)
    }

    /// Occurrences overlapping `[from, to)`, at most `limit` of them: recurring sessions
    /// expanded into dated occurrences.
    pub fn occurrences(&self, from: u64, to: u64, limit: usize) -> Vec<(u32, u64, u64)> {
        let first = match self.containing(from) {
            Some(i) => i,
            None => match self.current_or_next(from) {
                Some(i) => i,
                None => return Vec::new(),
            },
        };
        let mut out = Vec::new();
        let mut i = first;
        while out.len() < limit && self.exists(u64::from(i)) {
            let (s, e) = self.bounds(i);
            if s >= to || s == e && self.cancelled_at.is_some() {
                break;
            }
            out.push((i, s, e));
            if self.period == 0 {
                break;
            }
            i = match i.checked_add(1) {
                Some(n) => n,
                None => break,
            };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: Address = Address::repeat_byte(0xa);
    const B: Address = Address::repeat_byte(0xb);

    fn req(speaker: Address, at: u64) -> Request {
        Request {
            speaker,
            enqueued_at: at,
            yielded_at: None,
            withdrawn: false,
        }
    }

    #[test]
    fn fifo_with_gap_and_cut() {
        let span = Span {
            start: 100,
            end: 400,
            slot_length: 120,
        };
        let mut rs = vec![req(A, 0), req(B, 10), req(A, 360)];
        let t = timeline(span, &rs);
        assert_eq!((t[0].start, t[0].end), (100, 220));
        assert_eq!((t[1].start, t[1].end), (220, 340));
        assert_eq!(
            (t[2].start, t[2].end),
            (360, 400),
            "late request starts at once, cut at the end"
        );
        assert_eq!(holder_at(&t, 350), None, "idle floor");
        assert_eq!(holder_at(&t, 219).map(|s| s.speaker), Some(A));
        rs[0].yielded_at = Some(130);
        rs[1].withdrawn = true;
        let t = timeline(span, &rs);
        assert_eq!((t[0].start, t[0].end), (100, 130));
        assert_eq!(t[1].start, t[1].end);
        assert_eq!(holder_at(&t, 200), None);
    }

    #[test]
    fn recurring_calendar() {
        let s = Schedule {
            start: 1000,
            duration: 100,
            period: 1000,
            count: 3,
            slot_length: 60,
            cancelled_at: None,
        };
        assert_eq!(s.containing(2050), Some(1));
        assert_eq!(s.containing(2150), None);
        assert_eq!(s.current_or_next(2150), Some(2));
        assert_eq!(s.current_or_next(3150), None, "only three");
        assert_eq!(s.occurrences(0, 10_000, 10).len(), 3);
        let c = Schedule {
            cancelled_at: Some(2050),
            ..s
        };
        assert_eq!(c.bounds(1), (2000, 2050));
        assert_eq!(c.containing(2060), None);
    }

    fn arb_requests() -> impl Strategy<Value = Vec<(u8, u64, Option<u64>, bool)>> {
        proptest::collection::vec(
            (
                0u8..4,
                0u64..2000,
                proptest::option::of(0u64..300),
                any::<bool>(),
            ),
            0..24,
        )
    }

    proptest! {
        /// Slots are FIFO, disjoint, inside the occurrence, never before their request,
        /// and the floor is never idle while a request waits.
        #[test]
        fn timeline_properties(raw in arb_requests(), slot_length in 1u64..400, start in 0u64..500, len in 1u64..3000) {
            let span = Span { start, end: start + len, slot_length };
            // As on chain: requests are made before the occurrence ends.
            let mut at = 0;
            let rs: Vec<Request> = raw.iter().map(|&(who, dt, y, w)| {
                at = (at + dt % 200).min(span.end - 1);
                Request { speaker: Address::repeat_byte(who), enqueued_at: at, yielded_at: y.map(|d| at + d), withdrawn: w }
            }).collect();
            let t = timeline(span, &rs);
            let mut prev_end = 0;
            for (s, r) in t.iter().zip(&rs) {
                if s.withdrawn { continue; }
                prop_assert!(s.start >= prev_end && s.start >= r.enqueued_at.max(span.start));
                prop_assert!(s.end <= span.end && s.end >= s.start);
                if s.start > r.enqueued_at.max(span.start) { prop_assert_eq!(s.start, prev_end); }
                prev_end = s.end;
            }
            for probe in (0..start + len + 10).step_by(7) {
                let holders = t.iter().filter(|s| s.contains(probe)).count();
                prop_assert!(holders <= 1);
                prop_assert_eq!(holder_at(&t, probe).is_some(), holders == 1);
            }
        }
    }
}
