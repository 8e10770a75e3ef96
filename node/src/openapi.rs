//! The node's OpenAPI 3.1 document, generated from the handlers and the wire types: the
//! routes of [`crate::http::api`] (each declared once, with its `#[utoipa::path]`), the
//! embedded indexer's under `/chain`, the HLS playlist (plain files, so no handler carries
//! it), and the WebSocket's messages as named schemas so the web client's generated types
//! (`web/src/generated/api.ts`) have them too.
//!
//! `node/openapi.json` is this document, committed: the node serves that file, and the web
//! client's types are generated from it. A test fails when it is stale; regenerate with
//! `cargo run -q -p assembly-node --bin assembly-openapi > node/openapi.json`.

use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi as _, PartialSchema};

use crate::live::Outgoing;
use crate::state::COOKIE_NAME;
use crate::ws::{ClientMessage, ErrorMessage, WsError};

/// The document's header, security schemes and the schemas no route names.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Assembly node",
        version = "0.1.0",
        description = "Sign-in with Ethereum, on-chain roles, live state and reactions, WHIP/WHEP audio gated by the chain's floor, the public HLS broadcast, recordings and the Hansard. The embedded indexer's read API is under /chain/v1 (see indexer/src/api.rs)."
    ),
    components(schemas(Outgoing, ErrorMessage, ClientMessage, WsError)),
    modifiers(&Security)
)]
pub struct ApiDoc;

/// The two ways a session is presented.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The token returned by sign-in."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(COOKIE_NAME))),
        );
    }
}

/// The node's whole document: [`crate::http::api`]'s routes, the embedded indexer's under
/// `/chain`, and the HLS playlist.
pub fn document() -> OpenApi {
    // The header is this module's; the routes are the router's own list, so this module
    // depends on `http` and never the reverse.
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::http::api().into_openapi());
    let mut doc = doc.nest("/chain", assembly_indexer::api::openapi());
    hls_file(
        &mut doc,
        "/hls/{session}/index.m3u8",
        "The session's public broadcast.",
        "An HLS media playlist of one-second Opus-in-fMP4 segments with program \
         date-times (plain files, cacheable by any CDN).",
    );
    hls_file(
        &mut doc,
        "/hls/{session}/master.m3u8",
        "The session's broadcast with live captions.",
        "An HLS multivariant playlist: the audio (`captioned.m3u8`: the segments of \
         `index.m3u8`, with a `HOLD-BACK` of 11 s) with a WebVTT subtitles rendition \
         (`subs.m3u8`, `EXT-X-MEDIA:TYPE=SUBTITLES`) of the live captions, one WebVTT segment \
         per audio segment, published 8 s behind the audio; any HLS player plays it where the \
         captions already are. Only when the node has a transcriber and captions on.",
    );
    doc
}

/// Documents one of the HLS files served under `/hls` (plain files, so no handler carries them).
fn hls_file(doc: &mut OpenApi, path: &str, summary: &str, description: &str) {
    doc.paths.add_path_operation(
        path,
        vec![HttpMethod::Get],
        OperationBuilder::new()
            .tag("archive")
            .summary(Some(summary))
            .description(Some(description))
            .parameter(
                ParameterBuilder::new()
                    .name("session")
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(u64::schema())),
            )
            .response(
                "200",
                ResponseBuilder::new().description("The playlist.").content(
                    "application/vnd.apple.mpegurl",
                    ContentBuilder::new().schema(Some(String::schema())).build(),
                ),
            )
            .response(
                "404",
                ResponseBuilder::new().description("The session has not been live on this node."),
            )
            .build(),
    );
}

