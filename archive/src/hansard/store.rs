//! The Hansard's tables, beside the speeches in the archive database: a transcription queue
//! (every closed speech enters it; failures wait and retry, nothing is dropped), the
//! transcripts, and an FTS5 index over them.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::hansard::corrections::{self, LATEST};
use crate::hansard::transcribe::Segment;
use crate::record::archive::{self, Archive, ArchiveError, Speech};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS transcript_queue (
  speech_id INTEGER PRIMARY KEY REFERENCES speeches(id),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_ms INTEGER NOT NULL DEFAULT 0,
  last_error TEXT
);
CREATE TABLE IF NOT EXISTS transcripts (
  speech_id INTEGER PRIMARY KEY REFERENCES speeches(id),
  text TEXT NOT NULL, engine TEXT NOT NULL, transcribed_ms INTEGER NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS hansard_fts USING fts5(text, speech_id UNINDEXED, tokenize = 'porter unicode61');
";

/// One search hit.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Hit {
    /// The speech that matched, its fields inlined.
    #[serde(flatten)]
    pub speech: Speech,
    /// The speech's whole transcript, at its latest revision.
    pub text: String,
    /// That revision: 0 as transcribed, one more for each correction its speaker signed.
    pub revision: u32,
    /// The matching words in context, matches in [brackets].
    pub snippet: String,
    /// The recording, from the moment the speech starts.
    pub audio: String,
    /// Where in the recording the first searched word was said, in milliseconds, when the
    /// transcript is timed and uncorrected; null otherwise (play from the start).
    pub at_ms: Option<u64>,
}

/// What a search is narrowed by.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Words, all of which must appear (stemmed: "funding" finds "fund").
    pub words: Option<String>,
    /// Only speeches of this address, in any case; None: every speaker.
    pub speaker: Option<String>,
    /// Only speeches of these sessions (an empty list matches none); None: every session.
    pub sessions: Option<Vec<u64>>,
    /// Only speeches that started at or after this, milliseconds since the epoch.
    pub from_ms: Option<u64>,
    /// Only speeches that started before this, milliseconds since the epoch.
    pub to_ms: Option<u64>,
    /// At most this many hits; None: 50 (never more than 500).
    pub limit: Option<u32>,
    /// Newest first (a feed's order) instead of oldest first (a record's).
    pub newest: bool,
}

/// A speech with its transcript, for exports.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Entry {
    /// The speech, its fields inlined.
    #[serde(flatten)]
    pub speech: Speech,
    /// The transcript at its latest revision; `None` while the speech waits for
    /// transcription and has no correction.
    pub text: Option<String>,
    /// That revision: 0 as transcribed, one more for each correction its speaker signed
    /// (`GET /api/v1/archive/speeches/{id}/transcript` has every revision).
    pub revision: u32,
    /// The transcriber that wrote revision 0 (its `name()`); `None` while the speech waits.
    pub engine: Option<String>,
    /// The transcript's timed segments, for following playback; empty where the engine
    /// gave no times, or the speaker corrected the text (the times are of other words).
    pub segments: Vec<Segment>,
}

/// Creates the Hansard's tables in the archive database, if they are missing.
pub fn migrate(a: &Archive) -> Result<(), ArchiveError> {
    a.with_db(|db| {
        db.execute_batch(SCHEMA)?;
        corrections::migrate(db)?;
        // Timed segments came later: a database from before gains the column, empty.
        let timed: i64 = db.query_row(
            "SELECT COUNT(*) FROM pragma_table_info('transcripts') WHERE name = 'segments'",
            [],
            |r| r.get(0),
        )?;
        if timed == 0 {
            db.execute_batch("ALTER TABLE transcripts ADD COLUMN segments TEXT")?;
        }
        Ok(())
    })
}

/// Segments as stored (JSON), or none for a transcript without times or an unreadable column.
fn segments(json: Option<String>) -> Vec<Segment> {
    json.and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default()
}

/// When the first of `words` is said in `segments`: a segment holding a word that shares
/// the searched word's first letters (the index stems, "funding" finds "fund"), in order.
fn moment(words: &str, segments: &[Segment]) -> Option<u64> {
    let wanted: Vec<String> = words
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().chars().take(4).collect())
        .collect();
    segments
        .iter()
        .find(|s| {
            s.text
                .split(|c: char| !c.is_alphanumeric() && c != '\'')
                .map(str::to_lowercase)
                .any(|w| wanted.iter().any(|p| w.starts_with(p.as_str())))
        })
        .map(|s| s.start_ms)
}

