//! What any one address, and everyone together, may cost the node: connections held, requests
//! per minute on the routes that cost something (a nonce, a signature check, an RPC lookup, a
//! WebRTC peer), and how long a connection may take to say what it wants.
//!
//! Every bound is a setting of the node file's `[limits]` table with a default a public node
//! can run with. An address is the TCP peer's, or, for a peer listed in `trusted_proxies`, the
//! last address its `X-Forwarded-For` names (the one the proxy itself saw).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use parking_lot::Mutex;
use serde::Deserialize;

use crate::error::failure;
use crate::metrics::Metrics;

/// The `[limits]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Open HTTP connections (WebSockets included) from one address.
    pub connections_per_ip: usize,
    /// Open HTTP connections in all.
    pub connections: usize,
    /// Seconds a connection may take to send a request's headers, and may sit idle between
    /// requests, before it is closed.
    pub header_timeout_secs: u64,
    /// Seconds a request may take, body included, before it is answered 408.
    pub request_timeout_secs: u64,
    /// Live-state WebSockets from one address.
    pub sockets_per_ip: usize,
    /// Live-state WebSockets in all.
    pub sockets: usize,
    /// The largest WebSocket frame or message a client may send, in bytes: refused at the
    /// frame's header, before its payload is read (the protocol's messages are under 100).
    pub socket_message_bytes: usize,
    /// Bytes queued for a socket that does not read before it is closed.
    pub socket_buffer_bytes: usize,
    /// Nonces one address may ask for per minute.
    pub nonces_per_minute: u32,
    /// Sign-in attempts one address may make per minute.
    pub sign_ins_per_minute: u32,
    /// Role lookups (`/chain/v1/roles/…`, each up to three RPC calls) per address per minute.
    pub lookups_per_minute: u32,
    /// WHEP offers one address may make per minute.
    pub listen_offers_per_minute: u32,
    /// Transcript corrections one address may submit per minute (each is a signature
    /// check, and for a contract wallet a call to the chain).
    pub corrections_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            connections_per_ip: 64,
            connections: 20_000,
            header_timeout_secs: 15,
            request_timeout_secs: 30,
            sockets_per_ip: 32,
            sockets: 10_000,
            socket_message_bytes: 4 * 1024,
            socket_buffer_bytes: 256 * 1024,
            nonces_per_minute: 30,
            sign_ins_per_minute: 30,
            lookups_per_minute: 120,
            listen_offers_per_minute: 60,
            corrections_per_minute: 12,
            trusted_proxies: vec![],
        }
    }
}

/// A per-minute budget per address (governor's GCRA; bursts of the whole minute's budget).
struct PerMinute(Option<RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock>>);

impl PerMinute {
    fn new(per_minute: u32) -> Self {
        Self(NonZeroU32::new(per_minute).map(|n| RateLimiter::dashmap(Quota::per_minute(n))))
    }

    /// `Ok` if `ip` may go on; otherwise how long until it may.
    fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        match &self.0 {
            None => Err(Duration::from_secs(60)),
            Some(l) => l.check_key(&ip).map_err(|not_until| {
                not_until.wait_time_from(governor::clock::Clock::now(&DefaultClock::default()))
            }),
        }
    }

    /// Forgets addresses whose budget is whole again, so the map holds only recent senders.
    fn forget_idle(&self) {
        if let Some(l) = &self.0 {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// Which budget a request draws on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// `GET /api/v1/auth/nonce`.
    Nonce,
    /// `POST /api/v1/auth/sign-in`.
    SignIn,
    /// `GET /chain/v1/roles/{address}`.
    Lookup,
    /// `POST /api/v1/sessions/{session}/whep`.
    ListenOffer,
    /// `POST /api/v1/archive/corrections`.
    Correction,
}

impl Budget {
    /// The budget `method path` draws on, if any.
    pub fn of(method: &axum::http::Method, path: &str) -> Option<Budget> {
        use axum::http::Method;
        match (method, path) {
            (&Method::GET, "/api/v1/auth/nonce") => Some(Budget::Nonce),
            (&Method::POST, "/api/v1/auth/sign-in") => Some(Budget::SignIn),
            (&Method::GET, p) if p.starts_with("/chain/v1/roles/") => Some(Budget::Lookup),
            (&Method::POST, p) if p.starts_with("/api/v1/sessions/") && p.ends_with("/whep") => {
                Some(Budget::ListenOffer)
            }
            (&Method::POST, "/api/v1/archive/corrections") => Some(Budget::Correction),
            _ => None,
        }
    }

    /// Its name in `assembly_limited_total{budget=…}`.
    pub fn name(self) -> &'static str {
        match self {
            Budget::Nonce => "nonce",
            Budget::SignIn => "sign_in",
            Budget::Lookup => "lookup",
            Budget::ListenOffer => "listen_offer",
            Budget::Correction => "correction",
        }
    }
}

