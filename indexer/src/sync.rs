//! The follower. Each step either backfills a batch of final blocks with one `eth_getLogs`
//! over a range, follows one unconfirmed block by hash, or rolls back one orphaned block;
//! every step is idempotent and commits atomically with its checkpoint, so any error (a
//! dropped connection, a rate limit, a timeout, a process killed) is handled the same way:
//! back off and take the step again.

use std::sync::Arc;
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::bindings::livepeer::{IPoll, IPollCreator};
use crate::deployment::Deployment;
use crate::events::{self, Event, Position};
use crate::store::{BlockRef, Store, StoreError};

/// How the follower behaves.
#[derive(Clone, Debug)]
pub struct SyncConfig {
    /// Blocks below `latest - confirmations` are final: backfilled by range, never rolled back.
    pub confirmations: u64,
    /// The largest block range asked of `eth_getLogs`; halved when the RPC refuses a range.
    pub max_batch: u64,
    /// How often to look for new blocks without a subscription.
    pub poll_interval: Duration,
    /// How long any one RPC call may take before it counts as failed.
    pub rpc_timeout: Duration,
    /// Longest pause between retries.
    pub max_backoff: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            confirmations: 12,
            max_batch: 5_000,
            poll_interval: Duration::from_millis(500),
            rpc_timeout: Duration::from_secs(10),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Why a step failed; every one is retried.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// An RPC call failed (connection, rate limit, bad answer); the provider's message.
    #[error("rpc: {0}")]
    Rpc(String),
    /// An RPC call took longer than `rpc_timeout`, which it carries.
    #[error("rpc call timed out after {0:?}")]
    Timeout(Duration),
    /// The RPC had no block at this height (it is behind, or the block was just orphaned).
    #[error("rpc returned no block {0}")]
    MissingBlock(u64),
    /// The RPC serves another chain than the deployment's.
    #[error("rpc is on chain {found}, the deployment is on chain {expected}")]
    WrongChain {
        /// The deployment's chain id.
        expected: u64,
        /// The chain id the RPC reports.
        found: u64,
    },
    /// The store refused or failed a read or write.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blocking task that ran a store call panicked or was cancelled.
    #[error("store task failed: {0}")]
    Join(String),
}

/// What changed, for whoever follows the indexer (the node, the HTTP change stream).
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// Blocks up to `block` are applied; `events` are the events they held.
    Applied {
        /// The highest block now applied.
        block: u64,
        /// That block's hash.
        hash: B256,
        /// That block's timestamp, unix seconds.
        timestamp: u64,
        /// The finalized height (`latest - confirmations`) when the step ran.
        finalized: u64,
        /// The events those blocks held, in chain order.
        events: Vec<Event>,
    },
    /// Blocks above `block` were orphaned and their effects undone.
    RolledBack {
        /// The highest block still applied, the common ancestor with the new chain.
        block: u64,
    },
}

/// Progress, observable while the follower runs.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Progress {
    /// The highest applied block; None before the first block is applied.
    pub head: Option<u64>,
    /// The chain tip the RPC last reported.
    pub latest: u64,
    /// The highest block below the confirmation depth, never rolled back.
    pub finalized: u64,
    /// Whether the follower has applied every block up to `latest`.
    pub caught_up: bool,
}

/// What a step did.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Backfilled(u64),
    Followed(u64),
    RolledBack(u64),
    CaughtUp,
}

/// Follows one deployment into one store.
pub struct Follower {
    provider: DynProvider,
    store: Arc<Store>,
    deployment: Deployment,
    config: SyncConfig,
    batch: u64,
    changes: broadcast::Sender<Change>,
    progress: watch::Sender<Progress>,
    websocket: bool,
}

