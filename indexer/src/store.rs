//! The embedded database (SQLite). Every applied block commits in one transaction together
//! with its checkpoint, so a process killed at any point restarts from a consistent state,
//! and the `logs` ledger (keyed by block and log index) makes applying a log twice
//! impossible. Every row remembers the block that wrote it, so a reorg is undone by
//! deleting or clearing what blocks above the fork wrote.

use parking_lot::{Mutex, MutexGuard};
use std::path::Path;

use alloy::primitives::{Address, B256, U256};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use crate::events::{Event, Kind, Position, Speakers};
use crate::floor::{self, Request, Schedule, Slot, Span};

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The database was made for another chain or Assembly contract.
    #[error("database belongs to {found}, not {expected}")]
    WrongDeployment {
        /// The deployment asked for, `chain_id:assembly_address`.
        expected: String,
        /// The deployment the database was bound to when created, in the same form.
        found: String,
    },
    /// A stored row does not parse back into its type; what was wrong.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

type Result<T> = std::result::Result<T, StoreError>;

/// A block the store knows: the checkpoint and the recent window used to detect reorgs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRef {
    /// The block's number.
    pub number: u64,
    /// The block's hash.
    pub hash: B256,
    /// Its parent's hash, to detect a reorg at the next block.
    pub parent_hash: B256,
    /// The block's timestamp, unix seconds.
    pub timestamp: u64,
}

/// A session as the events built it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    /// The contract's session id.
    pub id: u64,
    /// What the session is for.
    pub kind: Kind,
    /// The governor proposal a debate is about; zero for an open floor.
    pub proposal_id: U256,
    /// Who may ask for the floor.
    pub speakers: Speakers,
    /// The most entries one occurrence's queue holds at once.
    pub max_queue: u16,
    /// When occurrences run, their slot length, and when the session was cancelled.
    pub schedule: Schedule,
    /// The block whose `SessionCreated` log made the session.
    pub created_block: u64,
    /// The block whose `SessionCancelled` log cancelled it; None while it stands.
    pub cancelled_block: Option<u64>,
    /// Whether it requires signed audio (its latest `SignedAudioSet`).
    pub signed_audio: bool,
}

/// A request for the floor with the block that made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRow {
    /// The request's position in the occurrence's queue, from 0.
    pub index: u32,
    /// Who asked, when, and whether they withdrew or yielded.
    pub request: Request,
    /// Whether the speaker was an active orchestrator when it asked (else a delegator).
    pub orchestrator: bool,
    /// The block whose `Enqueued` log made the request.
    pub block: u64,
    /// The latest block that changed this request (enqueue, withdrawal or yield).
    pub last_block: u64,
}

/// Counts, for status and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stats {
    /// Applied logs of Assembly and the followed Livepeer contracts.
    pub logs: u64,
    /// Sessions created (cancelled ones included).
    pub sessions: u64,
    /// Requests for the floor, over all sessions and occurrences.
    pub requests: u64,
    /// Logs that did not decode and were skipped.
    pub skipped: u64,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    number INTEGER PRIMARY KEY, hash BLOB NOT NULL, parent BLOB NOT NULL, timestamp INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS logs (
    block INTEGER NOT NULL, log_index INTEGER NOT NULL, block_hash BLOB NOT NULL, tx_hash BLOB NOT NULL,
    event TEXT NOT NULL, PRIMARY KEY (block, log_index));
CREATE TABLE IF NOT EXISTS skipped (
    block INTEGER NOT NULL, log_index INTEGER NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (block, log_index));
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, proposal_id TEXT NOT NULL, start INTEGER NOT NULL,
    duration INTEGER NOT NULL, period INTEGER NOT NULL, count INTEGER NOT NULL, slot_length INTEGER NOT NULL,
    max_queue INTEGER NOT NULL, speakers TEXT NOT NULL, created_block INTEGER NOT NULL,
    cancelled_at INTEGER, cancelled_block INTEGER);
CREATE TABLE IF NOT EXISTS signed_audio (
    session INTEGER NOT NULL, required INTEGER NOT NULL, block INTEGER NOT NULL, log_index INTEGER NOT NULL,
    PRIMARY KEY (block, log_index));
CREATE TABLE IF NOT EXISTS requests (
    session INTEGER NOT NULL, occurrence INTEGER NOT NULL, idx INTEGER NOT NULL, speaker BLOB NOT NULL,
    enqueued_at INTEGER NOT NULL, orchestrator INTEGER NOT NULL, block INTEGER NOT NULL,
    withdrawn_at INTEGER, withdrawn_block INTEGER, yielded_at INTEGER, yielded_block INTEGER,
    PRIMARY KEY (session, occurrence, idx));
