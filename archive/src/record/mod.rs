//! Recordings: every forwarded packet of the floor is also written, off the live path, to
//! one Ogg Opus file per speech (a speaker's audio within one slot), indexed in the
//! archive with its speaker, slot, times and SHA-256 digest.
//!
//! - [`ogg`] — the container.
//! - [`archive`] — the index, and recovery of speeches a crash left open.
//! - [`checked`] — whether each speech is provably its speaker's (speaker-signed audio),
//!   checked as it is recorded.
//! - [`occurrence`] — an occurrence's record: its speeches' leaves and the root this node
//!   anchors on chain.
//!
//! The media engine hands packets over a bounded channel and never waits: if the recorder
//! falls behind, packets are counted as dropped instead of delaying listeners.

pub mod archive;
pub mod checked;
pub mod occurrence;
pub mod ogg;

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::Address;
use assembly_media::attest::Provenance;
use assembly_media::{ProgramSink, Spoken};
use assembly_provenance::check::Checker;

use crate::metrics::ArchiveMetrics;
use archive::Archive;
use checked::Checked;

/// One heard packet, as the recorder keeps it.
pub struct Packet {
    /// The session the packet was heard in.
    pub session: u64,
    /// The occurrence of that session, from 0.
    pub occurrence: u32,
    /// The slot holder who spoke it.
    pub speaker: Address,
    /// The slot, in milliseconds since the epoch.
    pub slot: (u64, u64),
    /// When the packet arrived, milliseconds since the epoch.
    pub at_ms: u64,
    /// One Opus packet, as received.
    pub payload: Arc<[u8]>,
}

impl From<&Spoken<'_>> for Packet {
    fn from(p: &Spoken<'_>) -> Self {
        Self {
            session: p.session,
            occurrence: p.slot.occurrence,
            speaker: p.speaker,
            slot: (p.slot.start_ms, p.slot.end_ms),
            at_ms: p.at_ms,
            payload: p.payload.clone(),
        }
    }
}

/// A speech with no packet for this long is over (the speaker yielded or went quiet).
const SPEECH_GAP: Duration = Duration::from_secs(3);
/// Packets buffered between the engine and the recorder (~40 s of one speaker).
const QUEUE: usize = 2048;

/// The engine's handle on the recorder.
#[derive(Clone)]
pub struct Recorder {
    tx: SyncSender<Packet>,
    metrics: Arc<ArchiveMetrics>,
}

impl Recorder {
    /// Starts the recorder thread writing into `archive`, checking each speech's
    /// attestations by `provenance` (speaking keys certified in the Assembly contract's
    /// domain, by the holder's key or their contract wallet); speeches closed unchecked are checked from their files on a thread of
    /// their own.
    pub fn start(
        archive: Arc<Archive>,
        metrics: Arc<ArchiveMetrics>,
        provenance: Provenance,
    ) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(QUEUE);
        let (recording, d) = (archive.clone(), provenance.clone());
        std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || run(rx, recording, d))?;
        std::thread::Builder::new()
            .name("recheck".into())
            .spawn(move || recheck(&archive, &provenance))?;
        Ok(Self { tx, metrics })
    }
}

/// How long a re-check waits for a contract wallet's answer about a speech's certificate
/// before storing the verdict without it (its frames then read as unsigned).
const WALLET_WAIT: Duration = Duration::from_secs(15);

/// Checks the speeches closed without a verdict (a crash's, or from before the checks) from
/// their files: the same packets the recorder would have checked, a contract wallet asked
/// about its certificate as the live path would have.
fn recheck(archive: &Archive, provenance: &Provenance) {
    let speeches = match archive.unchecked() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "listing unchecked speeches");
            return;
        }
    };
    for s in speeches {
        let holder = match s.speaker.parse::<Address>() {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(speech = s.id, error = %e, "a speaker that is no address");
                continue;
            }
        };
        let checker = || {
            checked::checker(
                s.session,
                s.occurrence,
                holder,
                (s.slot_start, s.slot_end),
                provenance,
            )
        };
        let found = Checked::of_file_asking(
            &archive.path(&s),
            checker(),
            checker,
            holder,
            provenance,
            WALLET_WAIT,
        )
        .unwrap_or_else(|e| {
            // Nothing to check: no audio, which the record leaves out for want of a digest.
            tracing::warn!(speech = s.id, error = %e, "reading a recording to check it");
            Checked::default()
        });
        if let Err(e) = archive.set_checked(s.id, &found) {
            tracing::warn!(speech = s.id, error = %e, "storing a speech's checks");
        }
    }
}

impl ProgramSink for Recorder {
    fn offer(&self, p: &Spoken<'_>) {
        match self.tx.try_send(Packet::from(p)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.metrics.recording_dropped.fetch_add(1, Relaxed);
            }
        }
    }
}

