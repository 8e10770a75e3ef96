//! Search and exports.
//!
//! - `GET /api/v1/hansard/search?q=&speaker=&session=&proposal=&from=&to=&limit=` — words (all
//!   required, stemmed), a speaker's address, a session, a proposal id (its debate sessions),
//!   a date range (seconds since the epoch). Each hit links to its recording.
//! - `GET /api/v1/hansard/status` — the transcription queue: speeches waiting, last failure.
//! - `GET /api/v1/hansard/sessions/{id}` — a session's Hansard as JSON; a debate's carries
//!   who said what beside how they voted ([`crate::said_voted`]).
//! - `GET /api/v1/hansard/sessions/{id}/markdown` — the same as Markdown.

use alloy::primitives::U256;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use assembly_archive::hansard::store;
use assembly_indexer::api::VoteKind;

use crate::error::{blocking, ApiError, ErrorBody};
use crate::said_voted::{self, SaidVoted};
use crate::state::AppState;

/// The Hansard's routes, each declared with its documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(status))
        .routes(routes!(session_json))
        .routes(routes!(session_markdown))
}

/// What a search is narrowed by.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    /// Words.
    q: Option<String>,
    /// An address.
    speaker: Option<String>,
    /// A session id.
    session: Option<u64>,
    /// A governance proposal id (its debate sessions).
    proposal: Option<String>,
    /// Seconds since the epoch.
    from: Option<u64>,
    /// Seconds since the epoch.
    to: Option<u64>,
    /// At most this many (50 by default).
    limit: Option<u32>,
}

/// The transcription queue.
#[derive(Serialize, ToSchema)]
struct QueueStatus {
    /// Speeches waiting for a transcript.
    pending: u64,
    /// Whether the last attempt failed, in words; the cause (which may name the service's
    /// URL or its key) is in the node's log, never here.
    last_error: Option<String>,
}

/// A session's Hansard.
#[derive(Serialize, ToSchema)]
struct SessionHansard {
    session: u64,
    /// Every speech with its transcript (null while pending).
    speeches: Vec<store::Entry>,
    /// For a debate, each speaker beside their vote on the debated proposal, and who voted
    /// without speaking or spoke without voting; null for an open floor (or a session the
    /// indexer has not seen).
    debate: Option<SaidVoted>,
}

/// Full-text search of transcripts (SQLite FTS5, stemmed, all words required), narrowed by
/// speaker, session, proposal and date.
///
/// Each hit carries its speech, the transcript, a snippet with matches in [brackets] and the
/// recording's URL.
#[utoipa::path(get, path = "/api/v1/hansard/search", tag = "hansard", params(SearchQuery),
    responses(
        (status = 200, description = "Hits.", body = Vec<store::Hit>),
        (status = 400, description = "A malformed query.", body = ErrorBody),
    ))]
