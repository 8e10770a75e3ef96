//! The deployment file `script/Deploy.s.sol` writes (`deployments/<network>.json`): where the
//! contracts are and from which block to index. The Rust side never hard-codes addresses.

use std::path::Path;

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

/// Errors reading a deployment file.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    /// The file could not be read.
    #[error("cannot read deployment file {path}: {source}")]
    Read {
        /// The file's path.
        path: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The file is not the JSON a deployment file holds.
    #[error("deployment file {path} is not valid: {source}")]
    Parse {
        /// The file's path.
        path: String,
        /// Why it does not parse.
        source: serde_json::Error,
    },
}

/// Addresses and the first block of a deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The network's name, as in the file name (`deployments/<network>.json`).
    pub network: String,
    /// The EIP-155 chain id the contracts are deployed on.
    pub chain_id: u64,
    /// The first block that can hold Assembly's events.
    pub deploy_block: u64,
    /// The Assembly contract, whose events the indexer follows.
    pub assembly: Address,
    /// Livepeer's BondingManager: roles and stake, and the events that change them.
    pub bonding_manager: Address,
    /// Livepeer's RoundsManager: the round clock governor deadlines are counted in.
    pub rounds_manager: Address,
    /// Livepeer's governor, whose proposals debates are opened for.
    pub governor: Address,
    /// The Livepeer token (LPT) contract.
    pub livepeer_token: Address,
    /// The registry of Assembly nodes (the cluster); None in deployment files written before
    /// nodes registered on chain.
    #[serde(default)]
    pub node_registry: Option<Address>,
    /// Where nodes anchor each occurrence's record (the Merkle root of its speeches); None
    /// in deployment files written before.
    #[serde(default)]
    pub record_anchor: Option<Address>,
    /// Livepeer's PollCreator, whose polls are the votes on LIPs (not in the Controller); None
    /// in deployment files written before Assembly followed polls.
    #[serde(default)]
    pub poll_creator: Option<Address>,
    /// Livepeer's Controller (its registry of contracts); None when the file does not name it.
    #[serde(default)]
    pub controller: Option<Address>,
    /// Demo accounts, on local deployments only.
    #[serde(default)]
    pub orchestrators: Vec<Address>,
    /// Demo delegator accounts, on local deployments only.
    #[serde(default)]
    pub delegators: Vec<Address>,
}

impl Deployment {
    /// Reads a deployment file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, DeploymentError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| DeploymentError::Read {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| DeploymentError::Parse {
            path: path.display().to_string(),
            source,
        })
    }
}
