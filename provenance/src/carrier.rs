//! How attestations travel: inside the audio, in Opus padding.
//!
//! RFC 6716 §3.2.5 lets any code 3 packet carry padding, and has every decoder ignore it. A
//! speaker's client puts its [`Certificate`] and [`Batch`]es there, so they go wherever the
//! frames go, untouched by anyone who forwards Opus: a node's restamping (which rewrites RTP
//! headers, never payloads), a relay to a sibling node, the Ogg recording, the fMP4 HLS
//! segments. A side channel (a WebRTC data channel, an HTTP upload) would have to be carried
//! by each of those apart, kept in step with the audio and stored beside it, and any WHIP
//! server in the way would drop it; any decoder plays padded packets unchanged.
//!
//! The padding is [`MAGIC`] followed by items, each a kind byte and a fixed layout:
//!
//! ```text
//! certificate (kind 1, 129 bytes): session u256 | occurrence u32 | key [20] | notAfter u64 | signature [65]
//! batch       (kind 2):            session u64 | occurrence u32 | first u64 | signed_ms u64 |
//!                                  n u8 | n tags [16] | signature [65]
//! ```
//!
//! integers big-endian, signatures `r | s | v` (v 27 or 28). The [`Signer`] puts the
//! certificate on a speech's first frame and again every [`CERTIFICATE_EVERY`] batches (for
//! whoever starts listening late), and each batch on the last frame it tags, which a tag
//! can cover because tags leave padding out ([`crate::packet`]). A batch adds 494 bytes to
//! one packet in 25 (7.9 kbit/s), a certificate 134 bytes every four seconds.

use alloy_primitives::{Address, Signature, U256};

use crate::packet::{Malformed, Packet};
use crate::{frame_tag, Batch, FrameTag, SpeakingKey, BATCH_FRAMES};

/// What begins padding that carries attestations ("ASM" and the format's version).
pub const MAGIC: [u8; 4] = *b"ASM\x01";

/// 20 ms of Opus silence (CELT, one frame), what [`Signer::flush`] carries a last batch on.
const SILENCE: [u8; 3] = [0xf8, 0xff, 0xfe];

/// Batches between repeats of the certificate: four seconds.
pub const CERTIFICATE_EVERY: u64 = 8;

const CERTIFICATE: u8 = 1;
const BATCH: u8 = 2;
const CERTIFICATE_LEN: usize = 32 + 4 + 20 + 8 + 65;
const BATCH_HEAD: usize = 8 + 4 + 8 + 8 + 1;

/// A speaking key as its holder's wallet certified it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    /// What was signed.
    pub body: SpeakingKey,
    /// The wallet's EIP-712 signature of it.
    pub signature: Signature,
}

impl Certificate {
    /// `body` certified by a wallet whose key is at hand (the project's own clients; a
    /// browser asks its wallet for `eth_signTypedData_v4` instead).
    pub fn sign(
        body: SpeakingKey,
        wallet: &k256::ecdsa::SigningKey,
        domain: &alloy_sol_types::Eip712Domain,
    ) -> Self {
        let signature = sign_prehash(wallet, &body.digest(domain));
        Self { body, signature }
    }

    /// What names this certificate in a speech's record leaf (its `attestationDigest`):
    /// keccak256 of its item as the padding carries it (kind byte, body, signature).
    pub fn digest(&self) -> alloy_primitives::B256 {
        let bytes = encode(&[Item::Certificate(self.clone())]);
        alloy_primitives::keccak256(&bytes[MAGIC.len()..])
    }
}

/// One item of attestation padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// The speaking key's certificate.
    Certificate(Certificate),
    /// A batch of frame tags.
    Batch(Batch),
}

