//! Assembly's media path: the floor in sound, and nothing else (no HTTP server, no
//! database, no archive).
//!
//! # The invariant
//!
//! **A speaker's packet reaches listeners if and only if the [`Gate`] says its sender holds
//! the floor of its session at the instant the packet is read.** The gate is built from the
//! chain's floor timeline alone ([`assembly_floor`]); every node computes the same one, so
//! every node forwards the same audio with no chair and no coordinator. Everything after the
//! gate is per-listener transport: restamping onto one continuous timeline, SRTP, pacing.
//!
//! # The run loop
//!
//! Every peer lives on one UDP port (ICE-lite: the node answers connectivity checks and
//! never makes its own, so one open port is all a firewall needs). The peers are spread over
//! shards of one thread each; str0m is sans-IO, so a shard owns its peers and drives their
//! clocks. Each shard loops:
//!
//! 1. take the commands waiting (a new peer, a peer leaving, a datagram or a program packet
//!    another shard handed over), at most a batch at a time;
//! 2. on shard 0 (the [`front`]) only: read what the port holds and hand each datagram to the
//!    shard owning its peer ([`routes`]);
//! 3. fire the peers' timers;
//! 4. after every input to a peer, drain it until str0m returns a timeout (str0m's own
//!    contract): transmit, and collect the media a publisher sent;
//! 5. on the front, judge each collected packet at the [`gate`]; what is heard goes to the
//!    [`ProgramSink`]s, is restamped ([`restamp`]) and goes to every shard, and each shard
//!    writes it to its own listeners ([`engine`]).
//!
//! # Modules
//!
//! - [`gate`] — the only place a publisher or a packet is judged.
//! - [`attest`] — whether a heard packet is provably its speaker's (speaker-signed audio).
//! - [`command`] — what shards tell each other.
//! - [`engine`] — a shard: its peers, timers, the drain, the fan-out to listeners.
//! - [`front`] — shard 0's reading, judging, restamping and handing out.
//! - [`routes`] — which peer a datagram is for.
//! - [`ended`] — why a media session ended, for the client that asks after it.
//! - [`load`] — the engine's peer counts, and which shard a new listener goes to.
//! - [`restamp`] — one continuous RTP timeline across speakers.
//! - [`sdp`] — offer checks.
//! - [`stun`] — STUN parsing, and the node's public address behind NAT.
//! - [`arrival`] — when a datagram reached a socket (the kernel's stamp), to date packets.
//! - [`opus`] — what the node knows of Opus.
//! - [`sink`] — the trait the recorder, HLS and the push implement.
//! - [`push`] — WHIP push of a session's program to another server.
//! - [`client`] — a WHIP/WHEP client (the push's, the load generator's and the tests').
//! - [`stamp`] — frames that carry their send time, to measure the path.
//! - [`metrics`] — what the path counts.
//!
//! The HTTP side authenticates, asks the gate, checks the offer with [`sdp::check`], and
//! hands an answered peer to the engine through [`Media::open`].

pub mod arrival;
pub mod attest;
pub mod client;
pub mod command;
pub mod ended;
pub mod engine;
pub mod front;
pub mod gate;
pub mod load;
pub mod metrics;
pub mod opus;
pub mod push;
pub mod restamp;
pub mod routes;
pub mod sdp;
pub mod sink;
pub mod stamp;
pub mod stun;

pub use gate::{Gate, Plan, Refusal, SignedAudio, Standing};
pub use metrics::MediaMetrics;
pub use sink::{ProgramSink, Sinks, Spoken};

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use alloy_primitives::Address;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use str0m::crypto::dtls::DtlsCert;
use str0m::{Candidate, Rtc};
use tokio::sync::{mpsc, watch};

pub use command::PeerRole;
use command::{Command, NewPeer};
use engine::{Engine, Shared};
use load::Load;

/// A STUN or TURN server clients may use (sent to them as `Link: rel="ice-server"`), and
/// that the node itself asks for its public address (STUN ones).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    /// `stun:` or `turn:` URLs.
    pub urls: Vec<String>,
    /// The TURN username, if any.
    pub username: Option<String>,
    /// The TURN credential, if any.
    pub credential: Option<String>,
}

