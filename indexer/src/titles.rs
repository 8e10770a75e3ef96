//! What each debate is about, in words: a governor proposal's title is the first line of its
//! description (in its `ProposalCreated` event, so it is known the moment the proposal is);
//! an LIP poll's number and title are in the LIP text on IPFS, which the resolver fetches
//! through the operator's gateway and verifies against the poll's content identifier
//! ([`crate::ipfs`]). Without a gateway, or while it is down, a poll is shown by its content
//! identifier and tried again later, with a growing pause; a gateway that serves altered bytes
//! is never believed, and the poll is tried again only after the longest pause.
//!
//! Titles are keyed by proposal id and derived from content the chain names, so a reorg needs
//! no rollback here: a re-created proposal gets the same title.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::events::title_of;
use crate::ipfs::{Gateway, IpfsError};
use crate::store::{Store, StoreError, Title};

/// The first pause after a failed fetch; doubled after each failure up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(30);
/// The longest pause between two fetches of one poll's text.
pub const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// The pause before the next try after `attempts` failures.
pub fn backoff(attempts: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1u32 << attempts.saturating_sub(1).min(16))
        .min(MAX_BACKOFF)
}

/// Fetches the LIP texts of polls whose title is not known yet.
pub struct Resolver {
    gateway: Gateway,
    store: Arc<Store>,
}

impl Resolver {
    /// A resolver through `gateway`.
    pub fn new(gateway: Gateway, store: Arc<Store>) -> Self {
        Self { gateway, store }
    }

    /// One pass: every poll due for a try, at unix time `now`. Returns how many were resolved.
    pub async fn tick(&self, now: u64) -> Result<usize, StoreError> {
        let store = self.store.clone();
        let due = tokio::task::spawn_blocking(move || store.polls_to_resolve(now))
            .await
            .map_err(|e| StoreError::Corrupt(format!("store task: {e}")))??;
        let mut resolved = 0;
        for (proposal_id, proposal, attempts) in due {
            match self.gateway.fetch_lip(&proposal).await {
                Ok(lip) => {
                    let title = Title {
                        lip: lip.number,
                        title: lip.title.as_deref().and_then(title_of),
                        cid: Some(lip.cid),
                    };
                    self.store.set_title(proposal_id, &title)?;
                    tracing::info!(%proposal_id, lip = ?title.lip, title = ?title.title, "LIP text resolved");
                    resolved += 1;
                }
                Err(e) => {
                    let attempts = attempts + 1;
                    // Content that is not what its identifier names, or that can never be
                    // read, is tried again only after the longest pause.
                    let wait = if e.is_retryable() {
                        backoff(attempts)
                    } else {
                        MAX_BACKOFF
                    };
                    self.store.title_failed(
                        proposal_id,
                        attempts,
                        now + wait.as_secs(),
                        &e.to_string(),
                    )?;
                    log_failure(proposal_id, &e, wait);
                }
            }
        }
        Ok(resolved)
    }

    /// Passes every `interval` until `shutdown`.
    pub async fn run(self, interval: Duration, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(interval);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = self.tick(unix_now()).await {
                        tracing::warn!(error = %e, "title pass failed");
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn log_failure(proposal_id: alloy::primitives::U256, e: &IpfsError, wait: Duration) {
    if matches!(e, IpfsError::Mismatch { .. }) {
        tracing::warn!(%proposal_id, error = %e, "the IPFS gateway served content that is not the poll's; not believed");
    } else {
        tracing::info!(%proposal_id, error = %e, retry_in = ?wait, "LIP text not resolved yet");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::MAX_TITLE;

    #[test]
    fn titles_are_first_lines() {
        assert_eq!(
            title_of("# Fund Assembly transcription\nPay orchestrators.").as_deref(),
            Some("Fund Assembly transcription")
        );
        assert_eq!(title_of("\n\n  ## Two\n").as_deref(), Some("Two"));
        assert_eq!(title_of("  \n# \n"), None);
        let long = "é".repeat(200);
        let t = title_of(&long).unwrap();
        assert!(t.len() <= MAX_TITLE && t.chars().all(|c| c == 'é'));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), FIRST_BACKOFF);
        assert_eq!(backoff(2), FIRST_BACKOFF * 2);
        assert_eq!(backoff(40), MAX_BACKOFF);
    }
}
