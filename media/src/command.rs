//! What shards tell each other: the peers, datagrams and program packets that cross from
//! one shard's thread to another's, over unbounded channels (a shard never waits on
//! another).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use alloy_primitives::Address;
use str0m::media::MediaTime;
use str0m::Rtc;

/// Who a peer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerRole {
    /// Sends audio (WHIP), forwarded only while the plan gives it the floor.
    Publisher(Address),
    /// A sibling node of the cluster (its node key's address) sending the program it heard
    /// from a speaker connected to it, forwarded only while someone holds the floor and as
    /// theirs (see [`crate::Gate::relayed`]).
    Relay(Address),
    /// Receives the room's program (WHEP).
    Listener,
}

impl PeerRole {
    /// Whether the peer sends audio (a publisher or a relay): it lives on the front, whose
    /// gate judges its packets.
    pub fn sends(self) -> bool {
        !matches!(self, PeerRole::Listener)
    }

    /// Its name in logs.
    pub fn name(self) -> &'static str {
        match self {
            PeerRole::Publisher(_) => "publisher",
            PeerRole::Relay(_) => "relay",
            PeerRole::Listener => "listener",
        }
    }
}

/// A peer handed to a shard once its offer is answered.
pub(crate) struct NewPeer {
    pub(crate) id: u64,
    pub(crate) resource: String,
    pub(crate) session: u64,
    pub(crate) role: PeerRole,
    /// A listener's network address (see [`crate::Resource::from`]).
    pub(crate) from: Option<std::net::IpAddr>,
    pub(crate) rtc: Rtc,
}

/// One packet of a session's program: judged, restamped and ready for every listener.
pub(crate) struct Program {
    pub(crate) session: u64,
    /// When the speaker's packet arrived (str0m's wall clock for the outgoing one).
    pub(crate) wallclock: Instant,
    /// Its time on the session's one continuous timeline.
    pub(crate) time: MediaTime,
    pub(crate) payload: Arc<[u8]>,
}

/// What a shard is asked to do.
pub(crate) enum Command {
    Add(Box<NewPeer>),
    Remove(u64),
    /// A datagram the front read for a peer of this shard.
    Datagram {
        peer: u64,
        source: SocketAddr,
        at: Instant,
        bytes: Vec<u8>,
    },
    /// A program packet for this shard's listeners.
    Program(Arc<Program>),
    /// For the front: connectivity checks naming `ufrag` are for `peer`, on `shard`.
    Route {
        ufrag: String,
        peer: u64,
        shard: usize,
    },
    /// For the front: `peer` is gone from its shard.
    Unroute(u64),
}
