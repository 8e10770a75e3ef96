//! The floor in sound. Speakers publish Opus over WHIP, listeners subscribe over WHEP, and
//! every peer lives on one UDP port (ICE-lite: the node answers connectivity checks and
//! never makes its own, so one open port is all a firewall needs).
//!
//! - [`plan`] — which address may be heard when, from the chain's timeline.
//! - [`sdp`] — offer checks.
//! - [`engine`] — the peers, in shards of one thread each, and the fan-out to listeners.
//! - [`load`] — which shard a new listener goes to.
//! - [`router`] — shard 0's front: the port's datagrams to their shards, the floor's gate.
//! - [`restamp`] — one continuous RTP timeline across speakers.
//! - [`stun`] — the node's public address, when it is behind NAT.
//! - [`arrival`] — when a datagram reached a client's socket (the load generator's clock).
//! - [`client`] — a WHIP/WHEP client (the load generator's and the tests' peer).
//! - [`push`] — WHIP push of a session's program to an external media server.
//!
//! The HTTP side (`crate::whip`) authenticates, asks the plan, checks the offer, and hands
//! an answered peer to the engine through [`Media::open`].

pub mod arrival;
pub mod client;
pub mod engine;
pub mod load;
pub mod plan;
pub mod push;
pub mod restamp;
pub mod router;
pub mod sdp;
pub mod stun;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use serde::Deserialize;
use str0m::change::SdpOffer;
use str0m::crypto::dtls::DtlsCert;
use str0m::{Candidate, Rtc};
use tokio::sync::{mpsc, watch};

use crate::metrics::Metrics;
use engine::{Command, Engine, NewPeer, PeerRole, Shared};
use load::Load;
use plan::Plans;

/// A STUN or TURN server clients may use (sent to them as `Link: rel="ice-server"`), and
/// that the node itself asks for its public address (STUN ones).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: Option<String>,
    pub credential: Option<String>,
}

/// The media path's settings.
#[derive(Clone, Debug)]
pub struct MediaConfig {
    /// The one UDP port every peer uses.
    pub bind: SocketAddr,
    /// Addresses to offer as host candidates (defaults to the bound or outbound address).
    pub public_ips: Vec<IpAddr>,
    pub ice_servers: Vec<IceServer>,
    pub max_listeners: u64,
    pub max_publishers: u64,
    /// New WHIP/WHEP sessions per second the node answers (bursts of twice that).
    pub offers_per_second: f64,
    /// Whether WHEP is open to listeners without a wallet.
    pub public_listening: bool,
    /// Engine shards (threads) listeners are spread over.
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
            public_listening: true,
            threads: default_threads(),
        }
    }
}

