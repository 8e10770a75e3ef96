//! Configuration: defaults for the local chain `script/start` runs, then a TOML file
//! (`ASSEMBLY_NODE_CONFIG`, optional), then environment variables, each overriding the last.
//!
//! | key (file) | variable | default |
//! |---|---|---|
//! | `listen` | `ASSEMBLY_NODE_LISTEN` | `127.0.0.1:8700` |
//! | `[indexer]` table | `ASSEMBLY_RPC_URL`, `_DEPLOYMENT`, `_DB`, `_CONFIRMATIONS`, `_MAX_BATCH`, `_POLL_MS`, `_ROLES_CACHE`, `_KEEPER_KEY` | the embedded indexer's: the same settings and defaults as the `assembly-indexer` binary ([`assembly_indexer::start`]); the store defaults to `assembly-node.sqlite` |
//! | `domain` | `ASSEMBLY_DOMAIN` | `localhost:8700` (what SIWE messages must name) |
//! | `public_url` | `ASSEMBLY_PUBLIC_URL` | `http://localhost:8700` (prefix of their URI) |
//! | `session_hours` | `ASSEMBLY_SESSION_HOURS` | `24` (the longest a sign-in lasts) |
//! | `token_minutes` | `ASSEMBLY_TOKEN_MINUTES` | `60` (one token's life; clients renew it while in use) |
//! | `secret_file` | `ASSEMBLY_SECRET_FILE` | `assembly-node.secret` (created if missing) |
//! | `node_key_file` | `ASSEMBLY_NODE_KEY_FILE` | beside `secret_file`, `.key` for `.secret` (created if missing): the key this node signs with, which its operator registers in the node registry |
//! | `secure_cookies` | `ASSEMBLY_SECURE_COOKIES` | `false` (always on when `public_url` is `https`) |
//! | `[media]` `bind` | `ASSEMBLY_MEDIA_BIND` | `127.0.0.1:8701` (the one UDP port for all WebRTC; `0.0.0.0:8701` to serve others) |
//! | `[media]` `public_ips` | `ASSEMBLY_MEDIA_PUBLIC_IPS` (comma-separated) | none (the bound or outbound address) |
//! | `[media]` `ice_servers` | `ASSEMBLY_STUN_URLS` (comma-separated `stun:` URLs) | none; `[[media.ice_servers]]` tables with `urls`, `username`, `credential` for TURN |
//! | `[media]` `threads` | `ASSEMBLY_MEDIA_THREADS` | one per core (engine shards listeners are spread over) |
//! | `[media]` `max_listeners` | `ASSEMBLY_MAX_LISTENERS` | `5000` |
//! | `[media]` `max_publishers` | `ASSEMBLY_MAX_PUBLISHERS` | `64` |
//! | `[media]` `offers_per_second` | `ASSEMBLY_OFFERS_PER_SECOND` | `200` (new WHEP sessions answered per second, in all) |
//! | `[media]` `publish_offers_per_second` | — | `20` (new WHIP sessions per second: a budget of their own, drawn on only by speakers the gate admits) |
//! | `[media]` `max_listeners_per_address` | — | `20` |
//! | `[media]` `public_listening` | `ASSEMBLY_PUBLIC_LISTENING` | `true` (WHEP without a wallet) |
//! | `[archive]` `recordings` | `ASSEMBLY_RECORDINGS` | `recordings` (one Ogg Opus file per speech, and the archive index) |
//! | `[archive]` `hls` | `ASSEMBLY_HLS` | `hls` (the broadcast's playlists and segments, served at `/hls/`) |
//! | `[archive.s3]` table: `endpoint`, `bucket`, `region`, `access_key`, `secret_key`, `prefix` | `ASSEMBLY_S3_ENDPOINT`, `_BUCKET`, `_REGION`, `_ACCESS_KEY`, `_SECRET_KEY`, `_PREFIX` | none (set to copy the broadcast to S3-compatible storage; region `us-east-1`, prefix `hls`) |
//! | `[archive.transcriber]` `service` | `ASSEMBLY_TRANSCRIBER` | none (speeches wait); `openai:<base URL>` or `livepeer:<gateway URL>` |
//! | `[archive.transcriber]` `model` | `ASSEMBLY_TRANSCRIBER_MODEL` | `whisper-1` / `openai/whisper-large-v3` |
//! | `[archive.transcriber]` `key` | `ASSEMBLY_TRANSCRIBER_KEY` | none (sent as a bearer token) |
//! | `[archive]` `captions` | `ASSEMBLY_CAPTIONS` (`true`/`false`) | `true`: live captions through the transcriber, when one is configured |
//! | `[push]` `endpoint` | `ASSEMBLY_WHIP_PUSH` | none (a WHIP endpoint to push the program to: MediaMTX, Livepeer's media server, another node) |
//! | `[push]` `token` | `ASSEMBLY_WHIP_PUSH_TOKEN` | none |
//! | `[push]` `session` | `ASSEMBLY_WHIP_PUSH_SESSION` | the current session |
//! | `embed_origins` | `ASSEMBLY_EMBED_ORIGINS` (comma-separated) | `*` (any site may embed the live view: its socket is an observer's, never the visitor's session) |
//! | `[limits]` table: `connections_per_ip` (64), `connections` (20000), `header_timeout_secs` (15), `request_timeout_secs` (30), `sockets_per_ip` (32), `sockets` (10000), `socket_message_bytes` (4096), `socket_buffer_bytes` (262144), `nonces_per_minute` (30), `sign_ins_per_minute` (30), `lookups_per_minute` (120), `listen_offers_per_minute` (60), `corrections_per_minute` (12), `trusted_proxies` | `ASSEMBLY_TRUSTED_PROXIES` (comma-separated) | see [`crate::limits`] |
//! | `web_root` | `ASSEMBLY_WEB_ROOT` | `web/dist` (the built web client, served at `/`) |
//! | `[webhooks]` table: `retry_secs` ([5, 30, 120, 600, 3600, 14400]), `timeout_secs` (5), `max_per_account` (10), `max_searches_per_account` (20), `max_queue` (1000), `allow_hosts` (any public host), `allow_private` (false) | — | see [`crate::alerts`]; the alerts' database is `alerts.sqlite` in the recordings directory |
//! | `public_rpc_url` | `ASSEMBLY_PUBLIC_RPC_URL` | `http://127.0.0.1:8545` (offered to wallets on the wrong chain) |
//! | `ens_rpc_url` | `ASSEMBLY_ENS_RPC_URL` | none (no ENS names); an Ethereum mainnet RPC to show speakers' ENS names and avatars |
//! | `ens_registry` | `ASSEMBLY_ENS_REGISTRY` | mainnet's `0x00000000000C2E074eC69A0dFb2997BA6C7d2e1e` |
//! | `[anchor]` `enabled` | `ASSEMBLY_ANCHOR` (`true`/`false`) | `true`: anchor each ended occurrence's record in the deployment's RecordAnchor, with the node key (registered and funded) |
//! | `[anchor]` `operator_key_file` | `ASSEMBLY_OPERATOR_KEY_FILE` | none; a lone node whose key is not registered anchors with its operator's own key from this file |
//! | `[anchor]` `transcript_wait_secs`, `every_ms`, `corrections_every_secs` | — | `600` (the longest an ended occurrence waits for its transcripts), `5000` (how often to look), `600` (the least time between two editions of one record: corrections made meanwhile are anchored together) |

