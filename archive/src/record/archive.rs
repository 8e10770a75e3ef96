//! The archive's index: one row per speech (who, which slot, when, which file, its digest),
//! in SQLite next to the recordings. A speech is a row from its first packet, so a node that
//! dies mid-speech finds it on restart and closes it from what reached the disk.

use parking_lot::{Mutex, MutexGuard};
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::checked::{self, Checked, Provenance};
use super::ogg;

/// Archive failures.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The SQLite index failed.
    #[error("archive database: {0}")]
    Db(#[from] rusqlite::Error),
    /// A recording file could not be read, written or created.
    #[error("recording file: {0}")]
    Io(#[from] std::io::Error),
    /// A stored value does not parse back (which one).
    #[error("corrupt archive row: {0}")]
    Corrupt(String),
}

/// One speech: a speaker's audio within one slot.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Speech {
    /// The speech's row id in the index.
    pub id: i64,
    /// The session it was heard in.
    pub session: u64,
    /// The occurrence of that session, from 0.
    pub occurrence: u32,
    /// The speaker's address, EIP-55 checksummed.
    pub speaker: String,
    /// The slot the chain gave, in seconds since the epoch.
    pub slot_start: u64,
    /// When that slot ends (exclusive), in seconds since the epoch.
    pub slot_end: u64,
    /// First and last packet, in milliseconds since the epoch.
    pub started_ms: u64,
    /// When the last packet was heard, in milliseconds since the epoch.
    pub ended_ms: u64,
    /// Opus packets recorded.
    pub packets: u64,
    /// Audio recorded, in milliseconds, counted from the packets' samples (gaps excluded).
    pub duration_ms: u64,
    /// SHA-256 of the Ogg file, once the speech is closed.
    pub sha256: Option<String>,
    /// Whether the speech is still being recorded (then `sha256` is null).
    pub open: bool,
    /// The Ogg file's path relative to the archive directory; not served.
    #[serde(skip)]
    pub file: String,
}

/// What a speech list is narrowed by.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only speeches of this session; None: every session.
    pub session: Option<u64>,
    /// Only speeches of this address, in any case; None: every speaker.
    pub speaker: Option<String>,
    /// At most this many speeches; None: 500 (never more than 5,000).
    pub limit: Option<u32>,
}