CREATE TABLE IF NOT EXISTS proposals (
    proposal_id TEXT PRIMARY KEY, actions TEXT NOT NULL, vote_end INTEGER NOT NULL, block INTEGER NOT NULL,
    canceled_block INTEGER);
CREATE TABLE IF NOT EXISTS titles (
    proposal_id TEXT PRIMARY KEY, proposal BLOB, lip INTEGER, title TEXT, cid TEXT,
    resolved INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_try INTEGER NOT NULL DEFAULT 0,
    error TEXT);
CREATE TABLE IF NOT EXISTS polls (
    poll BLOB PRIMARY KEY, proposal BLOB NOT NULL, end_block INTEGER NOT NULL, block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS keeper (
    proposal_id TEXT PRIMARY KEY, attempts INTEGER NOT NULL, outcome TEXT NOT NULL, final INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS votes (
    proposal_id TEXT NOT NULL, voter BLOB NOT NULL, support INTEGER NOT NULL, weight TEXT,
    reason TEXT NOT NULL, block INTEGER NOT NULL, log_index INTEGER NOT NULL,
    PRIMARY KEY (block, log_index));
CREATE INDEX IF NOT EXISTS votes_by_proposal ON votes (proposal_id);
CREATE TABLE IF NOT EXISTS node_log (
    block INTEGER NOT NULL, log_index INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (block, log_index));
CREATE TABLE IF NOT EXISTS debates (
    proposal_id TEXT PRIMARY KEY, session INTEGER NOT NULL, vote_closes_at INTEGER NOT NULL, block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS record_anchors (
    session INTEGER NOT NULL, occurrence INTEGER NOT NULL, root BLOB NOT NULL, operator BLOB NOT NULL,
    node BLOB NOT NULL, speeches INTEGER NOT NULL, block INTEGER NOT NULL, log_index INTEGER NOT NULL,
    tx_hash BLOB NOT NULL, PRIMARY KEY (block, log_index));
CREATE INDEX IF NOT EXISTS record_anchors_by_occurrence ON record_anchors (session, occurrence);
"#;

/// The columns `session_row` reads, in its order.
const SESSION_SELECT: &str =
    "SELECT id, kind, proposal_id, start, duration, period, count, slot_length, max_queue, \
     speakers, created_block, cancelled_at, cancelled_block, \
     COALESCE((SELECT required FROM signed_audio a WHERE a.session = sessions.id \
               ORDER BY a.block DESC, a.log_index DESC LIMIT 1), 0) FROM sessions";

/// The indexer's database.
pub struct Store {
    conn: Mutex<Connection>,
}

fn kind_str(k: Kind) -> &'static str {
    match k {
        Kind::OpenFloor => "open_floor",
        Kind::LipDebate => "lip_debate",
        Kind::TreasuryDebate => "treasury_debate",
        Kind::GovernorDebate => "governor_debate",
    }
}

fn kind_of(s: &str) -> Result<Kind> {
    Ok(match s {
        "open_floor" => Kind::OpenFloor,
        "lip_debate" => Kind::LipDebate,
        "treasury_debate" => Kind::TreasuryDebate,
        "governor_debate" => Kind::GovernorDebate,
        other => return Err(StoreError::Corrupt(format!("session kind {other}"))),
    })
}

fn speakers_str(s: Speakers) -> &'static str {
    match s {
        Speakers::Orchestrators => "orchestrators",
        Speakers::OrchestratorsAndDelegators => "orchestrators_and_delegators",
    }
}

fn speakers_of(s: &str) -> Result<Speakers> {
    Ok(match s {
        "orchestrators" => Speakers::Orchestrators,
        "orchestrators_and_delegators" => Speakers::OrchestratorsAndDelegators,
        other => return Err(StoreError::Corrupt(format!("speakers {other}"))),
    })
}

fn b256(v: Vec<u8>) -> Result<B256> {
    B256::try_from(v.as_slice()).map_err(|_| StoreError::Corrupt("hash".into()))
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::init(Connection::open(path)?)
    }

    /// A database in memory, for tests and benchmarks.
    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self> {
        // WAL with NORMAL sync survives a killed process (not a power cut, which a restart
        // recovers from by re-reading the chain above the last durable checkpoint).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-applied block (transactions
        // roll back on drop), so a poisoned lock is safe to keep using.
        self.conn.lock()
    }

    /// Binds the database to one deployment, refusing one made for another.
    pub fn bind(&self, chain_id: u64, assembly: Address) -> Result<()> {
        let expected = format!("{chain_id}:{assembly}");
        let conn = self.conn();
        let found: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'deployment'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match found {
            Some(found) if found != expected => {
                Err(StoreError::WrongDeployment { expected, found })
            }
            Some(_) => Ok(()),
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('deployment', ?1)",
                    [expected],
                )?;
                Ok(())
            }
        }
    }

    /// The last applied block, if any.
    pub fn head(&self) -> Result<Option<BlockRef>> {
        self.block_below(i64::MAX as u64)
    }

    /// The highest stored block below `number` (where to roll back to when `number` is orphaned).
    pub fn block_below(&self, number: u64) -> Result<Option<BlockRef>> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT number, hash, parent, timestamp FROM blocks WHERE number < ?1 ORDER BY number DESC LIMIT 1",
                [number as i64],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(2)?, r.get::<_, i64>(3)?)),
            )
            .optional()?;
        row.map(|(n, h, p, t)| {
            Ok(BlockRef {
                number: n as u64,
                hash: b256(h)?,
                parent_hash: b256(p)?,
                timestamp: t as u64,
            })
        })
        .transpose()
    }

    /// Applies the logs of blocks up to and including `checkpoint`, and records the
    /// checkpoint, atomically. Logs that do not decode are recorded as skipped with their
    /// reason. Returns the number of events applied.
    pub fn apply(
        &self,
        checkpoint: BlockRef,
        logs: &[(Position, std::result::Result<Event, String>)],
        keep_blocks: u64,
    ) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut applied = 0;
        for (pos, event) in logs {
            match event {
                Ok(event) => {
                    if Self::apply_one(&tx, pos, event)? {
                        applied += 1;
                    }
                }
                Err(reason) => {
                    tx.prepare_cached("INSERT OR IGNORE INTO skipped (block, log_index, reason) VALUES (?1, ?2, ?3)")?
                        .execute(params![pos.block as i64, pos.log_index as i64, reason])?;
                }
            }
        }
        tx.prepare_cached("INSERT OR REPLACE INTO blocks (number, hash, parent, timestamp) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![
                checkpoint.number as i64,
                checkpoint.hash.as_slice(),
                checkpoint.parent_hash.as_slice(),
                checkpoint.timestamp as i64
            ])?;
        // Old block hashes are only needed as far back as a reorg can reach.
        tx.prepare_cached("DELETE FROM blocks WHERE number < ?1")?
            .execute([checkpoint.number.saturating_sub(keep_blocks) as i64])?;
        tx.commit()?;
        Ok(applied)
    }

    /// Applies one event; false if this log was already applied (never expected: the
    /// checkpoint commits with the logs, so a restart never replays a committed block).
    fn apply_one(tx: &Transaction<'_>, pos: &Position, event: &Event) -> Result<bool> {
        let json = serde_json::to_string(event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let inserted = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO logs (block, log_index, block_hash, tx_hash, event) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                pos.block as i64,
                pos.log_index as i64,
                pos.block_hash.as_slice(),
                pos.tx_hash.as_slice(),
                json
            ])?;
        if inserted == 0 {
            tracing::warn!(
                block = pos.block,
                log_index = pos.log_index,
                "log already applied; ignored"
            );
            return Ok(false);
        }
        let block = pos.block as i64;
        match event {
            Event::SessionCreated {
                session,
                kind,
                proposal_id,
                start,
                duration,
                period,
                count,
                slot_length,
                max_queue,
                speakers,
            } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO sessions (id, kind, proposal_id, start, duration, period, count, slot_length,
                     max_queue, speakers, created_block) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?
                .execute(params![
                    *session as i64,
                    kind_str(*kind),
                    proposal_id.to_string(),
                    *start as i64,
                    *duration as i64,
                    *period as i64,
                    *count as i64,
                    *slot_length as i64,
                    *max_queue as i64,
                    speakers_str(*speakers),
                    block
                ])?;
            }
            Event::SessionCancelled { session, at } => {
                tx.prepare_cached(
                    "UPDATE sessions SET cancelled_at = ?2, cancelled_block = ?3 WHERE id = ?1",
                )?
                .execute(params![*session as i64, *at as i64, block])?;
            }
            Event::SignedAudioSet { session, required } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO signed_audio (session, required, block, log_index) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![*session as i64, *required, block, pos.log_index as i64])?;
            }
            Event::Enqueued {
                session,
                occurrence,
                index,
                speaker,
                at,
                orchestrator,
            } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO requests (session, occurrence, idx, speaker, enqueued_at, orchestrator, block)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    *session as i64,
                    *occurrence as i64,
                    *index as i64,
                    speaker.as_slice(),
                    *at as i64,
                    *orchestrator,
                    block
                ])?;
            }
            Event::Withdrawn {
                session,
                occurrence,
                index,
                at,
                ..
            } => {
                tx.prepare_cached(
                    "UPDATE requests SET withdrawn_at = ?4, withdrawn_block = ?5
                     WHERE session = ?1 AND occurrence = ?2 AND idx = ?3",
                )?
                .execute(params![
                    *session as i64,
                    *occurrence as i64,
                    *index as i64,
                    *at as i64,
                    block
                ])?;
            }
            Event::Yielded {
                session,
                occurrence,
                index,
                at,
                ..
            } => {
                tx.prepare_cached(
                    "UPDATE requests SET yielded_at = ?4, yielded_block = ?5
                     WHERE session = ?1 AND occurrence = ?2 AND idx = ?3",
                )?
                .execute(params![
                    *session as i64,
                    *occurrence as i64,
                    *index as i64,
                    *at as i64,
                    block
                ])?;
            }
            Event::DebateOpened {
                proposal_id,
                session,
                vote_closes_at,
            } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO debates (proposal_id, session, vote_closes_at, block) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![proposal_id.to_string(), *session as i64, *vote_closes_at as i64, block])?;
            }
            Event::ProposalCreated {
                proposal_id,
                vote_end,
                title,
                ..
            } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO titles (proposal_id, title, resolved) VALUES (?1, ?2, 1)",
                )?
                .execute(params![proposal_id.to_string(), title])?;
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO proposals (proposal_id, actions, vote_end, block) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![proposal_id.to_string(), json, *vote_end as i64, block])?;
            }
            Event::PollCreated {
                poll,
                proposal,
                end_block,
                ..
            } => {
                // A poll is a proposal too (its id is its address), so the keeper finds it
                // among the proposals without a debate; `vote_end` holds its end block.
                let id = U256::from_be_slice(poll.as_slice());
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO proposals (proposal_id, actions, vote_end, block) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![id.to_string(), json, *end_block as i64, block])?;
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO polls (poll, proposal, end_block, block) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![poll.as_slice(), proposal.as_ref(), *end_block as i64, block])?;
                let cid = crate::ipfs::cid_of_proposal(proposal)
                    .map(|c| c.to_string())
                    .unwrap_or_else(|_| {
                        String::from_utf8_lossy(proposal)
                            .chars()
                            .take(100)
                            .collect()
                    });
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO titles (proposal_id, proposal, cid, resolved) VALUES (?1, ?2, ?3, 0)",
                )?
                .execute(params![id.to_string(), proposal.as_ref(), cid])?;
            }
            Event::ProposalCanceled { proposal_id } => {
                tx.prepare_cached(
                    "UPDATE proposals SET canceled_block = ?2 WHERE proposal_id = ?1",
                )?
                .execute(params![proposal_id.to_string(), block])?;
            }
            Event::Voted {
                proposal_id,
                voter,
                support,
                weight,
                reason,
            } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO votes (proposal_id, voter, support, weight, reason, block, log_index)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    proposal_id.to_string(),
                    voter.as_slice(),
                    *support as i64,
                    weight.map(|w| format!("{w:#x}")),
                    reason,
                    block,
                    pos.log_index as i64
                ])?;
            }
            Event::NodeRegistered { .. }
            | Event::NodeUrlChanged { .. }
            | Event::NodeKeyRotated { .. }
            | Event::NodeDeregistered { .. }
            | Event::NodeStandingChanged { .. } => {
                // Kept apart from `logs` so that the cluster folds from its own few rows.
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO node_log (block, log_index, event) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![block, pos.log_index as i64, json])?;
            }
            Event::RecordAnchored {
                session,
                occurrence,
                root,
                operator,
                node,
                speeches,
            } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO record_anchors (session, occurrence, root, operator, node,
                     speeches, block, log_index, tx_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?
                .execute(params![
                    *session as i64,
                    *occurrence as i64,
                    root.as_slice(),
                    operator.as_slice(),
                    node.as_slice(),
                    *speeches as i64,
                    block,
                    pos.log_index as i64,
                    pos.tx_hash.as_slice()
                ])?;
            }
            Event::Governance { .. } | Event::RoleChanged { .. } => {}
        }
        Ok(true)
    }

    /// Undoes everything blocks above `number` wrote.
    pub fn rollback_to(&self, number: u64) -> Result<()> {
        let n = number as i64;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM sessions WHERE created_block > ?1", [n])?;
        tx.execute("UPDATE sessions SET cancelled_at = NULL, cancelled_block = NULL WHERE cancelled_block > ?1", [n])?;
        tx.execute("DELETE FROM requests WHERE block > ?1", [n])?;
        tx.execute("DELETE FROM signed_audio WHERE block > ?1", [n])?;
        tx.execute("DELETE FROM node_log WHERE block > ?1", [n])?;
        tx.execute("DELETE FROM record_anchors WHERE block > ?1", [n])?;
        tx.execute("UPDATE requests SET withdrawn_at = NULL, withdrawn_block = NULL WHERE withdrawn_block > ?1", [n])?;
        tx.execute(
            "UPDATE requests SET yielded_at = NULL, yielded_block = NULL WHERE yielded_block > ?1",
            [n],
        )?;
        tx.execute("DELETE FROM debates WHERE block > ?1", [n])?;
        tx.execute("DELETE FROM votes WHERE block > ?1", [n])?;
        tx.execute("DELETE FROM proposals WHERE block > ?1", [n])?;
        tx.execute("DELETE FROM polls WHERE block > ?1", [n])?;
        tx.execute(
            "UPDATE proposals SET canceled_block = NULL WHERE canceled_block > ?1",
            [n],
        )?;
        tx.execute("DELETE FROM logs WHERE block > ?1", [n])?;
        tx.execute("DELETE FROM skipped WHERE block > ?1", [n])?;
        tx.execute("DELETE FROM blocks WHERE number > ?1", [n])?;
        tx.commit()?;
        Ok(())
    }

    /// Counts of what has been applied.
    pub fn stats(&self) -> Result<Stats> {
        let conn = self.conn();
        let count = |sql: &str| {
            conn.query_row(sql, [], |r| r.get::<_, i64>(0))
                .map(|v| v as u64)
        };
        Ok(Stats {
            logs: count("SELECT COUNT(*) FROM logs")?,
            sessions: count("SELECT COUNT(*) FROM sessions")?,
            requests: count("SELECT COUNT(*) FROM requests")?,
            skipped: count("SELECT COUNT(*) FROM skipped")?,
        })
    }

    /// Every applied event in chain order, for comparing two indexers' histories.
    pub fn events(&self) -> Result<Vec<(u64, u64, String)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT block, log_index, event FROM logs ORDER BY block, log_index")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, i64>(1)? as u64,
                r.get(2)?,
            ))
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// All sessions, by id.
    pub fn sessions(&self) -> Result<Vec<SessionRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("{SESSION_SELECT} ORDER BY id"))?;
        let rows = stmt.query_map([], Self::session_row)?;
        rows.map(|r| r?).collect()
    }

    /// One session.
    pub fn session(&self, id: u64) -> Result<Option<SessionRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("{SESSION_SELECT} WHERE id = ?1"))?;
        stmt.query_row([id as i64], Self::session_row)
            .optional()?
            .transpose()
    }

    #[allow(clippy::type_complexity)]
    fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<SessionRow>> {
        let kind: String = r.get(1)?;
        let proposal: String = r.get(2)?;
        let speakers: String = r.get(9)?;
        let schedule = Schedule {
            start: r.get::<_, i64>(3)? as u64,
            duration: r.get::<_, i64>(4)? as u64,
            period: r.get::<_, i64>(5)? as u64,
            count: r.get::<_, i64>(6)? as u32,
            slot_length: r.get::<_, i64>(7)? as u64,
            cancelled_at: r.get::<_, Option<i64>>(11)?.map(|v| v as u64),
        };
        let id = r.get::<_, i64>(0)? as u64;
        let max_queue = r.get::<_, i64>(8)? as u16;
        let created_block = r.get::<_, i64>(10)? as u64;
        let cancelled_block = r.get::<_, Option<i64>>(12)?.map(|v| v as u64);
        let signed_audio = r.get::<_, bool>(13)?;
        Ok((|| {
            Ok(SessionRow {
                id,
                kind: kind_of(&kind)?,
                proposal_id: proposal
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("proposal id {proposal}")))?,
                speakers: speakers_of(&speakers)?,
                max_queue,
                schedule,
                created_block,
                cancelled_block,
                signed_audio,
            })
        })())
    }

    /// The requests of one occurrence, in queue order.
    pub fn requests(&self, session: u64, occurrence: u32) -> Result<Vec<RequestRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT idx, speaker, enqueued_at, orchestrator, block, withdrawn_at, withdrawn_block, yielded_at, yielded_block
             FROM requests WHERE session = ?1 AND occurrence = ?2 ORDER BY idx",
        )?;
        let rows = stmt.query_map(params![session as i64, occurrence as i64], |r| {
            let speaker: Vec<u8> = r.get(1)?;
            let block = r.get::<_, i64>(4)? as u64;
            let withdrawn_block = r.get::<_, Option<i64>>(6)?.map(|v| v as u64);
            let yielded_block = r.get::<_, Option<i64>>(8)?.map(|v| v as u64);
            Ok((
                r.get::<_, i64>(0)? as u32,
                speaker,
                r.get::<_, i64>(2)? as u64,
                r.get::<_, bool>(3)?,
                block,
                r.get::<_, Option<i64>>(5)?.is_some(),
                r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
                block
                    .max(withdrawn_block.unwrap_or(0))
                    .max(yielded_block.unwrap_or(0)),
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (
                index,
                speaker,
                enqueued_at,
                orchestrator,
                block,
                withdrawn,
                yielded_at,
                last_block,
            ) = row?;
            if index as usize != out.len() {
                return Err(StoreError::Corrupt(format!(
                    "queue of session {session} skips index {index}"
                )));
            }
            let speaker = Address::try_from(speaker.as_slice())
                .map_err(|_| StoreError::Corrupt("speaker address".into()))?;
            out.push(RequestRow {
                index,
                request: Request {
                    speaker,
                    enqueued_at,
                    yielded_at,
                    withdrawn,
                },
                orchestrator,
                block,
                last_block,
            });
        }
        Ok(out)
    }

    /// The floor timeline of one occurrence: every request's slot, by the rule.
    pub fn timeline(
        &self,
        session: &SessionRow,
        occurrence: u32,
    ) -> Result<(Span, Vec<Slot>, Vec<RequestRow>)> {
        let rows = self.requests(session.id, occurrence)?;
        let span = session.schedule.span(occurrence);
        let requests: Vec<Request> = rows.iter().map(|r| r.request).collect();
        Ok((span, floor::timeline(span, &requests), rows))
    }

    /// Proposals that are not cancelled and have no debate yet, oldest first: what the
    /// keeper should open debates for.
    pub fn proposals_without_debate(&self) -> Result<Vec<Event>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT p.actions FROM proposals p LEFT JOIN debates d ON d.proposal_id = p.proposal_id
             WHERE d.session IS NULL AND p.canceled_block IS NULL ORDER BY p.block",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| serde_json::from_str(&r?).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect()
    }

    /// Records what the keeper did about a proposal; `final_` means never try it again.
    pub fn keeper_record(&self, proposal_id: U256, outcome: &str, final_: bool) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO keeper (proposal_id, attempts, outcome, final) VALUES (?1, 1, ?2, ?3)
             ON CONFLICT(proposal_id) DO UPDATE SET attempts = attempts + 1, outcome = ?2, final = ?3",
            params![proposal_id.to_string(), outcome, final_],
        )?;
        Ok(())
    }

    /// Whether the keeper is done with a proposal, and how many times it tried.
    pub fn keeper_state(&self, proposal_id: U256) -> Result<(bool, u32)> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT final, attempts FROM keeper WHERE proposal_id = ?1",
                [proposal_id.to_string()],
                |r| Ok((r.get::<_, bool>(0)?, r.get::<_, i64>(1)? as u32)),
            )
            .optional()?
            .unwrap_or((false, 0)))
    }

    /// The debate session of a proposal and when its vote closes (unix seconds), if a debate
    /// was opened.
    pub fn debate_of(&self, proposal_id: U256) -> Result<Option<(u64, u64)>> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT session, vote_closes_at FROM debates WHERE proposal_id = ?1",
                [proposal_id.to_string()],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()?
            .map(|(s, c)| (s as u64, c as u64)))
    }

    /// Every poll PollCreator has created since the deployment block, whose votes the
    /// follower asks for.
    pub fn polls(&self) -> Result<Vec<Address>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT poll FROM polls ORDER BY block")?;
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        rows.map(|r| {
            Address::try_from(r?.as_slice()).map_err(|_| StoreError::Corrupt("poll address".into()))
        })
        .collect()
    }

    /// Polls whose LIP text is unresolved and due for a try at `now`: (proposal id, the
    /// poll's `proposal` bytes, failed attempts so far).
    pub fn polls_to_resolve(&self, now: u64) -> Result<Vec<(U256, Vec<u8>, u32)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT proposal_id, proposal, attempts FROM titles
             WHERE resolved = 0 AND proposal IS NOT NULL AND next_try <= ?1 ORDER BY next_try LIMIT 16",
        )?;
        let rows = stmt.query_map([now as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (id, proposal, attempts) = row?;
            let id = id
                .parse()
                .map_err(|_| StoreError::Corrupt("title proposal id".into()))?;
            Ok((id, proposal, attempts.clamp(0, i64::from(u32::MAX)) as u32))
        })
        .collect()
    }

    /// Records a poll's resolved LIP number and title.
    pub fn set_title(&self, proposal_id: U256, title: &Title) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "UPDATE titles SET lip = ?2, title = ?3, cid = COALESCE(?4, cid), resolved = 1, error = NULL
             WHERE proposal_id = ?1",
            params![proposal_id.to_string(), title.lip, title.title, title.cid],
        )?;
        Ok(())
    }

    /// Records a failed try to resolve a poll's LIP text, and when to try again.
    pub fn title_failed(
        &self,
        proposal_id: U256,
        attempts: u32,
        next_try: u64,
        error: &str,
    ) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "UPDATE titles SET attempts = ?2, next_try = ?3, error = ?4 WHERE proposal_id = ?1",
            params![proposal_id.to_string(), attempts, next_try as i64, error],
        )?;
        Ok(())
    }

    /// What a proposal or poll is about, as far as it is known.
    pub fn title(&self, proposal_id: U256) -> Result<Option<Title>> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT lip, title, cid FROM titles WHERE proposal_id = ?1",
                [proposal_id.to_string()],
                |r| {
                    Ok(Title {
                        lip: r.get::<_, Option<u32>>(0)?,
                        title: r.get(1)?,
                        cid: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Who proposed a governor proposal (its `ProposalCreated`) or created a poll (the sender
    /// of its `createPoll`); None for rows indexed before either was kept.
    pub fn proposer(&self, proposal_id: U256) -> Result<Option<Address>> {
        let conn = self.conn();
        let actions: Option<String> = conn
            .query_row(
                "SELECT actions FROM proposals WHERE proposal_id = ?1",
                [proposal_id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        let Some(actions) = actions else {
            return Ok(None);
        };
        match serde_json::from_str(&actions).map_err(|e| StoreError::Corrupt(e.to_string()))? {
            Event::ProposalCreated { proposer, .. } if !proposer.is_zero() => Ok(Some(proposer)),
            Event::PollCreated { creator, .. } => Ok(creator),
            _ => Ok(None),
        }
    }

    /// Whether `proposal_id` names a poll PollCreator created (its address as a number).
    pub fn is_poll(&self, proposal_id: U256) -> Result<bool> {
        let bytes = proposal_id.to_be_bytes::<32>();
        if bytes[..12].iter().any(|b| *b != 0) {
            return Ok(false);
        }
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT 1 FROM polls WHERE poll = ?1",
                [&bytes[12..]],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// The nodes registered in the node registry now (see [`crate::nodes`]).
    pub fn nodes(&self) -> Result<Vec<crate::nodes::RegisteredNode>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT block, event FROM node_log ORDER BY block, log_index")?;
        let events = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
            .map(|row| {
                let (block, json) = row?;
                let event: Event = serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt(format!("node event: {e}")))?;
                Ok((block as u64, event))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::nodes::fold(events.iter().map(|(b, e)| (*b, e))))
    }

    /// The attestations of `session`'s `occurrence`'s record (RecordAnchor's
    /// `RecordAnchored` events), in chain order: every root any member anchored, with who.
    pub fn record_anchors(&self, session: u64, occurrence: u32) -> Result<Vec<RecordAnchorRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT root, operator, node, speeches, block, tx_hash FROM record_anchors
             WHERE session = ?1 AND occurrence = ?2 ORDER BY block, log_index",
        )?;
        let rows = stmt.query_map(params![session as i64, occurrence as i64], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Vec<u8>>(5)?,
            ))
        })?;
        rows.map(|row| {
            let (root, operator, node, speeches, block, tx) = row?;
            let address = |v: Vec<u8>| {
                Address::try_from(v.as_slice())
                    .map_err(|_| StoreError::Corrupt("record anchor address".into()))
            };
            Ok(RecordAnchorRow {
                root: b256(root)?,
                operator: address(operator)?,
                node: address(node)?,
                speeches: u32::try_from(speeches)
                    .map_err(|_| StoreError::Corrupt("record anchor speeches".into()))?,
                block: block as u64,
                tx: b256(tx)?,
            })
        })
        .collect()
    }

    /// The votes cast on a governor proposal or a poll, in the order they were cast.
    pub fn votes(&self, proposal_id: U256) -> Result<Vec<Vote>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT voter, support, weight, reason, block FROM votes WHERE proposal_id = ?1
             ORDER BY block, log_index",
        )?;
        let rows = stmt.query_map([proposal_id.to_string()], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        rows.map(|row| {
            let (voter, support, weight, reason, block) = row?;
            let corrupt = |what: &str| StoreError::Corrupt(format!("vote {what}"));
            Ok(Vote {
                voter: Address::try_from(voter.as_slice()).map_err(|_| corrupt("voter"))?,
                support: u8::try_from(support).map_err(|_| corrupt("support"))?,
                weight: weight
                    .map(|w| w.parse().map_err(|_| corrupt("weight")))
                    .transpose()?,
                reason,
                block: block as u64,
            })
        })
        .collect()
    }
}

