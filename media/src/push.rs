//! WHIP push: the node publishes one session's program — the floor as listeners hear it,
//! silence between speakers — to an external WHIP endpoint (MediaMTX, Livepeer's media
//! server, another Assembly node), for WebRTC fan-out beyond one node. The connection
//! reconnects by itself; the live path hands packets over without waiting.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::client;
use crate::metrics::MediaMetrics;
use crate::opus::SILENCE;
use crate::sdp::Intent;
use crate::sink::{ProgramSink, Spoken};

/// Where the program goes: the node file's `[push]` table.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {
    /// The external server's WHIP endpoint.
    pub endpoint: String,
    /// Its bearer token, if it wants one.
    pub token: Option<String>,
    /// The session pushed; `None` follows the one the node shows first.
    pub session: Option<u64>,
}

/// The push's handle: a [`ProgramSink`].
#[derive(Clone)]
pub struct Push {
    tx: mpsc::Sender<(u64, Arc<[u8]>)>,
    metrics: Arc<MediaMetrics>,
}

impl Push {
    /// Starts pushing; `current` names the session the node shows first.
    pub fn start(
        config: PushConfig,
        current: Arc<dyn Fn() -> Option<u64> + Send + Sync>,
        metrics: Arc<MediaMetrics>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<(u64, Arc<[u8]>)>(512);
        tokio::spawn(async move {
            let peer = client::persistent(
                reqwest::Client::new(),
                config.endpoint.clone(),
                config.token.clone(),
                Intent::Publish,
                Arc::new(|_: &[u8], _| {}),
            );
            let Some(frames) = peer.frames.clone() else {
                return;
            };
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut last_real = Instant::now() - Duration::from_secs(1);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.changed() => break,
                }
                let target = config.session.or_else(|| current());
                let mut sent = false;
                while let Ok((session, packet)) = rx.try_recv() {
                    if Some(session) == target {
                        let _ = frames.try_send(packet);
                        sent = true;
                    }
                }
                if sent {
                    last_real = Instant::now();
                } else if last_real.elapsed() > Duration::from_millis(60) {
                    // Silence keeps the remote jitter buffer's clock with ours between speakers.
                    let _ = frames.try_send(Arc::from(&SILENCE[..]));
                }
            }
            peer.task.abort();
        });
        Self { tx, metrics }
    }
}

impl ProgramSink for Push {
    fn offer(&self, p: &Spoken<'_>) {
        if self.tx.try_send((p.session, p.payload.clone())).is_err() {
            self.metrics.push_dropped.fetch_add(1, Relaxed);
        }
    }
}
