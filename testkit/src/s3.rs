//! A stand-in for S3-compatible object storage: keeps what is PUT, checks each request's
//! SigV4 signature and each body against its signed SHA-256, honours DELETE.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use assembly_archive::hls::s3::S3Config;

/// The settings that make a node copy its broadcast to the stand-in at `endpoint`.
pub fn config(endpoint: String) -> S3Config {
    S3Config {
        endpoint,
        bucket: "broadcast".into(),
        region: "eu-west-1".into(),
        access_key: "AKIDASSEMBLY".into(),
        secret_key: "secret".into(),
        prefix: "hls".into(),
    }
}

/// What the stand-in keeps: object key → body.
pub type Bucket = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// Serves `bucket` as an S3-compatible store on a loopback port; returns its endpoint. It
/// refuses any request whose SigV4 signature (access key `AKIDASSEMBLY`, secret `secret`,
/// region `eu-west-1`) or body digest does not check out, as S3 would.
pub async fn fake_s3(bucket: Bucket) -> String {
    use axum::body::Bytes;
    use axum::extract::{Path as UrlPath, State};
    use axum::http::{HeaderMap, Method, StatusCode};
    use hmac::Mac;
    use sha2::Digest;
    fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }
    /// Recomputes the request's SigV4 signature with the bucket's secret, as S3 does: the
    /// credential scope, the signed headers (at least host and the two x-amz ones) and the
    /// signature itself must all agree.
    fn signed(method: &Method, uri: &axum::http::Uri, headers: &HeaderMap) -> Result<(), String> {
        let h = |k: &str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let auth = h("authorization");
        let date = h("x-amz-date");
        let day = &date[..8.min(date.len())];
        let scope = format!("{day}/eu-west-1/s3/aws4_request");
        let rest = auth
            .strip_prefix(&format!(
                "AWS4-HMAC-SHA256 Credential=AKIDASSEMBLY/{scope}, SignedHeaders="
            ))
            .ok_or_else(|| format!("credential {auth}"))?;
        let (names, signature) = rest
            .split_once(", Signature=")
            .ok_or_else(|| format!("shape {auth}"))?;
        let names: Vec<&str> = names.split(';').collect();
        for needed in ["host", "x-amz-content-sha256", "x-amz-date"] {
            if !names.contains(&needed) {
                return Err(format!("{needed} is not signed: {auth}"));
            }
        }
        let canonical_headers: String = names.iter().map(|n| format!("{n}:{}\n", h(n))).collect();
        let canonical = format!(
            "{method}\n{}\n{}\n{canonical_headers}\n{}\n{}",
            uri.path(),
            uri.query().unwrap_or(""),
            names.join(";"),
            h("x-amz-content-sha256"),
        );
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
            alloy::hex::encode(sha2::Sha256::digest(canonical.as_bytes()))
        );
        let mut k = hmac(b"AWS4secret", day.as_bytes());
        for part in [&b"eu-west-1"[..], b"s3", b"aws4_request"] {
            k = hmac(&k, part);
        }
        if alloy::hex::encode(hmac(&k, to_sign.as_bytes())) != signature {
            return Err(format!("signature of {canonical:?}"));
        }
        Ok(())
    }
    async fn object(
        State(b): State<Bucket>,
        method: Method,
        uri: axum::http::Uri,
        UrlPath(key): UrlPath<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        let h = |k: &str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        if let Err(why) = signed(&method, &uri, &headers) {
            eprintln!("fake S3: refused {why}");
            return StatusCode::FORBIDDEN;
        }
        if h("x-amz-content-sha256") != alloy::hex::encode(sha2::Sha256::digest(&body)) {
            eprintln!("fake S3: body of {key} does not match its signed digest");
            return StatusCode::BAD_REQUEST;
        }
        let mut map = b.lock().unwrap();
        if method == Method::DELETE {
            map.remove(&key);
        } else {
            map.insert(key, body.to_vec());
        }
        StatusCode::OK
    }
    let app = axum::Router::new()
        .route("/{*key}", axum::routing::put(object).delete(object))
        .fallback(|m: Method, u: axum::http::Uri| async move {
            eprintln!("fake S3: unrouted {m} {u}");
            StatusCode::NOT_FOUND
        })
        .layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| async move {
                let (m, u) = (req.method().clone(), req.uri().clone());
                let r = next.run(req).await;
                if !r.status().is_success() {
                    eprintln!("fake S3: {m} {u} -> {}", r.status());
                }
                r
            },
        ))
        .with_state(bucket);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