/// What a debate is about, as far as it is known.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Title {
    /// The LIP's number, for a poll whose text named it.
    pub lip: Option<u32>,
    /// The title: a governor proposal's first description line, or the LIP's `title`.
    pub title: Option<String>,
    /// A poll's IPFS content identifier (shown while its text is unresolved).
    pub cid: Option<String>,
}

/// One attestation of an occurrence's record on chain (a `RecordAnchored` event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordAnchorRow {
    /// The root attested.
    pub root: B256,
    /// The member operator attesting.
    pub operator: Address,
    /// Who sent it: the operator's node key, or the operator itself.
    pub node: Address,
    /// How many speeches the sender says the tree holds.
    pub speeches: u32,
    /// The block it was mined in.
    pub block: u64,
    /// The transaction.
    pub tx: B256,
}

/// One vote on a governor proposal or a poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Vote {
    /// Who voted.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub voter: Address,
    /// For a governor proposal OpenZeppelin's counting (0 against, 1 for, 2 abstain); for a
    /// poll LIP-16's (0 yes, 1 no).
    pub support: u8,
    /// The governor's voting weight, in LPT base units (hex): the voter's stake at the
    /// proposal's snapshot. Null for a poll's vote, which carries no weight on chain.
    #[schema(value_type = Option<String>)]
    pub weight: Option<U256>,
    /// The reason the voter gave ("" if none).
    pub reason: String,
    /// The block the vote was cast in.
    pub block: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(block: u64, log_index: u64) -> Position {
        Position {
            block,
            block_hash: B256::repeat_byte(block as u8),
            log_index,
            tx_hash: B256::repeat_byte(0x70 + log_index as u8),
        }
    }

    fn block(number: u64) -> BlockRef {
        BlockRef {
            number,
            hash: B256::repeat_byte(number as u8),
            parent_hash: B256::repeat_byte(number as u8 - 1),
            timestamp: 1000 + number,
        }
    }

    /// Every root anchored for an occurrence is kept with who attested it, and a reorg
    /// takes back the attestations of the blocks it orphaned.
    #[test]
    fn record_anchors_are_kept_by_occurrence_and_rolled_back() {
        let store = Store::in_memory().unwrap();
        let anchored = |root: u8, operator: u8| Event::RecordAnchored {
            session: 3,
            occurrence: 1,
            root: B256::repeat_byte(root),
            operator: Address::repeat_byte(operator),
            node: Address::repeat_byte(operator + 0x10),
            speeches: 2,
        };
        store
            .apply(block(5), &[(at(5, 0), Ok(anchored(0xaa, 1)))], 64)
            .unwrap();
        store
            .apply(
                block(6),
                &[
                    (at(6, 0), Ok(anchored(0xaa, 2))),
                    (at(6, 1), Ok(anchored(0xbb, 3))),
                ],
                64,
            )
            .unwrap();
        let rows = store.record_anchors(3, 1).unwrap();
        let seen: Vec<(u8, u8)> = rows.iter().map(|r| (r.root[0], r.operator[0])).collect();
        assert_eq!(seen, [(0xaa, 1), (0xaa, 2), (0xbb, 3)]);
        assert_eq!(rows[1].node, Address::repeat_byte(0x12));
        assert_eq!((rows[1].block, rows[1].speeches), (6, 2));
        assert!(store.record_anchors(3, 0).unwrap().is_empty());
        store.rollback_to(5).unwrap();
        assert_eq!(store.record_anchors(3, 1).unwrap().len(), 1);
    }
}
