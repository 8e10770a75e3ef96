//! Who was there: each signed-in account's time connected to the live assembly, and each
//! reaction it gave, kept beside the recordings so participation can be reckoned later
//! (a delegator asking whether their orchestrator shows up).
//!
//! Presence is written as intervals. An interval is opened when an account's first socket
//! connects, extended by a heartbeat while any socket stays, and closed when the last one
//! leaves. A node killed mid-interval loses at most one heartbeat: on open, every interval
//! left open is closed at its last heartbeat.
//!
//! Writes go through [`Ledger`], a bounded queue drained by one thread, so the live path
//! never waits on the disk; what a full queue refuses is counted, never blocked on.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::Address;
use rusqlite::{params, Connection};

use crate::record::archive::{Archive, ArchiveError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS presence (
  id INTEGER PRIMARY KEY, address BLOB NOT NULL, role TEXT NOT NULL,
  from_ms INTEGER NOT NULL, to_ms INTEGER NOT NULL, open INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS presence_by_address ON presence (address, from_ms);
CREATE TABLE IF NOT EXISTS reactions_given (
  address BLOB NOT NULL, at_ms INTEGER NOT NULL, reaction TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reactions_by_address ON reactions_given (address, at_ms);
";

/// How often open intervals are extended: the most presence a killed node forgets.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// One thing to write.
#[derive(Debug)]
enum Note {
    /// An account's first socket connected, with the role it was read as.
    Arrived(Address, &'static str, u64),
    /// Its last socket left.
    Left(Address, u64),
    /// Everyone still here is still here.
    Heartbeat(u64),
    /// It reacted.
    Reacted(Address, String, u64),
}

/// The queue to the attendance writer.
#[derive(Clone, Debug)]
pub struct Ledger {
    tx: SyncSender<Note>,
    dropped: Arc<AtomicU64>,
}

impl Ledger {
    /// Creates the tables, closes intervals a previous run left open, and starts the writer.
    pub fn start(archive: Arc<Archive>) -> Result<Self, ArchiveError> {
        archive.with_db(|db| {
            db.execute_batch(SCHEMA)?;
            db.execute("UPDATE presence SET open = 0 WHERE open = 1", [])
        })?;
        let (tx, rx) = sync_channel(4096);
        std::thread::Builder::new()
            .name("attendance".into())
            .spawn(move || write(archive, rx))?;
        Ok(Self {
            tx,
            dropped: Arc::default(),
        })
    }

    fn send(&self, note: Note) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.tx.try_send(note) {
            self.dropped.fetch_add(1, Relaxed);
        }
    }

    /// `account`'s first socket connected at `at_ms`, as `role`.
    pub fn arrived(&self, account: Address, role: &'static str, at_ms: u64) {
        self.send(Note::Arrived(account, role, at_ms));
    }

    /// `account`'s last socket left at `at_ms`.
    pub fn left(&self, account: Address, at_ms: u64) {
        self.send(Note::Left(account, at_ms));
    }

    /// Extends every open interval to `at_ms`.
    pub fn heartbeat(&self, at_ms: u64) {
        self.send(Note::Heartbeat(at_ms));
    }

    /// `account` gave `reaction` at `at_ms`.
    pub fn reacted(&self, account: Address, reaction: &str, at_ms: u64) {
        self.send(Note::Reacted(account, reaction.to_string(), at_ms));
    }

    /// Notes refused because the writer had fallen behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }
}

fn write(archive: Arc<Archive>, rx: Receiver<Note>) {
    while let Ok(first) = rx.recv() {
        // One transaction per burst: a reconnect storm is one fsync, not thousands.
        let mut batch = vec![first];
        batch.extend(rx.try_iter().take(1023));
        let written = archive.with_db(|db| {
            let tx = db.unchecked_transaction()?;
            for note in &batch {
                apply(&tx, note)?;
            }
            tx.commit()
        });
        if let Err(e) = written {
            tracing::warn!(error = %e, notes = batch.len(), "attendance not written");
        }
    }
}

fn apply(db: &Connection, note: &Note) -> rusqlite::Result<()> {
    match note {
        Note::Arrived(a, role, at) => {
            // A duplicate arrival (a missed departure) closes the earlier interval first.
            db.execute(
                "UPDATE presence SET open = 0 WHERE address = ?1 AND open = 1",
                [a.as_slice()],
            )?;
            db.execute(
                "INSERT INTO presence (address, role, from_ms, to_ms, open) VALUES (?1, ?2, ?3, ?3, 1)",
                params![a.as_slice(), role, *at as i64],
            )?;
        }
        Note::Left(a, at) => {
            db.execute(
                "UPDATE presence SET to_ms = MAX(to_ms, ?2), open = 0 WHERE address = ?1 AND open = 1",
                params![a.as_slice(), *at as i64],
            )?;
        }
        Note::Heartbeat(at) => {
            db.execute(
                "UPDATE presence SET to_ms = MAX(to_ms, ?1) WHERE open = 1",
                [*at as i64],
            )?;
        }
        Note::Reacted(a, reaction, at) => {
            db.execute(
                "INSERT INTO reactions_given (address, at_ms, reaction) VALUES (?1, ?2, ?3)",
                params![a.as_slice(), *at as i64, reaction],
            )?;
        }
    }
    Ok(())
}

/// `account`'s presence intervals overlapping `[from_ms, to_ms)`, in milliseconds since the
/// epoch, oldest first, each cut to the window. An interval still open is the account
/// connected now (a restart closes what a previous run left open), so it runs to the
/// window's end: callers end windows at the present.
pub fn presence(
    a: &Archive,
    account: Address,
    from_ms: u64,
    to_ms: u64,
) -> Result<Vec<(u64, u64)>, ArchiveError> {
    a.with_db(|db| {
        let mut stmt = db.prepare_cached(
            "SELECT from_ms, CASE open WHEN 1 THEN MAX(to_ms, ?3) ELSE to_ms END AS until
             FROM presence WHERE address = ?1 AND until >= ?2 AND from_ms < ?3 ORDER BY from_ms",
        )?;
        let rows = stmt.query_map(
            params![account.as_slice(), from_ms as i64, to_ms as i64],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?;
        rows.map(|r| r.map(|(f, t)| (f.max(from_ms), t.min(to_ms))))
            .collect()
    })
}

/// When `account` reacted within `[from_ms, to_ms)`, oldest first.
pub fn reactions(
    a: &Archive,
    account: Address,
    from_ms: u64,
    to_ms: u64,
) -> Result<Vec<u64>, ArchiveError> {
    a.with_db(|db| {
        let mut stmt = db.prepare_cached(
            "SELECT at_ms FROM reactions_given WHERE address = ?1 AND at_ms >= ?2 AND at_ms < ?3
             ORDER BY at_ms",
        )?;
        let rows = stmt.query_map(
            params![account.as_slice(), from_ms as i64, to_ms as i64],
            |r| r.get::<_, i64>(0),
        )?;
        rows.map(|r| r.map(|t| t as u64)).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settle(l: &Ledger) {
        // The writer drains in bursts; a heartbeat far in the past changes nothing and
        // marks the point everything before it was written.
        for _ in 0..200 {
            std::thread::sleep(Duration::from_millis(5));
            if l.tx.try_send(Note::Heartbeat(0)).is_ok() {
                std::thread::sleep(Duration::from_millis(20));
                return;
            }
        }
    }

    #[test]
    fn intervals_open_extend_close_and_survive_a_restart() {
        let dir = std::env::temp_dir().join(format!("assembly-attendance-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = Address::repeat_byte(1);
        let b = Address::repeat_byte(2);
        {
            let archive = Arc::new(Archive::open(&dir).unwrap());
            let l = Ledger::start(archive.clone()).unwrap();
            l.arrived(a, "orchestrator", 1_000);
            l.heartbeat(16_000);
            l.left(a, 20_000);
            l.arrived(a, "orchestrator", 50_000);
            l.arrived(b, "delegator", 50_000);
            l.heartbeat(65_000);
            l.reacted(b, "clap", 55_000);
            l.reacted(b, "clap", 99_000);
            settle(&l);
            assert_eq!(
                presence(&archive, a, 0, 100_000).unwrap(),
                [(1_000, 20_000), (50_000, 100_000)],
                "still connected: present to the window's end"
            );
            assert_eq!(
                presence(&archive, a, 10_000, 60_000).unwrap(),
                [(10_000, 20_000), (50_000, 60_000)]
            );
            assert_eq!(reactions(&archive, b, 0, 60_000).unwrap(), [55_000]);
            assert_eq!(l.dropped(), 0);
        }
        // Killed without departures: the open intervals end at their last heartbeat, and
        // a later heartbeat does not stretch them.
        let archive = Arc::new(Archive::open(&dir).unwrap());
        let l = Ledger::start(archive.clone()).unwrap();
        l.heartbeat(900_000);
        settle(&l);
        assert_eq!(
            presence(&archive, b, 0, u64::MAX / 2).unwrap(),
            [(50_000, 65_000)]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
