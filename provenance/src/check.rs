//! Checking a stream of packets as it comes, live on a node or offline from a recording:
//! the attestations each packet carries ([`crate::carrier`]), then each frame against the
//! tags the batches gave.
//!
//! A frame comes before the batch that vouches for it (the batch rides on its last frame),
//! so a frame is first [`Heard::Pending`]; it is settled when a batch arrives, or, if the
//! network reordered it past that batch, by the next one. A frame no batch vouched for by
//! then is altered, unless a batch was lost between (then nobody can tell: unattested).

use alloy_primitives::Address;
use alloy_sol_types::Eip712Domain;

use crate::carrier::{self, Certificate, Item};
use crate::{Batch, FrameTag, Refused, Speech};

/// What is known of a frame the moment it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard {
    /// No certificate by the slot's holder has been seen in this speech.
    Unsigned,
    /// Certified, and waiting for the batch that vouches for it.
    Pending,
    /// A batch taken already vouches for it (it came late).
    Signed,
    /// The stream carried something forged or altered (the first reason): nothing more of
    /// it is the holder's for sure.
    Tainted(Refused),
}

/// Frames settled, by verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    /// Vouched for by a batch the holder's certified key signed.
    pub signed: u64,
    /// Read while no certificate by the holder had been seen.
    pub unsigned: u64,
    /// Matched no tag though every batch around it arrived.
    pub altered: u64,
    /// Matched no tag, and a batch was lost around it.
    pub unattested: u64,
}

impl Counts {
    /// Every frame counted.
    pub fn frames(&self) -> u64 {
        self.signed + self.unsigned + self.altered + self.unattested
    }
}

/// What one packet did to the stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// The frames this packet settled (its own among them when already settled).
    pub settled: Counts,
    /// Attestations it carried that were refused.
    pub refused: Vec<Refused>,
    /// A certificate whose signature is not the holder's key's: if the holder is a contract
    /// wallet, the caller may ask it (EIP-1271 `isValidSignature` of
    /// [`crate::SpeakingKey::digest`]) and, if it agrees, say so through the checker's
    /// [`ContractWallets`]; the certificate is taken when next carried (every four seconds).
    pub ask_wallet: Option<Certificate>,
}

/// Which certificates, by [`Certificate::digest`], the holder's contract wallet vouched for
/// (EIP-1271): what the caller learned from the chain, since checking it takes a call.
#[derive(Clone)]
pub struct ContractWallets(
    pub std::sync::Arc<dyn Fn(&alloy_primitives::B256) -> bool + Send + Sync>,
);

impl std::fmt::Debug for ContractWallets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContractWallets")
    }
}

/// One speech's stream (one slot's, from one source), checked packet by packet.
#[derive(Debug)]
pub struct Checker {
    session: u64,
    occurrence: u32,
    holder: Address,
    slot_ms: (u64, u64),
    domain: Eip712Domain,
    speech: Option<(Certificate, Speech)>,
    /// Frames waiting for a batch: their tag, when they came (in packets read), and whether
    /// a batch has arrived since.
    pending: Vec<(FrameTag, u64, bool)>,
    /// Packets read.
    read: u64,
    /// Where the next batch should start, to tell a lost batch.
    expected: u64,
    lost: bool,
    tainted: Option<Refused>,
    counts: Counts,
    certificate: Option<Certificate>,
    contract_wallets: Option<ContractWallets>,
}

/// A frame that came this few packets before the batch that should vouch for it, and did
/// not match, is given until the next batch: the network may have put it ahead of a frame
/// of the previous batch. Anything earlier is judged at once.
const REORDER: u64 = 3;

/// At most this many frames wait for a batch (two batches): a stream that sends frames and
/// never a batch costs no more.
const PENDING_MAX: usize = 2 * crate::BATCH_FRAMES;

impl Checker {
    /// Checks the speech `holder` gives in `session`'s `occurrence`, in the slot `slot_ms`,
    /// with certificates signed in `domain`.
    pub fn new(
        session: u64,
        occurrence: u32,
        holder: Address,
        slot_ms: (u64, u64),
        domain: Eip712Domain,
    ) -> Self {
        Self {
            session,
            occurrence,
            holder,
            slot_ms,
            domain,
            speech: None,
            pending: Vec::new(),
            expected: 0,
            lost: false,
            tainted: None,
            counts: Counts::default(),
            certificate: None,
            read: 0,
            contract_wallets: None,
        }
    }

    /// The same checker, taking a certificate its signature does not recover to the holder
    /// for when `wallets` says the holder's contract wallet vouched for it.
    pub fn with_contract_wallets(mut self, wallets: ContractWallets) -> Self {
        self.contract_wallets = Some(wallets);
        self
    }

    /// The frames settled so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// The first forgery or alteration found, if any.
    pub fn tainted(&self) -> Option<Refused> {
        self.tainted
    }

