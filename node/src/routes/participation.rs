//! Attendance and participation, per account ([`crate::participation`]).
//!
//! - `GET /api/v1/participation/{address}?from=&to=` — JSON: the account's standing now
//!   (and, for a delegator, the orchestrator it is bonded to), totals, and each occurrence.
//! - `GET /api/v1/participation/{address}/csv?from=&to=` — the occurrences as CSV.
//!
//! Public, like the chain and the Hansard it is reckoned from: an orchestrator's delegators
//! are the people it answers to.

use std::ops::Range;

use alloy::primitives::{Address, U256};
use assembly_floor::clock;
use assembly_indexer::roles::Role;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{blocking, ApiError, ErrorBody};
use crate::participation::{self, Record};
use crate::state::AppState;

/// How far back a window reaches unless told: about a quarter.
const DEFAULT_DAYS: u64 = 90;
/// The widest window one request may ask for: a year and a day.
const MAX_DAYS: u64 = 366;

/// The participation routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(participation_json))
        .routes(routes!(participation_csv))
}

/// The window, in seconds since the epoch.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Window {
    /// From (inclusive); 90 days before `to` by default.
    from: Option<u64>,
    /// To (exclusive); now by default. At most 366 days after `from`.
    to: Option<u64>,
}

/// One account's attendance and participation.
#[derive(Serialize, ToSchema)]
struct Participation {
    /// The account, EIP-55.
    address: String,
    /// Its role now, as the BondingManager says; null if the chain could not be read.
    role: Option<Role>,
    /// Its stake now, LPT base units (hex); null if the chain could not be read.
    #[schema(value_type = Option<String>)]
    stake: Option<U256>,
    /// For a delegator, the orchestrator it is bonded to (EIP-55): whose record it will
    /// want to read.
    delegate: Option<String>,
    /// The window, seconds since the epoch: `[from, to)`.
    from: u64,
    /// The window's end (exclusive).
    to: u64,
    /// What it did, occurrence by occurrence.
    #[serde(flatten)]
    record: Record,
}

fn window(q: Result<Query<Window>, QueryRejection>, now: u64) -> Result<Range<u64>, ApiError> {
    let Ok(Query(w)) = q else {
        return Err(ApiError::BadRequest(
            "query: from, to (seconds since the epoch)".into(),
        ));
    };
    let to = w.to.unwrap_or(now);
    let from = w
        .from
        .unwrap_or_else(|| to.saturating_sub(DEFAULT_DAYS * 86_400));
    if from >= to {
        return Err(ApiError::BadRequest("from must be before to".into()));
    }
    if to - from > MAX_DAYS * 86_400 {
        return Err(ApiError::BadRequest(format!(
            "the window is at most {MAX_DAYS} days"
        )));
    }
    Ok(from..to)
}

fn account(address: &str) -> Result<Address, ApiError> {
    address
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("{address}: not an address")))
}

async fn record(s: &AppState, address: Address, w: Range<u64>) -> Result<Record, ApiError> {
    let (store, archive) = (s.hub.store.clone(), s.archive.clone());
    blocking(move || participation::reckon(&store, &archive, address, w, clock::now_s())).await
}

/// An account's attendance (time connected while occurrences ran) and participation
/// (requests, slots held, yields, speeches, reactions, votes on debated proposals), with
/// its role and, for a delegator, its orchestrator.
#[utoipa::path(get, path = "/api/v1/participation/{address}", tag = "participation",
    params(("address" = String, Path, description = "The account."), Window),
    responses(
        (status = 200, description = "The record.", body = Participation),
        (status = 400, description = "Not an address, or a bad window.", body = ErrorBody),
    ))]
async fn participation_json(
    State(s): State<AppState>,
    Path(address): Path<String>,
    q: Result<Query<Window>, QueryRejection>,
) -> Result<Json<Participation>, ApiError> {
    let address = account(&address)?;
    let w = window(q, clock::now_s())?;
    let record = record(&s, address, w.clone()).await?;
    // The standing is shown when the chain answers; the record stands without it.
    let standing = s.roles.standing(address).await.ok();
    let delegate = match standing.as_ref().map(|s| s.role) {
        Some(Role::Delegator) => s.roles.delegate_of(address).await.ok().flatten(),
        _ => None,
    };
    Ok(Json(Participation {
        address: address.to_checksum(None),
        role: standing.as_ref().map(|s| s.role),
        stake: standing.map(|s| s.stake),
        delegate: delegate.map(|d| d.to_checksum(None)),
        from: w.start,
        to: w.end,
        record,
    }))
}

/// The same occurrences as CSV, one line each, for a spreadsheet.
#[utoipa::path(get, path = "/api/v1/participation/{address}/csv", tag = "participation",
    params(("address" = String, Path, description = "The account."), Window),
    responses(
        (status = 200, description = "CSV (RFC 4180).", content_type = "text/csv", body = String),
        (status = 400, description = "Not an address, or a bad window.", body = ErrorBody),
    ))]
async fn participation_csv(
    State(s): State<AppState>,
    Path(address): Path<String>,
    q: Result<Query<Window>, QueryRejection>,
) -> Result<Response, ApiError> {
    let address = account(&address)?;
    let w = window(q, clock::now_s())?;
    let record = record(&s, address, w).await?;
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"participation-{address}.csv\""),
            ),
        ],
        participation::csv(&record),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Uri;

    fn w(query: &str) -> Result<Range<u64>, String> {
        let uri: Uri = format!("/x?{query}").parse().unwrap();
        window(Query::try_from_uri(&uri), 100 * 86_400).map_err(|e| e.to_string())
    }

    #[test]
    fn windows_default_to_a_quarter_and_are_bounded() {
        assert_eq!(w(""), Ok(10 * 86_400..100 * 86_400));
        assert_eq!(w("from=5&to=9"), Ok(5..9));
        assert_eq!(w("to=50"), Ok(0..50));
        assert!(w("from=9&to=9").unwrap_err().contains("before"));
        assert!(w("from=0&to=40000000").unwrap_err().contains("366"));
        assert!(w("from=x").unwrap_err().contains("query"));
        assert!(w("since=1").unwrap_err().contains("query"));
    }
}
