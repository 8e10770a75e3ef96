//! Speech to text behind one interface, with two real backends: any server speaking
//! OpenAI's `POST /v1/audio/transcriptions` (whisper.cpp's server, faster-whisper servers,
//! hosted APIs), and Livepeer's AI gateway `audio-to-text` pipeline, which orchestrators run —
//! so the community can transcribe itself.

use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::multipart::{Form, Part};

#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error("transcription server unreachable: {0}")]
    Unreachable(String),
    #[error("transcription server answered {status}: {body}")]
    Refused { status: u16, body: String },
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
    pub base: String,
    pub model: String,
    pub api_key: Option<String>,
    http: reqwest::Client,
}

impl OpenAiCompatible {
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
    pub base: String,
    pub model_id: String,
    pub api_key: Option<String>,
    http: reqwest::Client,
}

impl LivepeerGateway {
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
