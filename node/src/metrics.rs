//! Prometheus metrics, exposed at `/metrics` in the text format. A handful of counters and
//! gauges kept as atomics: the node needs no metrics framework to say what it does.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use assembly_archive::ArchiveMetrics;
use assembly_media::MediaMetrics;

/// The node's metrics.
#[derive(Default)]
pub struct Metrics {
    /// Sign-ins whose message and signature were accepted.
    pub sign_ins_ok: AtomicU64,
    /// Sign-ins refused, for any reason the sign-in check gives.
    pub sign_ins_refused: AtomicU64,
    /// Open live connections of orchestrators (a gauge).
    pub ws_orchestrators: AtomicI64,
    /// Open live connections of delegators (a gauge).
    pub ws_delegators: AtomicI64,
    /// Open live connections of observers: anonymous, or with neither role (a gauge).
    pub ws_observers: AtomicI64,
    /// Client frames on the live socket that did not decode.
    pub ws_bad_messages: AtomicU64,
    /// Reactions accepted into a burst.
    pub reactions_accepted: AtomicU64,
    /// Reactions refused because the sender exceeded its rate.
    pub reactions_rate_limited: AtomicU64,
    /// Reactions refused for any other reason: unknown reaction, not signed in, no role.
    pub reactions_refused: AtomicU64,
    /// Live-state messages broadcast (sent only when the state changed).
    pub state_broadcasts: AtomicU64,
    /// Reaction bursts broadcast.
    pub reaction_bursts: AtomicU64,
    /// The highest block the embedded indexer has applied (a gauge).
    pub indexer_head: AtomicU64,
    /// The media path's own counters.
    pub media: Arc<MediaMetrics>,
    /// WHIP and WHEP offers answered.
    pub media_offers_ok: AtomicU64,
    /// WHIP and WHEP offers refused (not allowed, over capacity, malformed).
    pub media_offers_refused: AtomicU64,
    /// The archive's own counters.
    pub archive: Arc<ArchiveMetrics>,
}

impl Metrics {
    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, i64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in samples {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        let g = |a: &AtomicU64| a.load(Relaxed) as i64;
        let m = &*self.media;
        let a = &*self.archive;
        family(
            "assembly_sign_ins_total",
            "counter",
            "Sign-in attempts by result.",
            &[
                ("{result=\"ok\"}", g(&self.sign_ins_ok)),
                ("{result=\"refused\"}", g(&self.sign_ins_refused)),
            ],
        );
        family(
            "assembly_live_connections",
            "gauge",
            "Open live-state WebSockets by role.",
            &[
                (
                    "{role=\"orchestrator\"}",
                    self.ws_orchestrators.load(Relaxed),
                ),
                ("{role=\"delegator\"}", self.ws_delegators.load(Relaxed)),
                ("{role=\"observer\"}", self.ws_observers.load(Relaxed)),
            ],
        );
        family(
            "assembly_ws_bad_messages_total",
            "counter",
            "WebSocket messages refused as malformed.",
            &[("", g(&self.ws_bad_messages))],
        );
        family(
            "assembly_reactions_total",
            "counter",
            "Reactions by outcome.",
            &[
                ("{outcome=\"accepted\"}", g(&self.reactions_accepted)),
                (
                    "{outcome=\"rate_limited\"}",
                    g(&self.reactions_rate_limited),
                ),
                ("{outcome=\"refused\"}", g(&self.reactions_refused)),
            ],
        );
        family(
            "assembly_state_broadcasts_total",
            "counter",
            "Live-state updates sent to all clients.",
            &[("", g(&self.state_broadcasts))],
        );
        family(
            "assembly_reaction_bursts_total",
            "counter",
            "Aggregated reaction bursts sent.",
            &[("", g(&self.reaction_bursts))],
        );
        family(
            "assembly_indexer_head_block",
            "gauge",
            "Last block the embedded indexer applied.",
            &[("", g(&self.indexer_head))],
        );
        family(
            "assembly_media_peers",
            "gauge",
            "WebRTC peers by direction.",
            &[
                (
                    "{direction=\"listener\"}",
                    self.media.listeners.load(Relaxed),
                ),
                (
                    "{direction=\"publisher\"}",
                    self.media.publishers.load(Relaxed),
                ),
            ],
        );
        family(
            "assembly_media_packets_total",
            "counter",
            "Audio packets: received from publishers, sent to listeners, dropped by the floor gate, dropped on a full socket, not sent to listeners of a shard that fell behind.",
            &[
                ("{stage=\"in\"}", g(&m.packets_in)),
                ("{stage=\"out\"}", g(&m.packets_out)),
                ("{stage=\"gated\"}", g(&m.packets_gated)),
                ("{stage=\"send_dropped\"}", g(&m.send_dropped)),
                ("{stage=\"stale_dropped\"}", g(&m.stale_dropped)),
            ],
        );
        family(
            "assembly_media_offers_total",
            "counter",
            "WHIP and WHEP offers by result.",
            &[
                ("{result=\"ok\"}", g(&self.media_offers_ok)),
                ("{result=\"refused\"}", g(&self.media_offers_refused)),
            ],
        );
        family(
            "assembly_recording_dropped_total",
            "counter",
            "Packets the recorder could not keep up with (the live path never waits for it).",
            &[("", g(&a.recording_dropped))],
        );
        family(
            "assembly_hls_dropped_total",
            "counter",
            "Packets the HLS segmenter could not keep up with (the live path never waits for it).",
            &[("", g(&a.hls_dropped))],
        );
        family(
            "assembly_whip_push_dropped_total",
            "counter",
            "Packets the WHIP push could not keep up with.",
            &[("", g(&m.push_dropped))],
        );
        family(
            "assembly_s3_uploads_total",
            "counter",
            "Broadcast files copied to object storage, by result (after retries).",
            &[
                ("{result=\"ok\"}", g(&a.s3_ok)),
                ("{result=\"failed\"}", g(&a.s3_failed)),
            ],
        );
        family(
            "assembly_transcriptions_total",
            "counter",
            "Transcription attempts by result (failures are retried).",
            &[
                ("{result=\"ok\"}", g(&a.transcripts_ok)),
                ("{result=\"failed\"}", g(&a.transcripts_failed)),
            ],
        );
        out
    }
}
