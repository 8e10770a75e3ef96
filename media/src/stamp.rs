//! Frames that carry their send time: what the load generator and the end-to-end tests
//! publish, so the path from a speaker's socket to a listener's is measured exactly (the
//! node never decodes audio, so a stamped payload passes through it untouched).

use std::sync::Arc;

use assembly_floor::clock;

/// A test/load frame: the sender's wall clock (µs since the epoch) and a counter, padded to
/// `size` bytes (an Opus frame at 32 kb/s is 80 bytes). The node never decodes audio, so a
/// stamped payload measures the path exactly.
pub fn stamped_frame(counter: u64, size: usize) -> Arc<[u8]> {
    let mut v = vec![0u8; size.max(16)];
    v[..8].copy_from_slice(&clock::now_us().to_be_bytes());
    v[8..16].copy_from_slice(&counter.to_be_bytes());
    v.into()
}

/// The stamp and counter of a frame made by [`stamped_frame`], signed or not (a signed
/// frame that carries attestations is read in its canonical form, without them).
pub fn read_stamp(frame: &[u8]) -> Option<(u64, u64)> {
    let canonical = assembly_provenance::packet::Packet::parse(frame)
        .ok()
        .filter(|p| !p.padding().is_empty())
        .map(|p| p.canonical().into_owned());
    let frame = canonical.as_deref().unwrap_or(frame);
    let t = u64::from_be_bytes(frame.get(..8)?.try_into().ok()?);
    let n = u64::from_be_bytes(frame.get(8..16)?.try_into().ok()?);
    Some((t, n))
}

#[cfg(test)]
mod tests {
    #[test]
    fn stamps_round_trip() {
        let f = super::stamped_frame(7, 80);
        assert_eq!(f.len(), 80);
        assert_eq!(super::read_stamp(&f).unwrap().1, 7);
    }
}
