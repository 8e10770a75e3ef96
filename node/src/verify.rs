//! `assembly verify`: whether a recorded speech was spoken by the address that held the
//! floor, checked by anyone, offline, against the chain alone.
//!
//! A recording carries its proof: the speaker's certificate and batches ride in its Opus
//! padding ([`assembly_provenance::carrier`]). The certificate names the session and
//! occurrence and recovers to the wallet that signed it; the chain says who held the floor
//! when the first batch was signed (`Assembly.floorAt`) and over which slot; the
//! [`Checker`] then takes every packet. Nothing a node says is believed: a node only
//! serves the bytes.

use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use assembly_indexer::bindings::{Assembly, IRecordAnchor, RecordAnchor};
use assembly_provenance::carrier::{self, Item};
use assembly_provenance::check::{Checker, ContractWallets, Counts};
use assembly_provenance::{domain, BATCH_FRAMES};
use serde::Serialize;

/// Why a speech could not be checked at all (as opposed to checked and found wanting).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The recording carries no certificate: it was never signed.
    #[error("the recording carries no speaking key certificate: it is unsigned")]
    Unsigned,
    /// It carries a certificate but no batch.
    #[error("the recording carries no signed batch")]
    NoBatch,
    /// The certificate's signature recovers to nobody.
    #[error("the certificate's signature is malformed")]
    BadCertificate,
    /// The chain could not be asked.
    #[error("asking the chain: {0}")]
    Chain(String),
}

/// What the check found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Who certified the speaking key: the address the certificate recovers to, or the
    /// holder when their contract wallet vouched for it (EIP-1271).
    pub certified_by: Address,
    /// Whether the holder's contract wallet vouched for the certificate (EIP-1271).
    pub contract_wallet: bool,
    /// Who held the floor, by the chain, when the first batch was signed.
    pub holder: Address,
    /// The session and its occurrence, from the certificate.
    pub session: u64,
    /// The occurrence.
    pub occurrence: u32,
    /// The holder's slot, seconds since the epoch.
    pub slot: (u64, u64),
    /// The speaking key.
    pub key: Address,
    /// The record leaf's `attestationDigest` for this speech.
    pub attestation_digest: B256,
    /// Every packet, by verdict.
    pub frames: Counts,
    /// The first forgery or alteration, if any (a stable code).
    pub tainted: Option<&'static str>,
    /// Attestations refused along the way (stable codes).
    pub refused: Vec<&'static str>,
}

impl Report {
    /// Whether these bytes were spoken by `holder` in that slot: the certificate is theirs,
    /// nothing was forged or altered, no frame is unsigned, and at most the frames of one
    /// batch (a speech whose client stopped without flushing) are unattested.
    pub fn verified(&self) -> bool {
        self.certified_by == self.holder
            && self.tainted.is_none()
            && self.refused.is_empty()
            && self.frames.unsigned == 0
            && self.frames.altered == 0
            && self.frames.signed > 0
            && self.frames.unattested < BATCH_FRAMES as u64
    }
}

/// The chain, as `verify` reads it.
pub struct Chain {
    assembly: Assembly::AssemblyInstance<DynProvider>,
    chain_id: u64,
}

impl Chain {
    /// Connects to `rpc`, where Assembly is at `assembly`.
    pub async fn connect(rpc: &str, assembly: Address) -> Result<Self, VerifyError> {
        let provider = ProviderBuilder::new()
            .connect(rpc)
            .await
            .map_err(|e| VerifyError::Chain(e.to_string()))?
            .erased();
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| VerifyError::Chain(e.to_string()))?;
        Ok(Self {
            assembly: Assembly::new(assembly, provider),
            chain_id,
        })
    }

    /// Who held `session`'s floor at `t` (seconds), and over which slot.
    async fn floor_at(
        &self,
        session: u64,
        t: u64,
    ) -> Result<(Address, u32, u64, u64), VerifyError> {
        let f = self
            .assembly
            .floorAt(U256::from(session), U256::from(t))
            .call()
            .await
            .map_err(|e| VerifyError::Chain(e.to_string()))?;
        Ok((f.speaker, f.occurrence, f.start, f.end))
    }
}

