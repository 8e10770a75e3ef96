//! The node's HTTP listener: HTTP/1.1 with WebSocket upgrades, where each connection is
//! counted against its address's and the node's bound before hyper sees a byte, must send its
//! headers (and, kept alive, its next request) within `header_timeout_secs`, and is told the
//! TCP peer it came from ([`ConnectInfo`]) for the per-address budgets.
//!
//! axum's own `serve` has no header timeout (hyper's needs a timer it does not set) and no
//! connection bound; this is that loop with both.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::limits::{Counted, LimitsConfig};

/// Largest request head (request line and headers) read, in bytes.
const MAX_HEAD: usize = 64 * 1024;

/// How long open requests may finish after shutdown begins.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` turns true, then lets open requests finish
/// (for at most ten seconds).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &LimitsConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let connections = Counted::new(limits.connections_per_ip, limits.connections);
    let header_timeout = Duration::from_secs(limits.header_timeout_secs.max(1));
    let mut refused_logged: Option<std::time::Instant> = None;
    let (done_tx, mut done_rx) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, mostly: wait for some to close rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let Some(held) = connections.hold(peer.ip()) else {
            // Once per ten seconds at most: a flood must not become a flood of log lines.
            if refused_logged.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                tracing::warn!(peer = %peer.ip(), open = connections.total(), "connection refused: over the per-address or total bound");
                refused_logged = Some(std::time::Instant::now());
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let mut stop = shutdown.clone();
        let done = done_tx.clone();
        tokio::spawn(async move {
            let _held = held;
            let _done = done;
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    router.clone().oneshot(request)
                });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(MAX_HEAD);
            let connection = builder
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                r = connection.as_mut() => log_end(peer, r),
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(DRAIN, connection).await;
                }
            }
        });
    }
    drop(done_tx);
    // Every connection task holds a sender; all are gone when the last has finished.
    let _ = tokio::time::timeout(DRAIN, done_rx.changed()).await;
}

fn log_end(peer: SocketAddr, r: Result<(), hyper::Error>) {
    if let Err(e) = r {
        if e.is_timeout() {
            tracing::debug!(%peer, "connection closed: no request within the header timeout");
        } else {
            tracing::debug!(%peer, error = %e, "connection ended");
        }
    }
}
