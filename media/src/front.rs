//! The front of the media engine, on shard 0: it reads the one UDP port and hands each
//! datagram to the shard that owns its peer ([`crate::routes`]), and it holds the
//! publishers, so each of their packets is judged by the [`Gate`], restamped onto its
//! session's timeline and handed to the [`ProgramSink`]s once, before every shard writes it
//! to its listeners.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use alloy_primitives::Address;
use str0m::media::{Frequency, MediaData, MediaTime};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::command::{Command, Program};
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
}

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

    /// Whether a connected publisher stays connected (see [`Gate::keeps`]).
    pub(crate) fn keeps(&self, session: u64, who: Address, now_ms: u64) -> bool {
        self.gate.keeps(session, who, now_ms)
    }

    /// Judges one packet publisher `from` (`address`, in `session`) sent, at `now_ms`. What
    /// the gate lets through is handed to the sinks, restamped onto its session's timeline,
    /// and sent to every other shard; the front's own shard gets it back to write to its
    /// listeners. `None`: the sender does not hold the floor.
    pub(crate) fn judge(
        &mut self,
        from: u64,
        session: u64,
        address: Address,
        data: MediaData,
        now_ms: u64,
    ) -> Option<Arc<Program>> {
        let slot = self.gate.heard(session, address, now_ms)?;
        let spoken = Spoken {
            session,
            speaker: address,
            slot,
            at_ms: now_ms,
            payload: &data.data,
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
