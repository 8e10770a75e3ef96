//! Relaying: this node pushes what its own speakers say to every sibling member, over WHIP
//! (the push every node already has, to each sibling's `/relay`), so that listeners on any
//! member hear a speaker connected to any other. One connection per sibling and session in
//! progress, kept open between speakers so the next one's first words are not lost to a
//! handshake; each connection attempt carries a fresh node token.
//!
//! Only audio heard from this node's own publishers goes out: a packet that arrived as a
//! relay is never relayed again, so nothing goes round the cluster.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use assembly_media::client::{self, Persistent};
use assembly_media::sdp::Intent;
use assembly_media::{Gate, MediaMetrics, ProgramSink, Spoken};
use tokio::sync::{mpsc, watch};

use super::Cluster;

/// How often the siblings are read again from the index.
const REFRESH: Duration = Duration::from_secs(2);

/// How long a link may stay down before the sibling is reported as not answering (a
/// restart takes less).
const DOWN_WARNING: Duration = Duration::from_secs(10);

/// A push to one sibling for one session.
struct Link {
    push: Persistent,
    /// The sibling's URL it was made for.
    url: String,
    /// Since when it has been down (from its start until it first connects), and whether
    /// that was said.
    down_since: Option<(Instant, bool)>,
}

/// The relay's handle: a [`ProgramSink`].
pub struct Relay {
    tx: mpsc::Sender<(u64, Arc<[u8]>)>,
    metrics: Arc<MediaMetrics>,
}

impl Relay {
    /// Starts relaying to the siblings `cluster` names, for the sessions `gate` says are in
    /// progress.
    pub fn start(
        cluster: Arc<Cluster>,
        mut gate: watch::Receiver<Gate>,
        metrics: Arc<MediaMetrics>,
        connected: prometheus::IntCounter,
        links_gauge: prometheus::IntGaugeVec,
        mut shutdown: watch::Receiver<bool>,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<(u64, Arc<[u8]>)>(1024);
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            // By (sibling key, session).
            let mut links: HashMap<(Address, u64), Link> = HashMap::new();
            let mut tick = tokio::time::interval(REFRESH);
            loop {
                tokio::select! {
                    _ = shutdown.changed() => break,
                    _ = tick.tick() => {}
                    changed = gate.changed() => if changed.is_err() { break },
                    got = rx.recv() => {
                        let Some((session, payload)) = got else { break };
                        for ((_, s), link) in &links {
                            if *s == session {
                                if let Some(frames) = &link.push.frames {
                                    let _ = frames.try_send(payload.clone());
                                }
                            }
                        }
                        continue;
                    }
                }
                let live: Vec<u64> = gate.borrow().sessions().collect();
                let siblings = match cluster.siblings().await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the cluster's members");
                        continue;
                    }
                };
                let mut wanted: HashMap<(Address, u64), String> = HashMap::new();
                for sibling in &siblings {
                    for session in &live {
                        wanted.insert((sibling.node.key, *session), sibling.node.url.clone());
                    }
                }
                links.retain(|k, link| {
                    let keep = wanted.get(k) == Some(&link.url);
                    if !keep {
                        link.push.task.abort();
                    }
                    keep
                });
                health(&mut links, &links_gauge);
                for ((key, session), url) in wanted {
                    if links.contains_key(&(key, session)) {
                        continue;
                    }
                    let endpoint = format!(
                        "{}/api/v1/sessions/{session}/relay",
                        url.trim_end_matches('/')
                    );
                    let (minter, audience) = (cluster.clone(), url.clone());
                    let link = client::persistent_minting(
                        http.clone(),
                        endpoint,
                        Arc::new(move || Some(minter.relay_token(&audience, session))),
                        Intent::Publish,
                        Arc::new(|_: &[u8], _| {}),
                    );
                    tracing::info!(session, sibling = %url, "relaying to a sibling");
                    connected.inc();
                    links.insert(
                        (key, session),
                        Link {
                            push: link,
                            url,
                            down_since: Some((Instant::now(), false)),
                        },
                    );
                }
            }
            for link in links.into_values() {
                link.push.task.abort();
            }
        });
        Self { tx, metrics }
    }
}

/// Counts the links up and down, and says when a sibling has not answered for
/// [`DOWN_WARNING`] (its push keeps trying, with backoff) and when it answers again.
fn health(links: &mut HashMap<(Address, u64), Link>, gauge: &prometheus::IntGaugeVec) {
    let (mut up, mut down) = (0, 0);
    for ((_, session), link) in links.iter_mut() {
        if *link.push.up.borrow() {
            up += 1;
            if let Some((_, true)) = link.down_since.take() {
                tracing::info!(session, sibling = %link.url, "a sibling answers again: relaying");
            }
            continue;
        }
        down += 1;
        let (since, said) = link.down_since.get_or_insert((Instant::now(), false));
        if !*said && since.elapsed() >= DOWN_WARNING {
            *said = true;
            tracing::warn!(
                session,
                sibling = %link.url,
                down_s = since.elapsed().as_secs(),
                "a sibling member does not answer: its listeners do not hear this node's speakers (still trying)"
            );
        }
    }
    gauge.with_label_values(&["up"]).set(up);
    gauge.with_label_values(&["down"]).set(down);
}

impl ProgramSink for Relay {
    fn offer(&self, p: &Spoken<'_>) {
        if p.relayed {
            return;
        }
        if self.tx.try_send((p.session, p.payload.clone())).is_err() {
            self.metrics.push_dropped.fetch_add(1, Relaxed);
        }
    }
}
