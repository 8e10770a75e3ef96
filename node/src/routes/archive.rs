//! The archive API: speeches by session or speaker, one speech, and its audio.
//!
//! - `GET /api/v1/archive/speeches?session=&speaker=&limit=`
//! - `GET /api/v1/archive/speeches/{id}`
//! - `GET /api/v1/archive/speeches/{id}/audio` — the Ogg Opus file (`audio/ogg`).

use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use assembly_archive::record::archive::{Filter, Speech};

use crate::error::{blocking, ApiError};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/archive/speeches", get(list))
        .route("/api/v1/archive/speeches/{id}", get(one))
        .route("/api/v1/archive/speeches/{id}/audio", get(audio))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    session: Option<u64>,
    speaker: Option<String>,
    limit: Option<u32>,
}

#[derive(serde::Serialize)]
struct Listed {
    #[serde(flatten)]
    speech: Speech,
    audio: String,
}

fn listed(s: Speech) -> Listed {
    let audio = format!("/api/v1/archive/speeches/{}/audio", s.id);
    Listed { speech: s, audio }
}

async fn list(
    State(s): State<AppState>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return ApiError::BadRequest(
            "query: session (number), speaker (address), limit (number)".into(),
        )
        .into_response();
    };
    let archive = s.archive.clone();
    let f = Filter {
        session: q.session,
        speaker: q.speaker,
        limit: q.limit,
    };
    match blocking(move || archive.speeches(&f)).await {
        Ok(rows) => Json(rows.into_iter().map(listed).collect::<Vec<_>>()).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn find(s: &AppState, id: i64) -> Result<Speech, ApiError> {
    let archive = s.archive.clone();
    blocking(move || archive.speech(id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no speech {id}")))
}

async fn one(State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    match find(&s, id).await {
        Ok(sp) => Json(listed(sp)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn audio(State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    let sp = match find(&s, id).await {
        Ok(sp) => sp,
        Err(e) => return e.into_response(),
    };
    let path = s.archive.path(&sp);
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            [
                (CONTENT_TYPE, "audio/ogg".to_string()),
                (
                    CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"assembly-{}-{}.ogg\"",
                        sp.session, sp.id
                    ),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => {
            // Indexed but gone from disk: the client can do nothing about it, and the path
            // is ours to know.
            tracing::warn!(speech = sp.id, path = %path.display(), error = %e, "recording file");
            ApiError::NotFound(format!(
                "speech {}: its recording is not on this node",
                sp.id
            ))
            .into_response()
        }
    }
}
