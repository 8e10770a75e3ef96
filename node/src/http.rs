//! The node's HTTP front door. Every route is declared once, with its documentation
//! (`#[utoipa::path]`), in [`api`]: the router and the OpenAPI document served at
//! `/openapi.json` (`node/openapi.json`, see [`crate::openapi`]) are both built from it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, Request, State, WebSocketUpgrade};
use axum::http::header::{
    AUTHORIZATION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, SET_COOKIE,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use tower::ServiceExt;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use assembly_floor::clock;

use crate::live::StateMessage;
use crate::state::{ClientConfig, ReactionInfo};
use crate::ws;

/// Largest request body accepted (a SIWE message and its signature are well under 4 KB).
pub const MAX_BODY: usize = 16 * 1024;
use crate::error::{failure, ApiError, AppJson, ErrorBody};
use crate::state::{identify, Page};
pub use crate::state::{AppState, COOKIE_NAME};

/// The node's own routes, each declared once with its documentation; the embedded indexer's
/// are nested under `/chain` by [`router`] (and by [`crate::openapi::document`]).
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(client_config))
        .routes(routes!(nonce))
        .routes(routes!(sign_in))
        .routes(routes!(sign_out))
        .routes(routes!(renew))
        .routes(routes!(me))
        .routes(routes!(live_state))
        .routes(routes!(schedule_ics))
        .routes(routes!(live_socket))
        .routes(routes!(reactions))
        .routes(routes!(openapi))
        .routes(routes!(metrics))
        .routes(routes!(healthz))
        .merge(crate::whip::routes())
        .merge(crate::routes::archive::routes())
        .merge(crate::routes::corrections::routes())
        .merge(crate::routes::cluster::routes())
        .merge(crate::routes::relay::routes())
        .merge(crate::routes::hansard::routes())
        .merge(crate::routes::participation::routes())
        .merge(crate::routes::names::routes())
        .merge(crate::routes::feeds::routes())
        .merge(crate::routes::searches::routes())
        .merge(crate::routes::webhooks::routes())
}

/// The routes (the embedded indexer's read API is nested under `/chain`), the HLS files
/// under `/hls`, and the web client from `web_root` for every other path (a client-side
/// route falls back to `index.html`). Only the last two are served outside [`api`].
pub fn router(
    state: AppState,
    chain: assembly_indexer::api::ApiState,
    web_root: &std::path::Path,
    hls: &std::path::Path,
) -> Router {
    let web = tower_http::services::ServeDir::new(web_root).fallback(
        tower_http::services::ServeFile::new(web_root.join("index.html")),
    );
    // An unknown API path is an API error, not the web client's page with a 200.
    let fallback = move |request: Request| {
        let web = web.clone();
        async move {
            let path = request.uri().path();
            if path.starts_with("/api/") || path.starts_with("/chain/") {
                return failure(StatusCode::NOT_FOUND, "not_found", "no such route");
            }
            match web.oneshot(request).await {
                Ok(r) => r.into_response(),
                Err(never) => match never {},
            }
        }
    };
    let limits = state.limits.clone();
    let policy = Policy {
        rpc_url: state.client_config.rpc_url.clone(),
        cluster: state.cluster.clone(),
    };
    let timeout = Duration::from_secs(limits.config().request_timeout_secs.max(1));
    let (routes, _) = api()
        .nest("/chain", assembly_indexer::api::routes(chain))
        .split_for_parts();
    routes
        .with_state(state)
        .nest_service("/hls", tower_http::services::ServeDir::new(hls))
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            limits,
            crate::limits::enforce,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(cors())
        .layer(axum::middleware::from_fn_with_state(policy, content_policy))
        .layer(header(X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(X_FRAME_OPTIONS, "SAMEORIGIN"))
        .layer(header(REFERRER_POLICY, "strict-origin-when-cross-origin"))
}

fn header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// What the Content-Security-Policy is made from.
#[derive(Clone)]
struct Policy {
    rpc_url: String,
    cluster: Arc<crate::cluster::Cluster>,
}

/// Sets the Content-Security-Policy on answers that have none, naming the cluster's members
/// as they are now (a listener may be sent to one, or choose one).
async fn content_policy(
    State(p): State<Policy>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let mut r = next.run(req).await;
    if !r.headers().contains_key(CONTENT_SECURITY_POLICY) {
        let origins = p.cluster.known_siblings();
        r.headers_mut()
            .insert(CONTENT_SECURITY_POLICY, csp(&p.rpc_url, &origins));
    }
    r
}

/// The Content-Security-Policy on every answer: the web client runs only its own scripts, is
/// framed only by itself, and connects only to this node, the cluster's other members
/// (`members`: a listener may be sent to one, or choose one) and the public RPC it offers
/// wallets (`rpc_url`). Styles may be inline: the live view's shadow root carries its own
/// `<style>`.
fn csp(rpc_url: &str, members: &[String]) -> HeaderValue {
    let origin = |raw: &str, schemes: &[&str]| {
        url::Url::parse(raw)
            .ok()
            .filter(|u| schemes.contains(&u.scheme()))
            .map(|u| format!(" {}", u.origin().ascii_serialization()))
            .unwrap_or_default()
    };
    let rpc = origin(rpc_url, &["http", "https", "ws", "wss"]);
    // A registered URL is checked on chain (http(s), printable, no spaces): an origin, or
    // nothing, never text that could end the directive.
    let members: String = members
        .iter()
        .map(|m| origin(m, &["http", "https"]))
        .collect();
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: https:; media-src 'self' blob:; connect-src 'self'{rpc}{members}; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
    );
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"))
}

