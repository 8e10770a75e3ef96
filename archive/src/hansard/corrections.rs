//! Speakers' corrections of their speeches' transcripts, beside the transcripts they
//! correct: revision 0 is the transcriber's (`transcripts`), each correction is revision
//! 1, 2, ... of the same speech, and none replaces another. The Hansard shows and indexes a
//! speech's latest revision; the record (see [`crate::record::occurrence`]) holds a leaf for
//! every revision.
//!
//! The archive keeps a correction as it came, signature included, so any node can serve it
//! on to another and any reader can check it; whether the signature is the speaker's is the
//! caller's to check before [`insert`] (it may need the chain, for a contract wallet).
//!
//! The set of corrections converges: every node that is told (or reads) the same signed
//! corrections holds the same set, whatever order they came in, so every node computes the
//! same record. A correction makes any revision from 1 to the one after the latest held;
//! two different texts the speaker signed for one revision (two tabs, two nodes, before
//! either heard of the other) are both kept, up to [`MAX_VARIANTS`], each its own leaf. What
//! the Hansard shows is a function of the set: the highest revision and, among its texts,
//! the one whose SHA-256 is lowest.

use rusqlite::{params, OptionalExtension, Transaction};

use assembly_provenance::record::transcript_digest;

use crate::record::archive::{self, Archive, ArchiveError, Speech};

/// The most texts one revision of a speech takes. Past it a speaker who signs yet another
/// text for the same revision is refused: order decides then, and only their own record's
/// agreement suffers.
pub const MAX_VARIANTS: usize = 4;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS transcript_corrections (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  speech_id INTEGER NOT NULL REFERENCES speeches(id),
  revision INTEGER NOT NULL,
  digest TEXT NOT NULL,
  text TEXT NOT NULL,
  speaker TEXT NOT NULL,
  signature TEXT NOT NULL,
  received_ms INTEGER NOT NULL,
  UNIQUE (speech_id, revision, digest)
);
";

/// The SQL joining a speech (`s`) to the correction the Hansard shows (`c`), if it has one:
/// the highest revision, and of its texts the one with the lowest digest.
pub(crate) const LATEST: &str = "LEFT JOIN transcript_corrections c ON c.seq = (
  SELECT seq FROM transcript_corrections WHERE speech_id = s.id
  ORDER BY revision DESC, digest ASC LIMIT 1)";

/// The text the Hansard shows for `speech`: its [`LATEST`] correction's, if any.
const SHOWN: &str = "SELECT text FROM transcript_corrections WHERE speech_id = ?1
  ORDER BY revision DESC, digest ASC LIMIT 1";

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
    /// The text's `transcriptDigest` (SHA-256, 0x-hex): what tells two texts of one
    /// revision apart.
    pub digest: String,
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
    /// That revision already has [`MAX_VARIANTS`] texts.
    Taken {
        /// The revision the speech takes next.
        next: u32,
    },
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
        digest: r.get(3)?,
        text: r.get(4)?,
        speaker: r.get(5)?,
        signature: r.get(6)?,
        received_ms: r.get::<_, i64>(7)? as u64,
    })
}

const FIELDS: &str = "seq, speech_id, revision, digest, text, speaker, signature, received_ms";

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
                 AND lower(speaker) = lower(?4) AND lower(sha256) = ?5 AND open = 0 AND packets > 0",
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
/// (checked by the caller), and indexes what the Hansard now shows of the speech for search
/// in place of what it showed. A revision from 1 to one past the latest is taken; the same
/// text again is held already, whatever form its signature came in.
pub fn insert(
    a: &Archive,
    speech: i64,
    revision: u32,
    text: &str,
    speaker: &str,
    signature: &str,
    now_ms: u64,
) -> Result<Inserted, ArchiveError> {
    let digest = transcript_digest(Some(text)).to_string();
    a.with_db(|db| {
        let tx = db.unchecked_transaction()?;
        if let Some(c) = held_tx(&tx, speech, revision, &digest)? {
            return Ok(Inserted::Held(c));
        }
        let next = latest(&tx, speech)? + 1;
        if revision == 0 || revision > next {
            return Ok(Inserted::Gap { next });
        }
        let variants: i64 = tx.query_row(
            "SELECT COUNT(*) FROM transcript_corrections WHERE speech_id = ?1 AND revision = ?2",
            params![speech, revision],
            |r| r.get(0),
        )?;
        if variants as usize >= MAX_VARIANTS {
            return Ok(Inserted::Taken { next });
        }
        tx.execute(
            "INSERT INTO transcript_corrections (speech_id, revision, digest, text, speaker, signature, received_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![speech, revision, digest, text, speaker, signature, now_ms as i64],
        )?;
        let seq = tx.last_insert_rowid();
        let shown: String = tx.query_row(SHOWN, [speech], |r| r.get(0))?;
        tx.execute("DELETE FROM hansard_fts WHERE speech_id = ?1", [speech])?;
        tx.execute(
            "INSERT INTO hansard_fts (text, speech_id) VALUES (?1, ?2)",
            params![shown, speech],
        )?;
        tx.commit()?;
        Ok(Inserted::New(Correction {
            seq,
            speech,
            revision,
            digest,
            text: text.to_string(),
            speaker: speaker.to_string(),
            signature: signature.to_string(),
            received_ms: now_ms,
        }))
    })
}

fn held_tx(
    db: &rusqlite::Connection,
    speech: i64,
    revision: u32,
    digest: &str,
) -> rusqlite::Result<Option<Correction>> {
    db.query_row(
        &format!(
            "SELECT {FIELDS} FROM transcript_corrections
             WHERE speech_id = ?1 AND revision = ?2 AND digest = ?3"
        ),
        params![speech, revision, digest],
        correction,
    )
    .optional()
}

