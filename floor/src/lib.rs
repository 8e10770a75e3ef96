//! The floor rule, in Rust, and nothing else: the same rule as
//! `contracts/libraries/FloorRule.sol`, the calendar of `contracts/libraries/Occurrences.sol`
//! and the eligibility of `contracts/libraries/LivepeerRoles.sol`. Every part of Assembly that
//! asks "who holds the floor at `t`?" or "may this address speak here?" asks this crate, so
//! the indexer's timeline, the live state and the media path's gate cannot disagree.
//!
//! Within one occurrence `[occ_start, occ_end)`, requests are served first in, first out;
//! withdrawn requests take no time:
//!
//! ```text
//! start_k = max(occ_start, enqueued_at_k, end_{k-1})
//! end_k   = max(start_k, min(start_k + slot_length, yielded_at_k, occ_end))
//! ```
//!
//! `indexer/tests/agreement.rs` checks [`timeline`] against the contract's `floorAt` on
//! anvil; the contract is fuzzed against the same rule written the plain way
//! (`test/utils/ReferenceFloor.sol`).
//!
//! - [`rule`] — slots, the timeline and the holder at an instant; the session calendar.
//! - [`clock`] — the wall clock every part judges the floor by.
//! - [`eligibility`] — roles on chain and which of them a session lets speak.

pub mod clock;
pub mod eligibility;
pub mod rule;

pub use eligibility::{may_speak, Role, Speakers};
pub use rule::{holder_at, slot, timeline, Request, Schedule, Slot, Span, FOREVER};
