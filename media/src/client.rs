//! A WHIP/WHEP client on str0m: what the load generator and the end-to-end tests connect
//! with. One task and one UDP socket per peer, the same sans-IO loop as the engine, as an
//! offerer with full ICE (the node is ICE-lite).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use str0m::change::SdpAnswer;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::sdp::Intent;

/// Called with each audio payload a listener receives and when it reached the socket (see
/// [`crate::arrival`]).
pub type OnMedia = Box<dyn FnMut(&[u8], Instant) + Send>;
/// The same, shared across the connections of a [`Persistent`] peer.
pub type SharedOnMedia = Arc<dyn Fn(&[u8], Instant) + Send + Sync>;

/// Why a WHIP/WHEP connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The HTTP exchange failed.
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    /// The server refused the offer.
    #[error("refused with {status}: {body}")]
    Refused {
        /// Its status.
        status: u16,
        /// Its body.
        body: String,
    },
    /// The answer was not usable.
    #[error("answer: {0}")]
    Answer(String),
    /// The socket failed.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
}

/// What every client in this process has sent: a node's own outbound WebRTC (its relays to
/// sibling members, its WHIP push), which its engine's counters do not see.
#[derive(Debug, Default)]
pub struct Sent {
    /// UDP datagrams (DTLS, SRTP, SRTCP, STUN).
    pub datagrams: AtomicU64,
    /// Their UDP payload bytes (add 28 per datagram for IPv4 and UDP headers).
    pub bytes: AtomicU64,
}

/// The process's [`Sent`].
pub static SENT: Sent = Sent {
    datagrams: AtomicU64::new(0),
    bytes: AtomicU64::new(0),
};