/// Other sites may embed the live view (`/embed.js`): reads, WHEP and WebSockets from any
/// origin, never with credentials (the session cookie is `SameSite=Strict`; tokens are
/// explicit bearer headers).
fn cors() -> tower_http::cors::CorsLayer {
    use axum::http::header::{LINK, LOCATION};
    use axum::http::Method;
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers([CONTENT_TYPE, AUTHORIZATION])
        .expose_headers([LOCATION, LINK])
}

/// What a SIWE message must carry.
#[derive(Serialize, ToSchema)]
#[schema(as = Nonce)]
struct NonceBody {
    /// Single-use.
    nonce: String,
    domain: String,
    /// The URI prefix.
    uri: String,
    chain_id: u64,
}

/// A single-use nonce, with the domain, URI prefix and chain id a SIWE message must carry.
#[utoipa::path(get, path = "/api/v1/auth/nonce", tag = "auth",
    responses((status = 200, description = "Nonce", body = NonceBody)))]
async fn nonce(State(s): State<AppState>) -> Json<NonceBody> {
    let c = s.auth.config();
    Json(NonceBody {
        nonce: s.auth.nonce(),
        domain: c.domain.clone(),
        uri: c.uri_prefix.clone(),
        chain_id: c.chain_id,
    })
}

/// A signed EIP-4361 message.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignIn {
    message: String,
    /// 0x-hex
    signature: String,
}

/// Who a session belongs to.
#[derive(Serialize, ToSchema)]
struct Me {
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    address: alloy::primitives::Address,
    /// When this token ends, Unix seconds: renew before then (`POST /api/v1/auth/renew`).
    expires_at: u64,
    /// When the sign-in ends however often it is renewed, Unix seconds.
    session_end: u64,
    role: assembly_indexer::roles::Role,
    /// Stake in LPT base units (hex): an orchestrator's total, a delegator's pending stake.
    #[schema(value_type = String)]
    stake: alloy::primitives::U256,
    /// Bearer token (sign-in only).
    token: Option<String>,
}

/// Verify a signed EIP-4361 message (EOA or EIP-1271 contract wallet) and open a session.
#[utoipa::path(post, path = "/api/v1/auth/sign-in", tag = "auth",
    request_body = SignIn,
    responses(
        (status = 200, description = "Signed in; sets the assembly_session cookie.", body = Me),
        (status = 400, description = "Malformed message, wrong domain/URI/chain, expired, unknown or reused nonce, wrong signer.", body = ErrorBody),
        (status = 413, description = "Body over 16 KiB.", body = ErrorBody),
        (status = 415, description = "Not JSON.", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape.", body = ErrorBody),
        (status = 502, description = "The chain could not be asked about a contract wallet.", body = ErrorBody),
    ))]
