//! The read-only HTTP/JSON API one indexer serves to several media nodes:
//!
//! | route | answer |
//! |---|---|
//! | `GET /v1/status` | head, finalized and latest block, counts |
//! | `GET /v1/sessions?from=&to=` | sessions with their occurrences in `[from, to)` (default: the next 30 days) |
//! | `GET /v1/sessions/{id}` | one session and its upcoming occurrences |
//! | `GET /v1/sessions/{id}/occurrences/{n}` | the occurrence's queue and floor timeline |
//! | `GET /v1/sessions/{id}/floor?at=` | who holds the floor at `at` (unix seconds; default now) |
//! | `GET /v1/roles/{address}` | the address's role and stake from the eligibility cache |
//! | `GET /v1/changes` | server-sent events: every change as it is applied |
//!
//! Everything derived from blocks above the finalized height carries `"final": false`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use alloy::primitives::Address;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::events::{Kind, Speakers};
use crate::floor::{self, Span};
use crate::roles::{Roles, Standing};
use crate::store::{SessionRow, Stats, Store, StoreError};
use crate::sync::{Change, Progress};

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<Store>,
    pub changes: broadcast::Sender<Change>,
    pub progress: watch::Receiver<Progress>,
    pub roles: Option<Arc<Roles>>,
}

/// API failures, each with its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no session {0}")]
    UnknownSession(u64),
    #[error("session {0} has no occurrence {1}")]
    UnknownOccurrence(u64, u32),
    #[error("role lookups are not configured")]
    NoRoles,
    #[error("chain: {0}")]
    Chain(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::UnknownSession(_) | ApiError::UnknownOccurrence(..) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NoRoles => StatusCode::NOT_IMPLEMENTED,
            ApiError::Chain(_) => StatusCode::BAD_GATEWAY,
            ApiError::Store(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = ChainError {
            error: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}

/// Every error answer of the indexer's API.
#[derive(Serialize, ToSchema)]
pub struct ChainError {
    /// What went wrong, for people.
    pub error: String,
}

/// The routes, each declared once with its documentation: the router and the OpenAPI
/// document are both built from this list, so they cannot disagree.
fn documented() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(sessions))
        .routes(routes!(session))
        .routes(routes!(occurrence))
        .routes(routes!(floor_at))
        .routes(routes!(role))
        .routes(routes!(changes))
}

/// The routes with their documentation, over `state`, for a server that nests them and
/// serves one document for all its routes (the node, under `/chain`).
pub fn routes<S: Clone + Send + Sync + 'static>(state: ApiState) -> OpenApiRouter<S> {
    documented().with_state(state)
}

/// The router.
pub fn router(state: ApiState) -> Router {
    routes(state).split_for_parts().0
}

/// The API's OpenAPI description (paths relative to where the router is mounted).
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented().into_openapi()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// The follower's progress and the store's counts.
#[derive(Serialize, ToSchema)]
struct StatusBody {
    #[serde(flatten)]
    progress: Progress,
    #[serde(flatten)]
    stats: Stats,
}

/// Head, finalized and latest block, counts.
#[utoipa::path(get, path = "/v1/status", tag = "chain", operation_id = "chain_status",
    responses(
        (status = 200, description = "Status.", body = StatusBody),
        (status = 500, description = "The store could not be read.", body = ChainError),
    ))]
async fn status(State(s): State<ApiState>) -> Result<Json<StatusBody>, ApiError> {
    let progress = *s.progress.borrow();
    let store = s.store.clone();
    let stats = blocking(move || Ok(store.stats()?)).await?;
    Ok(Json(StatusBody { progress, stats }))
}

/// One dated occurrence.
#[derive(Serialize, ToSchema)]
pub struct OccurrenceView {
    pub occurrence: u32,
    pub start: u64,
    pub end: u64,
}

/// A session as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: u64,
    pub kind: Kind,
    pub proposal_id: Option<String>,
    pub speakers: Speakers,
    pub slot_length: u64,
    pub max_queue: u16,
    pub start: u64,
    pub duration: u64,
    pub period: u64,
    pub count: u32,
    pub always_on: bool,
    pub cancelled_at: Option<u64>,
    pub occurrences: Vec<OccurrenceView>,
    #[serde(rename = "final")]
    pub is_final: bool,
}