/// Attestation padding that cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("attestation padding is malformed: {0}")]
pub struct BadPadding(pub &'static str);

/// Writes `items` as attestation padding.
pub fn encode(items: &[Item]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    for item in items {
        match item {
            Item::Certificate(c) => {
                out.push(CERTIFICATE);
                out.extend_from_slice(&c.body.session.to_be_bytes::<32>());
                out.extend_from_slice(&c.body.occurrence.to_be_bytes());
                out.extend_from_slice(c.body.key.as_slice());
                out.extend_from_slice(&c.body.notAfter.to_be_bytes());
                out.extend_from_slice(&c.signature.as_bytes());
            }
            Item::Batch(b) => {
                out.push(BATCH);
                out.extend_from_slice(&b.session.to_be_bytes());
                out.extend_from_slice(&b.occurrence.to_be_bytes());
                out.extend_from_slice(&b.first.to_be_bytes());
                out.extend_from_slice(&b.signed_ms.to_be_bytes());
                // A batch longer than 255 tags is refused on reading; TooLong says why.
                out.push(b.tags.len().min(255) as u8);
                for t in b.tags.iter().take(255) {
                    out.extend_from_slice(t);
                }
                out.extend_from_slice(&b.signature.as_bytes());
            }
        }
    }
    out
}

/// Reads attestation padding: `Ok(vec![])` for padding that is not ours (an encoder's own,
/// or none), an error for padding that claims to be ours and is not well formed.
pub fn decode(padding: &[u8]) -> Result<Vec<Item>, BadPadding> {
    let Some(mut rest) = padding.strip_prefix(&MAGIC) else {
        return Ok(Vec::new());
    };
    let mut items = Vec::new();
    while let Some((&kind, body)) = rest.split_first() {
        let (item, r) = match kind {
            CERTIFICATE => certificate(body)?,
            BATCH => batch(body)?,
            _ => return Err(BadPadding("unknown item")),
        };
        items.push(item);
        rest = r;
    }
    Ok(items)
}

fn take<const N: usize>(bytes: &[u8]) -> Result<([u8; N], &[u8]), BadPadding> {
    let (a, rest) = bytes.split_at_checked(N).ok_or(BadPadding("cut short"))?;
    let mut out = [0u8; N];
    out.copy_from_slice(a);
    Ok((out, rest))
}

fn signature(bytes: &[u8]) -> Result<(Signature, &[u8]), BadPadding> {
    let (s, rest) = take::<65>(bytes)?;
    let s = Signature::try_from(&s[..]).map_err(|_| BadPadding("not a signature"))?;
    Ok((s, rest))
}

fn certificate(body: &[u8]) -> Result<(Item, &[u8]), BadPadding> {
    if body.len() < CERTIFICATE_LEN {
        return Err(BadPadding("certificate cut short"));
    }
    let (session, r) = take::<32>(body)?;
    let (occurrence, r) = take::<4>(r)?;
    let (key, r) = take::<20>(r)?;
    let (not_after, r) = take::<8>(r)?;
    let (signature, r) = signature(r)?;
    let body = SpeakingKey {
        session: U256::from_be_bytes(session),
        occurrence: u32::from_be_bytes(occurrence),
        key: Address::from(key),
        notAfter: u64::from_be_bytes(not_after),
    };
    Ok((Item::Certificate(Certificate { body, signature }), r))
}

fn batch(body: &[u8]) -> Result<(Item, &[u8]), BadPadding> {
    if body.len() < BATCH_HEAD {
        return Err(BadPadding("batch cut short"));
    }
    let (session, r) = take::<8>(body)?;
    let (occurrence, r) = take::<4>(r)?;
    let (first, r) = take::<8>(r)?;
    let (signed_ms, r) = take::<8>(r)?;
    let (n, mut r) = take::<1>(r)?;
    let mut tags = Vec::with_capacity(usize::from(n[0]));
    for _ in 0..n[0] {
        let (t, rest) = take::<16>(r)?;
        tags.push(t);
        r = rest;
    }
    let (signature, r) = signature(r)?;
    let batch = Batch {
        session: u64::from_be_bytes(session),
        occurrence: u32::from_be_bytes(occurrence),
        first: u64::from_be_bytes(first),
        signed_ms: u64::from_be_bytes(signed_ms),
        tags,
        signature,
    };
    Ok((Item::Batch(batch), r))
}

/// The attestations a packet carries, and its frames' tag.
pub fn read(packet: &[u8]) -> Result<(FrameTag, Vec<Item>), Unreadable> {
    let p = Packet::parse(packet)?;
    let items = decode(p.padding())?;
    Ok((crate::tag(&p.canonical()), items))
}

/// Why a packet's provenance could not be read at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    /// Not an Opus packet.
    #[error(transparent)]
    Packet(#[from] Malformed),
    /// Its attestation padding is malformed.
    #[error(transparent)]
    Padding(#[from] BadPadding),
}

/// The speaker's side: tags every frame, signs a batch every [`BATCH_FRAMES`], and carries
/// the batches and the certificate in the frames' padding.
pub struct Signer {
    certificate: Certificate,
    key: k256::ecdsa::SigningKey,
    session: u64,
    occurrence: u32,
    /// The speech's position of the first frame of the batch being gathered.
    first: u64,
    tags: Vec<FrameTag>,
    batches: u64,
    /// Whether the next frame carries the certificate whatever the schedule.
    restate: bool,
}

impl Signer {
    /// Signs a speech with `key`, which `certificate` certifies for `session` (the
    /// certificate's own session, as a u64) and its occurrence.
    pub fn new(certificate: Certificate, key: k256::ecdsa::SigningKey) -> Result<Self, Malformed> {
        let session = u64::try_from(certificate.body.session)
            .map_err(|_| Malformed("session id beyond 64 bits"))?;
        Ok(Self {
            occurrence: certificate.body.occurrence,
            certificate,
            key,
            session,
            first: 0,
            tags: Vec::with_capacity(BATCH_FRAMES),
            batches: 0,
            restate: false,
        })
    }

    /// The speaking key's address.
    pub fn address(&self) -> Address {
        Address::from_private_key(&self.key)
    }

    /// The packet to send for `packet`, an Opus packet as the encoder gave it, at `now_ms`.
    pub fn sign(&mut self, packet: &[u8], now_ms: u64) -> Result<Vec<u8>, Malformed> {
        let p = Packet::parse(packet)?;
        let mut items = Vec::new();
        if self.restate || (self.tags.is_empty() && self.batches % CERTIFICATE_EVERY == 0) {
            items.push(Item::Certificate(self.certificate.clone()));
            self.restate = false;
        }
        self.tags.push(frame_tag(&p));
        if self.tags.len() == BATCH_FRAMES {
            items.push(Item::Batch(self.batch(now_ms)));
        }
        if items.is_empty() {
            return Ok(packet.to_vec());
        }
        Ok(p.with_padding(&encode(&items)))
    }

    /// Puts the certificate on the next frame, out of its schedule: the client reconnected
    /// (to the same node or another member), and the new connection's checker has not seen
    /// it. The speech goes on with the same key and count.
    pub fn restate(&mut self) {
        self.restate = true;
    }

    /// A packet that carries the batch of the frames not yet in one, if any: 20 ms of Opus
    /// silence (which any decoder plays as nothing) with the batch in its padding, tagged in
    /// it. A client sends it when it stops speaking, so that its last frames are attested
    /// too.
    pub fn flush(&mut self, now_ms: u64) -> Option<Vec<u8>> {
        if self.tags.is_empty() {
            return None;
        }
        let silence = Packet::parse(&SILENCE).ok()?;
        self.tags.push(frame_tag(&silence));
        let batch = self.batch(now_ms);
        Some(silence.with_padding(&encode(&[Item::Batch(batch)])))
    }

    fn batch(&mut self, now_ms: u64) -> Batch {
        let tags = std::mem::take(&mut self.tags);
        let mut b = Batch {
            session: self.session,
            occurrence: self.occurrence,
            first: self.first,
            signed_ms: now_ms,
            tags,
            signature: Signature::test_signature(),
        };
        self.first += b.tags.len() as u64;
        self.batches += 1;
        b.signature = sign_prehash(&self.key, &b.digest());
        b
    }
}

fn sign_prehash(key: &k256::ecdsa::SigningKey, digest: &alloy_primitives::B256) -> Signature {
    // Only a prehash shorter than half the curve's size fails, and a digest is 32 bytes.
    let (sig, recid) = key
        .sign_prehash_recoverable(digest.as_slice())
        .expect("a 32-byte prehash always signs");
    Signature::from((sig, recid))
}