async fn sign_in(State(s): State<AppState>, body: Result<AppJson<SignIn>, ApiError>) -> Response {
    let AppJson(body) = match body {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let result = s
        .auth
        .sign_in(&body.message, &body.signature, chrono::Utc::now())
        .await;
    let metrics = &s.metrics;
    let (token, identity) = match result {
        Ok(ok) => {
            metrics.sign_ins_ok.inc();
            ok
        }
        Err(e) => {
            metrics.sign_ins_refused.inc();
            tracing::info!(error = %e, "sign-in refused");
            return ApiError::from(e).into_response();
        }
    };
    match standing_of(&s, identity.address).await {
        Ok(standing) => with_session(&s, identity, standing, token),
        Err(e) => e.into_response(),
    }
}

/// `address`'s role and stake as chain state gives them now.
async fn standing_of(
    s: &AppState,
    address: alloy::primitives::Address,
) -> Result<assembly_indexer::roles::Standing, ApiError> {
    s.roles
        .standing(address)
        .await
        .map_err(|e| ApiError::Chain(e.to_string()))
}

/// The `Me` answer with a fresh token, in the body and as the session cookie.
fn with_session(
    s: &AppState,
    identity: crate::auth::Identity,
    standing: assembly_indexer::roles::Standing,
    token: String,
) -> Response {
    let max_age = identity.expires_at.saturating_sub(clock::now_s());
    let secure = if s.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE_NAME}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    );
    let body = Me {
        address: identity.address,
        expires_at: identity.expires_at,
        session_end: identity.session_end,
        role: standing.role,
        stake: standing.stake,
        token: Some(token),
    };
    let mut response = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, v);
    }
    response
}

/// Renew the session: a new token (and cookie) good for another token lifetime, never past
/// the sign-in's end. Clients call it while in use.
#[utoipa::path(post, path = "/api/v1/auth/renew", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Renewed; sets the assembly_session cookie.", body = Me),
        (status = 401, description = "No valid session (expired, signed out, or past its end).", body = ErrorBody),
        (status = 502, description = "The chain could not be read.", body = ErrorBody),
    ))]
async fn renew(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let id = identify(&s, &headers, None)?.ok_or(ApiError::Unauthenticated)?;
    let standing = standing_of(&s, id.address).await?;
    let (token, renewed) = s.auth.renew(&id, clock::now_s());
    Ok(with_session(&s, renewed, standing, token))
}

/// Sign out: the session is revoked on this node (every token of it, renewed or not) and
/// the cookie cleared.
#[utoipa::path(post, path = "/api/v1/auth/sign-out", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Signed out.")))]
async fn sign_out(State(s): State<AppState>, headers: HeaderMap) -> Response {
    // An invalid or absent token has nothing to revoke; the cookie is cleared all the same.
    if let Ok(Some(id)) = identify(&s, &headers, None) {
        s.auth.revoke(&id, clock::now_s());
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let expired = format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(SET_COOKIE, v);
    }
    response
}

/// Who the session belongs to, with the role and stake chain state gives them now.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Identity", body = Me),
        (status = 401, description = "No valid session.", body = ErrorBody),
        (status = 502, description = "The chain could not be read.", body = ErrorBody),
    ))]
async fn me(State(s): State<AppState>, headers: HeaderMap) -> Result<Json<Me>, ApiError> {
    let id = identify(&s, &headers, None)?.ok_or(ApiError::Unauthenticated)?;
    // Read from the chain's present state, not from sign-in time.
    let standing = standing_of(&s, id.address).await?;
    Ok(Json(Me {
        address: id.address,
        expires_at: id.expires_at,
        session_end: id.session_end,
        role: standing.role,
        stake: standing.stake,
        token: None,
    }))
}

/// The live state, as last pushed.
#[utoipa::path(get, path = "/api/v1/state", tag = "live",
    responses((status = 200, description = "State", body = StateMessage)))]
async fn live_state(State(s): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, "application/json")],
        s.hub.latest().to_string(),
    )
        .into_response()
}

