//! The front of the media engine, on shard 0: it reads the one UDP port and hands each
//! datagram to the shard that owns its peer ([`crate::routes`]), and it holds the
//! publishers, so each of their packets is judged by the [`Gate`], restamped onto its
//! session's timeline and handed to the [`ProgramSink`]s once, before every shard writes it
//! to its listeners.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::media::{Frequency, MediaData, MediaTime};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::command::{Command, PeerRole, Program};
use crate::gate::Gate;
use crate::restamp::Restamp;
use crate::routes::Routes;
use crate::sink::{Sinks, Spoken};

/// The front is shard 0.
pub(crate) const FRONT: usize = 0;

/// Shard 0's extra state.
pub(crate) struct Front {
    socket: UdpSocket,
    /// Every shard's command channel, by index (the front's own included, unused).
    shards: Vec<mpsc::UnboundedSender<Command>>,
    /// Which peer a datagram is for (the engine registers and forgets peers here).
    pub(crate) routes: Routes,
    gate: Gate,
    restamps: HashMap<u64, Restamp>,
    sinks: Sinks,
    /// By session: the slot (its start) in which the holder's own connection to this node
    /// was last heard, and when.
    local: HashMap<u64, (u64, u64)>,
    /// By session: the relay being heard (its peer), its slot's start and when it was last
    /// heard.
    relaying: HashMap<u64, Relaying>,
}

/// The one relay a session's program is taken from.
#[derive(Clone, Copy)]
struct Relaying {
    peer: u64,
    slot_start_ms: u64,
    last_ms: u64,
}

/// How long a source keeps its precedence after its last packet: the holder's own
/// connection over any relay, the relay first heard in a slot over any other. Long enough
/// to ride out jitter, short enough that a speaker who fails over to another node (their
/// first node gone) is heard again at once.
const PRECEDENCE_MS: u64 = 500;

impl Front {
    pub(crate) fn new(
        socket: UdpSocket,
        shards: Vec<mpsc::UnboundedSender<Command>>,
        gate: Gate,
        sinks: Sinks,
    ) -> Self {
        // A packet's age then counts its wait in the socket buffer (see `engine::STALE`).
        crate::arrival::enable(&socket);
        Self {
            socket,
            shards,
            routes: Routes::default(),
            gate,
            restamps: HashMap::new(),
            sinks,
            local: HashMap::new(),
            relaying: HashMap::new(),
        }
    }
}

/// Resolves when the front's socket has something to read (never for other shards).
pub(crate) async fn readable(front: &Option<Front>) -> std::io::Result<()> {
    match front {
        Some(f) => f.socket.readable().await,
        None => std::future::pending().await,
    }
}

/// What one read of the port gave.
pub(crate) enum FrontRead {
    /// Nothing more to read now.
    Empty,
    /// Skipped (unknown sender, a socket error) or handed to another shard.
    Handled,
    /// A datagram for a peer of the front's own shard, in the first `len` bytes of the buffer.
    Mine {
        peer: u64,
        source: SocketAddr,
        at: Instant,
        len: usize,
    },
}

impl Front {
    /// Reads one datagram and routes it: to another shard's channel, or back to the caller.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> FrontRead {
        let (n, source, at) = match crate::arrival::try_recv(&self.socket, buf) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return FrontRead::Empty,
            Err(e) => {
                // ICMP errors from a vanished listener surface here; they are not ours.
                tracing::trace!(error = %e, "recv");
                return FrontRead::Handled;
            }
        };
        let Some(route) = self.routes.find(source, &buf[..n]) else {
            return FrontRead::Handled;
        };
        if route.shard == FRONT {
            return FrontRead::Mine {
                peer: route.peer,
                source,
                at,
                len: n,
            };
        }
        if let Some(tx) = self.shards.get(route.shard) {
            let _ = tx.send(Command::Datagram {
                peer: route.peer,
                source,
                at,
                bytes: buf[..n].to_vec(),
            });
        }
        FrontRead::Handled
    }

    /// Judges from now on by `gate`.
    pub(crate) fn set_gate(&mut self, gate: Gate) {
        self.gate = gate;
    }

    /// Whether a connected peer that sends stays connected: a publisher while it holds the
    /// floor or the next slot (see [`Gate::keeps`]), a relay while its session is in progress.
    pub(crate) fn keeps(&self, session: u64, role: PeerRole, now_ms: u64) -> bool {
        match role {
            PeerRole::Publisher(who) => self.gate.keeps(session, who, now_ms),
            PeerRole::Relay(_) => self.gate.is_live(session),
            PeerRole::Listener => true,
        }
    }

    /// Judges one packet that `from` (a publisher or a relay, in `session`) sent, at
    /// `now_ms`. What the gate lets through is handed to the sinks, restamped onto its
    /// session's timeline, and sent to every other shard; the front's own shard gets it back
    /// to write to its listeners. `None`: not heard.
    ///
    /// A session's program has one source at a time: the holder's own connection to this
    /// node when it is sending; otherwise one sibling's relay, the first heard in the slot.
    /// Anything else (the same audio relayed by a second node, a sibling relaying while the
    /// holder is here) would be heard twice or mixed.
    pub(crate) fn judge(
        &mut self,
        from: u64,
        session: u64,
        role: PeerRole,
        data: MediaData,
        now_ms: u64,
    ) -> Option<Arc<Program>> {
        let recent = |t: u64| now_ms.saturating_sub(t) < PRECEDENCE_MS;
        let (speaker, slot, relayed) = match role {
            PeerRole::Publisher(address) => {
                let slot = self.gate.heard(session, address, now_ms)?;
                self.local.insert(session, (slot.start_ms, now_ms));
                (address, slot, false)
            }
            PeerRole::Relay(_) => {
                let (holder, slot) = self.gate.relayed(session, now_ms)?;
                if self
                    .local
                    .get(&session)
                    .is_some_and(|(start, t)| *start == slot.start_ms && recent(*t))
                {
                    return None;
                }
                match self.relaying.get_mut(&session) {
                    Some(r) if r.peer == from && r.slot_start_ms == slot.start_ms => {
                        r.last_ms = now_ms;
                    }
                    Some(r) if r.slot_start_ms == slot.start_ms && recent(r.last_ms) => {
                        return None;
                    }
                    _ => {
                        self.relaying.insert(
                            session,
                            Relaying {
                                peer: from,
                                slot_start_ms: slot.start_ms,
                                last_ms: now_ms,
                            },
                        );
                    }
                }
                (holder, slot, true)
            }
            PeerRole::Listener => return None,
        };
        let spoken = Spoken {
            session,
            speaker,
            slot,
            at_ms: now_ms,
            payload: &data.data,
            relayed,
        };
        for sink in self.sinks.iter() {
            sink.offer(&spoken);
        }
        let time = data.time.rebase(Frequency::FORTY_EIGHT_KHZ);
        let out =
            self.restamps
                .entry(session)
                .or_default()
                .map(from, time.numer(), data.network_time);
        let program = Arc::new(Program {
            session,
            wallclock: data.network_time,
            time: MediaTime::new(out, Frequency::FORTY_EIGHT_KHZ),
            payload: data.data,
        });
        // The other shards first, so their fan-outs run while the front does its own.
        for (k, tx) in self.shards.iter().enumerate() {
            if k != FRONT {
                let _ = tx.send(Command::Program(program.clone()));
            }
        }
        Some(program)
    }
}
