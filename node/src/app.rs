//! Wiring: the embedded indexer (follower, store, roles), the hub, auth, and the router.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use assembly_indexer::start::Indexer;
use assembly_indexer::store::Store;
use tokio::sync::watch;

use crate::alerts::Alerts;
use crate::auth::{Auth, AuthConfig};
use crate::config::{NodeConfig, DEFAULT_DB};
use crate::http::{self, AppState};
use crate::live::Hub;
use crate::state::{ClientConfig, DemoAccount, Origins, ReactionInfo};
use assembly_media::push::Push;
use assembly_media::{Media, ProgramSink, Sinks};

use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::names::Names;
use crate::reactions::Reactions;
use assembly_archive::attendance::{self, Ledger};
use assembly_archive::captions::{self, Captions};
use assembly_archive::record::archive::Archive;
use assembly_archive::record::Recorder;
use assembly_archive::{hansard, hls};

/// A running node's parts, for tests and `main`.
pub struct App {
    /// The HTTP routes: API, WHIP/WHEP, HLS, and the web client.
    pub router: axum::Router,
    /// The live-state hub that feeds every WebSocket.
    pub hub: Arc<Hub>,
    /// The embedded indexer's store.
    pub store: Arc<Store>,
    /// The media path (WebRTC sessions and the engine).
    pub media: Arc<Media>,
}

