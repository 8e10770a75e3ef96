//! The record anchored on chain, as this node computed it and as the chain holds it.
//!
//! - `GET /api/v1/sessions/{session}/occurrences/{occurrence}/record` — the leaves this node
//!   computed for an occurrence, and every root any member anchored for it on chain with
//!   who attested it: a disagreement shows as two roots.
//! - `GET /api/v1/archive/speeches/{id}/proof` — what checking one speech against the chain
//!   takes, and nothing else: its leaf's fields as `IRecordAnchor.Speech` names them (the
//!   latest revision of its transcript, or the one asked for), the root this node computed,
//!   the Merkle proof, and the RecordAnchor's address and chain, for
//!   `RecordAnchor.verify(sessionId, occurrence, root, leaf, proof)`.
//!
//! Hashes and addresses are 0x-hex strings; integers are JSON numbers.

use std::sync::Arc;

use alloy::primitives::B256;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use assembly_archive::record::occurrence::{self, Record, State as Anchoring};
use assembly_indexer::store::{RecordAnchorRow, Store};
use assembly_provenance::record::{leaf_hash, Leaf};

use crate::error::{blocking, failure, ApiError, ErrorBody};
use crate::state::AppState;

/// The record's routes, each declared with its documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(occurrence_record))
        .routes(routes!(proof))
}

/// One speech as a leaf of its occurrence's record: `IRecordAnchor.Speech`'s fields, by
/// its names.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RecordLeaf)]
struct LeafFields {
    /// The session (Assembly's id).
    session_id: u64,
    /// The occurrence, from 0.
    occurrence: u32,
    /// The start of the speaker's slot, unix seconds.
    slot_start: u64,
    /// The slot's holder (EIP-55).
    speaker: String,
    /// SHA-256 of the recording's bytes (the Ogg Opus file the audio route serves).
    audio_digest: String,
    /// keccak256 of the speaker's certificate as the audio carries it; zero if unsigned.
    attestation_digest: String,
    /// SHA-256 of the transcript's UTF-8 text as the Hansard stores it; zero if none.
    transcript_digest: String,
    /// 0 for the transcript as transcribed; one more for each correction its speaker signed.
    revision: u32,
}

impl From<&Leaf> for LeafFields {
    fn from(l: &Leaf) -> Self {
        Self {
            session_id: l.sessionId.saturating_to(),
            occurrence: l.occurrence,
            slot_start: l.slotStart.to(),
            speaker: l.speaker.to_checksum(None),
            audio_digest: l.audioDigest.to_string(),
            attestation_digest: l.attestationDigest.to_string(),
            transcript_digest: l.transcriptDigest.to_string(),
            revision: l.revision,
        }
    }
}

/// One attestation of a root on chain (a `RecordAnchored` event).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RecordAttestation)]
struct OnChain {
    /// The member operator attesting.
    operator: String,
    /// Who sent it: the operator's node key, or the operator itself.
    node: String,
    /// How many speeches the sender said the tree holds.
    speeches: u32,
    /// The block.
    block: u64,
    /// The transaction.
    tx: String,
}

impl From<&RecordAnchorRow> for OnChain {
    fn from(r: &RecordAnchorRow) -> Self {
        Self {
            operator: r.operator.to_checksum(None),
            node: r.node.to_checksum(None),
            speeches: r.speeches,
            block: r.block,
            tx: r.tx.to_string(),
        }
    }
}

/// A root some member anchored for the occurrence.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AnchoredRoot {
    /// The root.
    root: String,
    /// Whether it is a root this node computed (an edition of its record).
    this_node: bool,
    /// Who attested it, in chain order.
    attestations: Vec<OnChain>,
}

/// A speech's leaf in this node's record.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RecordEntry {
    /// The speech's id in this node's archive.
    speech: i64,
    /// Its leaf hash (`RecordAnchor.leafHash`).
    leaf_hash: String,
    /// Its leaf's fields.
    leaf: LeafFields,
}

