//! Speech to text behind one interface, with two real backends: any server speaking
//! OpenAI's `POST /v1/audio/transcriptions` (whisper.cpp's server, faster-whisper servers,
//! hosted APIs), and Livepeer's AI gateway `audio-to-text` pipeline, which orchestrators run —
//! so the community can transcribe itself.

use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::multipart::{Form, Part};

/// Why a speech could not be transcribed.
#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    /// The request did not complete (connection, timeout, unreadable answer); the client's message.
    #[error("transcription server unreachable: {0}")]
    Unreachable(String),
    /// The server answered with an error status.
    #[error("transcription server answered {status}: {body}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The answer's body, cut to 300 bytes.
        body: String,
    },
    /// The answer has no `text`; its first 200 characters.
    #[error("transcription answer without text: {0}")]
    NoText(String),
}

/// A speech-to-text engine.
pub trait Transcriber: Send + Sync {
    /// A short name stored with each transcript.
    fn name(&self) -> String;
    /// The words in `audio` (one Ogg Opus speech).
    fn transcribe<'a>(&'a self, audio: Vec<u8>) -> BoxFuture<'a, Result<String, TranscribeError>>;
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap_or_default()
}

async fn post(req: reqwest::RequestBuilder) -> Result<serde_json::Value, TranscribeError> {
    let r = req
        .send()
        .await
        .map_err(|e| TranscribeError::Unreachable(e.to_string()))?;
    let status = r.status().as_u16();
    let body = r
        .text()
        .await
        .map_err(|e| TranscribeError::Unreachable(e.to_string()))?;
    if !(200..300).contains(&status) {
        let mut body = body;
        body.truncate(300);
        return Err(TranscribeError::Refused { status, body });
    }
    serde_json::from_str(&body)
        .map_err(|_| TranscribeError::NoText(body.chars().take(200).collect()))
}

fn text_of(v: serde_json::Value) -> Result<String, TranscribeError> {
    v.get("text")
        .and_then(|t| t.as_str())
        .map(|t| t.trim().to_string())
        .ok_or_else(|| TranscribeError::NoText(v.to_string().chars().take(200).collect()))
}

fn audio_part(audio: Vec<u8>) -> Part {
    Part::bytes(audio)
        .file_name("speech.ogg")
        .mime_str("audio/ogg")
        .unwrap_or_else(|_| Part::bytes(Vec::new()))
}

/// OpenAI-compatible `POST {base}/v1/audio/transcriptions`.
pub struct OpenAiCompatible {
    /// The server's base URL, without a trailing slash.
    pub base: String,
    /// The model asked for, e.g. `whisper-1`.
    pub model: String,
    /// Sent as a bearer token; None: no authorization header.
    pub api_key: Option<String>,
    http: reqwest::Client,
}

impl OpenAiCompatible {
    /// A client of the server at `base` (a trailing slash is dropped) asking for `model`.
    pub fn new(base: &str, model: &str, api_key: Option<String>) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            model: model.to_string(),
            api_key,
            http: client(),
        }
    }
}

impl Transcriber for OpenAiCompatible {
    fn name(&self) -> String {
        format!("openai-compatible:{}", self.model)
    }

    fn transcribe<'a>(&'a self, audio: Vec<u8>) -> BoxFuture<'a, Result<String, TranscribeError>> {
        Box::pin(async move {
            let form = Form::new()
                .part("file", audio_part(audio))
                .text("model", self.model.clone())
                .text("response_format", "json");
            let mut req = self
                .http
                .post(format!("{}/v1/audio/transcriptions", self.base))
                .multipart(form);
            if let Some(k) = &self.api_key {
                req = req.bearer_auth(k);
            }
            text_of(post(req).await?)
        })
    }
}

/// Livepeer's AI gateway: `POST {base}/audio-to-text` with `audio` and `model_id`.
pub struct LivepeerGateway {
    /// The gateway's base URL, without a trailing slash.
    pub base: String,
    /// The pipeline model asked for, e.g. `openai/whisper-large-v3`.
    pub model_id: String,
    /// Sent as a bearer token; None: no authorization header.
    pub api_key: Option<String>,
    http: reqwest::Client,
}

impl LivepeerGateway {
    /// A client of the gateway at `base` (a trailing slash is dropped) asking for `model_id`.
    pub fn new(base: &str, model_id: &str, api_key: Option<String>) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            model_id: model_id.to_string(),
            api_key,
            http: client(),
        }
    }
}

impl Transcriber for LivepeerGateway {
    fn name(&self) -> String {
        format!("livepeer-gateway:{}", self.model_id)
    }

    fn transcribe<'a>(&'a self, audio: Vec<u8>) -> BoxFuture<'a, Result<String, TranscribeError>> {
        Box::pin(async move {
            let form = Form::new()
                .part("audio", audio_part(audio))
                .text("model_id", self.model_id.clone());
            let mut req = self
                .http
                .post(format!("{}/audio-to-text", self.base))
                .multipart(form);
            if let Some(k) = &self.api_key {
                req = req.bearer_auth(k);
            }
            text_of(post(req).await?)
        })
    }
}