/// The index of recorded speeches over the directory that holds their Ogg files.
pub struct Archive {
    dir: PathBuf,
    db: Mutex<Connection>,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS speeches (
  id INTEGER PRIMARY KEY,
  session INTEGER NOT NULL, occurrence INTEGER NOT NULL, speaker TEXT NOT NULL,
  slot_start INTEGER NOT NULL, slot_end INTEGER NOT NULL,
  started_ms INTEGER NOT NULL, ended_ms INTEGER NOT NULL,
  packets INTEGER NOT NULL DEFAULT 0, duration_ms INTEGER NOT NULL DEFAULT 0,
  file TEXT NOT NULL, sha256 TEXT, open INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS speeches_by_session ON speeches (session, started_ms);
CREATE INDEX IF NOT EXISTS speeches_by_speaker ON speeches (speaker, started_ms);
";

/// The speeches columns [`row`] reads, in order.
pub const COLUMNS: &str = "id, session, occurrence, speaker, slot_start, slot_end, started_ms, ended_ms, packets, duration_ms, sha256, open, file";

/// The [`Speech`] in a row selected with [`COLUMNS`].
pub fn row(r: &rusqlite::Row) -> rusqlite::Result<Speech> {
    row_at(r, 0)
}

/// The [`Speech`] in a row whose columns from `at` on are [`COLUMNS`].
pub fn row_at(r: &rusqlite::Row, at: usize) -> rusqlite::Result<Speech> {
    Ok(Speech {
        id: r.get(at)?,
        session: r.get::<_, i64>(at + 1)? as u64,
        occurrence: r.get::<_, i64>(at + 2)? as u32,
        speaker: r.get(at + 3)?,
        slot_start: r.get::<_, i64>(at + 4)? as u64,
        slot_end: r.get::<_, i64>(at + 5)? as u64,
        started_ms: r.get::<_, i64>(at + 6)? as u64,
        ended_ms: r.get::<_, i64>(at + 7)? as u64,
        packets: r.get::<_, i64>(at + 8)? as u64,
        duration_ms: r.get::<_, i64>(at + 9)? as u64,
        sha256: r.get(at + 10)?,
        open: r.get::<_, i64>(at + 11)? != 0,
        file: r.get(at + 12)?,
    })
}

/// Adds the columns that came after the first schema to a database from before them.
fn migrate(db: &Connection) -> rusqlite::Result<()> {
    for (column, kind) in checked::ADDED {
        let present: i64 = db.query_row(
            "SELECT COUNT(*) FROM pragma_table_info('speeches') WHERE name = ?1",
            [column],
            |r| r.get(0),
        )?;
        if present == 0 {
            db.execute_batch(&format!("ALTER TABLE speeches ADD COLUMN {column} {kind}"))?;
        }
    }
    Ok(())
}

/// A [`Speech`] and its [`Provenance`] from a row of [`COLUMNS`] then [`checked::COLUMNS`].
fn with_provenance(r: &rusqlite::Row) -> rusqlite::Result<(Speech, Provenance)> {
    Ok((row(r)?, checked::provenance(r, WIDTH)?))
}

/// How many columns [`COLUMNS`] names.
pub const WIDTH: usize = 13;

fn store_checked(db: &Connection, id: i64, found: &Checked) -> rusqlite::Result<()> {
    let c = found.counts;
    db.execute(
        "UPDATE speeches SET checked = 1, frames_signed = ?2, frames_unsigned = ?3,
         frames_altered = ?4, frames_unattested = ?5, speaking_key = ?6, refused = ?7,
         attestation_digest = ?8 WHERE id = ?1",
        params![
            id,
            c.signed as i64,
            c.unsigned as i64,
            c.altered as i64,
            c.unattested as i64,
            found.key.map(|k| k.to_checksum(None)),
            found.tainted,
            found.attestation_digest.to_string()
        ],
    )?;
    Ok(())
}

/// SHA-256 of a file, hex.
pub fn digest(path: &Path) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    Ok(alloy_primitives::hex::encode(Sha256::digest(&bytes)))
}

impl Archive {
    /// Opens (or creates) the archive in `dir` and closes speeches a crash left open.
    pub fn open(dir: &Path) -> Result<Self, ArchiveError> {
        std::fs::create_dir_all(dir)?;
        let db = Connection::open(dir.join("archive.sqlite"))?;
        db.execute_batch(SCHEMA)?;
        migrate(&db)?;
        super::occurrence::migrate(&db)?;
        let a = Self {
            dir: dir.to_path_buf(),
            db: Mutex::new(db),
        };
        a.recover()?;
        Ok(a)
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        self.db.lock()
    }

    /// Runs `f` on the archive's database (the Hansard keeps its tables there too).
    pub fn with_db<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, ArchiveError> {
        Ok(f(&self.db())?)
    }

    /// The directory the recordings (and the index) are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Speeches left open by a crash: what reached the disk is kept, counted and digested.
    fn recover(&self) -> Result<(), ArchiveError> {
        let open: Vec<Speech> = {
            let db = self.db();
            let mut q = db.prepare(&format!("SELECT {COLUMNS} FROM speeches WHERE open = 1"))?;
            let rows = q.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
            rows
        };
        for s in open {
            let path = self.dir.join(&s.file);
            let packets = ogg::read_packets(&path).unwrap_or_default();
            let samples: u64 = packets
                .iter()
                .map(|p| u64::from(ogg::opus_samples(p)))
                .sum();
            let duration_ms = samples * 1000 / u64::from(ogg::RATE);
            let sha = digest(&path).ok();
            tracing::info!(
                speech = s.id,
                packets = packets.len(),
                "closing a speech left open by a restart"
            );
            self.db().execute(
                "UPDATE speeches SET open = 0, packets = ?2, duration_ms = ?3, sha256 = ?4,
                 ended_ms = MAX(ended_ms, started_ms + ?3) WHERE id = ?1",
                params![s.id, packets.len() as i64, duration_ms as i64, sha],
            )?;
        }
        Ok(())
    }

    /// Records the start of a speech; returns its id.
    #[allow(clippy::too_many_arguments)]
    pub fn begin(
        &self,
        session: u64,
        occurrence: u32,
        speaker: &str,
        slot: (u64, u64),
        started_ms: u64,
        file: &str,
    ) -> Result<i64, ArchiveError> {
        let db = self.db();
        db.execute(
            "INSERT INTO speeches (session, occurrence, speaker, slot_start, slot_end, started_ms, ended_ms, file)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
            params![session as i64, occurrence, speaker, slot.0 as i64, slot.1 as i64, started_ms as i64, file],
        )?;
        Ok(db.last_insert_rowid())
    }

