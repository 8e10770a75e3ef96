//! The media engine: the node's WebRTC peers, spread over shards of one thread each (str0m
//! is sans-IO: a shard owns its peers and drives their clocks), all on one UDP port.
//!
//! Shard 0 is also the front ([`crate::front`]): it reads the port, hands each datagram to
//! the shard that owns its peer, holds the publishers, and judges, restamps and taps each of
//! their packets once. The resulting [`Program`] packet goes to every shard, and each writes
//! it to its own listeners: the per-listener work (SRTP, RTCP, pacing) is what is spread
//! over the cores, and nothing else is done per listener.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use assembly_floor::clock;
use str0m::media::{MediaData, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Event, IceConnectionState, Input, Output, Rtc};
use tokio::sync::{mpsc, watch};

use crate::command::{Command, NewPeer, PeerRole, Program};
use crate::ended::{Ended, Ending};
use crate::front::{Front, FrontRead};
use crate::gate::Gate;
use crate::load::Load;
use crate::metrics::MediaMetrics;
use crate::routes::Route;
use crate::Resource;

/// A publisher that has not connected by then is dropped (a half-open offer costs nothing
/// after). Publishers are few and admitted by the gate; a slow network gets its time.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// A listener that has not connected by then is dropped: a browser connects in well under a
/// second (a TURN relay in two or three), and an offer that never connects must stop counting
/// against the listener bounds soon.
const LISTENER_CONNECT_TIMEOUT: Duration = Duration::from_secs(8);
/// A connected peer silent this long is gone. Anything from its pair counts: a speaker's
/// SRTP, a listener's SRTCP reports (every few seconds), Binding requests (browsers' consent
/// checks, RFC 7675) and indications (libnice's keepalives, RFC 8445 §11). An ICE-lite agent
/// makes no checks of its own, and the patched `is` leaves this judgement to the engine.
const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// Datagrams read per wake before the front looks at its timers and commands again.
const READ_BATCH: usize = 128;
/// Commands taken per wake before the shard looks at its timers again.
const COMMAND_BATCH: usize = 256;
/// A program packet this old when its shard gets to it is not sent: the shard is behind
/// (more listeners than its core can serve), and late audio would only lengthen the
/// listeners' delay and the shard's queue. Listeners hear a gap instead, and the shard
/// catches up.
const STALE: Duration = Duration::from_millis(500);
/// Writes between two looks at a packet's age during a fan-out.
const STALE_CHECK_EVERY: usize = 64;

struct Peer {
    resource: String,
    session: u64,
    role: PeerRole,
    /// A listener's network address, released from its per-address count when it goes.
    from: Option<IpAddr>,
    rtc: Rtc,
    /// The listener's audio section and its Opus payload type, once negotiated.
    out: Option<(Mid, Pt)>,
    /// The deadline this peer sits at in the timer set.
    next: Option<Instant>,
    opened: Instant,
    connected: bool,
    /// When this peer last sent anything.
    heard: Instant,
    /// Why its connection failed, once it has.
    failure: Option<&'static str>,
    /// Its client closed the connection in-band.
    closed: bool,
}

/// Where a shard's datagrams go, and what it counts.
struct Io {
    /// The shared media port (a handle of the front's socket): sending needs no reactor.
    socket: UdpSocket,
    /// The address packets are addressed to, as str0m's candidates know it.
    local: SocketAddr,
    metrics: Arc<MediaMetrics>,
}

impl Io {
    fn send(&self, contents: &[u8], to: SocketAddr) {
        match self.socket.send_to(contents, to) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                self.metrics.send_dropped.fetch_add(1, Relaxed);
            }
            Err(e) => tracing::debug!(%to, error = %e, "send failed"),
        }
    }
}

/// What every shard shares with the HTTP side.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) metrics: Arc<MediaMetrics>,
    pub(crate) resources: Arc<Mutex<HashMap<String, Resource>>>,
    pub(crate) ended: Arc<Mutex<Ended>>,
    pub(crate) load: Arc<Load>,
}

/// One shard's state, owned by its thread.
pub(crate) struct Engine {
    index: usize,
    io: Io,
    peers: HashMap<u64, Peer>,
    timers: BTreeSet<(Instant, u64)>,
    /// Each session's listeners on this shard.
    listeners: HashMap<u64, Vec<u64>>,
    shared: Shared,
    /// Media received during a drain, judged after it (a drain borrows one peer).
    inbound: Vec<(u64, MediaData)>,
    /// Shard 0's reading, routing and judging; `None` on the others.
    front: Option<Front>,
    /// Shard 0's channel: how a shard tells the front that a peer has gone.
    to_front: mpsc::UnboundedSender<Command>,
}

