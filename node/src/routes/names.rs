//! `GET /api/v1/names/{address}`: an address's ENS name and avatar ([`crate::names`]), for the
//! stage. Without an ENS RPC configured every answer is empty, never an error: names are
//! decoration, the address is the identity.

use alloy::primitives::Address;
use axum::extract::{Path, State};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::names::Name;
use crate::state::AppState;

/// The names route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(name_of))
}

/// An address's ENS name (its reverse record, checked forward) and avatar; nulls when it has
/// none or the node has no ENS RPC.
#[utoipa::path(get, path = "/api/v1/names/{address}", tag = "names",
    params(("address" = String, Path, description = "The account.")),
    responses(
        (status = 200, description = "The name, or nulls.", body = Name),
        (status = 400, description = "Not an address.", body = ErrorBody),
        (status = 502, description = "The ENS RPC failed.", body = ErrorBody),
    ))]
async fn name_of(
    State(s): State<AppState>,
    Path(address): Path<String>,
) -> Result<Json<Name>, ApiError> {
    let address: Address = address
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("{address}: not an address")))?;
    match &s.names {
        None => Ok(Json(Name::default())),
        Some(names) => names
            .of(address)
            .await
            .map(Json)
            .map_err(|e| ApiError::Chain(e.to_string())),
    }
}
