//! WHIP (RFC 9725) for speakers and WHEP for listeners: an SDP offer in a `POST`, the answer
//! and a resource URL back, `DELETE` to leave. Any standard client works (a browser, OBS,
//! GStreamer's whipsink, ffmpeg). The node is ICE-lite and puts every candidate in its
//! answer, so it takes no trickled candidates (`PATCH` answers 405).
//!
//! - `POST /api/v1/sessions/{session}/whip` — publish; `{session}` may be `current`.
//! - `POST /api/v1/sessions/{session}/whep` — listen.
//! - `DELETE /api/v1/media/{resource}` — leave.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::header::{ALLOW, CONTENT_TYPE, LINK, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use assembly_floor::clock;
use assembly_media::sdp::{self, Intent, SdpError};
use assembly_media::{IceServer, MediaError, PeerRole};

use assembly_media::Refusal;

use crate::error::failure;
use crate::error::{ApiError, ErrorBody};
use crate::live::Hub;
use crate::state::{identify, AppState};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

/// The WHIP/WHEP routes, each declared with its documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    let offer_limit = DefaultBodyLimit::max(sdp::MAX_OFFER);
    OpenApiRouter::new()
        .routes(routes!(publish, whip_options).layer(offer_limit))
        .routes(routes!(listen, whep_options).layer(offer_limit))
        .routes(routes!(leave, no_trickle, media_options))
}

/// Why a WHIP/WHEP request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WhipError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("send the offer as application/sdp")]
    ContentType,
    // The path segment as given, escaped: it reaches the log.
    #[error("session {0:?} is not in progress")]
    NoSession(String),
    #[error("listening needs a signed-in wallet on this node")]
    ListenersSignIn,
    #[error("relay refused: {0}")]
    Relay(crate::cluster::token::TokenError),
    // RFC 9725 §4.5: this node is full; the same request at a sibling member.
    #[error("this node is full; try {0}")]
    Elsewhere(String),
}

impl WhipError {
    /// The status, the stable code, and the floor's reason for a 403.
    fn classify(&self) -> (StatusCode, &'static str, Option<Refusal>) {
        use StatusCode as S;
        match self {
            WhipError::Api(e) => (e.status(), e.code(), None),
            WhipError::ContentType => (S::UNSUPPORTED_MEDIA_TYPE, "not_sdp", None),
            WhipError::NoSession(_) => (S::NOT_FOUND, "no_session", None),
            WhipError::ListenersSignIn => (S::UNAUTHORIZED, "sign_in_required", None),
            WhipError::Relay(e) => (S::FORBIDDEN, e.code(), None),
            WhipError::Elsewhere(_) => (S::TEMPORARY_REDIRECT, "elsewhere", None),
            WhipError::Media(m) => match m {
                MediaError::Sdp(SdpError::TooLarge) => {
                    (S::PAYLOAD_TOO_LARGE, "offer_too_large", None)
                }
                MediaError::Sdp(SdpError::TooManySections) => {
                    (S::BAD_REQUEST, "too_many_sections", None)
                }
                MediaError::Sdp(_) | MediaError::Negotiation(_) => {
                    (S::BAD_REQUEST, "bad_offer", None)
                }
                MediaError::Refused(r) => (S::FORBIDDEN, r.code(), Some(*r)),
                MediaError::NotYours => (S::FORBIDDEN, "not_yours", None),
                MediaError::NotFound => (S::NOT_FOUND, "not_found", None),
                MediaError::Ended(_) => (S::GONE, "ended", None),
                MediaError::Full(_) => (S::SERVICE_UNAVAILABLE, "full", None),
                MediaError::Busy => (S::TOO_MANY_REQUESTS, "busy", None),
                MediaError::TooManyFromAddress(_) => {
                    (S::TOO_MANY_REQUESTS, "too_many_listeners", None)
                }
                MediaError::Stopped | MediaError::Setup(_) | MediaError::Io(_) => {
                    (S::INTERNAL_SERVER_ERROR, "internal", None)
                }
            },
        }
    }
}

