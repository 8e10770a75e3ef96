//! HTTP routes over the archive (the front door's other routes are in [`crate::http`] and
//! [`crate::whip`]).
//!
//! - [`archive`] — speeches by session or speaker, one speech, and its audio.
//! - [`record`] — each occurrence's record as anchored on chain, and a speech's proof.
//! - [`corrections`] — speakers' signed corrections of their transcripts.
//! - [`cluster`] — the registered nodes and which is this one.
//! - [`relay`] — WHIP from sibling nodes, relaying their speakers.
//! - [`hansard`] — search and exports of the transcripts.
//! - [`names`] — an address's ENS name and avatar.
//! - [`participation`] — an account's attendance and participation, JSON and CSV.
//! - [`feeds`] — Atom feeds: an orchestrator's speeches, a proposal's debate.
//! - [`searches`] — saved searches and their feeds.
//! - [`webhooks`] — registering, listing and deleting one's webhooks.

pub mod archive;
pub mod cluster;
pub mod corrections;
pub mod feeds;
pub mod hansard;
pub mod names;
pub mod participation;
pub mod record;
pub mod relay;
pub mod searches;
pub mod webhooks;