impl Follower {
    /// Connects to `rpc_url` (http(s) or ws(s)) and checks it serves the deployment's chain.
    pub async fn connect(
        rpc_url: &str,
        store: Arc<Store>,
        deployment: Deployment,
        config: SyncConfig,
    ) -> Result<Self, SyncError> {
        let provider = ProviderBuilder::new()
            .connect(rpc_url)
            .await
            .map_err(|e| SyncError::Rpc(format!("connecting to {rpc_url}: {e}")))?
            .erased();
        let found = timeout(config.rpc_timeout, provider.get_chain_id()).await?;
        if found != deployment.chain_id {
            return Err(SyncError::WrongChain {
                expected: deployment.chain_id,
                found,
            });
        }
        let store2 = store.clone();
        let (chain, assembly) = (deployment.chain_id, deployment.assembly);
        blocking(move || store2.bind(chain, assembly)).await?;
        let websocket = rpc_url.starts_with("ws");
        Ok(Self::new(provider, store, deployment, config, websocket))
    }

    /// A follower over an existing provider.
    pub fn new(
        provider: DynProvider,
        store: Arc<Store>,
        deployment: Deployment,
        config: SyncConfig,
        websocket: bool,
    ) -> Self {
        let (changes, _) = broadcast::channel(1024);
        let (progress, _) = watch::channel(Progress::default());
        let batch = config.max_batch;
        Self {
            provider,
            store,
            deployment,
            config,
            batch,
            changes,
            progress,
            websocket,
        }
    }

    /// Changes as they are applied.
    pub fn changes(&self) -> broadcast::Sender<Change> {
        self.changes.clone()
    }

