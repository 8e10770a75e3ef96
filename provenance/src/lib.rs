//! What makes a speech provably its speaker's.
//!
//! The invariant: a frame is the floor holder's only if its tag is in a batch that a speaking
//! key signed, that key was certified by the holder's wallet for this Assembly contract, chain,
//! session and occurrence, the certificate had not expired when the batch was signed, and the
//! batch was signed inside the holder's slot, after every batch already taken for the speech.
//! Each part is checked here from bytes alone; reading the chain (who held the slot, what a
//! contract wallet's EIP-1271 `isValidSignature` answers) is the caller's.
//!
//! - [`SpeakingKey`] is what the wallet signs once, as EIP-712 typed data, when its holder
//!   takes the floor: a short-lived key, named by its address. The key is secp256k1 because
//!   every wallet, the web client's bundle (its wallet code) and the chain already speak it:
//!   anyone checks its signatures with `ecrecover`, a contract included.
//! - [`Batch`] is what that key signs every [`BATCH_FRAMES`] frames (half a second of
//!   speech): the [`FrameTag`]s of the Opus payloads (the payloads, not the RTP packets,
//!   whose headers a node rewrites), where they start in the speech, and when they were
//!   signed. One signature per frame would double the bitrate; tags let a frame lost on the
//!   way cost only itself, where one digest of the whole batch would lose the batch.
//! - [`Speech`] checks one speech as it goes, live on a node or offline against a recording:
//!   each batch, then each frame against the tags the batches gave, each tag used once.
//! - [`carrier`] is how certificates and batches travel: in Opus padding, inside the audio,
//!   so that relays, recordings and HLS segments carry them unchanged; its [`carrier::Signer`]
//!   is the speaker's side.
//! - [`check::Checker`] reads a stream of packets (live, or a recording) into verdicts.
//! - [`packet`] reads Opus framing, and defines the canonical form a tag covers.
//! - [`correction`] is a speaker's signed correction of their speech's transcript, and
//!   [`record`] the leaves and tree an occurrence's record is anchored as.

pub mod carrier;
pub mod check;
pub mod correction;
pub mod packet;
pub mod record;

use std::collections::HashMap;

use alloy_primitives::{keccak256, Address, Signature, B256, U256};
pub use alloy_sol_types::Eip712Domain;
use alloy_sol_types::{sol, SolStruct, SolValue};
/// The secp256k1 implementation speaking keys and clients sign with.
pub use k256;
use serde::{Deserialize, Serialize};

sol! {
    /// What a speaker's wallet signs once, as EIP-712 typed data, when they take the floor: the
    /// speaking key (its address) their audio is signed with, for one occurrence of one
    /// session, until `notAfter` (seconds since the epoch). The domain names the Assembly
    /// contract and the chain.
    #[derive(Debug, PartialEq, Eq)]
    struct SpeakingKey {
        uint256 session;
        uint32 occurrence;
        address key;
        uint64 notAfter;
    }
}

/// Frames a batch covers: half a second of 20 ms Opus frames.
pub const BATCH_FRAMES: usize = 25;

/// A frame's tag: the first 16 bytes of the Keccak-256 of its Opus payload. Sixteen bytes
/// keep a second frame with the same tag out of reach (2^128 work) and halve what full
/// hashes would add to the stream: with a 65-byte signature and its header, a batch of 25 is
/// about 490 bytes, 7.8 kbit/s beside 32 kbit/s of speech.
pub type FrameTag = [u8; 16];

/// The tag of a frame's bytes (for an Opus packet, of its [`packet::Packet::canonical`]
/// form: see [`frame_tag`]).
pub fn tag(payload: &[u8]) -> FrameTag {
    let mut t = [0u8; 16];
    t.copy_from_slice(&keccak256(payload)[..16]);
    t
}

/// The tag of an Opus packet: of its canonical form, so that the padding attestations
/// travel in is not covered.
pub fn frame_tag(packet: &packet::Packet<'_>) -> FrameTag {
    tag(&packet.canonical())
}

