//! Speakers' corrections of their transcripts ([`crate::corrections`]).
//!
//! - `POST /api/v1/archive/corrections` — a speaker's signed correction, from any client.
//! - `GET /api/v1/archive/corrections` — the corrections this node holds, in the order it
//!   took them, as their speakers signed them: what members read each other's from.
//! - `GET /api/v1/archive/speeches/{id}/transcript` — every revision of a speech's
//!   transcript, and what signing the next one takes.
//! - `POST /api/v1/cluster/corrections` — a member telling this node one it took.

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use assembly_archive::hansard::corrections::{self, Correction, Filter};
use assembly_archive::hansard::store;
use assembly_archive::record::archive::ArchiveError;
use assembly_provenance::correction::MAX_REVISION;
use assembly_provenance::record::transcript_digest;

use crate::cluster::SiblingRefused;
use crate::corrections::{CorrectionRequest, HeldCorrection, Source, Taken};
use crate::error::{blocking, failure, ApiError, AppJson, ErrorBody};
use crate::state::{bearer, AppState};

/// The largest correction body.
const MAX_BODY: usize = crate::corrections::MAX_CORRECTION_BYTES;

/// The corrections' routes, each declared with its documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit).layer(DefaultBodyLimit::max(MAX_BODY)))
        .routes(routes!(list))
        .routes(routes!(transcript))
        .routes(routes!(told).layer(DefaultBodyLimit::max(MAX_BODY)))
}

/// One revision of a speech's transcript.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct TranscriptRevision {
    /// 0 as transcribed; one more for each correction.
    revision: u32,
    /// The text.
    text: String,
    /// SHA-256 of the text's UTF-8 bytes: the `transcriptDigest` of its record leaf (for
    /// revision 0, if the transcript was there when the record was computed; else the
    /// leaf holds zero).
    transcript_digest: String,
    /// When this node stored it, milliseconds since the epoch.
    at_ms: u64,
    /// The transcriber that wrote it (revision 0 only).
    engine: Option<String>,
    /// The speaker who signed it (corrections only).
    speaker: Option<String>,
    /// Their signature of the `TranscriptCorrection` typed data (corrections only).
    signature: Option<String>,
}

fn revision(c: Correction) -> TranscriptRevision {
    TranscriptRevision {
        revision: c.revision,
        transcript_digest: c.digest,
        text: c.text,
        at_ms: c.received_ms,
        engine: None,
        speaker: Some(c.speaker),
        signature: Some(c.signature),
    }
}

fn taken(t: Taken) -> Response {
    let status = if t.new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(revision(t.correction))).into_response()
}

/// A speaker corrects the transcript of their speech: the correction is checked (it must be
/// signed by the speech's speaker, by their key or their contract wallet), kept as the
/// speech's next revision beside every earlier one (or beside another text the speaker
/// signed for the same revision: the Hansard then shows the one with the lower digest), shown and searched in the Hansard in
/// their place, passed to every member of the cluster, and added to the occurrence's
/// record as a new leaf, whose new root each member anchors.
#[utoipa::path(post, path = "/api/v1/archive/corrections", tag = "archive", operation_id = "submit_correction",
    request_body = CorrectionRequest,
    responses(
        (status = 201, description = "Taken: the speech's new latest revision.", body = TranscriptRevision),
        (status = 200, description = "This very correction was held already.", body = TranscriptRevision),
        (status = 400, description = "`malformed_correction` (a field does not parse), `revision_zero`, `too_many_revisions` (over 16), `empty_text`, `text_too_long` (over 64 KiB), `control_character` (other than a line break or a tab), or `bad_body`.", body = ErrorBody),
        (status = 403, description = "`not_the_speaker`: the signature is not the speech's speaker's.", body = ErrorBody),
        (status = 404, description = "`unknown_speech`: this node holds no closed speech by that speaker in that slot with that recording.", body = ErrorBody),
        (status = 409, description = "`revision_taken` (the revision already has 4 texts the speaker signed), `revision_gap` (the message says which is next), or `not_in_record` (the occurrence's record left the speech out).", body = ErrorBody),
        (status = 413, description = "The body is too large.", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many corrections from this address.", body = ErrorBody),
        (status = 502, description = "`chain_unavailable`: a contract wallet could not be asked.", body = ErrorBody),
    ))]
async fn submit(State(s): State<AppState>, AppJson(req): AppJson<CorrectionRequest>) -> Response {
    match s.corrections.take(req, Source::Client).await {
        Ok(t) => taken(t),
        Err(e) => e.into_response(),
    }
}

/// A member tells this node a correction it took: checked as a client's is, never sent on.
#[utoipa::path(post, path = "/api/v1/cluster/corrections", tag = "cluster", operation_id = "told_correction",
    security(("bearer" = [])),
    request_body = CorrectionRequest,
    responses(
        (status = 201, description = "Taken.", body = TranscriptRevision),
        (status = 200, description = "Held already.", body = TranscriptRevision),
        (status = 400, description = "Malformed, as for a client's.", body = ErrorBody),
        (status = 403, description = "Not a member node's fresh token for this node, or `not_the_speaker`.", body = ErrorBody),
        (status = 404, description = "`unknown_speech`: not (yet) held here.", body = ErrorBody),
        (status = 409, description = "`revision_taken` or `revision_gap`.", body = ErrorBody),
        (status = 502, description = "The chain could not be read.", body = ErrorBody),
    ))]
