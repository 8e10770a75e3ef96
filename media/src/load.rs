//! How many peers the engine holds, and where a new listener goes: the engine shard holding
//! the fewest. A listener is counted here when it is placed and released by its shard when it
//! leaves; a publisher when its offer is answered and when its shard drops it. The node's
//! limits are enforced on these counts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;

/// How many listeners each shard holds (a new listener goes to the lightest), and how many
/// publishers the engine holds.
#[derive(Debug)]
pub(crate) struct Load {
    listeners: Vec<AtomicUsize>,
    publishers: AtomicUsize,
    /// Listeners by the network address they came from (those whose address is known).
    by_address: Mutex<HashMap<IpAddr, usize>>,
}

impl Load {
    /// Counts for `shards` shards (at least one).
    pub(crate) fn new(shards: usize) -> Self {
        Self {
            listeners: (0..shards.max(1)).map(|_| AtomicUsize::new(0)).collect(),
            publishers: AtomicUsize::new(0),
            by_address: Mutex::new(HashMap::new()),
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

    /// Listeners held from `ip`.
    pub(crate) fn held_by(&self, ip: IpAddr) -> usize {
        self.by_address.lock().get(&ip).copied().unwrap_or(0)
    }

    /// Picks the shard with the fewest listeners and counts one more there (and one more
    /// from `from`). Ties go to the last shard: shard 0 also reads the port and serves the
    /// publishers.
    pub(crate) fn place(&self, from: Option<IpAddr>) -> usize {
        if let Some(ip) = from {
            *self.by_address.lock().entry(ip).or_insert(0) += 1;
        }
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

    /// Counts one listener fewer on `shard` (and from `from`).
    pub(crate) fn release(&self, shard: usize, from: Option<IpAddr>) {
        if let Some(ip) = from {
            let mut by = self.by_address.lock();
            if let Some(n) = by.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    by.remove(&ip);
                }
            }
        }
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
        let placed: Vec<usize> = (0..6).map(|_| load.place(None)).collect();
        assert_eq!(placed, [2, 1, 0, 2, 1, 0]);
        load.release(1, None);
        load.release(1, None);
        assert_eq!(load.place(None), 1);
        load.release(7, None); // no such shard: ignored
        assert_eq!(Load::new(0).place(None), 0);
    }

    #[test]
    fn listeners_are_counted_by_address() {
        let load = Load::new(2);
        let (a, b) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let on = [
            load.place(Some(a)),
            load.place(Some(a)),
            load.place(Some(b)),
        ];
        assert_eq!((load.held_by(a), load.held_by(b)), (2, 1));
        load.release(on[0], Some(a));
        load.release(on[2], Some(b));
        assert_eq!((load.held_by(a), load.held_by(b)), (1, 0));
        assert_eq!(load.listeners(), 1);
    }
}
