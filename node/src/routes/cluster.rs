//! `GET /api/v1/cluster`: the nodes of the cluster as this node knows them from the chain,
//! and which one is itself, so that a client can choose where to listen.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::cluster::Member;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The cluster route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(cluster))
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
