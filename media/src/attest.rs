//! Speaker-signed audio on the live path: whether a heard packet is provably its speaker's.
//!
//! Every source of a session's audio (the holder's own connection, a sibling's relay) is
//! checked apart, one [`Checker`] per source and slot, so a relay that alters a frame taints
//! its own stream and nobody else's. The checks never delay a packet: a frame is forwarded
//! before the batch that vouches for it arrives (it rides on the 25th frame), so the most a
//! forger is heard for, even where a session requires signed audio, is one batch, half a
//! second, before its stream is cut. Holding every frame back until its batch would cost
//! every listener half a second of latency on every speech.
//!
//! What a session does with what is found is its [`SignedAudio`] policy: counted (and the
//! stream flagged in the logs), or required, when a stream that is unsigned or tainted is
//! not forwarded.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use alloy_primitives::{Address, B256};
use assembly_provenance::carrier::Certificate;
use assembly_provenance::check::{Checker, ContractWallets, Counts, Heard};
use assembly_provenance::{Eip712Domain, Refused};

use crate::command::PeerRole;
use crate::gate::{Held, SignedAudio};
use crate::metrics::MediaMetrics;

/// What the node knows of contract wallets' say-so on speaking keys (EIP-1271): asking
/// takes a call to the chain, which the live path never waits for, so it asks here and
/// learns the answer later; a holder whose wallet is a contract has its certificate taken
/// when it is next carried (every four seconds).
pub trait WalletCheck: Send + Sync {
    /// Whether `holder`'s contract wallet vouched for the certificate with this digest
    /// ([`Certificate::digest`]), as far as is known now.
    fn vouched(&self, certificate: &B256) -> bool;
    /// Asks, off the live path, whether `holder`'s contract wallet vouches for `certificate`.
    fn ask(&self, holder: Address, certificate: &Certificate);
}

/// No contract wallets: every certificate must recover to its holder.
pub struct NoContractWallets;

impl WalletCheck for NoContractWallets {
    fn vouched(&self, _: &B256) -> bool {
        false
    }
    fn ask(&self, _: Address, _: &Certificate) {}
}

/// How speaking keys are checked: in which EIP-712 domain, and by which contract wallets.
#[derive(Clone)]
pub struct Provenance {
    /// The Assembly contract on its chain.
    pub domain: Eip712Domain,
    /// Contract wallets' say-so.
    pub wallets: Arc<dyn WalletCheck>,
}

impl Provenance {
    /// A checker of `holder`'s speech in `slot`, taking their contract wallet's say-so.
    pub fn checker(&self, session: u64, holder: Address, slot: Held) -> Checker {
        let wallets = self.wallets.clone();
        Checker::new(
            session,
            slot.occurrence,
            holder,
            (slot.start_ms, slot.end_ms),
            self.domain.clone(),
        )
        .with_contract_wallets(ContractWallets(Arc::new(move |d| wallets.vouched(d))))
    }
}

/// One source's stream in one slot.
struct Stream {
    slot_start_ms: u64,
    slot_end_ms: u64,
    checker: Checker,
    /// Whether its taint was told (once per stream).
    told: bool,
}

/// The live checks of every source.
pub(crate) struct Attest {
    provenance: Provenance,
    metrics: Arc<MediaMetrics>,
    /// By (session, source peer).
    streams: HashMap<(u64, u64), Stream>,
}

/// How long after its slot a stream's checker is kept (a relay's last packets come late).
const KEEP_MS: u64 = 5_000;

impl Attest {
    pub(crate) fn new(provenance: Provenance, metrics: Arc<MediaMetrics>) -> Self {
        Self {
            provenance,
            metrics,
            streams: HashMap::new(),
        }
    }

    /// Checks one packet `from` sent in `session`, heard as `speaker`'s in `slot`; whether it
    /// is forwarded under `policy`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn check(
        &mut self,
        from: u64,
        role: PeerRole,
        session: u64,
        speaker: Address,
        slot: Held,
        payload: &[u8],
        policy: SignedAudio,
    ) -> bool {
        let provenance = &self.provenance;
        let stream = self
            .streams
            .entry((session, from))
            .and_modify(|s| {
                if s.slot_start_ms != slot.start_ms {
                    *s = Stream::new(provenance, session, speaker, slot);
                }
            })
            .or_insert_with(|| Stream::new(provenance, session, speaker, slot));
        let (heard, step) = stream.checker.packet(payload);
        if let Some(c) = &step.ask_wallet {
            self.provenance.wallets.ask(speaker, c);
        }
        count(&self.metrics, step.settled);
        for r in &step.refused {
            self.metrics.provenance_refused[index(*r)].fetch_add(1, Relaxed);
        }
        if let (Heard::Tainted(reason), false) = (heard, stream.told) {
            stream.told = true;
            tracing::warn!(
                session, %speaker, source = role.name(), reason = reason.code(),
                "audio that is not the floor holder's: {reason}"
            );
        }
        let forwarded = match policy {
            SignedAudio::Counted => true,
            SignedAudio::Required => matches!(heard, Heard::Pending | Heard::Signed),
        };
        if !forwarded {
            self.metrics.provenance_withheld.fetch_add(1, Relaxed);
        }
        forwarded
    }

    /// Lets go of the streams of slots long over, settling what they left pending.
    pub(crate) fn expire(&mut self, now_ms: u64) {
        let metrics = &self.metrics;
        self.streams.retain(|_, s| {
            let keep = now_ms < s.slot_end_ms.saturating_add(KEEP_MS);
            if !keep {
                let step = s.checker.finish();
                count(metrics, step.settled);
            }
            keep
        });
    }
}

impl Stream {
    fn new(provenance: &Provenance, session: u64, speaker: Address, slot: Held) -> Self {
        Self {
            slot_start_ms: slot.start_ms,
            slot_end_ms: slot.end_ms,
            checker: provenance.checker(session, speaker, slot),
            told: false,
        }
    }
}

fn count(m: &MediaMetrics, c: Counts) {
    let f = &m.provenance_frames;
    for (i, n) in [c.signed, c.unsigned, c.altered, c.unattested]
        .into_iter()
        .enumerate()
    {
        if n > 0 {
            f[i].fetch_add(n, Relaxed);
        }
    }
}

/// Where a refusal is counted in [`MediaMetrics::provenance_refused`].
pub fn index(r: Refused) -> usize {
    Refused::ALL.iter().position(|x| *x == r).unwrap_or(0)
}
