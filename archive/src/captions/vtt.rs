//! The captions as HLS text: WebVTT segments, the subtitles media playlist, and the
//! multivariant playlist that offers them beside the audio.
//!
//! Each WebVTT segment covers exactly one audio segment (same sequence number, duration and
//! `EXT-X-PROGRAM-DATE-TIME`). Its `X-TIMESTAMP-MAP` ties the segment's local time zero to
//! the audio segment's first sample: `MPEGTS` is the fMP4 decode time of that sample in
//! 90 kHz units (what HLS players align subtitles against), so cue times are relative to
//! the segment's start.

use super::Cue;

/// A segment of the subtitles playlist, mirroring one audio segment.
#[derive(Clone, Debug, PartialEq)]
pub struct SubSegment {
    /// The audio segment's media sequence number.
    pub msn: u64,
    /// Seconds.
    pub duration: f64,
    /// Wall clock of its first sample, ms since the epoch.
    pub pdt_ms: u64,
    /// The audio segment's decode time, 48 kHz ticks.
    pub decode_time: u64,
    /// Whether a discontinuity precedes it.
    pub discontinuity: bool,
}

/// `ms` as a WebVTT timestamp, `HH:MM:SS.mmm`.
fn timestamp(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// Cue text as WebVTT takes it: no blank line or `-->` (they end a cue), `&` and `<` escaped.
fn cue_text(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace("-->", "--&gt;")
}

/// The WebVTT file for `seg`: every cue overlapping it, clipped to it, times relative to its start.
pub fn segment(seg: &SubSegment, cues: &[Cue]) -> String {
    // 33-bit MPEG-2 timestamps wrap; players unwrap them.
    let mpegts = (u128::from(seg.decode_time) * 90_000 / 48_000) as u64 % (1 << 33);
    let mut v = format!("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:00:00:00.000\n");
    let len_ms = (seg.duration * 1000.0).round() as u64;
    let end = seg.pdt_ms + len_ms;
    for c in cues
        .iter()
        .filter(|c| c.start_ms < end && c.end_ms > seg.pdt_ms)
    {
        let from = c.start_ms.max(seg.pdt_ms) - seg.pdt_ms;
        let to = c.end_ms.min(end) - seg.pdt_ms;
        v.push_str(&format!(
            "\n{} --> {}\n{}\n",
            timestamp(from),
            timestamp(to),
            cue_text(&c.text)
        ));
    }
    v
}

/// The file name of segment `msn`.
pub fn segment_name(msn: u64) -> String {
    format!("sub{msn}.vtt")
}

/// The subtitles media playlist over `segments` (oldest first).
pub fn playlist(segments: &[SubSegment], discontinuity_sequence: u64) -> String {
    let first = segments.first().map_or(0, |s| s.msn);
    let mut p = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}\n"
    );
    for s in segments {
        if s.discontinuity {
            p.push_str("#EXT-X-DISCONTINUITY\n");
        }
        let pdt = chrono::DateTime::from_timestamp_millis(s.pdt_ms as i64)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .unwrap_or_default();
        p.push_str(&format!(
            "#EXT-X-PROGRAM-DATE-TIME:{pdt}\n#EXTINF:{:.5},\n{}\n",
            s.duration,
            segment_name(s.msn)
        ));
    }
    p
}

/// The multivariant playlist: the captioned audio (`captioned.m3u8`: the segments of
/// `index.m3u8`, held back past the captions' lag) with the captions (`subs.m3u8`).
pub fn multivariant() -> String {
    "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
     #EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"Captions\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES,URI=\"subs.m3u8\"\n\
     #EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"opus\",SUBTITLES=\"subs\"\ncaptioned.m3u8\n"
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(start_ms: u64, end_ms: u64, text: &str) -> Cue {
        Cue {
            session: 1,
            speaker: "0xAb".into(),
            slot_start: 10,
            start_ms,
            end_ms,
            text: text.into(),
        }
    }

    #[test]
    fn a_segment_holds_its_cues_clipped() {
        let seg = SubSegment {
            msn: 7,
            duration: 1.0,
            pdt_ms: 1_700_000_010_000,
            decode_time: 48_000 * 7,
            discontinuity: false,
        };
        let cues = [
            cue(1_700_000_008_000, 1_700_000_010_400, "before and into"),
            cue(
                1_700_000_010_500,
                1_700_000_013_000,
                "a <b> & c --> d\n\nnext",
            ),
            cue(1_700_000_011_000, 1_700_000_012_000, "after"),
        ];
        assert_eq!(
            segment(&seg, &cues),
            "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:630000,LOCAL:00:00:00.000\n\
             \n00:00:00.000 --> 00:00:00.400\nbefore and into\n\
             \n00:00:00.500 --> 00:00:01.000\na &lt;b> &amp; c --&gt; d next\n"
        );
    }

    #[test]
    fn playlists() {
        let segs = [
            SubSegment {
                msn: 3,
                duration: 1.0,
                pdt_ms: 1_000,
                decode_time: 0,
                discontinuity: false,
            },
            SubSegment {
                msn: 4,
                duration: 1.02,
                pdt_ms: 2_000,
                decode_time: 48_000,
                discontinuity: true,
            },
        ];
        assert_eq!(
            playlist(&segs, 2),
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-DISCONTINUITY-SEQUENCE:2\n\
             #EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:01.000Z\n#EXTINF:1.00000,\nsub3.vtt\n\
             #EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:02.000Z\n#EXTINF:1.02000,\nsub4.vtt\n"
        );
        let m = multivariant();
        assert!(m.contains("TYPE=SUBTITLES,GROUP-ID=\"subs\""));
        assert!(m.contains("SUBTITLES=\"subs\"\ncaptioned.m3u8\n"));
        assert_eq!(timestamp(3_723_004), "01:02:03.004");
    }
}
