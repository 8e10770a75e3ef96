//! Speakers' corrections of their transcripts: taken from anyone who brings one, checked,
//! kept, and passed to every member of the cluster, so that every node's record of the
//! occurrence holds the same revisions and anchors the same root.
//!
//! A correction's authority is its signature alone ([`TranscriptCorrection`]): it must be
//! the speech's speaker's, as this node recorded the speech from the chain's floor, by
//! `ecrecover` or by the speaker's contract wallet (EIP-1271). So a client, a sibling or a
//! sibling's list are all taken the same way, and a node that lies about one is caught by
//! every node it tells. Nothing here needs the sibling to be honest, only to be reachable:
//!
//! - the node a client brings a correction to tells each member at once (and again with a
//!   growing wait while a member answers that it does not hold the speech yet, which a
//!   member still closing the recording may);
//! - every node reads each member's corrections every minute from where it last read, and
//!   an occurrence's corrections from every member before it first computes its record,
//!   so one that was down when told catches up (`members.rs`).

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::DynProvider;
use assembly_archive::hansard::corrections::{self, Correction, Filter, Inserted};
use assembly_archive::record::archive::{Archive, ArchiveError, Speech};
use assembly_floor::clock;
use assembly_provenance::correction::{Malformed, TranscriptCorrection};
use assembly_provenance::Eip712Domain;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use prometheus::IntCounterVec;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::cluster::Cluster;

mod members;
use crate::error::failure;

/// A correction as a client submits it and a node passes it on: the speech it corrects,
/// named as every node that heard it knows it, the revision and text, and the speaker's
/// signature of the typed data (`TranscriptCorrection`, in the domain speaking keys are
/// certified in).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorrectionRequest {
    /// The session (Assembly's id).
    pub session_id: u64,
    /// The occurrence, from 0.
    pub occurrence: u32,
    /// The start of the speaker's slot, unix seconds.
    pub slot_start: u64,
    /// The speaker, who signs.
    pub speaker: String,
    /// SHA-256 of the speech's recording (0x-hex), as its record leaf has it.
    pub audio_digest: String,
    /// The revision this makes: one more than the speech's latest (the first correction is 1).
    pub revision: u32,
    /// The corrected transcript.
    pub text: String,
    /// The speaker's signature of the typed data, 0x-hex (65 bytes from an account; what
    /// the wallet's contract accepts from a contract wallet).
    pub signature: String,
}

/// A correction this node holds, with its place in the order this node took them.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeldCorrection {
    /// Its place here: ask for corrections `after` it to read on.
    pub seq: i64,
    /// The correction, as its speaker signed it.
    #[serde(flatten)]
    pub correction: CorrectionRequest,
}