/// The EIP-712 domain speaking keys are certified in: the Assembly contract on its chain.
pub fn domain(chain_id: u64, assembly: Address) -> Eip712Domain {
    Eip712Domain::new(
        Some("Assembly".into()),
        Some("1".into()),
        Some(U256::from(chain_id)),
        Some(assembly),
        None,
    )
}

impl SpeakingKey {
    /// What the wallet signs (for an EIP-1271 wallet, the hash its contract is asked about).
    pub fn digest(&self, domain: &Eip712Domain) -> B256 {
        self.eip712_signing_hash(domain)
    }

    /// The address whose key made `signature` over this certificate (an account's wallet).
    /// A contract wallet's signature recovers to no one useful: ask its contract about
    /// [`SpeakingKey::digest`] instead.
    pub fn signer(&self, domain: &Eip712Domain, signature: &Signature) -> Result<Address, Refused> {
        signature
            .recover_address_from_prehash(&self.digest(domain))
            .map_err(|_| Refused::BadCertificate)
    }
}

/// The tags of up to [`BATCH_FRAMES`] consecutive frames of a speech, signed by its speaking key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// The session spoken in.
    pub session: u64,
    /// Its occurrence.
    pub occurrence: u32,
    /// The position in the speech of the first frame tagged (the speaker counts from 0).
    pub first: u64,
    /// When the speaker signed it, in ms since the epoch.
    pub signed_ms: u64,
    /// The frames' tags, in order.
    pub tags: Vec<FrameTag>,
    /// The speaking key's signature of [`Batch::digest`].
    pub signature: Signature,
}

impl Batch {
    /// What the speaking key signs: every field but the signature, under a tag of its own so
    /// that no other message of the key's can be passed off as a batch.
    pub fn digest(&self) -> B256 {
        let tags: Vec<u8> = self.tags.iter().flatten().copied().collect();
        keccak256(
            (
                keccak256("assembly.batch.v1"),
                self.session,
                self.occurrence,
                self.first,
                self.signed_ms,
                keccak256(tags),
            )
                .abi_encode(),
        )
    }

    /// The address of the key that signed it.
    pub fn signer(&self) -> Result<Address, Refused> {
        self.signature
            .recover_address_from_prehash(&self.digest())
            .map_err(|_| Refused::BadSignature)
    }
}

/// Why a certificate, a batch or a frame is not the holder's. The stable codes are what
/// nodes count and clients see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The certificate's signature recovers to no address.
    #[error("the speaking key's certificate is not a signature")]
    BadCertificate,
    /// The certificate was signed by someone other than the slot's holder.
    #[error("the speaking key was certified by someone other than the floor holder")]
    NotTheHolders,
    /// The certificate is for another session or occurrence.
    #[error("the speaking key was certified for another session or occurrence")]
    OtherSession,
    /// The batch's signature recovers to no address.
    #[error("the batch's signature is malformed")]
    BadSignature,
    /// The batch was signed by a key other than the certified one.
    #[error("the batch was signed by a key the holder did not certify")]
    WrongKey,
    /// The batch names another session or occurrence.
    #[error("the batch is for another session or occurrence")]
    OtherBatch,
    /// The batch was signed after its key's certificate expired.
    #[error("the speaking key had expired when the batch was signed")]
    Expired,
    /// The batch was signed outside the holder's slot.
    #[error("the batch was signed outside the holder's slot")]
    OutsideSlot,
    /// The batch overlaps or precedes one already taken (a replay, or a reordering).
    #[error("the batch repeats or precedes one already taken")]
    Replayed,
    /// The batch tags more frames than a batch may.
    #[error("the batch tags more than {BATCH_FRAMES} frames")]
    TooLong,
    /// The frame matches no tag a batch gave: altered, or not the holder's.
    #[error("the frame matches no signed tag")]
    Altered,
}

impl Refused {
    /// Every reason, in a fixed order (what counters index).
    pub const ALL: [Refused; 11] = [
        Refused::BadCertificate,
        Refused::NotTheHolders,
        Refused::OtherSession,
        Refused::BadSignature,
        Refused::WrongKey,
        Refused::OtherBatch,
        Refused::Expired,
        Refused::OutsideSlot,
        Refused::Replayed,
        Refused::TooLong,
        Refused::Altered,
    ];