/// Open connections (or sockets) per address and in all.
pub struct Counted {
    per_ip: usize,
    total: usize,
    open: Mutex<(HashMap<IpAddr, usize>, usize)>,
}

/// One counted connection; dropping it releases the count.
pub struct Held {
    of: Arc<Counted>,
    ip: IpAddr,
}

impl Counted {
    /// At most `per_ip` from one address and `total` in all.
    pub fn new(per_ip: usize, total: usize) -> Arc<Self> {
        Arc::new(Self {
            per_ip,
            total,
            open: Mutex::new((HashMap::new(), 0)),
        })
    }

    /// Counts one more from `ip`, unless that would pass a bound.
    pub fn hold(self: &Arc<Self>, ip: IpAddr) -> Option<Held> {
        let mut open = self.open.lock();
        let (by_ip, total) = &mut *open;
        if *total >= self.total {
            return None;
        }
        let n = by_ip.entry(ip).or_insert(0);
        if *n >= self.per_ip {
            return None;
        }
        *n += 1;
        *total += 1;
        Some(Held {
            of: self.clone(),
            ip,
        })
    }

    /// Open in all.
    pub fn total(&self) -> usize {
        self.open.lock().1
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut open = self.of.open.lock();
        let (by_ip, total) = &mut *open;
        *total = total.saturating_sub(1);
        if let Some(n) = by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                by_ip.remove(&self.ip);
            }
        }
    }
}

/// The node's budgets.
pub struct Limits {
    config: LimitsConfig,
    nonces: PerMinute,
    sign_ins: PerMinute,
    lookups: PerMinute,
    listen_offers: PerMinute,
    corrections: PerMinute,
    /// Live-state WebSockets.
    pub sockets: Arc<Counted>,
    metrics: Arc<Metrics>,
}

impl Limits {
    /// Budgets from `config`, counting refusals in `metrics`.
    pub fn new(config: LimitsConfig, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            nonces: PerMinute::new(config.nonces_per_minute),
            sign_ins: PerMinute::new(config.sign_ins_per_minute),
            lookups: PerMinute::new(config.lookups_per_minute),
            listen_offers: PerMinute::new(config.listen_offers_per_minute),
            corrections: PerMinute::new(config.corrections_per_minute),
            sockets: Counted::new(config.sockets_per_ip, config.sockets),
            config,
            metrics,
        })
    }

    /// The settings.
    pub fn config(&self) -> &LimitsConfig {
        &self.config
    }

    /// Draws one request from `budget` for `ip`.
    pub fn check(&self, budget: Budget, ip: IpAddr) -> Result<(), Duration> {
        let b = match budget {
            Budget::Nonce => &self.nonces,
            Budget::SignIn => &self.sign_ins,
            Budget::Lookup => &self.lookups,
            Budget::ListenOffer => &self.listen_offers,
            Budget::Correction => &self.corrections,
        };
        b.check(ip).inspect_err(|_| {
            self.metrics
                .http_limited
                .with_label_values(&[budget.name()])
                .inc()
        })
    }

    /// Forgets addresses that have not asked for a while (run every minute or so).
    pub fn forget_idle(&self) {
        for b in [
            &self.nonces,
            &self.sign_ins,
            &self.lookups,
            &self.listen_offers,
            &self.corrections,
        ] {
            b.forget_idle();
        }
    }

    /// The address a request is from: the TCP peer's, or the one a trusted proxy forwards.
    /// `None` when the request did not come through [`crate::serve`] (a test's router).
    pub fn client_ip(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?.ip();
        if !self.config.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .next_back();
        Some(forwarded.unwrap_or(peer))
    }
}

