//! Delivery: one task per webhook, draining that webhook's queue in order. A slow, down or
//! failing endpoint holds up only its own task (bounded by the attempt timeout and the retry
//! schedule); every other webhook's task goes on. The queue is in the database, so a
//! restart resumes where the last attempt left it.

use std::sync::Arc;
use std::time::Duration;

use assembly_floor::clock;
use tokio::sync::{watch, Notify};

use super::db::{self, Pending};
use super::sign::{self, Outcome};
use super::Alerts;

impl Alerts {
    /// Wakes `webhook`'s task (starting it if it is not running): it has something queued,
    /// or was deleted.
    pub fn wake(self: &Arc<Self>, webhook: &str) {
        let mut workers = self.workers.lock();
        if let Some(n) = workers.get(webhook) {
            n.notify_one();
            return;
        }
        let notify = Arc::new(Notify::new());
        workers.insert(webhook.to_string(), notify.clone());
        tokio::spawn(run(
            self.clone(),
            webhook.to_string(),
            notify,
            self.shutdown.clone(),
        ));
    }

    /// Starts a task for every registered webhook (their queues may hold deliveries from
    /// before a restart).
    pub async fn resume(self: &Arc<Self>) {
        match self.with_db(db::all_webhooks).await {
            Ok(all) => {
                for (w, _, _) in all {
                    self.wake(&w.id);
                }
            }
            Err(e) => tracing::warn!(error = %e, "webhooks not resumed"),
        }
    }
}

/// One webhook's task, until it is deleted or the node stops.
async fn run(
    alerts: Arc<Alerts>,
    id: String,
    notify: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let key = id.clone();
        let next = alerts
            .with_db(move |c| {
                let hook = db::webhook_by_id(c, &key)?;
                let pending = db::next_delivery(c, &key)?;
                Ok(hook.map(|(w, _, secret)| (w.url, secret, pending)))
            })
            .await;
        let wait = match next {
            Ok(None) => {
                // Deleted: its queue went with it.
                alerts.workers.lock().remove(&id);
                return;
            }
            Ok(Some((url, secret, Some(p)))) => {
                let now = clock::now_ms();
                if p.next_ms <= now {
                    attempt(&alerts, &url, &secret, p).await;
                    continue;
                }
                Duration::from_millis(p.next_ms - now)
            }
            Ok(Some((_, _, None))) => Duration::from_secs(3600),
            Err(e) => {
                tracing::warn!(webhook = %id, error = %e, "webhook queue");
                Duration::from_secs(5)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = notify.notified() => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// One attempt at `p`, and what it leaves in the queue.
async fn attempt(alerts: &Arc<Alerts>, url: &str, secret: &str, p: Pending) {
    let timestamp = clock::now_s();
    let Some(signature) = sign::signature(secret, &p.msg_id, timestamp, p.body.as_bytes()) else {
        tracing::error!(msg = %p.msg_id, "a webhook's secret is malformed; delivery given up");
        alerts.metrics.webhooks_failed.inc();
        let _ = alerts.with_db(move |c| db::finish(c, p.seq)).await;
        return;
    };
    let sent = alerts
        .client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "assembly-node webhooks")
        .header("webhook-id", &p.msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(p.body.clone())
        .send()
        .await;
    let status = match &sent {
        Ok(r) => Some(r.status().as_u16()),
        Err(e) => {
            tracing::info!(msg = %p.msg_id, error = %e, "webhook endpoint unreachable");
            None
        }
    };
    let (seq, n) = (p.seq, p.attempts + 1);
    let result = match sign::judge(status) {
        Outcome::Delivered => {
            alerts.metrics.webhooks_delivered.inc();
            alerts.with_db(move |c| db::finish(c, seq)).await
        }
        Outcome::GiveUp => {
            tracing::info!(msg = %p.msg_id, ?status, "webhook refused by its endpoint");
            alerts.metrics.webhooks_failed.inc();
            alerts.with_db(move |c| db::finish(c, seq)).await
        }
        Outcome::Retry => match sign::retry_after(&alerts.config.retry_secs, n) {
            Some(wait) => {
                alerts.metrics.webhooks_retried.inc();
                let at = clock::now_ms() + wait.as_millis() as u64;
                alerts.with_db(move |c| db::retry_at(c, seq, n, at)).await
            }
            None => {
                tracing::info!(msg = %p.msg_id, attempts = n, "webhook delivery given up");
                alerts.metrics.webhooks_failed.inc();
                alerts.with_db(move |c| db::finish(c, seq)).await
            }
        },
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "webhook queue not updated");
        // Not to spin on a database that refuses writes.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::db::{Filter, Webhook};
    use crate::alerts::{EventKind, WebhooksConfig};
    use parking_lot::Mutex;

    /// A delivery still queued when the node stopped is sent after it starts again, signed,
    /// under its original id.
    #[tokio::test]
    async fn pending_deliveries_survive_a_restart() {
        let got: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
        let log = got.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |h: axum::http::HeaderMap, body: String| {
                let log = log.clone();
                async move {
                    let v = |n: &str| {
                        h.get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string()
                    };
                    log.lock().push((
                        v("webhook-id"),
                        v("webhook-timestamp"),
                        v("webhook-signature"),
                    ));
                    assert_eq!(body, r#"{"type":"floor.taken"}"#);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let dir = std::env::temp_dir().join(format!("alerts-restart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("alerts.sqlite");
        let _ = std::fs::remove_file(&path);
        let config = WebhooksConfig {
            allow_private: true,
            ..WebhooksConfig::default()
        };
        let (stop, stopped) = watch::channel(false);
        let secret = sign::new_secret();
        {
            let before =
                Alerts::open(&path, config.clone(), Arc::default(), stopped.clone()).unwrap();
            let (u, s) = (url.clone(), secret.clone());
            before
                .with_db(move |c| {
                    let w = Webhook {
                        id: "wh_1".into(),
                        url: u,
                        events: vec![EventKind::FloorTaken],
                        filter: Filter::default(),
                        created_ms: 0,
                    };
                    db::insert_webhook(c, "0xa", &w, &s, 10)?;
                    // Queued, never attempted: the node stops here.
                    db::enqueue(c, "wh_1", "msg_1", r#"{"type":"floor.taken"}"#, 0, 10)
                })
                .await
                .unwrap();
        }
        let metrics: Arc<crate::metrics::Metrics> = Arc::default();
        let after = Alerts::open(&path, config, metrics.clone(), stopped).unwrap();
        after.resume().await;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while got.lock().is_empty() {
            assert!(std::time::Instant::now() < deadline, "never delivered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (id, ts, sig) = got.lock()[0].clone();
        assert_eq!(id, "msg_1");
        let ts: u64 = ts.parse().unwrap();
        assert_eq!(
            sign::signature(&secret, &id, ts, br#"{"type":"floor.taken"}"#),
            Some(sig)
        );
        while metrics.webhooks_delivered.get() == 0 {
            assert!(std::time::Instant::now() < deadline, "not counted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = after
            .with_db(|c| db::next_delivery(c, "wh_1"))
            .await
            .unwrap();
        assert!(left.is_none(), "delivered and taken off the queue");
        let _ = stop.send(true);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
