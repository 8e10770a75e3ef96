//! Webhooks, registered by signed-in accounts and visible only to them (see
//! [`crate::alerts`] for signing, delivery and targets).
//!
//! - `POST /api/v1/webhooks` — register; the answer carries the signing secret, once.
//! - `GET /api/v1/webhooks` — the account's webhooks.
//! - `GET|DELETE /api/v1/webhooks/{id}`

use alloy::primitives::Address;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use assembly_floor::clock;

use crate::alerts::db::{self, Filter, Webhook};
use crate::alerts::{sign, EventKind};
use crate::error::{ApiError, AppJson, ErrorBody};
use crate::state::{identify, AppState};

/// The webhooks' routes, each declared with its documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register, list))
        .routes(routes!(one, remove))
}

/// A webhook to register.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Register {
    /// Where to POST events (`http` or `https`).
    url: String,
    /// What to receive: `floor.taken`, `debate.opened`, `hansard.word`.
    events: Vec<EventKind>,
    /// What narrows them; `words` is required for `hansard.word`.
    #[serde(default)]
    filter: Filter,
}

/// A registered webhook with its signing secret (shown only in this answer).
#[derive(Serialize, ToSchema)]
struct Registered {
    #[serde(flatten)]
    webhook: Webhook,
    /// The Standard Webhooks secret (`whsec_` and base64): verify `webhook-signature` with it.
    secret: String,
}

/// The signed-in account, as webhooks' owner column spells it.
fn owner(s: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let who = identify(s, headers, None)?.ok_or(ApiError::Unauthenticated)?;
    Ok(format!("{:#x}", who.address))
}

/// `r`'s filter, checked and normalised, or what to fix.
fn checked(s: &AppState, r: &Register) -> Result<Filter, ApiError> {
    if let Some(why) = s.alerts.refuse_target(&r.url) {
        return Err(ApiError::BadRequest(why));
    }
    if r.events.is_empty() || r.events.len() > 3 {
        return Err(ApiError::BadRequest(
            "events: one or more of floor.taken, debate.opened, hansard.word".into(),
        ));
    }
    let f = &r.filter;
    let words: Vec<String> = f.words.iter().map(|w| w.trim().to_string()).collect();
    if words.len() > 20
        || words
            .iter()
            .any(|w| w.is_empty() || w.chars().count() > 100)
    {
        return Err(ApiError::BadRequest(
            "filter.words: at most 20, each 1 to 100 characters".into(),
        ));
    }
    if r.events.contains(&EventKind::HansardWord) && words.is_empty() {
        return Err(ApiError::BadRequest(
            "hansard.word needs filter.words".into(),
        ));
    }
    let speaker = match &f.speaker {
        Some(a) => Some(format!(
            "{:#x}",
            a.parse::<Address>().map_err(|_| ApiError::BadRequest(
                "filter.speaker: expected 0x and 40 hex digits".into()
            ))?
        )),
        None => None,
    };
    Ok(Filter { speaker, words })
}

/// Register a webhook for the signed-in account. Each delivery is a POST of
/// `{"type", "timestamp", "data"}` signed as Standard Webhooks specify (`webhook-id`,
/// `webhook-timestamp`, `webhook-signature`); failures (network, timeout, 5xx, 429) are
/// retried with growing waits, and one slow endpoint never delays another's deliveries.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "webhook_register", request_body = Register,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Registered; the secret is shown only here.", body = Registered),
        (status = 400, description = "A bad URL or target, no events, or a bad filter.", body = ErrorBody),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 409, description = "The account has as many webhooks as it may.", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape (an unknown event, say).", body = ErrorBody),
    ))]
async fn register(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<AppJson<Register>, ApiError>,
) -> Result<Response, ApiError> {
    let owner = owner(&s, &headers)?;
    let AppJson(r) = body?;
    let filter = checked(&s, &r)?;
    let mut events = r.events.clone();
    events.dedup();
    let mut raw = [0u8; 12];
    getrandom::fill(&mut raw).map_err(ApiError::internal)?;
    let id: String = format!(
        "wh_{}",
        raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let webhook = Webhook {
        id,
        url: r.url,
        events,
        filter,
        created_ms: clock::now_ms(),
    };
    let secret = sign::new_secret();
    let max = s.alerts.config.max_per_account;
    let (w, sec) = (webhook.clone(), secret.clone());
    let added = s
        .alerts
        .with_db(move |c| db::insert_webhook(c, &owner, &w, &sec, max))
        .await
        .map_err(ApiError::internal)?;
    if !added {
        return Err(ApiError::Limit(format!(
            "at most {max} webhooks per account"
        )));
    }
    Ok((StatusCode::CREATED, Json(Registered { webhook, secret })).into_response())
}

/// The signed-in account's webhooks (without their secrets).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "webhook_list",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Webhooks.", body = Vec<Webhook>),
        (status = 401, description = "Not signed in.", body = ErrorBody),
    ))]
async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<Webhook>>, ApiError> {
    let owner = owner(&s, &headers)?;
    let all = s
        .alerts
        .with_db(db::all_webhooks)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(
        all.into_iter()
            .filter(|(_, o, _)| *o == owner)
            .map(|(w, _, _)| w)
            .collect(),
    ))
}

/// One of the signed-in account's webhooks (another's is a 404, as a missing one).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "webhook_one",
    params(("id" = String, Path, description = "The webhook's id.")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The webhook.", body = Webhook),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 404, description = "The account has no such webhook.", body = ErrorBody),
    ))]
async fn one(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Webhook>, ApiError> {
    let owner = owner(&s, &headers)?;
    let found = s
        .alerts
        .with_db(move |c| db::webhook_by_id(c, &id))
        .await
        .map_err(ApiError::internal)?;
    match found {
        Some((w, o, _)) if o == owner => Ok(Json(w)),
        _ => Err(ApiError::NotFound("no such webhook".into())),
    }
}

/// Delete one of the signed-in account's webhooks, with the deliveries it had waiting.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "webhook_remove",
    params(("id" = String, Path, description = "The webhook's id.")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 404, description = "The account has no such webhook.", body = ErrorBody),
    ))]
async fn remove(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let owner = owner(&s, &headers)?;
    let key = id.clone();
    let gone = s
        .alerts
        .with_db(move |c| db::delete_webhook(c, &owner, &key))
        .await
        .map_err(ApiError::internal)?;
    if !gone {
        return Err(ApiError::NotFound("no such webhook".into()));
    }
    // Its task, if running, finds it gone and stops.
    s.alerts.wake(&id);
    Ok(StatusCode::NO_CONTENT)
}
