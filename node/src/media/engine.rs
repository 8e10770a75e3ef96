//! The media engine: every WebRTC peer of the node on one UDP socket, driven by one thread
//! (str0m is sans-IO: the engine owns the socket, the clock and the peers). A packet from a
//! publisher is decrypted once, judged once against the floor plan, restamped once onto the
//! room's program timeline, and written to each listener; the per-listener work is what
//! SRTP and congestion require and nothing else.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use str0m::media::{Frequency, MediaData, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use super::plan::Plans;
use super::restamp::Restamp;
use crate::live::unix_now_ms;
use crate::metrics::Metrics;

/// Who a peer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerRole {
    /// Sends audio (WHIP), forwarded only while the plan gives it the floor.
    Publisher(Address),
    /// Receives the room's program (WHEP).
    Listener,
}

/// A peer handed to the engine once its offer is answered.
pub struct NewPeer {
    pub id: u64,
    pub resource: String,
    pub session: u64,
    pub role: PeerRole,
    pub rtc: Rtc,
}

/// What the HTTP side asks of the engine.
pub enum Command {
    Add(Box<NewPeer>),
    Remove(u64),
}

/// A peer that has not connected by then is dropped (a half-open offer costs nothing after).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// A connected peer silent this long is gone: clients send consent checks (RFC 7675) every
/// few seconds, and an ICE-lite agent makes no checks of its own to notice.
const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// Datagrams read per wake before the engine looks at its timers and commands again.
const READ_BATCH: usize = 128;

struct Peer {
    resource: String,
    session: u64,
    role: PeerRole,
    rtc: Rtc,
    /// The listener's audio section and its Opus payload type, once negotiated.
    out: Option<(Mid, Pt)>,
    /// The deadline this peer sits at in the timer set.
    next: Option<Instant>,
    opened: Instant,
    connected: bool,
    /// When this peer last sent anything.
    heard: Instant,
}

#[derive(Default)]
struct Room {
    listeners: Vec<u64>,
    restamp: Restamp,
}

/// The socket side: where the engine's datagrams go, and what it counts.
struct Io {
    socket: UdpSocket,
    /// The address packets are addressed to, as str0m's candidates know it.
    local: SocketAddr,
    metrics: Arc<Metrics>,
}

impl Io {
    fn send(&self, contents: &[u8], to: SocketAddr) {
        match self.socket.try_send_to(contents, to) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                self.metrics.media_send_dropped.fetch_add(1, Relaxed);
            }
            Err(e) => tracing::debug!(%to, error = %e, "send failed"),
        }
    }
}

/// The engine's state, owned by its thread.
pub struct Engine {
    io: Io,
    peers: HashMap<u64, Peer>,
    /// Which peer a remote address belongs to, learned from the first packet it accepted.
    by_addr: HashMap<SocketAddr, u64>,
    timers: BTreeSet<(Instant, u64)>,
    rooms: HashMap<u64, Room>,
    plans: Plans,
    resources: Arc<Mutex<HashMap<String, super::Resource>>>,
    /// Media received during a drain, forwarded after it (a drain borrows one peer).
    inbound: Vec<(u64, MediaData)>,
    taps: Taps,
}

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

impl Engine {
    pub fn new(
        socket: UdpSocket,
        local: SocketAddr,
        metrics: Arc<Metrics>,
        plans: Plans,
        resources: Arc<Mutex<HashMap<String, super::Resource>>>,
        taps: Taps,
    ) -> Self {
        Self {
            io: Io {
                socket,
                local,
                metrics,
            },
            peers: HashMap::new(),
            by_addr: HashMap::new(),
            timers: BTreeSet::new(),
            rooms: HashMap::new(),
            plans,
            resources,
            inbound: Vec::new(),
            taps,
        }
    }

