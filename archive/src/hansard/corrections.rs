//! Speakers' corrections of their speeches' transcripts, beside the transcripts they
//! correct: revision 0 is the transcriber's (`transcripts`), each correction is revision
//! 1, 2, ... of the same speech, and none replaces another. The Hansard shows and indexes a
//! speech's latest revision; the record (see [`crate::record::occurrence`]) holds a leaf for
//! every revision.
//!
//! The archive keeps a correction as it came, signature included, so any node can serve it
//! on to another and any reader can check it; whether the signature is the speaker's is the
//! caller's to check before [`insert`] (it may need the chain, for a contract wallet).
//! Revisions are taken in order: a correction makes the revision after the latest held, so
//! every node that holds a speech's corrections holds the same ones under the same numbers.

use rusqlite::{params, OptionalExtension, Transaction};

use crate::record::archive::{self, Archive, ArchiveError, Speech};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS transcript_corrections (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  speech_id INTEGER NOT NULL REFERENCES speeches(id),
  revision INTEGER NOT NULL,
  text TEXT NOT NULL,
  speaker TEXT NOT NULL,
  signature TEXT NOT NULL,
  received_ms INTEGER NOT NULL,
  UNIQUE (speech_id, revision)
);
";

/// The SQL joining a speech (`s`) to its latest correction (`c`), if it has one.
pub(crate) const LATEST: &str = "LEFT JOIN transcript_corrections c ON c.speech_id = s.id
  AND c.revision = (SELECT MAX(revision) FROM transcript_corrections WHERE speech_id = s.id)";

/// Creates the corrections' table, if it is missing.
pub(crate) fn migrate(db: &rusqlite::Connection) -> rusqlite::Result<()> {
    db.execute_batch(SCHEMA)
}

/// One correction as held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Correction {
    /// Its place in this node's archive: corrections in the order they were taken, which
    /// a sibling reads on from.
    pub seq: i64,
    /// The speech corrected.
    pub speech: i64,
    /// The revision it makes, from 1.
    pub revision: u32,
    /// The corrected text.
    pub text: String,
    /// Who signed it: the speech's speaker (EIP-55).
    pub speaker: String,
    /// Their signature of the typed data, 0x-hex.
    pub signature: String,
    /// When this node took it, milliseconds since the epoch.
    pub received_ms: u64,
}

/// What [`insert`] came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// Taken: the speech's new latest revision.
    New(Correction),
    /// This very correction (text and signature) was held already.
    Held(Correction),
    /// Another correction holds that revision.
    Taken(Correction),
    /// The revision skips one: the next this speech takes is `next`.
    Gap {
        /// The revision the speech takes next.
        next: u32,
    },
}

fn correction(r: &rusqlite::Row) -> rusqlite::Result<Correction> {
    Ok(Correction {
        seq: r.get(0)?,
        speech: r.get(1)?,
        revision: r.get::<_, i64>(2)? as u32,
        text: r.get(3)?,
        speaker: r.get(4)?,
        signature: r.get(5)?,
        received_ms: r.get::<_, i64>(6)? as u64,
    })
}

const FIELDS: &str = "seq, speech_id, revision, text, speaker, signature, received_ms";

/// The closed speech of `session`'s `occurrence` in the slot starting at `slot_start`,
/// spoken by `speaker` (any case), whose recording's SHA-256 is `sha256` (hex, any case,
/// with or without 0x): what a correction names, the same on every node that heard it.
pub fn find_speech(
    a: &Archive,
    session: u64,
    occurrence: u32,
    slot_start: u64,
    speaker: &str,
    sha256: &str,
) -> Result<Option<Speech>, ArchiveError> {
    let sha = sha256.trim_start_matches("0x").to_ascii_lowercase();
    a.with_db(|db| {
        db.query_row(
            &format!(
                "SELECT {} FROM speeches WHERE session = ?1 AND occurrence = ?2 AND slot_start = ?3
                 AND lower(speaker) = lower(?4) AND lower(sha256) = ?5 AND open = 0",
                archive::COLUMNS
            ),
            params![session as i64, occurrence, slot_start as i64, speaker, sha],
            archive::row,
        )
        .optional()
    })
}

/// The latest revision `speech` has: 0 if it has no correction.
fn latest(tx: &Transaction<'_>, speech: i64) -> rusqlite::Result<u32> {
    tx.query_row(
        "SELECT COALESCE(MAX(revision), 0) FROM transcript_corrections WHERE speech_id = ?1",
        [speech],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u32)
}

