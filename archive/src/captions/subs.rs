//! One session's subtitles rendition on disk, kept beside its audio by the HLS segmenter:
//! `master.m3u8` (audio plus captions), `subs.m3u8`, and one `sub{msn}.vtt` per audio segment.
//!
//! A caption reaches the node a few seconds after its words (a chunk is cut, then
//! transcribed), so each WebVTT segment is written [`LAG`] after its audio segment ends,
//! holding the cues that arrived by then. The subtitles playlist therefore trails the audio
//! playlist by that much; players fetch it as they go. Segments are never rewritten (HLS
//! segments are immutable): a cue later than [`LAG`] appears only in the segments still
//! unwritten, and the Hansard's final transcript is on the WebSocket and the Hansard pages,
//! not in the broadcast.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use super::vtt::{self, SubSegment};
use super::Cue;

/// How long after its audio a WebVTT segment is written.
pub const LAG_MS: u64 = 8_000;

/// The subtitles of one stream.
pub struct Subtitles {
    dir: PathBuf,
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
    /// Subtitles in `dir`, keeping `window` segments; writes the multivariant playlist.
    pub fn open(dir: &Path, window: usize) -> std::io::Result<Self> {
        write_atomic(&dir.join("master.m3u8"), vtt::multivariant().as_bytes())?;
        Ok(Self {
            dir: dir.to_path_buf(),
            cues: Vec::new(),
            waiting: VecDeque::new(),
            written: VecDeque::new(),
            window,
            discontinuity_sequence: 0,
        })
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

    /// Writes the WebVTT segments due at `now_ms`, and the playlist if any was written.
    pub fn flush(&mut self, now_ms: u64) -> std::io::Result<()> {
        let mut wrote = false;
        while let Some(seg) = self.waiting.front() {
            let end = seg.pdt_ms + (seg.duration * 1000.0).round() as u64;
            if end + LAG_MS > now_ms {
                break;
            }
            let Some(seg) = self.waiting.pop_front() else {
                break;
            };
            let text = vtt::segment(&seg, &self.cues);
            write_atomic(&self.dir.join(vtt::segment_name(seg.msn)), text.as_bytes())?;
            self.cues.retain(|c| c.end_ms > end);
            self.written.push_back(seg);
            wrote = true;
        }
        while self.written.len() > self.window {
            if let Some(old) = self.written.pop_front() {
                if old.discontinuity {
                    self.discontinuity_sequence += 1;
                }
                let _ = std::fs::remove_file(self.dir.join(vtt::segment_name(old.msn)));
            }
        }
        if wrote {
            let segs: Vec<SubSegment> = self.written.iter().cloned().collect();
            let list = vtt::playlist(&segs, self.discontinuity_sequence);
            write_atomic(&self.dir.join("subs.m3u8"), list.as_bytes())?;
        }
        Ok(())
    }
}

/// Writes through a temporary file and a rename, so a server never serves half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_wait_for_their_cues_then_slide() {
        let dir = std::env::temp_dir().join(format!("captions-subs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Subtitles::open(&dir, 2).unwrap();
        assert!(dir.join("master.m3u8").exists());
        for msn in 0..3 {
            s.audio_cut(SubSegment {
                msn,
                duration: 1.0,
                pdt_ms: 100_000 + msn * 1000,
                decode_time: msn * 48_000,
                discontinuity: false,
            });
        }
        s.flush(101_000 + LAG_MS - 1).unwrap();
        assert!(!dir.join("subs.m3u8").exists(), "not due yet");
        // A caption over the first two segments, arriving late but within the lag.
        s.cue(Cue {
            session: 1,
            speaker: "0xAb".into(),
            slot_start: 100,
            start_ms: 100_200,
            end_ms: 101_500,
            text: "hello there".into(),
        });
        s.flush(102_000 + LAG_MS).unwrap();
        let first = std::fs::read_to_string(dir.join("sub0.vtt")).unwrap();
        assert!(
            first.contains("00:00:00.200 --> 00:00:01.000\nhello there"),
            "{first}"
        );
        let second = std::fs::read_to_string(dir.join("sub1.vtt")).unwrap();
        assert!(
            second.contains("00:00:00.000 --> 00:00:00.500\nhello there"),
            "{second}"
        );
        s.flush(103_000 + LAG_MS).unwrap();
        let list = std::fs::read_to_string(dir.join("subs.m3u8")).unwrap();
        assert!(
            list.contains("#EXT-X-MEDIA-SEQUENCE:1\n") && list.contains("sub2.vtt"),
            "{list}"
        );
        assert!(!dir.join("sub0.vtt").exists(), "slid out of the window");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