/// The record this node computed for an occurrence, and where anchoring it stands.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ComputedRecord)]
struct Computed {
    /// Which edition: 0 as first computed, one more each time speakers' corrections were
    /// added (every earlier edition's leaves are in it).
    edition: u32,
    /// The root over the leaves.
    root: String,
    /// When it was computed, milliseconds since the epoch.
    computed_ms: u64,
    /// The leaves, by speech id, then revision: one per revision of each transcript.
    leaves: Vec<RecordEntry>,
    /// Whether this node's operator has attested the root on chain.
    attested: bool,
    /// The operator attesting (once attested).
    operator: Option<String>,
    /// Who sent the attestation: the node key, or a lone operator's own key.
    sender: Option<String>,
    /// The transaction this node sent; null if the chain held the attestation already.
    tx: Option<String>,
    /// The gas it used.
    gas_used: Option<u64>,
    /// Failed attempts so far (while not attested).
    attempts: u32,
    /// The last attempt's failure.
    last_error: Option<String>,
}

/// An earlier edition of this node's record.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EarlierRecord)]
struct Earlier {
    /// Which edition.
    edition: u32,
    /// Its root.
    root: String,
    /// How many leaves it holds.
    leaves: usize,
    /// When it was computed, milliseconds since the epoch.
    computed_ms: u64,
    /// Whether this node's operator attested it (an edition overtaken by corrections
    /// before it was anchored is left unanchored: the next holds all it held).
    attested: bool,
    /// The transaction this node sent for it.
    tx: Option<String>,
}

fn earlier(r: &Record) -> Earlier {
    let (attested, tx) = match &r.state {
        Anchoring::Attested(a) => (true, a.tx.map(|t| t.to_string())),
        Anchoring::Pending { .. } => (false, None),
    };
    Earlier {
        edition: r.edition,
        root: r.root.to_string(),
        leaves: r.leaves.len(),
        computed_ms: r.computed_ms,
        attested,
        tx,
    }
}

/// An occurrence's record: this node's, and every root on chain.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct OccurrenceRecord {
    /// The session.
    session_id: u64,
    /// The occurrence.
    occurrence: u32,
    /// The chain the roots are anchored on.
    chain_id: u64,
    /// The RecordAnchor contract; null until this node has computed the record.
    record_anchor: Option<String>,
    /// This node's record (its latest edition); null until the occurrence is over and its
    /// speeches are ready.
    computed: Option<Computed>,
    /// The editions before it, the first first (their leaves are the latest's but for the
    /// corrections added since): their roots stay on chain and keep proving what they held.
    earlier: Vec<Earlier>,
    /// Every root anchored on chain for the occurrence (more than one: a disagreement, or
    /// a correction), in the order first anchored.
    roots: Vec<AnchoredRoot>,
}

fn computed(r: &Record) -> Computed {
    let mut c = Computed {
        edition: r.edition,
        root: r.root.to_string(),
        computed_ms: r.computed_ms,
        leaves: r
            .leaves
            .iter()
            .map(|(id, l)| RecordEntry {
                speech: *id,
                leaf_hash: leaf_hash(l).to_string(),
                leaf: l.into(),
            })
            .collect(),
        attested: false,
        operator: None,
        sender: None,
        tx: None,
        gas_used: None,
        attempts: 0,
        last_error: None,
    };
    match &r.state {
        Anchoring::Pending {
            attempts,
            last_error,
            ..
        } => {
            c.attempts = *attempts;
            c.last_error = last_error.clone();
        }
        Anchoring::Attested(a) => {
            c.attested = true;
            c.operator = Some(a.operator.to_checksum(None));
            c.sender = Some(a.sender.to_checksum(None));
            c.tx = a.tx.map(|t| t.to_string());
            c.gas_used = a.gas_used;
        }
    }
    c
}

