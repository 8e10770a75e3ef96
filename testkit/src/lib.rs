//! What Assembly's tests and benchmarks share, as a dev-dependency (reth's test-utils shape):
//!
//! - [`chain`] — [`TestChain`](chain::TestChain): anvil on a free loopback port with Livepeer's
//!   mocks and Assembly deployed, a clock the test sets, and the calls most tests repeat.
//! - [`anchor`] — RecordAnchor deployed over a test chain, and ether for the keys that anchor.
//! - [`rng`] — a seeded generator for randomized histories that replay.
//! - [`paths`] — the repository's files and the Foundry binaries `script/setup` installs.
//! - [`clock`], [`ports`], [`wait`] — the present, free loopback ports, deadlines that name
//!   what did not happen.
//!
//! With the `node` feature (the node's tests and benchmarks; the indexer's tests do without,
//! so they build without the crates above the indexer):
//!
//! - [`node`] — a node in process or as the `assembly-node` binary, against a test chain.
//! - [`live`] — its live-state WebSocket: connect, and wait for a message.
//! - [`siwe`] — signing in as an anvil account.
//! - [`speaking`] — signed audio: a speaking key an anvil account certified.
//! - [`record`] — nodes that transcribe and anchor, speakers who speak, records read and
//!   leaves verified on chain.
//! - [`frames`] — a publisher's packets, pumped every 20 ms.
//! - [`peers`] — WebRTC peers from other stacks (aiortc, GStreamer), run as scripts.
//! - [`voice`] — words spoken by espeak-ng as Opus packets, and a process guard.
//!
//! Helpers panic, with a message saying what failed, rather than return errors: a test that
//! cannot set up has nothing better to do.

pub mod anchor;
pub mod chain;
pub mod clock;
pub mod paths;
pub mod ports;
pub mod registry;
pub mod rng;
pub mod wait;

#[cfg(feature = "node")]
pub mod frames;
#[cfg(feature = "node")]
pub mod live;
#[cfg(feature = "node")]
pub mod node;
#[cfg(feature = "node")]
pub mod peers;
#[cfg(feature = "node")]
pub mod record;
#[cfg(feature = "node")]
pub mod s3;
#[cfg(feature = "node")]
pub mod siwe;
#[cfg(feature = "node")]
pub mod speaking;
#[cfg(feature = "node")]
pub mod voice;