    /// Progress as it is made.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    /// Runs until `shutdown` fires: steps, backing off after errors, waiting for new blocks
    /// (from a subscription when the RPC offers one, by polling otherwise) once caught up.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(100);
        let mut heads = None;
        if self.websocket {
            match self.provider.subscribe_blocks().await {
                Ok(sub) => heads = Some(sub.into_stream()),
                Err(e) => tracing::warn!(error = %e, "no block subscription; polling instead"),
            }
        }
        loop {
            if *shutdown.borrow() {
                return;
            }
            match self.step().await {
                Ok(Step::CaughtUp) => {
                    backoff = Duration::from_millis(100);
                    let wait = tokio::time::sleep(self.config.poll_interval);
                    tokio::select! {
                        _ = wait => {}
                        // A dropped sender stops the follower too: `changed` would
                        // otherwise answer at once, every time, and the loop would spin.
                        r = shutdown.changed() => if r.is_err() { return; },
                        Some(_) = async { match heads.as_mut() { Some(h) => h.next().await, None => std::future::pending().await } } => {}
                    }
                }
                Ok(_) => backoff = Duration::from_millis(100),
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "indexer step failed");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        r = shutdown.changed() => if r.is_err() { return; },
                    }
                    backoff = (backoff * 2).min(self.config.max_backoff);
                }
            }
        }
    }

    /// Steps until caught up with the chain head; for tests, tools and benchmarks.
    pub async fn sync_to_head(&mut self) -> Result<Progress, SyncError> {
        let mut failures = 0;
        loop {
            match self.step().await {
                Ok(Step::CaughtUp) => return Ok(*self.progress.borrow()),
                Ok(_) => failures = 0,
                Err(e) if failures < 20 => {
                    failures += 1;
                    tracing::debug!(error = %e, "step failed; retrying");
                    tokio::time::sleep(Duration::from_millis(20 * failures)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn step(&mut self) -> Result<Step, SyncError> {
        let t = self.config.rpc_timeout;
        let latest = timeout(t, self.provider.get_block_number()).await?;
        let store = self.store.clone();
        let head = blocking(move || store.head()).await?;
        let next = head.map_or(self.deployment.deploy_block, |h| h.number + 1);
        let finalized = latest.saturating_sub(self.config.confirmations);
        let report = |caught_up| Progress {
            head: head.map(|h| h.number),
            latest,
            finalized,
            caught_up,
        };

        if next > latest {
            // The chain may have shrunk under us (a reorg to a shorter chain).
            if let Some(h) = head {
                let canonical = self.header(h.number).await;
                if !matches!(canonical, Ok(ref b) if b.hash == h.hash) {
                    return self.roll_back(h.number).await;
                }
            }
            self.progress.send_replace(report(true));
            return Ok(Step::CaughtUp);
        }

        if next <= finalized && head.is_none_or(|h| h.number < finalized) {
            // Backfill final blocks by range. The range continues the stored head's chain
            // only if that head is still canonical (a deep reorg, past the confirmation depth,
            // would otherwise go unnoticed), so that is checked first.
            if let Some(h) = head {
                let canonical = self.header(h.number).await?;
                if canonical.hash != h.hash {
                    return self.roll_back(h.number).await;
                }
            }
            let to = finalized.min(next + self.batch - 1);
            let filter = Filter::new().from_block(next).to_block(to);
            let logs = match self.logs(filter).await {
                Ok(logs) => {
                    self.batch = (self.batch * 2).min(self.config.max_batch);
                    logs
                }
                Err(e) => {
                    // Providers refuse wide ranges or big answers; ask for less next time.
                    self.batch = (self.batch / 2).max(1);
                    return Err(e);
                }
            };
            let end = self.header(to).await?;
            let mut events = decode_all(&logs, &self.deployment, |p| {
                p.block >= next && p.block <= to
            });
            self.name_poll_creators(&mut events).await?;
            self.commit(end, events, finalized).await?;
            self.progress.send_replace(report(false));
            return Ok(Step::Backfilled(to));
        }

        // Follow one unconfirmed block, by hash, after checking it extends our head.
        let block = self.header(next).await?;
        if let Some(h) = head {
            if block.parent_hash != h.hash {
                return self.roll_back(h.number).await;
            }
        }
        let logs = self.logs(Filter::new().at_block_hash(block.hash)).await?;
        let mut events = decode_all(&logs, &self.deployment, |p| {
            p.block == block.number && p.block_hash == block.hash
        });
        self.name_poll_creators(&mut events).await?;
        self.commit(block, events, finalized).await?;
        self.progress.send_replace(report(next == latest));
        Ok(Step::Followed(next))
    }

    /// Fills in each new poll's creator from its transaction: PollCreated does not name
    /// them, and the agenda shows who proposed what. Polls are rare (a few a year), so one
    /// lookup each; a failed lookup fails the batch, which is retried like any RPC error.
    async fn name_poll_creators(
        &self,
        events: &mut [(Position, Result<Event, String>)],
    ) -> Result<(), SyncError> {
        use alloy::network::TransactionResponse;
        for (pos, event) in events.iter_mut() {
            if let Ok(Event::PollCreated { creator, .. }) = event {
                let tx = timeout(
                    self.config.rpc_timeout,
                    self.provider.get_transaction_by_hash(pos.tx_hash),
                )
                .await?;
                *creator = tx.map(|t| t.from());
            }
        }
        Ok(())
    }

    /// Assembly, its node registry and record anchor, and the Livepeer contracts whose
    /// events matter to it: the governor (new proposals to debate, and their votes), the
    /// BondingManager (roles that change) and PollCreator (new polls).
    fn followed(&self) -> Vec<Address> {
        let mut followed = vec![
            self.deployment.assembly,
            self.deployment.governor,
            self.deployment.bonding_manager,
        ];
        followed.extend(self.deployment.poll_creator);
        followed.extend(self.deployment.node_registry);
        followed.extend(self.deployment.record_anchor);
        followed
    }

    /// The logs of the followed contracts in `blocks` (a range, or one block by hash), with
    /// the `Vote`s of every poll: those already known, and those created in these very
    /// blocks. Polls are found as they are created, so their votes take a second request,
    /// made after the first has named them; the two answers are merged in chain order.
    async fn logs(&self, blocks: Filter) -> Result<Vec<Log>, SyncError> {
        let t = self.config.rpc_timeout;
        let mut logs = timeout(
            t,
            self.provider
                .get_logs(&blocks.clone().address(self.followed())),
        )
        .await?;
        let Some(creator) = self.deployment.poll_creator else {
            return Ok(logs);
        };
        let store = self.store.clone();
        let mut polls = blocking(move || store.polls()).await?;
        polls.extend(
            logs.iter()
                .filter(|l| l.address() == creator)
                .filter_map(|l| {
                    let topics = l.topics();
                    (topics.first() == Some(&IPollCreator::PollCreated::SIGNATURE_HASH))
                        .then(|| topics.get(1).map(|t| Address::from_word(*t)))
                        .flatten()
                }),
        );
        if polls.is_empty() {
            return Ok(logs);
        }
        polls.sort();
        polls.dedup();
        let votes = blocks
            .address(polls)
            .event_signature(IPoll::Vote::SIGNATURE_HASH);
        logs.extend(timeout(t, self.provider.get_logs(&votes)).await?);
        logs.sort_by_key(|l| (l.block_number, l.log_index));
        Ok(logs)
    }

    async fn commit(
        &self,
        end: BlockRef,
        events: Vec<(Position, Result<Event, String>)>,
        finalized: u64,
    ) -> Result<(), SyncError> {
        let store = self.store.clone();
        let keep = self.config.confirmations.max(64) * 2;
        let applied: Vec<Event> = events
            .iter()
            .filter_map(|(_, e)| e.as_ref().ok().cloned())
            .collect();
        blocking(move || store.apply(end, &events, keep)).await?;
        let _ = self.changes.send(Change::Applied {
            block: end.number,
            hash: end.hash,
            timestamp: end.timestamp,
            finalized,
            events: applied,
        });
        Ok(())
    }

    /// Undoes block `number` (orphaned), back to the highest stored block below it.
    async fn roll_back(&self, number: u64) -> Result<Step, SyncError> {
        let store = self.store.clone();
        let to = blocking(move || {
            let to = store.block_below(number)?.map_or(0, |b| b.number);
            store.rollback_to(to)?;
            Ok(to)
        })
        .await?;
        let to = if to == 0 {
            self.deployment.deploy_block.saturating_sub(1)
        } else {
            to
        };
        tracing::warn!(orphaned = number, back_to = to, "reorg: rolled back");
        let _ = self.changes.send(Change::RolledBack { block: to });
        Ok(Step::RolledBack(to))
    }

    async fn header(&self, number: u64) -> Result<BlockRef, SyncError> {
        let block = timeout(
            self.config.rpc_timeout,
            self.provider
                .get_block_by_number(BlockNumberOrTag::Number(number)),
        )
        .await?
        .ok_or(SyncError::MissingBlock(number))?;
        Ok(BlockRef {
            number,
            hash: block.header.hash,
            parent_hash: block.header.parent_hash,
            timestamp: block.header.timestamp,
        })
    }
}

/// Decodes logs, keeping those `belongs` accepts; a log that does not decode is kept as an
/// error (recorded as skipped, with its reason) rather than stopping the indexer.
fn decode_all(
    logs: &[Log],
    deployment: &Deployment,
    belongs: impl Fn(&Position) -> bool,
) -> Vec<(Position, Result<Event, String>)> {
    let mut out = Vec::with_capacity(logs.len());
    for log in logs {
        let pos = match events::position(log) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "log without a position skipped");
                continue;
            }
        };
        if !belongs(&pos) || log.removed {
            tracing::warn!(
                block = pos.block,
                "rpc returned a log outside the request; ignored"
            );
            continue;
        }
        let event = events::decode_from(log, deployment).map_err(|e| {
            tracing::error!(block = pos.block, log_index = pos.log_index, error = %e, "log skipped");
            e.to_string()
        });
        out.push((pos, event));
    }
    out
}

async fn timeout<T, E: std::fmt::Display>(
    limit: Duration,
    fut: impl std::future::IntoFuture<Output = Result<T, E>>,
) -> Result<T, SyncError> {
    match tokio::time::timeout(limit, fut.into_future()).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(SyncError::Rpc(e.to_string())),
        Err(_) => Err(SyncError::Timeout(limit)),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, SyncError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SyncError::Join(e.to_string()))?
        .map_err(SyncError::from)
}
