//! The node's HTTP front door. Every route the web client uses is in the OpenAPI document
//! served at `/openapi.json` (`node/openapi.json`).

use axum::extract::{DefaultBodyLimit, Query, State, WebSocketUpgrade};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use assembly_floor::clock;

use crate::reactions::REACTIONS;
use crate::ws;

/// Largest request body accepted (a SIWE message and its signature are well under 4 KB).
pub const MAX_BODY: usize = 16 * 1024;
use crate::error::{ApiError, AppJson};
use crate::state::identify;
pub use crate::state::{AppState, COOKIE_NAME};

/// The routes (the embedded indexer's read API is nested under `/chain`), and the web client
/// from `web_root` for every other path (a client-side route falls back to `index.html`).
pub fn router(
    state: AppState,
    chain: Router,
    web_root: &std::path::Path,
    hls: &std::path::Path,
) -> Router {
    let web = tower_http::services::ServeDir::new(web_root).fallback(
        tower_http::services::ServeFile::new(web_root.join("index.html")),
    );
    Router::new()
        .route("/api/v1/config", get(client_config))
        .route("/api/v1/auth/nonce", get(nonce))
        .route("/api/v1/auth/sign-in", post(sign_in))
        .route("/api/v1/auth/sign-out", post(sign_out))
        .route("/api/v1/me", get(me))
        .route("/api/v1/state", get(live_state))
        .route("/api/v1/live", get(live_socket))
        .route("/api/v1/reactions", get(reactions))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .merge(crate::whip::routes())
        .merge(crate::routes::archive::routes())
        .merge(crate::routes::hansard::routes())
        .with_state(state)
        .nest("/chain", chain)
        .nest_service("/hls", tower_http::services::ServeDir::new(hls))
        .fallback_service(web)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(cors())
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

#[derive(Serialize)]
struct NonceBody {
    nonce: String,
    domain: String,
    uri: String,
    chain_id: u64,
}

async fn nonce(State(s): State<AppState>) -> Json<NonceBody> {
    let c = s.auth.config();
    Json(NonceBody {
        nonce: s.auth.nonce(),
        domain: c.domain.clone(),
        uri: c.uri_prefix.clone(),
        chain_id: c.chain_id,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    message: String,
    signature: String,
}

#[derive(Serialize)]
struct Me {
    address: alloy::primitives::Address,
    expires_at: u64,
    role: assembly_indexer::roles::Role,
    stake: alloy::primitives::U256,
    token: Option<String>,
}

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
            metrics
                .sign_ins_ok
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ok
        }
        Err(e) => {
            metrics
                .sign_ins_refused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(error = %e, "sign-in refused");
            return ApiError::from(e).into_response();
        }
    };
    let standing = match s.roles.standing(identity.address).await {
        Ok(st) => st,
        Err(e) => return ApiError::Chain(e.to_string()).into_response(),
    };
    let max_age = identity.expires_at.saturating_sub(clock::now_s());
    let secure = if s.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE_NAME}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    );
    let body = Me {
        address: identity.address,
        expires_at: identity.expires_at,
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

async fn sign_out() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let expired = format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(SET_COOKIE, v);
    }
    response
}

async fn me(State(s): State<AppState>, headers: HeaderMap) -> Result<Json<Me>, ApiError> {
    let id = identify(&s, &headers, None)?.ok_or(ApiError::Unauthenticated)?;
    // Read from the chain's present state, not from sign-in time.
    let standing = s
        .roles
        .standing(id.address)
        .await
        .map_err(|e| ApiError::Chain(e.to_string()))?;
    Ok(Json(Me {
        address: id.address,
        expires_at: id.expires_at,
        role: standing.role,
        stake: standing.stake,
        token: None,
    }))
}

async fn live_state(State(s): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, "application/json")],
        s.hub.latest().to_string(),
    )
        .into_response()
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn live_socket(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let identity = identify(&s, &headers, q.token.as_deref())?;
    let hub = s.hub.clone();
    Ok(upgrade
        .max_message_size(ws::MAX_CLIENT_MESSAGE * 4)
        .on_upgrade(move |socket| ws::serve(socket, hub, identity)))
}

#[derive(Serialize)]
struct ReactionInfo {
    name: &'static str,
    emoji: &'static str,
}

async fn reactions() -> Json<Vec<ReactionInfo>> {
    Json(
        REACTIONS
            .iter()
            .map(|(name, emoji)| ReactionInfo { name, emoji })
            .collect(),
    )
}

async fn client_config(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json((*s.client_config).clone())
}

async fn openapi() -> Response {
    (
        [(CONTENT_TYPE, "application/json")],
        include_str!("../openapi.json"),
    )
        .into_response()
}

async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}
