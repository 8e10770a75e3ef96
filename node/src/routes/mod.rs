//! HTTP routes over the archive (the front door's other routes are in [`crate::http`] and
//! [`crate::whip`]).
//!
//! - [`archive`] — speeches by session or speaker, one speech, and its audio.
//! - [`hansard`] — search and exports of the transcripts.
//! - [`names`] — an address's ENS name and avatar.
//! - [`participation`] — an account's attendance and participation, JSON and CSV.

pub mod archive;
pub mod hansard;
pub mod names;
pub mod participation;
