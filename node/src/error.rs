//! Errors as clients see them. Every failure the node answers is one JSON shape,
//! `{"error": code, "message": text}`, where `code` is stable (clients branch on it) and
//! `message` is for people. A client's fault is a 4xx that says what to fix; the node's own
//! fault is a 5xx whose cause is logged here and never sent (no SQLite text, no paths, no
//! RPC errors reach a client). As in axum's error-handling example: one error type,
//! [`ApiError`], one body builder, [`failure`], and one JSON extractor, [`AppJson`], so a
//! malformed body is answered in the same shape.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use assembly_media::Refusal;

use crate::auth::AuthError;

/// Every error answer. `error` is a stable code clients branch on (e.g. `bad_nonce`,
/// `not_next`, `internal`); `message` is for people. A 5xx never carries the node's
/// internals. A floor refusal (403 on WHIP) also names its `reason`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    /// The stable code.
    pub error: &'a str,
    /// What went wrong, for people.
    pub message: &'a str,
    /// Why the floor refused a publisher (WHIP's 403 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Refusal>,
}

/// An error answer: `status` with `{"error": code, "message": message}`.
pub fn failure(status: StatusCode, code: &str, message: impl std::fmt::Display) -> Response {
    let message = message.to_string();
    (
        status,
        Json(ErrorBody {
            error: code,
            message: &message,
            reason: None,
        }),
    )
        .into_response()
}

/// What the node answers when the fault is its own (the cause is in the log).
const INTERNAL: &str = "the node could not complete this request; the cause is logged";
/// What it answers when the chain could not be read.
const CHAIN: &str = "the chain could not be read just now; try again shortly";

/// A failure of the front door's routes.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Sign-in or a session token failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The route needs a signed-in wallet.
    #[error("not signed in")]
    Unauthenticated,
    /// The request is malformed; the text says how.
    #[error("{0}")]
    BadRequest(String),
    /// A JSON body axum would not take (its status: 400, 413, 415 or 422).
    #[error("{text}")]
    BadJson {
        /// The rejection's status.
        status: StatusCode,
        /// What was wrong with the body.
        text: String,
    },
    /// Nothing by that name.
    #[error("{0}")]
    NotFound(String),
    /// An account already has as many of something as it may (webhooks, saved searches).
    #[error("{0}")]
    Limit(String),
    /// The page's origin may not open the live socket.
    #[error("this site may not open the live socket")]
    ForbiddenOrigin,
    /// Too many live sockets from this address, or in all.
    #[error("too many live connections from this address; close one and try again")]
    TooManySockets,
    /// The chain (the RPC behind the node) could not be read: logged, not sent.
    #[error("chain: {0}")]
    Chain(String),
    /// The node's own fault: logged, not sent.
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    /// The node's own fault, with its cause for the log.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// The status it is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Auth(AuthError::Chain(_)) | ApiError::Chain(_) => StatusCode::BAD_GATEWAY,
            ApiError::Auth(AuthError::Busy) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Auth(AuthError::BadToken) | ApiError::Unauthenticated => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Auth(_) | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::BadJson { status, .. } => *status,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Limit(_) => StatusCode::CONFLICT,
            ApiError::ForbiddenOrigin => StatusCode::FORBIDDEN,
            ApiError::TooManySockets => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Auth(e) => match e {
                AuthError::Message(_) => "bad_message",
                AuthError::Nonce => "bad_nonce",
                AuthError::MalformedSignature => "malformed_signature",
                AuthError::WrongSigner(_) => "wrong_signer",
                AuthError::Chain(_) => "chain_unavailable",
                AuthError::BadToken => "bad_token",
                AuthError::Busy => "busy",
            },
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::BadJson { .. } => "bad_body",
            ApiError::NotFound(_) => "not_found",
            ApiError::Limit(_) => "limit_reached",
            ApiError::ForbiddenOrigin => "forbidden_origin",
            ApiError::TooManySockets => "too_many_sockets",
            ApiError::Chain(_) => "chain_unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, code = self.code(), "request failed");
            let message = if status == StatusCode::BAD_GATEWAY {
                CHAIN
            } else {
                INTERNAL
            };
            return failure(status, self.code(), message);
        }
        failure(status, self.code(), &self)
    }
}

/// `Json<T>` whose rejection is an [`ApiError`], so a malformed body gets the same answer
/// shape as every other failure.
pub struct AppJson<T>(pub T);

impl<S, T> FromRequest<S> for AppJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(e) => Err(ApiError::BadJson {
                status: e.status(),
                text: e.body_text(),
            }),
        }
    }
}

/// Runs a blocking read (SQLite, the file system) off the async workers; a failure is the
/// node's own (a 500, its cause logged).
pub async fn blocking<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError::internal(e)),
        Err(e) => Err(ApiError::internal(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> (StatusCode, serde_json::Value) {
        let status = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn the_node_s_own_faults_are_not_sent() {
        let (status, v) =
            body(ApiError::internal("disk I/O error at /var/lib/secret.sqlite").into_response())
                .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(v["error"], "internal");
        assert!(!v["message"].as_str().unwrap().contains("secret"));
        let (status, v) =
            body(ApiError::Chain("connection refused 10.0.0.1".into()).into_response()).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert!(!v["message"].as_str().unwrap().contains("10.0.0.1"));
    }

    #[tokio::test]
    async fn a_client_s_fault_says_what_to_fix() {
        let (status, v) =
            body(ApiError::BadRequest("limit: not a number".into()).into_response()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(v["error"], "bad_request");
        assert_eq!(v["message"], "limit: not a number");
        let (status, v) = body(ApiError::Auth(AuthError::Nonce).into_response()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(v["error"], "bad_nonce");
    }
}