/// Every root on chain for an occurrence, grouped, in the order first anchored.
fn roots(rows: &[RecordAnchorRow], mine: Vec<B256>) -> Vec<AnchoredRoot> {
    let mut out: Vec<(B256, AnchoredRoot)> = Vec::new();
    for r in rows {
        match out.iter_mut().find(|(root, _)| *root == r.root) {
            Some((_, a)) => a.attestations.push(r.into()),
            None => out.push((
                r.root,
                AnchoredRoot {
                    root: r.root.to_string(),
                    this_node: mine.contains(&r.root),
                    attestations: vec![r.into()],
                },
            )),
        }
    }
    out.into_iter().map(|(_, a)| a).collect()
}

async fn on_chain(
    store: &Arc<Store>,
    session: u64,
    occurrence: u32,
) -> Result<Vec<RecordAnchorRow>, ApiError> {
    let store = store.clone();
    blocking(move || store.record_anchors(session, occurrence)).await
}

/// An occurrence's record: the leaves this node computed (once the occurrence is over and
/// its speeches are closed and transcribed), where anchoring its root stands, and every
/// root any member anchored for it on chain with who attested it.
#[utoipa::path(get, path = "/api/v1/sessions/{session}/occurrences/{occurrence}/record", tag = "archive",
    params(
        ("session" = u64, Path, description = "The session id."),
        ("occurrence" = u32, Path, description = "The occurrence, from 0."),
    ),
    responses(
        (status = 200, description = "The record.", body = OccurrenceRecord),
        (status = 400, description = "A malformed path.", body = ErrorBody),
    ))]
async fn occurrence_record(
    State(s): State<AppState>,
    Path((session, occurrence)): Path<(u64, u32)>,
) -> Response {
    let archive = s.archive.clone();
    let mut editions =
        match blocking(move || occurrence::editions(&archive, session, occurrence)).await {
            Ok(r) => r,
            Err(e) => return e.into_response(),
        };
    let mine = editions.pop();
    let rows = match on_chain(&s.hub.store, session, occurrence).await {
        Ok(rows) => rows,
        Err(e) => return e.into_response(),
    };
    Json(OccurrenceRecord {
        session_id: session,
        occurrence,
        chain_id: s.client_config.chain_id,
        record_anchor: mine.as_ref().map(|r| r.record_anchor.to_checksum(None)),
        roots: roots(
            &rows,
            mine.iter().chain(&editions).map(|r| r.root).collect(),
        ),
        computed: mine.as_ref().map(computed),
        earlier: editions.iter().map(earlier).collect(),
    })
    .into_response()
}

/// A speech's proof against the record anchored on chain.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SpeechProof {
    /// The speech's id in this node's archive.
    speech: i64,
    /// The edition of this node's record the proof is in.
    edition: u32,
    /// The revisions of the speech's transcript that edition holds (each its own leaf;
    /// `leaf` is the one asked for, the latest by default).
    revisions: Vec<u32>,
    /// The leaf's fields, as `RecordAnchor.verify` takes them.
    leaf: LeafFields,
    /// The leaf hash (`RecordAnchor.leafHash(leaf)`).
    leaf_hash: String,
    /// The root of the speech's occurrence this node computed (and anchors).
    root: String,
    /// The sibling hashes from the leaf up to the root.
    proof: Vec<String>,
    /// The chain the root is anchored on.
    chain_id: u64,
    /// The RecordAnchor contract to call `verify` on.
    record_anchor: String,
    /// Who attested this root on chain, as this node's index has them (empty: not yet).
    attestations: Vec<OnChain>,
    /// How many distinct roots the chain holds for the occurrence, as this node's index
    /// has them (more than one: a disagreement or a correction; see the record route).
    root_count: u32,
    /// The recording whose SHA-256 is `leaf.audioDigest`.
    audio: String,
}

/// Which leaf of a speech to prove, under which edition.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ProofQuery {
    /// The transcript's revision (0: as transcribed); absent: the latest the edition holds.
    revision: Option<u32>,
    /// The edition of the record; absent: the latest.
    edition: Option<u32>,
}

