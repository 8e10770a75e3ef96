//! The alerts' tables. Deliveries are rows until they succeed or are given up on, so a
//! restart resumes them; `announced` remembers every event already matched, so a restart
//! does not announce the floor its holder already took.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::EventKind;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS webhooks (
  id TEXT PRIMARY KEY, owner TEXT NOT NULL, url TEXT NOT NULL, events TEXT NOT NULL,
  filter TEXT NOT NULL, secret TEXT NOT NULL, created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, webhook TEXT NOT NULL, msg_id TEXT NOT NULL,
  body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL,
  UNIQUE (webhook, msg_id)
);
CREATE TABLE IF NOT EXISTS announced (key TEXT PRIMARY KEY, at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS saved_searches (
  token_sha256 TEXT PRIMARY KEY, owner TEXT NOT NULL, query TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
";

/// Creates the tables if they are missing.
pub fn migrate(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(SCHEMA)
}

/// What narrows a webhook's events.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Only this speaker's `floor.taken` and `hansard.word` (an address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    /// For `hansard.word`: words or phrases, any of which a transcript must contain (case
    /// is ignored). Required when subscribing to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<String>,
}

/// A registered webhook, as its owner sees it (never with its secret).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Webhook {
    /// Its id.
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// What it receives.
    pub events: Vec<EventKind>,
    /// What narrows them.
    pub filter: Filter,
    /// When it was registered, milliseconds since the epoch.
    pub created_ms: u64,
}

/// A delivery waiting for its next attempt.
#[derive(Clone, Debug)]
pub struct Pending {
    /// Its row.
    pub seq: i64,
    /// The Standard Webhooks message id.
    pub msg_id: String,
    /// The JSON body, as first made (signed anew on each attempt).
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due, milliseconds since the epoch.
    pub next_ms: u64,
}

fn webhook(r: &rusqlite::Row) -> rusqlite::Result<(Webhook, String, String)> {
    let events: String = r.get(3)?;
    let filter: String = r.get(4)?;
    Ok((
        Webhook {
            id: r.get(0)?,
            url: r.get(2)?,
            events: serde_json::from_str(&events).unwrap_or_default(),
            filter: serde_json::from_str(&filter).unwrap_or_default(),
            created_ms: r.get::<_, i64>(6)? as u64,
        },
        r.get(1)?,
        r.get(5)?,
    ))
}

const WEBHOOK_COLUMNS: &str = "id, owner, url, events, filter, secret, created_ms";

/// Registers `w` for `owner` with `secret`, unless they already have `max`: false then.
pub fn insert_webhook(
    db: &Connection,
    owner: &str,
    w: &Webhook,
    secret: &str,
    max: usize,
) -> rusqlite::Result<bool> {
    let tx = db.unchecked_transaction()?;
    let have: i64 = tx.query_row(
        "SELECT COUNT(*) FROM webhooks WHERE owner = ?1",
        [owner],
        |r| r.get(0),
    )?;
    if have as usize >= max {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO webhooks (id, owner, url, events, filter, secret, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            w.id,
            owner,
            w.url,
            serde_json::to_string(&w.events).unwrap_or_default(),
            serde_json::to_string(&w.filter).unwrap_or_default(),
            secret,
            w.created_ms as i64
        ],
    )?;
    tx.commit()?;
    Ok(true)
}

/// Every webhook with its owner and secret.
pub fn all_webhooks(db: &Connection) -> rusqlite::Result<Vec<(Webhook, String, String)>> {
    let mut q = db.prepare(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_ms"
    ))?;
    let rows = q.query_map([], webhook)?.collect();
    rows
}

/// One webhook with its owner and secret.
pub fn webhook_by_id(
    db: &Connection,
    id: &str,
) -> rusqlite::Result<Option<(Webhook, String, String)>> {
    db.query_row(
        &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?1"),
        [id],
        webhook,
    )
    .optional()
}

/// Removes `owner`'s webhook `id` and what it had waiting; false if they have no such one.
pub fn delete_webhook(db: &Connection, owner: &str, id: &str) -> rusqlite::Result<bool> {
    let tx = db.unchecked_transaction()?;
    let n = tx.execute(
        "DELETE FROM webhooks WHERE id = ?1 AND owner = ?2",
        [id, owner],
    )?;
    if n > 0 {
        tx.execute("DELETE FROM deliveries WHERE webhook = ?1", [id])?;
    }
    tx.commit()?;
    Ok(n > 0)
}

/// Records `key` as announced; false if it already was.
pub fn announce(db: &Connection, key: &str, at_ms: u64) -> rusqlite::Result<bool> {
    Ok(db.execute(
        "INSERT OR IGNORE INTO announced (key, at_ms) VALUES (?1, ?2)",
        params![key, at_ms as i64],
    )? > 0)
}

/// Queues `body` for `webhook`, due now; past `max` waiting, drops the oldest and returns
/// how many were dropped.
pub fn enqueue(
    db: &Connection,
    webhook: &str,
    msg_id: &str,
    body: &str,
    now_ms: u64,
    max: usize,
) -> rusqlite::Result<usize> {
    db.execute(
        "INSERT OR IGNORE INTO deliveries (webhook, msg_id, body, next_ms) VALUES (?1, ?2, ?3, ?4)",
        params![webhook, msg_id, body, now_ms as i64],
    )?;
    db.execute(
        "DELETE FROM deliveries WHERE webhook = ?1 AND seq NOT IN
           (SELECT seq FROM deliveries WHERE webhook = ?1 ORDER BY seq DESC LIMIT ?2)",
        params![webhook, max as i64],
    )
}