    /// Runs until the command channel closes or `shutdown` fires.
    pub async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut plans: watch::Receiver<Plans>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut buf = vec![0u8; 2048];
        let mut housekeeping = tokio::time::interval(Duration::from_secs(1));
        loop {
            let deadline = self
                .timers
                .first()
                .map(|(t, _)| *t)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
            tokio::select! {
                biased;
                c = commands.recv() => match c {
                    Some(Command::Add(p)) => self.add(*p),
                    Some(Command::Remove(id)) => self.remove(id),
                    None => break,
                },
                _ = plans.changed() => {
                    self.plans = plans.borrow_and_update().clone();
                    self.evict_publishers();
                }
                r = self.io.socket.readable() => {
                    if r.is_ok() {
                        self.read(&mut buf);
                    }
                }
                _ = tokio::time::sleep_until(deadline.into()) => self.fire_timers(),
                _ = housekeeping.tick() => self.housekeeping(),
                _ = shutdown.changed() => break,
            }
            self.forward_inbound();
        }
        for id in self.peers.keys().copied().collect::<Vec<_>>() {
            self.remove(id);
        }
    }

    fn add(&mut self, p: NewPeer) {
        let m = &self.io.metrics;
        match p.role {
            PeerRole::Listener => {
                m.media_listeners.fetch_add(1, Relaxed);
                self.rooms
                    .entry(p.session)
                    .or_default()
                    .listeners
                    .push(p.id);
            }
            PeerRole::Publisher(address) => {
                m.media_publishers.fetch_add(1, Relaxed);
                // One connection per speaker and session: a reconnect replaces the old one.
                let old: Vec<u64> = self
                    .peers
                    .iter()
                    .filter(|(_, q)| {
                        q.session == p.session && q.role == PeerRole::Publisher(address)
                    })
                    .map(|(id, _)| *id)
                    .collect();
                for id in old {
                    self.remove(id);
                }
            }
        }
        self.peers.insert(
            p.id,
            Peer {
                resource: p.resource,
                session: p.session,
                role: p.role,
                rtc: p.rtc,
                out: None,
                next: None,
                opened: Instant::now(),
                connected: false,
                heard: Instant::now(),
            },
        );
        self.drain(p.id);
    }

    fn remove(&mut self, id: u64) {
        let Some(mut peer) = self.peers.remove(&id) else {
            return;
        };
        peer.rtc.disconnect();
        if let Some(t) = peer.next {
            self.timers.remove(&(t, id));
        }
        self.by_addr.retain(|_, v| *v != id);
        let m = &self.io.metrics;
        match peer.role {
            PeerRole::Listener => {
                m.media_listeners.fetch_sub(1, Relaxed);
                if let Some(room) = self.rooms.get_mut(&peer.session) {
                    room.listeners.retain(|l| *l != id);
                }
            }
            PeerRole::Publisher(_) => {
                m.media_publishers.fetch_sub(1, Relaxed);
            }
        }
        self.resources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&peer.resource);
    }

    /// Publishers that are neither on the floor nor next are disconnected: their slot is
    /// over (or was withdrawn), and an idle uplink is a cost with no use.
    fn evict_publishers(&mut self) {
        let now = unix_now_ms();
        let out: Vec<u64> = self
            .peers
            .iter()
            .filter_map(|(id, p)| match p.role {
                PeerRole::Publisher(a) => {
                    let allowed = self
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

    fn housekeeping(&mut self) {
        let stale: Vec<u64> = self
            .peers
            .iter()
            .filter(|(_, p)| {
                (!p.connected && p.opened.elapsed() > CONNECT_TIMEOUT)
                    || p.heard.elapsed() > IDLE_TIMEOUT
            })
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.remove(id);
        }
        self.evict_publishers();
    }

    fn read(&mut self, buf: &mut [u8]) {
        for _ in 0..READ_BATCH {
            let (n, source) = match self.io.socket.try_recv_from(buf) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // ICMP errors from a vanished listener surface here; they are not ours.
                    tracing::trace!(error = %e, "recv");
                    continue;
                }
            };
            let Ok(contents) = buf[..n].try_into() else {
                continue;
            };
            let now = Instant::now();
            let input = Input::Receive(
                now,
                Receive {
                    proto: Protocol::Udp,
                    source,
                    destination: self.io.local,
                    contents,
                },
            );
            let known = self
                .by_addr
                .get(&source)
                .copied()
                .filter(|id| self.peers.get(id).is_some_and(|p| p.rtc.accepts(&input)));
            // A new address: only STUN from a new peer gets here, so the scan is rare.
            let Some(id) = known.or_else(|| {
                self.peers
                    .iter()
                    .find(|(_, p)| p.rtc.accepts(&input))
                    .map(|(id, _)| *id)
            }) else {
                continue;
            };
            self.by_addr.insert(source, id);
            let Some(peer) = self.peers.get_mut(&id) else {
                continue;
            };
            peer.heard = now;
            if let Err(e) = peer.rtc.handle_input(input) {
                tracing::debug!(peer = id, error = %e, "input refused");
                peer.rtc.disconnect();
            }
            self.drain(id);
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(&(t, id)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.remove(&(t, id));
            if let Some(p) = self.peers.get_mut(&id) {
                p.next = None;
                if let Err(e) = p.rtc.handle_input(Input::Timeout(now)) {
                    tracing::debug!(peer = id, error = %e, "timeout refused");
                    p.rtc.disconnect();
                }
                self.drain(id);
            }
        }
    }

    /// Polls a peer until it has nothing more to say; removes it if it died.
    fn drain(&mut self, id: u64) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let next = drain_peer(id, peer, &self.io, &mut self.inbound);
        match next {
            // Only an earlier deadline moves the peer in the timer set: a timer that fires
            // early costs one `handle_input` (str0m then names the real deadline), while
            // re-keying on every write cost two tree operations per listener per packet.
            Some(t) if peer.next.is_none_or(|old| t < old) => {
                if let Some(old) = peer.next {
                    self.timers.remove(&(old, id));
                }
                self.timers.insert((t, id));
                peer.next = Some(t);
            }
            Some(_) => {}
            None => self.remove(id),
        }
    }

    fn forward_inbound(&mut self) {
        if self.inbound.is_empty() {
            return;
        }
        let now_ms = unix_now_ms();
        let (mut received, mut gated, mut sent) = (0u64, 0u64, 0u64);
        for (from, data) in std::mem::take(&mut self.inbound) {
            received += 1;
            let Some((session, PeerRole::Publisher(address))) =
                self.peers.get(&from).map(|p| (p.session, p.role))
            else {
                continue;
            };
            let Some((occurrence, slot)) = self.plans.get(&session).and_then(|plan| {
                plan.holding(address, now_ms)
                    .map(|s| (plan.occurrence, (s.start_ms, s.end_ms)))
            }) else {
                gated += 1;
                continue;
            };
            self.taps
                .offer(session, occurrence, address, slot, now_ms, &data.data);
            let room = self.rooms.entry(session).or_default();
            let time = data.time.rebase(Frequency::FORTY_EIGHT_KHZ);
            let out = room.restamp.map(from, time.numer(), data.network_time);
            let out = MediaTime::new(out, Frequency::FORTY_EIGHT_KHZ);
            // Taken out for the loop (a drain may remove a listener); put back after.
            let mut listeners = std::mem::take(&mut room.listeners);
            for &l in &listeners {
                let Some(peer) = self.peers.get_mut(&l) else {
                    continue;
                };
                let Some((mid, pt)) = peer.out.filter(|_| peer.connected) else {
                    continue;
                };
                let Some(writer) = peer.rtc.writer(mid) else {
                    continue;
                };
                if writer
                    .write(pt, data.network_time, out, data.data.clone())
                    .is_ok()
                {
                    sent += 1;
                }
                self.drain(l);
            }
            listeners.retain(|l| self.peers.contains_key(l));
            if let Some(room) = self.rooms.get_mut(&session) {
                // Nobody joins during the loop (commands wait), but keep any who did.
                listeners.append(&mut room.listeners);
                room.listeners = listeners;
            }
        }
        let m = &self.io.metrics;
        m.media_packets_in.fetch_add(received, Relaxed);
        m.media_packets_gated.fetch_add(gated, Relaxed);
        m.media_packets_out.fetch_add(sent, Relaxed);
    }
}