/// The TCP peer a request arrived from, set by [`crate::serve`].
pub fn peer_of(request: &Request) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

/// Middleware: a request on a budgeted route from an address over its budget gets 429.
pub async fn enforce(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    if let Some(budget) = Budget::of(request.method(), request.uri().path()) {
        if let Some(ip) = limits.client_ip(peer_of(&request), request.headers()) {
            if let Err(wait) = limits.check(budget, ip) {
                return too_many(wait);
            }
        }
    }
    next.run(request).await
}

/// 429 with `Retry-After` in whole seconds.
pub fn too_many(wait: Duration) -> Response {
    let mut r = failure(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "too many requests from this address; wait and try again",
    );
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(RETRY_AFTER, v);
    }
    r.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_bounds_each_address_and_the_total() {
        let c = Counted::new(2, 3);
        let (a, b) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let a1 = c.hold(a).expect("first");
        let _a2 = c.hold(a).expect("second");
        assert!(c.hold(a).is_none(), "a third from one address");
        let _b1 = c.hold(b).expect("another address");
        assert!(c.hold(b).is_none(), "the total");
        drop(a1);
        let b2 = c.hold(b);
        assert!(b2.is_some(), "released");
        assert_eq!(c.total(), 3);
    }

    #[test]
    fn budgets_are_per_address() {
        let limits = Limits::new(
            LimitsConfig {
                nonces_per_minute: 2,
                ..LimitsConfig::default()
            },
            Arc::default(),
        );
        let (a, b) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!(limits.check(Budget::Nonce, a).is_ok());
        assert!(limits.check(Budget::Nonce, a).is_ok());
        let wait = limits.check(Budget::Nonce, a).expect_err("over budget");
        assert!(wait > Duration::from_secs(1) && wait <= Duration::from_secs(30));
        assert!(limits.check(Budget::Nonce, b).is_ok(), "b has its own");
        assert!(
            limits.check(Budget::SignIn, a).is_ok(),
            "and a other budgets"
        );
        assert!(limits
            .metrics
            .render()
            .contains("assembly_limited_total{budget=\"nonce\"} 1"));
    }

    #[test]
    fn forwarded_addresses_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.9".parse().unwrap();
        let limits = Limits::new(
            LimitsConfig {
                trusted_proxies: vec![proxy],
                ..LimitsConfig::default()
            },
            Arc::default(),
        );
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "1.1.1.1, 203.0.113.7".parse().unwrap());
        let from_proxy = SocketAddr::new(proxy, 1);
        let direct = "198.51.100.1:1".parse().unwrap();
        assert_eq!(
            limits.client_ip(Some(from_proxy), &h),
            Some("203.0.113.7".parse().unwrap())
        );
        assert_eq!(limits.client_ip(Some(direct), &h), Some(direct.ip()));
        assert_eq!(limits.client_ip(None, &h), None);
    }

    #[test]
    fn budgeted_routes() {
        use axum::http::Method;
        assert_eq!(
            Budget::of(&Method::GET, "/api/v1/auth/nonce"),
            Some(Budget::Nonce)
        );
        assert_eq!(
            Budget::of(&Method::POST, "/api/v1/sessions/current/whep"),
            Some(Budget::ListenOffer)
        );
        assert_eq!(Budget::of(&Method::POST, "/api/v1/sessions/3/whip"), None);
        assert_eq!(
            Budget::of(&Method::GET, "/chain/v1/roles/0xab"),
            Some(Budget::Lookup)
        );
        assert_eq!(Budget::of(&Method::GET, "/healthz"), None);
    }
}
