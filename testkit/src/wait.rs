//! Waiting for the node to catch up with the chain, with a deadline and a name for what
//! did not happen.

use std::time::{Duration, Instant};

/// Polls `check` every 20 ms; panics naming `what` after `within`.
pub async fn wait_until(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (up to `within`) until the in-process node's floor plan for `session` has `n` slots.
#[cfg(feature = "node")]
pub async fn wait_for_slots(node: &crate::node::Node, session: u64, n: usize, within: Duration) {
    wait_until(&format!("{n} slots in the plan"), within, || {
        node.media()
            .gate()
            .plan(session)
            .is_some_and(|p| p.slots().len() == n)
    })
    .await;
}
