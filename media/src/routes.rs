//! Which peer a datagram is for. A peer's address is learned from its connectivity checks:
//! a STUN Binding request names the node-side ufrag of the peer it is for (the ufrag is
//! registered when the offer is answered), and every later datagram from that address goes
//! to the same peer, until a check from elsewhere moves it (ICE's own rule for a peer whose
//! address changed).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use crate::stun;

/// A peer and the shard it lives on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) shard: usize,
    pub(crate) peer: u64,
}

/// Addresses one peer may be reached from at once. ICE uses a handful (host, reflexive,
/// relayed); a peer that knows its own ufrag cannot grow the table past this by sending
/// checks from ever new ports.
const ADDRESSES_PER_PEER: usize = 8;

/// Which peer a datagram is for.
#[derive(Default)]
pub(crate) struct Routes {
    ufrags: HashMap<Box<[u8]>, Route>,
    by_addr: HashMap<SocketAddr, Route>,
    /// Each peer's ufrag and the addresses it was last seen from, oldest first.
    peers: HashMap<u64, (Box<[u8]>, VecDeque<SocketAddr>)>,
}

impl Routes {
    /// Checks naming `ufrag` are for `route`'s peer.
    pub(crate) fn register(&mut self, ufrag: &str, route: Route) {
        let ufrag: Box<[u8]> = ufrag.as_bytes().into();
        self.ufrags.insert(ufrag.clone(), route);
        self.peers.insert(route.peer, (ufrag, VecDeque::new()));
    }

    /// Forgets `peer`: its ufrag and its addresses.
    pub(crate) fn forget(&mut self, peer: u64) {
        let Some((ufrag, addrs)) = self.peers.remove(&peer) else {
            return;
        };
        self.ufrags.remove(&ufrag);
        for a in addrs {
            if self.by_addr.get(&a).is_some_and(|r| r.peer == peer) {
                self.by_addr.remove(&a);
            }
        }
    }

    /// Where a datagram from `source` goes: by the ufrag a connectivity check names (which
    /// also teaches its address), else by the address.
    pub(crate) fn find(&mut self, source: SocketAddr, datagram: &[u8]) -> Option<Route> {
        let Some(ufrag) = stun::request_ufrag(datagram) else {
            return self.by_addr.get(&source).copied();
        };
        let route = *self.ufrags.get(ufrag)?;
        if self.by_addr.insert(source, route) != Some(route) {
            if let Some((_, addrs)) = self.peers.get_mut(&route.peer) {
                addrs.push_back(source);
                if addrs.len() > ADDRESSES_PER_PEER {
                    if let Some(old) = addrs.pop_front() {
                        if self.by_addr.get(&old) == Some(&route) {
                            self.by_addr.remove(&old);
                        }
                    }
                }
            }
        }
        Some(route)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_addr.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn checks_teach_addresses_and_data_follows_them() {
        let mut r = Routes::default();
        let (a, b) = (Route { shard: 1, peer: 7 }, Route { shard: 0, peer: 8 });
        r.register("aaaa", a);
        r.register("bbbb", b);
        let rtp = [0x80u8, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        // Nothing is known of an address before its peer's first check.
        assert_eq!(r.find(at(1000), &rtp), None);
        assert_eq!(
            r.find(at(1000), &stun::check_naming("zzzz")),
            None,
            "unknown ufrag"
        );
        assert_eq!(r.find(at(1000), &stun::check_naming("aaaa")), Some(a));
        assert_eq!(r.find(at(1000), &rtp), Some(a));
        // A check from the same address for another peer moves it (ICE's rule).
        assert_eq!(r.find(at(1000), &stun::check_naming("bbbb")), Some(b));
        assert_eq!(r.find(at(1000), &rtp), Some(b));
        r.forget(8);
        assert_eq!(r.find(at(1000), &rtp), None);
        assert_eq!(
            r.find(at(1001), &stun::check_naming("bbbb")),
            None,
            "forgotten ufrag"
        );
        r.forget(8); // twice: nothing
    }

    #[test]
    fn a_peer_holds_a_bounded_number_of_addresses() {
        let mut r = Routes::default();
        let a = Route { shard: 0, peer: 1 };
        r.register("aaaa", a);
        for port in 2000..3000 {
            assert_eq!(r.find(at(port), &stun::check_naming("aaaa")), Some(a));
        }
        assert_eq!(r.len(), ADDRESSES_PER_PEER);
        // The newest addresses are the ones kept.
        assert_eq!(r.find(at(2999), &[0x80, 0]), Some(a));
        assert_eq!(r.find(at(2000), &[0x80, 0]), None);
        r.forget(1);
        assert_eq!(r.len(), 0);
    }
}
