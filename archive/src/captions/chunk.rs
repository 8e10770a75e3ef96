//! Cutting the floor holder's audio into short chunks for the engine. A chunk ends at a
//! pause once it holds [`MIN_TICKS`] of audio (so words are rarely cut in half), at
//! [`MAX_TICKS`] whatever is said (so a caption is never more than a few seconds late), when
//! the speaker changes, or when the audio stops for [`IDLE`].
//!
//! Pauses are judged from the Opus packets alone, without decoding: an encoder spends far
//! fewer bytes on a quiet frame than on speech, so a run of packets much smaller than the
//! chunk's average is a pause.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::Address;

use assembly_media::opus::opus_samples;

/// A chunk is cut at a pause once it holds this much audio (2 s at 48 kHz).
pub const MIN_TICKS: u64 = 2 * 48_000;
/// A chunk is cut here whatever is being said (4 s).
pub const MAX_TICKS: u64 = 4 * 48_000;
/// No packet for this long ends the chunk (the speaker paused, yielded or dropped).
pub const IDLE: Duration = Duration::from_millis(600);
/// Chunks shorter than this are dropped: too short to hold a word, and Whisper models
/// invent words for near-empty audio.
pub const SHORTEST_TICKS: u64 = 48_000 * 3 / 10;
/// Quiet packets in a row that make a pause (60 ms of 20 ms frames).
const PAUSE_RUN: u32 = 3;
/// A packet is quiet when its size times this is under the chunk's average size.
const QUIET_RATIO: usize = 3;
/// Below this average packet size (bytes) a chunk is silence, not worth transcribing.
const SILENT_AVERAGE: usize = 12;

/// Audio to transcribe: one speaker's packets within one slot, in order.
#[derive(Clone, Debug)]
pub struct Chunk {
    /// The session it was heard in.
    pub session: u64,
    /// Who spoke it.
    pub speaker: Address,
    /// The slot's start, milliseconds since the epoch.
    pub slot_start_ms: u64,
    /// When its first packet was heard, milliseconds since the epoch.
    pub start_ms: u64,
    /// When its last packet ends, milliseconds since the epoch.
    pub end_ms: u64,
    /// The Opus packets.
    pub packets: Vec<Arc<[u8]>>,
    /// Its audio, in 48 kHz ticks.
    pub ticks: u64,
}

impl Chunk {
    /// Whether it is worth sending to the engine: long enough, and not silence.
    pub fn worth_transcribing(&self) -> bool {
        let bytes: usize = self.packets.iter().map(|p| p.len()).sum();
        self.ticks >= SHORTEST_TICKS && bytes >= SILENT_AVERAGE * self.packets.len()
    }
}

/// One session's chunk being gathered.
struct Open {
    chunk: Chunk,
    bytes: usize,
    quiet_run: u32,
    last_seen_ms: u64,
}

/// The chunker: every session's chunk being gathered.
#[derive(Default)]
pub struct Chunker {
    open: HashMap<u64, Open>,
}

impl Chunker {
    /// Adds a packet heard at `at_ms`; returns the chunks it completes (the previous
    /// speaker's, or this one's when it reached a cut).
    pub fn push(
        &mut self,
        session: u64,
        speaker: Address,
        slot_start_ms: u64,
        at_ms: u64,
        packet: Arc<[u8]>,
    ) -> Vec<Chunk> {
        let mut done = Vec::new();
        let same = self
            .open
            .get(&session)
            .is_some_and(|o| o.chunk.speaker == speaker && o.chunk.slot_start_ms == slot_start_ms);
        if !same {
            done.extend(self.open.remove(&session).map(|o| o.chunk));
        }
        let ticks = u64::from(opus_samples(&packet).max(1));
        let o = self.open.entry(session).or_insert_with(|| Open {
            chunk: Chunk {
                session,
                speaker,
                slot_start_ms,
                start_ms: at_ms,
                end_ms: at_ms,
                packets: Vec::new(),
                ticks: 0,
            },
            bytes: 0,
            quiet_run: 0,
            last_seen_ms: at_ms,
        });
        let average = if o.chunk.packets.is_empty() {
            0
        } else {
            o.bytes / o.chunk.packets.len()
        };
        o.quiet_run = if packet.len() * QUIET_RATIO < average {
            o.quiet_run + 1
        } else {
            0
        };
        o.bytes += packet.len();
        o.chunk.packets.push(packet);
        o.chunk.ticks += ticks;
        o.chunk.end_ms = at_ms + ticks * 1000 / 48_000;
        o.last_seen_ms = at_ms;
        let at_pause = o.chunk.ticks >= MIN_TICKS && o.quiet_run >= PAUSE_RUN;
        if at_pause || o.chunk.ticks >= MAX_TICKS {
            done.extend(self.open.remove(&session).map(|o| o.chunk));
        }
        done
    }

