//! Where a new listener goes: the engine shard holding the fewest. Counted here when a
//! listener is placed, and released by its shard when it leaves.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// How many listeners each shard holds: a new listener goes to the lightest.
#[derive(Debug)]
pub struct Load(Vec<AtomicUsize>);

impl Load {
    /// Counts for `shards` shards (at least one).
    pub fn new(shards: usize) -> Self {
        Self((0..shards.max(1)).map(|_| AtomicUsize::new(0)).collect())
    }

    /// Picks the shard with the fewest listeners and counts one more there. Ties go to the
    /// last shard: shard 0 also reads the port and serves the publishers.
    pub fn place(&self) -> usize {
        let (shard, n) = self
            .0
            .iter()
            .enumerate()
            .rev()
            .min_by_key(|(_, n)| n.load(Relaxed))
            .unwrap_or((0, &self.0[0]));
        n.fetch_add(1, Relaxed);
        shard
    }

    /// Counts one listener fewer on `shard`.
    pub fn release(&self, shard: usize) {
        if let Some(n) = self.0.get(shard) {
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