/// A speech's place in an occurrence's record, as a node serves it
/// (`/api/v1/archive/speeches/{id}/proof`): believed only as far as the chain confirms it.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Proof {
    /// The leaf, named as `IRecordAnchor.Speech`.
    pub leaf: ProofLeaf,
    /// The occurrence's root.
    pub root: B256,
    /// Siblings from the leaf up.
    pub proof: Vec<B256>,
    /// The RecordAnchor to ask.
    pub record_anchor: Address,
}

/// A leaf's fields.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct ProofLeaf {
    pub session_id: u64,
    pub occurrence: u32,
    pub slot_start: u64,
    pub speaker: Address,
    pub audio_digest: B256,
    pub attestation_digest: B256,
    pub transcript_digest: B256,
    pub revision: u32,
}

/// What the anchored record says of the speech.
#[derive(Clone, Debug, Serialize)]
pub struct Anchored {
    /// The root, as the proof names it.
    pub root: B256,
    /// Member operators who attested that root on chain.
    pub attestations: u64,
    /// Distinct roots anchored for the occurrence (more than one: a disagreement).
    pub roots: u64,
    /// `RecordAnchor.verify` of the leaf and proof.
    pub verified_on_chain: bool,
    /// Each leaf field that disagrees with the recording or the chain.
    pub mismatches: Vec<&'static str>,
    /// The transcript's revision the leaf holds: 0 as transcribed.
    pub revision: u32,
    /// For a correction (revision above 0), the speaker, when the correction's signature is
    /// theirs; None when it is not, or the revision is 0.
    pub corrected_by: Option<Address>,
}

/// A revision of a speech's transcript, as its node serves it.
#[derive(Clone, Debug)]
pub struct Transcript {
    /// The text.
    pub text: String,
    /// For a correction, the speaker's signature of it.
    pub signature: Option<alloy::primitives::Bytes>,
}

impl Anchored {
    /// Whether the record anchored on chain holds this very speech.
    pub fn holds(&self) -> bool {
        self.verified_on_chain && self.attestations > 0 && self.mismatches.is_empty()
    }
}

impl Chain {
    /// Checks `proof` against the recording (its `sha256`), the `report` made of it, the
    /// transcript at the leaf's revision (when known; for a correction, that its speaker
    /// signed it) and the chain.
    pub async fn anchored(
        &self,
        proof: &Proof,
        report: &Report,
        sha256: B256,
        transcript: Option<&Transcript>,
    ) -> Result<Anchored, VerifyError> {
        let l = &proof.leaf;
        let transcript_sha256 =
            transcript.map(|t| assembly_provenance::record::transcript_digest(Some(&t.text)));
        let corrected_by = match transcript {
            Some(t) if l.revision > 0 => self.correction_signer(l, t).await?,
            _ => None,
        };
        let mut mismatches = Vec::new();
        let checks = [
            (l.audio_digest == sha256, "audioDigest"),
            (
                l.attestation_digest == report.attestation_digest,
                "attestationDigest",
            ),
            (l.speaker == report.holder, "speaker"),
            (l.slot_start == report.slot.0, "slotStart"),
            (l.session_id == report.session, "sessionId"),
            (l.occurrence == report.occurrence, "occurrence"),
            (
                transcript_sha256.is_none_or(|t| t == l.transcript_digest),
                "transcriptDigest",
            ),
        ];
        for (ok, what) in checks {
            if !ok {
                mismatches.push(what);
            }
        }
        match transcript {
            None if l.revision > 0 => mismatches.push("transcript (the node did not serve it)"),
            Some(_) if l.revision > 0 && corrected_by.is_none() => {
                mismatches.push("correction (not the speaker's signature)")
            }
            _ => {}
        }
        let anchor = RecordAnchor::new(proof.record_anchor, self.assembly.provider().clone());
        let chain = |e: alloy::contract::Error| VerifyError::Chain(e.to_string());
        let speech = IRecordAnchor::Speech {
            sessionId: U256::from(l.session_id),
            occurrence: l.occurrence,
            slotStart: alloy::primitives::Uint::from(l.slot_start),
            speaker: l.speaker,
            audioDigest: l.audio_digest,
            attestationDigest: l.attestation_digest,
            transcriptDigest: l.transcript_digest,
            revision: l.revision,
        };
        let session = U256::from(l.session_id);
        let verified_on_chain = anchor
            .verify(
                session,
                l.occurrence,
                proof.root,
                speech,
                proof.proof.clone(),
            )
            .call()
            .await
            .map_err(chain)?;
        let attestations = anchor
            .attestations(session, l.occurrence, proof.root)
            .call()
            .await
            .map_err(chain)?;
        let roots = anchor
            .rootCount(session, l.occurrence)
            .call()
            .await
            .map_err(chain)?;
        Ok(Anchored {
            root: proof.root,
            attestations: attestations.saturating_to(),
            roots: roots.saturating_to(),
            verified_on_chain,
            mismatches,
            revision: l.revision,
            corrected_by,
        })
    }

