//! An occurrence's record as this node computes it: the leaf of each of its speeches (see
//! [`assembly_provenance::record`]), the root over them, and where anchoring that root on
//! chain stands. It is first computed when the occurrence is over and its speeches are
//! closed, checked and transcribed (or the wait for transcripts is over), and its leaves
//! are kept as computed: the proofs this node serves are of the leaves it anchored,
//! whatever the archive learns later.
//!
//! A speaker's correction of a transcript (see [`crate::hansard::corrections`]) adds a leaf
//! and takes none away: revision `n` of a speech sits beside revisions `0..n`. Each set of
//! leaves is an *edition* of the record (0, then one more for each time corrections are
//! added), with its own root and its own anchoring, so every root this node anchored keeps
//! proving the leaves it held. Only the latest edition is anchored: one that corrections
//! overtook before it reached the chain is left, since the next holds all it held.
//!
//! A speech is in its occurrence's record when it was heard (at least one packet) and its
//! recording has a digest; one whose file could not be read has no audio to vouch for.

use alloy_primitives::{Address, B256, U256};
use assembly_provenance::record::{leaf_hash, transcript_digest, Leaf, Tree};
use rusqlite::{params, Connection, OptionalExtension};

use super::archive::{Archive, ArchiveError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS occurrence_records (
  session INTEGER NOT NULL, occurrence INTEGER NOT NULL, edition INTEGER NOT NULL,
  root TEXT NOT NULL, speeches INTEGER NOT NULL,
  chain_id INTEGER NOT NULL, record_anchor TEXT NOT NULL, computed_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL DEFAULT 0, last_error TEXT,
  operator TEXT, sender TEXT, tx TEXT, block INTEGER, gas_used INTEGER, anchored_ms INTEGER,
  PRIMARY KEY (session, occurrence, edition)
);
CREATE TABLE IF NOT EXISTS record_leaves (
  speech_id INTEGER NOT NULL, revision INTEGER NOT NULL, edition INTEGER NOT NULL,
  session INTEGER NOT NULL, occurrence INTEGER NOT NULL, slot_start INTEGER NOT NULL,
  speaker TEXT NOT NULL, audio_digest TEXT NOT NULL, attestation_digest TEXT NOT NULL,
  transcript_digest TEXT NOT NULL,
  PRIMARY KEY (speech_id, revision, transcript_digest)
);
CREATE INDEX IF NOT EXISTS record_leaves_by_occurrence ON record_leaves (session, occurrence);
";

/// Moves a database from before editions (one record per occurrence, one leaf per speech)
/// to this schema: every record it held becomes edition 0.
const TO_EDITIONS: &str = "
ALTER TABLE occurrence_records RENAME TO occurrence_records_v1;
ALTER TABLE record_leaves RENAME TO record_leaves_v1;
DROP INDEX IF EXISTS record_leaves_by_occurrence;
";
const FROM_V1: &str = "
INSERT INTO occurrence_records (session, occurrence, edition, root, speeches, chain_id,
  record_anchor, computed_ms, attempts, next_ms, last_error, operator, sender, tx, block,
  gas_used, anchored_ms)
SELECT session, occurrence, 0, root, speeches, chain_id, record_anchor, computed_ms, attempts,
  next_ms, last_error, operator, sender, tx, block, gas_used, anchored_ms
FROM occurrence_records_v1;
INSERT INTO record_leaves (speech_id, revision, edition, session, occurrence, slot_start,
  speaker, audio_digest, attestation_digest, transcript_digest)
SELECT speech_id, revision, 0, session, occurrence, slot_start, speaker, audio_digest,
  attestation_digest, transcript_digest FROM record_leaves_v1;
DROP TABLE occurrence_records_v1;
DROP TABLE record_leaves_v1;
";

/// Creates the records' tables, if they are missing, and brings older ones up to date.
pub(crate) fn migrate(db: &Connection) -> rusqlite::Result<()> {
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0));
    let exists = count("SELECT COUNT(*) FROM sqlite_master WHERE name = 'occurrence_records'")?;
    let editions = count(
        "SELECT COUNT(*) FROM pragma_table_info('occurrence_records') WHERE name = 'edition'",
    )?;
    if exists == 1 && editions == 0 {
        let tx = db.unchecked_transaction()?;
        tx.execute_batch(TO_EDITIONS)?;
        tx.execute_batch(SCHEMA)?;
        tx.execute_batch(FROM_V1)?;
        return tx.commit();
    }
    db.execute_batch(SCHEMA)
}

