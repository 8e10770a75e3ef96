//! The cluster's routes: `GET /api/v1/cluster`, the nodes as this node knows them from the
//! chain and which one is itself, so that a client can choose where to listen; and
//! `POST /api/v1/cluster/live`, where the other members tell this one their reactions and
//! counts ([`crate::cluster::share`]).

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::cluster::share::Share;
use crate::cluster::{Member, SiblingRefused};
use crate::error::{failure, ApiError, ErrorBody};
use crate::state::{bearer, AppState};

/// The largest share a member may send (a burst of every reaction, and counts).
const MAX_SHARE: usize = 4096;

/// The cluster routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(cluster))
        .routes(routes!(live).layer(DefaultBodyLimit::max(MAX_SHARE)))
}

/// A sibling member tells this node its reactions and counts: added to this node's own for
/// its clients, never sent on.
#[utoipa::path(post, path = "/api/v1/cluster/live", tag = "cluster",
    security(("bearer" = [])),
    request_body = Share,
    responses(
        (status = 204, description = "Taken."),
        (status = 400, description = "Not a share, or a burst with unknown reactions, counts out of range or stakes that do not add up.", body = ErrorBody),
        (status = 403, description = "Not a member node's fresh token for this node: `error` names why.", body = ErrorBody),
        (status = 413, description = "Larger than 4 KB.", body = ErrorBody),
        (status = 502, description = "The chain could not be read.", body = ErrorBody),
    ))]
async fn live(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<Share>, JsonRejection>,
) -> Response {
    let token = bearer(&headers).unwrap_or_default();
    let from = match s.cluster.admit(token, "live", None).await {
        Ok(m) => m,
        Err(SiblingRefused::Token(e)) => {
            s.metrics
                .shares_refused
                .with_label_values(&[e.code()])
                .inc();
            return failure(StatusCode::FORBIDDEN, e.code(), e);
        }
        Err(SiblingRefused::Cluster(e)) => return ApiError::Chain(e.to_string()).into_response(),
    };
    let Json(share) = match body {
        Ok(b) => b,
        Err(e) => {
            s.metrics
                .shares_refused
                .with_label_values(&["bad_share"])
                .inc();
            return failure(e.status(), "bad_share", e.body_text());
        }
    };
    if let Some(burst) = &share.burst {
        if let Err(e) = s.hub.reactions.absorb(burst) {
            s.metrics
                .shares_refused
                .with_label_values(&["bad_burst"])
                .inc();
            tracing::info!(node = %from.node.url, error = %e, "a sibling's burst refused");
            return failure(StatusCode::BAD_REQUEST, "bad_burst", e);
        }
    }
    if share.signed_out.len() > crate::cluster::share::MAX_SIGNED_OUT {
        s.metrics
            .shares_refused
            .with_label_values(&["bad_share"])
            .inc();
        return failure(
            StatusCode::BAD_REQUEST,
            "bad_share",
            "too many sign-outs in one share",
        );
    }
    let now = assembly_floor::clock::now_s();
    for (session, end) in &share.signed_out {
        s.auth.revoke_told(*session, *end, now);
    }
    s.hub.presence.sibling(from.node.key, share.counts);
    StatusCode::NO_CONTENT.into_response()
}

/// The cluster, from the answering node's view.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ClusterView {
    /// The answering node's key address (what its operator registers).
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub key: alloy::primitives::Address,
    /// Whether the answering node is a registered member now.
    pub member: bool,
    /// Its listeners now (WHEP sessions), for clients that choose the least loaded node.
    pub listeners: u64,
    /// Every registered node, by operator.
    pub nodes: Vec<Member>,
}

/// The registered nodes, their membership now, and this node's key and load. Every member
/// answers alike: the registry on chain is the one source.
#[utoipa::path(get, path = "/api/v1/cluster", tag = "cluster",
    responses(
        (status = 200, description = "The cluster.", body = ClusterView),
        (status = 502, description = "The chain could not be read.", body = ErrorBody),
    ))]
async fn cluster(State(s): State<AppState>) -> Result<Json<ClusterView>, ApiError> {
    let nodes = s
        .cluster
        .nodes()
        .await
        .map_err(|e| ApiError::Chain(e.to_string()))?;
    Ok(Json(ClusterView {
        key: s.cluster.key(),
        member: nodes.iter().any(|n| n.this && n.member),
        listeners: s
            .metrics
            .media
            .listeners
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(0) as u64,
        nodes,
    }))
}
