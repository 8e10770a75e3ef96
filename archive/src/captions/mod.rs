//! Live captions: while someone holds the floor, their audio is cut into chunks of a few
//! seconds ([`chunk`]), each sent as a short Ogg Opus file ([`container`]) to the Hansard's
//! engine ([`crate::hansard::transcribe::Transcriber`]), and each answer becomes a [`Cue`]
//! handed to whoever listens (the node pushes it over the live WebSocket and to the HLS
//! segmenter, which publishes it as a WebVTT rendition: [`vtt`], [`subs`]).
//!
//! Captions are best effort; the Hansard's transcript of the whole speech is the record and
//! replaces them when it is written. So nothing here waits for long or retries: the media
//! path hands packets over a bounded queue and never waits ([`Captions`] counts what it
//! drops), one chunk per session is at the engine at a time under a short timeout, and a
//! chunk the engine refuses or times out on is logged, counted and skipped. If the engine
//! falls behind, the oldest waiting chunk is dropped rather than a backlog built
//! ([`worker`]).

pub mod chunk;
pub mod container;
pub mod subs;
pub mod vtt;
pub mod worker;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::hansard::transcribe::Transcriber;
use crate::metrics::ArchiveMetrics;
use assembly_media::{ProgramSink, Spoken};

/// Packets buffered between the media path and the chunker (~40 s of one speaker).
const QUEUE: usize = 2048;

/// One caption: what the floor holder said over a few seconds.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Cue {
    /// The session it was said in.
    pub session: u64,
    /// The speaker's address, EIP-55 checksummed.
    pub speaker: String,
    /// The start of the speaker's slot, seconds since the epoch (with the speaker, it names
    /// the speech whose transcript will replace the captions).
    pub slot_start: u64,
    /// When the first word's audio was heard, milliseconds since the epoch.
    pub start_ms: u64,
    /// When the chunk's audio ends, milliseconds since the epoch.
    pub end_ms: u64,
    /// The words.
    pub text: String,
}

/// What receives each caption (called on the worker's task: it must not block).
pub type OnCue = Arc<dyn Fn(Cue) + Send + Sync>;

/// The captions' settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The longest the engine may take over one chunk before it is skipped.
    pub timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(8),
        }
    }
}

/// The media path's handle: a [`ProgramSink`] feeding the captions worker.
#[derive(Clone)]
pub struct Captions {
    tx: mpsc::Sender<worker::Heard>,
    metrics: Arc<ArchiveMetrics>,
}

impl Captions {
    /// Starts the worker on the current Tokio runtime, transcribing with `engine` and
    /// handing each caption to `on_cue`, until `shutdown`.
    pub fn start(
        engine: Arc<dyn Transcriber>,
        settings: Settings,
        metrics: Arc<ArchiveMetrics>,
        on_cue: OnCue,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(worker::run(
            rx,
            engine,
            settings,
            metrics.clone(),
            on_cue,
            shutdown,
        ));
        Self { tx, metrics }
    }
}

impl ProgramSink for Captions {
    fn offer(&self, p: &Spoken<'_>) {
        let heard = worker::Heard {
            session: p.session,
            speaker: p.speaker,
            slot_start_ms: p.slot.start_ms,
            at_ms: p.at_ms,
            payload: p.payload.clone(),
        };
        if self.tx.try_send(heard).is_err() {
            self.metrics.captions_packets_dropped.fetch_add(1, Relaxed);
        }
    }
}
