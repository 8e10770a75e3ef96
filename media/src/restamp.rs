//! One continuous RTP timeline for listeners across speakers. Each publisher has its own
//! random RTP clock; listeners keep one track for the whole session, so the program
//! timestamp must continue from the last packet sent, advanced by the wall-clock gap
//! between speakers (a jitter buffer then plays the gap as silence instead of stretching or
//! dropping audio). Sequence numbers are str0m's, per outgoing stream, and so are already
//! continuous. Computed once per packet for the whole room, not per listener.

use std::time::Instant;

/// Opus's RTP clock rate.
pub const CLOCK_RATE: u64 = 48_000;
/// One 20 ms Opus frame at 48 kHz: the least a new speaker's first packet advances.
const MIN_STEP: u64 = 960;

/// Maps each source's RTP time onto the program timeline.
#[derive(Debug, Default)]
pub struct Restamp {
    /// The current source and the offset from its clock to the program's.
    source: Option<(u64, i128)>,
    /// The last program time sent and when.
    last: Option<(u64, Instant)>,
}

impl Restamp {
    /// The program time of a packet stamped `time` (48 kHz) by `source`, arriving `at`.
    pub fn map(&mut self, source: u64, time: u64, at: Instant) -> u64 {
        let offset = match self.source {
            Some((s, offset)) if s == source => offset,
            _ => {
                // A new speaker: continue after the last packet, by the time that passed.
                let out = match self.last {
                    None => time,
                    Some((last, when)) => {
                        let gap = at.saturating_duration_since(when).as_micros() as u64;
                        last + (gap * CLOCK_RATE / 1_000_000).max(MIN_STEP)
                    }
                };
                let offset = out as i128 - time as i128;
                self.source = Some((source, offset));
                offset
            }
        };
        let out = (time as i128 + offset).max(0) as u64;
        self.last = Some((out, at));
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn continues_across_speakers_by_the_wall_clock_gap() {
        let t0 = Instant::now();
        let mut r = Restamp::default();
        assert_eq!(r.map(1, 5_000, t0), 5_000);
        assert_eq!(r.map(1, 5_960, t0 + Duration::from_millis(20)), 5_960);
        // A second speaker with an unrelated clock, 500 ms later.
        let out = r.map(2, 9_000_000, t0 + Duration::from_millis(520));
        assert_eq!(out, 5_960 + 24_000);
        assert_eq!(
            r.map(2, 9_000_960, t0 + Duration::from_millis(540)),
            out + 960
        );
        // Back to the first speaker (a new connection has a new source id in practice).
        let back = r.map(1, 6_920, t0 + Duration::from_millis(540));
        assert_eq!(back, out + 960 + MIN_STEP);
    }
}
