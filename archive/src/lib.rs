//! Assembly's archive: everything that happens to the floor's audio off the live path. The
//! media path hands each heard packet to a [`assembly_media::ProgramSink`] and never waits;
//! the sinks here queue it and drop (and count) what they cannot keep up with, so a slow
//! disk, bucket or transcriber never delays a listener.
//!
//! - [`record`] — one Ogg Opus file per speech, indexed with its speaker, slot, digest and
//!   whether it is provably its speaker's; each ended occurrence's record (leaves and root).
//! - [`hls`] — the public broadcast: continuous HLS (Opus in fMP4), optionally copied to S3.
//! - [`hansard`] — transcripts of every speech, full-text search, exports.
//! - [`attendance`] — who was there: signed-in presence and reactions given.
//! - [`captions`] — live captions while a speech is under way, through the Hansard's engine.
//! - [`metrics`] — what the archive counts.
//! - [`config`] — its settings, the node file's `[archive]` table.
//!
//! The HTTP routes over the archive live in the node, which owns the front door.

pub mod attendance;
pub mod captions;
pub mod config;
pub mod hansard;
pub mod hls;
pub mod metrics;
pub mod record;

pub use config::{ArchiveConfig, TranscriberConfig};
pub use metrics::ArchiveMetrics;