impl Engine {
    /// Shard `index`, sending on `socket`; `front` is given to shard 0.
    pub(crate) fn new(
        index: usize,
        socket: UdpSocket,
        local: SocketAddr,
        shared: Shared,
        to_front: mpsc::UnboundedSender<Command>,
        front: Option<Front>,
    ) -> Self {
        Self {
            index,
            io: Io {
                socket,
                local,
                metrics: shared.metrics.clone(),
            },
            peers: HashMap::new(),
            timers: BTreeSet::new(),
            listeners: HashMap::new(),
            shared,
            inbound: Vec::new(),
            front,
            to_front,
        }
    }

    /// Runs until the command channel closes or `shutdown` fires. `gate` is read by the
    /// front only.
    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut gate: watch::Receiver<Gate>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut buf = vec![0u8; 2048];
        let mut housekeeping = tokio::time::interval(Duration::from_secs(1));
        let front = self.front.is_some();
        loop {
            let deadline = self
                .timers
                .first()
                .map(|(t, _)| *t)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
            tokio::select! {
                biased;
                c = commands.recv() => match c {
                    Some(c) => {
                        self.command(c);
                        for _ in 1..COMMAND_BATCH {
                            let Ok(c) = commands.try_recv() else { break };
                            self.command(c);
                        }
                    }
                    None => break,
                },
                _ = gate.changed(), if front => {
                    let g = gate.borrow_and_update().clone();
                    self.set_gate(g);
                }
                r = crate::front::readable(&self.front), if front => {
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
            self.remove(id, Ending::Shutdown);
        }
    }

    /// Reads what the port holds (the front only): datagrams for other shards' peers are
    /// handed over by the front; this shard's own go to their peers here.
    fn read(&mut self, buf: &mut [u8]) {
        for _ in 0..READ_BATCH {
            let Some(front) = self.front.as_mut() else {
                return;
            };
            match front.read(buf) {
                FrontRead::Empty => return,
                FrontRead::Handled => {}
                FrontRead::Mine {
                    peer,
                    source,
                    at,
                    len,
                } => self.receive(peer, source, at, &buf[..len]),
            }
        }
    }

    fn set_gate(&mut self, gate: Gate) {
        self.let_go_of_unheard_relays();
        if let Some(f) = &mut self.front {
            let waited = f.set_gate(gate, clock::now_ms());
            self.io
                .metrics
                .relayed_waiting
                .store(f.waiting() as i64, Relaxed);
            self.io
                .metrics
                .relayed_late
                .fetch_add(waited.len() as u64, Relaxed);
            for program in waited {
                self.fan_out(&program);
            }
        }
        self.evict_publishers();
    }

    /// Publishers that are neither on the floor nor next are disconnected: their slot is
    /// over (or was withdrawn), and an idle uplink is a cost with no use.
    fn evict_publishers(&mut self) {
        let Some(front) = &self.front else {
            return;
        };
        let now = clock::now_ms();
        let out: Vec<u64> = self
            .peers
            .iter()
            .filter_map(|(id, p)| (!front.keeps(p.session, p.role, now)).then_some(*id))
            .collect();
        for id in out {
            self.remove(id, Ending::FloorPassed);
        }
    }

    /// Has the front judge each packet the publishers sent; what it lets through (and has
    /// already handed to the other shards) is written to this shard's listeners.
    fn forward_inbound(&mut self) {
        if self.inbound.is_empty() {
            return;
        }
        let now_ms = clock::now_ms();
        let (mut received, mut gated) = (0u64, 0u64);
        for (from, data) in std::mem::take(&mut self.inbound) {
            received += 1;
            let Some(front) = self.front.as_mut() else {
                break;
            };
            let Some((session, role)) = self.peers.get(&from).map(|p| (p.session, p.role)) else {
                continue;
            };
            match front.judge(from, session, role, data, now_ms) {
                Some(program) => self.fan_out(&program),
                None => gated += 1,
            }
        }
        let m = &self.io.metrics;
        m.packets_in.fetch_add(received, Relaxed);
        m.packets_gated.fetch_add(gated, Relaxed);
        if let Some(front) = &self.front {
            m.relayed_waiting.store(front.waiting() as i64, Relaxed);
        }
    }

    fn command(&mut self, c: Command) {
        match c {
            Command::Add(p) => self.add(*p),
            Command::Remove(id) => self.remove(id, Ending::Deleted),
            Command::Datagram {
                peer,
                source,
                at,
                bytes,
            } => self.receive(peer, source, at, &bytes),
            Command::Program(p) => self.fan_out(&p),
            Command::Route { ufrag, peer, shard } => {
                if let Some(f) = &mut self.front {
                    f.routes.register(&ufrag, Route { shard, peer });
                }
            }
            Command::Unroute(peer) => {
                if let Some(f) = &mut self.front {
                    f.routes.forget(peer);
                }
            }
        }
    }

    fn add(&mut self, p: NewPeer) {
        let m = &self.io.metrics;
        match p.role {
            PeerRole::Listener => {
                m.listeners.fetch_add(1, Relaxed);
                self.listeners.entry(p.session).or_default().push(p.id);
            }
            PeerRole::Publisher(_) | PeerRole::Relay(_) => {
                m.publishers.fetch_add(1, Relaxed);
                // One connection per speaker (or sibling node) and session: a reconnect
                // replaces the old one.
                let old: Vec<u64> = self
                    .peers
                    .iter()
                    .filter(|(_, q)| q.session == p.session && q.role == p.role)
                    .map(|(id, _)| *id)
                    .collect();
                for id in old {
                    self.remove(id, Ending::Replaced);
                }
            }
        }
        self.peers.insert(
            p.id,
            Peer {
                resource: p.resource,
                session: p.session,
                role: p.role,
                from: p.from,
                rtc: p.rtc,
                out: None,
                next: None,
                opened: Instant::now(),
                connected: false,
                heard: Instant::now(),
                failure: None,
                closed: false,
            },
        );
        self.drain(p.id);
    }

    /// Ends a peer for `why`: a live connection is told in-band (DTLS close_notify, so a
    /// standard client stops and says so), the reason is logged and kept for its client.
    fn remove(&mut self, id: u64, why: Ending) {
        let Some(mut peer) = self.peers.remove(&id) else {
            return;
        };
        if peer.rtc.is_alive() && peer.rtc.close().is_ok() {
            flush(&mut peer.rtc, &self.io);
        }
        peer.rtc.disconnect();
        let role = peer.role.name();
        let (session, resource) = (peer.session, peer.resource.as_str());
        if why.is_failure() {
            tracing::warn!(session, resource, role, reason = %why, "media session ended");
        } else {
            tracing::info!(session, resource, role, reason = %why, "media session ended");
        }
        self.shared
            .ended
            .lock()
            .record(&peer.resource, why, Instant::now());
        if let Some(t) = peer.next {
            self.timers.remove(&(t, id));
        }
        let m = &self.io.metrics;
        match peer.role {
            PeerRole::Listener => {
                m.listeners.fetch_sub(1, Relaxed);
                self.shared.load.release(self.index, peer.from);
                if let Some(list) = self.listeners.get_mut(&peer.session) {
                    list.retain(|l| *l != id);
                }
            }
            PeerRole::Publisher(_) | PeerRole::Relay(_) => {
                m.publishers.fetch_sub(1, Relaxed);
                self.shared.load.release_publisher();
            }
        }
        self.shared.resources.lock().remove(&peer.resource);
        match &mut self.front {
            Some(f) => f.routes.forget(id),
            None => {
                let _ = self.to_front.send(Command::Unroute(id));
            }
        }
    }

    /// Counts, and says, what siblings relayed while nobody held the floor by this node's
    /// view, once it has waited long enough for the view to catch up (see `front::WAIT_MS`).
    fn let_go_of_unheard_relays(&mut self) {
        let Some(f) = &mut self.front else {
            return;
        };
        let m = &self.io.metrics;
        let overflowed = std::mem::take(&mut f.overflowed);
        let mut unheard = overflowed;
        for (role, n) in f.expire(clock::now_ms()) {
            unheard += n;
            if let PeerRole::Relay(node) = role {
                tracing::warn!(
                    %node,
                    packets = n,
                    "a sibling relayed audio while nobody held the floor by this node's view of the chain: not heard"
                );
            }
        }
        if overflowed > 0 {
            tracing::warn!(
                packets = overflowed,
                "too many relayed packets waiting for this node's view of the chain: the oldest not heard"
            );
        }
        m.relayed_unheard.fetch_add(unheard, Relaxed);
        m.relayed_waiting.store(f.waiting() as i64, Relaxed);
    }

    fn housekeeping(&mut self) {
        self.let_go_of_unheard_relays();
        let stale: Vec<(u64, Ending)> = self
            .peers
            .iter()
            .filter_map(|(id, p)| {
                let connect = match p.role {
                    PeerRole::Listener => LISTENER_CONNECT_TIMEOUT,
                    PeerRole::Publisher(_) | PeerRole::Relay(_) => CONNECT_TIMEOUT,
                };
                if !p.connected && p.opened.elapsed() > connect {
                    Some((*id, Ending::NeverConnected(connect.as_secs())))
                } else if p.heard.elapsed() > IDLE_TIMEOUT {
                    Some((*id, Ending::Silent(IDLE_TIMEOUT.as_secs())))
                } else {
                    None
                }
            })
            .collect();
        for (id, why) in stale {
            self.remove(id, why);
        }
        self.evict_publishers();
    }

    /// A datagram from `source` for peer `id`: handed to it if it is really its.
    fn receive(&mut self, id: u64, source: SocketAddr, at: Instant, bytes: &[u8]) {
        let Ok(contents) = bytes.try_into() else {
            return;
        };
        let input = Input::Receive(
            at,
            Receive {
                proto: Protocol::Udp,
                source,
                destination: self.io.local,
                contents,
            },
        );
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if !peer.rtc.accepts(&input) {
            return;
        }
        peer.heard = at;
        if let Err(e) = peer.rtc.handle_input(input) {
            fail(peer, e, &self.io);
        }
        self.drain(id);
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
                    fail(p, e, &self.io);
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
        let closed = peer.closed;
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
            None => {
                let why = match (
                    self.peers.get_mut(&id).and_then(|p| p.failure.take()),
                    closed,
                ) {
                    (Some(failure), _) => Ending::Failed(failure),
                    (None, true) => Ending::ClosedByPeer,
                    (None, false) => Ending::Failed(ICE_LOST),
                };
                self.remove(id, why);
            }
        }
    }

