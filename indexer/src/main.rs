//! `assembly-indexer`: follows a deployment and serves the read-only API.
//!
//! Configuration is by environment, with defaults for the local chain `script/start` runs:
//! the chain settings of [`assembly_indexer::start`] (shared with the node), and
//!
//! | variable | default |
//! |---|---|
//! | `ASSEMBLY_INDEXER_LISTEN` | `127.0.0.1:8600` |
//! | `RUST_LOG` | `info`; `ASSEMBLY_LOG_FORMAT=json` for JSON lines |

use anyhow::Context;
use assembly_indexer::start::{shutdown_signal, Indexer, IndexerConfig};
use tokio::sync::watch;

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

    let mut config = IndexerConfig::default();
    config.apply_env()?;
    let indexer = Indexer::connect(&config, "assembly-indexer.sqlite").await?;
    let listen =
        std::env::var("ASSEMBLY_INDEXER_LISTEN").unwrap_or_else(|_| "127.0.0.1:8600".into());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    tracing::info!(%listen, assembly = %indexer.deployment.assembly, rpc = %config.rpc_url, "indexer started");

    let (stop, stopped) = watch::channel(false);
    let router = indexer.api();
    let follow = indexer.run(stopped.clone());
    let mut on_stop = stopped.clone();
    let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
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
