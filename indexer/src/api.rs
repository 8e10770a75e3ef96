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

use alloy::primitives::{Address, U256};
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
use crate::store::{SessionRow, Stats, Store, StoreError, Title, Vote};
use crate::sync::{Change, Progress};

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The indexer's database, shared with the follower that writes it.
    pub store: Arc<Store>,
    /// Every change the follower applies, for `/v1/changes` to stream.
    pub changes: broadcast::Sender<Change>,
    /// The follower's latest head, finalized and chain-tip heights.
    pub progress: watch::Receiver<Progress>,
    /// The eligibility cache for `/v1/roles`; None when no role lookups are configured (the route answers 501).
    pub roles: Option<Arc<Roles>>,
}

/// API failures, each with its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No session has this id (404).
    #[error("no session {0}")]
    UnknownSession(u64),
    /// The session exists but has no occurrence with this number (404).
    #[error("session {0} has no occurrence {1}")]
    UnknownOccurrence(u64, u32),
    /// No governor proposal or poll with this id has been indexed (404).
    #[error("no proposal {0} has been indexed")]
    UnknownProposal(U256),
    /// A role was asked for but no role lookups are configured (501).
    #[error("role lookups are not configured")]
    NoRoles,
    /// A chain read failed (502); the RPC's message.
    #[error("chain: {0}")]
    Chain(String),
    /// The request's parameters make no sense (400); what is wrong with them.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The store could not be read (500).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Something else failed inside the server (500), e.g. a blocking task panicked.
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    /// The stable code clients branch on.
    fn code(&self) -> &'static str {
        match self {
            ApiError::UnknownSession(_) => "unknown_session",
            ApiError::UnknownOccurrence(..) => "unknown_occurrence",
            ApiError::UnknownProposal(_) => "unknown_proposal",
            ApiError::NoRoles => "no_roles",
            ApiError::Chain(_) => "chain_unavailable",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Store(_) | ApiError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::UnknownSession(_)
            | ApiError::UnknownOccurrence(..)
            | ApiError::UnknownProposal(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NoRoles => StatusCode::NOT_IMPLEMENTED,
            ApiError::Chain(_) => StatusCode::BAD_GATEWAY,
            ApiError::Store(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        // The store's and the RPC's own words stay in the log: they can name files, hosts
        // and an RPC URL with its key.
        let message = match &self {
            ApiError::Chain(_) => {
                tracing::warn!(error = %self, "chain read failed");
                "the chain could not be read just now; try again shortly".to_string()
            }
            ApiError::Store(_) | ApiError::Internal(_) => {
                tracing::error!(error = %self, "request failed");
                "the indexer could not complete this request; the cause is logged".to_string()
            }
            _ => self.to_string(),
        };
        let body = ChainError {
            error: self.code().to_string(),
            message,
        };
        (status, Json(body)).into_response()
    }
}

/// Every error answer of the indexer's API: the node's shape, `{"error": code, "message": text}`.
#[derive(Serialize, ToSchema)]
pub struct ChainError {
    /// A stable code clients branch on (`unknown_session`, `bad_request`, `internal`, ...).
    pub error: String,
    /// What went wrong, for people (never the store's or the RPC's own words).
    pub message: String,
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
        .routes(routes!(proposal))
        .routes(routes!(votes))
        .routes(routes!(nodes))
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
    /// The occurrence's number within its session, from 0.
    pub occurrence: u32,
    /// When it begins, unix seconds.
    pub start: u64,
    /// When it ends (exclusive), unix seconds.
    pub end: u64,
}

/// A session as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    /// The contract's session id.
    pub id: u64,
    /// What the session is for.
    pub kind: Kind,
    /// The governor proposal a debate is about, in decimal; null for an open floor.
    pub proposal_id: Option<String>,
    /// Who may ask for the floor.
    pub speakers: Speakers,
    /// The longest one speaker holds the floor, in seconds.
    pub slot_length: u64,
    /// The most entries one occurrence's queue holds at once.
    pub max_queue: u16,
    /// When the first occurrence begins, unix seconds.
    pub start: u64,
    /// How long each occurrence lasts, in seconds.
    pub duration: u64,
    /// Seconds between the starts of successive occurrences; 0 for a single occurrence.
    pub period: u64,
    /// How many occurrences the schedule has; 0 with a period means until cancelled.
    pub count: u32,
    /// Whether the floor is always in session (the duration is the contract's maximum).
    pub always_on: bool,
    /// When the session was cancelled, unix seconds; null if it was not.
    pub cancelled_at: Option<u64>,
    /// The session's occurrences that overlap the requested window (at most 10).
    pub occurrences: Vec<OccurrenceView>,
    /// Whether every block this view derives from is finalized (false: a reorg may still change it).
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
    /// The request's position in the occurrence's queue, from 0.
    pub index: u32,
    /// The wallet that asked for the floor.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub speaker: Address,
    /// Whether the speaker was an active orchestrator when it asked (else a delegator).
    pub orchestrator: bool,
    /// When the request was made, unix seconds.
    pub enqueued_at: u64,
    /// When the slot begins by the floor rule, unix seconds.
    pub start: u64,
    /// When the slot ends (exclusive), unix seconds; equal to `start` for a withdrawn request.
    pub end: u64,
    /// Whether the speaker withdrew before the slot began.
    pub withdrawn: bool,
    /// When the speaker yielded the floor, unix seconds; null if they did not.
    pub yielded_at: Option<u64>,
    /// Whether the blocks that made and changed this request are all finalized.
    #[serde(rename = "final")]
    pub is_final: bool,
}

