//! Prometheus metrics at `/metrics`, kept in a `prometheus` registry and written by its text
//! encoder.
//!
//! The node's own counters and gauges are the crate's. The media path and the archive count in
//! plain atomics on their own threads and do not depend on an exporter (a media packet costs one
//! relaxed add, nothing more); [`Pulled`] reads those atomics when `/metrics` is scraped, as
//! Go's `CounterFunc` does.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use assembly_archive::ArchiveMetrics;
use assembly_media::MediaMetrics;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily, MetricType};
use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

/// The node's metrics.
pub struct Metrics {
    registry: Registry,
    /// Sign-ins whose message and signature were accepted.
    pub sign_ins_ok: IntCounter,
    /// Sign-ins refused, for any reason the sign-in check gives.
    pub sign_ins_refused: IntCounter,
    /// Open live connections of orchestrators.
    pub ws_orchestrators: IntGauge,
    /// Open live connections of delegators.
    pub ws_delegators: IntGauge,
    /// Open live connections of observers: anonymous, or with neither role.
    pub ws_observers: IntGauge,
    /// Client frames on the live socket that did not decode.
    pub ws_bad_messages: IntCounter,
    /// Live connections refused before the upgrade (over a per-address or total cap, wrong origin).
    pub ws_refused: IntCounter,
    /// Reactions accepted into a burst.
    pub reactions_accepted: IntCounter,
    /// Reactions refused because the sender exceeded its rate.
    pub reactions_rate_limited: IntCounter,
    /// Reactions refused for any other reason: unknown reaction, not signed in, no role.
    pub reactions_refused: IntCounter,
    /// Live-state messages broadcast (sent only when the state changed).
    pub state_broadcasts: IntCounter,
    /// Reaction bursts broadcast.
    pub reaction_bursts: IntCounter,
    /// The highest block the embedded indexer has applied.
    pub indexer_head: IntGauge,
    /// WHIP and WHEP offers answered.
    pub media_offers_ok: IntCounter,
    /// WHIP and WHEP offers refused (not allowed, over capacity, malformed).
    pub media_offers_refused: IntCounter,
    /// Requests refused because their sender exceeded a per-address or node-wide budget.
    pub http_limited: IntCounterVec,
    /// Relays from sibling nodes refused, by reason (`not_a_member`, `bad_signature`, ...).
    pub relays_refused: IntCounterVec,
    /// Relays to sibling nodes: connections started.
    pub relays_out: IntCounterVec,
    /// Relay links to sibling nodes, by state (`up`, `down`: the sibling does not answer).
    pub relay_links: IntGaugeVec,
    /// WHIP and WHEP offers sent to a sibling because this node was full (307).
    pub redirected: IntCounter,
    /// Shares (reactions and counts) from sibling nodes refused, by reason.
    pub shares_refused: IntCounterVec,
    /// Shares told to sibling nodes, by outcome (`ok`, `failed`).
    pub shares_told: IntCounterVec,
    /// Webhook deliveries that the endpoint accepted.
    pub webhooks_delivered: IntCounter,
    /// Webhook attempts that failed and were scheduled again.
    pub webhooks_retried: IntCounter,
    /// Webhook deliveries given up on: refused by the endpoint, or out of attempts.
    pub webhooks_failed: IntCounter,
    /// Webhook deliveries dropped unsent because their webhook's queue was full.
    pub webhooks_dropped: IntCounter,
    /// Attempts at anchoring an occurrence's record on chain, by outcome (`anchored`,
    /// `already`, `unregistered`, `refused`, `failed`).
    pub anchors: IntCounterVec,
    /// `assembly_corrections_total{source, outcome}`.
    pub corrections: IntCounterVec,
    /// The media path's own counters.
    pub media: Arc<MediaMetrics>,
    /// The archive's own counters.
    pub archive: Arc<ArchiveMetrics>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(Arc::default(), Arc::default())
    }
}

