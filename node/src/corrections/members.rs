//! How corrections pass among the members: each one a client brings is told to every
//! member at once (and again while that can help), and every member's list is read every
//! minute, and before an occurrence's record is first computed, from where it was last read.
//! A member's answer is bounded (a page of 50, no heavier than such a page can be, at most
//! 20 pages a read) and must go forward; what a member that lies lists is passed over.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use tokio::sync::watch;

use super::{
    CorrectionError, CorrectionRequest, Corrections, HeldCorrection, Source, MAX_CORRECTION_BYTES,
};

/// How often every member's list is read.
const EVERY: Duration = Duration::from_secs(60);
/// How many times a sibling is told one correction before its list is left to catch it.
const TELLS: u32 = 6;
/// How many corrections one read of a member's list asks for.
const PAGE: u32 = 50;
/// The most one page of a member's list may weigh.
const PAGE_BYTES: usize = PAGE as usize * MAX_CORRECTION_BYTES;
/// The most pages one read of a member's list takes; the next read goes on from there.
const MAX_PAGES: usize = 20;
/// The longest one member's list is read for before an occurrence's record is computed.
const CATCH_UP: Duration = Duration::from_secs(30);

/// Why a member's list could not be read.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    /// The member did not answer, or answered an error.
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    /// The answer is not a list of corrections.
    #[error("not a list of corrections: {0}")]
    Json(#[from] serde_json::Error),
    /// The answer is larger than a page of corrections can be.
    #[error("larger than a page of corrections")]
    TooLarge,
}

impl Corrections {
    /// Tells every member `req`, each on its own, again with a growing wait while it does
    /// not hold the speech or the revision before (it may still be closing the recording,
    /// or be behind), or cannot be reached.
    pub(super) fn tell_members(self: &Arc<Self>, req: CorrectionRequest) {
        let this = self.clone();
        tokio::spawn(async move {
            let siblings = match this.cluster.siblings().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the members to tell a correction");
                    return;
                }
            };
            for sibling in siblings {
                let (this, req) = (this.clone(), req.clone());
                tokio::spawn(async move {
                    let url = sibling.node.url.trim_end_matches('/').to_string();
                    for attempt in 0..TELLS {
                        if attempt > 0 {
                            tokio::time::sleep(Duration::from_secs(2u64 << attempt)).await;
                        }
                        let token = this.cluster.token(&sibling.node.url, "corrections");
                        let answer = this
                            .http
                            .post(format!("{url}/api/v1/cluster/corrections"))
                            .bearer_auth(token)
                            .json(&req)
                            .send()
                            .await;
                        let answer = match answer {
                            Ok(r) => r,
                            Err(e) => {
                                tracing::debug!(sibling = %url, error = %e, "telling a correction");
                                continue;
                            }
                        };
                        let status = answer.status();
                        if status.is_success() {
                            return;
                        }
                        let code = answer
                            .json::<serde_json::Value>()
                            .await
                            .ok()
                            .and_then(|v| v["error"].as_str().map(str::to_string))
                            .unwrap_or_default();
                        // Worth telling again: the member may still be closing the recording,
                        // be behind by a revision, be busy, or have failed itself.
                        let again = matches!(code.as_str(), "unknown_speech" | "revision_gap")
                            || status == StatusCode::TOO_MANY_REQUESTS
                            || status.is_server_error();
                        if !again {
                            tracing::warn!(sibling = %url, %status, code, "a member refused a correction");
                            return;
                        }
                    }
                    tracing::warn!(sibling = %url, "a member was not told a correction; it reads it from this node's list");
                });
            }
        });
    }

    /// Reads `url`'s corrections after `after` (of `occurrence`, if given) and takes each;
    /// returns the last place read. A correction of a speech this node did not hear is
    /// passed over: it is no part of this node's record. A member's answer is read only up
    /// to what a page of honest corrections can weigh, and a page that does not go forward
    /// ends the reading.
    async fn read_member(
        self: &Arc<Self>,
        url: &str,
        after: i64,
        occurrence: Option<(u64, u32)>,
    ) -> Result<i64, ReadError> {
        let mut after = after;
        for _ in 0..MAX_PAGES {
            // Numbers only: nothing to escape.
            let mut q = format!("after={after}&limit={PAGE}");
            if let Some((s, o)) = occurrence {
                q.push_str(&format!("&session={s}&occurrence={o}"));
            }
            let mut answer = self
                .http
                .get(format!(
                    "{}/api/v1/archive/corrections?{q}",
                    url.trim_end_matches('/')
                ))
                .send()
                .await?
                .error_for_status()?;
            let mut body = Vec::new();
            while let Some(chunk) = answer.chunk().await? {
                if body.len() + chunk.len() > PAGE_BYTES {
                    return Err(ReadError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            let page: Vec<HeldCorrection> = serde_json::from_slice(&body)?;
            let full = page.len() >= PAGE as usize;
            for held in page.into_iter().take(PAGE as usize) {
                // A list that does not go forward is read no further.
                if held.seq <= after {
                    return Ok(after);
                }
                let seq = held.seq;
                match self.take(held.correction, Source::Listed).await {
                    // Taken, held, or not for this node (a speech it did not hear, or words
                    // no one signed: a member that lies is passed over).
                    Ok(_)
                    | Err(CorrectionError::UnknownSpeech)
                    | Err(CorrectionError::NotTheSpeaker)
                    | Err(CorrectionError::NotInRecord)
                    | Err(CorrectionError::Malformed(_))
                    | Err(CorrectionError::Field(_))
                    | Err(CorrectionError::RevisionTaken(..)) => after = seq,
                    // Worth reading again from here: the chain or the archive failed, or an
                    // earlier revision has not come yet.
                    Err(e) => {
                        tracing::debug!(sibling = %url, error = %e, "a member's correction, read again later");
                        return Ok(after);
                    }
                }
            }
            // An honest member fills every page but its last.
            if !full {
                return Ok(after);
            }
        }
        Ok(after)
    }

    /// Reads every member's corrections of `session`'s `occurrence`: what the record needs
    /// before it is first computed.
    pub async fn catch_up(self: &Arc<Self>, session: u64, occurrence: u32) {
        let Ok(siblings) = self.cluster.siblings().await else {
            return;
        };
        for s in siblings {
            let read = self.read_member(&s.node.url, 0, Some((session, occurrence)));
            match tokio::time::timeout(CATCH_UP, read).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::debug!(sibling = %s.node.url, error = %e, "reading a member's corrections")
                }
                Err(_) => {
                    tracing::warn!(sibling = %s.node.url, "a member's corrections took too long to read")
                }
            }
        }
    }

    /// Reads every member's list every minute, from where it was last read, until
    /// `shutdown`.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut read_to: HashMap<String, i64> = HashMap::new();
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let Ok(siblings) = self.cluster.siblings().await else {
                continue;
            };
            for s in siblings {
                let after = read_to.get(&s.node.url).copied().unwrap_or(0);
                match self.read_member(&s.node.url, after, None).await {
                    Ok(to) => {
                        read_to.insert(s.node.url.clone(), to);
                    }
                    Err(e) => {
                        tracing::debug!(sibling = %s.node.url, error = %e, "reading a member's corrections")
                    }
                }
            }
        }
    }
}