    /// The certificate the speech is checked under (the latest the holder signed).
    pub fn certificate(&self) -> Option<&Certificate> {
        self.certificate.as_ref()
    }

    /// Settles what is still pending as if the stream ended (a recording's end): frames
    /// after the last batch are unattested, whatever came before.
    pub fn finish(&mut self) -> Step {
        let mut step = Step::default();
        self.lost = true;
        for _ in std::mem::take(&mut self.pending) {
            self.unvouched(&mut step);
        }
        step
    }

    /// Reads one packet: its attestations, then its frame. Returns what is known of the
    /// frame now, and what the packet settled.
    pub fn packet(&mut self, packet: &[u8]) -> (Heard, Step) {
        let mut step = Step::default();
        self.read += 1;
        let (tag, items) = match carrier::read(packet) {
            Ok(r) => r,
            Err(_) => {
                // Nobody's signed frame: a packet that does not even parse.
                self.taint(Refused::Altered, &mut step);
                self.counts.altered += 1;
                step.settled.altered += 1;
                return (self.verdict(Heard::Tainted(Refused::Altered)), step);
            }
        };
        for item in items {
            match item {
                Item::Certificate(c) => self.certificate_item(c, &mut step),
                Item::Batch(b) => self.batch(&b, &mut step),
            }
        }
        let vouched = self.speech.as_mut().map(|(_, s)| s.frame(tag).is_ok());
        let heard = match vouched {
            None => {
                self.counts.unsigned += 1;
                step.settled.unsigned += 1;
                Heard::Unsigned
            }
            Some(true) => {
                self.counts.signed += 1;
                step.settled.signed += 1;
                Heard::Signed
            }
            Some(false) => {
                if self.pending.len() >= PENDING_MAX {
                    self.pending.remove(0);
                    self.unvouched(&mut step);
                }
                self.pending.push((tag, self.read, false));
                Heard::Pending
            }
        };
        (self.verdict(heard), step)
    }

    fn verdict(&self, heard: Heard) -> Heard {
        match self.tainted {
            Some(r) => Heard::Tainted(r),
            None => heard,
        }
    }

    fn taint(&mut self, reason: Refused, step: &mut Step) {
        step.refused.push(reason);
        self.tainted.get_or_insert(reason);
    }

    fn certificate_item(&mut self, c: Certificate, step: &mut Step) {
        if self.speech.as_ref().is_some_and(|(have, _)| *have == c) {
            return;
        }
        let recovered = match c.body.signer(&self.domain, &c.signature) {
            Ok(s) if s == self.holder => Ok(s),
            // Not the holder's key: perhaps their contract wallet's say-so.
            other => {
                let vouched = self
                    .contract_wallets
                    .as_ref()
                    .is_some_and(|w| (w.0)(&c.digest()));
                if vouched {
                    Ok(self.holder)
                } else {
                    step.ask_wallet = Some(c.clone());
                    other
                }
            }
        };
        let started = recovered.and_then(|signer| {
            Speech::new(
                self.session,
                self.occurrence,
                self.holder,
                self.slot_ms,
                &c.body,
                signer,
            )
        });
        match started {
            // A new key from the holder (their client reconnected): its speech counts
            // from 0 again.
            Ok(speech) => {
                self.certificate = Some(c.clone());
                self.speech = Some((c, speech));
                self.expected = 0;
            }
            Err(r) => step.refused.push(r),
        }
    }

    fn batch(&mut self, b: &Batch, step: &mut Step) {
        let Some((_, speech)) = self.speech.as_mut() else {
            // No certificate to check it by (it was lost): its frames go unattested.
            self.lost = true;
            return;
        };
        if let Err(r) = speech.batch(b) {
            self.taint(r, step);
            return;
        }
        if b.first > self.expected {
            self.lost = true;
        }
        self.expected = b.first + b.tags.len() as u64;
        let mut waiting = Vec::new();
        let mut unvouched = 0;
        for (tag, at, seen_batch) in std::mem::take(&mut self.pending) {
            if speech.frame(tag).is_ok() {
                self.counts.signed += 1;
                step.settled.signed += 1;
            } else if !seen_batch && self.read - at <= REORDER {
                waiting.push((tag, at, true));
            } else {
                unvouched += 1;
            }
        }
        for _ in 0..unvouched {
            self.unvouched(step);
        }
        self.pending = waiting;
        if self.pending.is_empty() {
            self.lost = false;
        }
    }

    /// A frame no batch vouched for.
    fn unvouched(&mut self, step: &mut Step) {
        if self.lost {
            self.counts.unattested += 1;
            step.settled.unattested += 1;
        } else {
            self.counts.altered += 1;
            step.settled.altered += 1;
            self.taint(Refused::Altered, step);
        }
    }
}
