//! The keeper: makes debates open themselves. For every governor proposal and every poll the
//! follower has seen that has no debate yet, it sends `openDebate` or `openPollDebate`
//! (permissionless, idempotent on chain).
//! Off unless given a signer key. What it did is persisted, so a proposal the chain refused
//! for good (cancelled, finished, too late) is never tried again, across restarts; one it
//! could not send is retried a bounded number of times.

use std::sync::Arc;
use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::transports::TransportError;
use serde::Serialize;
use tokio::sync::watch;

use crate::bindings::Assembly;
use crate::events::Event;
use crate::store::{Store, StoreError};

/// Attempts after which a proposal that keeps failing (not refused) is given up on.
pub const MAX_ATTEMPTS: u32 = 5;

/// How many of PollCreator's nonces, back from its current one, are searched for a poll's.
/// PollCreator creates only polls, a handful a year; a poll further back is long over.
pub const NONCE_SEARCH: u64 = 4096;

/// What happened to one proposal in one pass.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// `openDebate` (or `openPollDebate`) was mined.
    Opened {
        /// The hash of the mined transaction, 0x-hex.
        tx: String,
    },
    /// The chain already has its debate (another keeper, or a governance session).
    AlreadyOpen,
    /// The chain refused it for good, with the contract's reason.
    Refused {
        /// The Assembly error the contract reverted with, e.g. `ProposalNotOpen(..)`.
        reason: String,
    },
    /// Sending failed; it will be tried again.
    Failed {
        /// Why: an RPC error, a reverted transaction, or no receipt within 120 s.
        reason: String,
    },
}

/// Keeper failures that stop a pass (not those of a single proposal).
#[derive(Debug, thiserror::Error)]
pub enum KeeperError {
    /// The store failed while reading proposals or recording an outcome.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blocking task that ran a store call panicked or was cancelled.
    #[error("store task: {0}")]
    Join(String),
}

/// A provider that signs with `wallet`. The nonce is fetched for each transaction: a cached
/// nonce would be spent by a transaction the chain refuses at estimation, leaving a gap that
/// strands every later one.
pub async fn signing_provider(
    rpc_url: &str,
    wallet: EthereumWallet,
) -> Result<DynProvider, TransportError> {
    Ok(ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_simple_nonce_management()
        .with_gas_estimation()
        .fetch_chain_id()
        .wallet(wallet)
        .connect(rpc_url)
        .await?
        .erased())
}

/// Sends `openDebate` and `openPollDebate` for proposals and polls without a debate.
pub struct Keeper {
    assembly: Assembly::AssemblyInstance<DynProvider>,
    store: Arc<Store>,
}

impl Keeper {
    /// `provider` must sign with the keeper's key.
    pub fn new(
        provider: DynProvider,
        assembly: alloy::primitives::Address,
        store: Arc<Store>,
    ) -> Self {
        Self {
            assembly: Assembly::new(assembly, provider),
            store,
        }
    }

    /// One pass over the proposals without a debate.
    pub async fn tick(&self) -> Result<Vec<(U256, Outcome)>, KeeperError> {
        let store = self.store.clone();
        let pending = tokio::task::spawn_blocking(move || store.proposals_without_debate())
            .await
            .map_err(|e| KeeperError::Join(e.to_string()))??;
        let mut done = Vec::new();
        for proposal in pending {
            let proposal_id = match &proposal {
                Event::ProposalCreated { proposal_id, .. } => *proposal_id,
                Event::PollCreated { poll, .. } => U256::from_be_slice(poll.as_slice()),
                _ => continue,
            };
            let (finished, attempts) = self.store.keeper_state(proposal_id)?;
            if finished {
                continue;
            }
            let outcome = self.open(proposal, proposal_id).await;
            let final_ = match &outcome {
                Outcome::Opened { .. } | Outcome::AlreadyOpen | Outcome::Refused { .. } => true,
                Outcome::Failed { .. } => attempts + 1 >= MAX_ATTEMPTS,
            };
            let text = serde_json::to_string(&outcome).unwrap_or_default();
            self.store.keeper_record(proposal_id, &text, final_)?;
            tracing::info!(%proposal_id, outcome = %text, "keeper");
            done.push((proposal_id, outcome));
        }
        Ok(done)
    }

