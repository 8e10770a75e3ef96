//! The gate: the only place a publisher or a packet is judged. Three verbs, one input.
//!
//! - [`Gate::admit`] — may this address connect as a publisher to this session now? (WHIP)
//! - [`Gate::heard`] — is a packet from this address, arriving now, forwarded? (the front)
//! - [`Gate::keeps`] — does a connected publisher stay connected? (eviction)
//! - [`Gate::relayed`] — is a packet a sibling node relays forwarded, and as whose? (cluster)
//!
//! The input is the indexer's floor timeline for every session in progress (the slots
//! [`assembly_floor::timeline`] gives, from chain state alone) with the slots of holders the
//! chain no longer lets speak left out, plus each session's speaker policy. It is judged per
//! packet against the wall clock, so a slot ends on time even when no block arrives at that
//! moment; a yield or a new request reaches the gate as a new [`Gate`] the moment the
//! indexer applies its block. Nothing here reads the WebSocket view model.

use std::collections::HashMap;
use std::sync::Arc;

use alloy_primitives::Address;
use assembly_floor::{holder_at, may_speak, Role, Slot, Speakers};
use serde::Serialize;

/// What a session does with audio that is not provably its speaker's (see
/// [`crate::attest`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SignedAudio {
    /// Forwarded, counted and flagged.
    #[default]
    Counted,
    /// Not forwarded: a stream with no certificate by the holder, or one that carried a
    /// forgery or an alteration, is cut.
    Required,
}

/// The floor of one session in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The occurrence in progress.
    pub occurrence: u32,
    /// Who the session lets speak.
    pub speakers: Speakers,
    /// What is done with audio that is not provably the holder's.
    pub signed_audio: SignedAudio,
    /// The slots that hold time, in order (withdrawn and empty ones, and those of holders
    /// no longer eligible, left out).
    slots: Vec<Slot>,
}

/// Why a publisher was turned away (sent to the client as the 403's reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, thiserror::Error, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// No occurrence of the session is under way.
    #[error("this session is not in progress")]
    SessionNotLive,
    /// The address has no slot to come.
    #[error("you hold no slot in this session: request the floor on chain first")]
    NotQueued,
    /// The address has a slot, but someone else's comes first.
    #[error("you are queued but not next: connect when the speaker before you takes the floor")]
    NotNext,
    /// The address's role on chain does not let it speak in this session.
    #[error("your role on chain does not allow you to speak in this session")]
    NotEligible,
}

impl Refusal {
    /// Its stable name, as clients see it (the serde name).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::SessionNotLive => "session_not_live",
            Refusal::NotQueued => "not_queued",
            Refusal::NotNext => "not_next",
            Refusal::NotEligible => "not_eligible",
        }
    }
}

/// What an admitted publisher may do with its audio at the instant it was judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Holds the floor until `end_ms`: forwarded.
    Holder {
        /// When the slot ends, in ms since the epoch.
        end_ms: u64,
    },
    /// Holds the next slot: may connect ahead, not forwarded yet.
    Next {
        /// When the slot begins, in ms since the epoch.
        start_ms: u64,
    },
}

/// A packet the gate lets through: whose slot it falls in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    /// The occurrence of the session.
    pub occurrence: u32,
    /// The slot's start, in ms since the epoch.
    pub start_ms: u64,
    /// The slot's end (exclusive), in ms since the epoch.
    pub end_ms: u64,
}

impl Plan {
    /// One occurrence's plan from its timeline; `eligible` says whether a holder's role on
    /// chain still lets them speak (the contract judged it at the request; the gate judges
    /// it now).
    pub fn new(
        occurrence: u32,
        speakers: Speakers,
        timeline: &[Slot],
        eligible: impl Fn(Address) -> bool,
    ) -> Self {
        let slots = timeline
            .iter()
            .filter(|s| !s.withdrawn && s.start < s.end && eligible(s.speaker))
            .copied()
            .collect();
        Self {
            occurrence,
            speakers,
            signed_audio: SignedAudio::default(),
            slots,
        }
    }

    /// The same plan, with `policy` for audio that is not provably the holder's.
    pub fn with_signed_audio(mut self, policy: SignedAudio) -> Self {
        self.signed_audio = policy;
        self
    }

    /// The slots that hold time, in order.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The slot holding the floor at `ms` (slots are dated in whole seconds, so the second
    /// `ms` falls in decides).
    fn holder_at(&self, ms: u64) -> Option<&Slot> {
        holder_at(&self.slots, ms / 1000)
    }

