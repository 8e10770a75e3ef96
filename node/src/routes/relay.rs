//! `POST /api/v1/sessions/{session}/relay`: WHIP from a sibling node of the cluster, which
//! pushes the program it hears from a speaker connected to it. The sibling proves itself
//! with a node token ([`crate::cluster::token`]) signed by its registered key; the audio is
//! then judged by this node's own gate ([`assembly_media::Gate::relayed`]): heard only
//! while someone holds the floor, as theirs.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use assembly_media::sdp::{self, Intent};
use assembly_media::{MediaError, PeerRole};

use crate::cluster::token::TokenError;
use crate::cluster::SiblingRefused;
use crate::error::{ApiError, ErrorBody};
use crate::state::{bearer, AppState};
use crate::whip::{created, offer_text, rejected, respond, WhipError};

/// The relay route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(relay).layer(DefaultBodyLimit::max(sdp::MAX_OFFER)))
}

/// WHIP from a sibling node: the program of `session` as its speaker's node hears it.
///
/// For member nodes only, each request with a fresh token of its own. Leave by `DELETE` of
/// the resource is not needed: a relay is replaced when its node connects again, and ends
/// with the session.
#[utoipa::path(post, path = "/api/v1/sessions/{session}/relay", tag = "cluster",
    params(("session" = u64, Path, description = "The session whose program is relayed.")),
    security(("bearer" = [])),
    request_body(content = String, content_type = "application/sdp", description = "The SDP offer (at most 32 KB)."),
    responses(
        (status = 201, description = "Answered; the body is the SDP answer.", content_type = "application/sdp", body = String,
            headers(("Location" = String, description = "The resource."))),
        (status = 400, description = "Malformed SDP.", body = ErrorBody),
        (status = 403, description = "Not a member node's fresh token for this node and session: `error` is one of malformed, bad_signature, wrong_audience, wrong_purpose, expired, replayed, not_a_member.", body = ErrorBody),
        (status = 404, description = "The session is not in progress.", body = ErrorBody),
        (status = 415, description = "Not application/sdp.", body = ErrorBody),
        (status = 502, description = "The chain could not be read.", body = ErrorBody),
        (status = 503, description = "At the publisher limit.", body = ErrorBody),
    ))]
async fn relay(
    State(s): State<AppState>,
    Path(session): Path<u64>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let r = match body {
        Ok(body) => relay_inner(&s, session, &headers, &body).await,
        Err(e) => Err(rejected(e)),
    };
    if let Err(WhipError::Relay(e)) = &r {
        s.metrics
            .relays_refused
            .with_label_values(&[e.code()])
            .inc();
    }
    respond(&s, "relay", &session.to_string(), r)
}

async fn relay_inner(
    s: &AppState,
    session: u64,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, WhipError> {
    let text = offer_text(headers, body)?;
    let token = bearer(headers).ok_or(WhipError::Relay(TokenError::Malformed))?;
    let from = s
        .cluster
        .admit_relay(token, session)
        .await
        .map_err(|e| match e {
            SiblingRefused::Token(t) => WhipError::Relay(t),
            SiblingRefused::Cluster(c) => ApiError::Chain(c.to_string()).into(),
        })?;
    if !s.media.gate().is_live(session) {
        return Err(WhipError::NoSession(session.to_string()));
    }
    let offer = sdp::check(&text, Intent::Publish).map_err(MediaError::from)?;
    let key = from.node.key;
    let (resource, answer) = s
        .media
        .open(session, PeerRole::Relay(key), Some(key), None, offer)?;
    tracing::info!(session, operator = %from.node.operator, node = %from.node.url, resource, "relay connected");
    Ok(created(&resource, answer, &s.media.config().ice_servers))
}