impl IntoResponse for WhipError {
    fn into_response(self) -> Response {
        if let WhipError::Elsewhere(to) = &self {
            let mut r = StatusCode::TEMPORARY_REDIRECT.into_response();
            if let Ok(v) = HeaderValue::from_str(to) {
                r.headers_mut().insert(LOCATION, v);
            }
            r.headers_mut().insert(
                HeaderName::from_static("access-control-expose-headers"),
                HeaderValue::from_static("Location"),
            );
            return r;
        }
        let (status, code, reason) = self.classify();
        let mut response = match (self, reason) {
            (WhipError::Api(e), _) => e.into_response(),
            (e, _) if status.is_server_error() => ApiError::internal(e).into_response(),
            // A refusal by the floor also names its reason, as clients read it.
            (e, Some(r)) => (
                status,
                Json(ErrorBody {
                    error: code,
                    message: &e.to_string(),
                    reason: Some(r),
                }),
            )
                .into_response(),
            (e, None) => failure(status, code, e),
        };
        let h = response.headers_mut();
        match status {
            StatusCode::TOO_MANY_REQUESTS => {
                h.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                h.insert(RETRY_AFTER, HeaderValue::from_static("5"));
            }
            StatusCode::UNAUTHORIZED => {
                h.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

/// `{session}`: a number, or `current` for the session the live state shows first.
pub(crate) fn session_of(hub: &Hub, raw: &str) -> Result<u64, WhipError> {
    let id = match raw {
        "current" => hub.state().and_then(|s| s.current),
        n => n.parse().ok(),
    };
    id.ok_or_else(|| WhipError::NoSession(raw.to_string()))
}

/// A body axum would not read: too large (413) or cut short (400), as JSON like the rest.
pub(crate) fn rejected(e: BytesRejection) -> WhipError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        MediaError::Sdp(SdpError::TooLarge).into()
    } else {
        MediaError::Sdp(SdpError::Malformed(e.body_text())).into()
    }
}

pub(crate) fn offer_text(headers: &HeaderMap, body: &Bytes) -> Result<String, WhipError> {
    let is_sdp = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/sdp"));
    if !is_sdp {
        return Err(WhipError::ContentType);
    }
    String::from_utf8(body.to_vec())
        .map_err(|_| MediaError::Sdp(SdpError::Malformed("not UTF-8".into())).into())
}

/// 201 Created with the answer, the resource, and the ICE servers.
pub(crate) fn created(resource: &str, answer: String, ice: &[IceServer]) -> Response {
    let mut r = (StatusCode::CREATED, answer).into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/sdp"));
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/media/{resource}")) {
        h.insert(LOCATION, v);
    }
    for link in ice_links(ice) {
        if let Ok(v) = HeaderValue::from_str(&link) {
            h.append(LINK, v);
        }
    }
    h.insert(
        HeaderName::from_static("access-control-expose-headers"),
        HeaderValue::from_static("Location, Link"),
    );
    r
}

/// RFC 9725 §4.6: one `Link` per STUN/TURN URL.
pub fn ice_links(ice: &[IceServer]) -> Vec<String> {
    let mut out = Vec::new();
    for s in ice {
        for url in &s.urls {
            let mut link = format!("<{url}>; rel=\"ice-server\"");
            if let (Some(u), Some(c)) = (&s.username, &s.credential) {
                link.push_str(&format!(
                    "; username=\"{u}\"; credential=\"{c}\"; credential-type=\"password\""
                ));
            }
            out.push(link);
        }
    }
    out
}

/// Counts the outcome, logs a refusal, and renders either.
pub(crate) fn respond(
    s: &AppState,
    what: &str,
    session: &str,
    r: Result<Response, WhipError>,
) -> Response {
    let m = &s.metrics;
    match r {
        Ok(r) => {
            m.media_offers_ok.inc();
            r
        }
        Err(e) => {
            m.media_offers_refused.inc();
            tracing::info!(session, error = %e, "{what} refused");
            e.into_response()
        }
    }
}

/// WHIP (RFC 9725): publish Opus audio.
///
/// Admitted only for the floor holder or the next in the queue, with a role on chain that
/// may speak in this session; audio is forwarded only inside the holder's slot.
#[utoipa::path(post, path = "/api/v1/sessions/{session}/whip", tag = "media",
    params(("session" = String, Path, description = "A session id, or `current`.")),
    security(("bearer" = []), ("cookie" = [])),
    request_body(content = String, content_type = "application/sdp", description = "The SDP offer (at most 32 KB)."),
    responses(
        (status = 201, description = "Answered. The body is the SDP answer (every candidate included; ICE-lite, one UDP port).",
            content_type = "application/sdp", body = String,
            headers(
                ("Location" = String, description = "The resource to DELETE when leaving."),
                ("Link" = String, description = "STUN/TURN servers, rel=\"ice-server\" (RFC 9725 §4.6)."),
            )),
        (status = 400, description = "Malformed SDP, no audio section, no Opus, or the wrong direction.", body = ErrorBody),
        (status = 401, description = "No valid session token.", body = ErrorBody),
        (status = 403, description = "Refused by the floor: `reason` is one of session_not_live, not_queued, not_next, not_eligible.", body = ErrorBody),
        (status = 404, description = "The session is not in progress.", body = ErrorBody),
        (status = 413, description = "Offer larger than 32 KB.", body = ErrorBody),
        (status = 415, description = "Not application/sdp.", body = ErrorBody),
        (status = 429, description = "Too many new speaker sessions (a budget apart from listeners'); Retry-After says when.", body = ErrorBody),
        (status = 502, description = "The chain could not be read.", body = ErrorBody),
        (status = 307, description = "This node is at its publisher limit: the same request at a sibling member of the cluster (RFC 9725 §4.5), named by `Location`."),
        (status = 503, description = "At the publisher limit, with no sibling to send the speaker to.", body = ErrorBody),
    ))]