/// An occurrence's queue and timeline.
#[derive(Serialize, ToSchema)]
pub struct OccurrenceBody {
    /// The session id.
    pub session: u64,
    /// The occurrence's number within the session, from 0.
    pub occurrence: u32,
    /// The occurrence's bounds and slot length.
    pub span: Span,
    /// Every request of the occurrence's queue, in queue order, with its slot.
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
    /// The session id asked about.
    pub session: u64,
    /// The instant asked about, unix seconds.
    pub at: u64,
    /// The occurrence in session at `at`; null when the session is not in session then.
    pub occurrence: Option<u32>,
    /// Who holds the floor at `at`; null when nobody does.
    #[schema(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub speaker: Option<Address>,
    /// The holder's position in the occurrence's queue; null when nobody holds the floor.
    pub index: Option<u32>,
    /// When the holder's slot began, unix seconds; null when nobody holds the floor.
    pub start: Option<u64>,
    /// When the holder's slot ends (exclusive), unix seconds; null when nobody holds the floor.
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

/// A registered node, and whether it is a member of the cluster now.
#[derive(Serialize, ToSchema)]
pub struct ClusterNode {
    /// The node as the registry's events have it.
    #[serde(flatten)]
    pub node: crate::nodes::RegisteredNode,
    /// Whether it is a member now: not suspended, and approved or its operator in Livepeer's
    /// active set (the registry's `isMember`). Absent when role lookups are not configured.
    pub member: Option<bool>,
}

/// The nodes of the node registry: every registered node with its URL, its current key and
/// whether it is a member now. What each node knows of the cluster, with no gossip.
#[utoipa::path(get, path = "/v1/nodes", tag = "chain",
    responses(
        (status = 200, description = "Registered nodes, by operator.", body = Vec<ClusterNode>),
        (status = 502, description = "The chain could not be read.", body = ChainError),
    ))]
async fn nodes(State(s): State<ApiState>) -> Result<Json<Vec<ClusterNode>>, ApiError> {
    let store = s.store.clone();
    let registered = blocking(move || Ok(store.nodes()?)).await?;
    let mut out = Vec::with_capacity(registered.len());
    for node in registered {
        let member = match &s.roles {
            Some(roles) => {
                let standing = roles
                    .standing(node.operator)
                    .await
                    .map_err(|e| ApiError::Chain(e.to_string()))?;
                Some(crate::nodes::is_member(
                    node.standing,
                    standing.role == crate::roles::Role::Orchestrator,
                ))
            }
            None => None,
        };
        out.push(ClusterNode { node, member });
    }
    Ok(Json(out))
}

