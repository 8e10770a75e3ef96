//! One start-up for every binary that follows the chain: the `assembly-indexer` binary and
//! the node, which embeds the indexer. Both read the same `ASSEMBLY_*` settings with the
//! same defaults, start the same tasks (the follower, the eligibility cache's upkeep, and
//! the keeper when it has a key), and stop on the same signals (Ctrl-C and SIGTERM), so the
//! two cannot drift apart.
//!
//! | key (`[indexer]` in the node's file) | variable | default |
//! |---|---|---|
//! | `rpc_url` | `ASSEMBLY_RPC_URL` | `ws://127.0.0.1:8545` (`ws://` subscribes to new blocks; `http://` polls) |
//! | `deployment` | `ASSEMBLY_DEPLOYMENT` | `deployments/local.json` |
//! | `db` | `ASSEMBLY_DB` | `assembly-indexer.sqlite` (the indexer), `assembly-node.sqlite` (the node) |
//! | `confirmations` | `ASSEMBLY_CONFIRMATIONS` | `2` |
//! | `max_batch` | `ASSEMBLY_MAX_BATCH` | `5000` (largest `eth_getLogs` range) |
//! | `poll_ms` | `ASSEMBLY_POLL_MS` | `500` (without a subscription) |
//! | `roles_cache` | `ASSEMBLY_ROLES_CACHE` | `10000` (role standings cached; anyone may look up any address) |
//! | `ipfs_gateway` | `ASSEMBLY_IPFS_GATEWAY` | unset: LIP debates are shown by their poll's IPFS content identifier. An IPFS trustless gateway (`https://…`; each block is verified against its hash): LIP numbers and titles. |
//! | — | `ASSEMBLY_KEEPER_KEY` | unset: keeper off. A hex private key: open a debate for every new proposal. Never read from a file. |

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use anyhow::Context;
use serde::Deserialize;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::api::{self, ApiState};
use crate::deployment::Deployment;
use crate::ipfs::Gateway;
use crate::keeper::{self, Keeper};
use crate::roles::Roles;
use crate::store::Store;
use crate::sync::{Change, Follower, Progress, SyncConfig};
use crate::titles::Resolver;

/// How often the eligibility cache looks for a new round.
const ROLES_EVERY: Duration = Duration::from_secs(30);
/// How often the title resolver looks for polls due a try.
const TITLES_EVERY: Duration = Duration::from_secs(5);
/// How often the keeper looks for proposals without a debate.
const KEEPER_EVERY: Duration = Duration::from_secs(5);

/// How to follow the chain (see the module docs for each setting).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexerConfig {
    /// The chain's RPC.
    pub rpc_url: String,
    /// The deployment file `script/Deploy.s.sol` wrote.
    pub deployment: PathBuf,
    /// The store; `None` for the binary's own default.
    pub db: Option<PathBuf>,
    /// Blocks below `latest - confirmations` are final.
    pub confirmations: u64,
    /// The largest block range asked of `eth_getLogs`.
    pub max_batch: u64,
    /// How often to look for new blocks without a subscription, in ms.
    pub poll_ms: u64,
    /// Role standings cached at most (anyone may look up any address; past it, the least
    /// recently read go first).
    pub roles_cache: usize,
    /// An IPFS trustless gateway to read LIP texts through; None: polls keep their CIDs.
    pub ipfs_gateway: Option<String>,
    /// The keeper's private key (hex), from the environment only.
    #[serde(skip)]
    pub keeper_key: Option<String>,
}

impl Default for IndexerConfig {
    fn default() -> Self {
        Self {
            rpc_url: "ws://127.0.0.1:8545".into(),
            deployment: "deployments/local.json".into(),
            db: None,
            confirmations: 2,
            max_batch: 5_000,
            poll_ms: 500,
            roles_cache: crate::roles::DEFAULT_CACHE_CAPACITY,
            ipfs_gateway: None,
            keeper_key: None,
        }
    }
}

impl IndexerConfig {
    /// Overrides each setting whose `ASSEMBLY_*` variable is set.
    pub fn apply_env(&mut self) -> anyhow::Result<()> {
        let var = |k: &str| std::env::var(k).ok();
        fn num<T: std::str::FromStr>(k: &str, v: String) -> anyhow::Result<T> {
            v.trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("{k}={v} is not a number"))
        }
        if let Some(v) = var("ASSEMBLY_RPC_URL") {
            self.rpc_url = v;
        }
        if let Some(v) = var("ASSEMBLY_DEPLOYMENT") {
            self.deployment = v.into();
        }
        if let Some(v) = var("ASSEMBLY_DB") {
            self.db = Some(v.into());
        }
        if let Some(v) = var("ASSEMBLY_CONFIRMATIONS") {
            self.confirmations = num("ASSEMBLY_CONFIRMATIONS", v)?;
        }
        if let Some(v) = var("ASSEMBLY_MAX_BATCH") {
            self.max_batch = num("ASSEMBLY_MAX_BATCH", v)?;
        }
        if let Some(v) = var("ASSEMBLY_POLL_MS") {
            self.poll_ms = num("ASSEMBLY_POLL_MS", v)?;
        }
        if let Some(v) = var("ASSEMBLY_ROLES_CACHE") {
            self.roles_cache = num("ASSEMBLY_ROLES_CACHE", v)?;
        }
        if let Some(v) = var("ASSEMBLY_IPFS_GATEWAY") {
            self.ipfs_gateway = (!v.trim().is_empty()).then_some(v);
        }
        if let Some(v) = var("ASSEMBLY_KEEPER_KEY") {
            self.keeper_key = Some(v);
        }
        Ok(())
    }

    fn sync(&self) -> SyncConfig {
        SyncConfig {
            confirmations: self.confirmations,
            max_batch: self.max_batch.max(1),
            poll_interval: Duration::from_millis(self.poll_ms.max(1)),
            ..SyncConfig::default()
        }
    }
}