    /// Progress of an open speech (so a crash loses at most the last second's bookkeeping).
    pub fn progress(
        &self,
        id: i64,
        ended_ms: u64,
        packets: u64,
        duration_ms: u64,
    ) -> Result<(), ArchiveError> {
        self.db().execute(
            "UPDATE speeches SET ended_ms = ?2, packets = ?3, duration_ms = ?4 WHERE id = ?1",
            params![id, ended_ms as i64, packets as i64, duration_ms as i64],
        )?;
        Ok(())
    }

    /// Closes a speech with its file's digest.
    pub fn close(
        &self,
        id: i64,
        ended_ms: u64,
        packets: u64,
        duration_ms: u64,
        sha256: &str,
    ) -> Result<(), ArchiveError> {
        self.db().execute(
            "UPDATE speeches SET open = 0, ended_ms = ?2, packets = ?3, duration_ms = ?4, sha256 = ?5 WHERE id = ?1",
            params![id, ended_ms as i64, packets as i64, duration_ms as i64, sha256],
        )?;
        Ok(())
    }

    /// Closes a speech with its file's digest and what its attestations showed.
    #[allow(clippy::too_many_arguments)]
    pub fn close_checked(
        &self,
        id: i64,
        ended_ms: u64,
        packets: u64,
        duration_ms: u64,
        sha256: &str,
        found: &Checked,
    ) -> Result<(), ArchiveError> {
        let db = self.db();
        let tx = db.unchecked_transaction()?;
        tx.execute(
            "UPDATE speeches SET open = 0, ended_ms = ?2, packets = ?3, duration_ms = ?4, sha256 = ?5 WHERE id = ?1",
            params![id, ended_ms as i64, packets as i64, duration_ms as i64, sha256],
        )?;
        store_checked(&tx, id, found)?;
        tx.commit()?;
        Ok(())
    }

    /// Records what a closed speech's attestations showed (checked again from its file).
    pub fn set_checked(&self, id: i64, found: &Checked) -> Result<(), ArchiveError> {
        store_checked(&self.db(), id, found)?;
        Ok(())
    }

    /// Closed speeches whose attestations have not been checked, oldest first.
    pub fn unchecked(&self) -> Result<Vec<Speech>, ArchiveError> {
        let db = self.db();
        let mut q = db.prepare(&format!(
            "SELECT {COLUMNS} FROM speeches WHERE open = 0 AND checked = 0 ORDER BY id"
        ))?;
        let rows = q.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The speech with row id `id` and whether it is provably its speaker's.
    pub fn speech_checked(&self, id: i64) -> Result<Option<(Speech, Provenance)>, ArchiveError> {
        Ok(self
            .db()
            .query_row(
                &format!(
                    "SELECT {COLUMNS}, {} FROM speeches WHERE id = ?1",
                    checked::COLUMNS
                ),
                [id],
                with_provenance,
            )
            .optional()?)
    }

    /// Speeches, oldest first, each with whether it is provably its speaker's.
    pub fn speeches_checked(&self, f: &Filter) -> Result<Vec<(Speech, Provenance)>, ArchiveError> {
        let db = self.db();
        let mut q = db.prepare(&format!(
            "SELECT {COLUMNS}, {} FROM speeches
             WHERE (?1 IS NULL OR session = ?1) AND (?2 IS NULL OR lower(speaker) = lower(?2))
             ORDER BY started_ms, id LIMIT ?3",
            checked::COLUMNS
        ))?;
        let rows = q
            .query_map(
                params![
                    f.session.map(|s| s as i64),
                    f.speaker,
                    i64::from(f.limit.unwrap_or(500).min(5000))
                ],
                with_provenance,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The speech with row id `id`, if there is one.
    pub fn speech(&self, id: i64) -> Result<Option<Speech>, ArchiveError> {
        Ok(self
            .db()
            .query_row(
                &format!("SELECT {COLUMNS} FROM speeches WHERE id = ?1"),
                [id],
                row,
            )
            .optional()?)
    }

    /// Speeches, oldest first.
    pub fn speeches(&self, f: &Filter) -> Result<Vec<Speech>, ArchiveError> {
        let db = self.db();
        let mut q = db.prepare(&format!(
            "SELECT {COLUMNS} FROM speeches
             WHERE (?1 IS NULL OR session = ?1) AND (?2 IS NULL OR lower(speaker) = lower(?2))
             ORDER BY started_ms, id LIMIT ?3"
        ))?;
        let rows = q
            .query_map(
                params![
                    f.session.map(|s| s as i64),
                    f.speaker,
                    i64::from(f.limit.unwrap_or(500).min(5000))
                ],
                row,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The file of a speech.
    pub fn path(&self, s: &Speech) -> PathBuf {
        self.dir.join(&s.file)
    }
}