    /// The speaker, if `t` is a correction of the leaf's speech, at its revision, that the
    /// speaker signed (by key, or by their contract wallet).
    async fn correction_signer(
        &self,
        l: &ProofLeaf,
        t: &Transcript,
    ) -> Result<Option<Address>, VerifyError> {
        let Some(signature) = &t.signature else {
            return Ok(None);
        };
        let typed = assembly_provenance::correction::TranscriptCorrection {
            session: U256::from(l.session_id),
            occurrence: l.occurrence,
            slotStart: l.slot_start,
            audio: l.audio_digest,
            revision: l.revision,
            text: t.text.clone(),
        };
        let domain = domain(self.chain_id, *self.assembly.address());
        let vouched = crate::auth::signed_by(
            self.assembly.provider(),
            l.speaker,
            typed.digest(&domain),
            signature,
        )
        .await
        .map_err(VerifyError::Chain)?;
        Ok(vouched.then_some(l.speaker))
    }
}

/// Checks the packets of one recorded speech against `chain`.
pub async fn speech(packets: &[Vec<u8>], chain: &Chain) -> Result<Report, VerifyError> {
    let mut certificate = None;
    let mut first_signed_ms = None;
    for p in packets {
        let Ok((_, items)) = carrier::read(p) else {
            continue;
        };
        for item in items {
            match item {
                Item::Certificate(c) if certificate.is_none() => certificate = Some(c),
                Item::Batch(b) if first_signed_ms.is_none() => first_signed_ms = Some(b.signed_ms),
                _ => {}
            }
        }
        if certificate.is_some() && first_signed_ms.is_some() {
            break;
        }
    }
    let certificate = certificate.ok_or(VerifyError::Unsigned)?;
    let signed_ms = first_signed_ms.ok_or(VerifyError::NoBatch)?;
    let session = u64::try_from(certificate.body.session).map_err(|_| VerifyError::Unsigned)?;
    let occurrence = certificate.body.occurrence;
    let domain = domain(chain.chain_id, *chain.assembly.address());
    let recovered = certificate
        .body
        .signer(&domain, &certificate.signature)
        .map_err(|_| VerifyError::BadCertificate)?;
    let (holder, held_occurrence, start, end) = chain.floor_at(session, signed_ms / 1000).await?;
    // Not the holder's key: their contract wallet may vouch for it.
    let contract_wallet = recovered != holder
        && crate::auth::contract_vouches(
            chain.assembly.provider(),
            holder,
            certificate.body.digest(&domain),
            certificate.signature.as_bytes().to_vec().into(),
        )
        .await
        .map_err(VerifyError::Chain)?;
    let certified_by = if contract_wallet { holder } else { recovered };
    let mut checker = Checker::new(
        session,
        held_occurrence,
        holder,
        (start * 1000, end * 1000),
        domain,
    );
    if contract_wallet {
        let digest = certificate.digest();
        checker = checker
            .with_contract_wallets(ContractWallets(std::sync::Arc::new(move |d| *d == digest)));
    }
    let mut refused = Vec::new();
    for p in packets {
        refused.extend(checker.packet(p).1.refused.iter().map(|r| r.code()));
    }
    refused.extend(checker.finish().refused.iter().map(|r| r.code()));
    Ok(Report {
        certified_by,
        contract_wallet,
        holder,
        session,
        occurrence,
        slot: (start, end),
        key: certificate.body.key,
        attestation_digest: certificate.digest(),
        frames: checker.counts(),
        tainted: checker.tainted().map(|r| r.code()),
        refused,
    })
}
