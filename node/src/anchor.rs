//! Anchoring each ended occurrence's record on chain (`RecordAnchor.anchor`), off the live
//! path: a task that wakes every few seconds, finds the occurrences the chain says are
//! over whose speeches are all closed, checked and transcribed (or whose wait for
//! transcripts is over), computes their record (see
//! [`assembly_archive::record::occurrence`]) and attests its root for this node's operator.
//!
//! It sends with the node key when the registry has it as a node's (the cluster's usual
//! case), else with a lone operator's own key when one is configured and that operator has
//! registered a node. It asks `attested` before sending, so a restart between sending and
//! recording the outcome sends nothing twice; a failure (RPC, a refusal such as
//! `NotAMember`) is retried with backoff. An occurrence with no speech has no record, and
//! one of a floor always in session never ends, so neither is anchored.
//!
//! Every node computes the root from its own recordings and transcripts; two nodes that
//! heard the same speeches and got the same transcripts anchor the same root, and a node
//! whose record differs anchors its own, which the chain keeps beside the other.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, U256};
use alloy::providers::DynProvider;
use alloy::signers::local::PrivateKeySigner;
use anyhow::Context;
use assembly_archive::hansard::corrections as held;
use assembly_archive::record::archive::Archive;
use assembly_archive::record::occurrence::{self, Attestation, Record, State};
use assembly_floor::clock;
use assembly_indexer::bindings::RecordAnchor;
use assembly_indexer::deployment::Deployment;
use assembly_indexer::store::Store;
use prometheus::IntCounterVec;
use serde::Deserialize;
use tokio::sync::watch;

use crate::corrections::Corrections;

/// The `[anchor]` table: whether and how this node anchors records.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnchorConfig {
    /// Whether the node anchors the records of ended occurrences (it needs the deployment
    /// to name a RecordAnchor, and a registered, funded key).
    pub enabled: bool,
    /// A file holding the operator's own key (hex, as the node key), for a lone node whose
    /// key is not registered: the operator anchors itself. None: the node key only.
    pub operator_key_file: Option<PathBuf>,
    /// The longest to wait, once an occurrence is over, for its transcripts (when the node
    /// has a transcriber); a speech still untranscribed then is anchored without one.
    pub transcript_wait_secs: u64,
    /// How often to look for occurrences to anchor, in milliseconds.
    pub every_ms: u64,
    /// The least time between two editions of one occurrence's record, in seconds: the
    /// corrections made meanwhile go into one, so a speaker correcting again and again
    /// costs each member one anchor transaction per this long, not one per correction.
    pub corrections_every_secs: u64,
}

impl Default for AnchorConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            operator_key_file: None,
            transcript_wait_secs: 600,
            every_ms: 5_000,
            corrections_every_secs: 600,
        }
    }
}

/// Once the chain says an occurrence is over, how long before its record is computed: the
/// recorder closes a speech 3 s after its last packet, and a relayed packet may be on its
/// way for as long.
const SETTLE: u64 = 5;

/// How long after the latest correction of an occurrence before its next edition is
/// computed: a speaker who corrects twice in a row, or two members told at slightly
/// different moments, then anchor one root rather than one each.
const CORRECTIONS_SETTLE_MS: u64 = 10_000;

/// The longest wait between two attempts at a record the chain refused or the RPC failed.
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// After `attempts` failed attempts, the wait before the next: 10 s, doubling, at most
/// [`MAX_BACKOFF`].
pub fn backoff(attempts: u32) -> Duration {
    (Duration::from_secs(10) * 2u32.saturating_pow(attempts.saturating_sub(1).min(8)))
        .min(MAX_BACKOFF)
}