/// Puts every closed speech without a transcript in the queue.
pub fn enqueue_closed(a: &Archive) -> Result<usize, ArchiveError> {
    a.with_db(|db| {
        db.execute(
            "INSERT OR IGNORE INTO transcript_queue (speech_id)
             SELECT id FROM speeches WHERE open = 0 AND packets > 0
               AND id NOT IN (SELECT speech_id FROM transcripts)",
            [],
        )
    })
}

/// The next speech due for transcription at `now_ms`.
pub fn due(a: &Archive, now_ms: u64) -> Result<Option<(Speech, u32)>, ArchiveError> {
    a.with_db(|db| {
        db.query_row(
            &format!(
                "SELECT {}, q.attempts FROM transcript_queue q JOIN speeches s ON s.id = q.speech_id
                 WHERE q.next_ms <= ?1 ORDER BY q.next_ms, s.started_ms LIMIT 1",
                prefixed()
            ),
            [now_ms as i64],
            |r| Ok((archive::row(r)?, r.get::<_, i64>(13)? as u32)),
        )
        .optional()
    })
}

/// [`archive::COLUMNS`] as columns of `s` (a query's speeches).
pub(crate) fn prefixed() -> String {
    archive::COLUMNS
        .split(", ")
        .map(|c| format!("s.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Records `speech`'s transcript by `engine`, indexes it for search, and takes it off the queue.
pub fn succeeded(
    a: &Archive,
    speech: i64,
    text: &str,
    timed: &[Segment],
    engine: &str,
    now_ms: u64,
) -> Result<(), ArchiveError> {
    let timed = (!timed.is_empty())
        .then(|| serde_json::to_string(timed).ok())
        .flatten();
    a.with_db(|db| {
        let tx = db.unchecked_transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO transcripts (speech_id, text, engine, transcribed_ms, segments) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![speech, text, engine, now_ms as i64, timed],
        )?;
        // A correction the speaker made before the transcriber finished stays what is
        // searched: it is the latest revision.
        let corrected = corrections::shown(&tx, speech)?;
        tx.execute("DELETE FROM hansard_fts WHERE speech_id = ?1", [speech])?;
        tx.execute(
            "INSERT INTO hansard_fts (text, speech_id) VALUES (?1, ?2)",
            params![corrected.as_deref().unwrap_or(text), speech],
        )?;
        tx.execute("DELETE FROM transcript_queue WHERE speech_id = ?1", [speech])?;
        tx.commit()
    })
}

/// Records a failed attempt: its count, when to retry (milliseconds since the epoch), and the error.
pub fn failed(
    a: &Archive,
    speech: i64,
    attempts: u32,
    retry_at_ms: u64,
    error: &str,
) -> Result<(), ArchiveError> {
    a.with_db(|db| {
        db.execute(
            "UPDATE transcript_queue SET attempts = ?2, next_ms = ?3, last_error = ?4 WHERE speech_id = ?1",
            params![speech, attempts, retry_at_ms as i64, error],
        )
        .map(|_| ())
    })
}

/// Speeches waiting for transcription.
pub fn pending(a: &Archive) -> Result<u64, ArchiveError> {
    a.with_db(|db| {
        db.query_row("SELECT COUNT(*) FROM transcript_queue", [], |r| {
            r.get::<_, i64>(0)
        })
    })
    .map(|n| n as u64)
}

/// The queue: how many speeches wait, and the last failure's words, if any.
pub fn queue_status(a: &Archive) -> Result<(u64, Option<String>), ArchiveError> {
    a.with_db(|db| {
        let pending: i64 = db.query_row("SELECT COUNT(*) FROM transcript_queue", [], |r| r.get(0))?;
        let last: Option<String> = db
            .query_row(
                "SELECT last_error FROM transcript_queue WHERE last_error IS NOT NULL ORDER BY next_ms DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok((pending as u64, last))
    })
}

/// `words` as an FTS5 query that cannot be a syntax error: each word quoted, all required.
fn match_expr(words: &str) -> Option<String> {
    let terms: Vec<String> = words
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{}\"", w.replace('"', "")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// Transcribed speeches matching `q`, oldest first (newest with `q.newest`); without words, each snippet is the transcript's first 120 characters.
pub fn search(a: &Archive, q: &Query) -> Result<Vec<Hit>, ArchiveError> {
    let sessions = q.sessions.as_ref().map(|v| {
        v.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(",")
    });
    let limit = i64::from(q.limit.unwrap_or(50).min(500));
    let order = if q.newest { "DESC" } else { "ASC" };
    a.with_db(|db: &Connection| {
        let words = q.words.as_deref().and_then(match_expr);
        let session_clause = match &sessions {
            Some(list) if list.is_empty() => " AND 0".to_string(),
            Some(list) => format!(" AND s.session IN ({list})"),
            None => String::new(),
        };
        let sql = if words.is_some() {
            format!(
                "SELECT {}, COALESCE(c.text, t.text), snippet(hansard_fts, 0, '[', ']', '…', 12),
                        CASE WHEN c.text IS NULL THEN t.segments END, COALESCE(c.revision, 0)
                 FROM hansard_fts JOIN speeches s ON s.id = hansard_fts.speech_id
                 LEFT JOIN transcripts t ON t.speech_id = s.id {LATEST}
                 WHERE hansard_fts MATCH ?1 AND (?2 IS NULL OR lower(s.speaker) = lower(?2))
                   AND (?3 IS NULL OR s.started_ms >= ?3) AND (?4 IS NULL OR s.started_ms < ?4){session_clause}
                 ORDER BY s.started_ms {order} LIMIT ?5",
                prefixed()
            )
        } else {
            format!(
                "SELECT {}, COALESCE(c.text, t.text), substr(COALESCE(c.text, t.text), 1, 120),
                        CASE WHEN c.text IS NULL THEN t.segments END, COALESCE(c.revision, 0)
                 FROM speeches s LEFT JOIN transcripts t ON t.speech_id = s.id {LATEST}
                 WHERE (t.speech_id IS NOT NULL OR c.speech_id IS NOT NULL)
                   AND (?1 IS NULL OR 1) AND (?2 IS NULL OR lower(s.speaker) = lower(?2))
                   AND (?3 IS NULL OR s.started_ms >= ?3) AND (?4 IS NULL OR s.started_ms < ?4){session_clause}
                 ORDER BY s.started_ms {order} LIMIT ?5",
                prefixed()
            )
        };
        let mut stmt = db.prepare(&sql)?;
        let rows = stmt
            .query_map(
                params![words, q.speaker, q.from_ms.map(|v| v as i64), q.to_ms.map(|v| v as i64), limit],
                |r| {
                    let speech = archive::row(r)?;
                    let audio = format!("/api/v1/archive/speeches/{}/audio", speech.id);
                    let timed = segments(r.get(15)?);
                    Ok(Hit {
                        speech,
                        text: r.get(13)?,
                        revision: r.get::<_, i64>(16)? as u32,
                        snippet: r.get(14)?,
                        audio,
                        at_ms: q.words.as_deref().and_then(|w| moment(w, &timed)),
                    })
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}

/// `speech`'s transcript as transcribed (revision 0): its text, the engine's name and when
/// it was stored (milliseconds since the epoch); None while it waits.
pub fn transcript(a: &Archive, speech: i64) -> Result<Option<(String, String, u64)>, ArchiveError> {
    a.with_db(|db| {
        db.query_row(
            "SELECT text, engine, transcribed_ms FROM transcripts WHERE speech_id = ?1",
            [speech],
            |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)),
        )
        .optional()
    })
}

/// A session's speeches with their transcripts, in order.
pub fn session(a: &Archive, session: u64) -> Result<Vec<Entry>, ArchiveError> {
    a.with_db(|db| {
        let mut stmt = db.prepare(&format!(
            "SELECT {}, COALESCE(c.text, t.text), t.engine,
                    CASE WHEN c.text IS NULL THEN t.segments END, COALESCE(c.revision, 0)
             FROM speeches s LEFT JOIN transcripts t ON t.speech_id = s.id {LATEST}
             WHERE s.session = ?1 ORDER BY s.started_ms, s.id",
            prefixed()
        ))?;
        let rows = stmt
            .query_map([session as i64], |r| {
                Ok(Entry {
                    speech: archive::row(r)?,
                    text: r.get(13)?,
                    revision: r.get::<_, i64>(16)? as u32,
                    engine: r.get(14)?,
                    segments: segments(r.get(15)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}

#[cfg(test)]
mod tests {
    use super::match_expr;

    #[test]
    fn queries_cannot_break_fts_syntax() {
        assert_eq!(
            match_expr("treasury  fund"),
            Some("\"treasury\" \"fund\"".into())
        );
        assert_eq!(
            match_expr("\"NEAR(a b)\" OR *"),
            Some("\"NEAR\" \"a\" \"b\" \"OR\"".into())
        );
        assert_eq!(match_expr("  ,;  "), None);
    }
}

#[cfg(test)]
mod db_tests {
    use super::*;

    #[test]
    fn transcripts_are_searchable_and_exported() {
        let dir = std::env::temp_dir().join(format!("hansard-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = Archive::open(&dir).unwrap();
        migrate(&a).unwrap();
        let id = a.begin(3, 0, "0xAb", (10, 20), 10_500, "x.ogg").unwrap();
        a.close(id, 12_000, 75, 1500, "00").unwrap();
        assert_eq!(enqueue_closed(&a).unwrap(), 1);
        let (s, attempts) = due(&a, 4_000_000_000_000).unwrap().unwrap();
        assert_eq!((s.id, attempts), (id, 0));
        failed(&a, id, 1, 5_000, "down").unwrap();
        assert!(due(&a, 4_999).unwrap().is_none(), "waits after a failure");
        let timed = [
            Segment {
                start_ms: 0,
                end_ms: 1500,
                text: "We should".into(),
            },
            Segment {
                start_ms: 1500,
                end_ms: 4000,
                text: "fund the monitoring work.".into(),
            },
        ];
        succeeded(
            &a,
            id,
            "We should fund the monitoring work.",
            &timed,
            "test",
            6_000,
        )
        .unwrap();
        assert_eq!(pending(&a).unwrap(), 0);
        let hits = search(
            &a,
            &Query {
                words: Some("funding".into()),
                ..Query::default()
            },
        )
        .unwrap();
        assert_eq!(hits.len(), 1);
        assert!(hits[0].snippet.contains("[fund]"), "{}", hits[0].snippet);
        assert_eq!(
            hits[0].at_ms,
            Some(1500),
            "the hit jumps to where the word was said"
        );
        assert_eq!(session(&a, 3).unwrap()[0].segments, timed);
        let none = search(
            &a,
            &Query {
                words: Some("fund".into()),
                speaker: Some("0xcd".into()),
                ..Query::default()
            },
        )
        .unwrap();
        assert!(none.is_empty());
        assert_eq!(
            session(&a, 3).unwrap()[0].text.as_deref(),
            Some("We should fund the monitoring work.")
        );

        // The speaker corrects it: the Hansard shows and searches revision 1, without the
        // engine's times (they are of other words); the original stays as transcribed.
        corrections::insert(
            &a,
            id,
            1,
            "We should fund the auditing work.",
            "0xAb",
            "0x01",
            7_000,
        )
        .unwrap();
        let entry = &session(&a, 3).unwrap()[0];
        assert_eq!(
            (entry.text.as_deref(), entry.revision, entry.segments.len()),
            (Some("We should fund the auditing work."), 1, 0)
        );
        let words = |w: &str| {
            search(
                &a,
                &Query {
                    words: Some(w.into()),
                    ..Query::default()
                },
            )
            .unwrap()
        };
        assert_eq!(words("auditing").len(), 1);
        assert_eq!(words("auditing")[0].revision, 1);
        assert!(
            words("monitoring").is_empty(),
            "the replaced words are not searched"
        );
        assert_eq!(
            transcript(&a, id).unwrap().unwrap().0,
            "We should fund the monitoring work."
        );
        // A transcript stored after a correction (a retried engine) leaves the correction
        // what is searched.
        succeeded(
            &a,
            id,
            "We should fund the monitoring work.",
            &[],
            "test",
            8_000,
        )
        .unwrap();
        assert_eq!(words("auditing").len(), 1);
        assert!(words("monitoring").is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