    /// The first slot starting after `ms`.
    fn next_after(&self, ms: u64) -> Option<&Slot> {
        let i = self.slots.partition_point(|s| s.start <= ms / 1000);
        self.slots.get(i)
    }

    /// Whether `who` may be connected as a publisher at `ms`: holding the floor, or next.
    fn standing(&self, who: Address, ms: u64) -> Result<Standing, Refusal> {
        if let Some(s) = self.holder_at(ms).filter(|s| s.speaker == who) {
            return Ok(Standing::Holder {
                end_ms: s.end.saturating_mul(1000),
            });
        }
        if let Some(s) = self.next_after(ms).filter(|s| s.speaker == who) {
            return Ok(Standing::Next {
                start_ms: s.start.saturating_mul(1000),
            });
        }
        if self
            .slots
            .iter()
            .any(|s| s.speaker == who && s.end > ms / 1000)
        {
            Err(Refusal::NotNext)
        } else {
            Err(Refusal::NotQueued)
        }
    }
}

/// Every session in progress, by id: the gate's whole input. Cheap to clone and to hand to
/// another thread; a new one replaces the old whenever the chain or the clock changes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gate(Arc<HashMap<u64, Plan>>);

impl Gate {
    /// The gate over `plans`.
    pub fn new(plans: HashMap<u64, Plan>) -> Self {
        Self(Arc::new(plans))
    }

    /// Whether `session` is in progress.
    pub fn is_live(&self, session: u64) -> bool {
        self.0.contains_key(&session)
    }

    /// The sessions in progress.
    pub fn sessions(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.keys().copied()
    }

    /// What `session` does with audio that is not provably its holder's.
    pub fn signed_audio(&self, session: u64) -> SignedAudio {
        self.0
            .get(&session)
            .map(|p| p.signed_audio)
            .unwrap_or_default()
    }

    /// The plan of `session`, if it is in progress.
    pub fn plan(&self, session: u64) -> Option<&Plan> {
        self.0.get(&session)
    }

    /// Whether `who`, whose role on chain is `role`, may connect as a publisher to `session`
    /// at `now_ms`: the session is in progress, lets `role` speak, and `who` holds the floor
    /// or the next slot.
    pub fn admit(
        &self,
        session: u64,
        who: Address,
        role: Role,
        now_ms: u64,
    ) -> Result<Standing, Refusal> {
        let plan = self.0.get(&session).ok_or(Refusal::SessionNotLive)?;
        if !may_speak(role, plan.speakers) {
            return Err(Refusal::NotEligible);
        }
        plan.standing(who, now_ms)
    }

    /// Whether a packet from `who` in `session`, arriving at `now_ms`, is forwarded: only
    /// inside a slot `who` holds.
    pub fn heard(&self, session: u64, who: Address, now_ms: u64) -> Option<Held> {
        let plan = self.0.get(&session)?;
        plan.holder_at(now_ms)
            .filter(|s| s.speaker == who)
            .map(|s| Held {
                occurrence: plan.occurrence,
                start_ms: s.start.saturating_mul(1000),
                end_ms: s.end.saturating_mul(1000),
            })
    }

    /// Whether a packet a sibling node relays in `session`, arriving at `now_ms`, is
    /// forwarded, and as whose: only while someone holds the floor, and as theirs. A relay
    /// carries what its node's own gate let through, so this node's gate is the second
    /// judge, by the same chain state: a sibling that relays outside every slot is not heard.
    /// Whether the relayed audio really is the holder's is taken on the sibling's word until
    /// speakers sign their audio.
    pub fn relayed(&self, session: u64, now_ms: u64) -> Option<(Address, Held)> {
        let plan = self.0.get(&session)?;
        plan.holder_at(now_ms).map(|s| {
            (
                s.speaker,
                Held {
                    occurrence: plan.occurrence,
                    start_ms: s.start.saturating_mul(1000),
                    end_ms: s.end.saturating_mul(1000),
                },
            )
        })
    }