async fn publish(
    State(s): State<AppState>,
    Path(session): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let r = match body {
        Ok(body) => publish_inner(&s, &session, &headers, &body).await,
        Err(e) => Err(rejected(e)),
    };
    respond(&s, "WHIP", &session, r)
}

async fn publish_inner(
    s: &AppState,
    session: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, WhipError> {
    let text = offer_text(headers, body)?;
    let who = identify(s, headers, None)?.ok_or(ApiError::Unauthenticated)?;
    let session = session_of(&s.hub, session)?;
    let standing = s
        .roles
        .standing(who.address)
        .await
        .map_err(|e| ApiError::Chain(e.to_string()))?;
    s.media
        .gate()
        .admit(session, who.address, standing.role, clock::now_ms())
        .map_err(MediaError::Refused)?;
    let offer = sdp::check(&text, Intent::Publish).map_err(MediaError::from)?;
    let (resource, answer) = s
        .media
        .open(
            session,
            PeerRole::Publisher(who.address),
            Some(who.address),
            None,
            offer,
        )
        .map_err(|e| elsewhere(s, e, session, "whip"))?;
    tracing::info!(session, address = %who.address, resource, "publisher connected");
    Ok(created(&resource, answer, &s.media.config().ice_servers))
}

/// WHEP: listen to the session's floor on one stable audio track.
///
/// Open to observers when the node allows public listening.
#[utoipa::path(post, path = "/api/v1/sessions/{session}/whep", tag = "media",
    params(("session" = String, Path, description = "A session id, or `current`.")),
    request_body(content = String, content_type = "application/sdp", description = "The SDP offer (at most 32 KB)."),
    responses(
        (status = 201, description = "Answered. The body is the SDP answer (every candidate included; ICE-lite, one UDP port).",
            content_type = "application/sdp", body = String,
            headers(
                ("Location" = String, description = "The resource to DELETE when leaving."),
                ("Link" = String, description = "STUN/TURN servers, rel=\"ice-server\" (RFC 9725 §4.6)."),
            )),
        (status = 400, description = "Malformed SDP, no audio section, no Opus, or the wrong direction.", body = ErrorBody),
        (status = 401, description = "This node requires a signed-in wallet to listen.", body = ErrorBody),
        (status = 404, description = "The session is not in progress.", body = ErrorBody),
        (status = 413, description = "Offer larger than 32 KB.", body = ErrorBody),
        (status = 415, description = "Not application/sdp.", body = ErrorBody),
        (status = 429, description = "Too many new listeners in all, or this address made too many offers or holds too many listeners; Retry-After says when.", body = ErrorBody),
        (status = 307, description = "This node is at its listener limit: the same request at a sibling member of the cluster (RFC 9725 §4.5), named by `Location`."),
        (status = 503, description = "At the listener limit, with no sibling to send the listener to.", body = ErrorBody),
    ))]
async fn listen(
    State(s): State<AppState>,
    Path(session): Path<String>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let from = s.limits.client_ip(peer.map(|p| p.0 .0), &headers);
    let r = match body {
        Ok(body) => listen_inner(&s, &session, &headers, from, &body).await,
        Err(e) => Err(rejected(e)),
    };
    respond(&s, "WHEP", &session, r)
}

