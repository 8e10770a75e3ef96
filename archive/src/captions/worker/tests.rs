//! The worker against fake engines: answers become cues, refusals and timeouts are counted
//! and skipped without holding up the next chunk, and a slow engine drops chunks instead of
//! building a backlog.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

use super::*;
use crate::captions::chunk::MAX_TICKS;

/// Answers after `delay`: refuses the calls whose number is in `refuse`, else says "words N".
struct Fake {
    delay: Duration,
    refuse: Vec<u32>,
    calls: AtomicU32,
}

impl Transcriber for Fake {
    fn name(&self) -> String {
        "fake".into()
    }

    fn transcribe<'a>(&'a self, audio: Vec<u8>) -> BoxFuture<'a, Result<String, TranscribeError>> {
        Box::pin(async move {
            assert!(audio.starts_with(b"OggS"), "an Ogg file");
            let n = self.calls.fetch_add(1, Relaxed);
            tokio::time::sleep(self.delay).await;
            if self.refuse.contains(&n) {
                Err(TranscribeError::Refused {
                    status: 500,
                    body: "no".into(),
                })
            } else {
                Ok(format!(" words {n} "))
            }
        })
    }
}

/// `seconds` of speech, heard from now on (the worker's idle cut follows the wall clock).
fn speech(session: u64, seconds: u64) -> Vec<Heard> {
    let t0 = clock::now_ms();
    (0..seconds * 50)
        .map(|i| Heard {
            session,
            speaker: Address::repeat_byte(1),
            slot_start_ms: 1_000_000,
            at_ms: t0 + i * 20,
            payload: vec![0xf8u8; 80].into(),
        })
        .collect()
}

struct Running {
    tx: mpsc::Sender<Heard>,
    cues: Arc<Mutex<Vec<Cue>>>,
    metrics: Arc<ArchiveMetrics>,
    _stop: watch::Sender<bool>,
}

fn start(engine: Fake, timeout: Duration) -> Running {
    let (tx, rx) = mpsc::channel(10_000);
    let cues = Arc::new(Mutex::new(Vec::new()));
    let metrics = Arc::new(ArchiveMetrics::default());
    let (stop, shutdown) = watch::channel(false);
    let sink = cues.clone();
    tokio::spawn(run(
        rx,
        Arc::new(engine),
        Settings { timeout },
        metrics.clone(),
        Arc::new(move |c| sink.lock().push(c)),
        shutdown,
    ));
    Running {
        tx,
        cues,
        metrics,
        _stop: stop,
    }
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(t0.elapsed() < Duration::from_secs(10), "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn answers_become_cues_and_refusals_are_skipped() {
    let r = start(
        Fake {
            delay: Duration::from_millis(10),
            refuse: vec![1],
            calls: AtomicU32::new(0),
        },
        Duration::from_secs(5),
    );
    // 12 s of speech: three 4 s chunks; the engine refuses the second.
    for h in speech(4, 12) {
        r.tx.send(h).await.unwrap();
    }
    until("two cues", || r.cues.lock().len() == 2).await;
    let cues = r.cues.lock().clone();
    assert_eq!(cues[0].text, "words 0");
    assert_eq!(cues[0].end_ms - cues[0].start_ms, MAX_TICKS / 48);
    assert_eq!(cues[0].slot_start, 1_000);
    assert_eq!(cues[0].speaker, Address::repeat_byte(1).to_checksum(None));
    assert_eq!(cues[1].text, "words 2");
    assert_eq!(r.metrics.captions_failed.load(Relaxed), 1);
    assert_eq!(r.metrics.captions_ok.load(Relaxed), 2);
}

#[tokio::test]
async fn a_stuck_engine_times_out_and_the_backlog_is_dropped() {
    let r = start(
        Fake {
            delay: Duration::from_secs(3600),
            refuse: vec![],
            calls: AtomicU32::new(0),
        },
        Duration::from_millis(300),
    );
    let t0 = Instant::now();
    // 20 s of speech at once: five chunks, one at the engine, two waiting, two dropped.
    for h in speech(9, 20) {
        r.tx.send(h).await.unwrap();
    }
    until("dropped", || {
        r.metrics.captions_chunks_dropped.load(Relaxed) == 2
    })
    .await;
    // Each chunk gives up after 300 ms; the three kept ones are done within a second or so.
    until("timed out", || r.metrics.captions_failed.load(Relaxed) == 3).await;
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert!(r.cues.lock().is_empty());
}

#[tokio::test]
async fn caption_reports_a_timeout() {
    let fake = Fake {
        delay: Duration::from_secs(3600),
        refuse: vec![],
        calls: AtomicU32::new(0),
    };
    let mut c = Chunker::default();
    let mut chunks = Vec::new();
    for h in speech(1, 5) {
        chunks.extend(c.push(h.session, h.speaker, h.slot_start_ms, h.at_ms, h.payload));
    }
    let e = caption(&fake, &chunks[0], Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(e, CaptionError::TimedOut(_)), "{e}");
    assert!(e.to_string().contains("longer than"));
}