/// What one attempt at anchoring a record came to (the `outcome` label of
/// `assembly_anchors_total`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// The anchor transaction was mined.
    Anchored(Attestation),
    /// The chain already held this operator's attestation of the root.
    Already(Attestation),
    /// Neither the node key nor a configured operator key is a registered node's.
    Unregistered,
    /// The chain refused it (`NotAMember`, `OccurrenceNotOver`, ...): retried later.
    Refused(String),
    /// The RPC failed or the transaction reverted: retried later.
    Failed(String),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Anchored(_) => "anchored",
            Outcome::Already(_) => "already",
            Outcome::Unregistered => "unregistered",
            Outcome::Refused(_) => "refused",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// The anchoring task's parts.
pub struct Anchorer {
    archive: Arc<Archive>,
    store: Arc<Store>,
    contract: RecordAnchor::RecordAnchorInstance<DynProvider>,
    chain_id: u64,
    node_key: Address,
    operator_key: Option<Address>,
    transcribing: bool,
    transcript_wait: u64,
    corrections_every_ms: u64,
    corrections: Arc<Corrections>,
    outcomes: IntCounterVec,
}

/// Starts anchoring (until `shutdown`) when `config` allows it and the deployment names a
/// RecordAnchor; `transcribing` says whether the node has a transcriber to wait for.
#[allow(clippy::too_many_arguments)]
pub async fn start(
    config: &AnchorConfig,
    rpc_url: &str,
    deployment: &Deployment,
    archive: Arc<Archive>,
    store: Arc<Store>,
    node_key: PrivateKeySigner,
    transcribing: bool,
    corrections: Arc<Corrections>,
    outcomes: IntCounterVec,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let Some(address) = deployment.record_anchor.filter(|_| config.enabled) else {
        tracing::info!("not anchoring records: off, or the deployment names no RecordAnchor");
        return Ok(());
    };
    let node = node_key.address();
    let mut wallet = EthereumWallet::new(node_key);
    let operator_key = match &config.operator_key_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the operator key {}", path.display()))?;
            let key: PrivateKeySigner = text
                .trim()
                .parse()
                .with_context(|| format!("{} does not hold a hex secp256k1 key", path.display()))?;
            let address = key.address();
            wallet.register_signer(key);
            Some(address)
        }
        None => None,
    };
    let provider = assembly_indexer::keeper::signing_provider(rpc_url, wallet)
        .await
        .with_context(|| format!("connecting to {rpc_url} to anchor records"))?;
    let anchorer = Anchorer {
        archive,
        store,
        contract: RecordAnchor::new(address, provider),
        chain_id: deployment.chain_id,
        node_key: node,
        operator_key,
        transcribing,
        transcript_wait: config.transcript_wait_secs,
        corrections_every_ms: config.corrections_every_secs.saturating_mul(1000),
        corrections,
        outcomes,
    };
    tracing::info!(record_anchor = %address, key = %node, operator_key = ?operator_key, "anchoring records");
    tokio::spawn(anchorer.run(Duration::from_millis(config.every_ms.max(100)), shutdown));
    Ok(())
}

/// Runs a blocking archive or store call off the async workers.
async fn blocking<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