    /// Writes a program packet to each of this shard's listeners in its session.
    fn fan_out(&mut self, p: &Program) {
        // Taken out for the loop (a drain may remove a listener); put back after.
        let Some(mut listeners) = self.listeners.get_mut(&p.session).map(std::mem::take) else {
            return;
        };
        let (mut sent, mut reached) = (0u64, listeners.len());
        for (i, &l) in listeners.iter().enumerate() {
            // A shard behind its listeners stops writing audio that has gone stale; the age
            // is looked at every few dozen writes, so a long fan-out is cut as well.
            if i % STALE_CHECK_EVERY == 0 && p.wallclock.elapsed() > STALE {
                reached = i;
                break;
            }
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
                .write(pt, p.wallclock, p.time, p.payload.clone())
                .is_ok()
            {
                sent += 1;
            }
            self.drain(l);
        }
        let missed = (listeners.len() - reached) as u64;
        if missed > 0 {
            // Those who missed this packet are first for the next: losses are shared.
            listeners.rotate_left(reached);
            let m = &self.io.metrics;
            m.stale_dropped.fetch_add(missed, Relaxed);
        }
        listeners.retain(|l| self.peers.contains_key(l));
        if let Some(list) = self.listeners.get_mut(&p.session) {
            // Nobody joins during the loop (commands wait), but keep any who did.
            listeners.append(list);
            *list = listeners;
        }
        self.io.metrics.packets_out.fetch_add(sent, Relaxed);
    }
}

