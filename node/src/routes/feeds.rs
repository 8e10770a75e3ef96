//! Atom feeds (see [`crate::atom`]): an orchestrator's speeches and a proposal's debate
//! (saved searches' feeds are [`super::searches`]').
//!
//! - `GET /api/v1/feeds/orchestrators/{address}.atom`
//! - `GET /api/v1/feeds/proposals/{id}.atom`
//!
//! Only transcribed speeches are entries: a speech appears once the Hansard has its words.

use alloy::primitives::{Address, U256};
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use assembly_archive::hansard::store;
use assembly_floor::clock;

use crate::atom::{self, Entry, Feed};
use crate::error::{blocking, ApiError, ErrorBody};
use crate::state::AppState;

/// Entries in a feed at most.
pub(super) const ENTRIES: u32 = 50;

/// The feeds' routes, each declared with its documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(orchestrator))
        .routes(routes!(proposal))
}

/// `file` without its `.atom`, or a 400 naming what was expected.
fn stem<'a>(file: &'a str, what: &str) -> Result<&'a str, ApiError> {
    file.strip_suffix(".atom")
        .ok_or_else(|| ApiError::BadRequest(format!("expected {what}.atom")))
}

pub(super) fn atom_response(feed: &Feed) -> Response {
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
pub(super) async fn hits(s: &AppState, q: store::Query) -> Result<Vec<Entry>, ApiError> {
    let archive = s.archive.clone();
    let hits = blocking(move || store::search(&archive, &q)).await?;
    let origin = s.origins.own();
    Ok(hits.iter().map(|h| atom::speech_entry(origin, h)).collect())
}

/// An orchestrator's (any speaker's) transcribed speeches, newest first, as an Atom feed.
#[utoipa::path(get, path = "/api/v1/feeds/orchestrators/{file}", tag = "feeds", operation_id = "feed_orchestrator",
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
#[utoipa::path(get, path = "/api/v1/feeds/proposals/{file}", tag = "feeds", operation_id = "feed_proposal",
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
pub(super) fn proposal_id(raw: &str) -> Result<U256, ApiError> {
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