/// The media path's settings (the node's `[media]` table).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// The one UDP port every peer uses.
    pub bind: SocketAddr,
    /// Addresses to offer as host candidates (defaults to the bound or outbound address).
    pub public_ips: Vec<IpAddr>,
    /// STUN/TURN servers offered to clients (STUN ones also asked for the node's address).
    pub ice_servers: Vec<IceServer>,
    /// Listeners the node holds at most; more get 503.
    pub max_listeners: u64,
    /// Publishers the node holds at most; more get 503.
    pub max_publishers: u64,
    /// New WHEP (listener) sessions per second the node answers (bursts of twice that).
    pub offers_per_second: f64,
    /// New WHIP (speaker) sessions per second, a budget of their own: only a speaker the gate
    /// admits draws on it, so no flood of listeners can keep the floor holder out.
    pub publish_offers_per_second: f64,
    /// Listeners one network address may hold.
    pub max_listeners_per_address: usize,
    /// Whether WHEP is open to listeners without a wallet.
    pub public_listening: bool,
    /// Engine shards (threads) listeners are spread over; 0 means one per core.
    #[serde(deserialize_with = "deserialize_threads")]
    pub threads: usize,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8701".parse().expect("literal address"),
            public_ips: vec![],
            ice_servers: vec![],
            max_listeners: 5_000,
            max_publishers: 64,
            offers_per_second: 200.0,
            publish_offers_per_second: 20.0,
            max_listeners_per_address: 20,
            public_listening: true,
            threads: default_threads(),
        }
    }
}

fn deserialize_threads<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    usize::deserialize(d).map(threads_or_cores)
}

/// `n` engine shards, or one per core for 0: how every setting of `threads` is read.
pub fn threads_or_cores(n: usize) -> usize {
    if n == 0 {
        default_threads()
    } else {
        n
    }
}