fn session_view(row: &SessionRow, from: u64, to: u64, finalized: u64) -> SessionView {
    let s = &row.schedule;
    SessionView {
        id: row.id,
        kind: row.kind,
        proposal_id: (!row.proposal_id.is_zero()).then(|| row.proposal_id.to_string()),
        speakers: row.speakers,
        slot_length: s.slot_length,
        max_queue: row.max_queue,
        start: s.start,
        duration: s.duration,
        period: s.period,
        count: s.count,
        always_on: s.duration == floor::FOREVER,
        cancelled_at: s.cancelled_at,
        occurrences: s
            .occurrences(from, to, 10)
            .into_iter()
            .map(|(occurrence, start, end)| OccurrenceView {
                occurrence,
                start,
                end,
            })
            .collect(),
        is_final: row.created_block.max(row.cancelled_block.unwrap_or(0)) <= finalized,
    }
}

/// The window occurrences are listed in.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Window {
    /// Unix seconds (default now).
    from: Option<u64>,
    /// Unix seconds, exclusive (default 30 days after `from`).
    to: Option<u64>,
}

impl Window {
    fn resolve(&self) -> Result<(u64, u64), ApiError> {
        let from = self.from.unwrap_or_else(now);
        let to = self.to.unwrap_or(from + 30 * 86_400);
        if to < from {
            return Err(ApiError::BadRequest("`to` is before `from`".into()));
        }
        Ok((from, to))
    }
}

/// Sessions and their occurrences (the embedded indexer).
///
/// Sessions with their occurrences in `[from, to)` (default: the next 30 days).
#[utoipa::path(get, path = "/v1/sessions", tag = "chain", params(Window),
    responses(
        (status = 200, description = "Sessions.", body = Vec<SessionView>),
        (status = 400, description = "`to` is before `from`.", body = ChainError),
    ))]
async fn sessions(
    State(s): State<ApiState>,
    Query(w): Query<Window>,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    let (from, to) = w.resolve()?;
    let finalized = s.progress.borrow().finalized;
    let store = s.store.clone();
    let rows = blocking(move || Ok(store.sessions()?)).await?;
    Ok(Json(
        rows.iter()
            .map(|r| session_view(r, from, to, finalized))
            .collect(),
    ))
}

/// One session and its upcoming occurrences.
#[utoipa::path(get, path = "/v1/sessions/{id}", tag = "chain",
    params(("id" = u64, Path, description = "The session id."), Window),
    responses(
        (status = 200, description = "The session.", body = SessionView),
        (status = 400, description = "`to` is before `from`.", body = ChainError),
        (status = 404, description = "Unknown session.", body = ChainError),
    ))]
async fn session(
    State(s): State<ApiState>,
    Path(id): Path<u64>,
    Query(w): Query<Window>,
) -> Result<Json<SessionView>, ApiError> {
    let (from, to) = w.resolve()?;
    let finalized = s.progress.borrow().finalized;
    let store = s.store.clone();
    let row = blocking(move || store.session(id)?.ok_or(ApiError::UnknownSession(id))).await?;
    Ok(Json(session_view(&row, from, to, finalized)))
}

/// One request and its slot.
#[derive(Serialize, ToSchema)]
pub struct SlotView {
    pub index: u32,
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub speaker: Address,
    pub orchestrator: bool,
    pub enqueued_at: u64,
    pub start: u64,
    pub end: u64,
    pub withdrawn: bool,
    pub yielded_at: Option<u64>,
    #[serde(rename = "final")]
    pub is_final: bool,
}

/// An occurrence's queue and timeline.
#[derive(Serialize, ToSchema)]
pub struct OccurrenceBody {
    pub session: u64,
    pub occurrence: u32,
    pub span: Span,
    pub slots: Vec<SlotView>,
}

/// The occurrence's queue and floor timeline.
#[utoipa::path(get, path = "/v1/sessions/{id}/occurrences/{n}", tag = "chain",
    params(
        ("id" = u64, Path, description = "The session id."),
        ("n" = u32, Path, description = "The occurrence, from 0."),
    ),
    responses(
        (status = 200, description = "The timeline.", body = OccurrenceBody),
        (status = 404, description = "Unknown session or occurrence.", body = ChainError),
    ))]
