//! The live WebSocket's caption messages: a `caption` for each cue the archive's captions
//! worker produces while a speech is under way, and a `transcript` once the Hansard has
//! stored the speech's final text, which replaces that speech's captions. The hub sends
//! them ([`crate::live::Hub::caption`], [`crate::live::Hub::transcript`]).

use assembly_archive::captions::Cue;
use serde::Serialize;
use utoipa::ToSchema;

/// The `type` of a [`CaptionMessage`].
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaptionTag {
    /// The only value.
    Caption,
}

/// The `type` of a [`TranscriptMessage`].
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TranscriptTag {
    /// The only value.
    Transcript,
}

/// A live caption: a few seconds of the floor holder's words, a few seconds after they
/// were said. Best effort: a chunk the engine refused or was slow on has none.
#[derive(Serialize, ToSchema)]
pub struct CaptionMessage<'a> {
    /// Always `caption`.
    pub r#type: CaptionTag,
    /// The server's clock, milliseconds since the epoch.
    pub server_time_ms: u64,
    /// The cue, its fields inlined in the message.
    #[serde(flatten)]
    pub cue: &'a Cue,
}

/// A speech's final transcript, as the Hansard stored it: it replaces the captions of the
/// same speaker's slot (`session`, `speaker`, `slot_start`) heard between `started_ms`
/// and `ended_ms`.
#[derive(Serialize, ToSchema)]
pub struct TranscriptMessage<'a> {
    /// Always `transcript`.
    pub r#type: TranscriptTag,
    /// The server's clock, milliseconds since the epoch.
    pub server_time_ms: u64,
    /// The session the speech was heard in.
    pub session: u64,
    /// The speech's id in the archive (`GET /api/v1/archive/speeches`).
    pub speech: i64,
    /// The speaker's address, EIP-55 checksummed.
    pub speaker: &'a str,
    /// The slot's start, seconds since the epoch.
    pub slot_start: u64,
    /// The speech's first packet, milliseconds since the epoch.
    pub started_ms: u64,
    /// Its last packet, milliseconds since the epoch.
    pub ended_ms: u64,
    /// The whole speech's text.
    pub text: &'a str,
}