impl Anchorer {
    async fn run(self, every: Duration, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = self.pass().await {
                        tracing::warn!(error = %e, "anchoring pass");
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }

    /// One pass: records computed for the occurrences that are ready, new editions for
    /// those with corrections the record lacks, then every latest edition due an attempt
    /// tried once.
    async fn pass(&self) -> Result<(), String> {
        let store = self.store.clone();
        let Some(head) = blocking(move || store.head()).await? else {
            return Ok(());
        };
        let archive = self.archive.clone();
        for (session, occurrence) in blocking(move || occurrence::unrecorded(&archive)).await? {
            // One occurrence that cannot be computed holds up none of the others.
            if let Err(e) = self.compute(session, occurrence, head.timestamp).await {
                tracing::warn!(session, occurrence, error = %e, "computing a record");
            }
        }
        let archive = self.archive.clone();
        let now = clock::now_ms();
        for (session, occurrence, latest_ms, edition_ms) in
            blocking(move || held::unrecorded(&archive)).await?
        {
            if now >= latest_ms.saturating_add(CORRECTIONS_SETTLE_MS)
                && now >= edition_ms.saturating_add(self.corrections_every_ms)
            {
                if let Err(e) = self.correct(session, occurrence).await {
                    tracing::warn!(session, occurrence, error = %e, "adding corrections to a record");
                }
            }
        }
        let archive = self.archive.clone();
        for (session, occurrence, edition) in
            blocking(move || occurrence::due(&archive, now)).await?
        {
            let archive = self.archive.clone();
            let record =
                blocking(move || occurrence::record_at(&archive, session, occurrence, edition))
                    .await?;
            if let Some(record) = record {
                self.attempt(record).await?;
            }
        }
        Ok(())
    }

    /// Computes and keeps `session`'s `occurrence`'s record if the chain (at `chain_now`)
    /// says it is over and its speeches are ready.
    async fn compute(&self, session: u64, occurrence: u32, chain_now: u64) -> Result<(), String> {
        let store = self.store.clone();
        let Some(row) = blocking(move || store.session(session)).await? else {
            return Ok(());
        };
        let (start, end) = row.schedule.bounds(occurrence);
        let cancelled = row.schedule.cancelled_at.is_some_and(|c| c != 0);
        let never_ends = row.schedule.duration >= assembly_floor::FOREVER && !cancelled;
        if never_ends || end == start || chain_now < end.saturating_add(SETTLE) {
            return Ok(());
        }
        let archive = self.archive.clone();
        let ready = blocking(move || occurrence::readiness(&archive, session, occurrence)).await?;
        if ready.open > 0 || ready.unchecked > 0 {
            return Ok(());
        }
        let waited = clock::now_s() >= end.saturating_add(self.transcript_wait);
        if self.transcribing && ready.untranscribed > 0 && !waited {
            return Ok(());
        }
        // An occurrence none of whose speeches has audio to vouch for has no record: no
        // member is asked about it (this pass comes every few seconds).
        let archive = self.archive.clone();
        let any = blocking(move || occurrence::leaves(&archive, session, occurrence)).await?;
        if any.is_empty() {
            return Ok(());
        }
        // Corrections a member took that this node was not told of belong in the record
        // from its first edition.
        self.corrections.catch_up(session, occurrence).await;
        let (archive, chain_id, anchor) = (
            self.archive.clone(),
            self.chain_id,
            *self.contract.address(),
        );
        let saved = blocking(move || {
            let leaves = occurrence::leaves(&archive, session, occurrence)?;
            occurrence::save(
                &archive,
                session,
                occurrence,
                &leaves,
                chain_id,
                anchor,
                clock::now_ms(),
            )
        })
        .await?;
        if let Some(r) = saved {
            tracing::info!(
                session,
                occurrence,
                root = %r.root,
                speeches = r.leaves.len(),
                untranscribed = ready.untranscribed,
                "record computed"
            );
        }
        Ok(())
    }

    /// Keeps a new edition of `session`'s `occurrence`'s record holding the corrections
    /// its latest edition lacks.
    async fn correct(&self, session: u64, occurrence: u32) -> Result<(), String> {
        let archive = self.archive.clone();
        let added = blocking(move || {
            let added = occurrence::corrected_leaves(&archive, session, occurrence)?;
            occurrence::extend(&archive, session, occurrence, &added, clock::now_ms())
        })
        .await?;
        if let Some(r) = added {
            tracing::info!(
                session,
                occurrence,
                edition = r.edition,
                root = %r.root,
                leaves = r.leaves.len(),
                "record corrected"
            );
        }
        Ok(())
    }

    /// Who anchors for this node: (sender, operator). The node key when the registry has
    /// it as a node's, else the configured operator key when that operator has a node.
    async fn anchoring_as(&self) -> Result<Option<(Address, Address)>, String> {
        let store = self.store.clone();
        let nodes = blocking(move || store.nodes()).await?;
        if let Some(n) = nodes.iter().find(|n| n.key == self.node_key) {
            return Ok(Some((self.node_key, n.operator)));
        }
        Ok(self
            .operator_key
            .filter(|op| nodes.iter().any(|n| n.operator == *op))
            .map(|op| (op, op)))
    }

    /// Tries once to have this node's operator attest `record`'s root, and keeps what came
    /// of it.
    async fn attempt(&self, record: Record) -> Result<(), String> {
        let attempts = match &record.state {
            State::Pending { attempts, .. } => *attempts,
            State::Attested(_) => return Ok(()),
        };
        let outcome = match self.anchoring_as().await? {
            None => Outcome::Unregistered,
            Some((sender, operator)) => self.anchor(&record, sender, operator).await,
        };
        self.outcomes.with_label_values(&[outcome.label()]).inc();
        let (archive, session, occurrence, edition) = (
            self.archive.clone(),
            record.session,
            record.occurrence,
            record.edition,
        );
        match outcome {
            Outcome::Anchored(a) | Outcome::Already(a) => {
                tracing::info!(
                    session,
                    occurrence,
                    edition,
                    root = %record.root,
                    operator = %a.operator,
                    tx = ?a.tx,
                    gas_used = ?a.gas_used,
                    "record anchored"
                );
                blocking(move || occurrence::attested(&archive, &record, &a)).await
            }
            other => {
                let why = match other {
                    Outcome::Refused(r) | Outcome::Failed(r) => r,
                    _ => "neither the node key nor an operator key is a registered node's".into(),
                };
                let n = attempts + 1;
                let wait = backoff(n);
                tracing::warn!(session, occurrence, attempt = n, retry_in = ?wait, error = %why, "anchoring a record");
                let next = clock::now_ms() + wait.as_millis() as u64;
                blocking(move || occurrence::failed(&archive, &record, n, next, &why)).await
            }
        }
    }

    /// Asks whether `operator` attested the root already, and if not, sends `anchor` from
    /// `sender`.
    async fn anchor(&self, record: &Record, sender: Address, operator: Address) -> Outcome {
        let (session, occurrence, root) =
            (U256::from(record.session), record.occurrence, record.root);
        let done = |tx, block, gas_used| Attestation {
            operator,
            sender,
            tx,
            block,
            gas_used,
            at_ms: clock::now_ms(),
        };
        match self
            .contract
            .attested(session, occurrence, root, operator)
            .call()
            .await
        {
            Ok(true) => return Outcome::Already(done(None, None, None)),
            Ok(false) => {}
            Err(e) => return Outcome::Failed(format!("attested: {e}")),
        }
        let speeches = u32::try_from(record.leaves.len()).unwrap_or(u32::MAX);
        let sent = self
            .contract
            .anchor(session, occurrence, root, speeches)
            .from(sender)
            .send()
            .await;
        let pending = match sent {
            Ok(p) => p,
            Err(e) => {
                use RecordAnchor::RecordAnchorErrors as E;
                return match e.as_decoded_interface_error::<E>() {
                    Some(E::AlreadyAttested(_)) => Outcome::Already(done(None, None, None)),
                    Some(err) => Outcome::Refused(format!("{err:?}")),
                    None => Outcome::Failed(e.to_string()),
                };
            }
        };
        match tokio::time::timeout(Duration::from_secs(120), pending.get_receipt()).await {
            Ok(Ok(r)) if r.status() => Outcome::Anchored(done(
                Some(r.transaction_hash),
                r.block_number,
                Some(r.gas_used),
            )),
            Ok(Ok(r)) => Outcome::Failed(format!("reverted in {}", r.transaction_hash)),
            Ok(Err(e)) => Outcome::Failed(e.to_string()),
            Err(_) => Outcome::Failed("no receipt within 120 s".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(super::backoff(1).as_secs(), 10);
        assert_eq!(super::backoff(2).as_secs(), 20);
        assert_eq!(super::backoff(40).as_secs(), 600);
    }
}