impl Metrics {
    /// The node's registry, reading the media path's and the archive's counters at scrape time.
    pub fn new(media: Arc<MediaMetrics>, archive: Arc<ArchiveMetrics>) -> Self {
        let registry = Registry::new();
        let counters = |name: &str, help: &str, label: &str| {
            let vec =
                IntCounterVec::new(Opts::new(name, help), &[label]).expect("a valid metric name");
            registry
                .register(Box::new(vec.clone()))
                .expect("each metric registered once");
            vec
        };
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("a valid metric name");
            registry
                .register(Box::new(c.clone()))
                .expect("each metric registered once");
            c
        };
        let sign_ins = counters(
            "assembly_sign_ins_total",
            "Sign-in attempts by result.",
            "result",
        );
        let reactions = counters(
            "assembly_reactions_total",
            "Reactions by outcome.",
            "outcome",
        );
        let offers = counters(
            "assembly_media_offers_total",
            "WHIP and WHEP offers by result.",
            "result",
        );
        let webhooks = counters(
            "assembly_webhook_deliveries_total",
            "Webhook deliveries by outcome (delivered, retried, failed, dropped).",
            "outcome",
        );
        let connections = IntGaugeVec::new(
            Opts::new(
                "assembly_live_connections",
                "Open live-state WebSockets by role.",
            ),
            &["role"],
        )
        .expect("a valid metric name");
        registry
            .register(Box::new(connections.clone()))
            .expect("each metric registered once");
        let relay_links = IntGaugeVec::new(
            Opts::new(
                "assembly_relay_links",
                "Relay links to sibling nodes by state: up, or down (the sibling does not answer; retried with backoff).",
            ),
            &["state"],
        )
        .expect("a valid metric name");
        registry
            .register(Box::new(relay_links.clone()))
            .expect("each metric registered once");
        let head = IntGauge::new(
            "assembly_indexer_head_block",
            "Last block the embedded indexer applied.",
        )
        .expect("a valid metric name");
        registry
            .register(Box::new(head.clone()))
            .expect("each metric registered once");
        let corrections = IntCounterVec::new(
            Opts::new(
                "assembly_corrections_total",
                "Transcript corrections brought to this node, by source (client; told by a member; listed, read from a member's list) and outcome: taken (new here), held (already), refused (not the speaker's, unknown speech, revision taken or skipped, malformed), failed (the chain or the archive could not be read).",
            ),
            &["source", "outcome"],
        )
        .expect("a valid metric name");
        registry
            .register(Box::new(corrections.clone()))
            .expect("each metric registered once");
        let metrics = Metrics {
            corrections,
            sign_ins_ok: sign_ins.with_label_values(&["ok"]),
            sign_ins_refused: sign_ins.with_label_values(&["refused"]),
            ws_orchestrators: connections.with_label_values(&["orchestrator"]),
            ws_delegators: connections.with_label_values(&["delegator"]),
            ws_observers: connections.with_label_values(&["observer"]),
            ws_bad_messages: counter(
                "assembly_ws_bad_messages_total",
                "WebSocket messages refused as malformed.",
            ),
            ws_refused: counter(
                "assembly_ws_refused_total",
                "Live-state WebSockets refused before the upgrade: over a per-address or total cap, or from a foreign origin.",
            ),
            reactions_accepted: reactions.with_label_values(&["accepted"]),
            reactions_rate_limited: reactions.with_label_values(&["rate_limited"]),
            reactions_refused: reactions.with_label_values(&["refused"]),
            state_broadcasts: counter(
                "assembly_state_broadcasts_total",
                "Live-state updates sent to all clients.",
            ),
            reaction_bursts: counter(
                "assembly_reaction_bursts_total",
                "Aggregated reaction bursts sent.",
            ),
            indexer_head: head,
            media_offers_ok: offers.with_label_values(&["ok"]),
            media_offers_refused: offers.with_label_values(&["refused"]),
            http_limited: counters(
                "assembly_limited_total",
                "Requests refused because their sender exceeded a budget, by budget.",
                "budget",
            ),
            relays_refused: counters(
                "assembly_relays_refused_total",
                "Relays from other nodes refused, by reason.",
                "reason",
            ),
            relays_out: counters(
                "assembly_relays_out_total",
                "Relay connections to sibling nodes, by outcome.",
                "outcome",
            ),
            relay_links,
            redirected: counter(
                "assembly_media_redirected_total",
                "WHIP and WHEP offers sent to a sibling node because this one was full.",
            ),
            shares_refused: counters(
                "assembly_cluster_shares_refused_total",
                "Reactions and counts from other nodes refused, by reason.",
                "reason",
            ),
            shares_told: counters(
                "assembly_cluster_shares_told_total",
                "Reactions and counts told to other nodes, by outcome.",
                "outcome",
            ),
            webhooks_delivered: webhooks.with_label_values(&["delivered"]),
            webhooks_retried: webhooks.with_label_values(&["retried"]),
            webhooks_failed: webhooks.with_label_values(&["failed"]),
            webhooks_dropped: webhooks.with_label_values(&["dropped"]),
            anchors: counters(
                "assembly_anchors_total",
                "Attempts at anchoring an ended occurrence's record on chain, by outcome: anchored (mined), already (the operator had attested the root), unregistered (no registered key to send with), refused (by the chain, retried), failed (RPC or revert, retried).",
                "outcome",
            ),
            media: media.clone(),
            archive: archive.clone(),
            registry,
        };
        metrics
            .registry
            .register(Box::new(Pulled::new(media, archive)))
            .expect("each metric registered once");
        metrics
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|e| format!("# metrics could not be encoded: {e}\n"))
    }
}