/// What an occurrence's speeches still wait for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Speeches heard in it (an open one counts from its first packet, before its count
    /// of packets is first saved).
    pub speeches: u64,
    /// Still being recorded.
    pub open: u64,
    /// Closed, their attestations not yet checked.
    pub unchecked: u64,
    /// Without a transcript.
    pub untranscribed: u64,
}

/// Where anchoring a record stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Computed; not yet attested on chain by this node's operator.
    Pending {
        /// Attempts so far.
        attempts: u32,
        /// When to try next, milliseconds since the epoch.
        next_ms: u64,
        /// The last attempt's failure, if one failed.
        last_error: Option<String>,
    },
    /// This node's operator has attested the root.
    Attested(Attestation),
}

/// This node's operator's attestation of a root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attestation {
    /// The operator attesting.
    pub operator: Address,
    /// Who sent it: the node's key, or a lone operator's own.
    pub sender: Address,
    /// The transaction, when this node sent it; None when the chain already held the
    /// attestation (sent before a restart, or by the operator otherwise).
    pub tx: Option<B256>,
    /// Its block.
    pub block: Option<u64>,
    /// Gas it used.
    pub gas_used: Option<u64>,
    /// When it was known attested, milliseconds since the epoch.
    pub at_ms: u64,
}

/// One edition of an occurrence's record as computed here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The session.
    pub session: u64,
    /// The occurrence.
    pub occurrence: u32,
    /// Which edition: 0 as first computed, one more each time corrections were added.
    pub edition: u32,
    /// Each leaf, by speech id: one for each revision of a speech's transcript the
    /// edition holds (two texts its speaker signed for one revision are two leaves). In id
    /// order, then revision order.
    pub leaves: Vec<(i64, Leaf)>,
    /// The root over them.
    pub root: B256,
    /// The chain the root is anchored on.
    pub chain_id: u64,
    /// The RecordAnchor contract it is anchored in.
    pub record_anchor: Address,
    /// When it was computed, milliseconds since the epoch.
    pub computed_ms: u64,
    /// Where anchoring it stands.
    pub state: State,
}

impl Record {
    /// The tree over its leaves.
    pub fn tree(&self) -> Tree {
        Tree::of(self.leaves.iter().map(|(_, l)| l))
            .expect("a record is saved only with at least one leaf")
    }

    /// The leaf of the text the Hansard shows of `speech`, as this edition holds it: its
    /// highest revision, and of that revision's texts the lowest digest.
    pub fn leaf(&self, speech: i64) -> Option<&Leaf> {
        self.leaves
            .iter()
            .filter(|(id, _)| *id == speech)
            .max_by_key(|(_, l)| (l.revision, std::cmp::Reverse(l.transcriptDigest)))
            .map(|(_, l)| l)
    }

    /// The leaf of `speech`'s `revision` (of its texts, the lowest digest), if this edition
    /// holds it.
    pub fn leaf_at(&self, speech: i64, revision: u32) -> Option<&Leaf> {
        self.leaves
            .iter()
            .filter(|(id, l)| *id == speech && l.revision == revision)
            .min_by_key(|(_, l)| l.transcriptDigest)
            .map(|(_, l)| l)
    }

    /// Whether this edition holds `speech`'s `revision` with the text whose digest is `digest`.
    pub fn holds(&self, speech: i64, revision: u32, digest: B256) -> bool {
        self.leaves
            .iter()
            .any(|(id, l)| *id == speech && l.revision == revision && l.transcriptDigest == digest)
    }
}

fn corrupt(what: &str) -> ArchiveError {
    ArchiveError::Corrupt(what.to_string())
}

fn b256(text: &str, what: &str) -> Result<B256, ArchiveError> {
    // The archive keeps SHA-256 as bare hex, the rest 0x-prefixed; both parse.
    text.parse::<B256>().map_err(|_| corrupt(what))
}

