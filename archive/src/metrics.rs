//! What the archive counts, as plain atomics. The node renders them at `/metrics`.

use std::sync::atomic::AtomicU64;

/// The archive's counters.
#[derive(Debug, Default)]
pub struct ArchiveMetrics {
    /// Packets the recorder could not keep up with.
    pub recording_dropped: AtomicU64,
    /// Packets the HLS packager could not keep up with.
    pub hls_dropped: AtomicU64,
    /// Files copied to the bucket.
    pub s3_ok: AtomicU64,
    /// Files the bucket refused or never answered for.
    pub s3_failed: AtomicU64,
    /// Speeches transcribed.
    pub transcripts_ok: AtomicU64,
    /// Transcription attempts that failed (retried with backoff).
    pub transcripts_failed: AtomicU64,
    /// Caption chunks the engine answered.
    pub captions_ok: AtomicU64,
    /// Caption chunks the engine refused or timed out on (skipped, not retried).
    pub captions_failed: AtomicU64,
    /// Caption chunks dropped because the engine was behind.
    pub captions_chunks_dropped: AtomicU64,
    /// Packets the captions worker could not keep up with.
    pub captions_packets_dropped: AtomicU64,
}
