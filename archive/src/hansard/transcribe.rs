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

/// A stretch of a transcript and when it was said, from the speech's first packet.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Segment {
    /// Where it starts in the recording, milliseconds.
    pub start_ms: u64,
    /// Where it ends, milliseconds.
    pub end_ms: u64,
    /// The words.
    pub text: String,
}

/// A transcript with the times its words were said (none where the engine gives none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timed {
    /// The whole text.
    pub text: String,
    /// Its segments in order; empty when the engine gave no times.
    pub segments: Vec<Segment>,
}

/// A speech-to-text engine.
pub trait Transcriber: Send + Sync {
    /// A short name stored with each transcript.
    fn name(&self) -> String;
    /// The words in `audio` (one Ogg Opus speech).
    fn transcribe<'a>(&'a self, audio: Vec<u8>) -> BoxFuture<'a, Result<String, TranscribeError>>;
    /// The words with their times, for a transcript that follows playback. Engines that
    /// give no times answer the text alone.
    fn transcribe_timed<'a>(
        &'a self,
        audio: Vec<u8>,
    ) -> BoxFuture<'a, Result<Timed, TranscribeError>> {
        Box::pin(async move {
            Ok(Timed {
                text: self.transcribe(audio).await?,
                segments: Vec::new(),
            })
        })
    }
}

/// Seconds (as an engine's JSON gives them) to milliseconds; anything else is none.
fn ms(v: Option<&serde_json::Value>) -> Option<u64> {
    let s = v?.as_f64()?;
    (s.is_finite() && (0.0..1e9).contains(&s)).then(|| (s * 1000.0).round() as u64)
}

/// The timed segments of an answer: OpenAI's `segments` (`start`, `end` in seconds) or the
/// Livepeer gateway's `chunks` (`timestamp: [start, end]`). Malformed entries are skipped,
/// and the rest kept in order of start.
fn segments_of(v: &serde_json::Value) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let openai = v.get("segments").and_then(|s| s.as_array());
    let gateway = v.get("chunks").and_then(|s| s.as_array());
    for s in openai.into_iter().flatten() {
        if let (Some(start_ms), Some(end_ms), Some(text)) = (
            ms(s.get("start")),
            ms(s.get("end")),
            s.get("text").and_then(|t| t.as_str()),
        ) {
            out.push(Segment {
                start_ms,
                end_ms: end_ms.max(start_ms),
                text: text.trim().to_string(),
            });
        }
    }
    for c in gateway.into_iter().flatten() {
        let t = c.get("timestamp").and_then(|t| t.as_array());
        if let (Some(start_ms), Some(text)) = (
            ms(t.and_then(|t| t.first())),
            c.get("text").and_then(|t| t.as_str()),
        ) {
            // The gateway leaves a last chunk's end null while the audio runs on.
            let end_ms = ms(t.and_then(|t| t.get(1)))
                .unwrap_or(start_ms)
                .max(start_ms);
            out.push(Segment {
                start_ms,
                end_ms,
                text: text.trim().to_string(),
            });
        }
    }
    out.retain(|s| !s.text.is_empty());
    out.sort_by_key(|s| s.start_ms);
    out
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
        Box::pin(async move { text_of(self.ask(audio, "json").await?) })
    }

    fn transcribe_timed<'a>(
        &'a self,
        audio: Vec<u8>,
    ) -> BoxFuture<'a, Result<Timed, TranscribeError>> {
        Box::pin(async move {
            // OpenAI's `verbose_json` adds the timed segments; a server that leaves them out
            // still gives the text.
            let v = self.ask(audio, "verbose_json").await?;
            let segments = segments_of(&v);
            Ok(Timed {
                text: text_of(v)?,
                segments,
            })
        })
    }
}

impl OpenAiCompatible {
    async fn ask(
        &self,
        audio: Vec<u8>,
        format: &str,
    ) -> Result<serde_json::Value, TranscribeError> {
        let form = Form::new()
            .part("file", audio_part(audio))
            .text("model", self.model.clone())
            .text("response_format", format.to_string());
        let mut req = self
            .http
            .post(format!("{}/v1/audio/transcriptions", self.base))
            .multipart(form);
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k);
        }
        post(req).await
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
        Box::pin(async move { Ok(self.transcribe_timed(audio).await?.text) })
    }

    fn transcribe_timed<'a>(
        &'a self,
        audio: Vec<u8>,
    ) -> BoxFuture<'a, Result<Timed, TranscribeError>> {
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
            let v = post(req).await?;
            let segments = segments_of(&v);
            Ok(Timed {
                text: text_of(v)?,
                segments,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn segments_come_from_openai_and_from_the_livepeer_gateway() {
        let openai = json!({"text": "a b", "segments": [
            {"id": 1, "start": 2.5, "end": 4.0, "text": " b "},
            {"id": 0, "start": 0.0, "end": 2.5, "text": "a"},
            {"id": 2, "start": "x", "end": 5.0, "text": "skipped"},
            {"id": 3, "start": -1.0, "end": 5.0, "text": "skipped"},
            {"id": 4, "start": 5.0, "end": 6.0, "text": "   "}
        ]});
        assert_eq!(
            segments_of(&openai),
            [
                Segment {
                    start_ms: 0,
                    end_ms: 2500,
                    text: "a".into()
                },
                Segment {
                    start_ms: 2500,
                    end_ms: 4000,
                    text: "b".into()
                },
            ]
        );
        let gateway = json!({"text": "c d", "chunks": [
            {"timestamp": [0.0, 1.25], "text": " c"},
            {"timestamp": [1.25, null], "text": "d"}
        ]});
        assert_eq!(
            segments_of(&gateway),
            [
                Segment {
                    start_ms: 0,
                    end_ms: 1250,
                    text: "c".into()
                },
                Segment {
                    start_ms: 1250,
                    end_ms: 1250,
                    text: "d".into()
                },
            ]
        );
        assert!(segments_of(&json!({"text": "untimed"})).is_empty());
    }
}
