//! Search and exports.
//!
//! - `GET /api/v1/hansard/search?q=&speaker=&session=&proposal=&from=&to=&limit=` — words (all
//!   required, stemmed), a speaker's address, a session, a proposal id (its debate sessions),
//!   a date range (seconds since the epoch). Each hit links to its recording.
//! - `GET /api/v1/hansard/status` — the transcription queue: speeches waiting, last failure.
//! - `GET /api/v1/hansard/sessions/{id}` — a session's Hansard as JSON.
//! - `GET /api/v1/hansard/sessions/{id}/markdown` — the same as Markdown.

use alloy::primitives::U256;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use assembly_archive::hansard::store;

use crate::error::{blocking, ApiError};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/hansard/search", get(search))
        .route("/api/v1/hansard/status", get(status))
        .route("/api/v1/hansard/sessions/{id}", get(session_json))
        .route(
            "/api/v1/hansard/sessions/{id}/markdown",
            get(session_markdown),
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    q: Option<String>,
    speaker: Option<String>,
    session: Option<u64>,
    proposal: Option<String>,
    from: Option<u64>,
    to: Option<u64>,
    limit: Option<u32>,
}

async fn search(
    State(s): State<AppState>,
    q: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return ApiError::BadRequest(
            "query: q (words), speaker (address), session, proposal (id), from, to (seconds), limit"
                .into(),
        )
        .into_response();
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
        from_ms: q.from.map(|t| t * 1000),
        to_ms: q.to.map(|t| t * 1000),
        limit: q.limit,
    };
    let archive = s.archive.clone();
    match blocking(move || store::search(&archive, &query)).await {
        Ok(hits) => Json(hits).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The transcription queue, for operators: speeches waiting and the last failure.
async fn status(State(s): State<AppState>) -> Response {
    let archive = s.archive.clone();
    match blocking(move || store::queue_status(&archive)).await {
        Ok((pending, last_error)) => {
            Json(serde_json::json!({ "pending": pending, "last_error": last_error }))
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn entries(s: &AppState, id: u64) -> Result<Vec<store::Entry>, ApiError> {
    let archive = s.archive.clone();
    blocking(move || store::session(&archive, id)).await
}

async fn session_json(State(s): State<AppState>, Path(id): Path<u64>) -> Response {
    match entries(&s, id).await {
        Ok(e) => Json(serde_json::json!({ "session": id, "speeches": e })).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The Hansard of one session as Markdown: one section per speech, speaker and time first.
pub fn markdown(session: u64, entries: &[store::Entry]) -> String {
    let mut out = format!("# Hansard — session {session}\n\n");
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

async fn session_markdown(State(s): State<AppState>, Path(id): Path<u64>) -> Response {
    match entries(&s, id).await {
        Ok(e) => (
            [(CONTENT_TYPE, "text/markdown; charset=utf-8")],
            markdown(id, &e),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}