/// Occurrences with a speech heard and no record yet, oldest first.
pub fn unrecorded(a: &Archive) -> Result<Vec<(u64, u32)>, ArchiveError> {
    a.with_db(|db| {
        let mut q = db.prepare_cached(
            "SELECT DISTINCT session, occurrence FROM speeches s WHERE packets > 0
             AND NOT EXISTS (SELECT 1 FROM occurrence_records r
                             WHERE r.session = s.session AND r.occurrence = s.occurrence)
             ORDER BY session, occurrence",
        )?;
        let rows = q
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u32))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}

/// What `session`'s `occurrence` still waits for. Needs the Hansard's tables.
pub fn readiness(a: &Archive, session: u64, occurrence: u32) -> Result<Readiness, ArchiveError> {
    a.with_db(|db| {
        db.query_row(
            "SELECT COUNT(*), COALESCE(SUM(s.open), 0),
                    COALESCE(SUM(s.open = 0 AND s.checked = 0), 0),
                    COALESCE(SUM(t.speech_id IS NULL), 0)
             FROM speeches s LEFT JOIN transcripts t ON t.speech_id = s.id
             WHERE s.session = ?1 AND s.occurrence = ?2 AND (s.packets > 0 OR s.open = 1)",
            params![session as i64, occurrence],
            |r| {
                let n = |i| r.get::<_, i64>(i).map(|v| v as u64);
                Ok(Readiness {
                    speeches: n(0)?,
                    open: n(1)?,
                    unchecked: n(2)?,
                    untranscribed: n(3)?,
                })
            },
        )
    })
}