/// A connected (or connecting) peer.
pub struct Peer {
    /// The resource URL (absolute) to `DELETE`.
    pub resource: String,
    /// Whether ICE and DTLS are up; goes false again when the connection is lost.
    pub connected: watch::Receiver<bool>,
    /// For publishers: Opus frames to send, one per 20 ms.
    pub frames: Option<mpsc::Sender<Arc<[u8]>>>,
    /// Ends when the connection is closed or lost.
    pub task: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl Peer {
    /// Stops the peer and `DELETE`s its resource.
    pub async fn close(self, http: &reqwest::Client, token: Option<&str>) {
        let _ = self.stop.send(true);
        let mut req = http.delete(&self.resource);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let _ = req.send().await;
        let _ = self.task.await;
    }

    /// Waits until connected, or `false` after `within`.
    pub async fn wait_connected(&mut self, within: std::time::Duration) -> bool {
        tokio::time::timeout(within, self.connected.wait_for(|c| *c))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// Offers to `endpoint` (a WHIP or WHEP URL) and starts the peer.
pub async fn connect(
    http: &reqwest::Client,
    endpoint: &str,
    token: Option<&str>,
    intent: Intent,
    on_media: Option<OnMedia>,
) -> Result<Peer, ClientError> {
    // Loopback for a local node (tests, the load generator); otherwise the address this
    // machine reaches the outside from.
    let host = endpoint
        .split("://")
        .nth(1)
        .unwrap_or(endpoint)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let ip = if loopback {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        crate::outbound_ip(true)
    };
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
    crate::arrival::enable(&socket);
    let local = socket.local_addr()?;
    let mut config = Rtc::builder().clear_codecs().enable_opus(true, false);
    // Notice a vanished node within a few seconds, so reconnecting starts soon.
    config.set_initial_stun_rto(std::time::Duration::from_millis(250));
    config.set_max_stun_rto(std::time::Duration::from_secs(1));
    config.set_max_stun_retransmits(4);
    let mut rtc = config.build(Instant::now());
    if let Ok(c) = Candidate::host(local, "udp") {
        rtc.add_local_candidate(c);
    }
    let mut change = rtc.sdp_api();
    let direction = match intent {
        Intent::Publish => Direction::SendOnly,
        Intent::Subscribe => Direction::RecvOnly,
    };
    let mid = change.add_media(MediaKind::Audio, direction, None, None, None);
    let Some((offer, pending)) = change.apply() else {
        return Err(ClientError::Answer("nothing to offer".into()));
    };
    let mut req = http
        .post(endpoint)
        .header("content-type", "application/sdp")
        .body(offer.to_sdp_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await?;
    // After a redirect (RFC 9725 §4.5: a full node sends the client to a sibling) the
    // resource is the sibling's: resolved against where the answer came from.
    let answered_at = resp.url().to_string();
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.text().await?;
    if status != 201 {
        return Err(ClientError::Refused { status, body });
    }
    let answer =
        SdpAnswer::from_sdp_string(&body).map_err(|e| ClientError::Answer(e.to_string()))?;
    rtc.sdp_api()
        .accept_answer(pending, answer)
        .map_err(|e| ClientError::Answer(e.to_string()))?;
    let resource = resolve(&answered_at, location.as_deref().unwrap_or_default());
    let (stop, stopped) = watch::channel(false);
    let (connected_tx, connected) = watch::channel(false);
    let (frames, frames_rx) = match intent {
        Intent::Publish => {
            let (tx, rx) = mpsc::channel(64);
            (Some(tx), Some(rx))
        }
        Intent::Subscribe => (None, None),
    };
    let task = tokio::spawn(run(
        rtc,
        socket,
        local,
        mid,
        frames_rx,
        on_media,
        connected_tx,
        stopped,
    ));
    Ok(Peer {
        resource,
        connected,
        frames,
        task,
        stop,
    })
}

/// Signs every frame sent through the returned channel with `signer` (see
/// [`assembly_provenance::carrier`]: the certificate and batches ride in the frames' Opus
/// padding) and hands it on to `frames`, a publisher's channel. A frame that is not Opus
/// goes on unsigned: the node counts it so. When the channel closes, the last frames' batch
/// goes on a frame of silence.
pub fn signed(
    frames: mpsc::Sender<Arc<[u8]>>,
    signer: assembly_provenance::carrier::Signer,
) -> mpsc::Sender<Arc<[u8]>> {
    signed_across(frames, signer, None)
}

/// As [`signed`], for a [`Persistent`] publisher: each new connection it makes
/// (`connects`, its [`Persistent::connects`]) gets the certificate on its first frame.
pub fn signed_across(
    frames: mpsc::Sender<Arc<[u8]>>,
    mut signer: assembly_provenance::carrier::Signer,
    mut connects: Option<watch::Receiver<u32>>,
) -> mpsc::Sender<Arc<[u8]>> {
    let (tx, mut rx) = mpsc::channel::<Arc<[u8]>>(64);
    tokio::spawn(async move {
        loop {
            let reconnected = async {
                match connects.as_mut() {
                    Some(c) => c.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                f = rx.recv() => {
                    let Some(f) = f else { break };
                    let out = match signer.sign(&f, assembly_floor::clock::now_ms()) {
                        Ok(p) => p.into(),
                        Err(_) => f,
                    };
                    if frames.send(out).await.is_err() {
                        return;
                    }
                }
                ok = reconnected => {
                    if ok {
                        signer.restate();
                    } else {
                        connects = None;
                    }
                }
            }
        }
        // The speaker stopped: its last frames' batch goes on a frame of silence.
        if let Some(last) = signer.flush(assembly_floor::clock::now_ms()) {
            let _ = frames.send(last.into()).await;
        }
    });
    tx
}

/// A peer that reconnects by itself: when the connection is lost (the node restarted, the
/// network moved), it offers again with backoff, and keeps taking frames meanwhile.
pub struct Persistent {
    /// For publishers: frames to send; dropped while disconnected.
    pub frames: Option<mpsc::Sender<Arc<[u8]>>>,
    /// How many times it has connected.
    pub connects: watch::Receiver<u32>,
    /// Whether it is connected now.
    pub up: watch::Receiver<bool>,
    /// Runs until aborted.
    pub task: tokio::task::JoinHandle<()>,
}

/// Keeps a peer connected to `endpoint` until the returned handle's task is aborted.
pub fn persistent(
    http: reqwest::Client,
    endpoint: String,
    token: Option<String>,
    intent: Intent,
    on_media: SharedOnMedia,
) -> Persistent {
    persistent_minting(
        http,
        endpoint,
        Arc::new(move || token.clone()),
        intent,
        on_media,
    )
}

/// Makes the bearer token for each connection attempt (a node token is good once).
pub type TokenSource = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// As [`persistent`], with a new token from `token` for every connection attempt.
pub fn persistent_minting(
    http: reqwest::Client,
    endpoint: String,
    token: TokenSource,
    intent: Intent,
    on_media: SharedOnMedia,
) -> Persistent {
    persistent_across(http, vec![endpoint], token, intent, on_media)
}

/// As [`persistent_minting`], over several equivalent endpoints (the same session on the
/// members of a cluster): it stays on one while it holds, and moves to the next when a
/// connection is lost or refused, so a speaker whose node dies carries on at another.
pub fn persistent_across(
    http: reqwest::Client,
    endpoints: Vec<String>,
    token: TokenSource,
    intent: Intent,
    on_media: SharedOnMedia,
) -> Persistent {
    let (connects_tx, connects) = watch::channel(0u32);
    let (up_tx, up) = watch::channel(false);
    let (frames, mut frames_rx) = match intent {
        Intent::Publish => {
            let (tx, rx) = mpsc::channel::<Arc<[u8]>>(64);
            (Some(tx), Some(rx))
        }
        Intent::Subscribe => (None, None),
    };
    let task = tokio::spawn(async move {
        let mut backoff = std::time::Duration::from_millis(250);
        let mut at = 0usize;
        loop {
            let Some(endpoint) = endpoints.get(at % endpoints.len().max(1)) else {
                return;
            };
            let f = on_media.clone();
            let bearer = token();
            let peer = connect(
                &http,
                endpoint,
                bearer.as_deref(),
                intent,
                Some(Box::new(move |d: &[u8], t: Instant| f(d, t))),
            )
            .await;
            let mut peer = match peer {
                Ok(p) => p,
                Err(e) => {
                    tracing::debug!(endpoint, error = %e, "reconnect failed");
                    at += 1;
                    // Every endpoint tried once: wait before the next round.
                    if at % endpoints.len() == 0 {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(std::time::Duration::from_secs(2));
                    }
                    continue;
                }
            };
            if !peer
                .wait_connected(std::time::Duration::from_secs(10))
                .await
            {
                peer.task.abort();
                at += 1;
                continue;
            }
            backoff = std::time::Duration::from_millis(250);
            connects_tx.send_modify(|n| *n += 1);
            up_tx.send_replace(true);
            let inner = peer.frames.clone();
            let mut lost = peer.connected.clone();
            loop {
                let frame = async {
                    match frames_rx.as_mut() {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    f = frame => match (f, &inner) {
                        (Some(f), Some(tx)) => { let _ = tx.try_send(f); }
                        (None, _) => return,
                        _ => {}
                    },
                    r = lost.wait_for(|c| !*c) => { let _ = r; break; }
                }
            }
            peer.task.abort();
            up_tx.send_replace(false);
            // Lost: the next endpoint first (the node may be gone); this one again in turn.
            at += 1;
        }
    });
    Persistent {
        frames,
        connects,
        up,
        task,
    }
}

/// An absolute URL for `location` (which the node sends as a path).
fn resolve(endpoint: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let origin_end = endpoint
        .find("://")
        .and_then(|i| endpoint[i + 3..].find('/').map(|j| i + 3 + j))
        .unwrap_or(endpoint.len());
    format!("{}{}", &endpoint[..origin_end], location)
}

#[allow(clippy::too_many_arguments)]
async fn run(
    mut rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    mid: Mid,
    mut frames: Option<mpsc::Receiver<Arc<[u8]>>>,
    mut on_media: Option<OnMedia>,
    connected: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 2048];
    let mut pt: Option<Pt> = None;
    let mut rtp_time: u64 = 0;
    loop {
        // Drain until the engine asks to be woken at a deadline.
        let deadline = loop {
            if !rtc.is_alive() {
                let _ = connected.send(false);
                return;
            }
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    if let Ok(n) = socket.try_send_to(&t.contents, t.destination) {
                        SENT.datagrams.fetch_add(1, Relaxed);
                        SENT.bytes.fetch_add(n as u64, Relaxed);
                    }
                }
                Ok(Output::Event(e)) => match e {
                    Event::Connected => {
                        pt = crate::opus::opus_pt(&mut rtc, mid);
                        let _ = connected.send(true);
                    }
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        rtc.disconnect();
                    }
                    Event::MediaData(d) => {
                        if let Some(f) = on_media.as_mut() {
                            f(&d.data, d.network_time);
                        }
                    }
                    _ => {}
                },
                Err(_) => {
                    rtc.disconnect();
                }
            }
        };
        let frame = async {
            match frames.as_mut() {
                Some(f) => f.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = crate::arrival::recv(&socket, &mut buf) => {
                let Ok((n, source, at)) = r else { continue };
                let Ok(contents) = buf[..n].try_into() else { continue };
                let input = Input::Receive(at, Receive {
                    proto: Protocol::Udp,
                    source,
                    destination: local,
                    contents,
                });
                if rtc.handle_input(input).is_err() {
                    rtc.disconnect();
                }
            }
            f = frame => {
                match (f, pt) {
                    (Some(data), Some(pt)) => {
                        if let Some(w) = rtc.writer(mid) {
                            let t = MediaTime::new(rtp_time, Frequency::FORTY_EIGHT_KHZ);
                            let _ = w.write(pt, Instant::now(), t, data);
                        }
                        rtp_time += 960;
                    }
                    (Some(_), None) => {}
                    (None, _) => frames = None,
                }
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                if rtc.handle_input(Input::Timeout(Instant::now())).is_err() {
                    rtc.disconnect();
                }
            }
            _ = stop.changed() => {
                rtc.disconnect();
                let _ = connected.send(false);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn resolves_locations() {
        assert_eq!(
            super::resolve("http://h:1/api/v1/sessions/1/whip", "/api/v1/media/ab"),
            "http://h:1/api/v1/media/ab"
        );
        assert_eq!(super::resolve("http://h:1/x", "https://o/y"), "https://o/y");
    }
}
