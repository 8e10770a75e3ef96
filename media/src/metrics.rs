//! What the media path counts, as plain atomics it bumps on its own threads. The node renders
//! them at `/metrics`; nothing reads them to make a decision (admission counts its own peers,
//! in [`crate::load`]).

use std::sync::atomic::{AtomicI64, AtomicU64};

/// The media path's counters and gauges.
#[derive(Debug, Default)]
pub struct MediaMetrics {
    /// Connected listeners (gauge).
    pub listeners: AtomicI64,
    /// Connected publishers (gauge).
    pub publishers: AtomicI64,
    /// Packets publishers sent.
    pub packets_in: AtomicU64,
    /// Packets written to listeners.
    pub packets_out: AtomicU64,
    /// Packets the gate refused (their sender did not hold the floor).
    pub packets_gated: AtomicU64,
    /// Writes the socket's full send buffer refused.
    pub send_dropped: AtomicU64,
    /// Writes skipped because a shard fell behind (audio older than `engine::STALE`).
    pub stale_dropped: AtomicU64,
    /// Relayed packets waiting for this node's view of the chain to show the floor held (gauge).
    pub relayed_waiting: AtomicI64,
    /// Relayed packets heard after waiting for this node's view of the chain.
    pub relayed_late: AtomicU64,
    /// Relayed packets never heard: sent while nobody held the floor by this node's view,
    /// even after waiting for it to catch up.
    pub relayed_unheard: AtomicU64,
    /// Packets the WHIP push could not keep up with.
    pub push_dropped: AtomicU64,
    /// Heard frames by what their attestations showed: signed, unsigned, altered,
    /// unattested (see [`assembly_provenance::check::Counts`]).
    pub provenance_frames: [AtomicU64; 4],
    /// Attestations refused, by [`crate::attest::index`] of the reason.
    pub provenance_refused: [AtomicU64; assembly_provenance::Refused::ALL.len()],
    /// Packets not forwarded because their session requires signed audio.
    pub provenance_withheld: AtomicU64,
}