/// The leaves of `session`'s `occurrence` from the archive as it is now (closed, checked
/// speeches with a digest), by speech id: each speech's transcript as transcribed (revision
/// 0) and each correction its speaker made. Needs the Hansard's tables.
pub fn leaves(
    a: &Archive,
    session: u64,
    occurrence: u32,
) -> Result<Vec<(i64, Leaf)>, ArchiveError> {
    type Row = (i64, i64, String, String, Option<String>, Option<String>);
    let rows: Vec<Row> = a.with_db(|db| {
        let mut q = db.prepare_cached(
            "SELECT s.id, s.slot_start, s.speaker, s.sha256, s.attestation_digest, t.text
             FROM speeches s LEFT JOIN transcripts t ON t.speech_id = s.id
             WHERE s.session = ?1 AND s.occurrence = ?2 AND s.open = 0 AND s.packets > 0
               AND s.sha256 IS NOT NULL
             ORDER BY s.id",
        )?;
        let rows = q
            .query_map(params![session as i64, occurrence], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, slot_start, speaker, sha256, attestation, text) in rows {
        let leaf = Leaf {
            sessionId: U256::from(session),
            occurrence,
            slotStart: alloy_primitives::Uint::from(slot_start as u64),
            speaker: speaker.parse().map_err(|_| corrupt("speaker"))?,
            audioDigest: b256(&sha256, "sha256")?,
            attestationDigest: match attestation {
                Some(d) => b256(&d, "attestation digest")?,
                None => B256::ZERO,
            },
            transcriptDigest: transcript_digest(text.as_deref()),
            revision: 0,
        };
        out.push((id, leaf.clone()));
        for (revision, text) in revisions(a, id)? {
            out.push((id, corrected(&leaf, revision, &text)));
        }
    }
    Ok(out)
}

/// The corrections of `speech`'s transcript its speaker made (the Hansard's
/// `transcript_corrections`), as (revision, text), revision 1 first.
fn revisions(a: &Archive, speech: i64) -> Result<Vec<(u32, String)>, ArchiveError> {
    a.with_db(|db| {
        let mut q = db.prepare_cached(
            "SELECT revision, text FROM transcript_corrections WHERE speech_id = ?1
             ORDER BY revision, digest",
        )?;
        let rows = q
            .query_map([speech], |r| Ok((r.get::<_, i64>(0)? as u32, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}

/// The leaf of the correction to `text` as `revision` of the speech whose original leaf is
/// `original`.
fn corrected(original: &Leaf, revision: u32, text: &str) -> Leaf {
    Leaf {
        transcriptDigest: transcript_digest(Some(text)),
        revision,
        ..original.clone()
    }
}

/// The leaves of corrections of `session`'s `occurrence` that its latest edition does not
/// hold yet, by speech id: what the next edition adds.
pub fn corrected_leaves(
    a: &Archive,
    session: u64,
    occurrence: u32,
) -> Result<Vec<(i64, Leaf)>, ArchiveError> {
    let Some(latest) = record(a, session, occurrence)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let originals: Vec<(i64, Leaf)> = latest
        .leaves
        .iter()
        .filter(|(_, l)| l.revision == 0)
        .cloned()
        .collect();
    for (id, original) in originals {
        for (revision, text) in revisions(a, id)? {
            if !latest.holds(id, revision, transcript_digest(Some(&text))) {
                out.push((id, corrected(&original, revision, &text)));
            }
        }
    }
    Ok(out)
}

/// Keeps `leaves` as `session`'s `occurrence`'s record (its edition 0), to be anchored in
/// `record_anchor` on `chain_id`; a record already kept stays as it was. Returns the latest
/// edition kept, or None for no leaves.
pub fn save(
    a: &Archive,
    session: u64,
    occurrence: u32,
    leaves: &[(i64, Leaf)],
    chain_id: u64,
    record_anchor: Address,
    now_ms: u64,
) -> Result<Option<Record>, ArchiveError> {
    let Some(tree) = Tree::of(leaves.iter().map(|(_, l)| l)) else {
        return Ok(None);
    };
    a.with_db(|db| {
        let tx = db.unchecked_transaction()?;
        let kept: i64 = tx.query_row(
            "SELECT COUNT(*) FROM occurrence_records WHERE session = ?1 AND occurrence = ?2",
            params![session as i64, occurrence],
            |r| r.get(0),
        )?;
        if kept == 0 {
            insert_edition(
                &tx,
                session,
                occurrence,
                0,
                &tree,
                chain_id,
                record_anchor,
                now_ms,
            )?;
            insert_leaves(&tx, 0, leaves)?;
        }
        tx.commit()
    })?;
    record(a, session, occurrence)
}

/// Keeps a new edition of `session`'s `occurrence`'s record: the latest one's leaves and
/// `added` (see [`corrected_leaves`]). Returns it; None when there is no record to add to,
/// or nothing to add.
pub fn extend(
    a: &Archive,
    session: u64,
    occurrence: u32,
    added: &[(i64, Leaf)],
    now_ms: u64,
) -> Result<Option<Record>, ArchiveError> {
    let Some(latest) = record(a, session, occurrence)? else {
        return Ok(None);
    };
    if added.is_empty() {
        return Ok(None);
    }
    let edition = latest.edition + 1;
    let tree = Tree::of(latest.leaves.iter().chain(added).map(|(_, l)| l))
        .expect("an edition holds its predecessor's leaves");
    a.with_db(|db| {
        let tx = db.unchecked_transaction()?;
        insert_edition(
            &tx,
            session,
            occurrence,
            edition,
            &tree,
            latest.chain_id,
            latest.record_anchor,
            now_ms,
        )?;
        insert_leaves(&tx, edition, added)?;
        tx.commit()
    })?;
    record_at(a, session, occurrence, edition)
}

#[allow(clippy::too_many_arguments)]
fn insert_edition(
    tx: &rusqlite::Transaction<'_>,
    session: u64,
    occurrence: u32,
    edition: u32,
    tree: &Tree,
    chain_id: u64,
    record_anchor: Address,
    now_ms: u64,
) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO occurrence_records
         (session, occurrence, edition, root, speeches, chain_id, record_anchor, computed_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            session as i64,
            occurrence,
            edition,
            tree.root().to_string(),
            tree.len() as i64,
            chain_id as i64,
            record_anchor.to_checksum(None),
            now_ms as i64
        ],
    )
}

fn insert_leaves(
    tx: &rusqlite::Transaction<'_>,
    edition: u32,
    leaves: &[(i64, Leaf)],
) -> rusqlite::Result<()> {
    for (id, l) in leaves {
        tx.execute(
            "INSERT INTO record_leaves (speech_id, revision, edition, session, occurrence,
             slot_start, speaker, audio_digest, attestation_digest, transcript_digest)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                id,
                l.revision,
                edition,
                l.sessionId.saturating_to::<i64>(),
                l.occurrence,
                l.slotStart.to::<u64>() as i64,
                l.speaker.to_checksum(None),
                l.audioDigest.to_string(),
                l.attestationDigest.to_string(),
                l.transcriptDigest.to_string()
            ],
        )?;
    }
    Ok(())
}

type RecordRow = (
    String,
    i64,
    String,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// The latest edition of `session`'s `occurrence`'s record, if it has been computed.
pub fn record(a: &Archive, session: u64, occurrence: u32) -> Result<Option<Record>, ArchiveError> {
    let latest: Option<i64> = a.with_db(|db| {
        db.query_row(
            "SELECT MAX(edition) FROM occurrence_records WHERE session = ?1 AND occurrence = ?2",
            params![session as i64, occurrence],
            |r| r.get(0),
        )
    })?;
    match latest {
        Some(e) => record_at(a, session, occurrence, e as u32),
        None => Ok(None),
    }
}

/// Every edition of `session`'s `occurrence`'s record, the first first.
pub fn editions(a: &Archive, session: u64, occurrence: u32) -> Result<Vec<Record>, ArchiveError> {
    let Some(latest) = record(a, session, occurrence)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(latest.edition as usize + 1);
    for e in 0..latest.edition {
        out.extend(record_at(a, session, occurrence, e)?);
    }
    out.push(latest);
    Ok(out)
}

/// `edition` of `session`'s `occurrence`'s record, if it has been computed.
pub fn record_at(
    a: &Archive,
    session: u64,
    occurrence: u32,
    edition: u32,
) -> Result<Option<Record>, ArchiveError> {
    let row: Option<RecordRow> = a.with_db(|db| {
        db.query_row(
            "SELECT root, chain_id, record_anchor, computed_ms, attempts, next_ms, last_error,
                    operator, sender, tx, block, gas_used, anchored_ms
             FROM occurrence_records WHERE session = ?1 AND occurrence = ?2 AND edition = ?3",
            params![session as i64, occurrence, edition],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                    r.get(11)?,
                    r.get(12)?,
                ))
            },
        )
        .optional()
    })?;
    let Some((
        root,
        chain_id,
        anchor,
        computed_ms,
        attempts,
        next_ms,
        last_error,
        operator,
        sender,
        tx,
        block,
        gas_used,
        anchored_ms,
    )) = row
    else {
        return Ok(None);
    };
    let address = |t: &str, what: &str| t.parse::<Address>().map_err(|_| corrupt(what));
    let state = match (operator, sender, anchored_ms) {
        (Some(operator), Some(sender), Some(at_ms)) => State::Attested(Attestation {
            operator: address(&operator, "operator")?,
            sender: address(&sender, "sender")?,
            tx: tx.as_deref().map(|t| b256(t, "tx")).transpose()?,
            block: block.map(|b| b as u64),
            gas_used: gas_used.map(|g| g as u64),
            at_ms: at_ms as u64,
        }),
        _ => State::Pending {
            attempts: attempts as u32,
            next_ms: next_ms as u64,
            last_error,
        },
    };
    Ok(Some(Record {
        session,
        occurrence,
        edition,
        leaves: stored_leaves(a, session, occurrence, edition)?,
        root: b256(&root, "root")?,
        chain_id: chain_id as u64,
        record_anchor: address(&anchor, "record anchor")?,
        computed_ms: computed_ms as u64,
        state,
    }))
}

fn stored_leaves(
    a: &Archive,
    session: u64,
    occurrence: u32,
    edition: u32,
) -> Result<Vec<(i64, Leaf)>, ArchiveError> {
    type Row = (i64, i64, String, String, String, String, i64);
    let rows: Vec<Row> = a.with_db(|db| {
        let mut q = db.prepare_cached(
            "SELECT speech_id, slot_start, speaker, audio_digest, attestation_digest,
                    transcript_digest, revision
             FROM record_leaves WHERE session = ?1 AND occurrence = ?2 AND edition <= ?3
             ORDER BY speech_id, revision, transcript_digest",
        )?;
        let rows = q
            .query_map(params![session as i64, occurrence, edition], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })?;
    rows.into_iter()
        .map(
            |(id, slot, speaker, audio, attestation, transcript, revision)| {
                Ok((
                    id,
                    Leaf {
                        sessionId: U256::from(session),
                        occurrence,
                        slotStart: alloy_primitives::Uint::from(slot as u64),
                        speaker: speaker.parse().map_err(|_| corrupt("speaker"))?,
                        audioDigest: b256(&audio, "audio digest")?,
                        attestationDigest: b256(&attestation, "attestation digest")?,
                        transcriptDigest: b256(&transcript, "transcript digest")?,
                        revision: revision as u32,
                    },
                ))
            },
        )
        .collect()
}

/// The latest edition of the record holding `speech`, if its occurrence's record has been
/// computed with it.
pub fn of_speech(a: &Archive, speech: i64) -> Result<Option<Record>, ArchiveError> {
    let at: Option<(i64, i64)> = a.with_db(|db| {
        db.query_row(
            "SELECT session, occurrence FROM record_leaves WHERE speech_id = ?1 AND revision = 0",
            [speech],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
    })?;
    match at {
        Some((session, occurrence)) => record(a, session as u64, occurrence as u32),
        None => Ok(None),
    }
}

/// Latest editions not yet attested by this node's operator whose next attempt is due at
/// `now_ms`, as (session, occurrence, edition).
pub fn due(a: &Archive, now_ms: u64) -> Result<Vec<(u64, u32, u32)>, ArchiveError> {
    a.with_db(|db| {
        let mut q = db.prepare_cached(
            "SELECT session, occurrence, edition FROM occurrence_records r
             WHERE anchored_ms IS NULL AND next_ms <= ?1
               AND edition = (SELECT MAX(edition) FROM occurrence_records l
                              WHERE l.session = r.session AND l.occurrence = r.occurrence)
             ORDER BY next_ms, session, occurrence",
        )?;
        let rows = q
            .query_map([now_ms as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)? as u32,
                    r.get::<_, i64>(2)? as u32,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}

/// Records that this node's operator has attested `record`'s root.
pub fn attested(
    a: &Archive,
    record: &Record,
    attestation: &Attestation,
) -> Result<(), ArchiveError> {
    a.with_db(|db| {
        db.execute(
            "UPDATE occurrence_records SET operator = ?4, sender = ?5, tx = ?6, block = ?7,
             gas_used = ?8, anchored_ms = ?9, last_error = NULL
             WHERE session = ?1 AND occurrence = ?2 AND edition = ?3",
            params![
                record.session as i64,
                record.occurrence,
                record.edition,
                attestation.operator.to_checksum(None),
                attestation.sender.to_checksum(None),
                attestation.tx.map(|t| t.to_string()),
                attestation.block.map(|b| b as i64),
                attestation.gas_used.map(|g| g as i64),
                attestation.at_ms as i64
            ],
        )
        .map(|_| ())
    })
}

/// Records a failed attempt at anchoring `record`: its count, when to try next, and why.
pub fn failed(
    a: &Archive,
    record: &Record,
    attempts: u32,
    next_ms: u64,
    error: &str,
) -> Result<(), ArchiveError> {
    a.with_db(|db| {
        db.execute(
            "UPDATE occurrence_records SET attempts = ?4, next_ms = ?5, last_error = ?6
             WHERE session = ?1 AND occurrence = ?2 AND edition = ?3",
            params![
                record.session as i64,
                record.occurrence,
                record.edition,
                attempts,
                next_ms as i64,
                error
            ],
        )
        .map(|_| ())
    })
}

/// The leaf hash of each of a record's leaves, by speech id.
pub fn leaf_hashes(record: &Record) -> Vec<(i64, B256)> {
    record
        .leaves
        .iter()
        .map(|(id, l)| (*id, leaf_hash(l)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::checked::Checked;
    use assembly_provenance::record::verify;

    #[test]
    fn a_record_is_computed_once_and_proves_each_speech() {
        let dir = std::env::temp_dir().join(format!("occurrence-record-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = Archive::open(&dir).unwrap();
        crate::hansard::store::migrate(&a).unwrap();
        let speaker = Address::repeat_byte(0xab).to_checksum(None);
        let mut ids = Vec::new();
        for k in 0..3u64 {
            let id = a
                .begin(4, 1, &speaker, (100 + k * 60, 160 + k * 60), 1, "x.ogg")
                .unwrap();
            ids.push(id);
        }
        // Two closed and checked, one still open: not ready.
        let sha = "11".repeat(32);
        for id in &ids[..2] {
            a.close_checked(*id, 2, 50, 1000, &sha, &Checked::default())
                .unwrap();
        }
        let r = readiness(&a, 4, 1).unwrap();
        assert_eq!((r.speeches, r.open, r.untranscribed), (3, 1, 3));
        assert_eq!(unrecorded(&a).unwrap(), vec![(4, 1)]);
        a.close(ids[2], 3, 50, 1000, &"22".repeat(32)).unwrap();
        assert_eq!(readiness(&a, 4, 1).unwrap().unchecked, 1);
        a.set_checked(ids[2], &Checked::default()).unwrap();
        crate::hansard::store::succeeded(&a, ids[0], "Hello.", &[], "test", 5).unwrap();
        let r = readiness(&a, 4, 1).unwrap();
        assert_eq!((r.open, r.unchecked, r.untranscribed), (0, 0, 2));

        let leaves = leaves(&a, 4, 1).unwrap();
        assert_eq!(leaves.len(), 3);
        assert_eq!(
            leaves[0].1.transcriptDigest,
            transcript_digest(Some("Hello."))
        );
        assert_eq!(leaves[1].1.transcriptDigest, B256::ZERO);
        assert_eq!(leaves[2].1.audioDigest, B256::repeat_byte(0x22));
        let anchor = Address::repeat_byte(9);
        let saved = save(&a, 4, 1, &leaves, 31337, anchor, 10).unwrap().unwrap();
        assert!(matches!(saved.state, State::Pending { attempts: 0, .. }));
        assert!(unrecorded(&a).unwrap().is_empty());
        assert_eq!(due(&a, 10).unwrap(), vec![(4, 1, 0)]);

        // A later transcript changes nothing kept: the record stays as computed.
        crate::hansard::store::succeeded(&a, ids[1], "Later.", &[], "test", 20).unwrap();
        let again = save(&a, 4, 1, &super::leaves(&a, 4, 1).unwrap(), 1, anchor, 30)
            .unwrap()
            .unwrap();
        assert_eq!(again, saved);
        let tree = saved.tree();
        for (id, hash) in leaf_hashes(&saved) {
            let proof = tree.proof(hash).unwrap();
            assert!(verify(&proof, saved.root, hash));
            assert_eq!(of_speech(&a, id).unwrap().unwrap().root, saved.root);
        }

        failed(&a, &saved, 1, 500, "down").unwrap();
        assert!(due(&a, 499).unwrap().is_empty());
        let attestation = Attestation {
            operator: Address::repeat_byte(1),
            sender: Address::repeat_byte(2),
            tx: Some(B256::repeat_byte(3)),
            block: Some(12),
            gas_used: Some(60_000),
            at_ms: 600,
        };
        attested(&a, &saved, &attestation).unwrap();
        assert!(due(&a, 10_000).unwrap().is_empty());
        let done = record(&a, 4, 1).unwrap().unwrap();
        assert_eq!(done.state, State::Attested(attestation));

        // The speaker corrects speech 0's transcript: a new edition holds its revision 1
        // beside revision 0, and every leaf of the first edition still proves in it.
        use crate::hansard::corrections::{insert, Inserted};
        assert!(corrected_leaves(&a, 4, 1).unwrap().is_empty());
        let taken = insert(&a, ids[0], 1, "Hello, all.", &speaker, "0x01", 700).unwrap();
        assert!(matches!(taken, Inserted::New(_)));
        assert_eq!(
            insert(&a, ids[0], 1, "Hello, all.", &speaker, "0x09", 701).unwrap(),
            Inserted::Held(match taken {
                Inserted::New(c) => c,
                _ => unreachable!(),
            })
        );
        // Another text the speaker signed for the same revision is kept beside it.
        assert!(matches!(
            insert(&a, ids[0], 1, "Other.", &speaker, "0x02", 702).unwrap(),
            Inserted::New(_)
        ));
        assert_eq!(
            insert(&a, ids[0], 3, "Skip.", &speaker, "0x03", 703).unwrap(),
            Inserted::Gap { next: 2 }
        );
        let added = corrected_leaves(&a, 4, 1).unwrap();
        assert_eq!(added.len(), 2);
        assert!(added.iter().all(|(id, l)| (*id, l.revision) == (ids[0], 1)));
        let mut digests: Vec<B256> = added.iter().map(|(_, l)| l.transcriptDigest).collect();
        digests.sort();
        let mut both = vec![
            transcript_digest(Some("Hello, all.")),
            transcript_digest(Some("Other.")),
        ];
        both.sort();
        assert_eq!(digests, both);
        assert_eq!(
            added[0].1.audioDigest,
            saved.leaf(ids[0]).unwrap().audioDigest
        );
        let second = extend(&a, 4, 1, &added, 800).unwrap().unwrap();
        assert_eq!((second.edition, second.leaves.len()), (1, 5));
        assert_ne!(second.root, saved.root);
        // The text shown is the lower digest of the two: the same on every node.
        let shown = second.leaf(ids[0]).unwrap();
        assert_eq!((shown.revision, shown.transcriptDigest), (1, both[0]));
        assert_eq!(second.leaf_at(ids[0], 0), saved.leaf(ids[0]));
        let tree = second.tree();
        for (_, hash) in leaf_hashes(&saved) {
            assert!(verify(&tree.proof(hash).unwrap(), second.root, hash));
        }
        // The first edition is kept, attested; the second is the one due.
        assert_eq!(record_at(&a, 4, 1, 0).unwrap().unwrap().root, saved.root);
        assert_eq!(editions(&a, 4, 1).unwrap().len(), 2);
        assert_eq!(due(&a, 10_000).unwrap(), vec![(4, 1, 1)]);
        assert_eq!(of_speech(&a, ids[1]).unwrap().unwrap().edition, 1);
        assert!(corrected_leaves(&a, 4, 1).unwrap().is_empty());
        // A node computing the record only now (the correction already held) gets the
        // same leaves for the corrected speech, so the same root as this second edition.
        let fresh: Vec<Leaf> = super::leaves(&a, 4, 1)
            .unwrap()
            .into_iter()
            .filter(|(id, _)| *id == ids[0])
            .map(|(_, l)| l)
            .collect();
        let kept: Vec<Leaf> = second
            .leaves
            .iter()
            .filter(|(id, _)| *id == ids[0])
            .map(|(_, l)| l.clone())
            .collect();
        assert_eq!(fresh, kept);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod migration {
    use rusqlite::Connection;

    #[test]
    fn records_from_before_editions_become_edition_0() {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch(
            "CREATE TABLE occurrence_records (
               session INTEGER NOT NULL, occurrence INTEGER NOT NULL,
               root TEXT NOT NULL, speeches INTEGER NOT NULL,
               chain_id INTEGER NOT NULL, record_anchor TEXT NOT NULL, computed_ms INTEGER NOT NULL,
               attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL DEFAULT 0, last_error TEXT,
               operator TEXT, sender TEXT, tx TEXT, block INTEGER, gas_used INTEGER, anchored_ms INTEGER,
               PRIMARY KEY (session, occurrence));
             CREATE TABLE record_leaves (
               speech_id INTEGER PRIMARY KEY,
               session INTEGER NOT NULL, occurrence INTEGER NOT NULL, slot_start INTEGER NOT NULL,
               speaker TEXT NOT NULL, audio_digest TEXT NOT NULL, attestation_digest TEXT NOT NULL,
               transcript_digest TEXT NOT NULL, revision INTEGER NOT NULL);
             CREATE INDEX record_leaves_by_occurrence ON record_leaves (session, occurrence);
             INSERT INTO occurrence_records (session, occurrence, root, speeches, chain_id, record_anchor, computed_ms, anchored_ms)
               VALUES (4, 1, '0xaa', 1, 31337, '0xbb', 10, 20);
             INSERT INTO record_leaves VALUES (7, 4, 1, 100, '0xcc', '0x11', '0x22', '0x33', 0);",
        )
        .unwrap();
        super::migrate(&db).unwrap();
        super::migrate(&db).unwrap();
        let (edition, anchored): (i64, i64) = db
            .query_row(
                "SELECT edition, anchored_ms FROM occurrence_records",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((edition, anchored), (0, 20));
        let (speech, revision, edition): (i64, i64, i64) = db
            .query_row(
                "SELECT speech_id, revision, edition FROM record_leaves",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((speech, revision, edition), (7, 0, 0));
    }
}
