//! The public broadcast: every session in progress as a continuous HLS stream of the floor,
//! Opus in fMP4 ([`fmp4`]), one-second segments each stamped with
//! `EXT-X-PROGRAM-DATE-TIME` (so players and the Hansard line up), written to a directory any
//! web server or CDN can serve (the node serves it at `/hls/`).
//!
//! The timeline never breaks: between speakers (and before the first) the stream carries
//! Opus silence, paced by the wall clock. A node that restarts continues the same playlist
//! after an `EXT-X-DISCONTINUITY`. Packets come from the media engine over a bounded channel
//! it never waits on.
//!
//! With captions on, each session also has `master.m3u8`: the audio (`captioned.m3u8`, the
//! segments of `index.m3u8` held further back; `index.m3u8` stays the low-latency address)
//! with a WebVTT subtitles rendition (`subs.m3u8`) that [`crate::captions::subs`] composes
//! as audio segments are cut. Every file, captions included, is written here and copied to
//! the bucket in the order players may ask for it.

pub mod fmp4;
pub mod s3;

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use assembly_floor::clock;
use assembly_media::opus::{opus_samples, SILENCE};
use assembly_media::{Gate, ProgramSink, Spoken};

use crate::captions::subs::{self, Change, Subtitles};
use crate::captions::vtt::SubSegment;
use crate::captions::Cue;
use crate::metrics::ArchiveMetrics;
/// Media per segment, in 48 kHz ticks (one second).
const SEGMENT: u64 = 48_000;
/// Segments kept in the playlist and on disk (15 minutes).
const WINDOW: usize = 900;
/// How far the stream may fall behind the wall clock before silence fills in (jitter room).
const SLACK: u64 = 3 * 960;

/// The engine's handle: packets the floor forwarded, by session.
#[derive(Clone)]
pub struct Hls {
    tx: SyncSender<(u64, Arc<[u8]>)>,
    cues: SyncSender<Cue>,
    metrics: Arc<ArchiveMetrics>,
}

impl Hls {
    /// Starts the segmenter thread writing under `dir`, one directory per live session. With
    /// `s3`, every file is also copied to the bucket (segments before the playlists naming them).
    /// With `captions`, each stream also gets its subtitles rendition (see [`Hls::caption`]).
    pub fn start(
        dir: PathBuf,
        gate: watch::Receiver<Gate>,
        metrics: Arc<ArchiveMetrics>,
        s3: Option<s3::Uploader>,
        captions: bool,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let (tx, rx) = sync_channel(2048);
        let (cues, cues_rx) = sync_channel(256);
        std::thread::Builder::new()
            .name("hls".into())
            .spawn(move || run(rx, cues_rx, dir, gate, s3, captions))?;
        Ok(Self { tx, cues, metrics })
    }

    /// A caption for its session's subtitles rendition (dropped if the segmenter is behind).
    pub fn caption(&self, cue: Cue) {
        if self.cues.try_send(cue).is_err() {
            self.metrics.captions_chunks_dropped.fetch_add(1, Relaxed);
        }
    }
}

impl ProgramSink for Hls {
    fn offer(&self, p: &Spoken<'_>) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.tx.try_send((p.session, p.payload.clone()))
        {
            self.metrics.hls_dropped.fetch_add(1, Relaxed);
        }
    }
}

/// A segment in the playlist.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Segment {
    msn: u64,
    /// Seconds.
    duration: f64,
    /// Wall clock of its first sample, ms since the epoch.
    pdt_ms: u64,
    discontinuity: bool,
}

/// What survives a restart.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    next_msn: u64,
    discontinuity_sequence: u64,
    decode_time: u64,
    segments: VecDeque<Segment>,
}

/// One session's stream (public for the benchmark).
pub struct Stream {
    dir: PathBuf,
    /// The bucket copy, with this stream's key prefix (`{session}`).
    upload: Option<(s3::Uploader, String)>,
    state: State,
    /// Samples in the current segment and when it began.
    pending: Vec<(Arc<[u8]>, u32)>,
    pending_ticks: u64,
    pending_pdt_ms: u64,
    /// Where the stream stands against the wall clock: ticks produced since `origin_ms`.
    origin_ms: u64,
    produced: u64,
    next_is_discontinuity: bool,
    /// The captions rendition, when captions are on.
    subs: Option<Subtitles>,
}

impl Stream {
    /// Opens (creating if needed) the stream in `dir`, resuming from its saved state, with no bucket copy.
    pub fn open(dir: PathBuf) -> std::io::Result<Self> {
        Self::open_with(dir, None, false)
    }