/// A speech's proof: its leaf, the root of its occurrence's record this node computed,
/// the Merkle proof, and where to check them (`RecordAnchor.verify` on `chainId`). Fetch
/// the audio, check its SHA-256 against `leaf.audioDigest` and its attestations against
/// `leaf.attestationDigest`, then call `verify`.
#[utoipa::path(get, path = "/api/v1/archive/speeches/{id}/proof", tag = "archive",
    params(("id" = i64, Path, description = "The speech id."), ProofQuery),
    responses(
        (status = 200, description = "The proof.", body = SpeechProof),
        (status = 400, description = "`bad_request`: a malformed query.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such speech; or `no_such_leaf`: no such edition, or the edition does not hold that revision.", body = ErrorBody),
        (status = 409, description = "`no_record`: the speech's occurrence has no record on this node yet (it is computed once the occurrence is over and its speeches are transcribed), or the record left it out.", body = ErrorBody),
    ))]
async fn proof(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    q: Result<axum::extract::Query<ProofQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let axum::extract::Query(q) = match q {
        Ok(q) => q,
        Err(e) => return ApiError::BadRequest(e.body_text()).into_response(),
    };
    let archive = s.archive.clone();
    let found = blocking(
        move || -> Result<_, assembly_archive::record::archive::ArchiveError> {
            let speech = archive.speech(id)?;
            // None: no record yet; Some(None): no such edition of it.
            let record = match occurrence::of_speech(&archive, id)? {
                Some(latest) => Some(match q.edition {
                    Some(e) if e != latest.edition => {
                        occurrence::record_at(&archive, latest.session, latest.occurrence, e)?
                    }
                    _ => Some(latest),
                }),
                None => None,
            };
            Ok((speech, record))
        },
    )
    .await;
    let record = match found {
        Ok((None, _)) => return ApiError::NotFound(format!("no speech {id}")).into_response(),
        Ok((Some(_), Some(Some(r)))) => r,
        Ok((Some(_), Some(None))) => {
            return failure(
                StatusCode::NOT_FOUND,
                "no_such_leaf",
                format!("speech {id}'s record has no such edition"),
            )
        }
        Ok((Some(_), None)) => {
            return failure(
                StatusCode::CONFLICT,
                "no_record",
                format!(
                    "speech {id} is in no record on this node yet: an occurrence's record is \
                     computed once it is over and its speeches are transcribed"
                ),
            )
        }
        Err(e) => return e.into_response(),
    };
    let leaf = match q.revision {
        Some(r) => record.leaf_at(id, r),
        None => record.leaf(id),
    };
    let Some(leaf) = leaf else {
        return failure(
            StatusCode::NOT_FOUND,
            "no_such_leaf",
            format!(
                "edition {} of speech {id}'s record holds no such revision",
                record.edition
            ),
        );
    };
    let hash = leaf_hash(leaf);
    let Some(path) = record.tree().proof(hash) else {
        return ApiError::internal(format!("speech {id}'s leaf is not in its tree"))
            .into_response();
    };
    let rows = match on_chain(&s.hub.store, record.session, record.occurrence).await {
        Ok(rows) => rows,
        Err(e) => return e.into_response(),
    };
    let mut distinct: Vec<B256> = rows.iter().map(|r| r.root).collect();
    distinct.sort();
    distinct.dedup();
    Json(SpeechProof {
        speech: id,
        edition: record.edition,
        revisions: record
            .leaves
            .iter()
            .filter(|(s, _)| *s == id)
            .map(|(_, l)| l.revision)
            .collect(),
        leaf: leaf.into(),
        leaf_hash: hash.to_string(),
        root: record.root.to_string(),
        proof: path.iter().map(|h| h.to_string()).collect(),
        chain_id: record.chain_id,
        record_anchor: record.record_anchor.to_checksum(None),
        attestations: rows
            .iter()
            .filter(|r| r.root == record.root)
            .map(OnChain::from)
            .collect(),
        root_count: distinct.len() as u32,
        audio: format!("/api/v1/archive/speeches/{id}/audio"),
    })
    .into_response()
}
