//! One session's subtitles rendition, kept beside its audio by the HLS segmenter:
//! `master.m3u8` (the captioned audio plus captions), `subs.m3u8`, and one `sub{msn}.vtt`
//! per audio segment. This module decides what the files say and when; the segmenter writes
//! them (and copies them to the bucket) with the audio's own files.
//!
//! A caption reaches the node a few seconds after its words (a chunk is cut, then
//! transcribed), so each WebVTT segment is written [`LAG_MS`] after its audio segment ends,
//! holding the cues that arrived by then. The subtitles playlist therefore trails the audio
//! playlist by that much, and the audio playlist `master.m3u8` names (`captioned.m3u8`, the
//! same segments as `index.m3u8`) asks players to hold back [`HOLD_BACK_S`], so that any
//! HLS player, with no setting of its own, plays where the captions already are. Segments
//! are never rewritten (HLS segments are immutable): a cue later than [`LAG_MS`] appears only
//! in the segments still unwritten, and the Hansard's final transcript is on the WebSocket
//! and the Hansard pages, not in the broadcast.

use std::collections::VecDeque;

use super::vtt::{self, SubSegment};
use super::Cue;

/// How long after its audio a WebVTT segment is written.
pub const LAG_MS: u64 = 8_000;

/// How far behind the live edge the captioned audio playlist asks players to play: the lag,
/// the one-second segment it trails, and two of margin for the playlists' refreshes.
pub const HOLD_BACK_S: f64 = (LAG_MS / 1000 + 3) as f64;

/// A file of the rendition to write (`bytes` under `name`) or to remove.
#[derive(Debug, PartialEq)]
pub enum Change {
    /// Write `bytes` as `name`.
    Put {
        /// The file name, beside the audio's.
        name: String,
        /// Its contents.
        bytes: Vec<u8>,
        /// Its media type.
        content_type: &'static str,
    },
    /// Remove `name` (slid out of the window).
    Delete(String),
}

/// The subtitles of one stream.
pub struct Subtitles {
    /// Cues that may still fall in a segment to be written.
    cues: Vec<Cue>,
    /// Audio segments whose WebVTT segment is not written yet.
    waiting: VecDeque<SubSegment>,
    /// The playlist's segments.
    written: VecDeque<SubSegment>,
    window: usize,
    discontinuity_sequence: u64,
}

impl Subtitles {
    /// Subtitles keeping `window` segments.
    pub fn new(window: usize) -> Self {
        Self {
            cues: Vec::new(),
            waiting: VecDeque::new(),
            written: VecDeque::new(),
            window,
            discontinuity_sequence: 0,
        }
    }

    /// The multivariant playlist, written once when the stream opens.
    pub fn master() -> Change {
        Change::Put {
            name: "master.m3u8".into(),
            bytes: vtt::multivariant().into_bytes(),
            content_type: PLAYLIST,
        }
    }

    /// A caption for this stream.
    pub fn cue(&mut self, cue: Cue) {
        // A cue older than everything still waiting can never be written.
        if self.waiting.front().is_some_and(|s| cue.end_ms <= s.pdt_ms) {
            return;
        }
        self.cues.push(cue);
    }

    /// The audio segment `seg` was cut.
    pub fn audio_cut(&mut self, seg: SubSegment) {
        self.waiting.push_back(seg);
    }

    /// The files due at `now_ms`: the WebVTT segments, in order, then the playlist naming
    /// them (a player never sees a name before its file), then what slid out of the window.
    pub fn flush(&mut self, now_ms: u64) -> Vec<Change> {
        let mut changes = Vec::new();
        while let Some(seg) = self.waiting.front() {
            let end = seg.pdt_ms + (seg.duration * 1000.0).round() as u64;
            if end + LAG_MS > now_ms {
                break;
            }
            let Some(seg) = self.waiting.pop_front() else {
                break;
            };
            changes.push(Change::Put {
                name: vtt::segment_name(seg.msn),
                bytes: vtt::segment(&seg, &self.cues).into_bytes(),
                content_type: "text/vtt",
            });
            self.cues.retain(|c| c.end_ms > end);
            self.written.push_back(seg);
        }
        if changes.is_empty() {
            return changes;
        }
        let mut gone = Vec::new();
        while self.written.len() > self.window {
            if let Some(old) = self.written.pop_front() {
                if old.discontinuity {
                    self.discontinuity_sequence += 1;
                }
                gone.push(Change::Delete(vtt::segment_name(old.msn)));
            }
        }
        let segs: Vec<SubSegment> = self.written.iter().cloned().collect();
        changes.push(Change::Put {
            name: "subs.m3u8".into(),
            bytes: vtt::playlist(&segs, self.discontinuity_sequence).into_bytes(),
            content_type: PLAYLIST,
        });
        changes.extend(gone);
        changes
    }
}

/// The media type of a playlist.
pub const PLAYLIST: &str = "application/vnd.apple.mpegurl";

#[cfg(test)]
mod tests {
    use super::*;

    /// The files `changes` put, by name, and those they delete.
    fn files(changes: &[Change]) -> (Vec<(String, String)>, Vec<String>) {
        let mut put = Vec::new();
        let mut deleted = Vec::new();
        for c in changes {
            match c {
                Change::Put { name, bytes, .. } => {
                    put.push((name.clone(), String::from_utf8(bytes.clone()).unwrap()))
                }
                Change::Delete(name) => deleted.push(name.clone()),
            }
        }
        (put, deleted)
    }

    #[test]
    fn segments_wait_for_their_cues_then_slide() {
        let mut s = Subtitles::new(2);
        for msn in 0..3 {
            s.audio_cut(SubSegment {
                msn,
                duration: 1.0,
                pdt_ms: 100_000 + msn * 1000,
                decode_time: msn * 48_000,
                discontinuity: false,
            });
        }
        assert_eq!(s.flush(101_000 + LAG_MS - 1), vec![], "not due yet");
        // A caption over the first two segments, arriving late but within the lag.
        s.cue(Cue {
            session: 1,
            speaker: "0xAb".into(),
            slot_start: 100,
            start_ms: 100_200,
            end_ms: 101_500,
            text: "hello there".into(),
        });
        let (put, deleted) = files(&s.flush(102_000 + LAG_MS));
        let names: Vec<&str> = put.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["sub0.vtt", "sub1.vtt", "subs.m3u8"],
            "segments before the playlist"
        );
        assert!(deleted.is_empty());
        assert!(
            put[0]
                .1
                .contains("00:00:00.200 --> 00:00:01.000\nhello there"),
            "{}",
            put[0].1
        );
        assert!(
            put[1]
                .1
                .contains("00:00:00.000 --> 00:00:00.500\nhello there"),
            "{}",
            put[1].1
        );
        let (put, deleted) = files(&s.flush(103_000 + LAG_MS));
        let list = &put.last().unwrap().1;
        assert!(
            list.contains("#EXT-X-MEDIA-SEQUENCE:1\n") && list.contains("sub2.vtt"),
            "{list}"
        );
        assert_eq!(deleted, ["sub0.vtt"], "slid out of the window");
    }

    #[test]
    fn players_are_held_back_past_the_lag() {
        assert!(HOLD_BACK_S * 1000.0 >= (LAG_MS + 1000) as f64);
        let Change::Put { bytes, .. } = Subtitles::master() else {
            panic!("the multivariant playlist is written")
        };
        let master = String::from_utf8(bytes).unwrap();
        assert!(master.contains("\ncaptioned.m3u8\n"), "{master}");
    }
}