/// Takes `speaker`'s correction of `speech` to `text` as `revision`, signed `signature`
/// (checked by the caller), and indexes the text for search in place of the speech's
/// earlier revision. Revisions are taken in order, each once.
pub fn insert(
    a: &Archive,
    speech: i64,
    revision: u32,
    text: &str,
    speaker: &str,
    signature: &str,
    now_ms: u64,
) -> Result<Inserted, ArchiveError> {
    a.with_db(|db| {
        let tx = db.unchecked_transaction()?;
        let held: Option<Correction> = tx
            .query_row(
                &format!(
                    "SELECT {FIELDS} FROM transcript_corrections WHERE speech_id = ?1 AND revision = ?2"
                ),
                params![speech, revision],
                correction,
            )
            .optional()?;
        if let Some(c) = held {
            let same = c.text == text && c.signature.eq_ignore_ascii_case(signature);
            return Ok(if same { Inserted::Held(c) } else { Inserted::Taken(c) });
        }
        let next = latest(&tx, speech)? + 1;
        if revision != next {
            return Ok(Inserted::Gap { next });
        }
        tx.execute(
            "INSERT INTO transcript_corrections (speech_id, revision, text, speaker, signature, received_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![speech, revision, text, speaker, signature, now_ms as i64],
        )?;
        let seq = tx.last_insert_rowid();
        tx.execute("DELETE FROM hansard_fts WHERE speech_id = ?1", [speech])?;
        tx.execute(
            "INSERT INTO hansard_fts (text, speech_id) VALUES (?1, ?2)",
            params![text, speech],
        )?;
        tx.commit()?;
        Ok(Inserted::New(Correction {
            seq,
            speech,
            revision,
            text: text.to_string(),
            speaker: speaker.to_string(),
            signature: signature.to_string(),
            received_ms: now_ms,
        }))
    })
}

/// `speech`'s corrections, revision 1 first.
pub fn of_speech(a: &Archive, speech: i64) -> Result<Vec<Correction>, ArchiveError> {
    a.with_db(|db| {
        let mut q = db.prepare_cached(&format!(
            "SELECT {FIELDS} FROM transcript_corrections WHERE speech_id = ?1 ORDER BY revision"
        ))?;
        let rows = q
            .query_map([speech], correction)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}

/// Which corrections [`since`] lists.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter {
    /// Only those taken after this place (a [`Correction::seq`]).
    pub after: i64,
    /// Only those of speeches of this session and occurrence.
    pub occurrence: Option<(u64, u32)>,
    /// At most this many (at most 500).
    pub limit: u32,
}

/// Corrections in the order this node took them, each with its speech.
pub fn since(a: &Archive, f: Filter) -> Result<Vec<(Correction, Speech)>, ArchiveError> {
    let (session, occurrence) = match f.occurrence {
        Some((s, o)) => (Some(s as i64), Some(i64::from(o))),
        None => (None, None),
    };
    let speech_columns: String = archive::COLUMNS
        .split(", ")
        .map(|c| format!("s.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    a.with_db(|db| {
        let mut q = db.prepare_cached(&format!(
            "SELECT c.seq, c.speech_id, c.revision, c.text, c.speaker, c.signature, c.received_ms,
                    {speech_columns}
             FROM transcript_corrections c JOIN speeches s ON s.id = c.speech_id
             WHERE c.seq > ?1 AND (?2 IS NULL OR (s.session = ?2 AND s.occurrence = ?3))
             ORDER BY c.seq LIMIT ?4"
        ))?;
        let rows = q
            .query_map(
                params![f.after, session, occurrence, i64::from(f.limit.min(500))],
                |r| {
                    let c = correction(r)?;
                    let mut s = archive::row_at(r, 7)?;
                    s.file.clear();
                    Ok((c, s))
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}

/// Speeches (by id) whose corrections are not all in their occurrence's record, with the
/// session, occurrence and when the latest of those corrections was taken.
pub fn unrecorded(a: &Archive) -> Result<Vec<(u64, u32, u64)>, ArchiveError> {
    a.with_db(|db| {
        let mut q = db.prepare_cached(
            "SELECT s.session, s.occurrence, MAX(c.received_ms)
             FROM transcript_corrections c JOIN speeches s ON s.id = c.speech_id
             WHERE NOT EXISTS (SELECT 1 FROM record_leaves l
                               WHERE l.speech_id = c.speech_id AND l.revision = c.revision)
               AND EXISTS (SELECT 1 FROM occurrence_records r
                           WHERE r.session = s.session AND r.occurrence = s.occurrence)
             GROUP BY s.session, s.occurrence ORDER BY s.session, s.occurrence",
        )?;
        let rows = q
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)? as u32,
                    r.get::<_, i64>(2)? as u64,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}
