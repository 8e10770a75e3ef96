//! Copies of the broadcast in S3-compatible object storage (AWS S3, MinIO, R2, Storj…), which
//! is how an audience larger than one node is served: a CDN in front of the bucket. Each
//! segment is uploaded before the playlist that names it, in order, by one task, with
//! AWS Signature Version 4 (path-style URLs, so any S3-compatible endpoint works).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::metrics::ArchiveMetrics;

/// Where the broadcast is copied.
#[derive(Clone, Debug)]
pub struct S3Config {
    /// `https://s3.us-east-1.amazonaws.com`, `http://minio:9000`…
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// Key prefix, e.g. `hls` → `hls/{session}/index.m3u8`.
    pub prefix: String,
}

fn hex_sha256(b: &[u8]) -> String {
    alloy_primitives::hex::encode(Sha256::digest(b))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any size");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// The `Authorization` header for a request (SigV4, service `s3`). `headers` are the
/// lower-case signed headers with their values, `host` among them; `path` is URI-encoded.
pub fn authorization(
    c: &S3Config,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    payload_sha256: &str,
    amz_date: &str,
) -> String {
    let mut headers: Vec<(&str, &str)> = headers.to_vec();
    headers.sort_by_key(|(k, _)| *k);
    let canonical_headers: String = headers
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| *k).collect();
    let signed = signed.join(";");
    let canonical = format!("{method}\n{path}\n\n{canonical_headers}\n{signed}\n{payload_sha256}");
    let date = &amz_date[..8];
    let scope = format!("{date}/{}/s3/aws4_request", c.region);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex_sha256(canonical.as_bytes())
    );
    let k = hmac(format!("AWS4{}", c.secret_key).as_bytes(), date.as_bytes());
    let k = hmac(&k, c.region.as_bytes());
    let k = hmac(&k, b"s3");
    let k = hmac(&k, b"aws4_request");
    let signature = alloy_primitives::hex::encode(hmac(&k, to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
        c.access_key
    )
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
    /// Starts the upload task on `runtime`.
    pub fn start(
        config: S3Config,
        metrics: Arc<ArchiveMetrics>,
        runtime: &tokio::runtime::Handle,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        runtime.spawn(run(config, metrics, rx));
        Self { tx }
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

async fn run(c: S3Config, metrics: Arc<ArchiveMetrics>, mut rx: mpsc::UnboundedReceiver<Job>) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let endpoint = c.endpoint.trim_end_matches('/').to_string();
    let host = endpoint
        .split("://")
        .nth(1)
        .unwrap_or(&endpoint)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    while let Some(job) = rx.recv().await {
        let (method, key, body, content_type) = match job {
            Job::Put {
                key,
                body,
                content_type,
            } => ("PUT", key, body, Some(content_type)),
            Job::Delete { key } => ("DELETE", key, Vec::new(), None),
        };
        let prefix = c.prefix.trim_matches('/');
        let object = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}/{key}")
        };
        let path = format!("/{}/{}", c.bucket, object);
        let payload = hex_sha256(&body);
        let mut ok = false;
        for attempt in 0..4u32 {
            let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
            let auth = authorization(
                &c,
                method,
                &path,
                &[
                    ("host", &host),
                    ("x-amz-content-sha256", &payload),
                    ("x-amz-date", &amz_date),
                ],
                &payload,
                &amz_date,
            );
            let mut req = http
                .request(
                    method.parse().unwrap_or(reqwest::Method::PUT),
                    format!("{endpoint}{path}"),
                )
                .header("x-amz-content-sha256", &payload)
                .header("x-amz-date", &amz_date)
                .header("authorization", auth)
                .body(body.clone());
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => {
                    ok = true;
                    break;
                }
                Ok(r) => tracing::warn!(%path, status = %r.status(), attempt, "S3 refused"),
                Err(e) => tracing::warn!(%path, error = %e, attempt, "S3 unreachable"),
            }
            tokio::time::sleep(Duration::from_millis(250 * 2u64.pow(attempt))).await;
        }
        if ok {
            metrics.s3_ok.fetch_add(1, Relaxed);
        } else {
            metrics.s3_failed.fetch_add(1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Amazon S3's SigV4 documentation (GET Object, with a Range).
    #[test]
    fn matches_the_documented_example() {
        let c = S3Config {
            endpoint: "https://examplebucket.s3.amazonaws.com".into(),
            bucket: "examplebucket".into(),
            region: "us-east-1".into(),
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            prefix: String::new(),
        };
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let auth = authorization(
            &c,
            "GET",
            "/test.txt",
            &[
                ("host", "examplebucket.s3.amazonaws.com"),
                ("range", "bytes=0-9"),
                ("x-amz-content-sha256", empty),
                ("x-amz-date", "20130524T000000Z"),
            ],
            empty,
            "20130524T000000Z",
        );
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }
}
