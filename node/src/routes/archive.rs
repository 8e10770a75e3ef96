//! The archive API: speeches by session or speaker, one speech, and its audio. Each speech
//! says whether it is provably its speaker's (speaker-signed audio, checked as recorded).
//!
//! - `GET /api/v1/archive/speeches?session=&speaker=&limit=`
//! - `GET /api/v1/archive/speeches/{id}`
//! - `GET /api/v1/archive/speeches/{id}/audio` — the Ogg Opus file (`audio/ogg`).
//!
//! The record anchored on chain (an occurrence's leaves and roots, a speech's proof) is
//! [`crate::routes::record`]'s, merged here.

use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use assembly_archive::record::archive::{Filter, Speech};
use assembly_archive::record::checked::Provenance;

use crate::error::{blocking, ApiError, ErrorBody};
use crate::state::AppState;

/// The archive's routes, each declared with its documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(one))
        .routes(routes!(audio))
        .merge(crate::routes::record::routes())
}

/// What a speech list is narrowed by.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// A session id.
    session: Option<u64>,
    /// An address (any case).
    speaker: Option<String>,
    /// At most this many (500 by default).
    limit: Option<u32>,
}

/// A speech with the URL of its audio and whether it is provably its speaker's.
#[derive(serde::Serialize, ToSchema)]
struct Listed {
    #[serde(flatten)]
    speech: Speech,
    /// The recording (`/api/v1/archive/speeches/{id}/audio`).
    audio: String,
    /// Whether the audio is provably its speaker's: `signed` (by the speaking key named,
    /// which the speaker's wallet certified), `unsigned`, `tainted` (with the first
    /// refusal), or `pending` while recorded or not yet checked.
    provenance: Provenance,
    /// The speech's proof against the record anchored on chain
    /// (`/api/v1/archive/speeches/{id}/proof`), once its occurrence's record is computed.
    proof: String,
}

fn listed((s, provenance): (Speech, Provenance)) -> Listed {
    let audio = format!("/api/v1/archive/speeches/{}/audio", s.id);
    let proof = format!("/api/v1/archive/speeches/{}/proof", s.id);
    Listed {
        speech: s,
        audio,
        provenance,
        proof,
    }
}

/// Recorded speeches, oldest first: speaker, session, occurrence, slot, first/last packet,
/// packets, duration, SHA-256 of the Ogg Opus file, whether it is provably its speaker's,
/// and its audio URL.
#[utoipa::path(get, path = "/api/v1/archive/speeches", tag = "archive", params(ListQuery),
    responses(
        (status = 200, description = "Speeches.", body = Vec<Listed>),
        (status = 400, description = "A malformed query.", body = ErrorBody),
    ))]
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
    match blocking(move || archive.speeches_checked(&f)).await {
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

/// One speech, with whether it is provably its speaker's.
#[utoipa::path(get, path = "/api/v1/archive/speeches/{id}", tag = "archive",
    params(("id" = i64, Path, description = "The speech id.")),
    responses(
        (status = 200, description = "The speech.", body = Listed),
        (status = 404, description = "No such speech.", body = ErrorBody),
    ))]
async fn one(State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    let archive = s.archive.clone();
    match blocking(move || archive.speech_checked(id)).await {
        Ok(Some(sp)) => Json(listed(sp)).into_response(),
        Ok(None) => ApiError::NotFound(format!("no speech {id}")).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The speech's recording: the speaker's Opus packets as sent, in Ogg.
#[utoipa::path(get, path = "/api/v1/archive/speeches/{id}/audio", tag = "archive",
    params(("id" = i64, Path, description = "The speech id.")),
    responses(
        (status = 200, description = "Ogg Opus.", content_type = "audio/ogg", body = Vec<u8>),
        (status = 404, description = "No such speech.", body = ErrorBody),
    ))]
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