/// Why a correction was not taken. Every reason but [`CorrectionError::Chain`] and
/// [`CorrectionError::Archive`] is the bringer's to mend.
#[derive(Debug, thiserror::Error)]
pub enum CorrectionError {
    /// The revision or text is out of bounds.
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// A field does not parse.
    #[error("{0} is malformed")]
    Field(&'static str),
    /// This node holds no closed speech by that speaker, slot and recording.
    #[error("no closed speech here by that speaker in that slot with that recording")]
    UnknownSpeech,
    /// The signature is neither the speaker's key's nor one their contract wallet accepts.
    #[error("the correction is not signed by the speech's speaker")]
    NotTheSpeaker,
    /// The speech's occurrence has a record that left it out (it had no audio to vouch for):
    /// a correction of it could never be anchored.
    #[error("the speech is not in its occurrence's record, so its transcript cannot be corrected")]
    NotInRecord,
    /// The revision already has as many texts as one takes.
    #[error("revision {0} of this speech already has {max} corrections; the next is {1}", max = corrections::MAX_VARIANTS)]
    RevisionTaken(u32, u32),
    /// The revision skips one.
    #[error("the next revision of this speech is {0}")]
    RevisionGap(u32),
    /// The speaker's contract wallet could not be asked.
    #[error("chain: {0}")]
    Chain(String),
    /// The archive could not be read or written.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The node is stopping: the archive's task was cancelled.
    #[error("the node is stopping: {0}")]
    Stopping(String),
}

impl CorrectionError {
    /// The stable code clients see.
    pub fn code(&self) -> &'static str {
        match self {
            CorrectionError::Malformed(m) => m.code(),
            CorrectionError::Field(_) => "malformed_correction",
            CorrectionError::UnknownSpeech => "unknown_speech",
            CorrectionError::NotTheSpeaker => "not_the_speaker",
            CorrectionError::NotInRecord => "not_in_record",
            CorrectionError::RevisionTaken(..) => "revision_taken",
            CorrectionError::RevisionGap(_) => "revision_gap",
            CorrectionError::Chain(_) => "chain_unavailable",
            CorrectionError::Archive(_) | CorrectionError::Stopping(_) => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            CorrectionError::Malformed(_) | CorrectionError::Field(_) => StatusCode::BAD_REQUEST,
            CorrectionError::UnknownSpeech => StatusCode::NOT_FOUND,
            CorrectionError::NotTheSpeaker => StatusCode::FORBIDDEN,
            CorrectionError::RevisionTaken(..)
            | CorrectionError::RevisionGap(_)
            | CorrectionError::NotInRecord => StatusCode::CONFLICT,
            CorrectionError::Chain(_) => StatusCode::BAD_GATEWAY,
            CorrectionError::Archive(_) | CorrectionError::Stopping(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for CorrectionError {
    fn into_response(self) -> Response {
        match &self {
            CorrectionError::Archive(_) | CorrectionError::Stopping(_) => {
                tracing::error!(error = %self, "taking a correction");
                crate::error::ApiError::internal(&self).into_response()
            }
            CorrectionError::Chain(e) => {
                tracing::warn!(error = %e, "asking a contract wallet about a correction");
                crate::error::ApiError::Chain(e.clone()).into_response()
            }
            _ => failure(self.status(), self.code(), &self),
        }
    }
}

/// What taking a correction came to.
#[derive(Clone, Debug)]
pub struct Taken {
    /// The correction as held.
    pub correction: Correction,
    /// Whether it is new here (else this very correction was held already).
    pub new: bool,
}

/// Where a correction came from (the `source` label of `assembly_corrections_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A client (a speaker's browser, a script).
    Client,
    /// A member telling this node one it took.
    Told,
    /// This node reading a member's list.
    Listed,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Client => "client",
            Source::Told => "told",
            Source::Listed => "listed",
        }
    }
}

/// Taking, keeping and passing on corrections.
pub struct Corrections {
    archive: Arc<Archive>,
    domain: Eip712Domain,
    provider: DynProvider,
    cluster: Arc<Cluster>,
    http: reqwest::Client,
    counted: IntCounterVec,
}

/// How long one request to a sibling may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The longest signature taken, in bytes (a contract wallet's may be long; an account's is 65).
const MAX_SIGNATURE: usize = 4096;
/// The most one correction weighs as JSON: its text with every character escaped (the
/// text holds no control character, so at most two bytes each), its signature in hex, and
/// the rest.
pub const MAX_CORRECTION_BYTES: usize =
    2 * assembly_provenance::correction::MAX_TEXT + 2 * MAX_SIGNATURE + 1024;
impl Corrections {
    /// Corrections kept in `archive`, checked in `domain` (a contract wallet asked through
    /// `provider`), passed among `cluster`'s members; outcomes counted in `counted`
    /// (`source`, `outcome`).
    pub fn new(
        archive: Arc<Archive>,
        domain: Eip712Domain,
        provider: DynProvider,
        cluster: Arc<Cluster>,
        counted: IntCounterVec,
    ) -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(Self {
            archive,
            domain,
            provider,
            cluster,
            http: reqwest::Client::builder().timeout(TIMEOUT).build()?,
            counted,
        }))
    }

    /// The typed data `req` makes, and the speech this node holds for it.
    async fn read(
        &self,
        req: &CorrectionRequest,
    ) -> Result<(TranscriptCorrection, Speech, Address), CorrectionError> {
        let speaker: Address = req
            .speaker
            .parse()
            .map_err(|_| CorrectionError::Field("speaker"))?;
        let audio: B256 = req
            .audio_digest
            .parse()
            .map_err(|_| CorrectionError::Field("audioDigest"))?;
        let typed = TranscriptCorrection {
            session: U256::from(req.session_id),
            occurrence: req.occurrence,
            slotStart: req.slot_start,
            audio,
            revision: req.revision,
            text: req.text.clone(),
        };
        typed.well_formed()?;
        let (archive, r) = (self.archive.clone(), req.clone());
        let speech = run(move || {
            corrections::find_speech(
                &archive,
                r.session_id,
                r.occurrence,
                r.slot_start,
                &speaker.to_checksum(None),
                &audio.to_string(),
            )
        })
        .await?
        .ok_or(CorrectionError::UnknownSpeech)?;
        Ok((typed, speech, speaker))
    }

    /// Whether `signature` over `typed` is `speaker`'s: their key's, or their contract
    /// wallet's by EIP-1271 (asked only when the key's is not).
    async fn signed_by(
        &self,
        typed: &TranscriptCorrection,
        signature: &str,
        speaker: Address,
    ) -> Result<(), CorrectionError> {
        let bytes: Bytes = signature
            .parse()
            .map_err(|_| CorrectionError::Field("signature"))?;
        if bytes.is_empty() || bytes.len() > MAX_SIGNATURE {
            return Err(CorrectionError::Field("signature"));
        }
        let digest = typed.digest(&self.domain);
        match crate::auth::signed_by(&self.provider, speaker, digest, &bytes).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(CorrectionError::NotTheSpeaker),
            Err(e) => Err(CorrectionError::Chain(e)),
        }
    }

    /// Checks `req` and keeps it; a correction new here is told to every member when it
    /// came from a client.
    pub async fn take(
        self: &Arc<Self>,
        req: CorrectionRequest,
        source: Source,
    ) -> Result<Taken, CorrectionError> {
        let result = self.check_and_keep(&req).await;
        let outcome = match &result {
            Ok(t) if t.new => "taken",
            Ok(_) => "held",
            Err(
                CorrectionError::Chain(_)
                | CorrectionError::Archive(_)
                | CorrectionError::Stopping(_),
            ) => "failed",
            Err(_) => "refused",
        };
        let source_label = source.label();
        self.counted
            .with_label_values(&[source_label, outcome])
            .inc();
        if let Ok(t) = &result {
            if t.new {
                tracing::info!(
                    speech = t.correction.speech,
                    revision = t.correction.revision,
                    speaker = %t.correction.speaker,
                    source = source_label,
                    "transcript corrected"
                );
                if source == Source::Client {
                    self.tell_members(req);
                }
            }
        }
        result
    }

    async fn check_and_keep(&self, req: &CorrectionRequest) -> Result<Taken, CorrectionError> {
        let (typed, speech, speaker) = self.read(req).await?;
        // The same words held at that revision are the same leaf: nothing to check again (a
        // member re-reading a list after a restart asks no contract wallet twice).
        let (archive, id, revision, text) = (
            self.archive.clone(),
            speech.id,
            req.revision,
            req.text.clone(),
        );
        let (held, outside) = run(move || {
            Ok((
                corrections::held(&archive, id, revision, &text)?,
                corrections::outside_record(&archive, id)?,
            ))
        })
        .await?;
        if let Some(c) = held {
            return Ok(Taken {
                correction: c,
                new: false,
            });
        }
        if outside {
            return Err(CorrectionError::NotInRecord);
        }
        self.signed_by(&typed, &req.signature, speaker).await?;
        let (archive, text, signature, revision) = (
            self.archive.clone(),
            req.text.clone(),
            req.signature.to_ascii_lowercase(),
            req.revision,
        );
        let speaker = speaker.to_checksum(None);
        let inserted = run(move || {
            corrections::insert(
                &archive,
                speech.id,
                revision,
                &text,
                &speaker,
                &signature,
                clock::now_ms(),
            )
        })
        .await?;
        match inserted {
            Inserted::New(c) => Ok(Taken {
                correction: c,
                new: true,
            }),
            Inserted::Held(c) => Ok(Taken {
                correction: c,
                new: false,
            }),
            Inserted::Taken { next } => Err(CorrectionError::RevisionTaken(revision, next)),
            Inserted::Gap { next } => Err(CorrectionError::RevisionGap(next)),
        }
    }

    /// This node's corrections after `filter.after`, as the speakers signed them.
    pub async fn list(&self, filter: Filter) -> Result<Vec<HeldCorrection>, CorrectionError> {
        let archive = self.archive.clone();
        let rows = run(move || corrections::since(&archive, filter)).await?;
        Ok(rows
            .into_iter()
            .map(|(c, s)| HeldCorrection {
                seq: c.seq,
                correction: CorrectionRequest {
                    session_id: s.session,
                    occurrence: s.occurrence,
                    slot_start: s.slot_start,
                    speaker: c.speaker,
                    audio_digest: format!("0x{}", s.sha256.unwrap_or_default()),
                    revision: c.revision,
                    text: c.text,
                    signature: c.signature,
                },
            })
            .collect())
    }
}

/// Runs a blocking archive call off the async workers.
async fn run<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ArchiveError> + Send + 'static,
) -> Result<T, CorrectionError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(CorrectionError::from),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(CorrectionError::Stopping(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_correction_reads_back_as_the_speaker_signed_it() {
        let held = HeldCorrection {
            seq: 7,
            correction: CorrectionRequest {
                session_id: 3,
                occurrence: 1,
                slot_start: 2_000_000_000,
                speaker: "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65".into(),
                audio_digest: format!("0x{}", "ab".repeat(32)),
                revision: 2,
                text: "Words.".into(),
                signature: format!("0x{}", "01".repeat(65)),
            },
        };
        let wire = serde_json::to_value(&held).unwrap();
        assert_eq!(wire["seq"], 7);
        assert_eq!(wire["slotStart"], 2_000_000_000u64);
        let back: HeldCorrection = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!((back.seq, back.correction), (7, held.correction));
        // A body with a field no correction has is refused, not half read.
        let mut extra = wire;
        extra["seq"] = serde_json::Value::Null;
        extra.as_object_mut().unwrap().remove("seq");
        extra["chair"] = "0x00".into();
        assert!(serde_json::from_value::<CorrectionRequest>(extra).is_err());
    }
}