/// The drain loop str0m requires after every input: transmit, dispatch events, and return
/// the next deadline (`None` once the peer is gone).
fn drain_peer(
    id: u64,
    peer: &mut Peer,
    io: &Io,
    inbound: &mut Vec<(u64, MediaData)>,
) -> Option<Instant> {
    loop {
        if !peer.rtc.is_alive() {
            return None;
        }
        match peer.rtc.poll_output() {
            Ok(Output::Timeout(t)) => return Some(t),
            Ok(Output::Transmit(t)) => io.send(&t.contents, t.destination),
            Ok(Output::Event(e)) => match e {
                Event::Connected => {
                    peer.connected = true;
                    tracing::debug!(peer = id, "connected");
                }
                Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                    peer.rtc.disconnect();
                }
                Event::MediaAdded(added) if peer.role == PeerRole::Listener => {
                    peer.out = super::opus_pt(&mut peer.rtc, added.mid).map(|pt| (added.mid, pt));
                }
                Event::MediaData(data) if matches!(peer.role, PeerRole::Publisher(_)) => {
                    inbound.push((id, data));
                }
                _ => {}
            },
            Err(e) => {
                tracing::debug!(peer = id, error = %e, "peer failed");
                peer.rtc.disconnect();
                return None;
            }
        }
    }
}