    /// Whether a publisher `who` connected to `session` stays connected at `now_ms`: it holds
    /// the floor or the next slot. Otherwise its slot is over (or was withdrawn), and an idle
    /// uplink is a cost with no use.
    pub fn keeps(&self, session: u64, who: Address, now_ms: u64) -> bool {
        self.0
            .get(&session)
            .is_some_and(|plan| plan.standing(who, now_ms).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    fn slot(index: u32, who: u8, start: u64, end: u64) -> Slot {
        Slot {
            index,
            speaker: a(who),
            start,
            end,
            withdrawn: false,
        }
    }

    fn gate(slots: &[Slot]) -> Gate {
        let plan = Plan::new(0, Speakers::Orchestrators, slots, |_| true);
        Gate::new(HashMap::from([(7, plan)]))
    }

    const O: Role = Role::Orchestrator;

    #[test]
    fn holder_next_and_refusals() {
        let g = gate(&[
            slot(0, 1, 100, 110),
            slot(1, 2, 110, 120),
            slot(2, 3, 120, 130),
        ]);
        assert_eq!(g.heard(7, a(1), 99_999), None);
        assert!(g.heard(7, a(1), 100_000).is_some());
        assert!(g.heard(7, a(1), 109_999).is_some());
        assert!(g.heard(7, a(2), 110_000).is_some());
        assert!(g.heard(7, a(3), 130_000).is_none());
        assert_eq!(
            g.admit(7, a(1), O, 105_000),
            Ok(Standing::Holder { end_ms: 110_000 })
        );
        assert_eq!(
            g.admit(7, a(2), O, 105_000),
            Ok(Standing::Next { start_ms: 110_000 })
        );
        assert_eq!(g.admit(7, a(3), O, 105_000), Err(Refusal::NotNext));
        assert_eq!(g.admit(7, a(4), O, 105_000), Err(Refusal::NotQueued));
        // After its slot, the first speaker holds nothing.
        assert_eq!(g.admit(7, a(1), O, 111_000), Err(Refusal::NotQueued));
        assert!(g.heard(7, a(1), 109_999).is_some());
        assert!(g.heard(7, a(1), 110_000).is_none());
        assert!(g.heard(7, a(2), 109_999).is_none());
        assert_eq!(
            g.heard(7, a(2), 115_000),
            Some(Held {
                occurrence: 0,
                start_ms: 110_000,
                end_ms: 120_000
            })
        );
    }

    #[test]
    fn gap_before_the_first_slot_makes_it_next() {
        let g = gate(&[slot(0, 1, 100, 110)]);
        assert_eq!(
            g.admit(7, a(1), O, 90_000),
            Ok(Standing::Next { start_ms: 100_000 })
        );
        assert!(g.heard(7, a(1), 90_000).is_none());
        assert!(g.keeps(7, a(1), 90_000));
        assert!(!g.keeps(7, a(1), 110_000), "evicted once the slot is over");
    }

    #[test]
    fn empty_and_withdrawn_slots_are_ignored() {
        let mut gone = slot(1, 3, 100, 100);
        gone.withdrawn = true;
        let g = gate(&[slot(0, 1, 100, 100), gone, slot(2, 2, 100, 110)]);
        assert!(g.heard(7, a(2), 100_000).is_some());
        assert!(g.heard(7, a(1), 100_000).is_none());
    }

    #[test]
    fn refusal_codes_are_their_wire_names() {
        for r in [
            Refusal::SessionNotLive,
            Refusal::NotQueued,
            Refusal::NotNext,
            Refusal::NotEligible,
        ] {
            let wire = serde_json::to_value(r).unwrap();
            assert_eq!(wire, r.code());
        }
    }

    #[test]
    fn roles_and_sessions() {
        let g = gate(&[slot(0, 1, 100, 110)]);
        assert_eq!(g.admit(8, a(1), O, 105_000), Err(Refusal::SessionNotLive));
        assert_eq!(
            g.admit(7, a(1), Role::Delegator, 105_000),
            Err(Refusal::NotEligible),
            "a delegator in an orchestrators-only session"
        );
        assert!(!g.keeps(8, a(1), 105_000));
    }

    #[test]
    fn relays_are_heard_as_the_holder_inside_slots_only() {
        let g = gate(&[slot(0, 1, 100, 110), slot(1, 2, 115, 120)]);
        assert_eq!(g.relayed(7, 99_999), None, "before the first slot");
        assert_eq!(g.relayed(7, 105_000).map(|(w, _)| w), Some(a(1)));
        assert_eq!(g.relayed(7, 112_000), None, "between slots");
        let (who, held) = g.relayed(7, 119_999).unwrap();
        assert_eq!((who, held.start_ms, held.end_ms), (a(2), 115_000, 120_000));
        assert_eq!(g.relayed(8, 105_000), None, "a session not in progress");
    }

    #[test]
    fn a_holder_who_lost_the_role_is_not_heard() {
        let plan = Plan::new(0, Speakers::Orchestrators, &[slot(0, 1, 100, 110)], |w| {
            w != a(1)
        });
        let g = Gate::new(HashMap::from([(7, plan)]));
        assert!(g.heard(7, a(1), 105_000).is_none());
        assert_eq!(g.admit(7, a(1), O, 105_000), Err(Refusal::NotQueued));
    }
}