/// One engine shard per core the node may use, at least one.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Media failures. The client's fault ([`MediaError::is_client_error`]) or the node's;
/// the HTTP side maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The offer is not one the node takes.
    #[error(transparent)]
    Sdp(#[from] sdp::SdpError),
    /// The gate turned the publisher away.
    #[error("{0}")]
    Refused(#[from] gate::Refusal),
    /// The node holds as many peers of this kind as it may.
    #[error("the node is at its limit of {0}; try again later")]
    Full(&'static str),
    /// This address holds as many listeners as one address may.
    #[error("this address holds {0} listeners, the most one address may; close one first")]
    TooManyFromAddress(usize),
    /// Too many new sessions this second.
    #[error("too many new connections; try again shortly")]
    Busy,
    /// No such resource.
    #[error("no such media session")]
    NotFound,
    /// The resource has ended, for this reason.
    #[error("this media session has ended: {0}")]
    Ended(ended::Ending),
    /// The resource is someone else's.
    #[error("this media session belongs to someone else")]
    NotYours,
    /// A well-formed offer str0m could not answer.
    #[error("offer refused: {0}")]
    Negotiation(String),
    /// The engine has stopped (the node is shutting down).
    #[error("media engine stopped")]
    Stopped,
    /// The node could not set a peer up: no DTLS certificate, no randomness, a bad host
    /// candidate. The node's fault, never the client's.
    #[error("media set-up: {0}")]
    Setup(String),
    /// The media socket failed.
    #[error("media socket: {0}")]
    Io(#[from] std::io::Error),
}

impl MediaError {
    /// Whether the client caused it (a 4xx), rather than the node (a 5xx).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Self::Stopped | Self::Setup(_) | Self::Io(_))
    }
}

/// A media session the HTTP side handed out (the WHIP/WHEP resource).
#[derive(Clone, Debug)]
pub struct Resource {
    /// The engine's id of its peer.
    pub peer: u64,
    /// The session it belongs to.
    pub session: u64,
    /// The signed-in address that opened it, if any.
    pub owner: Option<Address>,
    /// The engine shard its peer lives on.
    pub shard: usize,
    /// The network address a listener came from, counted against its per-address bound.
    pub from: Option<IpAddr>,
}

/// `rate` new sessions a second, in bursts of up to twice that (at least one). `None` unless
/// `rate` is a positive number: a bucket that never refills.
fn offer_quota(rate: f64) -> Option<Quota> {
    if !(rate.is_finite() && rate > 0.0) {
        return None;
    }
    let period = Duration::try_from_secs_f64(1.0 / rate).ok()?;
    let burst = NonZeroU32::new((rate * 2.0).floor().clamp(1.0, u32::MAX as f64) as u32)?;
    Some(Quota::with_period(period)?.allow_burst(burst))
}

/// The handle the HTTP side holds.
pub struct Media {
    config: MediaConfig,
    /// Each shard's command channel; shard 0 is the front.
    shards: Vec<mpsc::UnboundedSender<Command>>,
    load: Arc<Load>,
    candidates: Vec<Candidate>,
    cert: DtlsCert,
    resources: Arc<Mutex<HashMap<String, Resource>>>,
    /// Why recently ended resources ended.
    ended: Arc<Mutex<ended::Ended>>,
    gate: watch::Receiver<Gate>,
    /// New listener sessions answered: `offers_per_second`, bursts of twice that. `None` when
    /// the rate is not a positive number, which answers none.
    listen_offers: Option<DefaultDirectRateLimiter>,
    /// New speaker sessions answered: `publish_offers_per_second`, likewise.
    publish_offers: Option<DefaultDirectRateLimiter>,
    next_id: AtomicU64,
    local: SocketAddr,
}

impl Media {
    /// Binds the media port, learns the node's addresses, and starts the engine's shards:
    /// packets are judged by the latest `gate`, and heard ones also go to `sinks`; whether
    /// each is provably its speaker's is checked by `provenance`.
    pub fn start(
        config: MediaConfig,
        metrics: Arc<MediaMetrics>,
        gate: watch::Receiver<Gate>,
        sinks: Sinks,
        provenance: attest::Provenance,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Arc<Self>, MediaError> {
        let socket = bind(config.bind)?;
        let bound = socket.local_addr()?;
        let host_ips = if !config.public_ips.is_empty() {
            config.public_ips.clone()
        } else if !bound.ip().is_unspecified() {
            vec![bound.ip()]
        } else {
            vec![outbound_ip(bound.is_ipv4())]
        };
        let local = SocketAddr::new(host_ips[0], bound.port());
        let mut candidates = Vec::new();
        for ip in &host_ips {
            let c = Candidate::host(SocketAddr::new(*ip, bound.port()), "udp")
                .map_err(|e| MediaError::Setup(format!("host candidate {ip}: {e}")))?;
            candidates.push(c);
        }
        for url in config.ice_servers.iter().flat_map(|s| &s.urls) {
            if !url.starts_with("stun:") {
                continue;
            }
            let found = stun::resolve(url, bound.is_ipv4())
                .and_then(|server| stun::discover(&socket, server, Duration::from_secs(2)));
            match found {
                Ok(mapped) if !host_ips.contains(&mapped.ip()) => {
                    tracing::info!(%mapped, server = %url, "server-reflexive address");
                    if let Ok(c) = Candidate::server_reflexive(mapped, local, "udp") {
                        candidates.push(c);
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(server = %url, error = %e, "no reflexive address"),
            }
        }
        socket.set_nonblocking(true)?;
        let cert = str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
            .ok_or_else(|| MediaError::Setup("no DTLS certificate".into()))?;
        let resources = Arc::new(Mutex::new(HashMap::new()));
        let threads = config.threads.max(1);
        let load = Arc::new(Load::new(threads));
        let ended = Arc::new(Mutex::new(ended::Ended::default()));
        let shared = Shared {
            metrics,
            resources: resources.clone(),
            ended: ended.clone(),
            load: load.clone(),
        };
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..threads).map(|_| mpsc::unbounded_channel()).unzip();
        for (index, rx) in receivers.into_iter().enumerate() {
            // Every shard sends on its own handle of the port; the front also reads it,
            // through another registered with its runtime.
            let sender = socket.try_clone()?;
            let reader = (index == 0).then(|| socket.try_clone()).transpose()?;
            let (shared, senders) = (shared.clone(), senders.clone());
            let (gate, sinks, shutdown) = (gate.clone(), sinks.clone(), shutdown.clone());
            let attest = attest::Attest::new(provenance.clone(), shared.metrics.clone());
            std::thread::Builder::new()
                .name(format!("media-{index}"))
                .spawn(move || {
                    let rt = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            tracing::error!(error = %e, "media runtime");
                            return;
                        }
                    };
                    rt.block_on(async move {
                        let front = match reader.map(tokio::net::UdpSocket::from_std) {
                            Some(Ok(s)) => {
                                let initial = gate.borrow().clone();
                                Some(front::Front::new(
                                    s,
                                    senders.clone(),
                                    initial,
                                    sinks,
                                    attest,
                                ))
                            }
                            Some(Err(e)) => {
                                tracing::error!(error = %e, "media socket");
                                return;
                            }
                            None => None,
                        };
                        Engine::new(index, sender, local, shared, senders[0].clone(), front)
                            .run(rx, gate, shutdown)
                            .await;
                    });
                })?;
        }
        tracing::info!(%bound, candidates = ?candidates.iter().map(|c| c.to_sdp_string()).collect::<Vec<_>>(), "media engine started");
        let listen_offers = offer_quota(config.offers_per_second).map(RateLimiter::direct);
        let publish_offers = offer_quota(config.publish_offers_per_second).map(RateLimiter::direct);
        Ok(Arc::new(Self {
            config,
            shards: senders,
            load,
            candidates,
            cert,
            resources,
            ended,
            gate,
            listen_offers,
            publish_offers,
            next_id: AtomicU64::new(1),
            local: bound,
        }))
    }

    /// The settings it runs with.
    pub fn config(&self) -> &MediaConfig {
        &self.config
    }

    /// The bound media port.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The gate the engine judges by, now.
    pub fn gate(&self) -> Gate {
        self.gate.borrow().clone()
    }

    fn take_token(&self, role: PeerRole) -> Result<(), MediaError> {
        let budget = match role {
            PeerRole::Listener => &self.listen_offers,
            PeerRole::Publisher(_) | PeerRole::Relay(_) => &self.publish_offers,
        };
        match budget {
            Some(limiter) if limiter.check().is_ok() => Ok(()),
            _ => Err(MediaError::Busy),
        }
    }

    /// Answers `offer` for `role` in `session` and hands the peer to the engine. Returns the
    /// resource id and the answer. A listener's `from` address is held to
    /// `max_listeners_per_address`.
    pub fn open(
        &self,
        session: u64,
        role: PeerRole,
        owner: Option<Address>,
        from: Option<IpAddr>,
        offer: sdp::Offer,
    ) -> Result<(String, String), MediaError> {
        match role {
            PeerRole::Listener if self.load.listeners() as u64 >= self.config.max_listeners => {
                return Err(MediaError::Full("listeners"))
            }
            PeerRole::Publisher(_) | PeerRole::Relay(_)
                if self.load.publishers() as u64 >= self.config.max_publishers =>
            {
                return Err(MediaError::Full("publishers"))
            }
            _ => {}
        }
        let from = match role {
            PeerRole::Listener => from,
            PeerRole::Publisher(_) | PeerRole::Relay(_) => None,
        };
        if let Some(ip) = from {
            let held = self.load.held_by(ip);
            if held >= self.config.max_listeners_per_address {
                return Err(MediaError::TooManyFromAddress(held));
            }
        }
        self.take_token(role)?;
        // Only the MID header extension is negotiated. The node forwards one Opus stream and
        // cannot adapt its bitrate, so transport-wide congestion control would only cost:
        // a sequence number and send-time record on every packet to every listener, and
        // feedback packets from every listener to decrypt and apply.
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .set_dtls_cert(self.cert.clone())
            .clear_codecs()
            .enable_opus(true, false)
            .clear_extension_map()
            .set_extension(4, str0m::rtp::Extension::RtpMid)
            .build(Instant::now());
        for c in &self.candidates {
            rtc.add_local_candidate(c.clone());
        }
        let unbundled = offer.unbundled;
        let answer = rtc
            .sdp_api()
            .accept_offer(offer.sdp)
            .map_err(|e| {
                // str0m's words name its internals; the client gets ours.
                tracing::info!(error = %e, "offer not negotiable");
                MediaError::Negotiation(
                    "it does not negotiate: offer Opus over UDP/TLS/RTP/SAVPF with a=rtcp-mux (RFC 8829)"
                        .into(),
                )
            })?;
        let id = self.next_id.fetch_add(1, Relaxed);
        // Publishers live on the front, which judges their packets; listeners go to the
        // lightest shard.
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).map_err(|e| MediaError::Setup(format!("randomness: {e}")))?;
        let resource = alloy_primitives::hex::encode(raw);
        let shard = match role {
            PeerRole::Publisher(_) | PeerRole::Relay(_) => {
                self.load.add_publisher();
                0
            }
            PeerRole::Listener => self.load.place(from),
        };
        let ufrag = rtc.direct_api().local_ice_credentials().ufrag;
        self.resources.lock().insert(
            resource.clone(),
            Resource {
                peer: id,
                session,
                owner,
                shard,
                from,
            },
        );
        // Both reach their shards before the client has the answer, so before its first
        // connectivity check.
        let added = self.shards[shard].send(Command::Add(Box::new(NewPeer {
            id,
            resource: resource.clone(),
            session,
            role,
            from,
            rtc,
        })));
        let routed = self.shards[0].send(Command::Route {
            ufrag,
            peer: id,
            shard,
        });
        if added.is_err() || routed.is_err() {
            match role {
                PeerRole::Listener => self.load.release(shard, from),
                PeerRole::Publisher(_) | PeerRole::Relay(_) => self.load.release_publisher(),
            }
            return Err(MediaError::Stopped);
        }
        Ok((resource, sdp::answer_for(unbundled, answer.to_sdp_string())))
    }

    /// Ends a media session. Publishers' sessions only by their owner; a listener's by
    /// whoever holds its (unguessable) resource URL.
    pub fn close(&self, resource: &str, requester: Option<Address>) -> Result<(), MediaError> {
        let mut map = self.resources.lock();
        let Some(r) = map.get(resource) else {
            let why = self.ended.lock().why(resource, Instant::now());
            return Err(why.map_or(MediaError::NotFound, MediaError::Ended));
        };
        if r.owner.is_some() && r.owner != requester {
            return Err(MediaError::NotYours);
        }
        let (peer, shard) = (r.peer, r.shard);
        map.remove(resource);
        self.shards[shard]
            .send(Command::Remove(peer))
            .map_err(|_| MediaError::Stopped)
    }
}

/// The media socket, with buffers sized for bursts to many listeners.
fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let domain = socket2::Domain::for_address(addr);
    let s = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    // Best effort: the kernel caps these at net.core.{r,w}mem_max.
    let _ = s.set_send_buffer_size(8 << 20);
    let _ = s.set_recv_buffer_size(8 << 20);
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// The address this machine reaches the outside from (no packet is sent).
pub(crate) fn outbound_ip(v4: bool) -> IpAddr {
    let (any, probe) = if v4 {
        ("0.0.0.0:0", "192.0.2.1:9")
    } else {
        ("[::]:0", "[2001:db8::1]:9")
    };
    UdpSocket::bind(any)
        .and_then(|s| s.connect(probe).and_then(|_| s.local_addr()))
        .map(|a| a.ip())
        .unwrap_or(if v4 {
            IpAddr::from([127, 0, 0, 1])
        } else {
            IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn offers_burst_twice_the_rate_then_refill_at_it() {
        let clock = FakeRelativeClock::default();
        let quota = offer_quota(2.0).expect("a positive rate");
        let offers = RateLimiter::direct_with_clock(quota, clock.clone());
        for _ in 0..4 {
            assert!(offers.check().is_ok());
        }
        assert!(offers.check().is_err());
        clock.advance(Duration::from_millis(500));
        assert!(offers.check().is_ok());
        assert!(offers.check().is_err());
    }

    #[test]
    fn no_positive_rate_answers_no_offer() {
        assert!(offer_quota(0.0).is_none());
        assert!(offer_quota(-1.0).is_none());
        assert!(offer_quota(f64::NAN).is_none());
        assert_eq!(offer_quota(0.25).map(|q| q.burst_size().get()), Some(1));
    }
}