struct Open {
    key: (Address, u64),
    id: i64,
    writer: ogg::OggOpusWriter,
    file: std::path::PathBuf,
    last_ms: u64,
    last_seen: Instant,
    saved: Instant,
    checker: Checker,
    /// A checker as fresh, for a second reading of the file at its close when a contract
    /// wallet was asked about its certificate meanwhile (the answer comes later than the
    /// first frames, which the second reading then takes as signed).
    again: Checker,
    asked_wallet: bool,
}

fn close(archive: &Archive, mut o: Open) {
    let (packets, duration) = (o.writer.packets, o.writer.duration_ms());
    if let Err(e) = o.writer.finish() {
        tracing::warn!(speech = o.id, error = %e, "finishing a recording");
    }
    let found = if o.asked_wallet {
        Checked::of_file(&o.file, o.again).unwrap_or_else(|_| Checked::of(&mut o.checker))
    } else {
        Checked::of(&mut o.checker)
    };
    match archive::digest(&o.file) {
        Ok(sha) => {
            if let Err(e) = archive.close_checked(o.id, o.last_ms, packets, duration, &sha, &found)
            {
                tracing::warn!(speech = o.id, error = %e, "closing a speech");
            }
            tracing::info!(
                speech = o.id,
                packets,
                sha256 = %sha,
                speaking_key = ?found.key,
                tainted = ?found.tainted,
                "speech recorded"
            );
        }
        Err(e) => tracing::warn!(speech = o.id, error = %e, "digesting a recording"),
    }
}

/// The Ogg stream's serial number, from what the speech is (its session, speaker and slot)
/// and nothing of this node's: every node of a cluster that records the same packets of a
/// speech writes the same bytes, so their recordings have one digest.
fn serial(p: &Packet) -> u32 {
    let mut id = Vec::with_capacity(48);
    id.extend_from_slice(&p.session.to_be_bytes());
    id.extend_from_slice(p.speaker.as_slice());
    id.extend_from_slice(&p.slot.0.to_be_bytes());
    let h = alloy_primitives::keccak256(&id);
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

fn begin(archive: &Archive, p: &Packet, provenance: &Provenance) -> Option<Open> {
    let speaker = p.speaker.to_checksum(None);
    let rel = format!(
        "{}/{}/{}-{}-{}.ogg",
        p.session,
        p.occurrence,
        p.slot.0 / 1000,
        speaker,
        p.at_ms
    );
    let file = archive.dir().join(&rel);
    if let Some(parent) = file.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let writer = match ogg::OggOpusWriter::create(&file, serial(p), "Assembly") {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(file = %file.display(), error = %e, "cannot record");
            return None;
        }
    };
    let slot = (p.slot.0 / 1000, p.slot.1 / 1000);
    let id = match archive.begin(p.session, p.occurrence, &speaker, slot, p.at_ms, &rel) {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!(error = %e, "cannot index a speech");
            return None;
        }
    };
    Some(Open {
        key: (p.speaker, p.slot.0),
        id,
        writer,
        file,
        last_ms: p.at_ms,
        last_seen: Instant::now(),
        saved: Instant::now(),
        checker: checked::checker(p.session, p.occurrence, p.speaker, slot, provenance),
        again: checked::checker(p.session, p.occurrence, p.speaker, slot, provenance),
        asked_wallet: false,
    })
}

fn run(rx: Receiver<Packet>, archive: Arc<Archive>, provenance: Provenance) {
    let mut open: HashMap<u64, Open> = HashMap::new();
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(p) => {
                let same = open
                    .get(&p.session)
                    .is_some_and(|o| o.key == (p.speaker, p.slot.0));
                if !same {
                    if let Some(o) = open.remove(&p.session) {
                        close(&archive, o);
                    }
                    if let Some(o) = begin(&archive, &p, &provenance) {
                        open.insert(p.session, o);
                    }
                }
                if let Some(o) = open.get_mut(&p.session) {
                    match o.writer.write(&p.payload) {
                        // Only what the file holds is checked: a check from the file agrees.
                        Ok(()) => {
                            let (_, step) = o.checker.packet(&p.payload);
                            o.asked_wallet |= step.ask_wallet.is_some();
                        }
                        Err(e) => {
                            tracing::warn!(speech = o.id, error = %e, "writing a recording")
                        }
                    }
                    o.last_ms = p.at_ms;
                    o.last_seen = Instant::now();
                    if o.saved.elapsed() > Duration::from_secs(1) {
                        let _ = archive.progress(
                            o.id,
                            o.last_ms,
                            o.writer.packets,
                            o.writer.duration_ms(),
                        );
                        o.saved = Instant::now();
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let quiet: Vec<u64> = open
            .iter()
            .filter(|(_, o)| o.last_seen.elapsed() > SPEECH_GAP)
            .map(|(s, _)| *s)
            .collect();
        for s in quiet {
            if let Some(o) = open.remove(&s) {
                close(&archive, o);
            }
        }
    }
    for (_, o) in open.drain() {
        close(&archive, o);
    }
}
