//! The front of the media engine, on shard 0: it reads the one UDP port and hands each
//! datagram to the shard that owns its peer ([`crate::routes`]), and it holds the
//! publishers, so each of their packets is judged by the [`Gate`], restamped onto its
//! session's timeline and handed to the [`ProgramSink`]s once, before every shard writes it
//! to its listeners.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use assembly_floor::clock;
use str0m::media::{Frequency, MediaTime};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::engine::{Command, Engine, PeerRole, Program};
use crate::gate::Gate;
use crate::restamp::Restamp;
use crate::routes::Routes;
use crate::sink::{Sinks, Spoken};

/// Datagrams read per wake before the front looks at its timers and commands again.
const READ_BATCH: usize = 128;

/// Shard 0's extra state.
pub(crate) struct Front {
    socket: UdpSocket,
    /// Every shard's command channel, by index (the front's own included, unused).
    shards: Vec<mpsc::UnboundedSender<Command>>,
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

impl Engine {
    /// Reads what the port holds and hands each datagram to its peer's shard.
    pub(crate) fn read(&mut self, buf: &mut [u8]) {
        let me = self.index();
        for _ in 0..READ_BATCH {
            let Some(front) = self.front.as_mut() else {
                return;
            };
            let (n, source, at) = match crate::arrival::try_recv(&front.socket, buf) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // ICMP errors from a vanished listener surface here; they are not ours.
                    tracing::trace!(error = %e, "recv");
                    continue;
                }
            };
            let Some(route) = front.routes.find(source, &buf[..n]) else {
                continue;
            };
            if route.shard == me {
                self.receive(route.peer, source, at, &buf[..n]);
            } else if let Some(tx) = front.shards.get(route.shard) {
                let _ = tx.send(Command::Datagram {
                    peer: route.peer,
                    source,
                    at,
                    bytes: buf[..n].to_vec(),
                });
            }
        }
    }

    pub(crate) fn set_gate(&mut self, gate: Gate) {
        if let Some(f) = &mut self.front {
            f.gate = gate;
        }
        self.evict_publishers();
    }

    /// Publishers that are neither on the floor nor next are disconnected: their slot is
    /// over (or was withdrawn), and an idle uplink is a cost with no use.
    pub(crate) fn evict_publishers(&mut self) {
        let Some(front) = &self.front else {
            return;
        };
        let now = clock::now_ms();
        let out: Vec<u64> = self
            .peers
            .iter()
            .filter_map(|(id, p)| match p.role {
                PeerRole::Publisher(a) => (!front.gate.keeps(p.session, a, now)).then_some(*id),
                PeerRole::Listener => None,
            })
            .collect();
        for id in out {
            tracing::info!(peer = id, "publisher no longer holds or awaits the floor");
            self.remove(id);
        }
    }

    /// Judges each packet the publishers sent at the gate; what passes is handed to the
    /// sinks, restamped onto its session's timeline, and sent to every shard's listeners.
    pub(crate) fn forward_inbound(&mut self) {
        if self.inbound.is_empty() {
            return;
        }
        let me = self.index();
        let now_ms = clock::now_ms();
        let (mut received, mut gated) = (0u64, 0u64);
        for (from, data) in std::mem::take(&mut self.inbound) {
            received += 1;
            let Some(front) = self.front.as_mut() else {
                break;
            };
            let Some((session, PeerRole::Publisher(address))) =
                self.peers.get(&from).map(|p| (p.session, p.role))
            else {
                continue;
            };
            let Some(slot) = front.gate.heard(session, address, now_ms) else {
                gated += 1;
                continue;
            };
            let spoken = Spoken {
                session,
                speaker: address,
                slot,
                at_ms: now_ms,
                payload: &data.data,
            };
            for sink in front.sinks.iter() {
                sink.offer(&spoken);
            }
            let time = data.time.rebase(Frequency::FORTY_EIGHT_KHZ);
            let out = front.restamps.entry(session).or_default().map(
                from,
                time.numer(),
                data.network_time,
            );
            let program = Arc::new(Program {
                session,
                wallclock: data.network_time,
                time: MediaTime::new(out, Frequency::FORTY_EIGHT_KHZ),
                payload: data.data,
            });
            // The other shards first, so their fan-outs run while this one does its own.
            for (k, tx) in front.shards.iter().enumerate() {
                if k != me {
                    let _ = tx.send(Command::Program(program.clone()));
                }
            }
            self.fan_out(&program);
        }
        let m = &self.io.metrics;
        m.packets_in.fetch_add(received, Relaxed);
        m.packets_gated.fetch_add(gated, Relaxed);
    }
}
