//! The live-state WebSocket: what clients may send, decoded strictly, and the connection
//! loop. A message that is not understood gets an error frame and changes nothing.

use std::net::IpAddr;

use assembly_indexer::roles::Role;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::auth::Identity;
use crate::limits::Held;
use crate::reactions::{self, Bucket};
use crate::state::AppState;

/// The largest message a client may send.
pub const MAX_CLIENT_MESSAGE: usize = 1024;

/// What a client may send.
#[derive(Debug, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// React to what is being said (signed-in orchestrators and delegators).
    React {
        /// The reaction's id, one of `GET /api/v1/reactions`.
        reaction: String,
    },
    /// Ask for the current state again.
    Refresh,
    /// Keep the connection alive; answered with a `pong`.
    Ping,
}

/// Why a client message was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum WsError {
    /// The message is over [`MAX_CLIENT_MESSAGE`] bytes.
    #[error("message is larger than {MAX_CLIENT_MESSAGE} bytes")]
    TooLarge,
    /// The message does not parse as JSON.
    #[error("message is not JSON")]
    NotJson,
    /// The message's `type` is none the server knows, or it has unknown fields.
    #[error("message is not one of: react, refresh, ping")]
    UnknownMessage,
    /// The reaction is not one of `GET /api/v1/reactions`.
    #[error("unknown reaction (see GET /api/v1/reactions)")]
    UnknownReaction,
    /// Only signed-in orchestrators and delegators may react.
    #[error("sign in as an orchestrator or a delegator to react")]
    NotAllowed,
    /// The sender reacted faster than its rate allows.
    #[error("too many reactions; retry in {retry_after_ms} ms")]
    RateLimited {
        /// How long until the next reaction is accepted, in milliseconds (at least 1).
        retry_after_ms: u64,
    },
    /// The client sent a binary frame; only text frames are understood.
    #[error("binary frames are not understood")]
    Binary,
}

/// A wait in whole milliseconds, at least one (a limit that never refills says `u64::MAX`).
fn retry_after_ms(wait: std::time::Duration) -> u64 {
    u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Decodes a client's text frame.
pub fn decode(text: &str) -> Result<ClientMessage, WsError> {
    if text.len() > MAX_CLIENT_MESSAGE {
        return Err(WsError::TooLarge);
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| WsError::NotJson)?;
    let msg: ClientMessage = serde_json::from_value(value).map_err(|_| WsError::UnknownMessage)?;
    if let ClientMessage::React { reaction } = &msg {
        if !reactions::known(reaction) {
            return Err(WsError::UnknownReaction);
        }
    }
    Ok(msg)
}

fn error_frame(e: &WsError) -> Message {
    let body = ErrorMessage {
        r#type: ErrorTag::Error,
        error: e,
        message: e.to_string(),
    };
    let text =
        serde_json::to_string(&body).unwrap_or_else(|_| String::from("{\"type\":\"error\"}"));
    Message::Text(Utf8Bytes::from(text))
}

/// A refused client message, sent on `/api/v1/live` (the connection stays open).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorMessage<'a> {
    /// Always `error`.
    pub r#type: ErrorTag,
    /// Why, with a stable `code`.
    pub error: &'a WsError,
    /// What went wrong, for people.
    pub message: String,
}

/// The `type` of an [`ErrorMessage`].
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorTag {
    /// The only value.
    Error,
}

