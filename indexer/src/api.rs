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
use axum::routing::get;
use axum::{Json, Router};
use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

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
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

/// The router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/sessions", get(sessions))
        .route("/v1/sessions/{id}", get(session))
        .route("/v1/sessions/{id}/occurrences/{n}", get(occurrence))
        .route("/v1/sessions/{id}/floor", get(floor_at))
        .route("/v1/roles/{address}", get(role))
        .route("/v1/changes", get(changes))
        .with_state(state)
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

#[derive(Serialize)]
struct StatusBody {
    #[serde(flatten)]
    progress: Progress,
    #[serde(flatten)]
    stats: Stats,
}

async fn status(State(s): State<ApiState>) -> Result<Json<StatusBody>, ApiError> {
    let progress = *s.progress.borrow();
    let store = s.store.clone();
    let stats = blocking(move || Ok(store.stats()?)).await?;
    Ok(Json(StatusBody { progress, stats }))
}

/// One dated occurrence.
#[derive(Serialize)]
pub struct OccurrenceView {
    pub occurrence: u32,
    pub start: u64,
    pub end: u64,
}

/// A session as the API shows it.
#[derive(Serialize)]
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

#[derive(Deserialize)]
struct Window {
    from: Option<u64>,
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
#[derive(Serialize)]
pub struct SlotView {
    pub index: u32,
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
#[derive(Serialize)]
pub struct OccurrenceBody {
    pub session: u64,
    pub occurrence: u32,
    pub span: Span,
    pub slots: Vec<SlotView>,
}

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

#[derive(Deserialize)]
struct At {
    at: Option<u64>,
}

/// Who holds the floor at an instant.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct FloorBody {
    pub session: u64,
    pub at: u64,
    pub occurrence: Option<u32>,
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

async fn floor_at(
    State(s): State<ApiState>,
    Path(id): Path<u64>,
    Query(q): Query<At>,
) -> Result<Json<FloorBody>, ApiError> {
    let t = q.at.unwrap_or_else(now);
    let store = s.store.clone();
    blocking(move || floor_of(&store, id, t)).await.map(Json)
}

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
