//! The front of the media engine, on shard 0: it reads the one UDP port and hands each
//! datagram to the shard that owns its peer ([`crate::routes`]), and it holds the
//! publishers, so each of their packets is judged by the [`Gate`], restamped onto its
//! session's timeline and handed to the [`ProgramSink`]s once, before every shard writes it
//! to its listeners.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::media::{Frequency, MediaData, MediaTime};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::attest::Attest;
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
    /// Relayed packets that arrived before this node's view of the chain showed anyone
    /// holding the floor, oldest first (see [`WAIT_MS`]).
    waiting: VecDeque<Waiting>,
    /// Relayed packets let go unheard because too many were waiting (taken by the engine).
    pub(crate) overflowed: u64,
    /// Whether each heard packet is provably its speaker's.
    attest: Attest,
}

/// A relayed packet waiting for this node's view of the chain to catch up with its sender's.
struct Waiting {
    from: u64,
    session: u64,
    role: PeerRole,
    data: Box<MediaData>,
    at_ms: u64,
}

/// Why [`Front::hear`] did not hear a packet.
enum Unheard {
    /// A relayed packet that found nobody holding the floor: it may wait (see [`WAIT_MS`]).
    Early(Box<MediaData>),
    /// Not heard, and never will be.
    Refused,
}

/// How long a relayed packet that found nobody holding the floor waits for this node's
/// view of the chain. A sibling relays only what its own gate heard, so such a packet most
/// often means the sibling's indexer applied the block that began the slot before this
/// one's did (each polls the chain on its own, and a loaded node falls behind); judged
/// again, at the moment it arrived, once the view moves on, it is heard as it was on the
/// origin, and every member records the same speech. Longer than an indexer's poll under
/// load; bounded so that a sibling relaying outside every slot costs only memory for
/// [`WAITING_MAX`] packets.
const WAIT_MS: u64 = 3_000;

/// At most this many relayed packets wait, in all (about three seconds of three sessions).
const WAITING_MAX: usize = 450;

