//! The archive's settings: the `[archive]` table of the node's file (`[archive.s3]` and
//! `[archive.transcriber]` within it). The node applies its `ASSEMBLY_*` variables over them.

use std::path::PathBuf;

use serde::Deserialize;

use crate::hls::s3::S3Config;

/// Where the archive keeps what it records, and who transcribes it.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArchiveConfig {
    /// The directory of the recordings (one Ogg Opus file per speech) and the archive index.
    pub recordings: PathBuf,
    /// The directory the broadcast's HLS playlists and segments are written to.
    pub hls: PathBuf,
    /// S3-compatible storage the broadcast is copied to; None: the local directory only.
    pub s3: Option<S3Config>,
    /// The transcription service; None: speeches wait untranscribed until one is configured.
    pub transcriber: Option<TranscriberConfig>,
    /// Live captions through the transcriber while a speech is under way (on when a
    /// transcriber is configured; `false` turns them off).
    pub captions: bool,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        Self {
            recordings: "recordings".into(),
            hls: "hls".into(),
            s3: None,
            transcriber: None,
            captions: true,
        }
    }
}

/// A transcription service (see [`crate::hansard::engine`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscriberConfig {
    /// `openai:<base URL>` (any OpenAI-compatible server) or `livepeer:<gateway URL>`.
    pub service: String,
    /// The model; None: the service's default (`whisper-1` or `openai/whisper-large-v3`).
    pub model: Option<String>,
    /// Sent as a bearer token; None: none is sent.
    pub key: Option<String>,
}
