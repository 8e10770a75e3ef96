//! What the webhooks announce, and to whom. "X took the floor" is read from the live state
//! the hub has already computed (never recomputed here), "a debate opened" from the
//! indexer's sessions, "a word was said" from the Hansard's announcements. This task only
//! reads and queues; delivery is [`super::deliver`]'s, so nothing here waits on a receiver.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use assembly_archive::hansard::Transcribed;
use assembly_floor::clock;
use assembly_indexer::store::Store;
use serde_json::json;
use tokio::sync::{broadcast, watch};

use super::db::{self, Webhook};
use super::sign;
use super::{Alerts, Event, EventKind};
use crate::live::Hub;

/// Whether `w` wants `e`, and for `hansard.word` which of its words were said.
fn wants(w: &Webhook, e: &Event) -> Option<Vec<String>> {
    if !w.events.contains(&e.kind) {
        return None;
    }
    if let Some(want) = &w.filter.speaker {
        if e.kind != EventKind::DebateOpened
            && !e
                .speaker
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(want))
        {
            return None;
        }
    }
    if e.kind != EventKind::HansardWord {
        return Some(Vec::new());
    }
    let text = e.text.as_deref().unwrap_or_default().to_lowercase();
    let said: Vec<String> = w
        .filter
        .words
        .iter()
        .filter(|word| text.contains(&word.to_lowercase()))
        .cloned()
        .collect();
    (!said.is_empty()).then_some(said)
}

/// The delivery body: Standard Webhooks' `{type, timestamp, data}`.
fn body(e: &Event, said: &[String]) -> String {
    let mut data = e.data.clone();
    if e.kind == EventKind::HansardWord {
        data["words"] = json!(said);
    }
    let at = chrono::DateTime::from_timestamp_millis(e.at_ms.min(i64::MAX as u64) as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!({ "type": e.kind.name(), "timestamp": at, "data": data }).to_string()
}

impl Alerts {
    /// Queues `e` for every webhook that wants it, once per event however often it is seen.
    pub async fn emit(self: &Arc<Self>, e: Event) {
        let max = self.config.max_queue;
        let queued = self
            .with_db(move |c| {
                if !db::announce(c, &e.key, e.at_ms)? {
                    return Ok((Vec::new(), 0));
                }
                let (mut woken, mut dropped) = (Vec::new(), 0);
                for (w, _, _) in db::all_webhooks(c)? {
                    if let Some(said) = wants(&w, &e) {
                        let id = sign::message_id(&w.id, &e.key);
                        dropped +=
                            db::enqueue(c, &w.id, &id, &body(&e, &said), clock::now_ms(), max)?;
                        woken.push(w.id);
                    }
                }
                Ok((woken, dropped))
            })
            .await;
        match queued {
            Ok((woken, dropped)) => {
                self.metrics.webhooks_dropped.inc_by(dropped as u64);
                for id in woken {
                    self.wake(&id);
                }
            }
            Err(e) => tracing::warn!(error = %e, "event not queued"),
        }
    }

    /// Watches the hub, the indexer and the Hansard until `shutdown`.
    pub async fn watch(
        self: Arc<Self>,
        hub: Arc<Hub>,
        mut transcribed: broadcast::Receiver<Transcribed>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut states = hub.subscribe();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut floors: HashSet<String> = HashSet::new();
        let mut debates: HashSet<u64> = HashSet::new();
        // Without a transcriber the Hansard's sender is dropped: then words never come.
        let mut hansard_open = true;
        self.prime(&hub.store).await;
        loop {
            tokio::select! {
                m = states.recv() => {
                    if matches!(m, Err(broadcast::error::RecvError::Closed)) {
                        return;
                    }
                    self.floors(&hub, &mut floors).await;
                }
                _ = tick.tick() => {
                    self.floors(&hub, &mut floors).await;
                    self.debates(&hub.store, &mut debates).await;
                }
                t = transcribed.recv(), if hansard_open => match t {
                    Ok(t) => self.emit(word(t)).await,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "word alerts fell behind the Hansard");
                    }
                    Err(broadcast::error::RecvError::Closed) => hansard_open = false,
                },
                _ = shutdown.changed() => return,
            }
        }
    }

    /// A floor newly held in any live session.
    async fn floors(self: &Arc<Self>, hub: &Hub, seen: &mut HashSet<String>) {
        let Some(state) = hub.state() else { return };
        let mut now_held = HashSet::new();
        for s in &state.live {
            let Some(f) = &s.floor else { continue };
            let speaker = format!("{:#x}", f.speaker.address);
            let key = format!(
                "floor.taken:{}:{}:{}:{speaker}",
                s.session, s.occurrence, f.start
            );
            now_held.insert(key.clone());
            if seen.contains(&key) {
                continue;
            }
            self.emit(Event {
                kind: EventKind::FloorTaken,
                key,
                speaker: Some(speaker.clone()),
                text: None,
                data: json!({
                    "session": s.session, "occurrence": s.occurrence, "kind": s.kind,
                    "proposal_id": s.proposal_id, "speaker": f.speaker.address,
                    "role": f.speaker.role, "slot_start": f.start, "slot_end": f.end,
                }),
                at_ms: f.start.saturating_mul(1000),
            })
            .await;
        }
        *seen = now_held;
    }

    /// Marks the debates that exist before alerts ever ran as announced, once: subscribers
    /// hear of debates opened from then on, not of the chain's history. (Debates opened while
    /// the node was down are announced when it is back: `announced` has no record of them.)
    async fn prime(self: &Arc<Self>, store: &Arc<Store>) {
        let store = store.clone();
        let rows = match tokio::task::spawn_blocking(move || store.sessions()).await {
            Ok(Ok(rows)) => rows,
            _ => {
                tracing::warn!("debate alerts not primed: the sessions could not be read");
                return;
            }
        };
        let ids: Vec<u64> = rows
            .iter()
            .filter(|r| !r.proposal_id.is_zero())
            .map(|r| r.id)
            .collect();
        let primed = self
            .with_db(move |c| {
                let first = db::announce(c, "primed:debate.opened", clock::now_ms())?;
                if first {
                    for id in &ids {
                        db::announce(c, &format!("debate.opened:{id}"), clock::now_ms())?;
                    }
                }
                Ok(())
            })
            .await;
        if let Err(e) = primed {
            tracing::warn!(error = %e, "debate alerts not primed");
        }
    }

    /// Debate sessions created since the last look.
    async fn debates(self: &Arc<Self>, store: &Arc<Store>, seen: &mut HashSet<u64>) {
        let store = store.clone();
        let known = seen.clone();
        let fresh = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<Event>> {
            let mut out = Vec::new();
            for row in store.sessions()? {
                if row.proposal_id.is_zero() || known.contains(&row.id) {
                    continue;
                }
                let title = store.title(row.proposal_id)?;
                let closes = store.debate_of(row.proposal_id)?.map(|(_, at)| at);
                out.push(Event {
                    kind: EventKind::DebateOpened,
                    key: format!("debate.opened:{}", row.id),
                    speaker: None,
                    text: None,
                    data: json!({
                        "session": row.id, "kind": row.kind,
                        "proposal_id": row.proposal_id.to_string(), "title": title,
                        "start": row.schedule.start, "vote_closes_at": closes,
                    }),
                    at_ms: clock::now_ms(),
                });
            }
            Ok(out)
        })
        .await;
        match fresh {
            Ok(Ok(events)) => {
                for e in events {
                    if let Some(id) = e.data["session"].as_u64() {
                        seen.insert(id);
                    }
                    self.emit(e).await;
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "debates not read"),
            Err(e) => tracing::warn!(error = %e, "debates not read"),
        }
    }
}

