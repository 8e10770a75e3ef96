//! One assembly seen from every node: each member tells the others, over HTTP with a node
//! token, the reactions given on it (each burst as it is gathered) and how many people it
//! has connected (every two seconds). A member adds what it is told to its own: its clients
//! see every node's reactions, and counts that are the cluster's sums. What a member is
//! told is bounded and checked ([`crate::reactions::Burst`]), never sent on.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use super::Cluster;
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
}

/// Tells the siblings `cluster` names what `hub` gathers, until `shutdown`.
pub async fn run(
    cluster: Arc<Cluster>,
    hub: Arc<Hub>,
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
    let mut tick = tokio::time::interval(EVERY);
    loop {
        let burst = tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => None,
            b = bursts.recv() => match b {
                Ok(b) => Some(b),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
        };
        let siblings = match cluster.siblings().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "reading the cluster's members");
                continue;
            }
        };
        let share = Share {
            counts: hub.presence.counts(),
            burst,
        };
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
