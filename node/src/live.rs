//! Live state: what every client sees — the sessions in progress with their floor and
//! queue, upcoming sessions, listener counts by role, and the server's clock — computed
//! from the embedded indexer, serialized once, and fanned out to every WebSocket. It is
//! recomputed the moment the indexer applies a block and at least every second (slots
//! begin and end with time, not only with blocks); it is sent only when it changed.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use assembly_archive::captions::Cue;
use assembly_archive::record::archive::Speech;
use assembly_floor::clock;
use assembly_indexer::events::{Kind, Speakers};
use assembly_indexer::floor;
use assembly_indexer::roles::{Role, Roles};
use assembly_indexer::store::{Store, Title};
use assembly_indexer::sync::{Change, Progress};
use assembly_media::{Gate, Plan, SignedAudio};
use axum::extract::ws::Utf8Bytes;
use serde::Serialize;
use tokio::sync::{broadcast, watch};
use utoipa::ToSchema;

use crate::captions::{CaptionMessage, CaptionTag, TranscriptMessage, TranscriptTag};
use crate::metrics::Metrics;
use crate::presence::{Listeners, Presence};
use crate::reactions::Reactions;

/// Someone on the floor or in the queue.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
pub struct Speaker {
    /// The speaker's wallet.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub address: Address,
    /// The speaker's Livepeer role, from the eligibility cache.
    pub role: Role,
    /// Stake in LPT base units (hex): an orchestrator's total, a delegator's pending stake.
    #[schema(value_type = String)]
    pub stake: U256,
}

/// One slot of a live queue.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
pub struct QueueEntry {
    /// The request's position in the occurrence's queue, from 0.
    pub index: u32,
    /// The wallet that asked for the floor.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub speaker: Address,
    /// When the slot begins by the floor rule, seconds since the epoch.
    pub start: u64,
    /// When it ends (exclusive), seconds since the epoch.
    pub end: u64,
    /// From blocks deep enough to be final.
    #[serde(rename = "final")]
    pub is_final: bool,
}

/// A session in progress.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
pub struct LiveSession {
    /// The contract's session id.
    pub session: u64,
    /// The occurrence in progress, from 0.
    pub occurrence: u32,
    /// What the session is for.
    pub kind: Kind,
    /// Who may ask for the floor.
    pub speakers: Speakers,
    /// The governor proposal a debate is about, in decimal; null for an open floor.
    pub proposal_id: Option<String>,
    /// When the occurrence began, seconds since the epoch.
    pub start: u64,
    /// When it ends (exclusive), seconds since the epoch; null for an always-open floor.
    pub end: Option<u64>,
    /// The longest one speaker holds the floor, in seconds.
    pub slot_length: u64,
    /// Who holds the floor now, and until when.
    pub floor: Option<Floor>,
    /// The holder and everyone waiting, in order.
    pub queue: Vec<QueueEntry>,
}

/// Who holds the floor of a session now.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
pub struct Floor {
    /// Who holds it, with their role and stake.
    pub speaker: Speaker,
    /// When the slot began, seconds since the epoch.
    pub start: u64,
    /// When it ends (exclusive).
    pub end: u64,
}

/// A coming occurrence.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
pub struct Upcoming {
    /// The contract's session id.
    pub session: u64,
    /// Which occurrence of the session, from 0.
    pub occurrence: u32,
    /// What the session is for.
    pub kind: Kind,
    /// The governor proposal a debate is about, or its poll's address, in decimal; null for
    /// an open floor.
    pub proposal_id: Option<String>,
    /// What the debate is about (a governor proposal's title, an LIP's number and title, or
    /// the poll's content identifier until its text is resolved); null for an open floor.
    pub title: Option<Title>,
    /// When the occurrence begins, seconds since the epoch.
    pub start: u64,
    /// When it ends (exclusive), seconds since the epoch.
    pub end: u64,
    /// For a debate, when the vote it precedes closes (seconds since the epoch, as the
    /// debate's opening computed it from the chain).
    pub vote_closes_at: Option<u64>,
}

/// The live state, without the clock.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
pub struct LiveState {
    /// The session clients should show first: a debate over a scheduled floor over the
    /// always-open one.
    pub current: Option<u64>,
    /// Every session in progress now.
    pub live: Vec<LiveSession>,
    /// Occurrences starting in the next 14 days, at most 3 per session.
    pub upcoming: Vec<Upcoming>,
    /// Open live connections by role.
    pub listeners: Listeners,
    /// The highest block the indexer has applied; null before the first.
    pub head_block: Option<u64>,
}