async fn told(
    State(s): State<AppState>,
    headers: HeaderMap,
    AppJson(req): AppJson<CorrectionRequest>,
) -> Response {
    let token = bearer(&headers).unwrap_or_default();
    match s.cluster.admit(token, "corrections", None).await {
        Ok(_) => {}
        Err(SiblingRefused::Token(e)) => return failure(StatusCode::FORBIDDEN, e.code(), e),
        Err(SiblingRefused::Cluster(e)) => return ApiError::Chain(e.to_string()).into_response(),
    }
    match s.corrections.take(req, Source::Told).await {
        Ok(t) => taken(t),
        Err(e) => e.into_response(),
    }
}

/// Which corrections to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only those this node took after this place (a previous answer's last `seq`); 0 or
    /// absent: from the first.
    after: Option<i64>,
    /// Only those of speeches of this session (with `occurrence`).
    session: Option<u64>,
    /// Only those of speeches of this occurrence (with `session`).
    occurrence: Option<u32>,
    /// At most this many (default and most: 500).
    limit: Option<u32>,
}

/// The corrections this node holds, in the order it took them, each as its speaker signed
/// it: anyone can check every one, and members read each other's from here.
#[utoipa::path(get, path = "/api/v1/archive/corrections", tag = "archive", operation_id = "list_corrections", params(ListQuery),
    responses(
        (status = 200, description = "The corrections, oldest first.", body = Vec<HeldCorrection>),
        (status = 400, description = "`bad_request`: a malformed query, or `session` without `occurrence` (or the reverse).", body = ErrorBody),
    ))]
async fn list(
    State(s): State<AppState>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => return ApiError::BadRequest(e.body_text()).into_response(),
    };
    let occurrence = match (q.session, q.occurrence) {
        (Some(s), Some(o)) => Some((s, o)),
        (None, None) => None,
        _ => {
            return ApiError::BadRequest("session and occurrence go together".into())
                .into_response()
        }
    };
    let filter = Filter {
        after: q.after.unwrap_or(0),
        occurrence,
        limit: q.limit.unwrap_or(500),
    };
    match s.corrections.list(filter).await {
        Ok(list) => Json(list).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Every revision of a speech's transcript, and what its speaker's wallet signs to make
/// the next.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SpeechTranscript {
    /// The speech's id in this node's archive.
    speech: i64,
    /// The session (the typed data's `session`).
    session_id: u64,
    /// The occurrence.
    occurrence: u32,
    /// The slot's start, unix seconds (`slotStart`).
    slot_start: u64,
    /// The speaker, who alone may correct it.
    speaker: String,
    /// SHA-256 of the recording (`audio`); null while it is being recorded.
    audio_digest: Option<String>,
    /// The chain of the typed data's domain.
    chain_id: u64,
    /// The Assembly contract, the domain's `verifyingContract`.
    assembly: String,
    /// Every revision held, 0 (as transcribed, once it is) first.
    revisions: Vec<TranscriptRevision>,
    /// The revision a correction makes next; null while the speech is being recorded, or
    /// once it has all 16 corrections it takes.
    next_revision: Option<u32>,
}

/// A speech's transcript, every revision of it: as transcribed, then each correction its
/// speaker signed, with what signing the next takes.
#[utoipa::path(get, path = "/api/v1/archive/speeches/{id}/transcript", tag = "archive", operation_id = "speech_transcript",
    params(("id" = i64, Path, description = "The speech id.")),
    responses(
        (status = 200, description = "The revisions.", body = SpeechTranscript),
        (status = 404, description = "No such speech.", body = ErrorBody),
    ))]
async fn transcript(State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    let archive = s.archive.clone();
    let found = blocking(move || -> Result<_, ArchiveError> {
        let Some(speech) = archive.speech(id)? else {
            return Ok(None);
        };
        let original = store::transcript(&archive, id)?;
        let corrections = corrections::of_speech(&archive, id)?;
        Ok(Some((speech, original, corrections)))
    })
    .await;
    let (speech, original, held) = match found {
        Ok(Some(f)) => f,
        Ok(None) => return ApiError::NotFound(format!("no speech {id}")).into_response(),
        Err(e) => return e.into_response(),
    };
    let latest = held.last().map_or(0, |c| c.revision);
    let mut revisions: Vec<TranscriptRevision> = original
        .map(|(text, engine, at_ms)| TranscriptRevision {
            revision: 0,
            transcript_digest: transcript_digest(Some(&text)).to_string(),
            text,
            at_ms,
            engine: Some(engine),
            speaker: None,
            signature: None,
        })
        .into_iter()
        .collect();
    revisions.extend(held.into_iter().map(revision));
    let closed = !speech.open && speech.sha256.is_some();
    Json(SpeechTranscript {
        speech: id,
        session_id: speech.session,
        occurrence: speech.occurrence,
        slot_start: speech.slot_start,
        speaker: speech.speaker,
        audio_digest: speech.sha256.map(|h| format!("0x{h}")),
        chain_id: s.client_config.chain_id,
        assembly: s.client_config.assembly.to_checksum(None),
        revisions,
        next_revision: (closed && latest < MAX_REVISION).then_some(latest + 1),
    })
    .into_response()
}
