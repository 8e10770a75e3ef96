//! Alerts by identity: signed webhooks and saved-search feeds, each its subscriber's alone.
//!
//! - [`db`] — the alerts' own SQLite file (`alerts.sqlite` beside the recordings): webhooks,
//!   their pending deliveries, saved searches, and the events already announced. Kept apart
//!   from the archive's database so that a burst of deliveries never waits on, or holds up,
//!   the recorder or the Hansard.
//! - [`sign`] — the Standard Webhooks signature and the retry schedule.
//! - [`deliver`] — one task per webhook, so a slow or failing endpoint delays only itself.
//! - [`detect`] — "X took the floor" and "a debate opened" from the live state, "a word was
//!   said" from the Hansard's transcripts.
//!
//! Secrets: a webhook's signing secret must be kept as is (the node signs with it); it is
//! shown once, at registration, and never listed again. A saved search's feed token is kept
//! only as its SHA-256, so the database alone does not give anyone its feed URL.
//!
//! Targets (SSRF): a webhook makes the node send requests to a URL a user chose. Only
//! `http(s)` URLs are taken; by default a host that is a loopback, private, link-local or
//! unspecified IP literal (or `localhost`) is refused; `allow_hosts` narrows targets to a
//! list. A name that resolves to such an address, then or at any later delivery, is refused
//! when the request connects ([`resolve::PublicOnly`]).

pub mod db;
pub mod deliver;
pub mod detect;
pub mod resolve;
pub mod sign;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};

use crate::metrics::Metrics;

/// The `[webhooks]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Seconds to wait before each retry; its length bounds the attempts (one more than it).
    pub retry_secs: Vec<u64>,
    /// How long one attempt may take, in seconds.
    pub timeout_secs: u64,
    /// Webhooks one account may register.
    pub max_per_account: usize,
    /// Saved searches one account may keep.
    pub max_searches_per_account: usize,
    /// Deliveries waiting for one webhook; past it the oldest are dropped (and counted).
    pub max_queue: usize,
    /// If not empty, the only hosts webhooks may target.
    pub allow_hosts: Vec<String>,
    /// Whether loopback and private IP literals may be targeted (local development, tests).
    pub allow_private: bool,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            retry_secs: vec![5, 30, 120, 600, 3600, 14_400],
            timeout_secs: 5,
            max_per_account: 10,
            max_searches_per_account: 20,
            max_queue: 1000,
            allow_hosts: Vec::new(),
            allow_private: false,
        }
    }
}

/// What a webhook may subscribe to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventKind {
    /// Someone took the floor of a session.
    #[serde(rename = "floor.taken")]
    FloorTaken,
    /// A debate session was created for a proposal.
    #[serde(rename = "debate.opened")]
    DebateOpened,
    /// A transcript containing the subscriber's words was stored.
    #[serde(rename = "hansard.word")]
    HansardWord,
}

impl EventKind {
    /// Its name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::FloorTaken => "floor.taken",
            EventKind::DebateOpened => "debate.opened",
            EventKind::HansardWord => "hansard.word",
        }
    }
}

/// One thing that happened, before it is matched against subscriptions.
#[derive(Clone, Debug)]
pub struct Event {
    /// What kind.
    pub kind: EventKind,
    /// Unique per event, stable across restarts (the announced-events table is keyed by it).
    pub key: String,
    /// Whose event it is, if anyone's (the speaker), lower-case hex.
    pub speaker: Option<String>,
    /// The transcript, for word matching.
    pub text: Option<String>,
    /// The payload's `data`.
    pub data: serde_json::Value,
    /// When it happened, milliseconds since the epoch.
    pub at_ms: u64,
}

/// Alert failures.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The alerts' database failed.
    #[error("alerts database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The blocking task running a query did not finish (it panicked).
    #[error("alerts database task: {0}")]
    Task(String),
    /// The webhooks' HTTP client could not be built (its TLS backend failed to start).
    #[error("webhook client: {0}")]
    Client(#[from] reqwest::Error),
}

