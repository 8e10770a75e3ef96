//! `assembly-node`: see the crate docs and `config` for configuration.

use anyhow::Context;
use assembly_indexer::start::shutdown_signal;
use assembly_node::app;
use assembly_node::config::NodeConfig;
use tokio::sync::watch;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    assembly_indexer::telemetry::init_tracing();
    let config = NodeConfig::load()?;
    let secret = config.secret()?;
    let (stop, stopped) = watch::channel(false);
    let app = app::start(&config, secret, stopped.clone()).await?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    tracing::info!(listen = %config.listen, domain = %config.domain, rpc = %config.indexer.rpc_url, "node started");
    let limits = config.limits.clone();
    let server = tokio::spawn(async move {
        assembly_node::serve::serve(listener, app.router, &limits, stopped).await
    });
    shutdown_signal().await;
    tracing::info!("stopping");
    let _ = stop.send(true);
    server.await?;
    Ok(())
}
