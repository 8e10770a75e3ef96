//! One assembly seen from every node: each member tells the others, over HTTP with a node
//! token, the reactions given on it (each burst as it is gathered), the sessions signed out
//! on it (at once) and how many people it has connected (every two seconds). A member adds
//! what it is told to its own: its clients see every node's reactions, counts that are the
//! cluster's sums, and a sign-out anywhere ends the session everywhere. What a member is told
//! is bounded and checked ([`crate::reactions::Burst`]), never sent on. The same round keeps
//! the sign-in's trust current: the tokens accepted are those of the members' keys now.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use super::Cluster;
use crate::auth::Auth;
use crate::live::Hub;
use crate::presence::Listeners;
use crate::reactions::Burst;

/// How often counts are told when no reaction is.
const EVERY: Duration = Duration::from_secs(2);
/// How long one telling may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// What one member tells another.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Share {
    /// The people connected to the telling node, by role.
    pub counts: Listeners,
    /// The reactions given on it since its last burst, if any.
    pub burst: Option<Burst>,
    /// Sessions signed out on it: (session id, its end, seconds since the epoch).
    #[serde(default)]
    pub signed_out: Vec<(u64, u64)>,
}

/// The most sign-outs one share carries.
pub const MAX_SIGNED_OUT: usize = 64;

/// Tells the siblings `cluster` names what `hub` gathers, until `shutdown`.
pub async fn run(
    cluster: Arc<Cluster>,
    hub: Arc<Hub>,
    auth: Arc<Auth>,
    told: prometheus::IntCounterVec,
    mut shutdown: watch::Receiver<bool>,
) {
    let http = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client for the cluster");
            return;
        }
    };
    let mut bursts = hub.local_bursts.subscribe();
    let mut sign_outs = auth.signed_out();
    let mut tick = tokio::time::interval(EVERY);
    loop {
        let mut share = Share::default();
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
            b = bursts.recv() => match b {
                Ok(b) => share.burst = Some(b),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            o = sign_outs.recv() => match o {
                Ok(o) => share.signed_out.push(o),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
        while share.signed_out.len() < MAX_SIGNED_OUT {
            let Ok(o) = sign_outs.try_recv() else { break };
            share.signed_out.push(o);
        }
        let siblings = match cluster.siblings().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "reading the cluster's members");
                continue;
            }
        };
        auth.trust(siblings.iter().map(|m| m.node.key).collect());
        share.counts = hub.presence.counts();
        // Every sibling at once, each on its own: a slow one holds up no other, and the next
        // telling does not wait for this one.
        for sibling in siblings {
            let url = sibling.node.url.trim_end_matches('/').to_string();
            let token = cluster.live_token(&sibling.node.url);
            let (http, share, told) = (http.clone(), share.clone(), told.clone());
            tokio::spawn(async move {
                let ok = http
                    .post(format!("{url}/api/v1/cluster/live"))
                    .bearer_auth(token)
                    .json(&share)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                told.with_label_values(&[if ok { "ok" } else { "failed" }])
                    .inc();
            });
        }
    }
}