    async fn open(&self, proposal: Event, proposal_id: U256) -> Outcome {
        match self.assembly.debateOf(proposal_id).call().await {
            Ok(session) if !session.is_zero() => return Outcome::AlreadyOpen,
            Ok(_) => {}
            Err(e) => {
                return Outcome::Failed {
                    reason: e.to_string(),
                }
            }
        }
        let sent = match proposal {
            Event::ProposalCreated {
                targets,
                values,
                calldatas,
                description_hash,
                ..
            } => {
                self.assembly
                    .openDebate(targets, values, calldatas, description_hash)
                    .send()
                    .await
            }
            Event::PollCreated { poll, .. } => {
                let nonce = match self.creation_nonce(poll).await {
                    Ok(nonce) => nonce,
                    Err(outcome) => return outcome,
                };
                self.assembly
                    .openPollDebate(poll, U256::from(nonce))
                    .send()
                    .await
            }
            _ => {
                return Outcome::Refused {
                    reason: "neither a governor proposal nor a poll".into(),
                }
            }
        };
        match sent {
            Ok(pending) => {
                match tokio::time::timeout(Duration::from_secs(120), pending.get_receipt()).await {
                    Ok(Ok(r)) if r.status() => Outcome::Opened {
                        tx: r.transaction_hash.to_string(),
                    },
                    Ok(Ok(r)) => Outcome::Failed {
                        reason: format!("reverted in {}", r.transaction_hash),
                    },
                    Ok(Err(e)) => Outcome::Failed {
                        reason: e.to_string(),
                    },
                    Err(_) => Outcome::Failed {
                        reason: "no receipt within 120 s".into(),
                    },
                }
            }
            Err(e) => match e.as_decoded_interface_error::<Assembly::AssemblyErrors>() {
                Some(
                    err @ (Assembly::AssemblyErrors::ProposalNotOpen(_)
                    | Assembly::AssemblyErrors::VoteClosesTooSoon(_)
                    | Assembly::AssemblyErrors::UnknownProposal(_)
                    | Assembly::AssemblyErrors::MalformedProposal(_)
                    | Assembly::AssemblyErrors::PollEnded(_)
                    | Assembly::AssemblyErrors::NotAPoll(_)
                    | Assembly::AssemblyErrors::NotFromPollCreator(_)),
                ) => Outcome::Refused {
                    reason: format!("{err:?}"),
                },
                _ => Outcome::Failed {
                    reason: e.to_string(),
                },
            },
        }
    }

    /// The nonce PollCreator created `poll` with, which `openPollDebate` checks it against:
    /// the CREATE address of each nonce, back from PollCreator's current one, until one is
    /// `poll`. The creator is the one Assembly names, read from the contract.
    async fn creation_nonce(&self, poll: Address) -> Result<u64, Outcome> {
        let failed = |reason: String| Outcome::Failed { reason };
        let creator = self
            .assembly
            .pollCreator()
            .call()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let next = self
            .assembly
            .provider()
            .get_transaction_count(creator)
            .await
            .map_err(|e| failed(e.to_string()))?;
        (next.saturating_sub(NONCE_SEARCH).max(1)..next)
            .rev()
            .find(|&nonce| creator.create(nonce) == poll)
            .ok_or_else(|| Outcome::Refused {
                reason: format!(
                    "{poll} is not among PollCreator {creator}'s last {NONCE_SEARCH} creations"
                ),
            })
    }

    /// Passes every `interval` until `shutdown`.
    pub async fn run(self, interval: Duration, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(interval);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = self.tick().await {
                        tracing::warn!(error = %e, "keeper pass failed");
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}
