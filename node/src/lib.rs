//! Assembly's node: where people arrive. It signs them in with their wallet (SIWE, with
//! EIP-1271 for contract wallets), reads their role from chain state through the embedded
//! indexer, and pushes the assembly's live state and reactions over one WebSocket.
//!
//! - [`siwe`] — the EIP-4361 message.
//! - [`auth`] — nonces, signature checks, session tokens.
//! - [`live`] — the live state and its fan-out.
//! - [`captions`] — the live captions' and final transcripts' WebSocket messages.
//! - [`ws`] — the WebSocket protocol.
//! - [`presence`] — who is connected, counted once per person.
//! - [`whip`] — WHIP (speakers) and WHEP (listeners) signalling over HTTP.
//! - [`routes`] — the archive's and the Hansard's HTTP routes (the archive itself is the
//!   `assembly-archive` crate).
//! - [`cluster`] — the nodes registered on chain, and this node's key.
//! - [`anchor`] — each ended occurrence's record, anchored on chain.
//! - [`names`] — ENS names and avatars for addresses, checked both ways.
//! - [`participation`] — what one account did in the assembly, from chain, archive and attendance.
//! - [`said_voted`] — a debate's speeches beside its speakers' votes.
//! - [`reactions`] — the reaction set, rate limits, bursts.
//! - [`http`] — the router, and the sign-in, live-state and operator routes.
//! - [`openapi`] — the OpenAPI document, generated from the routes and wire types.
//! - [`state`] — what handlers share, and who is asking.
//! - [`calendar`] — the schedule as an iCalendar feed.
//! - [`atom`] — Atom feeds of speeches and debates.
//! - [`alerts`] — signed webhooks and saved searches: storage, detection, delivery.
//! - [`error`] — the one error shape clients get.
//! - [`metrics`] — Prometheus exposition.
//! - [`config`] — configuration.
//! - [`limits`] — what one address, and everyone, may cost the node.
//! - [`serve`] — the HTTP listener: connection bounds and header timeouts.
//! - [`app`] — wiring it all together.

pub mod alerts;
pub mod anchor;
pub mod app;
pub mod atom;
pub mod auth;
pub mod calendar;
pub mod captions;
pub mod cluster;
pub mod config;
pub mod corrections;
pub mod error;
pub mod http;
pub mod limits;
pub mod live;
pub mod metrics;
pub mod names;
pub mod openapi;
pub mod participation;
pub mod presence;
pub mod reactions;
pub mod routes;
pub mod said_voted;
pub mod serve;
pub mod siwe;
pub mod state;
pub mod verify;
pub mod wallets;
pub mod whip;
pub mod ws;