/// `speech`'s correction to `text` at `revision`, if it is held.
pub fn held(
    a: &Archive,
    speech: i64,
    revision: u32,
    text: &str,
) -> Result<Option<Correction>, ArchiveError> {
    let digest = transcript_digest(Some(text)).to_string();
    a.with_db(|db| held_tx(db, speech, revision, &digest))
}

/// The text the Hansard shows of `speech` in place of its transcript, if it was corrected.
pub(crate) fn shown(db: &rusqlite::Connection, speech: i64) -> rusqlite::Result<Option<String>> {
    db.query_row(SHOWN, [speech], |r| r.get(0)).optional()
}

/// Whether `speech`'s occurrence has a record that left the speech out (it had no audio to
/// vouch for when the record was computed): a correction of it would be kept but never
/// anchored.
pub fn outside_record(a: &Archive, speech: i64) -> Result<bool, ArchiveError> {
    a.with_db(|db| {
        db.query_row(
            "SELECT EXISTS (SELECT 1 FROM speeches s JOIN occurrence_records r
                              ON r.session = s.session AND r.occurrence = s.occurrence
                            WHERE s.id = ?1)
                AND NOT EXISTS (SELECT 1 FROM record_leaves WHERE speech_id = ?1 AND revision = 0)",
            [speech],
            |r| r.get(0),
        )
    })
}

/// `speech`'s corrections, revision 1 first; of one revision's texts, the one the Hansard
/// would show last.
pub fn of_speech(a: &Archive, speech: i64) -> Result<Vec<Correction>, ArchiveError> {
    a.with_db(|db| {
        let mut q = db.prepare_cached(&format!(
            "SELECT {FIELDS} FROM transcript_corrections WHERE speech_id = ?1
             ORDER BY revision, digest DESC"
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
    let speech_columns = super::store::prefixed();
    a.with_db(|db| {
        let mut q = db.prepare_cached(&format!(
            "SELECT c.seq, c.speech_id, c.revision, c.digest, c.text, c.speaker, c.signature,
                    c.received_ms, {speech_columns}
             FROM transcript_corrections c JOIN speeches s ON s.id = c.speech_id
             WHERE c.seq > ?1 AND (?2 IS NULL OR (s.session = ?2 AND s.occurrence = ?3))
             ORDER BY c.seq LIMIT ?4"
        ))?;
        let rows = q
            .query_map(
                params![f.after, session, occurrence, i64::from(f.limit.min(500))],
                |r| {
                    let c = correction(r)?;
                    let mut s = archive::row_at(r, 8)?;
                    s.file.clear();
                    Ok((c, s))
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}

/// Occurrences with a correction their record does not hold yet (of a speech it holds):
/// (session, occurrence, when the latest of those corrections was taken, when the latest
/// edition of the record was computed), milliseconds since the epoch.
pub fn unrecorded(a: &Archive) -> Result<Vec<(u64, u32, u64, u64)>, ArchiveError> {
    a.with_db(|db| {
        let mut q = db.prepare_cached(
            "SELECT s.session, s.occurrence, MAX(c.received_ms),
                    (SELECT MAX(r.computed_ms) FROM occurrence_records r
                     WHERE r.session = s.session AND r.occurrence = s.occurrence)
             FROM transcript_corrections c JOIN speeches s ON s.id = c.speech_id
             WHERE NOT EXISTS (SELECT 1 FROM record_leaves l
                               WHERE l.speech_id = c.speech_id AND l.revision = c.revision
                                 AND l.transcript_digest = c.digest)
               AND EXISTS (SELECT 1 FROM record_leaves l0
                           WHERE l0.speech_id = c.speech_id AND l0.revision = 0)
             GROUP BY s.session, s.occurrence ORDER BY s.session, s.occurrence",
        )?;
        let rows = q
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)? as u32,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, Option<i64>>(3)?.unwrap_or(0) as u64,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_of_one_revision_converge_whatever_their_order() {
        // Two nodes told the same four texts for revision 1, in opposite orders, hold the
        // same set and show the same text; a fifth is refused on both.
        let texts = ["One.", "Two.", "Three.", "Four."];
        let mut seen = Vec::new();
        for (n, order) in [[0, 1, 2, 3], [3, 2, 1, 0]].iter().enumerate() {
            let dir = std::env::temp_dir().join(format!("corrections-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let a = Archive::open(&dir).unwrap();
            crate::hansard::store::migrate(&a).unwrap();
            let id = a.begin(3, 0, "0xAb", (10, 20), 10_500, "x.ogg").unwrap();
            a.close(id, 12_000, 75, 1500, "00").unwrap();
            for i in order {
                let taken = insert(&a, id, 1, texts[*i], "0xAb", "0x01", 1).unwrap();
                assert!(matches!(taken, Inserted::New(_)), "{taken:?}");
            }
            assert_eq!(
                insert(&a, id, 1, "Five.", "0xAb", "0x01", 1).unwrap(),
                Inserted::Taken { next: 2 }
            );
            assert_eq!(
                insert(&a, id, 3, "Three on.", "0xAb", "0x01", 1).unwrap(),
                Inserted::Gap { next: 2 }
            );
            let held: Vec<String> = of_speech(&a, id)
                .unwrap()
                .into_iter()
                .map(|c| c.digest)
                .collect();
            let text = a.with_db(|db| shown(db, id)).unwrap().unwrap();
            seen.push((held, text));
            let _ = std::fs::remove_dir_all(&dir);
        }
        assert_eq!(seen[0], seen[1]);
        let lowest = texts
            .iter()
            .min_by_key(|t| transcript_digest(Some(t)))
            .unwrap();
        assert_eq!(seen[0].1, *lowest);
    }
}