/// A message the hub sends to every client on `/api/v1/live` (the connection's own `error`
/// frames are built by the socket, see `ErrorMessage`).
// Untagged, with the tag a field of each message, so that each message's schema carries
// its `type` and `GET /api/v1/state` can be documented as exactly the `state` message.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum Outgoing<'a> {
    /// The live state.
    State(StateMessage<'a>),
    /// A reaction burst.
    Reactions(ReactionsMessage<'a>),
    /// A live caption.
    Caption(CaptionMessage<'a>),
    /// A speech's final transcript, replacing its captions.
    Transcript(TranscriptMessage<'a>),
}

/// The `type` of a [`StateMessage`].
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateTag {
    /// The only value.
    State,
}

/// The `type` of a [`ReactionsMessage`].
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReactionsTag {
    /// The only value.
    Reactions,
}

/// The live state with the server's clock: the first message on `/api/v1/live`, every
/// change after, and the body of `GET /api/v1/state`.
#[derive(Serialize, ToSchema)]
pub struct StateMessage<'a> {
    /// Always `state`.
    pub r#type: StateTag,
    /// The server's clock, milliseconds since the epoch (clients count down by it).
    pub server_time_ms: u64,
    /// The live state itself, its fields inlined in the message.
    #[serde(flatten)]
    pub state: &'a LiveState,
}

/// One burst of reactions, aggregated every 250 ms, with the server's clock.
#[derive(Serialize, ToSchema)]
pub struct ReactionsMessage<'a> {
    /// Always `reactions`.
    pub r#type: ReactionsTag,
    /// The server's clock, milliseconds since the epoch.
    pub server_time_ms: u64,
    /// The reactions of the burst, their fields inlined in the message.
    #[serde(flatten)]
    pub burst: &'a crate::reactions::Burst,
}

/// The fan-out point.
pub struct Hub {
    /// The indexer's store the live state is computed from.
    pub store: Arc<Store>,
    /// The eligibility cache that gives speakers their role and stake.
    pub roles: Arc<Roles>,
    /// The node's metrics.
    pub metrics: Arc<Metrics>,
    /// Who is connected: the listener counts.
    pub presence: Arc<Presence>,
    /// The reaction aggregator whose bursts the hub fans out.
    pub reactions: Reactions,
    // Messages are serialized once and shared: a clone is a reference count, not a copy.
    /// The follower's progress: what is final is its call, not the hub's.
    progress: watch::Receiver<Progress>,
    tx: broadcast::Sender<Utf8Bytes>,
    latest: RwLock<(Option<LiveState>, Utf8Bytes)>,
    /// Who may be heard when: the media path's gate.
    gate: watch::Sender<Gate>,
    /// The bursts of reactions given on this node, for the cluster's other members.
    pub local_bursts: broadcast::Sender<crate::reactions::Burst>,
}

/// One session's floor as the chain gives it: what both the live state and the gate are
/// computed from.
struct Timeline {
    session: u64,
    occurrence: u32,
    speakers: Speakers,
    slots: Vec<floor::Slot>,
    signed_audio: bool,
}

fn priority(kind: Kind, always_on: bool) -> u8 {
    match (kind, always_on) {
        (Kind::LipDebate | Kind::TreasuryDebate | Kind::GovernorDebate, _) => 3,
        (Kind::OpenFloor, false) => 2,
        (Kind::OpenFloor, true) => 1,
    }
}

impl Hub {
    /// A hub with no state computed yet; `run` computes and sends it.
    pub fn new(
        store: Arc<Store>,
        roles: Arc<Roles>,
        metrics: Arc<Metrics>,
        reactions: Reactions,
        progress: watch::Receiver<Progress>,
    ) -> Self {
        let (tx, _) = broadcast::channel(256);
        Self {
            store,
            roles,
            metrics,
            presence: Arc::default(),
            reactions,
            progress,
            tx,
            latest: RwLock::new((None, Utf8Bytes::from_static("{}"))),
            gate: watch::channel(Gate::default()).0,
            local_bursts: broadcast::channel(64).0,
        }
    }

    /// The media path's gate, updated with every published state.
    pub fn gate(&self) -> watch::Receiver<Gate> {
        self.gate.subscribe()
    }

    /// The last state computed.
    pub fn state(&self) -> Option<LiveState> {
        self.latest.read().0.clone()
    }

    /// The gate over `timelines`, leaving out slots whose holder's role on chain no longer
    /// lets them speak (the contract judged eligibility at the request; the gate judges now).
    /// Only slots still to end at `now` are looked up: the gate never hears an ended one.
    async fn gate_of(&self, timelines: &[Timeline], now: u64) -> Gate {
        let mut plans = HashMap::with_capacity(timelines.len());
        for t in timelines {
            let mut ineligible = Vec::new();
            for slot in t.slots.iter().filter(|s| !s.withdrawn && s.end > now) {
                let eligible = match self.roles.standing(slot.speaker).await {
                    Ok(st) => floor::may_speak(st.role, t.speakers),
                    // The chain accepted the request; an unreachable RPC does not undo that.
                    Err(_) => true,
                };
                if !eligible {
                    ineligible.push(slot.speaker);
                }
            }
            let live = t
                .slots
                .iter()
                .filter(|s| s.end > now)
                .copied()
                .collect::<Vec<_>>();
            let policy = if t.signed_audio {
                SignedAudio::Required
            } else {
                SignedAudio::Counted
            };
            let plan = Plan::new(t.occurrence, t.speakers, &live, |a| {
                !ineligible.contains(&a)
            })
            .with_signed_audio(policy);
            plans.insert(t.session, plan);
        }
        Gate::new(plans)
    }

    /// Messages for one client, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Utf8Bytes> {
        self.tx.subscribe()
    }

    /// The last state message sent.
    pub fn latest(&self) -> Utf8Bytes {
        self.latest.read().1.clone()
    }

    async fn speaker(&self, address: Address) -> Speaker {
        match self.roles.standing(address).await {
            Ok(s) => Speaker {
                address,
                role: s.role,
                stake: s.stake,
            },
            Err(e) => {
                tracing::warn!(%address, error = %e, "role lookup failed");
                Speaker {
                    address,
                    role: Role::Observer,
                    stake: U256::ZERO,
                }
            }
        }
    }

    /// Computes the state at `now` from the store.
    pub async fn compute(&self, now: u64) -> anyhow::Result<LiveState> {
        Ok(self.snapshot(now).await?.0)
    }

    /// The state at `now` and the floor timelines it was computed from.
    async fn snapshot(&self, now: u64) -> anyhow::Result<(LiveState, Vec<Timeline>)> {
        // Every store read in one blocking task; only role lookups (which may go to the
        // chain) stay async.
        let store = self.store.clone();
        let (rows, head, mut timelines, mut titles, mut closes) =
            tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let rows = store.sessions()?;
                let head = store.head()?.map(|b| b.number);
                let mut timelines = HashMap::new();
                let mut titles = HashMap::new();
                let mut closes = HashMap::new();
                for row in &rows {
                    if !row.proposal_id.is_zero() {
                        if let Some(t) = store.title(row.proposal_id)? {
                            titles.insert(row.id, t);
                        }
                        if let Some((_, at)) = store.debate_of(row.proposal_id)? {
                            closes.insert(row.id, at);
                        }
                    }
                    if let Some(occurrence) = row.schedule.containing(now) {
                        timelines.insert(row.id, (occurrence, store.timeline(row, occurrence)?));
                    }
                }
                Ok((rows, head, timelines, titles, closes))
            })
            .await??;
        let finalized = self.progress.borrow().finalized;
        let mut live = Vec::new();
        let mut upcoming = Vec::new();
        let mut best: Option<(u8, u64)> = None;
        let mut floors = Vec::new();
        for row in &rows {
            let s = row.schedule;
            let always_on = s.duration == floor::FOREVER;
            let proposal_id = (!row.proposal_id.is_zero()).then(|| row.proposal_id.to_string());
            let title = titles.remove(&row.id);
            let vote_closes_at = closes.remove(&row.id);
            for (occurrence, start, end) in s.occurrences(now, now + 14 * 86_400, 3) {
                if start > now {
                    upcoming.push(Upcoming {
                        session: row.id,
                        occurrence,
                        kind: row.kind,
                        proposal_id: proposal_id.clone(),
                        title: title.clone(),
                        start,
                        end,
                        vote_closes_at,
                    });
                }
            }
            let Some((occurrence, (span, slots, requests))) = timelines.remove(&row.id) else {
                continue;
            };
            let queue: Vec<QueueEntry> = slots
                .iter()
                .zip(&requests)
                .filter(|(slot, _)| !slot.withdrawn && slot.end > now && slot.start < slot.end)
                .map(|(slot, r)| QueueEntry {
                    index: slot.index,
                    speaker: slot.speaker,
                    start: slot.start,
                    end: slot.end,
                    is_final: r.last_block <= finalized,
                })
                .collect();
            let floor = match floor::holder_at(&slots, now) {
                Some(slot) => Some(Floor {
                    speaker: self.speaker(slot.speaker).await,
                    start: slot.start,
                    end: slot.end,
                }),
                None => None,
            };
            let p = priority(row.kind, always_on);
            if best.is_none_or(|(bp, _)| p > bp) {
                best = Some((p, row.id));
            }
            live.push(LiveSession {
                session: row.id,
                occurrence,
                kind: row.kind,
                speakers: row.speakers,
                proposal_id,
                start: span.start,
                end: (!always_on).then_some(span.end),
                slot_length: s.slot_length,
                floor,
                queue,
            });
            floors.push(Timeline {
                session: row.id,
                occurrence,
                speakers: row.speakers,
                slots,
                signed_audio: row.signed_audio,
            });
        }
        upcoming.sort_by_key(|u| u.start);
        upcoming.truncate(10);
        // The cluster's: this node's own, and what its siblings last said of theirs.
        let listeners = self.presence.counts_with_siblings();
        let state = LiveState {
            current: best.map(|(_, id)| id),
            live,
            upcoming,
            listeners,
            head_block: head,
        };
        Ok((state, floors))
    }

    /// Recomputes and, if anything changed, sends the state to everyone.
    pub async fn publish(&self) {
        let now = clock::now_s();
        let (state, timelines) = match self.snapshot(now).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "live state not computed");
                return;
            }
        };
        let gate = self.gate_of(&timelines, now).await;
        self.gate.send_if_modified(|old| {
            let changed = *old != gate;
            if changed {
                *old = gate;
            }
            changed
        });
        if self.latest.read().0.as_ref() == Some(&state) {
            return;
        }
        let text: Utf8Bytes = match serde_json::to_string(&Outgoing::State(StateMessage {
            r#type: StateTag::State,
            server_time_ms: clock::now_ms(),
            state: &state,
        })) {
            Ok(t) => t.into(),
            Err(_) => return,
        };
        *self.latest.write() = (Some(state), text.clone());
        self.metrics.state_broadcasts.inc();
        let _ = self.tx.send(text);
    }

    /// Sends a live caption to everyone.
    pub fn caption(&self, cue: &Cue) {
        let msg = Outgoing::Caption(CaptionMessage {
            r#type: CaptionTag::Caption,
            server_time_ms: clock::now_ms(),
            cue,
        });
        if let Ok(t) = serde_json::to_string(&msg) {
            let _ = self.tx.send(t.into());
        }
    }

    /// Sends a speech's final transcript to everyone: it replaces that speech's captions.
    pub fn transcript(&self, speech: &Speech, text: &str) {
        let msg = Outgoing::Transcript(TranscriptMessage {
            r#type: TranscriptTag::Transcript,
            server_time_ms: clock::now_ms(),
            session: speech.session,
            speech: speech.id,
            speaker: &speech.speaker,
            slot_start: speech.slot_start,
            started_ms: speech.started_ms,
            ended_ms: speech.ended_ms,
            text,
        });
        if let Ok(t) = serde_json::to_string(&msg) {
            let _ = self.tx.send(t.into());
        }
    }

    fn send_burst(&self) {
        if let Some((burst, local)) = self.reactions.drain() {
            if let Some(local) = local {
                // To the cluster's other members; nobody listening is no loss.
                let _ = self.local_bursts.send(local);
            }
            if let Ok(t) = serde_json::to_string(&Outgoing::Reactions(ReactionsMessage {
                r#type: ReactionsTag::Reactions,
                server_time_ms: clock::now_ms(),
                burst: &burst,
            })) {
                self.metrics.reaction_bursts.inc();
                let _ = self.tx.send(t.into());
            }
        }
    }

    /// Drives the hub until `shutdown`: indexer changes publish at once, the clock at least
    /// every `tick`, reactions every `burst_every`.
    pub async fn run(
        self: Arc<Self>,
        mut changes: broadcast::Receiver<Change>,
        tick: Duration,
        burst_every: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut clock = tokio::time::interval(tick);
        let mut bursts = tokio::time::interval(burst_every);
        let mut pruned = Instant::now();
        loop {
            tokio::select! {
                c = changes.recv() => {
                    match c {
                        Ok(change) => {
                            self.roles.observe(&change);
                            if let Change::Applied { block, .. } = change {
                                self.metrics.indexer_head.set(block as i64);
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                    }
                    self.publish().await;
                }
                _ = clock.tick() => {
                    self.publish().await;
                    if pruned.elapsed() > Duration::from_secs(60) {
                        self.reactions.prune();
                        pruned = Instant::now();
                    }
                }
                _ = bursts.tick() => self.send_burst(),
                _ = shutdown.changed() => return,
            }
        }
    }
}
