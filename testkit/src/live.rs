//! The live-state WebSocket from a test: connect (signed in or not) and wait for a message.

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::node::Node;

/// A client's end of `/api/v1/live`.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects to `node`'s live socket, signed in with `token` if given.
pub async fn live_socket(node: &Node, token: Option<&str>) -> Ws {
    let base = node.base.replace("http", "ws");
    let url = match token {
        Some(t) => format!("{base}/api/v1/live?token={t}"),
        None => format!("{base}/api/v1/live"),
    };
    tokio_tungstenite::connect_async(url)
        .await
        .expect("the live socket accepts")
        .0
}

/// The next message of `kind` on `ws` that `pred` accepts, within ten seconds; panics if the
/// socket closes or nothing comes.
pub async fn next(ws: &mut Ws, kind: &str, mut pred: impl FnMut(&Value) -> bool) -> Value {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let Some(Ok(Message::Text(t))) = ws.next().await else {
                panic!("the live socket closed while waiting for a {kind} message")
            };
            let v: Value = serde_json::from_str(&t).expect("live messages are JSON");
            if v["type"] == kind && pred(&v) {
                return v;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {kind} message within 10 s"))
}