    /// Its stable name.
    pub fn code(&self) -> &'static str {
        match self {
            Refused::BadCertificate => "bad_certificate",
            Refused::NotTheHolders => "not_the_holders",
            Refused::OtherSession => "other_session",
            Refused::BadSignature => "bad_signature",
            Refused::WrongKey => "wrong_key",
            Refused::OtherBatch => "other_batch",
            Refused::Expired => "expired",
            Refused::OutsideSlot => "outside_slot",
            Refused::Replayed => "replayed",
            Refused::TooLong => "too_long",
            Refused::Altered => "altered",
        }
    }
}

/// One speech as it is checked: the certified key, the slot, the batches taken so far and the
/// tags they gave that no frame has matched yet.
#[derive(Debug)]
pub struct Speech {
    session: u64,
    occurrence: u32,
    key: Address,
    not_after_ms: u64,
    slot_ms: (u64, u64),
    /// The position just past the last batch taken: a batch must start here or later.
    next: u64,
    /// Tags given and not yet matched, with how many frames each still vouches for.
    open: HashMap<FrameTag, u32>,
}

impl Speech {
    /// Starts checking a speech by `holder` (who holds the slot from `slot_ms.0` until
    /// `slot_ms.1`, by the chain) in `session`'s `occurrence`, whose speaking key is
    /// `certificate`, signed by `signer` (the address [`SpeakingKey::signer`] recovered, or
    /// the contract wallet whose EIP-1271 check passed).
    pub fn new(
        session: u64,
        occurrence: u32,
        holder: Address,
        slot_ms: (u64, u64),
        certificate: &SpeakingKey,
        signer: Address,
    ) -> Result<Self, Refused> {
        if signer != holder {
            return Err(Refused::NotTheHolders);
        }
        if certificate.session != U256::from(session) || certificate.occurrence != occurrence {
            return Err(Refused::OtherSession);
        }
        Ok(Self {
            session,
            occurrence,
            key: certificate.key,
            not_after_ms: certificate.notAfter.saturating_mul(1000),
            slot_ms,
            next: 0,
            open: HashMap::new(),
        })
    }

    /// Takes a batch: signed by the certified key, for this speech, in the slot, before the
    /// key expired, and after every batch taken so far. A refused batch changes nothing.
    pub fn batch(&mut self, batch: &Batch) -> Result<(), Refused> {
        if batch.tags.len() > BATCH_FRAMES {
            return Err(Refused::TooLong);
        }
        if batch.signer()? != self.key {
            return Err(Refused::WrongKey);
        }
        if batch.session != self.session || batch.occurrence != self.occurrence {
            return Err(Refused::OtherBatch);
        }
        if batch.signed_ms > self.not_after_ms {
            return Err(Refused::Expired);
        }
        // Signed as its last frame was spoken, which the slot may end during.
        let (start, end) = self.slot_ms;
        if batch.signed_ms < start || batch.signed_ms > end.saturating_add(1_000) {
            return Err(Refused::OutsideSlot);
        }
        if batch.first < self.next {
            return Err(Refused::Replayed);
        }
        self.next = batch.first + batch.tags.len() as u64;
        for t in &batch.tags {
            *self.open.entry(*t).or_default() += 1;
        }
        Ok(())
    }

    /// Checks a frame, by its tag ([`frame_tag`]), against the tags taken: each tag vouches
    /// for one frame. `Err(Altered)` for a frame no tag matches (its batch may still be on
    /// its way: [`check::Checker`] waits for it).
    pub fn frame(&mut self, t: FrameTag) -> Result<(), Refused> {
        match self.open.get_mut(&t) {
            Some(n) if *n > 1 => {
                *n -= 1;
                Ok(())
            }
            Some(_) => {
                self.open.remove(&t);
                Ok(())
            }
            None => Err(Refused::Altered),
        }
    }
}

#[cfg(test)]
mod tests;