/// Builds the node and starts its background tasks (until `shutdown`).
pub async fn start(
    config: &NodeConfig,
    secret: Vec<u8>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<App> {
    let indexer = Indexer::connect(&config.indexer, DEFAULT_DB).await?;
    let deployment = indexer.deployment.clone();
    let (store, roles, provider) = (
        indexer.store.clone(),
        indexer.roles.clone(),
        indexer.provider.clone(),
    );
    let metrics = Arc::new(Metrics::default());
    let limits = Limits::new(config.limits.clone(), metrics.clone());
    tokio::spawn(forget_idle(limits.clone(), shutdown.clone()));
    let hub = Arc::new(Hub::new(
        store.clone(),
        roles.clone(),
        metrics,
        Reactions::new(5.0, 10.0),
        indexer.progress(),
    ));
    let node_key = crate::cluster::key::load_or_create(&config.node_key_path())?;
    tracing::info!(key = %node_key.address(), "node key");
    let auth = Arc::new(
        Auth::new(
            AuthConfig {
                domain: config.domain.clone(),
                uri_prefix: config.public_url.clone(),
                chain_id: deployment.chain_id,
                max_message_age: Duration::from_secs(600),
                nonce_ttl: Duration::from_secs(600),
                session_ttl: Duration::from_secs(config.session_hours * 3600),
                token_ttl: Duration::from_secs(config.token_minutes.max(1) * 60),
                secret,
                revocations: Some(config.secret_file.with_extension("signed-out")),
            },
            provider.clone(),
        )
        .with_node_key(node_key.clone()),
    );

    let chain = indexer.api_state();
    tokio::spawn(hub.clone().run(
        indexer.changes().subscribe(),
        Duration::from_secs(1),
        Duration::from_millis(250),
        shutdown.clone(),
    ));
    indexer.run(shutdown.clone());
    hub.publish().await;
    let settings = &config.archive;
    let archive =
        Arc::new(Archive::open(&settings.recordings).with_context(|| {
            format!("opening the archive in {}", settings.recordings.display())
        })?);
    hansard::store::migrate(&archive).context("the Hansard's tables")?;
    let ledger = Ledger::start(archive.clone()).context("the attendance ledger")?;
    hub.presence.record_to(ledger.clone());
    tokio::spawn(heartbeat(ledger, shutdown.clone()));
    let (transcribed, _) = tokio::sync::broadcast::channel(256);
    let alerts = Alerts::open(
        &settings.recordings.join("alerts.sqlite"),
        config.webhooks.clone(),
        hub.metrics.clone(),
        shutdown.clone(),
    )
    .context("opening the alerts' database")?;
    alerts.resume().await;
    tokio::spawn(
        alerts
            .clone()
            .watch(hub.clone(), transcribed.subscribe(), shutdown.clone()),
    );
    // Each stored transcript replaces its speech's live captions on every page.
    tokio::spawn(replace_captions(
        hub.clone(),
        transcribed.subscribe(),
        shutdown.clone(),
    ));
    let engine = settings
        .transcriber
        .as_ref()
        .map(|t| hansard::engine(&t.service, t.model.as_deref(), t.key.clone()))
        .transpose()?;
    match &engine {
        Some(engine) => {
            tracing::info!(engine = %engine.name(), "transcribing speeches");
            tokio::spawn(hansard::run(
                archive.clone(),
                engine.clone(),
                hub.metrics.archive.clone(),
                transcribed,
                shutdown.clone(),
            ));
        }
        None => tracing::info!("no transcriber configured: speeches wait for one"),
    }
    // Captions go through the Hansard's engine: none configured, no captions.
    let captions_engine = engine.filter(|_| settings.captions);
    // Speaking keys: certified in the Assembly contract's domain, by the holder's key or
    // (asked of the chain, off the live path) their contract wallet.
    let domain = assembly_provenance::domain(deployment.chain_id, deployment.assembly);
    let provenance = assembly_media::attest::Provenance {
        wallets: crate::wallets::ContractWallets::start(provider.clone(), domain.clone()),
        domain: domain.clone(),
    };
    let recorder = Recorder::start(
        archive.clone(),
        hub.metrics.archive.clone(),
        provenance.clone(),
    )
    .context("starting the recorder")?;
    let s3 = settings
        .s3
        .as_ref()
        .map(|s| {
            tracing::info!(endpoint = %s.endpoint, bucket = %s.bucket, "copying the broadcast to object storage");
            hls::s3::Uploader::start(s.clone(), hub.metrics.archive.clone(), &tokio::runtime::Handle::current())
        })
        .transpose()
        .context("configuring object storage")?;
    let hls = hls::Hls::start(
        settings.hls.clone(),
        hub.gate(),
        hub.metrics.archive.clone(),
        s3,
        captions_engine.is_some(),
    )
    .with_context(|| format!("starting HLS in {}", settings.hls.display()))?;
    let push = config.push.as_ref().map(|push| {
        let state = hub.clone();
        tracing::info!(endpoint = %push.endpoint, "pushing the program over WHIP");
        Push::start(
            push.clone(),
            Arc::new(move || state.state().and_then(|s| s.current)),
            hub.metrics.media.clone(),
            shutdown.clone(),
        )
    });
    let captions = captions_engine.map(|engine| {
        tracing::info!("live captions on");
        let (told, subtitles) = (hub.clone(), hls.clone());
        Captions::start(
            engine,
            captions::Settings::default(),
            hub.metrics.archive.clone(),
            Arc::new(move |cue| {
                told.caption(&cue);
                subtitles.caption(cue);
            }),
            shutdown.clone(),
        )
    });
    let cluster = Arc::new(crate::cluster::Cluster::new(
        node_key.clone(),
        store.clone(),
        roles.clone(),
    ));
    // Speakers' corrections of their transcripts, passed among the members.
    let corrections = crate::corrections::Corrections::new(
        archive.clone(),
        domain.clone(),
        provider.clone(),
        cluster.clone(),
        hub.metrics.corrections.clone(),
    )
    .context("the corrections' HTTP client")?;
    tokio::spawn(corrections.clone().run(shutdown.clone()));
    // Each ended occurrence's record, anchored on chain with the node key.
    crate::anchor::start(
        &config.anchor,
        &config.indexer.rpc_url,
        &deployment,
        archive.clone(),
        store.clone(),
        node_key,
        settings.transcriber.is_some(),
        corrections.clone(),
        hub.metrics.anchors.clone(),
        shutdown.clone(),
    )
    .await?;
    // Every speaker connected here is relayed to the cluster's other members.
    let relay = crate::cluster::relay::Relay::start(
        cluster.clone(),
        hub.gate(),
        hub.metrics.media.clone(),
        hub.metrics.relays_out.with_label_values(&["started"]),
        hub.metrics.relay_links.clone(),
        shutdown.clone(),
    );
    let mut sinks: Vec<Arc<dyn ProgramSink>> =
        vec![Arc::new(recorder), Arc::new(hls), Arc::new(relay)];
    sinks.extend(captions.map(|c| Arc::new(c) as Arc<dyn ProgramSink>));
    sinks.extend(push.map(|p| Arc::new(p) as Arc<dyn ProgramSink>));
    let sinks: Sinks = sinks.into();
    let media = Media::start(
        config.media.clone(),
        hub.metrics.media.clone(),
        hub.gate(),
        sinks,
        provenance,
        shutdown.clone(),
    )
    .with_context(|| format!("starting the media engine on {}", config.media.bind))?;
    let client_config = Arc::new(ClientConfig {
        network: deployment.network.clone(),
        chain_id: deployment.chain_id,
        assembly: deployment.assembly,
        bonding_manager: deployment.bonding_manager,
        governor: deployment.governor,
        rpc_url: config.public_rpc_url.clone(),
        public_listening: config.media.public_listening,
        reactions: ReactionInfo::all(),
        demo_accounts: DemoAccount::of(&deployment),
    });
    let names = match &config.ens_rpc_url {
        Some(url) => {
            let provider = alloy::providers::ProviderBuilder::new()
                .connect(url)
                .await
                .with_context(|| format!("connecting to the ENS RPC {url}"))?;
            tracing::info!(registry = %config.ens_registry, "naming speakers with ENS");
            Some(Arc::new(Names::new(
                alloy::providers::Provider::erased(provider),
                config.ens_registry,
            )))
        }
        None => None,
    };
    tokio::spawn(crate::cluster::share::run(
        cluster.clone(),
        hub.clone(),
        auth.clone(),
        hub.metrics.shares_told.clone(),
        shutdown.clone(),
    ));
    let state = AppState {
        cluster,
        corrections,
        names,
        auth,
        hub: hub.clone(),
        roles: roles.clone(),
        metrics: hub.metrics.clone(),
        media: media.clone(),
        archive,
        client_config,
        secure_cookies: config.cookies_secure(),
        limits,
        alerts,
        origins: Arc::new(Origins::new(
            &config.public_url,
            config.embed_origins.clone(),
        )),
    };
    Ok(App {
        router: http::router(state, chain, &config.web_root, &settings.hls),
        hub,
        store,
        media,
    })
}

/// Budgets forget addresses that stopped asking, so their maps hold only recent senders.
async fn forget_idle(limits: Arc<Limits>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => limits.forget_idle(),
            _ = shutdown.changed() => return,
        }
    }
}

/// Keeps signed-in presence intervals current, so a node killed mid-session loses at most
/// one beat of attendance.
async fn heartbeat(ledger: Ledger, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(attendance::HEARTBEAT);
    loop {
        tokio::select! {
            _ = every.tick() => ledger.heartbeat(assembly_floor::clock::now_ms()),
            _ = shutdown.changed() => return,
        }
    }
}

/// Tells the live pages of each transcript the Hansard stores, until `shutdown`.
async fn replace_captions(
    hub: Arc<Hub>,
    mut transcribed: tokio::sync::broadcast::Receiver<hansard::Transcribed>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            t = transcribed.recv() => match t {
                Ok(t) => hub.transcript(&t.speech, &t.text),
                // Captions that lagged stay until the page's next speech; nothing to redo.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = shutdown.changed() => return,
        }
    }
}