/// One family read from atomics at scrape time.
struct Family {
    desc: Desc,
    kind: MetricType,
    label: &'static str,
    samples: Vec<(&'static str, Sample)>,
}

enum Sample {
    Counter(for<'a> fn(&'a MediaMetrics, &'a ArchiveMetrics) -> &'a AtomicU64),
    Gauge(for<'a> fn(&'a MediaMetrics, &'a ArchiveMetrics) -> &'a AtomicI64),
}

/// The media path's and the archive's atomics as Prometheus families.
struct Pulled {
    media: Arc<MediaMetrics>,
    archive: Arc<ArchiveMetrics>,
    families: Vec<Family>,
}

impl Pulled {
    fn new(media: Arc<MediaMetrics>, archive: Arc<ArchiveMetrics>) -> Self {
        use Sample::{Counter, Gauge};
        let family = |name: &str,
                      help: &str,
                      kind: MetricType,
                      label: &'static str,
                      samples: Vec<(&'static str, Sample)>| Family {
            desc: Desc::new(
                name.into(),
                help.into(),
                if label.is_empty() {
                    vec![]
                } else {
                    vec![label.to_string()]
                },
                Default::default(),
            )
            .expect("a valid metric name"),
            kind,
            label,
            samples,
        };
        let families = vec![
            family(
                "assembly_media_peers",
                "WebRTC peers by direction.",
                MetricType::GAUGE,
                "direction",
                vec![
                    ("listener", Gauge(|m, _| &m.listeners)),
                    ("publisher", Gauge(|m, _| &m.publishers)),
                ],
            ),
            family(
                "assembly_media_packets_total",
                "Audio packets: received from publishers, sent to listeners, dropped by the floor gate, dropped on a full socket, not sent to listeners of a shard that fell behind.",
                MetricType::COUNTER,
                "stage",
                vec![
                    ("in", Counter(|m, _| &m.packets_in)),
                    ("out", Counter(|m, _| &m.packets_out)),
                    ("gated", Counter(|m, _| &m.packets_gated)),
                    ("send_dropped", Counter(|m, _| &m.send_dropped)),
                    ("stale_dropped", Counter(|m, _| &m.stale_dropped)),
                ],
            ),
            family(
                "assembly_recording_dropped_total",
                "Packets the recorder could not keep up with (the live path never waits for it).",
                MetricType::COUNTER,
                "",
                vec![("", Counter(|_, a| &a.recording_dropped))],
            ),
            family(
                "assembly_hls_dropped_total",
                "Packets the HLS segmenter could not keep up with (the live path never waits for it).",
                MetricType::COUNTER,
                "",
                vec![("", Counter(|_, a| &a.hls_dropped))],
            ),
            family(
                "assembly_media_client_sent_total",
                "What this node's own WebRTC clients sent (its relays to sibling members, its WHIP push): UDP datagrams, and their payload bytes.",
                MetricType::COUNTER,
                "unit",
                vec![
                    ("datagrams", Counter(|_, _| &assembly_media::client::SENT.datagrams)),
                    ("bytes", Counter(|_, _| &assembly_media::client::SENT.bytes)),
                ],
            ),
            family(
                "assembly_relayed_waiting_packets",
                "Relayed packets waiting for this node's view of the chain to show the floor held.",
                MetricType::GAUGE,
                "",
                vec![("", Gauge(|m, _| &m.relayed_waiting))],
            ),
            family(
                "assembly_relayed_late_total",
                "Relayed packets heard after waiting for this node's view of the chain to catch up with the origin's.",
                MetricType::COUNTER,
                "",
                vec![("", Counter(|m, _| &m.relayed_late))],
            ),
            family(
                "assembly_relayed_unheard_total",
                "Relayed packets never heard: a sibling sent them while nobody held the floor by this node's view of the chain, even after waiting for it.",
                MetricType::COUNTER,
                "",
                vec![("", Counter(|m, _| &m.relayed_unheard))],
            ),
            family(
                "assembly_provenance_frames_total",
                "Heard frames by what their speaker's attestations showed: vouched for by a batch the holder's certified key signed; sent with no certificate by the holder; matching no signed tag though every batch arrived (altered); matching none with a batch lost (unattested).",
                MetricType::COUNTER,
                "verdict",
                vec![
                    ("signed", Counter(|m, _| &m.provenance_frames[0])),
                    ("unsigned", Counter(|m, _| &m.provenance_frames[1])),
                    ("altered", Counter(|m, _| &m.provenance_frames[2])),
                    ("unattested", Counter(|m, _| &m.provenance_frames[3])),
                ],
            ),
            family(
                "assembly_provenance_refused_total",
                "Attestations refused on the live path, by reason (the stable codes of assembly_provenance::Refused).",
                MetricType::COUNTER,
                "reason",
                // In Refused::ALL's order (checked by a test below).
                vec![
                    ("bad_certificate", Counter(|m, _| &m.provenance_refused[0])),
                    ("not_the_holders", Counter(|m, _| &m.provenance_refused[1])),
                    ("other_session", Counter(|m, _| &m.provenance_refused[2])),
                    ("bad_signature", Counter(|m, _| &m.provenance_refused[3])),
                    ("wrong_key", Counter(|m, _| &m.provenance_refused[4])),
                    ("other_batch", Counter(|m, _| &m.provenance_refused[5])),
                    ("expired", Counter(|m, _| &m.provenance_refused[6])),
                    ("outside_slot", Counter(|m, _| &m.provenance_refused[7])),
                    ("replayed", Counter(|m, _| &m.provenance_refused[8])),
                    ("too_long", Counter(|m, _| &m.provenance_refused[9])),
                    ("altered", Counter(|m, _| &m.provenance_refused[10])),
                ],
            ),
            family(
                "assembly_provenance_withheld_total",
                "Packets not forwarded because their session requires signed audio and their stream was unsigned or tainted.",
                MetricType::COUNTER,
                "",
                vec![("", Counter(|m, _| &m.provenance_withheld))],
            ),
            family(
                "assembly_whip_push_dropped_total",
                "Packets the WHIP push could not keep up with.",
                MetricType::COUNTER,
                "",
                vec![("", Counter(|m, _| &m.push_dropped))],
            ),
            family(
                "assembly_s3_uploads_total",
                "Broadcast files copied to object storage, by result (after retries).",
                MetricType::COUNTER,
                "result",
                vec![
                    ("ok", Counter(|_, a| &a.s3_ok)),
                    ("failed", Counter(|_, a| &a.s3_failed)),
                ],
            ),
            family(
                "assembly_transcriptions_total",
                "Transcription attempts by result (failures are retried).",
                MetricType::COUNTER,
                "result",
                vec![
                    ("ok", Counter(|_, a| &a.transcripts_ok)),
                    ("failed", Counter(|_, a| &a.transcripts_failed)),
                ],
            ),
            family(
                "assembly_captions_total",
                "Live caption chunks by result: answered, refused or timed out (skipped, never retried), dropped because the engine was behind.",
                MetricType::COUNTER,
                "result",
                vec![
                    ("ok", Counter(|_, a| &a.captions_ok)),
                    ("failed", Counter(|_, a| &a.captions_failed)),
                    ("dropped", Counter(|_, a| &a.captions_chunks_dropped)),
                ],
            ),
            family(
                "assembly_captions_packets_dropped_total",
                "Packets the captions worker could not keep up with (the live path never waits for it).",
                MetricType::COUNTER,
                "",
                vec![("", Counter(|_, a| &a.captions_packets_dropped))],
            ),
        ];
        Pulled {
            media,
            archive,
            families,
        }
    }
}

impl Collector for Pulled {
    fn desc(&self) -> Vec<&Desc> {
        self.families.iter().map(|f| &f.desc).collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let (m, a) = (&*self.media, &*self.archive);
        self.families
            .iter()
            .map(|f| {
                let metrics = f
                    .samples
                    .iter()
                    .map(|(value, sample)| {
                        let mut metric = proto::Metric::default();
                        if !f.label.is_empty() {
                            let mut pair = proto::LabelPair::default();
                            pair.set_name(f.label.to_string());
                            pair.set_value(value.to_string());
                            metric.set_label(vec![pair]);
                        }
                        match sample {
                            Sample::Counter(read) => {
                                let mut c = proto::Counter::default();
                                c.set_value(read(m, a).load(Relaxed) as f64);
                                metric.set_counter(c);
                            }
                            Sample::Gauge(read) => {
                                let mut g = proto::Gauge::default();
                                g.set_value(read(m, a).load(Relaxed) as f64);
                                metric.set_gauge(g);
                            }
                        }
                        metric
                    })
                    .collect();
                let mut family = MetricFamily::default();
                family.set_name(f.desc.fq_name.clone());
                family.set_help(f.desc.help.clone());
                family.set_field_type(f.kind);
                family.set_metric(metrics);
                family
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_exposed_with_its_help_and_labels() {
        let m = Metrics::default();
        m.sign_ins_ok.inc_by(5);
        m.ws_delegators.inc();
        m.media.packets_in.fetch_add(7, Relaxed);
        m.archive.s3_failed.fetch_add(2, Relaxed);
        let text = m.render();
        for line in [
            "# HELP assembly_sign_ins_total Sign-in attempts by result.",
            "# TYPE assembly_sign_ins_total counter",
            "assembly_sign_ins_total{result=\"ok\"} 5",
            "assembly_live_connections{role=\"delegator\"} 1",
            "# TYPE assembly_media_peers gauge",
            "assembly_media_packets_total{stage=\"in\"} 7",
            "assembly_s3_uploads_total{result=\"failed\"} 2",
            "assembly_recording_dropped_total 0",
            "assembly_indexer_head_block 0",
        ] {
            assert!(text.contains(line), "{line:?} missing from\n{text}");
        }
    }

    #[test]
    fn refusals_are_labelled_by_their_stable_codes() {
        let m = Metrics::default();
        for r in assembly_provenance::Refused::ALL {
            m.media.provenance_refused[assembly_media::attest::index(r)].fetch_add(1, Relaxed);
            let text = m.render();
            let line = format!(
                "assembly_provenance_refused_total{{reason=\"{}\"}} 1",
                r.code()
            );
            assert!(text.contains(&line), "{line:?} missing");
            m.media.provenance_refused[assembly_media::attest::index(r)].fetch_sub(1, Relaxed);
        }
    }
}