/// A connected indexer: its store, eligibility cache and change stream, ready to run.
pub struct Indexer {
    /// The deployment followed.
    pub deployment: Deployment,
    /// The embedded database.
    pub store: Arc<Store>,
    /// The eligibility cache.
    pub roles: Arc<Roles>,
    /// A reader on the chain (for the node's EIP-1271 checks).
    pub provider: DynProvider,
    follower: Follower,
    keeper: Option<Keeper>,
    titles: Option<Resolver>,
}

impl Indexer {
    /// Opens the store (at `config.db`, else `default_db`), checks the RPC serves the
    /// deployment's chain, and sets up the follower, the eligibility cache and the keeper.
    /// Nothing runs until [`Indexer::run`]: subscribe to [`Indexer::changes`] first to see
    /// every change.
    pub async fn connect(config: &IndexerConfig, default_db: &str) -> anyhow::Result<Self> {
        let deployment = Deployment::load(&config.deployment)?;
        let db = config.db.clone().unwrap_or_else(|| default_db.into());
        let store =
            Arc::new(Store::open(&db).with_context(|| format!("opening {}", db.display()))?);
        let rpc = &config.rpc_url;
        let follower = Follower::connect(rpc, store.clone(), deployment.clone(), config.sync())
            .await
            .with_context(|| format!("following {} on {rpc}", deployment.assembly))?;
        let provider = ProviderBuilder::new()
            .connect(rpc)
            .await
            .with_context(|| format!("connecting to {rpc}"))?
            .erased();
        let roles = Arc::new(
            Roles::new(provider.clone(), &deployment).with_cache_capacity(config.roles_cache),
        );
        let keeper = match &config.keeper_key {
            Some(key) => {
                let signer: PrivateKeySigner = key
                    .trim()
                    .parse()
                    .context("ASSEMBLY_KEEPER_KEY is not a private key")?;
                tracing::info!(keeper = %signer.address(), "keeper on");
                let signing = keeper::signing_provider(rpc, EthereumWallet::new(signer)).await?;
                Some(Keeper::new(signing, deployment.assembly, store.clone()))
            }
            None => None,
        };
        let titles = match &config.ipfs_gateway {
            Some(url) => {
                let gateway = Gateway::new(url, crate::ipfs::DEFAULT_TIMEOUT)
                    .with_context(|| format!("ASSEMBLY_IPFS_GATEWAY={url}"))?;
                tracing::info!(gateway = %url, "LIP titles from IPFS");
                Some(Resolver::new(gateway, store.clone()))
            }
            None => None,
        };
        Ok(Self {
            deployment,
            store,
            roles,
            provider,
            follower,
            keeper,
            titles,
        })
    }

    /// Changes as the follower applies them.
    pub fn changes(&self) -> broadcast::Sender<Change> {
        self.follower.changes()
    }

    /// The follower's progress (what is final is its call).
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.follower.progress()
    }

    /// The read-only HTTP API over this indexer.
    pub fn api(&self) -> axum::Router {
        api::router(self.api_state())
    }

    /// What the read API's handlers share, for a server that mounts [`api::routes`] itself.
    pub fn api_state(&self) -> ApiState {
        ApiState {
            store: self.store.clone(),
            changes: self.follower.changes(),
            progress: self.follower.progress(),
            roles: Some(self.roles.clone()),
        }
    }

    /// Starts following, keeping the eligibility cache, and (with a key) the keeper, until
    /// `shutdown`. The handle ends when the follower has stopped.
    pub fn run(self, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(self.roles.clone().maintain(
            self.follower.changes().subscribe(),
            ROLES_EVERY,
            shutdown.clone(),
        ));
        if let Some(k) = self.keeper {
            tokio::spawn(k.run(KEEPER_EVERY, shutdown.clone()));
        }
        if let Some(t) = self.titles {
            tokio::spawn(t.run(TITLES_EVERY, shutdown.clone()));
        }
        tokio::spawn(self.follower.run(shutdown))
    }
}

/// Resolves on Ctrl-C or SIGTERM (what systemd and container runtimes send), so every
/// binary takes its graceful path.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