/// The oldest delivery waiting for `webhook` (due or not: order is kept per webhook).
pub fn next_delivery(db: &Connection, webhook: &str) -> rusqlite::Result<Option<Pending>> {
    db.query_row(
        "SELECT seq, msg_id, body, attempts, next_ms FROM deliveries WHERE webhook = ?1
         ORDER BY seq LIMIT 1",
        [webhook],
        |r| {
            Ok(Pending {
                seq: r.get(0)?,
                msg_id: r.get(1)?,
                body: r.get(2)?,
                attempts: r.get::<_, i64>(3)? as u32,
                next_ms: r.get::<_, i64>(4)? as u64,
            })
        },
    )
    .optional()
}

/// Done with a delivery (delivered or given up).
pub fn finish(db: &Connection, seq: i64) -> rusqlite::Result<()> {
    db.execute("DELETE FROM deliveries WHERE seq = ?1", [seq])
        .map(|_| ())
}

/// A failed attempt: its count and when to try again.
pub fn retry_at(db: &Connection, seq: i64, attempts: u32, next_ms: u64) -> rusqlite::Result<()> {
    db.execute(
        "UPDATE deliveries SET attempts = ?2, next_ms = ?3 WHERE seq = ?1",
        params![seq, attempts, next_ms as i64],
    )
    .map(|_| ())
}

/// Saves `query` (JSON) for `owner` under a token's digest, unless they already have `max`.
pub fn insert_search(
    db: &Connection,
    owner: &str,
    token_sha256: &str,
    query: &str,
    now_ms: u64,
    max: usize,
) -> rusqlite::Result<bool> {
    let have: i64 = db.query_row(
        "SELECT COUNT(*) FROM saved_searches WHERE owner = ?1",
        [owner],
        |r| r.get(0),
    )?;
    if have as usize >= max {
        return Ok(false);
    }
    db.execute(
        "INSERT INTO saved_searches (token_sha256, owner, query, created_ms) VALUES (?1, ?2, ?3, ?4)",
        params![token_sha256, owner, query, now_ms as i64],
    )?;
    Ok(true)
}

/// The saved query (JSON) under a token's digest.
pub fn search_by_token(db: &Connection, token_sha256: &str) -> rusqlite::Result<Option<String>> {
    db.query_row(
        "SELECT query FROM saved_searches WHERE token_sha256 = ?1",
        [token_sha256],
        |r| r.get(0),
    )
    .optional()
}

/// Removes `owner`'s saved search; false if they have none under that token.
pub fn delete_search(db: &Connection, owner: &str, token_sha256: &str) -> rusqlite::Result<bool> {
    Ok(db.execute(
        "DELETE FROM saved_searches WHERE token_sha256 = ?1 AND owner = ?2",
        [token_sha256, owner],
    )? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_are_bounded_ordered_and_deduplicated() {
        let db = Connection::open_in_memory().unwrap();
        migrate(&db).unwrap();
        for i in 0..5 {
            let dropped = enqueue(&db, "w", &format!("m{i}"), "{}", 0, 3).unwrap();
            assert_eq!(dropped, usize::from(i >= 3));
        }
        assert_eq!(
            enqueue(&db, "w", "m4", "{}", 0, 3).unwrap(),
            0,
            "same id: once"
        );
        let first = next_delivery(&db, "w").unwrap().unwrap();
        assert_eq!(first.msg_id, "m2", "the oldest were dropped");
        retry_at(&db, first.seq, 1, 99).unwrap();
        let again = next_delivery(&db, "w").unwrap().unwrap();
        assert_eq!(
            (again.msg_id.as_str(), again.attempts, again.next_ms),
            ("m2", 1, 99)
        );
        finish(&db, again.seq).unwrap();
        assert_eq!(next_delivery(&db, "w").unwrap().unwrap().msg_id, "m3");
        assert!(next_delivery(&db, "other").unwrap().is_none());
        assert!(announce(&db, "k", 1).unwrap());
        assert!(!announce(&db, "k", 2).unwrap());
    }

    #[test]
    fn a_webhook_is_its_owner_s() {
        let db = Connection::open_in_memory().unwrap();
        migrate(&db).unwrap();
        let w = Webhook {
            id: "w1".into(),
            url: "https://h.example/".into(),
            events: vec![EventKind::FloorTaken],
            filter: Filter::default(),
            created_ms: 1,
        };
        assert!(insert_webhook(&db, "0xa", &w, "whsec_x", 1).unwrap());
        let w2 = Webhook {
            id: "w2".into(),
            ..w.clone()
        };
        assert!(
            !insert_webhook(&db, "0xa", &w2, "s", 1).unwrap(),
            "over the limit"
        );
        assert!(!delete_webhook(&db, "0xb", "w1").unwrap(), "not theirs");
        let (got, owner, secret) = webhook_by_id(&db, "w1").unwrap().unwrap();
        assert_eq!(
            (got.events, owner.as_str(), secret.as_str()),
            (vec![EventKind::FloorTaken], "0xa", "whsec_x")
        );
        assert!(delete_webhook(&db, "0xa", "w1").unwrap());
        assert!(all_webhooks(&db).unwrap().is_empty());
    }
}