/// One engine shard per core the node may use, at least one.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Media failures, each mapped to a status by the HTTP side.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error(transparent)]
    Sdp(#[from] sdp::SdpError),
    #[error("{0}")]
    Refused(#[from] plan::Refusal),
    #[error("the node is at its limit of {0}; try again later")]
    Full(&'static str),
    #[error("too many new connections; try again shortly")]
    Busy,
    #[error("no such media session")]
    NotFound,
    #[error("this media session belongs to someone else")]
    NotYours,
    #[error("offer refused: {0}")]
    Negotiation(String),
    #[error("media engine stopped")]
    Stopped,
    #[error("media socket: {0}")]
    Io(#[from] std::io::Error),
}

/// A media session the HTTP side handed out (the WHIP/WHEP resource).
#[derive(Clone, Debug)]
pub struct Resource {
    pub peer: u64,
    pub session: u64,
    /// The signed-in address that opened it, if any.
    pub owner: Option<Address>,
    /// The engine shard its peer lives on.
    pub shard: usize,
}

/// A token bucket for new sessions.
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The handle the HTTP side holds.
pub struct Media {
    config: MediaConfig,
    /// Each shard's command channel; shard 0 is the front.
    shards: Vec<mpsc::UnboundedSender<Command>>,
    load: Arc<Load>,
    candidates: Vec<Candidate>,
    cert: DtlsCert,
    metrics: Arc<Metrics>,
    resources: Arc<Mutex<HashMap<String, Resource>>>,
    plans: watch::Receiver<Plans>,
    bucket: Mutex<Bucket>,
    next_id: AtomicU64,
    local: SocketAddr,
}

impl Media {
    /// Binds the media port, learns the node's addresses, and starts the engine's shards.
    pub fn start(
        config: MediaConfig,
        metrics: Arc<Metrics>,
        plans: watch::Receiver<Plans>,
        taps: router::Taps,
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
                .map_err(|e| MediaError::Negotiation(e.to_string()))?;
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
            .ok_or_else(|| MediaError::Negotiation("no DTLS certificate".into()))?;
        let resources = Arc::new(Mutex::new(HashMap::new()));
        let threads = config.threads.max(1);
        let load = Arc::new(Load::new(threads));
        let shared = Shared {
            metrics: metrics.clone(),
            resources: resources.clone(),
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
            let (plans, taps, shutdown) = (plans.clone(), taps.clone(), shutdown.clone());
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
                                let initial = plans.borrow().clone();
                                Some(router::Front::new(s, senders.clone(), initial, taps))
                            }
                            Some(Err(e)) => {
                                tracing::error!(error = %e, "media socket");
                                return;
                            }
                            None => None,
                        };
                        Engine::new(index, sender, local, shared, senders[0].clone(), front)
                            .run(rx, plans, shutdown)
                            .await;
                    });
                })?;
        }
        tracing::info!(%bound, candidates = ?candidates.iter().map(|c| c.to_sdp_string()).collect::<Vec<_>>(), "media engine started");
        let rate = config.offers_per_second;
        Ok(Arc::new(Self {
            config,
            shards: senders,
            load,
            candidates,
            cert,
            metrics,
            resources,
            plans,
            bucket: Mutex::new(Bucket {
                tokens: rate * 2.0,
                at: Instant::now(),
            }),
            next_id: AtomicU64::new(1),
            local: bound,
        }))
    }

    pub fn config(&self) -> &MediaConfig {
        &self.config
    }

    /// The bound media port.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The floor plans the engine gates by.
    pub fn plans(&self) -> Plans {
        self.plans.borrow().clone()
    }

    fn take_token(&self) -> Result<(), MediaError> {
        let mut b = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let rate = self.config.offers_per_second;
        let now = Instant::now();
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(rate * 2.0);
        b.at = now;
        if b.tokens < 1.0 {
            return Err(MediaError::Busy);
        }
        b.tokens -= 1.0;
        Ok(())
    }

    /// Answers `offer` for `role` in `session` and hands the peer to the engine. Returns the
    /// resource id and the answer.
    pub fn open(
        &self,
        session: u64,
        role: PeerRole,
        owner: Option<Address>,
        offer: SdpOffer,
    ) -> Result<(String, String), MediaError> {
        match role {
            PeerRole::Listener
                if self.metrics.media_listeners.load(Relaxed) as u64
                    >= self.config.max_listeners =>
            {
                return Err(MediaError::Full("listeners"))
            }
            PeerRole::Publisher(_)
                if self.metrics.media_publishers.load(Relaxed) as u64
                    >= self.config.max_publishers =>
            {
                return Err(MediaError::Full("publishers"))
            }
            _ => {}
        }
        self.take_token()?;
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
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| MediaError::Negotiation(e.to_string()))?;
        let id = self.next_id.fetch_add(1, Relaxed);
        // Publishers live on the front, which judges their packets; listeners go to the
        // lightest shard.
        let shard = match role {
            PeerRole::Publisher(_) => 0,
            PeerRole::Listener => self.load.place(),
        };
        let ufrag = rtc.direct_api().local_ice_credentials().ufrag;
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).map_err(|e| MediaError::Negotiation(e.to_string()))?;
        let resource = alloy::hex::encode(raw);
        self.resources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                resource.clone(),
                Resource {
                    peer: id,
                    session,
                    owner,
                    shard,
                },
            );
        // Both reach their shards before the client has the answer, so before its first
        // connectivity check.
        let added = self.shards[shard].send(Command::Add(Box::new(NewPeer {
            id,
            resource: resource.clone(),
            session,
            role,
            rtc,
        })));
        let routed = self.shards[0].send(Command::Route {
            ufrag,
            peer: id,
            shard,
        });
        if added.is_err() || routed.is_err() {
            if role == PeerRole::Listener {
                self.load.release(shard);
            }
            return Err(MediaError::Stopped);
        }
        Ok((resource, answer.to_sdp_string()))
    }

    /// Ends a media session. Publishers' sessions only by their owner; a listener's by
    /// whoever holds its (unguessable) resource URL.
    pub fn close(&self, resource: &str, requester: Option<Address>) -> Result<(), MediaError> {
        let mut map = self.resources.lock().unwrap_or_else(|p| p.into_inner());
        let r = map.get(resource).ok_or(MediaError::NotFound)?;
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

/// The payload type the peer negotiated for Opus on `mid`.
pub(crate) fn opus_pt(rtc: &mut Rtc, mid: str0m::media::Mid) -> Option<str0m::media::Pt> {
    rtc.writer(mid).and_then(|w| {
        w.payload_params()
            .find(|p| p.spec().codec == str0m::format::Codec::Opus)
            .map(|p| p.pt())
    })
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
