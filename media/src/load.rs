//! How many peers the engine holds, and where a new listener goes: the engine shard holding
//! the fewest. A listener is counted here when it is placed and released by its shard when it
//! leaves; a publisher when its offer is answered and when its shard drops it. The node's
//! limits are enforced on these counts.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// How many listeners each shard holds (a new listener goes to the lightest), and how many
/// publishers the engine holds.
#[derive(Debug)]
pub(crate) struct Load {
    listeners: Vec<AtomicUsize>,
    publishers: AtomicUsize,
}

impl Load {
    /// Counts for `shards` shards (at least one).
    pub(crate) fn new(shards: usize) -> Self {
        Self {
            listeners: (0..shards.max(1)).map(|_| AtomicUsize::new(0)).collect(),
            publishers: AtomicUsize::new(0),
        }
    }

    /// Listeners on every shard.
    pub(crate) fn listeners(&self) -> usize {
        self.listeners.iter().map(|n| n.load(Relaxed)).sum()
    }

    /// Publishers in the engine.
    pub(crate) fn publishers(&self) -> usize {
        self.publishers.load(Relaxed)
    }

    /// Counts one publisher more.
    pub(crate) fn add_publisher(&self) {
        self.publishers.fetch_add(1, Relaxed);
    }

    /// Counts one publisher fewer.
    pub(crate) fn release_publisher(&self) {
        let _ = self
            .publishers
            .fetch_update(Relaxed, Relaxed, |v| v.checked_sub(1));
    }

    /// Picks the shard with the fewest listeners and counts one more there. Ties go to the
    /// last shard: shard 0 also reads the port and serves the publishers.
    pub(crate) fn place(&self) -> usize {
        let (shard, n) = self
            .listeners
            .iter()
            .enumerate()
            .rev()
            .min_by_key(|(_, n)| n.load(Relaxed))
            .unwrap_or((0, &self.listeners[0]));
        n.fetch_add(1, Relaxed);
        shard
    }

    /// Counts one listener fewer on `shard`.
    pub(crate) fn release(&self, shard: usize) {
        if let Some(n) = self.listeners.get(shard) {
            let _ = n.fetch_update(Relaxed, Relaxed, |v| v.checked_sub(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Load;

    #[test]
    fn listeners_go_to_the_lightest_shard_the_front_last() {
        let load = Load::new(3);
        let placed: Vec<usize> = (0..6).map(|_| load.place()).collect();
        assert_eq!(placed, [2, 1, 0, 2, 1, 0]);
        load.release(1);
        load.release(1);
        assert_eq!(load.place(), 1);
        load.release(7); // no such shard: ignored
        assert_eq!(Load::new(0).place(), 0);
    }
}