use std::path::PathBuf;

use anyhow::Context;
use serde::Deserialize;

use assembly_archive::hls::s3::{self, S3Config};
use assembly_archive::{ArchiveConfig, TranscriberConfig};
use assembly_indexer::start::IndexerConfig;
use assembly_media::push::PushConfig;
use assembly_media::{IceServer, MediaConfig};

use crate::limits::LimitsConfig;

/// The embedded indexer's store when none is configured.
pub const DEFAULT_DB: &str = "assembly-node.sqlite";

/// The node's configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// The HTTP listen address, `host:port`.
    pub listen: String,
    /// The embedded indexer: how the node follows the chain.
    pub indexer: IndexerConfig,
    /// The host (and port) SIWE messages must name.
    pub domain: String,
    /// The node's public origin; SIWE message URIs must start with it.
    pub public_url: String,
    /// The longest a sign-in lasts, in hours, however often its token is renewed.
    pub session_hours: u64,
    /// How long one session token lasts, in minutes; renewed while in use.
    pub token_minutes: u64,
    /// Where the key that signs session cookies is kept (created if missing).
    pub secret_file: PathBuf,
    /// Where the node key is kept (created if missing); None: beside `secret_file`.
    pub node_key_file: Option<PathBuf>,
    /// Whether cookies are marked `Secure` (set behind HTTPS).
    pub secure_cookies: bool,
    /// The media path: its own settings, with its own defaults.
    pub media: MediaConfig,
    /// The archive: recordings, the broadcast, the Hansard's transcriber.
    pub archive: ArchiveConfig,
    /// Where the program is pushed over WHIP; None: no push.
    pub push: Option<PushConfig>,
    /// Sites whose pages may embed the live view (an anonymous live socket); `*` for any.
    pub embed_origins: Vec<String>,
    /// What one address, and everyone together, may cost the node (the `[limits]` table).
    pub limits: LimitsConfig,
    /// The built web client's directory, served at `/`.
    pub web_root: PathBuf,
    /// The chain RPC URL offered to wallets on the wrong chain.
    pub public_rpc_url: String,
    /// An RPC of the chain ENS lives on (Ethereum mainnet); None: no names are looked up.
    pub ens_rpc_url: Option<String>,
    /// ENS's registry on that chain.
    pub ens_registry: alloy::primitives::Address,
    /// Webhook delivery: retries, timeouts, per-account bounds, allowed targets.
    pub webhooks: crate::alerts::WebhooksConfig,
    /// Anchoring each ended occurrence's record on chain (the `[anchor]` table).
    pub anchor: crate::anchor::AnchorConfig,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8700".into(),
            indexer: IndexerConfig::default(),
            domain: "localhost:8700".into(),
            public_url: "http://localhost:8700".into(),
            session_hours: 24,
            token_minutes: 60,
            secret_file: "assembly-node.secret".into(),
            node_key_file: None,
            secure_cookies: false,
            media: MediaConfig::default(),
            archive: ArchiveConfig::default(),
            push: None,
            embed_origins: vec!["*".into()],
            limits: LimitsConfig::default(),
            web_root: "web/dist".into(),
            public_rpc_url: "http://127.0.0.1:8545".into(),
            ens_rpc_url: None,
            ens_registry: crate::names::MAINNET_REGISTRY,
            webhooks: crate::alerts::WebhooksConfig::default(),
            anchor: crate::anchor::AnchorConfig::default(),
        }
    }
}