/// Serves one connection until it closes. `held` is its place under the socket bounds and
/// `ip` the address an anonymous observer is counted by.
pub async fn serve(
    mut socket: WebSocket,
    state: AppState,
    identity: Option<Identity>,
    ip: Option<IpAddr>,
    held: Held,
) {
    let _held = held;
    let (hub, roles, metrics) = (&*state.hub, &*state.roles, &*state.metrics);
    let role = match identity {
        Some(id) => roles
            .standing(id.address)
            .await
            .map(|s| s.role)
            .unwrap_or(Role::Observer),
        None => Role::Observer,
    };
    let gauge = match role {
        Role::Orchestrator => &metrics.ws_orchestrators,
        Role::Delegator => &metrics.ws_delegators,
        Role::Observer => &metrics.ws_observers,
    };
    // Listener counts reach everyone with the next clock tick (at most a second): publishing
    // on every connect would cost N broadcasts for N arrivals.
    gauge.inc();
    let _here = hub.presence.join(identity.map(|i| i.address), ip, role);
    let mut updates = hub.subscribe();
    let connection_bucket = Bucket::new(10.0, 20.0);
    if socket.send(Message::Text(hub.latest())).await.is_ok() {
        loop {
            tokio::select! {
                incoming = socket.recv() => {
                    let Some(Ok(frame)) = incoming else { break };
                    let reply = match frame {
                        Message::Text(t) => handle(&state, identity, &connection_bucket, t.as_str()).await,
                        Message::Binary(_) => Some(error_frame(&WsError::Binary)),
                        Message::Close(_) => break,
                        _ => None,
                    };
                    if let Some(r) = reply {
                        if socket.send(r).await.is_err() {
                            break;
                        }
                    }
                }
                update = updates.recv() => {
                    let text = match update {
                        Ok(t) => t,
                        // Too slow to keep up: skip to the present.
                        Err(broadcast::error::RecvError::Lagged(_)) => hub.latest(),
                        Err(broadcast::error::RecvError::Closed) => break,
                    };
                    if socket.send(Message::Text(text)).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    gauge.dec();
}

async fn handle(
    state: &AppState,
    identity: Option<Identity>,
    bucket: &Bucket,
    text: &str,
) -> Option<Message> {
    let (hub, roles, metrics) = (&*state.hub, &*state.roles, &*state.metrics);
    let msg = match decode(text) {
        Ok(m) => m,
        Err(e) => {
            metrics.ws_bad_messages.inc();
            if e == WsError::UnknownReaction {
                metrics.reactions_refused.inc();
            }
            return Some(error_frame(&e));
        }
    };
    match msg {
        ClientMessage::Ping => Some(Message::Text(Utf8Bytes::from_static("{\"type\":\"pong\"}"))),
        ClientMessage::Refresh => Some(Message::Text(hub.latest())),
        ClientMessage::React { reaction } => {
            let refuse = |e: WsError| {
                let counter = if matches!(e, WsError::RateLimited { .. }) {
                    &metrics.reactions_rate_limited
                } else {
                    &metrics.reactions_refused
                };
                counter.inc();
                Some(error_frame(&e))
            };
            let Some(id) = identity else {
                return refuse(WsError::NotAllowed);
            };
            // The role is read now, so one lost on chain is lost here too.
            let standing = match roles.standing(id.address).await {
                Ok(s) if s.role != Role::Observer => s,
                _ => return refuse(WsError::NotAllowed),
            };
            if let Err(wait) = bucket.take() {
                return refuse(WsError::RateLimited {
                    retry_after_ms: retry_after_ms(wait),
                });
            }
            match hub.reactions.react(id.address, standing.stake, &reaction) {
                Ok(()) => {
                    metrics.reactions_accepted.inc();
                    if let Some(l) = hub.presence.ledger() {
                        l.reacted(id.address, &reaction, assembly_floor::clock::now_ms());
                    }
                    None
                }
                Err(wait) => refuse(WsError::RateLimited {
                    retry_after_ms: retry_after_ms(wait),
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_and_refuses() {
        assert_eq!(
            decode(r#"{"type":"react","reaction":"clap"}"#),
            Ok(ClientMessage::React {
                reaction: "clap".into()
            })
        );
        assert_eq!(decode(r#"{"type":"ping"}"#), Ok(ClientMessage::Ping));
        assert_eq!(decode("clap"), Err(WsError::NotJson));
        assert_eq!(decode(r#"{"type":"shout"}"#), Err(WsError::UnknownMessage));
        assert_eq!(
            decode(r#"{"type":"react","reaction":"poop"}"#),
            Err(WsError::UnknownReaction)
        );
        assert_eq!(
            decode(r#"{"type":"react","reaction":"clap","x":1}"#),
            Err(WsError::UnknownMessage)
        );
        assert_eq!(decode(&"x".repeat(2000)), Err(WsError::TooLarge));
    }

    proptest! {
        /// The decoder is total: any text yields a message or an error, never a panic.
        #[test]
        fn decoder_never_panics(text in ".{0,1200}") {
            let _ = decode(&text);
        }

        #[test]
        fn decoder_never_panics_on_jsonish(kind in "[a-z]{0,8}", reaction in ".{0,16}") {
            let _ = decode(&format!(r#"{{"type":"{kind}","reaction":{}}}"#, serde_json::Value::String(reaction)));
        }
    }
}
