//! Assembly's indexer: follows the Assembly contract's events exactly once — backfill, then
//! live — through reorgs and restarts, keeps its state in SQLite, and turns it into the
//! floor timeline (who holds the floor from when to when) by the rule in [`floor`].
//!
//! - [`bindings`] — `sol!` bindings generated from the forge artifacts.
//! - [`deployment`] — the deployment file written by `script/Deploy.s.sol`.
//! - [`events`] — chain logs decoded into the events the store applies.
//! - [`store`] — the embedded database: blocks, events, sessions, queues; rollback on reorg.
//! - [`sync`] — the follower: batched backfill, live follow, reorg detection, retries.
//! - [`api`] — the read-only HTTP/JSON API and change stream served to media nodes.
//! - [`nodes`] — the cluster: the node registry's events folded into its registered nodes.
//! - [`roles`] — the eligibility cache (orchestrator / delegator / observer, with stake).
//! - [`start`] — one start-up (settings, tasks, signals) for every binary that follows the chain.
//! - [`keeper`] — opens the debate of every new governance proposal.
//! - [`recurrence`] — cron expressions turned into recurring session schedules.
//! - [`telemetry`] — logging set-up shared by the binaries.
//! - [`floor`] — the floor rule (the `assembly-floor` crate, re-exported).

pub mod api;
pub mod bindings;
pub mod deployment;
pub mod events;
pub use assembly_floor as floor;
pub mod ipfs;
pub mod keeper;
pub mod nodes;
pub mod recurrence;
pub mod roles;
pub mod start;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod titles;