/// A stored transcript as an event (matched against each webhook's words).
fn word(t: Transcribed) -> Event {
    let excerpt: String = t.text.chars().take(500).collect();
    Event {
        kind: EventKind::HansardWord,
        key: format!("hansard.word:{}", t.speech.id),
        speaker: Some(t.speech.speaker.to_lowercase()),
        data: json!({
            "speech": t.speech.id, "session": t.speech.session,
            "occurrence": t.speech.occurrence, "speaker": t.speech.speaker,
            "started_ms": t.speech.started_ms, "text": excerpt,
            "audio": format!("/api/v1/archive/speeches/{}/audio", t.speech.id),
        }),
        text: Some(t.text),
        at_ms: clock::now_ms(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::db::Filter;

    fn hook(events: Vec<EventKind>, filter: Filter) -> Webhook {
        Webhook {
            id: "w".into(),
            url: "https://h.example".into(),
            events,
            filter,
            created_ms: 0,
        }
    }

    fn said(text: &str, speaker: &str) -> Event {
        Event {
            kind: EventKind::HansardWord,
            key: "k".into(),
            speaker: Some(speaker.into()),
            text: Some(text.into()),
            data: json!({}),
            at_ms: 0,
        }
    }

    #[test]
    fn words_and_speakers_narrow_what_is_sent() {
        let words = Filter {
            words: vec!["Treasury".into(), "fee cut".into()],
            speaker: None,
        };
        let w = hook(vec![EventKind::HansardWord], words.clone());
        assert_eq!(
            wants(&w, &said("the treasury should fund it", "0xa")),
            Some(vec!["Treasury".into()])
        );
        assert_eq!(
            wants(&w, &said("a FEE CUT now", "0xa")),
            Some(vec!["fee cut".into()])
        );
        assert_eq!(wants(&w, &said("nothing of note", "0xa")), None);
        let only_b = hook(
            vec![EventKind::HansardWord],
            Filter {
                speaker: Some("0xB".into()),
                ..words
            },
        );
        assert_eq!(wants(&only_b, &said("treasury", "0xa")), None);
        assert!(wants(&only_b, &said("treasury", "0xb")).is_some());
        let floors = hook(vec![EventKind::FloorTaken], Filter::default());
        assert_eq!(
            wants(&floors, &said("treasury", "0xb")),
            None,
            "not subscribed"
        );
        let b = body(&said("x", "0xa"), &["x".into()]);
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(
            (v["type"].as_str(), v["data"]["words"][0].as_str()),
            (Some("hansard.word"), Some("x"))
        );
        assert_eq!(v["timestamp"], "1970-01-01T00:00:00.000Z");
    }
}