/// The document as committed: pretty JSON with a trailing newline.
pub fn json() -> String {
    let mut text = document()
        .to_pretty_json()
        .expect("the document is plain data");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/openapi.json` serves the committed file, and the web client's types come from it:
    /// it must be what the code generates now.
    #[test]
    fn the_committed_document_is_fresh() {
        let committed = include_str!("../openapi.json");
        assert!(
            committed == json(),
            "node/openapi.json is stale: regenerate it with \
             `cargo run -q -p assembly-node --bin assembly-openapi > node/openapi.json` \
             and then the web client's types with `npm --prefix web run gen`"
        );
    }

    /// The other direction of `tests/front_door.rs`'s check (every documented route is
    /// served): nothing is served that the document leaves out. Axum cannot list a router's
    /// routes, so this reads the source instead: every route of the node and the indexer is
    /// declared through `utoipa_axum`'s `routes!` (which will not take a handler without its
    /// `#[utoipa::path]`), and no plain axum routing call adds one beside them. The two
    /// exceptions are the ones the router's docs name: the indexer's API nested at `/chain`
    /// (which the document nests too) and the HLS files at `/hls`.
    #[test]
    fn nothing_is_served_that_the_document_leaves_out() {
        const ROUTING: [&str; 6] = [
            ".route(",
            ".route_service(",
            ".nest(",
            ".nest_service(",
            "Router::new(",
            "routing::",
        ];
        const ALLOWED: [(&str, &str); 3] = [
            ("node/src/http.rs", r#".nest("/chain""#),
            ("node/src/openapi.rs", r#".nest("/chain""#),
            ("node/src/http.rs", r#".nest_service("/hls""#),
        ];
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir)
                .expect("a source directory")
                .flatten()
            {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        for krate in ["node", "indexer"] {
            walk(&root.join(krate).join("src"), &mut files);
        }
        let mut found = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("a readable source file");
            let name = file
                .strip_prefix(&root)
                .unwrap_or(&file)
                .to_string_lossy()
                .replace('\\', "/");
            // Test modules may serve whatever they like (a stand-in gateway, for one).
            if name.ends_with("/tests.rs") {
                continue;
            }
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in code.lines().enumerate() {
                let line = line.trim_start();
                if line.starts_with("//") {
                    continue;
                }
                for call in ROUTING {
                    let allowed = ALLOWED
                        .iter()
                        .any(|(f, what)| name == *f && line.contains(what));
                    let documented = line.contains("OpenApiRouter::new(");
                    if line.contains(call) && !allowed && !documented {
                        found.push(format!("{name}:{}: {line}", n + 1));
                    }
                }
            }
        }
        assert!(
            found.is_empty(),
            "routes served outside the OpenAPI document (declare them with routes!):\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn every_operation_has_an_id_of_its_own() {
        // Generated clients name their functions by operation id: a repeat shadows a route.
        let doc: serde_json::Value = serde_json::from_str(&json()).unwrap();
        let mut seen = std::collections::HashMap::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if let Some(id) = op["operationId"].as_str() {
                    if let Some(other) = seen.insert(id.to_string(), format!("{method} {path}")) {
                        panic!("operation id {id} names both {other} and {method} {path}");
                    }
                }
            }
        }
        assert!(seen.len() > 40, "{} operations", seen.len());
    }

    #[test]
    fn the_wire_types_are_named() {
        let doc = document();
        let schemas = &doc.components.as_ref().unwrap().schemas;
        for name in [
            "Error",
            "Me",
            "Nonce",
            "ClientConfig",
            "StateMessage",
            "ReactionsMessage",
            "CaptionMessage",
            "TranscriptMessage",
            "Outgoing",
            "ErrorMessage",
            "ClientMessage",
            "LiveState",
            "LiveSession",
            "Floor",
            "Speaker",
            "Refusal",
        ] {
            assert!(schemas.contains_key(name), "no schema {name}");
        }
        let whip = &doc.paths.paths["/api/v1/sessions/{session}/whip"];
        let body = whip.post.as_ref().unwrap().request_body.as_ref().unwrap();
        assert!(body.content.contains_key("application/sdp"));
    }
}
