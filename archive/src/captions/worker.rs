//! The captions worker: gathers chunks, keeps at most one chunk per session at the engine
//! and [`MAX_WAITING`] behind it, and turns answers into cues.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::Address;
use tokio::sync::{mpsc, watch};

use super::chunk::{Chunk, Chunker};
use super::{container, Cue, OnCue, Settings};
use crate::hansard::transcribe::{TranscribeError, Transcriber};
use crate::metrics::ArchiveMetrics;
use assembly_floor::clock;

/// Chunks a session may have waiting behind the one at the engine; older ones are dropped.
pub const MAX_WAITING: usize = 2;

/// One heard packet, as the worker takes it.
pub struct Heard {
    /// The session.
    pub session: u64,
    /// The floor holder who sent it.
    pub speaker: Address,
    /// Their slot's start, ms since the epoch.
    pub slot_start_ms: u64,
    /// When the gate let it through, ms since the epoch.
    pub at_ms: u64,
    /// The Opus packet.
    pub payload: Arc<[u8]>,
}

/// Why a chunk has no caption.
#[derive(Debug, thiserror::Error)]
pub enum CaptionError {
    /// The engine refused it or could not be reached.
    #[error(transparent)]
    Engine(#[from] TranscribeError),
    /// The engine took longer than the captions may wait.
    #[error("the engine took longer than {0:?}")]
    TimedOut(Duration),
}

/// Sends `chunk` to `engine`, giving up after `timeout`.
pub async fn caption(
    engine: &dyn Transcriber,
    chunk: &Chunk,
    timeout: Duration,
) -> Result<String, CaptionError> {
    let audio = container::ogg_opus(&chunk.packets, chunk.start_ms as u32);
    match tokio::time::timeout(timeout, engine.transcribe(audio)).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(CaptionError::TimedOut(timeout)),
    }
}

/// The chunks waiting per session, and which sessions have one at the engine.
#[derive(Default)]
struct Queue {
    waiting: HashMap<u64, VecDeque<Chunk>>,
    busy: HashSet<u64>,
}

impl Queue {
    /// Queues `chunk`; returns how many older chunks were dropped to make room.
    fn add(&mut self, chunk: Chunk) -> u64 {
        let q = self.waiting.entry(chunk.session).or_default();
        q.push_back(chunk);
        let mut dropped = 0;
        while q.len() > MAX_WAITING {
            q.pop_front();
            dropped += 1;
        }
        dropped
    }

    /// The next chunk of every session with none at the engine, marking them busy.
    fn due(&mut self) -> Vec<Chunk> {
        let mut out = Vec::new();
        for (session, q) in self.waiting.iter_mut() {
            if !self.busy.contains(session) {
                if let Some(c) = q.pop_front() {
                    self.busy.insert(*session);
                    out.push(c);
                }
            }
        }
        self.waiting.retain(|_, q| !q.is_empty());
        out
    }
}

/// Runs until the packet channel closes or `shutdown`.
pub async fn run(
    mut rx: mpsc::Receiver<Heard>,
    engine: Arc<dyn Transcriber>,
    settings: Settings,
    metrics: Arc<ArchiveMetrics>,
    on_cue: OnCue,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut chunker = Chunker::default();
    let mut queue = Queue::default();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(Chunk, Result<String, CaptionError>)>();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        let cut = tokio::select! {
            heard = rx.recv() => match heard {
                Some(h) => chunker.push(h.session, h.speaker, h.slot_start_ms, h.at_ms, h.payload),
                None => return,
            },
            _ = tick.tick() => chunker.idle(clock::now_ms()),
            Some((chunk, result)) = done_rx.recv() => {
                queue.busy.remove(&chunk.session);
                answered(&chunk, result, &metrics, &on_cue);
                Vec::new()
            }
            _ = shutdown.changed() => return,
        };
        for c in cut.into_iter().filter(Chunk::worth_transcribing) {
            let dropped = queue.add(c);
            if dropped > 0 {
                tracing::debug!(
                    dropped,
                    "captions: the engine is behind, dropping the oldest chunk"
                );
                metrics.captions_chunks_dropped.fetch_add(dropped, Relaxed);
            }
        }
        for chunk in queue.due() {
            let (engine, done, timeout) = (engine.clone(), done_tx.clone(), settings.timeout);
            tokio::spawn(async move {
                let result = caption(engine.as_ref(), &chunk, timeout).await;
                let _ = done.send((chunk, result));
            });
        }
    }
}

/// Counts an answer and hands a caption on.
fn answered(
    chunk: &Chunk,
    result: Result<String, CaptionError>,
    metrics: &ArchiveMetrics,
    on_cue: &OnCue,
) {
    match result {
        Ok(text) => {
            metrics.captions_ok.fetch_add(1, Relaxed);
            // An empty answer, or punctuation alone, is no caption.
            if text.chars().any(char::is_alphanumeric) {
                on_cue(Cue {
                    session: chunk.session,
                    speaker: chunk.speaker.to_checksum(None),
                    slot_start: chunk.slot_start_ms / 1000,
                    start_ms: chunk.start_ms,
                    end_ms: chunk.end_ms,
                    text: text.trim().to_string(),
                });
            }
        }
        Err(e) => {
            metrics.captions_failed.fetch_add(1, Relaxed);
            tracing::warn!(session = chunk.session, error = %e, "caption chunk skipped");
        }
    }
}

#[cfg(test)]
mod tests;