/// A peer's input failed (a DTLS handshake refused, for one): what str0m queued in answer
/// (a fatal alert) still goes out, then the peer is done; the engine ends it on its next
/// drain, with this reason.
fn fail(peer: &mut Peer, e: str0m::RtcError, io: &Io) {
    tracing::warn!(resource = peer.resource, error = %e, "peer's input refused");
    peer.failure.get_or_insert(failure_of(&e));
    flush(&mut peer.rtc, io);
    peer.rtc.disconnect();
}

const ICE_LOST: &str = "ICE lost the connection";

/// What failed, for the client: str0m's and dimpl's own words name their internals.
fn failure_of(e: &str0m::RtcError) -> &'static str {
    match e {
        str0m::RtcError::Dtls(_) => {
            "the DTLS handshake was refused (a certificate matching the offer's a=fingerprint, \
             ECDSA or RSA, is needed)"
        }
        str0m::RtcError::RemoteSdp(_) => {
            "its DTLS certificate does not match the offer's a=fingerprint"
        }
        str0m::RtcError::Ice(_) => ICE_LOST,
        _ => "the node could not process what it sent",
    }
}

/// Sends what `rtc` has queued to send (an alert, a close_notify), and nothing else.
fn flush(rtc: &mut Rtc, io: &Io) {
    // Bounded: a closing Rtc has a few records to send, never a stream.
    for _ in 0..32 {
        match rtc.poll_output() {
            Ok(Output::Transmit(t)) => io.send(&t.contents, t.destination),
            Ok(Output::Event(_)) => {}
            Ok(Output::Timeout(_)) | Err(_) => break,
        }
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
                    peer.failure.get_or_insert(ICE_LOST);
                    peer.rtc.disconnect();
                }
                Event::Closed => peer.closed = true,
                Event::MediaAdded(added) if peer.role == PeerRole::Listener => {
                    peer.out =
                        crate::opus::opus_pt(&mut peer.rtc, added.mid).map(|pt| (added.mid, pt));
                }
                Event::MediaData(data) if peer.role.sends() => {
                    inbound.push((id, data));
                }
                _ => {}
            },
            Err(e) => {
                tracing::warn!(peer = id, resource = peer.resource, error = %e, "peer failed");
                peer.failure.get_or_insert(failure_of(&e));
                peer.rtc.disconnect();
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::media::MediaTime;

    fn shard() -> Engine {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let local = socket.local_addr().unwrap();
        let shared = Shared {
            metrics: Arc::default(),
            resources: Arc::default(),
            ended: Arc::default(),
            load: Arc::new(Load::new(2)),
        };
        let (to_front, _) = mpsc::unbounded_channel();
        Engine::new(1, socket, local, shared, to_front, None)
    }

    fn packet(age: Duration) -> Program {
        Program {
            session: 5,
            wallclock: Instant::now().checked_sub(age).unwrap(),
            time: MediaTime::new(960, str0m::media::Frequency::FORTY_EIGHT_KHZ),
            payload: Arc::from(&[0xfcu8, 1, 2][..]),
        }
    }

    fn listener(e: &mut Engine, id: u64) {
        e.add(NewPeer {
            id,
            resource: format!("r{id}"),
            session: 5,
            role: PeerRole::Listener,
            from: None,
            rtc: Rtc::builder().build(Instant::now()),
        });
    }

    /// The keepalive rule: a connected peer from which anything arrived within
    /// `IDLE_TIMEOUT` stays, whatever it was (the patched `is` no longer drops a nominated
    /// ICE-lite pair for want of Binding requests); one silent for longer goes, and its
    /// client can learn why.
    #[test]
    fn peers_live_while_anything_arrives_and_go_when_silent() {
        let mut e = shard();
        for id in [1, 2, 3] {
            listener(&mut e, id);
        }
        let now = Instant::now();
        for (id, quiet) in [
            (1, 1),
            (2, IDLE_TIMEOUT.as_secs() - 1),
            (3, IDLE_TIMEOUT.as_secs() + 1),
        ] {
            let p = e.peers.get_mut(&id).unwrap();
            p.connected = true;
            p.heard = now - Duration::from_secs(quiet);
        }
        e.housekeeping();
        assert!(e.peers.contains_key(&1) && e.peers.contains_key(&2));
        assert!(!e.peers.contains_key(&3), "silent past the bound");
        let why = e.shared.ended.lock().why("r3", Instant::now());
        assert_eq!(why, Some(Ending::Silent(IDLE_TIMEOUT.as_secs())));
    }

    /// A peer that never connects goes after its bound and is remembered as such.
    #[test]
    fn a_peer_that_never_connects_goes_with_its_reason() {
        let mut e = shard();
        listener(&mut e, 1);
        e.peers.get_mut(&1).unwrap().opened =
            Instant::now() - LISTENER_CONNECT_TIMEOUT - Duration::from_secs(1);
        e.housekeeping();
        assert!(e.peers.is_empty());
        let why = e.shared.ended.lock().why("r1", Instant::now()).unwrap();
        assert_eq!(
            why,
            Ending::NeverConnected(LISTENER_CONNECT_TIMEOUT.as_secs())
        );
        assert!(why.is_failure());
    }

    #[test]
    fn a_shard_that_fell_behind_skips_stale_audio() {
        let mut e = shard();
        for id in [1, 2] {
            listener(&mut e, id);
        }
        let m = e.io.metrics.clone();
        e.fan_out(&packet(Duration::from_millis(20)));
        assert_eq!(m.stale_dropped.load(Relaxed), 0);
        // Two listeners miss a packet that waited longer than STALE for the shard.
        e.fan_out(&packet(STALE + Duration::from_millis(100)));
        assert_eq!(m.stale_dropped.load(Relaxed), 2);
        assert_eq!(e.listeners[&5].len(), 2, "listeners kept");
    }
}