/// How late after a slot's end a relayed packet is still heard as that slot's, when nobody
/// holds the floor at its arrival: its origin judged it inside the slot, and the hop (and
/// the two nodes' clocks) put it a little after.
const RELAY_LATE_MS: u64 = 250;

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
        attest: Attest,
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
            waiting: VecDeque::new(),
            overflowed: 0,
            attest,
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

    /// Judges from now on by `gate`, and judges again, at the moment each arrived, the
    /// relayed packets that were waiting for it: those now heard are returned, in order,
    /// for the caller's own listeners (the other shards have them already).
    pub(crate) fn set_gate(&mut self, gate: Gate, now_ms: u64) -> Vec<Arc<Program>> {
        self.gate = gate;
        let mut heard = Vec::new();
        for w in std::mem::take(&mut self.waiting) {
            if now_ms.saturating_sub(w.at_ms) >= WAIT_MS {
                self.waiting.push_back(w);
                continue;
            }
            match self.hear(w.from, w.session, w.role, *w.data, w.at_ms) {
                Ok(program) => heard.push(program),
                Err(Unheard::Early(data)) => self.waiting.push_back(Waiting { data, ..w }),
                Err(Unheard::Refused) => {}
            }
        }
        heard
    }

    /// Relayed packets waiting for this node's view of the chain (a gauge).
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Lets go of the relayed packets that waited [`WAIT_MS`] and were never heard: their
    /// relay's node sent them while nobody held the floor by this node's view. Returns how
    /// many, by the relay that sent them.
    pub(crate) fn expire(&mut self, now_ms: u64) -> Vec<(PeerRole, u64)> {
        self.attest.expire(now_ms);
        let mut gone: Vec<(PeerRole, u64)> = Vec::new();
        self.waiting.retain(|w| {
            let keep = now_ms.saturating_sub(w.at_ms) < WAIT_MS;
            if !keep {
                match gone.iter_mut().find(|(r, _)| *r == w.role) {
                    Some((_, n)) => *n += 1,
                    None => gone.push((w.role, 1)),
                }
            }
            keep
        });
        gone
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
    ///
    /// A relayed packet that finds nobody holding the floor waits for this node's view of
    /// the chain to move on (see [`WAIT_MS`]), unless it comes just after a slot's end.
    pub(crate) fn judge(
        &mut self,
        from: u64,
        session: u64,
        role: PeerRole,
        data: MediaData,
        now_ms: u64,
    ) -> Option<Arc<Program>> {
        match self.hear(from, session, role, data, now_ms) {
            Ok(program) => Some(program),
            Err(Unheard::Early(data)) => {
                if self.waiting.len() >= WAITING_MAX {
                    self.waiting.pop_front();
                    self.overflowed += 1;
                }
                self.waiting.push_back(Waiting {
                    from,
                    session,
                    role,
                    data,
                    at_ms: now_ms,
                });
                None
            }
            Err(Unheard::Refused) => None,
        }
    }

    /// Whether a packet from `from`, heard as `speaker`'s in `slot`, is forwarded by its
    /// session's policy on signed audio; counted either way.
    fn attested(
        &mut self,
        from: u64,
        role: PeerRole,
        session: u64,
        speaker: alloy_primitives::Address,
        slot: crate::gate::Held,
        data: &MediaData,
    ) -> bool {
        let policy = self.gate.signed_audio(session);
        self.attest
            .check(from, role, session, speaker, slot, &data.data, policy)
    }

    /// [`Front::judge`] without the waiting.
    fn hear(
        &mut self,
        from: u64,
        session: u64,
        role: PeerRole,
        data: MediaData,
        now_ms: u64,
    ) -> Result<Arc<Program>, Unheard> {
        let recent = |t: u64| now_ms.saturating_sub(t) < PRECEDENCE_MS;
        let (speaker, slot, relayed) = match role {
            PeerRole::Publisher(address) => {
                let slot = self
                    .gate
                    .heard(session, address, now_ms)
                    .ok_or(Unheard::Refused)?;
                if !self.attested(from, role, session, address, slot, &data) {
                    return Err(Unheard::Refused);
                }
                self.local.insert(session, (slot.start_ms, now_ms));
                (address, slot, false)
            }
            PeerRole::Relay(_) => {
                let found = self.gate.relayed(session, now_ms).or_else(|| {
                    self.gate
                        .relayed(session, now_ms.saturating_sub(RELAY_LATE_MS))
                        .filter(|(_, held)| held.end_ms <= now_ms)
                });
                let Some((holder, slot)) = found else {
                    return Err(if self.gate.is_live(session) {
                        Unheard::Early(Box::new(data))
                    } else {
                        Unheard::Refused
                    });
                };
                if self
                    .local
                    .get(&session)
                    .is_some_and(|(start, t)| *start == slot.start_ms && recent(*t))
                {
                    return Err(Unheard::Refused);
                }
                // Checked before it may take the program over, so that a relay whose stream
                // is cut leaves the program to another.
                if !self.attested(from, role, session, holder, slot, &data) {
                    return Err(Unheard::Refused);
                }
                match self.relaying.get_mut(&session) {
                    Some(r) if r.peer == from && r.slot_start_ms == slot.start_ms => {
                        r.last_ms = now_ms;
                    }
                    Some(r) if r.slot_start_ms == slot.start_ms && recent(r.last_ms) => {
                        return Err(Unheard::Refused);
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
            PeerRole::Listener => return Err(Unheard::Refused),
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
        Ok(program)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use alloy_primitives::Address;
    use assembly_floor::{Slot, Speakers};
    use str0m::format::{Codec, CodecExtra, CodecSpec, FormatParams, PayloadParams};
    use str0m::media::{Mid, Pt};
    use str0m::rtp::SeqNo;

    use super::*;
    use crate::gate::Plan;
    use crate::sink::ProgramSink;

    const SESSION: u64 = 7;
    const RELAY: PeerRole = PeerRole::Relay(Address::repeat_byte(9));

    /// What the sinks were handed: (speaker, first payload byte, when judged).
    #[derive(Default)]
    struct Heard(Mutex<Vec<(Address, u8, u64)>>);

    impl ProgramSink for Heard {
        fn offer(&self, p: &Spoken<'_>) {
            self.0
                .lock()
                .unwrap()
                .push((p.speaker, p.payload[0], p.at_ms));
        }
    }

    fn gate(slots: &[(u8, u64, u64)]) -> Gate {
        let timeline: Vec<Slot> = slots
            .iter()
            .enumerate()
            .map(|(i, &(who, start, end))| Slot {
                index: i as u32,
                speaker: Address::repeat_byte(who),
                start,
                end,
                withdrawn: false,
            })
            .collect();
        let plan = Plan::new(0, Speakers::Orchestrators, &timeline, |_| true);
        Gate::new(HashMap::from([(SESSION, plan)]))
    }

    async fn front(gate: Gate) -> (Front, Arc<Heard>) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let heard = Arc::new(Heard::default());
        let sinks: Sinks = Arc::new([heard.clone() as Arc<dyn ProgramSink>]);
        let attest = Attest::new(
            crate::attest::Provenance {
                domain: assembly_provenance::domain(31337, Address::repeat_byte(0xA5)),
                wallets: Arc::new(crate::attest::NoContractWallets),
            },
            Arc::new(crate::MediaMetrics::default()),
        );
        (Front::new(socket, Vec::new(), gate, sinks, attest), heard)
    }

    fn frame(n: u8) -> MediaData {
        let pt = Pt::from(111);
        let spec = CodecSpec {
            codec: Codec::Opus,
            clock_rate: Frequency::FORTY_EIGHT_KHZ,
            channels: Some(2),
            format: FormatParams::default(),
        };
        MediaData {
            mid: Mid::new(),
            pt,
            rid: None,
            params: PayloadParams::new(pt, None, spec),
            time: MediaTime::new(960 * u64::from(n), Frequency::FORTY_EIGHT_KHZ),
            network_time: Instant::now(),
            seq_range: SeqNo::default()..=SeqNo::default(),
            contiguous: true,
            data: Arc::from(&[n][..]),
            ext_vals: Default::default(),
            codec_extra: CodecExtra::None,
            last_sender_info: None,
            audio_start_of_talk_spurt: false,
        }
    }

    fn heard(h: &Heard) -> Vec<(u8, u8)> {
        h.0.lock()
            .unwrap()
            .iter()
            .map(|(who, n, _)| (who.0[0], *n))
            .collect()
    }

    #[tokio::test]
    async fn a_relay_ahead_of_this_nodes_view_is_heard_when_the_view_catches_up() {
        // This node does not know of the slot yet; the origin did and relays.
        let (mut f, sinks) = front(gate(&[])).await;
        assert!(f.judge(1, SESSION, RELAY, frame(1), 100_100).is_none());
        assert!(f.judge(1, SESSION, RELAY, frame(2), 100_120).is_none());
        assert_eq!(f.waiting(), 2);
        // The block that began the slot (at 100 s) is applied: both are heard, as the
        // holder's, in order, then the next arrives as usual.
        let programs = f.set_gate(gate(&[(1, 100, 110)]), 100_400);
        assert_eq!(programs.len(), 2);
        assert!(f.judge(1, SESSION, RELAY, frame(3), 100_420).is_some());
        assert_eq!(heard(&sinks), vec![(1, 1), (1, 2), (1, 3)]);
        assert_eq!(f.waiting(), 0);
    }

    #[tokio::test]
    async fn a_relay_outside_every_slot_waits_no_longer_than_its_bound() {
        let (mut f, sinks) = front(gate(&[(1, 100, 110)])).await;
        // Before the slot, by this node's view as the origin's: nobody holds the floor.
        assert!(f.judge(1, SESSION, RELAY, frame(1), 90_000).is_none());
        // A view that still shows nobody holding the floor then keeps it waiting...
        assert!(f.set_gate(gate(&[(1, 100, 110)]), 90_500).is_empty());
        assert_eq!(f.waiting(), 1);
        // ...until it is too old to be heard, whatever the view says.
        assert!(f
            .set_gate(gate(&[(1, 90, 110)]), 90_000 + WAIT_MS)
            .is_empty());
        assert_eq!(f.expire(90_000 + WAIT_MS), vec![(RELAY, 1)]);
        assert_eq!(f.waiting(), 0);
        assert!(heard(&sinks).is_empty());
        // The bound on how many wait.
        for n in 0..(WAITING_MAX + 10) {
            f.judge(1, SESSION, RELAY, frame(n as u8), 80_000);
        }
        assert_eq!(f.waiting(), WAITING_MAX);
        assert_eq!(f.overflowed, 10);
        // A session not in progress here is not waited for.
        let (mut g, _) = front(gate(&[])).await;
        assert!(g.judge(1, SESSION + 1, RELAY, frame(1), 100_000).is_none());
        assert_eq!(g.waiting(), 0);
    }

    #[tokio::test]
    async fn a_relay_just_after_a_slot_ends_is_heard_as_that_slots() {
        let (mut f, sinks) = front(gate(&[(1, 100, 110), (2, 112, 120)])).await;
        assert!(f.judge(1, SESSION, RELAY, frame(1), 110_100).is_some());
        // Later than the hop explains: waits (and is never heard, the next slot being
        // another speaker's later).
        assert!(f
            .judge(1, SESSION, RELAY, frame(2), 110_000 + RELAY_LATE_MS + 1)
            .is_none());
        assert_eq!(heard(&sinks), vec![(1, 1)]);
    }

    #[tokio::test]
    async fn the_holders_own_connection_is_not_kept_waiting() {
        let (mut f, sinks) = front(gate(&[])).await;
        let holder = PeerRole::Publisher(Address::repeat_byte(1));
        assert!(f.judge(2, SESSION, holder, frame(1), 100_100).is_none());
        assert_eq!(f.waiting(), 0, "only relays wait");
        assert!(f.set_gate(gate(&[(1, 100, 110)]), 100_200).is_empty());
        assert!(heard(&sinks).is_empty());
    }
}
