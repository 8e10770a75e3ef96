//! Atom feeds (see [`crate::atom`]): an orchestrator's speeches, a proposal's debate, and
//! searches saved by signed-in people, each under an unguessable URL that is theirs alone.
//!
//! - `GET /api/v1/feeds/orchestrators/{address}.atom`
//! - `GET /api/v1/feeds/proposals/{id}.atom`
//! - `POST /api/v1/feeds/searches` — save a search; answers its feed URL (once).
//! - `GET|DELETE /api/v1/feeds/searches/{token}.atom`
//!
//! Only transcribed speeches are entries: a speech appears once the Hansard has its words.

use alloy::primitives::{Address, U256};
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use assembly_archive::hansard::store;
use assembly_floor::clock;

use crate::alerts::db;
use crate::atom::{self, Entry, Feed};
use crate::error::{blocking, ApiError, AppJson, ErrorBody};
use crate::state::{identify, AppState};

/// Entries in a feed at most.
const ENTRIES: u32 = 50;
/// A saved search's words, at most (the search itself uses the first 16 words).
const MAX_WORDS_LEN: usize = 200;

/// The feeds' routes, each declared with its documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(orchestrator))
        .routes(routes!(proposal))
        .routes(routes!(save_search))
        .routes(routes!(saved_search, delete_search))
}

/// `file` without its `.atom`, or a 400 naming what was expected.
fn stem<'a>(file: &'a str, what: &str) -> Result<&'a str, ApiError> {
    file.strip_suffix(".atom")
        .ok_or_else(|| ApiError::BadRequest(format!("expected {what}.atom")))
}

fn atom_response(feed: &Feed) -> Response {
    (
        [
            (CONTENT_TYPE, "application/atom+xml; charset=utf-8"),
            (CACHE_CONTROL, "max-age=60"),
        ],
        atom::render(feed),
    )
        .into_response()
}

/// The hits of `q`, newest first, as entries.
async fn hits(s: &AppState, q: store::Query) -> Result<Vec<Entry>, ApiError> {
    let archive = s.archive.clone();
    let hits = blocking(move || store::search(&archive, &q)).await?;
    let origin = s.origins.own();
    Ok(hits.iter().map(|h| atom::speech_entry(origin, h)).collect())
}

/// An orchestrator's (any speaker's) transcribed speeches, newest first, as an Atom feed.
#[utoipa::path(get, path = "/api/v1/feeds/orchestrators/{file}", tag = "feeds",
    params(("file" = String, Path, description = "The address followed by `.atom`.", example = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8.atom")),
    responses(
        (status = 200, description = "Atom (RFC 4287).", content_type = "application/atom+xml", body = String),
        (status = 400, description = "Not an address, or no `.atom`.", body = ErrorBody),
    ))]
async fn orchestrator(
    State(s): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let raw = stem(&file, "{address}")?;
    let address: Address = raw
        .parse()
        .map_err(|_| ApiError::BadRequest("address: expected 0x and 40 hex digits".into()))?;
    let entries = hits(
        &s,
        store::Query {
            speaker: Some(address.to_checksum(None)),
            limit: Some(ENTRIES),
            newest: true,
            ..store::Query::default()
        },
    )
    .await?;
    let origin = s.origins.own();
    let lower = format!("{address:#x}");
    Ok(atom_response(&Feed {
        id: atom::tag(origin, &format!("feeds:orchestrator:{lower}")),
        title: format!("Assembly: speeches of {}", address.to_checksum(None)),
        self_url: format!("{origin}/api/v1/feeds/orchestrators/{lower}.atom"),
        alternate: Some(format!("{origin}/api/v1/hansard/search?speaker={lower}")),
        entries,
        now_ms: clock::now_ms(),
    }))
}

/// A proposal's debate as an Atom feed: each debate session opened for it, and the
/// transcribed speeches of those sessions, newest first.
#[utoipa::path(get, path = "/api/v1/feeds/proposals/{file}", tag = "feeds",
    params(("file" = String, Path, description = "The proposal id (decimal, or a poll's 0x address) followed by `.atom`.")),
    responses(
        (status = 200, description = "Atom (RFC 4287).", content_type = "application/atom+xml", body = String),
        (status = 400, description = "Not a proposal id, or no `.atom`.", body = ErrorBody),
    ))]
async fn proposal(
    State(s): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let raw = stem(&file, "{id}")?;
    let id = proposal_id(raw)?;
    let store = s.hub.store.clone();
    let (rows, title) = blocking(move || -> anyhow::Result<_> {
        let rows: Vec<_> = store
            .sessions()?
            .into_iter()
            .filter(|r| r.proposal_id == id)
            .collect();
        Ok((rows, store.title(id)?))
    })
    .await?;
    let origin = s.origins.own();
    let named = title
        .and_then(|t| t.title.or(t.lip.map(|n| format!("LIP-{n}"))))
        .unwrap_or_else(|| format!("proposal {id}"));
    let mut entries: Vec<Entry> = rows
        .iter()
        .map(|r| Entry {
            id: atom::tag(origin, &format!("debate:{}", r.id)),
            title: format!("Debate opened: {named}"),
            updated_ms: r.schedule.start.saturating_mul(1000),
            author: None,
            summary: format!("Session {} debates {named}.", r.id),
            link: (format!("{origin}/?session={}", r.id), "text/html"),
            related: Some(format!("{origin}/api/v1/hansard/sessions/{}", r.id)),
        })
        .collect();
    entries.extend(
        hits(
            &s,
            store::Query {
                sessions: Some(rows.iter().map(|r| r.id).collect()),
                limit: Some(ENTRIES),
                newest: true,
                ..store::Query::default()
            },
        )
        .await?,
    );
    entries.sort_by_key(|e| std::cmp::Reverse(e.updated_ms));
    entries.truncate(ENTRIES as usize);
    Ok(atom_response(&Feed {
        id: atom::tag(origin, &format!("feeds:proposal:{id}")),
        title: format!("Assembly: the debate on {named}"),
        self_url: format!("{origin}/api/v1/feeds/proposals/{id}.atom"),
        alternate: None,
        entries,
        now_ms: clock::now_ms(),
    }))
}

/// A governor proposal id in decimal, or an LIP poll's address (as the indexer keys it).
fn proposal_id(raw: &str) -> Result<U256, ApiError> {
    let bad =
        || ApiError::BadRequest("id: a proposal id in decimal, or a poll's 0x address".into());
    if raw.len() > 80 {
        return Err(bad());
    }
    if raw.starts_with("0x") {
        let a: Address = raw.parse().map_err(|_| bad())?;
        return Ok(U256::from_be_slice(a.as_slice()));
    }
    raw.parse::<U256>().map_err(|_| bad())
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
