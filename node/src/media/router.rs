//! The front of the media engine, on shard 0: it reads the one UDP port and hands each
//! datagram to the shard that owns its peer, and it holds the publishers, so the floor is
//! judged, the timeline restamped and the archive fed in one place, once per packet.
//!
//! A peer's address is learned from its connectivity checks: a STUN Binding request names
//! the node-side ufrag of the peer it is for (the ufrag is registered when the offer is
//! answered), and every later datagram from that address goes to the same peer, until a
//! check from elsewhere moves it (ICE's own rule for a peer whose address changed).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use alloy::primitives::Address;
use str0m::media::{Frequency, MediaTime};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::engine::{Command, Engine, PeerRole, Program};
use super::plan::Plans;
use super::restamp::Restamp;
use super::stun;
use crate::live::unix_now_ms;

/// Datagrams read per wake before the front looks at its timers and commands again.
const READ_BATCH: usize = 128;

/// Where forwarded audio also goes, off the live path.
#[derive(Clone, Default)]
pub struct Taps {
    pub recorder: Option<crate::record::Recorder>,
    pub hls: Option<crate::hls::Hls>,
    pub push: Option<super::push::Push>,
}

impl Taps {
    /// Hands a forwarded packet to each consumer (none of them waits).
    fn offer(
        &self,
        session: u64,
        occurrence: u32,
        speaker: Address,
        slot: (u64, u64),
        at_ms: u64,
        payload: &Arc<[u8]>,
    ) {
        if let Some(h) = &self.hls {
            h.offer(session, payload.clone());
        }
        if let Some(p) = &self.push {
            p.offer(session, payload.clone());
        }
        if let Some(r) = &self.recorder {
            r.offer(crate::record::Packet {
                session,
                occurrence,
                speaker,
                slot,
                at_ms,
                payload: payload.clone(),
            });
        }
    }
}

/// A peer and the shard it lives on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Route {
    pub shard: usize,
    pub peer: u64,
}

/// Addresses one peer may be reached from at once. ICE uses a handful (host, reflexive,
/// relayed); a peer that knows its own ufrag cannot grow the table past this by sending
/// checks from ever new ports.
const ADDRESSES_PER_PEER: usize = 8;

/// Which peer a datagram is for.
#[derive(Default)]
pub(super) struct Routes {
    ufrags: HashMap<Box<[u8]>, Route>,
    by_addr: HashMap<SocketAddr, Route>,
    /// Each peer's ufrag and the addresses it was last seen from, oldest first.
    peers: HashMap<u64, (Box<[u8]>, VecDeque<SocketAddr>)>,
}

impl Routes {
    /// Checks naming `ufrag` are for `route`'s peer.
    pub fn register(&mut self, ufrag: &str, route: Route) {
        let ufrag: Box<[u8]> = ufrag.as_bytes().into();
        self.ufrags.insert(ufrag.clone(), route);
        self.peers.insert(route.peer, (ufrag, VecDeque::new()));
    }

    /// Forgets `peer`: its ufrag and its addresses.
    pub fn forget(&mut self, peer: u64) {
        let Some((ufrag, addrs)) = self.peers.remove(&peer) else {
            return;
        };
        self.ufrags.remove(&ufrag);
        for a in addrs {
            if self.by_addr.get(&a).is_some_and(|r| r.peer == peer) {
                self.by_addr.remove(&a);
            }
        }
    }

    /// Where a datagram from `source` goes: by the ufrag a connectivity check names (which
    /// also teaches its address), else by the address.
    pub fn find(&mut self, source: SocketAddr, datagram: &[u8]) -> Option<Route> {
        let Some(ufrag) = stun::request_ufrag(datagram) else {
            return self.by_addr.get(&source).copied();
        };
        let route = *self.ufrags.get(ufrag)?;
        if self.by_addr.insert(source, route) != Some(route) {
            if let Some((_, addrs)) = self.peers.get_mut(&route.peer) {
                addrs.push_back(source);
                if addrs.len() > ADDRESSES_PER_PEER {
                    if let Some(old) = addrs.pop_front() {
                        if self.by_addr.get(&old) == Some(&route) {
                            self.by_addr.remove(&old);
                        }
                    }
                }
            }
        }
        Some(route)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_addr.len()
    }
}

/// Shard 0's extra state.
pub struct Front {
    socket: UdpSocket,
    /// Every shard's command channel, by index (the front's own included, unused).
    shards: Vec<mpsc::UnboundedSender<Command>>,
    pub(super) routes: Routes,
    plans: Plans,
    restamps: HashMap<u64, Restamp>,
    taps: Taps,
}

