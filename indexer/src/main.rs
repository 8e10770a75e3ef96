//! `assembly-indexer`: follows a deployment and serves the read-only API.
//!
//! Configuration is by environment, with defaults for the local chain `script/start` runs:
//!
//! | variable | default |
//! |---|---|
//! | `ASSEMBLY_RPC_URL` | `http://127.0.0.1:8545` (`ws://` subscribes to new blocks) |
//! | `ASSEMBLY_DEPLOYMENT` | `deployments/local.json` |
//! | `ASSEMBLY_DB` | `assembly-indexer.sqlite` |
//! | `ASSEMBLY_INDEXER_LISTEN` | `127.0.0.1:8600` |
//! | `ASSEMBLY_CONFIRMATIONS` | `2` |
//! | `ASSEMBLY_MAX_BATCH` | `5000` |
//! | `ASSEMBLY_POLL_MS` | `500` |
//! | `ASSEMBLY_KEEPER_KEY` | unset: keeper off. A hex private key: open a debate for every new proposal |
//! | `RUST_LOG` | `info`; `ASSEMBLY_LOG_FORMAT=json` for JSON lines |

use std::sync::Arc;
use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use anyhow::Context;
use assembly_indexer::api::{self, ApiState};
use assembly_indexer::deployment::Deployment;
use assembly_indexer::keeper::{self, Keeper};
use assembly_indexer::roles::Roles;
use assembly_indexer::store::Store;
use assembly_indexer::sync::{Follower, SyncConfig};
use tokio::sync::watch;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={v} is not a number")),
        Err(_) => Ok(default),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "assembly-indexer                         follow Assembly's contracts and serve the API (ASSEMBLY_* variables)\n\
             assembly-indexer plan-session CRON SECS  createSession parameters for a cron schedule (UTC)"
        );
        return Ok(());
    }
    if args.first().map(String::as_str) == Some("plan-session") {
        let (Some(expr), Some(duration)) = (args.get(1), args.get(2)) else {
            anyhow::bail!("usage: assembly-indexer plan-session '0 0 16 * * Thu *' 3600");
        };
        let duration: u64 = duration.parse().context("duration is seconds")?;
        let plan = assembly_indexer::recurrence::from_cron(expr, chrono::Utc::now(), duration)?;
        println!("{}", serde_json::to_string_pretty(&plan)?);
        return Ok(());
    }
    assembly_indexer::telemetry::init_tracing();

    let rpc = env_or("ASSEMBLY_RPC_URL", "http://127.0.0.1:8545");
    let deployment_path = env_or("ASSEMBLY_DEPLOYMENT", "deployments/local.json");
    let deployment = Deployment::load(&deployment_path)?;
    let db = env_or("ASSEMBLY_DB", "assembly-indexer.sqlite");
    let store = Arc::new(Store::open(&db).with_context(|| format!("opening {db}"))?);
    let config = SyncConfig {
        confirmations: env_num("ASSEMBLY_CONFIRMATIONS", 2)?,
        max_batch: env_num("ASSEMBLY_MAX_BATCH", 5_000)?,
        poll_interval: Duration::from_millis(env_num("ASSEMBLY_POLL_MS", 500)?),
        ..SyncConfig::default()
    };
    let follower = Follower::connect(&rpc, store.clone(), deployment.clone(), config)
        .await
        .with_context(|| format!("following {} on {rpc}", deployment.assembly))?;
    let reader = ProviderBuilder::new()
        .connect(&rpc)
        .await
        .with_context(|| format!("connecting to {rpc}"))?
        .erased();
    let roles = Arc::new(Roles::new(reader, &deployment));
    let state = ApiState {
        store: store.clone(),
        changes: follower.changes(),
        progress: follower.progress(),
        roles: Some(roles.clone()),
    };

    let listen = env_or("ASSEMBLY_INDEXER_LISTEN", "127.0.0.1:8600");
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    tracing::info!(%listen, assembly = %deployment.assembly, %rpc, db, "indexer started");

    let (stop, stopped) = watch::channel(false);
    let changes = follower.changes().subscribe();
    let follow = tokio::spawn(follower.run(stopped.clone()));
    tokio::spawn(roles.maintain(changes, Duration::from_secs(30), stopped.clone()));
    if let Ok(key) = std::env::var("ASSEMBLY_KEEPER_KEY") {
        let signer: PrivateKeySigner = key
            .trim()
            .parse()
            .context("ASSEMBLY_KEEPER_KEY is not a private key")?;
        tracing::info!(keeper = %signer.address(), "keeper on");
        let provider = keeper::signing_provider(&rpc, EthereumWallet::new(signer)).await?;
        let keeper = Keeper::new(provider, deployment.assembly, store);
        tokio::spawn(keeper.run(Duration::from_secs(5), stopped.clone()));
    }
    let mut on_stop = stopped.clone();
    let serve = axum::serve(listener, api::router(state)).with_graceful_shutdown(async move {
        let _ = on_stop.changed().await;
    });
    let server = tokio::spawn(async move { serve.await });
    shutdown_signal().await;
    tracing::info!("stopping");
    let _ = stop.send(true);
    let _ = follow.await;
    server.await??;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