impl NodeConfig {
    /// Defaults, the file, then the environment.
    pub fn load() -> anyhow::Result<Self> {
        let mut c = match std::env::var("ASSEMBLY_NODE_CONFIG") {
            Ok(path) => {
                let text =
                    std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
                toml::from_str(&text).with_context(|| format!("parsing {path}"))?
            }
            Err(_) => NodeConfig::default(),
        };
        let var = |k: &str| std::env::var(k).ok();
        if let Some(v) = var("ASSEMBLY_NODE_LISTEN") {
            c.listen = v;
        }
        c.indexer.apply_env()?;
        if let Some(v) = var("ASSEMBLY_DOMAIN") {
            c.domain = v;
        }
        if let Some(v) = var("ASSEMBLY_PUBLIC_URL") {
            c.public_url = v;
        }
        if let Some(v) = var("ASSEMBLY_SECRET_FILE") {
            c.secret_file = v.into();
        }
        if let Some(v) = var("ASSEMBLY_NODE_KEY_FILE") {
            c.node_key_file = Some(v.into());
        }
        if let Some(v) = var("ASSEMBLY_SESSION_HOURS") {
            c.session_hours = v.parse().context("ASSEMBLY_SESSION_HOURS")?;
        }
        if let Some(v) = var("ASSEMBLY_TOKEN_MINUTES") {
            c.token_minutes = v.parse().context("ASSEMBLY_TOKEN_MINUTES")?;
        }
        if let Some(v) = var("ASSEMBLY_SECURE_COOKIES") {
            c.secure_cookies = v.parse().context("ASSEMBLY_SECURE_COOKIES")?;
        }
        if let Some(v) = var("ASSEMBLY_MEDIA_BIND") {
            c.media.bind = v
                .parse()
                .with_context(|| format!("ASSEMBLY_MEDIA_BIND={v}"))?;
        }
        let list = |v: String| -> Vec<String> {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        if let Some(v) = var("ASSEMBLY_MEDIA_PUBLIC_IPS") {
            c.media.public_ips = list(v)
                .iter()
                .map(|ip| ip.parse().with_context(|| format!("media public IP {ip}")))
                .collect::<anyhow::Result<_>>()?;
        }
        if let Some(v) = var("ASSEMBLY_STUN_URLS") {
            c.media.ice_servers.push(IceServer {
                urls: list(v),
                username: None,
                credential: None,
            });
        }
        if let Some(v) = var("ASSEMBLY_MEDIA_THREADS") {
            let n: usize = v.parse().context("ASSEMBLY_MEDIA_THREADS")?;
            c.media.threads = assembly_media::threads_or_cores(n);
        }
        if let Some(v) = var("ASSEMBLY_MAX_LISTENERS") {
            c.media.max_listeners = v.parse().context("ASSEMBLY_MAX_LISTENERS")?;
        }
        if let Some(v) = var("ASSEMBLY_MAX_PUBLISHERS") {
            c.media.max_publishers = v.parse().context("ASSEMBLY_MAX_PUBLISHERS")?;
        }
        if let Some(v) = var("ASSEMBLY_OFFERS_PER_SECOND") {
            c.media.offers_per_second = v.parse().context("ASSEMBLY_OFFERS_PER_SECOND")?;
        }
        let archive = &mut c.archive;
        if let Some(service) = var("ASSEMBLY_TRANSCRIBER") {
            let t = archive.transcriber.get_or_insert(TranscriberConfig {
                service: String::new(),
                model: None,
                key: None,
            });
            t.service = service;
        }
        if let Some(t) = archive.transcriber.as_mut() {
            t.model = var("ASSEMBLY_TRANSCRIBER_MODEL").or(t.model.take());
            t.key = var("ASSEMBLY_TRANSCRIBER_KEY").or(t.key.take());
        }
        if let Some(endpoint) = var("ASSEMBLY_S3_ENDPOINT") {
            let need =
                |k: &str| var(k).with_context(|| format!("{k} (ASSEMBLY_S3_ENDPOINT is set)"));
            archive.s3 = Some(S3Config {
                endpoint,
                bucket: need("ASSEMBLY_S3_BUCKET")?,
                region: var("ASSEMBLY_S3_REGION").unwrap_or_else(s3::default_region),
                access_key: need("ASSEMBLY_S3_ACCESS_KEY")?,
                secret_key: need("ASSEMBLY_S3_SECRET_KEY")?,
                prefix: var("ASSEMBLY_S3_PREFIX").unwrap_or_else(s3::default_prefix),
            });
        }
        if let Some(v) = var("ASSEMBLY_CAPTIONS") {
            archive.captions = v.parse().context("ASSEMBLY_CAPTIONS (true or false)")?;
        }
        if let Some(v) = var("ASSEMBLY_HLS") {
            archive.hls = v.into();
        }
        if let Some(v) = var("ASSEMBLY_RECORDINGS") {
            archive.recordings = v.into();
        }
        if let Some(endpoint) = var("ASSEMBLY_WHIP_PUSH") {
            c.push = Some(PushConfig {
                endpoint,
                token: None,
                session: None,
            });
        }
        if let Some(push) = c.push.as_mut() {
            push.token = var("ASSEMBLY_WHIP_PUSH_TOKEN").or(push.token.take());
            if let Some(v) = var("ASSEMBLY_WHIP_PUSH_SESSION") {
                push.session = Some(v.parse().context("ASSEMBLY_WHIP_PUSH_SESSION")?);
            }
        }
        if let Some(v) = var("ASSEMBLY_WEB_ROOT") {
            c.web_root = v.into();
        }
        if let Some(v) = var("ASSEMBLY_PUBLIC_RPC_URL") {
            c.public_rpc_url = v;
        }
        if let Some(v) = var("ASSEMBLY_ENS_RPC_URL") {
            c.ens_rpc_url = Some(v);
        }
        if let Some(v) = var("ASSEMBLY_ENS_REGISTRY") {
            c.ens_registry = v.parse().context("ASSEMBLY_ENS_REGISTRY")?;
        }
        if let Some(v) = var("ASSEMBLY_EMBED_ORIGINS") {
            c.embed_origins = list(v);
        }
        if let Some(v) = var("ASSEMBLY_TRUSTED_PROXIES") {
            c.limits.trusted_proxies = list(v)
                .iter()
                .map(|ip| ip.parse().with_context(|| format!("trusted proxy {ip}")))
                .collect::<anyhow::Result<_>>()?;
        }
        if let Some(v) = var("ASSEMBLY_ANCHOR") {
            c.anchor.enabled = v.parse().context("ASSEMBLY_ANCHOR (true or false)")?;
        }
        if let Some(v) = var("ASSEMBLY_OPERATOR_KEY_FILE") {
            c.anchor.operator_key_file = Some(v.into());
        }
        if let Some(v) = var("ASSEMBLY_PUBLIC_LISTENING") {
            c.media.public_listening = v.parse().context("ASSEMBLY_PUBLIC_LISTENING")?;
        }
        // Sign-in messages are checked against it as a URL: a typo would refuse everyone.
        url::Url::parse(&c.public_url)
            .with_context(|| format!("public_url {} is not a URL", c.public_url))?;
        Ok(c)
    }

    /// Whether session cookies are marked `Secure`: when asked, and always behind `https`.
    pub fn cookies_secure(&self) -> bool {
        self.secure_cookies
            || url::Url::parse(&self.public_url).is_ok_and(|u| u.scheme() == "https")
    }

    /// The node key's file: as configured, else beside the secret file.
    pub fn node_key_path(&self) -> PathBuf {
        self.node_key_file
            .clone()
            .unwrap_or_else(|| self.secret_file.with_extension("key"))
    }

    /// The session-token key: from the secret file, created with 32 random bytes if missing.
    pub fn secret(&self) -> anyhow::Result<Vec<u8>> {
        if let Ok(bytes) = std::fs::read(&self.secret_file) {
            anyhow::ensure!(
                bytes.len() >= 32,
                "{} holds fewer than 32 bytes",
                self.secret_file.display()
            );
            return Ok(bytes);
        }
        let mut bytes = vec![0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        std::fs::write(&self.secret_file, &bytes)
            .with_context(|| format!("writing {}", self.secret_file.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ =
                std::fs::set_permissions(&self.secret_file, std::fs::Permissions::from_mode(0o600));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_part_reads_its_own_table() {
        let c: NodeConfig = toml::from_str(
            r#"
            listen = "0.0.0.0:8700"
            [indexer]
            rpc_url = "wss://arb1.example/ws"
            confirmations = 5
            [media]
            bind = "0.0.0.0:8701"
            max_publishers = 4
            [[media.ice_servers]]
            urls = ["stun:stun.example:3478"]
            [archive]
            recordings = "/var/lib/assembly/recordings"
            [archive.transcriber]
            service = "openai:http://127.0.0.1:8000"
            [push]
            endpoint = "http://127.0.0.1:8889/program/whip"
            "#,
        )
        .expect("a valid file");
        assert_eq!(c.indexer.rpc_url, "wss://arb1.example/ws");
        assert_eq!(c.indexer.confirmations, 5);
        assert_eq!(c.indexer.max_batch, IndexerConfig::default().max_batch);
        assert_eq!(c.media.bind.port(), 8701);
        assert_eq!(c.media.max_publishers, 4);
        assert_eq!(c.media.max_listeners, MediaConfig::default().max_listeners);
        assert_eq!(c.media.ice_servers[0].urls, ["stun:stun.example:3478"]);
        assert!(c.media.threads >= 1);
        assert_eq!(
            c.archive.recordings,
            PathBuf::from("/var/lib/assembly/recordings")
        );
        assert_eq!(c.archive.hls, ArchiveConfig::default().hls);
        let transcriber = c.archive.transcriber.expect("a transcriber");
        assert_eq!(transcriber.service, "openai:http://127.0.0.1:8000");
        assert_eq!(transcriber.model, None);
        assert!(c.archive.s3.is_none());
        let push = c.push.expect("a push");
        assert_eq!(push.session, None);
    }

    #[test]
    fn cookies_are_secure_behind_https() {
        let mut c = NodeConfig::default();
        assert!(!c.cookies_secure(), "plain HTTP on localhost");
        c.public_url = "HTTPS://assembly.example".into();
        assert!(c.cookies_secure());
        c.public_url = "http://assembly.example".into();
        c.secure_cookies = true;
        assert!(c.cookies_secure());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<NodeConfig>("[media]\nbnid = \"0.0.0.0:1\"").is_err());
        assert!(toml::from_str::<NodeConfig>("media_bind = \"0.0.0.0:1\"").is_err());
        // The flat keys of before the [archive] table say so rather than being ignored.
        assert!(toml::from_str::<NodeConfig>("recordings = \"r\"").is_err());
        assert!(toml::from_str::<NodeConfig>("[archive.transcriber]\nmodel = \"m\"").is_err());
    }
}