impl Front {
    pub fn new(
        socket: UdpSocket,
        shards: Vec<mpsc::UnboundedSender<Command>>,
        plans: Plans,
        taps: Taps,
    ) -> Self {
        // A packet's age then counts its wait in the socket buffer (see `engine::STALE`).
        super::arrival::enable(&socket);
        Self {
            socket,
            shards,
            routes: Routes::default(),
            plans,
            restamps: HashMap::new(),
            taps,
        }
    }
}

/// Resolves when the front's socket has something to read (never for other shards).
pub(super) async fn readable(front: &Option<Front>) -> std::io::Result<()> {
    match front {
        Some(f) => f.socket.readable().await,
        None => std::future::pending().await,
    }
}

impl Engine {
    /// Reads what the port holds and hands each datagram to its peer's shard.
    pub(super) fn read(&mut self, buf: &mut [u8]) {
        let me = self.index();
        for _ in 0..READ_BATCH {
            let Some(front) = self.front.as_mut() else {
                return;
            };
            let (n, source, at) = match super::arrival::try_recv(&front.socket, buf) {
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

    pub(super) fn set_plans(&mut self, plans: Plans) {
        if let Some(f) = &mut self.front {
            f.plans = plans;
        }
        self.evict_publishers();
    }

    /// Publishers that are neither on the floor nor next are disconnected: their slot is
    /// over (or was withdrawn), and an idle uplink is a cost with no use.
    pub(super) fn evict_publishers(&mut self) {
        let Some(front) = &self.front else {
            return;
        };
        let now = unix_now_ms();
        let out: Vec<u64> = self
            .peers
            .iter()
            .filter_map(|(id, p)| match p.role {
                PeerRole::Publisher(a) => {
                    let allowed = front
                        .plans
                        .get(&p.session)
                        .is_some_and(|plan| plan.standing(a, now).is_ok());
                    (!allowed).then_some(*id)
                }
                PeerRole::Listener => None,
            })
            .collect();
        for id in out {
            tracing::info!(peer = id, "publisher no longer holds or awaits the floor");
            self.remove(id);
        }
    }

    /// Judges each packet the publishers sent against the floor plan; what passes is
    /// restamped onto its session's timeline, tapped, and sent to every shard's listeners.
    pub(super) fn forward_inbound(&mut self) {
        if self.inbound.is_empty() {
            return;
        }
        let me = self.index();
        let now_ms = unix_now_ms();
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
            let Some((occurrence, slot)) = front.plans.get(&session).and_then(|plan| {
                plan.holding(address, now_ms)
                    .map(|s| (plan.occurrence, (s.start_ms, s.end_ms)))
            }) else {
                gated += 1;
                continue;
            };
            front
                .taps
                .offer(session, occurrence, address, slot, now_ms, &data.data);
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
        m.media_packets_in.fetch_add(received, Relaxed);
        m.media_packets_gated.fetch_add(gated, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn checks_teach_addresses_and_data_follows_them() {
        let mut r = Routes::default();
        let (a, b) = (Route { shard: 1, peer: 7 }, Route { shard: 0, peer: 8 });
        r.register("aaaa", a);
        r.register("bbbb", b);
        let rtp = [0x80u8, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        // Nothing is known of an address before its peer's first check.
        assert_eq!(r.find(at(1000), &rtp), None);
        assert_eq!(
            r.find(at(1000), &stun::check_naming("zzzz")),
            None,
            "unknown ufrag"
        );
        assert_eq!(r.find(at(1000), &stun::check_naming("aaaa")), Some(a));
        assert_eq!(r.find(at(1000), &rtp), Some(a));
        // A check from the same address for another peer moves it (ICE's rule).
        assert_eq!(r.find(at(1000), &stun::check_naming("bbbb")), Some(b));
        assert_eq!(r.find(at(1000), &rtp), Some(b));
        r.forget(8);
        assert_eq!(r.find(at(1000), &rtp), None);
        assert_eq!(
            r.find(at(1001), &stun::check_naming("bbbb")),
            None,
            "forgotten ufrag"
        );
        r.forget(8); // twice: nothing
    }

    #[test]
    fn a_peer_holds_a_bounded_number_of_addresses() {
        let mut r = Routes::default();
        let a = Route { shard: 0, peer: 1 };
        r.register("aaaa", a);
        for port in 2000..3000 {
            assert_eq!(r.find(at(port), &stun::check_naming("aaaa")), Some(a));
        }
        assert_eq!(r.len(), ADDRESSES_PER_PEER);
        // The newest addresses are the ones kept.
        assert_eq!(r.find(at(2999), &[0x80, 0]), Some(a));
        assert_eq!(r.find(at(2000), &[0x80, 0]), None);
        r.forget(1);
        assert_eq!(r.len(), 0);
    }
}