async fn search(
    State(s): State<AppState>,
    q: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (q, from_ms, to_ms) = match parse(q) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let mut sessions = q.session.map(|x| vec![x]);
    if let Some(p) = &q.proposal {
        let Ok(id) = p.parse::<U256>() else {
            return ApiError::BadRequest(format!("proposal {p}: not a number")).into_response();
        };
        let store = s.hub.store.clone();
        let rows = match blocking(move || store.sessions()).await {
            Ok(rows) => rows,
            Err(e) => return e.into_response(),
        };
        let of_proposal: Vec<u64> = rows
            .iter()
            .filter(|r| r.proposal_id == id)
            .map(|r| r.id)
            .collect();
        sessions = Some(match sessions {
            Some(v) => v.into_iter().filter(|x| of_proposal.contains(x)).collect(),
            None => of_proposal,
        });
    }
    let query = store::Query {
        words: q.q,
        speaker: q.speaker,
        sessions,
        from_ms,
        to_ms,
        limit: q.limit,
        newest: false,
    };
    let archive = s.archive.clone();
    match blocking(move || store::search(&archive, &query)).await {
        Ok(hits) => Json(hits).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The latest time a search may name, in seconds since the epoch: its milliseconds must fit
/// SQLite's signed 64-bit integers (about 292 million years).
const MAX_SECONDS: u64 = i64::MAX as u64 / 1000;

/// Seconds since the epoch as milliseconds, or a 400 naming `name` when out of range (the
/// query string is anyone's, and `u64::MAX * 1000` overflows).
fn millis(name: &str, seconds: Option<u64>) -> Result<Option<u64>, ApiError> {
    let Some(t) = seconds else {
        return Ok(None);
    };
    match t.checked_mul(1000) {
        Some(ms) if ms <= MAX_SECONDS * 1000 => Ok(Some(ms)),
        _ => Err(ApiError::BadRequest(format!(
            "{name} {t}: out of range (at most {MAX_SECONDS} seconds since the epoch)"
        ))),
    }
}

/// The query, checked before anything is read, with `from` and `to` in milliseconds.
fn parse(
    q: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<(SearchQuery, Option<u64>, Option<u64>), ApiError> {
    let Ok(Query(q)) = q else {
        return Err(ApiError::BadRequest(
            "query: q (words), speaker (address), session, proposal (id), from, to (seconds), limit"
                .into(),
        ));
    };
    let from_ms = millis("from", q.from)?;
    let to_ms = millis("to", q.to)?;
    Ok((q, from_ms, to_ms))
}

/// The transcription queue: speeches waiting and the last failure.
#[utoipa::path(get, path = "/api/v1/hansard/status", tag = "hansard", operation_id = "hansard_status",
    responses((status = 200, description = "Queue status.", body = QueueStatus)))]
async fn status(State(s): State<AppState>) -> Response {
    let archive = s.archive.clone();
    match blocking(move || store::queue_status(&archive)).await {
        Ok((pending, last_error)) => Json(QueueStatus {
            pending,
            last_error: last_error.map(|_| {
                "the transcription service failed; speeches are retried with backoff (the node's log has the cause)".into()
            }),
        })
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// A session's speeches with their transcripts, and for a debate the votes beside them.
async fn entries(
    s: &AppState,
    id: u64,
) -> Result<(Vec<store::Entry>, Option<SaidVoted>), ApiError> {
    let archive = s.archive.clone();
    let chain = s.hub.store.clone();
    blocking(move || -> anyhow::Result<_> {
        let entries = store::session(&archive, id)?;
        let debate = match chain.session(id)? {
            Some(row) if !row.proposal_id.is_zero() => {
                let kind = VoteKind::of(&chain, row.proposal_id)?;
                let votes = chain.votes(row.proposal_id)?;
                Some(said_voted::join(row.proposal_id, kind, &entries, &votes))
            }
            _ => None,
        };
        Ok((entries, debate))
    })
    .await
}

/// A session's Hansard as JSON: every speech with its transcript (null while pending), and
/// for a debate each speaker's vote beside their speeches.
#[utoipa::path(get, path = "/api/v1/hansard/sessions/{id}", tag = "hansard",
    params(("id" = u64, Path, description = "The session id.")),
    responses((status = 200, description = "The Hansard.", body = SessionHansard)))]
async fn session_json(State(s): State<AppState>, Path(id): Path<u64>) -> Response {
    match entries(&s, id).await {
        Ok((speeches, debate)) => Json(SessionHansard {
            session: id,
            speeches,
            debate,
        })
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The Hansard of one session as Markdown: a debate's said-and-voted table first, then one
/// section per speech, speaker and time first.
pub fn markdown(session: u64, entries: &[store::Entry], debate: Option<&SaidVoted>) -> String {
    let mut out = format!("# Hansard — session {session}\n\n");
    if let Some(d) = debate {
        out.push_str(&said_voted::markdown(d));
    }
    if entries.is_empty() {
        out.push_str("_Nothing has been said in this session yet._\n");
    }
    for e in entries {
        let when = chrono::DateTime::from_timestamp_millis(e.speech.started_ms as i64)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default();
        out.push_str(&format!(
            "## {} — {} ({} s)\n\n",
            e.speech.speaker,
            when,
            e.speech.duration_ms / 1000
        ));
        match &e.text {
            Some(t) if !t.is_empty() => out.push_str(&format!("{t}\n\n")),
            Some(_) => out.push_str("_(no words recognised)_\n\n"),
            None => out.push_str("_(transcription pending)_\n\n"),
        }
        out.push_str(&format!(
            "[recording](/api/v1/archive/speeches/{}/audio) · sha256 `{}`\n\n",
            e.speech.id,
            e.speech.sha256.as_deref().unwrap_or("pending")
        ));
    }
    out
}

/// A session's Hansard as Markdown.
#[utoipa::path(get, path = "/api/v1/hansard/sessions/{id}/markdown", tag = "hansard",
    params(("id" = u64, Path, description = "The session id.")),
    responses((status = 200, description = "Markdown.", content_type = "text/markdown", body = String)))]
async fn session_markdown(State(s): State<AppState>, Path(id): Path<u64>) -> Response {
    match entries(&s, id).await {
        Ok((e, debate)) => (
            [(CONTENT_TYPE, "text/markdown; charset=utf-8")],
            markdown(id, &e, debate.as_ref()),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{StatusCode, Uri};

    async fn answer(
        query: &str,
    ) -> Result<(Option<u64>, Option<u64>), (StatusCode, serde_json::Value)> {
        let uri: Uri = format!("/api/v1/hansard/search?{query}").parse().unwrap();
        match parse(Query::try_from_uri(&uri)) {
            Ok((_, from, to)) => Ok((from, to)),
            Err(e) => {
                let r = e.into_response();
                let status = r.status();
                let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
                Err((status, serde_json::from_slice(&bytes).unwrap()))
            }
        }
    }

    #[tokio::test]
    async fn out_of_range_dates_are_a_400_not_a_panic() {
        for query in [
            "from=18446744073709551615",
            "to=18446744073709551615",
            "q=x&from=1&to=9223372036854776",
            "from=18446744073709552",
        ] {
            let (status, v) = answer(query).await.unwrap_err();
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(v["error"], "bad_request", "{query}");
            assert!(
                v["message"].as_str().unwrap().contains("out of range"),
                "{query}"
            );
        }
        let (status, v) = answer("from=18446744073709551616").await.unwrap_err();
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_request"))
        );
        assert_eq!(
            answer("from=5&to=9223372036854775").await,
            Ok((Some(5000), Some(9_223_372_036_854_775_000)))
        );
        assert_eq!(answer("limit=4294967295").await, Ok((None, None)));
    }
}
