//! Copies of the broadcast in S3-compatible object storage (AWS S3, MinIO, R2, Storj…), which
//! is how an audience larger than one node is served: a CDN in front of the bucket. Each
//! segment is uploaded before the playlist that names it, in order, by one task.
//!
//! The requests, their SigV4 signatures and their retries are `object_store`'s (its S3 store,
//! path-style URLs so any S3-compatible endpoint works). What stays here is the queue that keeps
//! the uploads off the live path and in order, and the ok/failed counts.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutOptions,
    RetryConfig,
};
use tokio::sync::mpsc;

use crate::metrics::ArchiveMetrics;

/// Where the broadcast is copied.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// `https://s3.us-east-1.amazonaws.com`, `http://minio:9000`…
    pub endpoint: String,
    /// The bucket, addressed path-style (`{endpoint}/{bucket}/{key}`).
    pub bucket: String,
    /// The region the signatures are scoped to (`us-east-1` for most S3-compatible stores).
    #[serde(default = "default_region")]
    pub region: String,
    /// The access key id.
    pub access_key: String,
    /// The secret access key.
    pub secret_key: String,
    /// Key prefix, e.g. `hls` → `hls/{session}/index.m3u8`.
    #[serde(default = "default_prefix")]
    pub prefix: String,
}

/// The region when none is given.
pub fn default_region() -> String {
    "us-east-1".into()
}

/// The key prefix when none is given.
pub fn default_prefix() -> String {
    "hls".into()
}

/// Why the bucket cannot be used at all (each failed upload is only counted).
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The endpoint, bucket, region or keys do not make an S3 client.
    #[error("object storage settings: {0}")]
    Config(#[from] object_store::Error),
}

/// Why one upload did not happen.
#[derive(Debug, thiserror::Error)]
enum UploadError {
    #[error("key {0:?} is not an object path")]
    Key(String, #[source] object_store::path::Error),
    #[error(transparent)]
    Store(#[from] object_store::Error),
}

enum Job {
    Put {
        key: String,
        body: Vec<u8>,
        content_type: &'static str,
    },
    Delete {
        key: String,
    },
}

/// The upload queue.
#[derive(Clone)]
pub struct Uploader {
    tx: mpsc::UnboundedSender<Job>,
}

impl Uploader {
    /// Starts the upload task on `runtime`. Fails only when the settings cannot make a client;
    /// an unreachable bucket is retried and counted per upload, never fatal.
    pub fn start(
        config: S3Config,
        metrics: Arc<ArchiveMetrics>,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Self, S3Error> {
        let store = store(&config)?;
        let (tx, rx) = mpsc::unbounded_channel();
        runtime.spawn(run(store, config.prefix, metrics, rx));
        Ok(Self { tx })
    }

    /// Uploads `body` as `{prefix}/{rel}`.
    pub fn put(&self, rel: &str, body: Vec<u8>, content_type: &'static str) {
        let _ = self.tx.send(Job::Put {
            key: rel.to_string(),
            body,
            content_type,
        });
    }

    /// Removes `{prefix}/{rel}`.
    pub fn delete(&self, rel: &str) {
        let _ = self.tx.send(Job::Delete {
            key: rel.to_string(),
        });
    }
}

fn store(c: &S3Config) -> Result<AmazonS3, S3Error> {
    // One segment a second: a file that cannot be copied within a few seconds is stale, so
    // fewer and shorter retries than the library's defaults (10 retries, 3 minutes), about
    // what the hand-written client did (4 attempts, 250 ms doubling, 10 s per request).
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: 3,
        retry_timeout: Duration::from_secs(30),
    };
    let client = ClientOptions::new()
        .with_timeout(Duration::from_secs(10))
        // MinIO and other local stores are commonly plain HTTP.
        .with_allow_http(true);
    Ok(AmazonS3Builder::new()
        .with_endpoint(c.endpoint.trim_end_matches('/'))
        .with_bucket_name(&c.bucket)
        .with_region(&c.region)
        .with_access_key_id(&c.access_key)
        .with_secret_access_key(&c.secret_key)
        .with_virtual_hosted_style_request(false)
        .with_client_options(client)
        .with_retry(retry)
        .build()?)
}

/// `{prefix}/{key}`, or `key` without a prefix.
fn object_key(prefix: &str, key: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}/{key}")
    }
}

async fn run(
    store: AmazonS3,
    prefix: String,
    metrics: Arc<ArchiveMetrics>,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    // One job at a time, awaited: that is what puts a segment in the bucket before the
    // playlist naming it.
    while let Some(job) = rx.recv().await {
        let result = upload(&store, &prefix, job).await;
        match result {
            Ok(()) => metrics.s3_ok.fetch_add(1, Relaxed),
            Err(e) => {
                tracing::warn!(error = %e, "S3 copy failed");
                metrics.s3_failed.fetch_add(1, Relaxed)
            }
        };
    }
}

async fn upload(store: &AmazonS3, prefix: &str, job: Job) -> Result<(), UploadError> {
    let key = match &job {
        Job::Put { key, .. } | Job::Delete { key } => object_key(prefix, key),
    };
    let path = Path::parse(&key).map_err(|e| UploadError::Key(key.clone(), e))?;
    match job {
        Job::Put {
            body, content_type, ..
        } => {
            let mut attributes = Attributes::new();
            attributes.insert(Attribute::ContentType, content_type.into());
            store
                .put_opts(&path, body.into(), PutOptions::from(attributes))
                .await?;
        }
        Job::Delete { .. } => store.delete(&path).await?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_take_the_prefix_once() {
        assert_eq!(object_key("hls", "7/index.m3u8"), "hls/7/index.m3u8");
        assert_eq!(object_key("/hls/", "7/init.mp4"), "hls/7/init.mp4");
        assert_eq!(object_key("", "7/1.m4s"), "7/1.m4s");
    }

    #[test]
    fn plain_http_endpoints_make_a_store() {
        let c = S3Config {
            endpoint: "http://127.0.0.1:9000/".into(),
            bucket: "broadcast".into(),
            region: "eu-west-1".into(),
            access_key: "AKIDASSEMBLY".into(),
            secret_key: "secret".into(),
            prefix: "hls".into(),
        };
        assert!(store(&c).is_ok());
    }
}
