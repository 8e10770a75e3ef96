//! The Hansard: every recorded speech transcribed, attributed to the speaker the chain's
//! timeline gave the slot to (exact, not guessed by diarization), and searchable.
//!
//! - [`transcribe`] — the engine interface and its backends.
//! - [`store`] — the queue, transcripts and full-text index.
//! - [`corrections`] — speakers' signed corrections, each a revision kept beside the others.
//!
//! Transcription runs in its own task, one speech at a time, far from the live path. A
//! failure (server down, slow, refusing) leaves the speech queued with a growing wait;
//! when the server returns, the queue drains. Nothing is dropped.

pub mod corrections;
pub mod store;
pub mod transcribe;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::metrics::ArchiveMetrics;
use crate::record::archive::Archive;
use assembly_floor::clock;
use transcribe::Transcriber;

/// The longest a failed speech waits before its next attempt.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// When attempt `n` (1-based) failed, the wait before the next.
pub fn backoff(n: u32) -> Duration {
    (Duration::from_secs(2) * 2u32.saturating_pow(n.min(8))).min(MAX_BACKOFF)
}

/// A transcript just stored, for whoever listens (the node's word alerts, the live pages'
/// captions): sent after the
/// write commits, never waited on.
#[derive(Clone, Debug)]
pub struct Transcribed {
    /// The speech.
    pub speech: crate::record::archive::Speech,
    /// Its transcript.
    pub text: String,
}

/// Transcribes queued speeches until `shutdown`, announcing each stored transcript on
/// `transcribed` (a broadcast: a slow listener lags, the Hansard never waits for it).
pub async fn run(
    archive: Arc<Archive>,
    engine: Arc<dyn Transcriber>,
    metrics: Arc<ArchiveMetrics>,
    transcribed: tokio::sync::broadcast::Sender<Transcribed>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let a = archive.clone();
        let next = tokio::task::spawn_blocking(
            move || -> Result<_, crate::record::archive::ArchiveError> {
                store::enqueue_closed(&a)?;
                let due = store::due(&a, clock::now_ms())?;
                Ok(match due {
                    Some((speech, attempts)) => {
                        let bytes = std::fs::read(a.path(&speech));
                        Some((speech, attempts, bytes))
                    }
                    None => None,
                })
            },
        )
        .await;
        let work = match next {
            Ok(Ok(w)) => w,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "hansard queue");
                None
            }
            Err(_) => None,
        };
        let Some((speech, attempts, bytes)) = work else {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                _ = shutdown.changed() => return,
            }
        };
        let result = match bytes {
            Ok(b) => engine.transcribe_timed(b).await.map_err(|e| e.to_string()),
            Err(e) => Err(format!("recording file: {e}")),
        };
        let a = archive.clone();
        let name = engine.name();
        let m = metrics.clone();
        let tell = transcribed.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let now = clock::now_ms();
            match result {
                Ok(transcribe::Timed { text, mut segments }) => {
                    // Whisper's timestamps snap to its own grid and can outrun the audio;
                    // a transcript that follows playback must not.
                    for seg in &mut segments {
                        seg.end_ms = seg.end_ms.min(speech.duration_ms);
                        seg.start_ms = seg.start_ms.min(seg.end_ms);
                    }
                    tracing::info!(speech = speech.id, words = text.split_whitespace().count(), segments = segments.len(), "transcribed");
                    m.transcripts_ok.fetch_add(1, Relaxed);
                    store::succeeded(&a, speech.id, &text, &segments, &name, now)?;
                    // No listener is not an error: alerts may be off.
                    let _ = tell.send(Transcribed { speech, text });
                    Ok(())
                }
                Err(e) => {
                    let n = attempts + 1;
                    let wait = backoff(n);
                    tracing::warn!(speech = speech.id, attempt = n, retry_in = ?wait, error = %e, "transcription failed");
                    m.transcripts_failed.fetch_add(1, Relaxed);
                    store::failed(&a, speech.id, n, now + wait.as_millis() as u64, &e)
                }
            }
        })
        .await;
        if *shutdown.borrow() {
            return;
        }
    }
}

/// A transcriber setting that names no engine.
#[derive(Debug, thiserror::Error)]
#[error("transcriber {0}: expected openai:<base URL> or livepeer:<gateway URL>")]
pub struct UnknownEngine(String);

/// The engine named by configuration: `openai:<base URL>` or `livepeer:<gateway URL>`.
pub fn engine(
    spec: &str,
    model: Option<&str>,
    key: Option<String>,
) -> Result<Arc<dyn Transcriber>, UnknownEngine> {
    let unknown = || UnknownEngine(spec.to_string());
    let (kind, url) = spec.split_once(':').ok_or_else(unknown)?;
    Ok(match kind {
        "openai" => Arc::new(transcribe::OpenAiCompatible::new(
            url,
            model.unwrap_or("whisper-1"),
            key,
        )),
        "livepeer" => Arc::new(transcribe::LivepeerGateway::new(
            url,
            model.unwrap_or("openai/whisper-large-v3"),
            key,
        )),
        _ => return Err(unknown()),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(super::backoff(1).as_secs(), 4);
        assert_eq!(super::backoff(2).as_secs(), 8);
        assert_eq!(super::backoff(30).as_secs(), 60);
    }

    #[test]
    fn engines_by_name() {
        assert_eq!(
            super::engine("openai:http://x", None, None).unwrap().name(),
            "openai-compatible:whisper-1"
        );
        assert!(super::engine("livepeer:https://g", Some("m"), None)
            .unwrap()
            .name()
            .ends_with(":m"));
        assert!(super::engine("carrier-pigeon:x", None, None).is_err());
        assert!(super::engine("nourl", None, None).is_err());
    }
}