    /// The chunks of sessions whose audio stopped [`IDLE`] before `now_ms`.
    pub fn idle(&mut self, now_ms: u64) -> Vec<Chunk> {
        let quiet: Vec<u64> = self
            .open
            .iter()
            .filter(|(_, o)| now_ms.saturating_sub(o.last_seen_ms) >= IDLE.as_millis() as u64)
            .map(|(s, _)| *s)
            .collect();
        quiet
            .into_iter()
            .filter_map(|s| self.open.remove(&s).map(|o| o.chunk))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 20 ms CELT frame (TOC config 31, one frame) of `len` bytes.
    fn frame(len: usize) -> Arc<[u8]> {
        let mut p = vec![0x55u8; len];
        p[0] = 0xf8;
        p.into()
    }

    fn feed(
        c: &mut Chunker,
        who: u8,
        sizes: impl IntoIterator<Item = usize>,
        t0: u64,
    ) -> Vec<Chunk> {
        let mut out = Vec::new();
        for (i, len) in sizes.into_iter().enumerate() {
            out.extend(c.push(
                1,
                Address::repeat_byte(who),
                10_000,
                t0 + i as u64 * 20,
                frame(len),
            ));
        }
        out
    }

    #[test]
    fn continuous_speech_is_cut_at_the_longest_chunk() {
        let mut c = Chunker::default();
        let out = feed(&mut c, 1, std::iter::repeat_n(80, 450), 0);
        // 9 s of speech without a pause: two 4 s chunks, 1 s still open.
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].ticks, MAX_TICKS);
        assert_eq!((out[0].start_ms, out[0].end_ms), (0, 4_000));
        assert_eq!(out[1].start_ms, 4_000);
        let rest = c.idle(9_000 + IDLE.as_millis() as u64);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].packets.len(), 50);
    }

    #[test]
    fn a_pause_after_two_seconds_cuts() {
        let mut c = Chunker::default();
        // A pause at 1 s is too early to cut; one at 2.5 s cuts.
        let sizes = [
            vec![80; 50],
            vec![6; 5],
            vec![80; 70],
            vec![6; 5],
            vec![80; 10],
        ]
        .concat();
        let out = feed(&mut c, 1, sizes, 0);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].packets.len(), 50 + 5 + 70 + PAUSE_RUN as usize);
    }

    #[test]
    fn a_new_speaker_ends_the_chunk_and_idle_flushes() {
        let mut c = Chunker::default();
        assert!(feed(&mut c, 1, [80; 30], 0).is_empty());
        let out = feed(&mut c, 2, [80; 10], 600);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].speaker, Address::repeat_byte(1));
        assert!(c.idle(700).is_empty(), "not idle yet");
        let rest = c.idle(800 + IDLE.as_millis() as u64);
        assert_eq!(rest[0].speaker, Address::repeat_byte(2));
    }

    #[test]
    fn silence_and_slivers_are_not_worth_transcribing() {
        let mut c = Chunker::default();
        feed(&mut c, 1, [4; 100], 0);
        assert!(!c.idle(10_000)[0].worth_transcribing());
        feed(&mut c, 1, [80; 5], 0);
        assert!(
            !c.idle(10_000)[0].worth_transcribing(),
            "100 ms is a sliver"
        );
        feed(&mut c, 1, [80; 50], 0);
        assert!(c.idle(10_000)[0].worth_transcribing());
    }
}