/// Which of Livepeer's votes a proposal id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VoteKind {
    /// A LivepeerGovernor proposal: stake-weighted votes, for, against or abstain.
    Governor,
    /// A PollCreator poll (an LIP): yes or no; each voter's last vote counts.
    Poll,
}

/// One line of a tally.
#[derive(Serialize, ToSchema)]
pub struct TallyLine {
    /// `for`, `against`, `abstain` (governor) or `yes`, `no` (poll).
    pub choice: &'static str,
    /// How many voters chose it (for a poll, by their last vote).
    pub voters: u32,
    /// Their total voting weight in LPT base units (hex); null for a poll, whose votes carry
    /// no weight on chain.
    #[schema(value_type = Option<String>)]
    pub weight: Option<U256>,
}

/// The votes cast on a proposal, and their tally.
#[derive(Serialize, ToSchema)]
pub struct Votes {
    /// The governor's proposal id, or the poll's address as a number (decimal).
    pub proposal_id: String,
    /// Which kind of vote it is.
    pub kind: VoteKind,
    /// Every vote, in the order cast.
    pub votes: Vec<Vote>,
    /// The tally by choice.
    pub tally: Vec<TallyLine>,
    /// For a poll, each voter's standing in the current round as Livepeer counts stake (an
    /// orchestrator's total, a delegator's pending stake), which is what a poll's vote weighs
    /// while it is open (LIP-16 counts stake at the poll's end, and takes a delegator's own
    /// vote out of its orchestrator's, so these are not summed here). Null where the chain
    /// could not be read; empty for a governor proposal, whose votes carry their weight.
    pub standings: Vec<VoterStanding>,
}

/// A poll voter and their standing now.
#[derive(Serialize, ToSchema)]
pub struct VoterStanding {
    /// The voter.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub voter: Address,
    /// Their role and stake in the current round; null if the chain could not be read.
    pub standing: Option<Standing>,
}

/// What a proposal is, and what it is about.
#[derive(Serialize, ToSchema)]
pub struct Proposal {
    /// The governor's proposal id, or the poll's address as a number (decimal).
    pub proposal_id: String,
    /// Which kind of vote it is.
    pub kind: VoteKind,
    /// Its title: a governor proposal's first description line; a poll's LIP number and
    /// title once its text is resolved through the IPFS gateway, its CID until then.
    pub title: Title,
    /// Who proposed it (EIP-55): a governor proposal's proposer, or the account that created
    /// the poll.
    pub proposer: Option<String>,
    /// Its debate session, once one is opened.
    pub debate: Option<u64>,
    /// When its vote closes (unix seconds), as the debate's opening computed it from the
    /// chain (a governor's deadline in rounds, a poll's end block, at the current pace);
    /// `None` until a debate is opened.
    pub vote_closes_at: Option<u64>,
}

/// A proposal or poll the indexer has seen, with its title and debate.
#[utoipa::path(get, path = "/v1/proposals/{id}", tag = "chain",
    params(("id" = String, Path, description = "The governor's proposal id (decimal or 0x-hex), or the poll's address.")),
    responses(
        (status = 200, description = "The proposal.", body = Proposal),
        (status = 400, description = "Not a proposal id.", body = ChainError),
        (status = 404, description = "No such proposal or poll has been indexed.", body = ChainError),
    ))]
