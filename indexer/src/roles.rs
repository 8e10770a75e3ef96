//! The eligibility cache: who is an active orchestrator or a delegator, with what stake,
//! read from Livepeer's BondingManager. Answers are cached until the Livepeer round
//! changes (the active set only changes between rounds) or the BondingManager emits an
//! event about the address (activation, deactivation, bond, unbond), whichever is first.

use parking_lot::{Mutex, MutexGuard};
use std::collections::HashMap;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::providers::DynProvider;
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::bindings::livepeer::{IBondingManager, IRoundsManager};
use crate::deployment::Deployment;
use crate::events::Event;
use crate::sync::Change;

pub use assembly_floor::Role;

/// A role with its stake: an orchestrator's total stake, a delegator's bonded stake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Standing {
    /// Orchestrator, delegator, or neither, as the BondingManager says.
    pub role: Role,
    /// Bonded stake in LPT base units (hex).
    #[schema(value_type = String, example = "0x2b5e3af16b1880000")]
    pub stake: U256,
    /// The Livepeer round this was read in.
    pub round: u64,
}

/// Lookup failures.
#[derive(Debug, thiserror::Error)]
pub enum RolesError {
    /// A BondingManager or RoundsManager call failed; the provider's message.
    #[error("bonding manager: {0}")]
    Rpc(String),
}

/// The cache. The Livepeer contracts it calls are the ones named by the deployment.
pub struct Roles {
    bonding: IBondingManager::IBondingManagerInstance<DynProvider>,
    rounds: IRoundsManager::IRoundsManagerInstance<DynProvider>,
    cache: Mutex<HashMap<Address, Standing>>,
    round: Mutex<Option<u64>>,
}

impl Roles {
    /// An empty cache that reads the deployment's BondingManager and RoundsManager through `provider`.
    pub fn new(provider: DynProvider, deployment: &Deployment) -> Self {
        Self {
            bonding: IBondingManager::new(deployment.bonding_manager, provider.clone()),
            rounds: IRoundsManager::new(deployment.rounds_manager, provider),
            cache: Mutex::new(HashMap::new()),
            round: Mutex::new(None),
        }
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<Address, Standing>> {
        self.cache.lock()
    }

    /// `account`'s standing, from the cache or the chain.
    pub async fn standing(&self, account: Address) -> Result<Standing, RolesError> {
        if let Some(s) = self.cache().get(&account) {
            return Ok(*s);
        }
        let rpc = |e: alloy::contract::Error| RolesError::Rpc(e.to_string());
        let round = self
            .rounds
            .currentRound()
            .call()
            .await
            .map_err(rpc)?
            .to::<u64>();
        let active = self
            .bonding
            .isActiveTranscoder(account)
            .call()
            .await
            .map_err(rpc)?;
        let standing = if active {
            let stake = self
                .bonding
                .transcoderTotalStake(account)
                .call()
                .await
                .map_err(rpc)?;
            Standing {
                role: Role::Orchestrator,
                stake,
                round,
            }
        } else {
            let d = self
                .bonding
                .getDelegator(account)
                .call()
                .await
                .map_err(rpc)?;
            let role = if d.bondedAmount.is_zero() {
                Role::Observer
            } else {
                Role::Delegator
            };
            Standing {
                role,
                stake: d.bondedAmount,
                round,
            }
        };
        self.cache().insert(account, standing);
        Ok(standing)
    }

    /// Forgets `account`, so its next lookup reads the chain.
    pub fn invalidate(&self, account: Address) {
        self.cache().remove(&account);
    }

    /// Applies a change from the follower: role events invalidate; a rollback invalidates
    /// everything (the orphaned blocks may have changed anyone).
    pub fn observe(&self, change: &Change) {
        match change {
            Change::Applied { events, .. } => {
                for e in events {
                    if let Event::RoleChanged { account, .. } = e {
                        self.invalidate(*account);
                    }
                }
            }
            Change::RolledBack { .. } => self.cache().clear(),
        }
    }

    /// Clears the cache when the Livepeer round has moved on.
    pub async fn check_round(&self) -> Result<(), RolesError> {
        let now = self
            .rounds
            .currentRound()
            .call()
            .await
            .map_err(|e| RolesError::Rpc(e.to_string()))?
            .to::<u64>();
        let mut round = self.round.lock();
        if *round != Some(now) {
            *round = Some(now);
            self.cache().clear();
        }
        Ok(())
    }

    /// Keeps the cache fresh until `shutdown`: follows changes, and checks the round every
    /// `round_check`.
    pub async fn maintain(
        self: std::sync::Arc<Self>,
        mut changes: broadcast::Receiver<Change>,
        round_check: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(round_check);
        loop {
            tokio::select! {
                c = changes.recv() => match c {
                    Ok(c) => self.observe(&c),
                    // Missed changes: anything may be stale.
                    Err(broadcast::error::RecvError::Lagged(_)) => self.cache().clear(),
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick() => {
                    if let Err(e) = self.check_round().await {
                        tracing::warn!(error = %e, "round check failed");
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}