async fn listen_inner(
    s: &AppState,
    session: &str,
    headers: &HeaderMap,
    from: Option<IpAddr>,
    body: &Bytes,
) -> Result<Response, WhipError> {
    let text = offer_text(headers, body)?;
    let who = identify(s, headers, None)?;
    if who.is_none() && !s.media.config().public_listening {
        return Err(WhipError::ListenersSignIn);
    }
    let id = session_of(&s.hub, session)?;
    if !s.media.gate().is_live(id) {
        return Err(WhipError::NoSession(session.to_string()));
    }
    let offer = sdp::check(&text, Intent::Subscribe).map_err(MediaError::from)?;
    let (resource, answer) = s
        .media
        .open(id, PeerRole::Listener, None, from, offer)
        .map_err(|e| elsewhere(s, e, id, "whep"))?;
    Ok(created(&resource, answer, &s.media.config().ice_servers))
}

/// A node at its limit sends the client to a sibling member (RFC 9725 §4.5), the one whose
/// turn it is among them, so a full node's overflow spreads; alone, it answers 503.
fn elsewhere(s: &AppState, e: MediaError, session: u64, what: &str) -> WhipError {
    if !matches!(e, MediaError::Full(_)) {
        return e.into();
    }
    let siblings = s.cluster.known_siblings();
    if siblings.is_empty() {
        return e.into();
    }
    let turn = s.cluster.next_turn() % siblings.len();
    let url = siblings[turn].trim_end_matches('/');
    s.metrics.redirected.inc();
    WhipError::Elsewhere(format!("{url}/api/v1/sessions/{session}/{what}"))
}

/// Leave: ends a WHIP or WHEP session. A publisher's only with its owner's token.
#[utoipa::path(delete, path = "/api/v1/media/{resource}", tag = "media",
    params(("resource" = String, Path, description = "The resource named by `Location`.")),
    responses(
        (status = 200, description = "Ended."),
        (status = 401, description = "An invalid session token.", body = ErrorBody),
        (status = 403, description = "Someone else's publisher session.", body = ErrorBody),
        (status = 404, description = "No such media session.", body = ErrorBody),
        (status = 410, description = "The session had already ended (`ended`); the message says why: its turn on the floor was over, it never connected, its handshake failed, it fell silent.", body = ErrorBody),
    ))]
async fn leave(
    State(s): State<AppState>,
    Path(resource): Path<String>,
    headers: HeaderMap,
) -> Response {
    let who = match identify(&s, &headers, None) {
        Ok(w) => w.map(|w| w.address),
        Err(e) => return WhipError::from(e).into_response(),
    };
    match s.media.close(&resource, who) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => WhipError::from(e).into_response(),
    }
}

/// Trickle ICE and ICE restarts are not supported (the node is ICE-lite and answers with
/// every candidate).
#[utoipa::path(patch, path = "/api/v1/media/{resource}", tag = "media",
    params(("resource" = String, Path, description = "The resource named by `Location`.")),
    responses((status = 405, description = "Not supported.", body = ErrorBody)))]
async fn no_trickle() -> Response {
    let mut r = failure(
        StatusCode::METHOD_NOT_ALLOWED,
        "no_trickle",
        "this node is ICE-lite and lists every candidate in its answer; trickle ICE and ICE restarts are not supported",
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static("DELETE, OPTIONS"));
    r
}

/// Accept-Post: application/sdp.
#[utoipa::path(options, path = "/api/v1/sessions/{session}/whip", tag = "media",
    params(("session" = String, Path, description = "A session id, or `current`.")),
    responses((status = 204, description = "Allowed methods.")))]
async fn whip_options() -> Response {
    options()
}

/// Accept-Post: application/sdp.
#[utoipa::path(options, path = "/api/v1/sessions/{session}/whep", tag = "media",
    params(("session" = String, Path, description = "A session id, or `current`.")),
    responses((status = 204, description = "Allowed methods.")))]
async fn whep_options() -> Response {
    options()
}

/// The methods a media resource takes.
#[utoipa::path(options, path = "/api/v1/media/{resource}", tag = "media",
    params(("resource" = String, Path, description = "The resource named by `Location`.")),
    responses((status = 204, description = "Allowed methods.")))]
async fn media_options() -> Response {
    options()
}

fn options() -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (ALLOW, "POST, DELETE, OPTIONS"),
            (HeaderName::from_static("accept-post"), "application/sdp"),
        ],
    )
        .into_response()
}