async fn proposal(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Proposal>, ApiError> {
    let proposal = proposal_id(&id)?;
    let store = s.store.clone();
    let (title, kind, debate, proposer) = blocking(move || {
        Ok((
            store.title(proposal)?,
            VoteKind::of(&store, proposal)?,
            store.debate_of(proposal)?,
            store.proposer(proposal)?,
        ))
    })
    .await?;
    let title = title.ok_or(ApiError::UnknownProposal(proposal))?;
    Ok(Json(Proposal {
        proposal_id: proposal.to_string(),
        kind,
        title,
        proposer: proposer.map(|p| p.to_checksum(None)),
        debate: debate.map(|(session, _)| session),
        vote_closes_at: debate.map(|(_, closes)| closes),
    }))
}

/// A proposal id as the API takes it: a poll's address, or a governor id in decimal or hex.
fn proposal_id(id: &str) -> Result<U256, ApiError> {
    match id.parse::<Address>() {
        Ok(poll) => Ok(U256::from_be_slice(poll.as_slice())),
        Err(_) => id
            .parse()
            .map_err(|_| ApiError::BadRequest("the proposal id is not a number".into())),
    }
}

impl VoteKind {
    /// The choices in the order of their `support` numbers: OpenZeppelin's counting for a
    /// governor, LIP-16's for a poll.
    pub fn choices(self) -> &'static [&'static str] {
        match self {
            VoteKind::Governor => &["against", "for", "abstain"],
            VoteKind::Poll => &["yes", "no"],
        }
    }

    /// The name of `support`, or None for a number outside the counting (a poll accepts
    /// any choice id and leaves its meaning to the poll's text).
    pub fn choice(self, support: u8) -> Option<&'static str> {
        self.choices().get(usize::from(support)).copied()
    }

    /// The kind of vote `proposal` names, as the store knows it.
    pub fn of(store: &Store, proposal: U256) -> Result<Self, StoreError> {
        Ok(if store.is_poll(proposal)? {
            VoteKind::Poll
        } else {
            VoteKind::Governor
        })
    }
}

/// The tally of `votes`: a governor's by weight; a poll's by each voter's last vote.
fn tally(kind: VoteKind, votes: &[Vote]) -> Vec<TallyLine> {
    let choices = kind.choices();
    let mut lines: Vec<TallyLine> = choices
        .iter()
        .map(|&choice| TallyLine {
            choice,
            voters: 0,
            weight: (kind == VoteKind::Governor).then_some(U256::ZERO),
        })
        .collect();
    let counted: Vec<&Vote> = match kind {
        VoteKind::Governor => votes.iter().collect(),
        VoteKind::Poll => {
            let mut last = std::collections::HashMap::new();
            for v in votes {
                last.insert(v.voter, v);
            }
            last.into_values().collect()
        }
    };
    for v in counted {
        // Choices outside the counting (a poll voter's choice 7) are recorded, not tallied.
        if let Some(line) = lines.get_mut(usize::from(v.support)) {
            line.voters += 1;
            if let (Some(total), Some(w)) = (line.weight.as_mut(), v.weight) {
                *total += w;
            }
        }
    }
    lines
}

/// The votes cast on a governor proposal (`VoteCast`, `VoteCastWithParams`) or a poll
/// (`Vote`), as indexed, with their tally.
#[utoipa::path(get, path = "/v1/proposals/{id}/votes", tag = "chain",
    params(("id" = String, Path, description = "The governor's proposal id (decimal or 0x-hex), or the poll's address.")),
    responses(
        (status = 200, description = "Votes and their tally.", body = Votes),
        (status = 400, description = "Not a proposal id.", body = ChainError),
    ))]
async fn votes(State(s): State<ApiState>, Path(id): Path<String>) -> Result<Json<Votes>, ApiError> {
    let proposal = proposal_id(&id)?;
    let store = s.store.clone();
    let (votes, kind) =
        blocking(move || Ok((store.votes(proposal)?, VoteKind::of(&store, proposal)?))).await?;
    let mut standings = Vec::new();
    if let (VoteKind::Poll, Some(roles)) = (kind, s.roles.as_ref()) {
        // Only the poll's own voters are looked up (the chain bounds them), each through the
        // role cache.
        let mut voters: Vec<Address> = votes.iter().map(|v| v.voter).collect();
        voters.sort();
        voters.dedup();
        for voter in voters {
            standings.push(VoterStanding {
                voter,
                standing: roles.standing(voter).await.ok(),
            });
        }
    }
    Ok(Json(Votes {
        proposal_id: proposal.to_string(),
        kind,
        tally: tally(kind, &votes),
        votes,
        standings,
    }))
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