async fn occurrence(
    State(s): State<ApiState>,
    Path((id, n)): Path<(u64, u32)>,
) -> Result<Json<OccurrenceBody>, ApiError> {
    let finalized = s.progress.borrow().finalized;
    let store = s.store.clone();
    blocking(move || {
        let row = store.session(id)?.ok_or(ApiError::UnknownSession(id))?;
        if row.schedule.period == 0 && n != 0 || row.schedule.count != 0 && n >= row.schedule.count
        {
            return Err(ApiError::UnknownOccurrence(id, n));
        }
        let (span, slots, rows) = store.timeline(&row, n)?;
        let slots = slots
            .iter()
            .zip(&rows)
            .map(|(slot, r)| SlotView {
                index: slot.index,
                speaker: slot.speaker,
                orchestrator: r.orchestrator,
                enqueued_at: r.request.enqueued_at,
                start: slot.start,
                end: slot.end,
                withdrawn: slot.withdrawn,
                yielded_at: r.request.yielded_at,
                is_final: r.last_block <= finalized,
            })
            .collect();
        Ok(Json(OccurrenceBody {
            session: id,
            occurrence: n,
            span,
            slots,
        }))
    })
    .await
}

/// The instant asked about.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct At {
    /// Unix seconds (default now).
    at: Option<u64>,
}

/// Who holds the floor at an instant.
#[derive(Serialize, Debug, PartialEq, Eq, ToSchema)]
pub struct FloorBody {
    pub session: u64,
    pub at: u64,
    pub occurrence: Option<u32>,
    #[schema(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub speaker: Option<Address>,
    pub index: Option<u32>,
    pub start: Option<u64>,
    pub end: Option<u64>,
}

/// The floor of `session` at `t`, by the rule, from the store.
pub fn floor_of(store: &Store, session: u64, t: u64) -> Result<FloorBody, ApiError> {
    let row = store
        .session(session)?
        .ok_or(ApiError::UnknownSession(session))?;
    let mut body = FloorBody {
        session,
        at: t,
        occurrence: None,
        speaker: None,
        index: None,
        start: None,
        end: None,
    };
    let Some(occ) = row.schedule.containing(t) else {
        return Ok(body);
    };
    body.occurrence = Some(occ);
    let (_, slots, _) = store.timeline(&row, occ)?;
    if let Some(slot) = floor::holder_at(&slots, t) {
        body.speaker = Some(slot.speaker);
        body.index = Some(slot.index);
        body.start = Some(slot.start);
        body.end = Some(slot.end);
    }
    Ok(body)
}

/// Who holds the floor at `at` (unix seconds; default now).
#[utoipa::path(get, path = "/v1/sessions/{id}/floor", tag = "chain",
    params(("id" = u64, Path, description = "The session id."), At),
    responses(
        (status = 200, description = "Floor.", body = FloorBody),
        (status = 404, description = "Unknown session.", body = ChainError),
    ))]
async fn floor_at(
    State(s): State<ApiState>,
    Path(id): Path<u64>,
    Query(q): Query<At>,
) -> Result<Json<FloorBody>, ApiError> {
    let t = q.at.unwrap_or_else(now);
    let store = s.store.clone();
    blocking(move || floor_of(&store, id, t)).await.map(Json)
}

/// Role and stake from the eligibility cache.
#[utoipa::path(get, path = "/v1/roles/{address}", tag = "chain",
    params(("address" = String, Path, description = "An address (any case).")),
    responses(
        (status = 200, description = "Standing.", body = Standing),
        (status = 400, description = "Not an address.", body = ChainError),
        (status = 501, description = "Role lookups are not configured.", body = ChainError),
        (status = 502, description = "The chain could not be read.", body = ChainError),
    ))]
async fn role(
    State(s): State<ApiState>,
    Path(address): Path<String>,
) -> Result<Json<Standing>, ApiError> {
    let address: Address = address
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("{address} is not an address")))?;
    let roles = s.roles.ok_or(ApiError::NoRoles)?;
    roles
        .standing(address)
        .await
        .map(Json)
        .map_err(|e| ApiError::Chain(e.to_string()))
}

/// Server-sent events: each change the indexer applies.
///
/// Each event's data is one change as JSON; a reader that fell behind gets a `lagged` event
/// and should re-read state.
#[utoipa::path(get, path = "/v1/changes", tag = "chain",
    responses(
        (status = 200, description = "text/event-stream", content_type = "text/event-stream", body = String),
    ))]
async fn changes(
    State(s): State<ApiState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let stream = BroadcastStream::new(s.changes.subscribe()).map(|change| {
        Ok(match change {
            Ok(c) => SseEvent::default()
                .json_data(&c)
                .unwrap_or_else(|_| SseEvent::default().comment("unencodable")),
            // A slow reader missed changes: tell it to re-read state rather than drift.
            Err(_) => SseEvent::default().event("lagged").data("re-read state"),
        })
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
