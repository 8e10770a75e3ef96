//! Where heard audio goes besides the listeners: the recorder, the HLS packager and the WHIP
//! push implement [`ProgramSink`]. The media path knows nothing of Ogg, fMP4 or S3; it hands
//! every packet the gate let through to each sink, once, on the front's thread.

use std::sync::Arc;

use alloy_primitives::Address;

use crate::gate::Held;

/// A packet the gate let through, as the sinks see it (before restamping: the payload is
/// the speaker's Opus frame, untouched).
#[derive(Clone, Copy, Debug)]
pub struct Spoken<'a> {
    /// The session it was heard in.
    pub session: u64,
    /// Who holds the floor and sent it.
    pub speaker: Address,
    /// The slot it fell in.
    pub slot: Held,
    /// When the front judged it, in ms since the epoch.
    pub at_ms: u64,
    /// The Opus frame.
    pub payload: &'a Arc<[u8]>,
    /// Whether a sibling node relayed it (its speaker is connected there): a sink that
    /// relays to siblings passes it over, so nothing goes round the cluster twice.
    pub relayed: bool,
}

/// A consumer of the program off the live path.
///
/// `offer` runs on the front's thread for every heard packet, so it must not block, wait
/// or do work proportional to anything but the packet: hand the packet to a queue and drop
/// it (counting the drop) when the queue is full. A slow archive must never delay a
/// listener.
pub trait ProgramSink: Send + Sync {
    /// Takes one heard packet.
    fn offer(&self, packet: &Spoken<'_>);
}

/// The sinks the engine hands heard audio to.
pub type Sinks = Arc<[Arc<dyn ProgramSink>]>;