    fn open_with(
        dir: PathBuf,
        upload: Option<(s3::Uploader, String)>,
        captions: bool,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let saved: Option<State> = std::fs::read(dir.join("state.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let resumed = saved.is_some();
        let state = saved.unwrap_or_default();
        let now = clock::now_ms();
        let s = Self {
            dir,
            upload,
            state,
            pending: Vec::new(),
            pending_ticks: 0,
            pending_pdt_ms: now,
            origin_ms: now,
            produced: 0,
            next_is_discontinuity: resumed,
            subs: captions.then(|| Subtitles::new(WINDOW)),
        };
        s.publish("init.mp4", fmp4::init_segment(2), "video/mp4")?;
        if captions {
            s.apply(Subtitles::master())?;
        }
        Ok(s)
    }

    /// Writes `bytes` as `name` in the stream's directory, and queues its copy to the bucket.
    fn publish(
        &self,
        name: &str,
        bytes: Vec<u8>,
        content_type: &'static str,
    ) -> std::io::Result<()> {
        write_atomic(&self.dir.join(name), &bytes)?;
        if let Some((u, key)) = &self.upload {
            u.put(&format!("{key}/{name}"), bytes, content_type);
        }
        Ok(())
    }

    /// Removes `name`, here and in the bucket.
    fn unpublish(&self, name: &str) {
        let _ = std::fs::remove_file(self.dir.join(name));
        if let Some((u, key)) = &self.upload {
            u.delete(&format!("{key}/{name}"));
        }
    }

    /// Carries out a change to the captions rendition.
    fn apply(&self, change: Change) -> std::io::Result<()> {
        match change {
            Change::Put {
                name,
                bytes,
                content_type,
            } => self.publish(&name, bytes, content_type),
            Change::Delete(name) => {
                self.unpublish(&name);
                Ok(())
            }
        }
    }

    /// Appends one Opus packet, writing a segment once enough audio is pending.
    pub fn push(&mut self, packet: Arc<[u8]>) {
        let ticks = opus_samples(&packet).max(1);
        if self.pending.is_empty() {
            self.pending_pdt_ms = self.origin_ms + self.produced * 1000 / 48_000;
        }
        self.pending.push((packet, ticks));
        self.pending_ticks += u64::from(ticks);
        self.produced += u64::from(ticks);
        if self.pending_ticks >= SEGMENT {
            if let Err(e) = self.cut() {
                tracing::warn!(dir = %self.dir.display(), error = %e, "writing an HLS segment");
            }
        }
    }

    /// Fills silence up to the wall clock, less the jitter room.
    fn pace(&mut self, now_ms: u64) {
        let due = now_ms.saturating_sub(self.origin_ms) * 48;
        while self.produced + SLACK < due {
            self.push(Arc::from(&SILENCE[..]));
        }
    }

    fn cut(&mut self) -> std::io::Result<()> {
        let msn = self.state.next_msn;
        let samples: Vec<(&[u8], u32)> = self.pending.iter().map(|(p, t)| (&p[..], *t)).collect();
        let seg = fmp4::media_segment(msn as u32 + 1, self.state.decode_time, &samples);
        self.publish(&format!("seg{msn}.m4s"), seg, "video/iso.segment")?;
        let segment = Segment {
            msn,
            duration: self.pending_ticks as f64 / 48_000.0,
            pdt_ms: self.pending_pdt_ms,
            discontinuity: std::mem::take(&mut self.next_is_discontinuity),
        };
        let captions = self.subs.as_mut().map(|subs| {
            subs.audio_cut(SubSegment {
                msn,
                duration: segment.duration,
                pdt_ms: segment.pdt_ms,
                decode_time: self.state.decode_time,
                discontinuity: segment.discontinuity,
            });
            subs.flush(clock::now_ms())
        });
        for change in captions.into_iter().flatten() {
            if let Err(e) = self.apply(change) {
                tracing::warn!(dir = %self.dir.display(), error = %e, "writing the captions");
            }
        }
        self.state.segments.push_back(segment);
        self.state.decode_time += self.pending_ticks;
        self.state.next_msn += 1;
        self.pending.clear();
        self.pending_ticks = 0;
        while self.state.segments.len() > WINDOW {
            if let Some(old) = self.state.segments.pop_front() {
                if old.discontinuity {
                    self.state.discontinuity_sequence += 1;
                }
                self.unpublish(&format!("seg{}.m4s", old.msn));
            }
        }
        self.publish(
            "index.m3u8",
            playlist(&self.state, LOW_LATENCY_HOLD_BACK_S).into_bytes(),
            subs::PLAYLIST,
        )?;
        if self.subs.is_some() {
            self.publish(
                "captioned.m3u8",
                playlist(&self.state, subs::HOLD_BACK_S).into_bytes(),
                subs::PLAYLIST,
            )?;
        }
        write_atomic(
            &self.dir.join("state.json"),
            &serde_json::to_vec(&self.state).unwrap_or_default(),
        )
    }
}

/// How far behind the live edge `index.m3u8` asks players to play (RFC 8216bis's least,
/// three target durations).
const LOW_LATENCY_HOLD_BACK_S: f64 = 3.0;

/// The media playlist for `state`, asking players to play `hold_back` seconds behind its end.
fn playlist(state: &State, hold_back: f64) -> String {
    let first = state.segments.front().map_or(0, |s| s.msn);
    let mut p = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-SERVER-CONTROL:HOLD-BACK={hold_back:.1}\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-DISCONTINUITY-SEQUENCE:{}\n#EXT-X-MAP:URI=\"init.mp4\"\n",
        state.discontinuity_sequence
    );
    for s in &state.segments {
        if s.discontinuity {
            p.push_str("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init.mp4\"\n");
        }
        let pdt = chrono::DateTime::from_timestamp_millis(s.pdt_ms as i64)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .unwrap_or_default();
        p.push_str(&format!(
            "#EXT-X-PROGRAM-DATE-TIME:{pdt}\n#EXTINF:{:.5},\nseg{}.m4s\n",
            s.duration, s.msn
        ));
    }
    p
}

/// Writes through a temporary file and a rename, so a server never serves half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}

fn run(
    rx: Receiver<(u64, Arc<[u8]>)>,
    cues: Receiver<Cue>,
    dir: PathBuf,
    gate: watch::Receiver<Gate>,
    s3: Option<s3::Uploader>,
    captions: bool,
) {
    let mut streams: HashMap<u64, Stream> = HashMap::new();
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok((session, packet)) => {
                if let Some(s) = stream(&mut streams, &dir, session, &s3, captions) {
                    s.push(packet);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        while let Ok(cue) = cues.try_recv() {
            if let Some(subs) = streams.get_mut(&cue.session).and_then(|s| s.subs.as_mut()) {
                subs.cue(cue);
            }
        }
        let live: Vec<u64> = gate.borrow().sessions().collect();
        streams.retain(|id, _| live.contains(id));
        let now = clock::now_ms();
        for id in live {
            if let Some(s) = stream(&mut streams, &dir, id, &s3, captions) {
                s.pace(now);
            }
        }
    }
}

fn stream<'a>(
    streams: &'a mut HashMap<u64, Stream>,
    dir: &Path,
    session: u64,
    s3: &Option<s3::Uploader>,
    captions: bool,
) -> Option<&'a mut Stream> {
    match streams.entry(session) {
        Entry::Occupied(e) => Some(e.into_mut()),
        Entry::Vacant(v) => match Stream::open_with(
            dir.join(session.to_string()),
            s3.clone().map(|u| (u, session.to_string())),
            captions,
        ) {
            Ok(s) => Some(v.insert(s)),
            Err(e) => {
                tracing::warn!(session, error = %e, "cannot start the HLS stream");
                None
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlist_marks_time_and_discontinuities() {
        let mut st = State::default();
        st.segments.push_back(Segment {
            msn: 4,
            duration: 1.0,
            pdt_ms: 1_000,
            discontinuity: false,
        });
        st.segments.push_back(Segment {
            msn: 5,
            duration: 1.02,
            pdt_ms: 2_000,
            discontinuity: true,
        });
        let p = playlist(&st, LOW_LATENCY_HOLD_BACK_S);
        assert!(p.contains("#EXT-X-MEDIA-SEQUENCE:4\n"));
        assert!(p.contains(
            "#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:01.000Z\n#EXTINF:1.00000,\nseg4.m4s"
        ));
        assert!(p.contains("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:02.000Z"));
    }

    #[test]
    fn silence_keeps_pace_with_the_clock() {
        let dir = std::env::temp_dir().join(format!("hls-pace-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut s = Stream::open(dir.clone()).unwrap();
        let t0 = s.origin_ms;
        s.pace(t0 + 2_500);
        // 2.5 s of wall clock: about 2.5 s of media, two segments cut.
        assert!(s.produced + SLACK >= 2_500 * 48 && s.produced <= 2_500 * 48);
        assert_eq!(s.state.segments.len(), 2);
        assert!(dir.join("seg1.m4s").exists() && dir.join("index.m3u8").exists());
        // A restart continues the numbering after a discontinuity.
        drop(s);
        let mut again = Stream::open(dir.clone()).unwrap();
        assert_eq!(again.state.next_msn, 2);
        let t1 = again.origin_ms;
        again.pace(t1 + 1_200);
        let p = std::fs::read_to_string(dir.join("index.m3u8")).unwrap();
        assert!(p.contains("#EXT-X-DISCONTINUITY\n"), "{p}");
        assert!(p.contains("seg2.m4s"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
