//! Searches saved by signed-in people, each followed as an Atom feed under an unguessable
//! URL that is theirs alone: a random 128-bit token, shown once and kept only as its SHA-256.
//!
//! - `POST /api/v1/feeds/searches` — save a search; answers its feed URL (once).
//! - `GET|DELETE /api/v1/feeds/searches/{token}.atom`

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use alloy::primitives::Address;
use assembly_archive::hansard::store;
use assembly_floor::clock;

use super::feeds::{atom_response, hits, proposal_id, ENTRIES};
use crate::alerts::db;
use crate::atom::{self, Feed};
use crate::error::{blocking, ApiError, AppJson, ErrorBody};
use crate::state::{identify, AppState};

/// A saved search's words, at most (the search itself uses the first 16 words).
const MAX_WORDS_LEN: usize = 200;

/// The saved searches' routes, each declared with its documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(save_search))
        .routes(routes!(saved_search, delete_search))
}

/// A search to follow as a feed.
#[derive(Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SavedQuery {
    /// Words, all required (stemmed), at most 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    q: Option<String>,
    /// Only this speaker (an address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    speaker: Option<String>,
    /// Only the debate sessions of this proposal (decimal id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    proposal: Option<String>,
}

/// A saved search's feed: the token is shown only here, once.
#[derive(Serialize, ToSchema)]
struct SavedSearch {
    /// The secret part of the URL; the node keeps only its SHA-256.
    token: String,
    /// The feed's URL.
    url: String,
}

fn check(q: &SavedQuery) -> Result<(), ApiError> {
    if q.q.as_deref().is_some_and(|w| w.len() > MAX_WORDS_LEN) {
        return Err(ApiError::BadRequest(format!(
            "q: at most {MAX_WORDS_LEN} characters"
        )));
    }
    if q.q.as_deref().is_none_or(|w| w.trim().is_empty())
        && q.speaker.is_none()
        && q.proposal.is_none()
    {
        return Err(ApiError::BadRequest("give q, speaker or proposal".into()));
    }
    if let Some(a) = &q.speaker {
        a.parse::<Address>()
            .map_err(|_| ApiError::BadRequest("speaker: expected 0x and 40 hex digits".into()))?;
    }
    if let Some(p) = &q.proposal {
        proposal_id(p)?;
    }
    Ok(())
}

fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Save a search for the signed-in account; the answer carries its feed URL, whose token is
/// shown only this once.
#[utoipa::path(post, path = "/api/v1/feeds/searches", tag = "feeds", request_body = SavedQuery,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Saved.", body = SavedSearch),
        (status = 400, description = "A malformed or empty query, or one over 200 characters.", body = ErrorBody),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 409, description = "The account has as many saved searches as it may.", body = ErrorBody),
    ))]
async fn save_search(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<AppJson<SavedQuery>, ApiError>,
) -> Result<Response, ApiError> {
    let who = identify(&s, &headers, None)?.ok_or(ApiError::Unauthenticated)?;
    let AppJson(q) = body?;
    check(&q)?;
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(ApiError::internal)?;
    let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let (owner, hash) = (format!("{:#x}", who.address), digest(&token));
    let json = serde_json::to_string(&q).map_err(ApiError::internal)?;
    let max = s.alerts.config.max_searches_per_account;
    let saved = s
        .alerts
        .with_db(move |c| db::insert_search(c, &owner, &hash, &json, clock::now_ms(), max))
        .await
        .map_err(ApiError::internal)?;
    if !saved {
        return Err(ApiError::Limit(format!(
            "at most {max} saved searches per account"
        )));
    }
    let url = format!("{}/api/v1/feeds/searches/{token}.atom", s.origins.own());
    Ok((StatusCode::CREATED, Json(SavedSearch { token, url })).into_response())
}

/// The token in `file` (32 hex digits, `.atom` optional), hashed; a 404 for anything else.
fn token_hash(file: &str) -> Result<String, ApiError> {
    let t = file.strip_suffix(".atom").unwrap_or(file);
    if t.len() != 32 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::NotFound("no such saved search".into()));
    }
    Ok(digest(&t.to_ascii_lowercase()))
}

/// A saved search's hits, newest first, as an Atom feed.
#[utoipa::path(get, path = "/api/v1/feeds/searches/{file}", tag = "feeds",
    params(("file" = String, Path, description = "The token followed by `.atom`.")),
    responses(
        (status = 200, description = "Atom (RFC 4287).", content_type = "application/atom+xml", body = String),
        (status = 404, description = "No saved search has that token.", body = ErrorBody),
    ))]
async fn saved_search(
    State(s): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let hash = token_hash(&file)?;
    let found = s
        .alerts
        .with_db(move |c| db::search_by_token(c, &hash))
        .await
        .map_err(ApiError::internal)?;
    let q: SavedQuery = found
        .and_then(|j| serde_json::from_str(&j).ok())
        .ok_or_else(|| ApiError::NotFound("no such saved search".into()))?;
    let sessions = match &q.proposal {
        Some(p) => {
            let id = proposal_id(p)?;
            let store = s.hub.store.clone();
            let rows = blocking(move || store.sessions()).await?;
            Some(
                rows.iter()
                    .filter(|r| r.proposal_id == id)
                    .map(|r| r.id)
                    .collect(),
            )
        }
        None => None,
    };
    let entries = hits(
        &s,
        store::Query {
            words: q.q.clone(),
            speaker: q.speaker.clone(),
            sessions,
            limit: Some(ENTRIES),
            newest: true,
            ..store::Query::default()
        },
    )
    .await?;
    let origin = s.origins.own();
    let about = [q.q.as_deref(), q.speaker.as_deref(), q.proposal.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    let token = file
        .strip_suffix(".atom")
        .unwrap_or(&file)
        .to_ascii_lowercase();
    Ok(atom_response(&Feed {
        id: atom::tag(origin, &format!("feeds:search:{}", &digest(&token)[..16])),
        title: format!("Assembly Hansard: {about}"),
        self_url: format!("{origin}/api/v1/feeds/searches/{token}.atom"),
        alternate: None,
        entries,
        now_ms: clock::now_ms(),
    }))
}

/// Delete a saved search of the signed-in account (its feed URL stops working).
#[utoipa::path(delete, path = "/api/v1/feeds/searches/{file}", tag = "feeds",
    params(("file" = String, Path, description = "The token, with or without `.atom`.")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 404, description = "The account has no saved search with that token.", body = ErrorBody),
    ))]
async fn delete_search(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Result<StatusCode, ApiError> {
    let who = identify(&s, &headers, None)?.ok_or(ApiError::Unauthenticated)?;
    let hash = token_hash(&file)?;
    let owner = format!("{:#x}", who.address);
    let gone = s
        .alerts
        .with_db(move |c| db::delete_search(c, &owner, &hash))
        .await
        .map_err(ApiError::internal)?;
    if gone {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no such saved search".into()))
    }
}