/// The alerts' shared state: the database, the per-webhook wake-ups, the HTTP client.
pub struct Alerts {
    pub(crate) db: Mutex<rusqlite::Connection>,
    /// The `[webhooks]` settings.
    pub config: WebhooksConfig,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) client: reqwest::Client,
    // Each running delivery task's wake-up, by webhook id.
    pub(crate) workers: Mutex<HashMap<String, Arc<Notify>>>,
    pub(crate) shutdown: watch::Receiver<bool>,
}

impl Alerts {
    /// Opens (or creates) the alerts' database at `path`.
    pub fn open(
        path: &std::path::Path,
        config: WebhooksConfig,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Arc<Self>, AlertError> {
        let conn = rusqlite::Connection::open(path)?;
        db::migrate(&conn)?;
        let mut client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            // A redirect would lead the request somewhere the target check never saw.
            .redirect(reqwest::redirect::Policy::none());
        if !config.allow_private {
            client = client.dns_resolver(Arc::new(resolve::PublicOnly));
        }
        // Never a default client in its place: it would follow redirects and resolve freely.
        let client = client.build()?;
        Ok(Arc::new(Self {
            db: Mutex::new(conn),
            config,
            metrics,
            client,
            workers: Mutex::new(HashMap::new()),
            shutdown,
        }))
    }

    /// Runs `f` on the database off the async workers.
    pub async fn with_db<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, AlertError> {
        let me = self.clone();
        match tokio::task::spawn_blocking(move || f(&me.db.lock())).await {
            Ok(r) => Ok(r?),
            Err(e) => Err(AlertError::Task(e.to_string())),
        }
    }

    /// Why `url` may not be a webhook's target, if it may not.
    pub fn refuse_target(&self, url: &str) -> Option<String> {
        let Ok(u) = url::Url::parse(url) else {
            return Some("url: not a URL".into());
        };
        if !matches!(u.scheme(), "http" | "https") {
            return Some("url: only http and https URLs".into());
        }
        let Some(host) = u.host_str() else {
            return Some("url: no host".into());
        };
        if url.len() > 2048 {
            return Some("url: longer than 2048 characters".into());
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let allow = &self.config.allow_hosts;
        if !allow.is_empty() && !allow.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return Some(format!(
                "url: {host} is not among this node's allowed hosts"
            ));
        }
        if !self.config.allow_private && private(host) {
            return Some(format!("url: {host} is a local or private address"));
        }
        None
    }
}

/// Whether `host` names this machine or a private network directly.
fn private(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") || host.ends_with(".localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                // Carrier-grade NAT, 100.64.0.0/10.
                || (ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64)
        }
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| private(&v4.to_string()))
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_checked() {
        let a = Alerts::open(
            std::path::Path::new(":memory:"),
            WebhooksConfig::default(),
            Arc::default(),
            watch::channel(false).1,
        )
        .unwrap();
        assert!(a.refuse_target("https://hooks.example/x").is_none());
        for bad in [
            "ftp://hooks.example/",
            "not a url",
            "http://127.0.0.1:9/",
            "http://localhost/",
            "http://10.1.2.3/",
            "http://[::1]/",
            "http://[::ffff:192.168.1.1]/",
            "http://169.254.169.254/latest/meta-data",
        ] {
            assert!(a.refuse_target(bad).is_some(), "{bad}");
        }
        let only = Alerts::open(
            std::path::Path::new(":memory:"),
            WebhooksConfig {
                allow_hosts: vec!["hooks.example".into()],
                ..WebhooksConfig::default()
            },
            Arc::default(),
            watch::channel(false).1,
        )
        .unwrap();
        assert!(only.refuse_target("https://hooks.example/x").is_none());
        assert!(only.refuse_target("https://other.example/x").is_some());
    }
}