/// The schedule as an iCalendar feed (RFC 5545) for any calendar application: each upcoming
/// occurrence of a session in the next 14 days and, for a debate, the moment its vote closes.
#[utoipa::path(get, path = "/api/v1/schedule.ics", tag = "live",
    responses((status = 200, description = "The schedule (`text/calendar`).", content_type = "text/calendar", body = String)))]
async fn schedule_ics(State(s): State<AppState>) -> Response {
    let upcoming = s.hub.state().map(|st| st.upcoming).unwrap_or_default();
    let body = crate::calendar::ics(
        &upcoming,
        s.origins.own(),
        &s.client_config.network,
        clock::now_ms() / 1000,
    );
    (
        [
            (CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "max-age=60"),
        ],
        body,
    )
        .into_response()
}

/// A session token for clients that cannot set headers on a WebSocket.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TokenQuery {
    /// The session token.
    token: Option<String>,
}

/// WebSocket. Server sends `state`, `reactions` (aggregated every 250 ms: counts and stake
/// per reaction), `error` and `pong` messages.
///
/// Clients send {"type":"react","reaction":NAME}, {"type":"refresh"} or {"type":"ping"}.
/// Observers connect without a token; pass the session as a cookie, bearer header or
/// ?token=. The messages are the `LiveMessage` (server) and `ClientMessage` schemas.
#[utoipa::path(get, path = "/api/v1/live", tag = "live", params(TokenQuery),
    responses(
        (status = 101, description = "Switching protocols."),
        (status = 401, description = "A token was given and is invalid.", body = ErrorBody),
        (status = 403, description = "The page's origin may not open the socket.", body = ErrorBody),
        (status = 429, description = "Too many sockets from this address, or in all.", body = ErrorBody),
    ))]
async fn live_socket(
    State(s): State<AppState>,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Query(q): Query<TokenQuery>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let identity = match s.origins.judge(&headers) {
        Page::Own => identify(&s, &headers, q.token.as_deref())?,
        Page::Embedding => None,
        Page::Refused => {
            s.metrics.ws_refused.inc();
            return Err(ApiError::ForbiddenOrigin);
        }
    };
    let ip = s.limits.client_ip(peer.map(|p| p.0 .0), &headers);
    // Without a peer address (a router driven in-process) every socket counts as one place.
    let held = s
        .limits
        .sockets
        .hold(ip.unwrap_or(IpAddr::from([0, 0, 0, 0])))
        .ok_or_else(|| {
            s.metrics.ws_refused.inc();
            ApiError::TooManySockets
        })?;
    // A frame is refused at its header, before its payload is read: nobody makes the node
    // buffer more than a message's worth.
    let bounds = s.limits.config();
    let (message, buffer) = (bounds.socket_message_bytes, bounds.socket_buffer_bytes);
    Ok(upgrade
        .max_frame_size(message)
        .max_message_size(message)
        .write_buffer_size(0)
        .max_write_buffer_size(buffer.max(1))
        .on_upgrade(move |socket| ws::serve(socket, s, identity, ip, held)))
}

/// The fixed reaction set.
#[utoipa::path(get, path = "/api/v1/reactions", tag = "live",
    responses((status = 200, description = "Reactions", body = Vec<ReactionInfo>)))]
async fn reactions() -> Json<Vec<ReactionInfo>> {
    Json(ReactionInfo::all())
}

/// What the web client needs: chain id, contract addresses, a public RPC, the reaction set.
#[utoipa::path(get, path = "/api/v1/config", tag = "live",
    responses((status = 200, description = "Client configuration.", body = ClientConfig)))]
async fn client_config(State(s): State<AppState>) -> Json<ClientConfig> {
    Json((*s.client_config).clone())
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operator",
    responses((status = 200, description = "OpenAPI 3.1.", content_type = "application/json", body = Object)))]
async fn openapi() -> Response {
    (
        [(CONTENT_TYPE, "application/json")],
        include_str!("../openapi.json"),
    )
        .into_response()
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operator",
    responses((status = 200, description = "Text exposition format.", content_type = "text/plain", body = String)))]
async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "operator",
    responses((status = 200, description = "ok", content_type = "text/plain", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}
