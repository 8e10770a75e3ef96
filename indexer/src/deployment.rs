//! The deployment file `script/Deploy.s.sol` writes (`deployments/<network>.json`): where the
//! contracts are and from which block to index. The Rust side never hard-codes addresses.

use std::path::Path;

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

/// Errors reading a deployment file.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error("cannot read deployment file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("deployment file {path} is not valid: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
}

/// Addresses and the first block of a deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub network: String,
    pub chain_id: u64,
    /// The first block that can hold Assembly's events.
    pub deploy_block: u64,
    pub assembly: Address,
    pub bonding_manager: Address,
    pub rounds_manager: Address,
    pub governor: Address,
    pub livepeer_token: Address,
    #[serde(default)]
    pub controller: Option<Address>,
    /// Demo accounts, on local deployments only.
    #[serde(default)]
    pub orchestrators: Vec<Address>,
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
