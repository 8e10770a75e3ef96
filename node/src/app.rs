//! Wiring: the embedded indexer (follower, store, roles), the hub, auth, and the router.

use std::sync::Arc;
use std::time::Duration;

use alloy::providers::{Provider, ProviderBuilder};
use anyhow::Context;
use assembly_indexer::api::{self as chain_api, ApiState};
use assembly_indexer::deployment::Deployment;
use assembly_indexer::roles::Roles;
use assembly_indexer::store::Store;
use assembly_indexer::sync::{Follower, SyncConfig};
use tokio::sync::watch;

use crate::auth::{Auth, AuthConfig};
use crate::config::NodeConfig;
use crate::http::{self, AppState};
use crate::live::Hub;
use assembly_media::push::{Push, PushConfig};
use assembly_media::{Media, ProgramSink, Sinks};

use crate::metrics::Metrics;
use crate::reactions::Reactions;
use crate::record::archive::Archive;
use crate::record::Recorder;

/// A running node's parts, for tests and `main`.
pub struct App {
    pub router: axum::Router,
    pub hub: Arc<Hub>,
    pub store: Arc<Store>,
    pub media: Arc<Media>,
}

/// Builds the node and starts its background tasks (until `shutdown`).
pub async fn start(
    config: &NodeConfig,
    secret: Vec<u8>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<App> {
    start_with(config, secret, shutdown, Duration::from_millis(500)).await
}

/// As [`start`], polling the chain every `poll` when it offers no subscription.
pub async fn start_with(
    config: &NodeConfig,
    secret: Vec<u8>,
    shutdown: watch::Receiver<bool>,
    poll: Duration,
) -> anyhow::Result<App> {
    let deployment = Deployment::load(&config.deployment)?;
    let store = Arc::new(
        Store::open(&config.db).with_context(|| format!("opening {}", config.db.display()))?,
    );
    let sync = SyncConfig {
        confirmations: config.confirmations,
        poll_interval: poll,
        ..SyncConfig::default()
    };
    let follower = Follower::connect(&config.rpc_url, store.clone(), deployment.clone(), sync)
        .await
        .with_context(|| format!("following {} on {}", deployment.assembly, config.rpc_url))?;
    let provider = ProviderBuilder::new()
        .connect(&config.rpc_url)
        .await
        .context("connecting to the chain")?
        .erased();
    let roles = Arc::new(Roles::new(provider.clone(), &deployment));
    let metrics = Arc::new(Metrics::default());
    let hub = Arc::new(Hub::new(
        store.clone(),
        roles.clone(),
        metrics,
        Reactions::new(5.0, 10.0),
        follower.progress(),
    ));
    let auth = Arc::new(Auth::new(
        AuthConfig {
            domain: config.domain.clone(),
            uri_prefix: config.public_url.clone(),
            chain_id: deployment.chain_id,
            max_message_age: Duration::from_secs(600),
            nonce_ttl: Duration::from_secs(600),
            session_ttl: Duration::from_secs(config.session_hours * 3600),
            secret,
        },
        provider,
    ));

    let chain = chain_api::router(ApiState {
        store: store.clone(),
        changes: follower.changes(),
        progress: follower.progress(),
        roles: Some(roles.clone()),
    });
    let changes = follower.changes();
    tokio::spawn(roles.clone().maintain(
        changes.subscribe(),
        Duration::from_secs(30),
        shutdown.clone(),
    ));
    tokio::spawn(hub.clone().run(
        changes.subscribe(),
        Duration::from_secs(1),
        Duration::from_millis(250),
        shutdown.clone(),
    ));
    tokio::spawn(follower.run(shutdown.clone()));
    hub.publish().await;
    let archive = Arc::new(
        Archive::open(&config.recordings)
            .with_context(|| format!("opening the archive in {}", config.recordings.display()))?,
    );
    crate::hansard::store::migrate(&archive).context("the Hansard's tables")?;
    match &config.transcriber {
        Some(spec) => {
            let engine = crate::hansard::engine(
                spec,
                config.transcriber_model.as_deref(),
                config.transcriber_key.clone(),
            )?;
            tracing::info!(engine = %engine.name(), "transcribing speeches");
            tokio::spawn(crate::hansard::run(
                archive.clone(),
                engine,
                hub.metrics.clone(),
                shutdown.clone(),
            ));
        }
        None => tracing::info!("no transcriber configured: speeches wait for one"),
    }
    let recorder =
        Recorder::start(archive.clone(), hub.metrics.clone()).context("starting the recorder")?;
    let s3 = config.s3.as_ref().map(|s| {
        tracing::info!(endpoint = %s.endpoint, bucket = %s.bucket, "copying the broadcast to object storage");
        crate::hls::s3::Uploader::start(s.config(), hub.metrics.clone(), &tokio::runtime::Handle::current())
    });
    let hls = crate::hls::Hls::start(config.hls.clone(), hub.gate(), hub.metrics.clone(), s3)
        .with_context(|| format!("starting HLS in {}", config.hls.display()))?;
    let push = config.whip_push.as_ref().map(|endpoint| {
        let state = hub.clone();
        tracing::info!(%endpoint, "pushing the program over WHIP");
        Push::start(
            PushConfig {
                endpoint: endpoint.clone(),
                token: config.whip_push_token.clone(),
                session: config.whip_push_session,
            },
            Arc::new(move || state.state().and_then(|s| s.current)),
            hub.metrics.media.clone(),
            shutdown.clone(),
        )
    });
    let mut sinks: Vec<Arc<dyn ProgramSink>> = vec![Arc::new(recorder), Arc::new(hls)];
    sinks.extend(push.map(|p| Arc::new(p) as Arc<dyn ProgramSink>));
    let sinks: Sinks = sinks.into();
    let media = Media::start(
        config.media()?,
        hub.metrics.media.clone(),
        hub.gate(),
        sinks,
        shutdown.clone(),
    )
    .with_context(|| format!("starting the media engine on {}", config.media_bind))?;
    let client_config = Arc::new(serde_json::json!({
        "network": deployment.network,
        "chainId": deployment.chain_id,
        "assembly": deployment.assembly,
        "bondingManager": deployment.bonding_manager,
        "governor": deployment.governor,
        "rpcUrl": config.public_rpc_url,
        "publicListening": config.public_listening,
        "reactions": crate::reactions::REACTIONS.iter().map(|(n, e)| serde_json::json!({"name": n, "emoji": e})).collect::<Vec<_>>(),
    }));
    let state = AppState {
        auth,
        hub: hub.clone(),
        media: media.clone(),
        archive,
        client_config,
        secure_cookies: config.secure_cookies,
    };
    Ok(App {
        router: http::router(state, chain, &config.web_root, &config.hls),
        hub,
        store,
        media,
    })
}
