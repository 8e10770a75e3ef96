//! What a speech's attestations showed: the speaker-signed audio checks
//! ([`assembly_provenance::check::Checker`]) run over the packets as they are recorded, and
//! the verdict stored with the speech, so that a listener reads "signed by 0x… (certified by
//! the speaker)" or "unsigned", and the record anchored on chain names the certificate.
//!
//! The recorder checks each packet as it writes it: a Keccak-256 per frame and two
//! `ecrecover`s a second, beside the file write. A speech closed without a verdict (left
//! open by a crash, or recorded before the checks existed) is checked again from its file,
//! which holds the same packets: the verdict is a function of the recording alone (and,
//! for a contract wallet's certificate, of the wallet's answer, asked then), the same on
//! every node whose recording has the same digest.

use std::path::Path;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256};
use assembly_media::attest::Provenance as Checking;
use assembly_media::gate::Held;
use assembly_provenance::carrier::Certificate;
use assembly_provenance::check::{Checker, Counts};
use serde::Serialize;

use super::ogg;

/// The checks' findings for one speech, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// Frames by verdict.
    pub counts: Counts,
    /// The speaking key the holder certified (of the latest certificate), if any.
    pub key: Option<Address>,
    /// The first forgery or alteration found: a stable code of
    /// [`assembly_provenance::Refused`].
    pub tainted: Option<&'static str>,
    /// The certificate's digest (the record leaf's `attestationDigest`); zero for none.
    pub attestation_digest: B256,
}

/// The checker of one speech by `holder` in `session`'s `occurrence`, in the slot
/// `slot_s` (seconds, as the archive keeps it: the live recorder and a re-check from the
/// file use the same bounds, so they reach the same verdict).
pub fn checker(
    session: u64,
    occurrence: u32,
    holder: Address,
    slot_s: (u64, u64),
    provenance: &Checking,
) -> Checker {
    let ms = |s: u64| s.saturating_mul(1000);
    let slot = Held {
        occurrence,
        start_ms: ms(slot_s.0),
        end_ms: ms(slot_s.1),
    };
    provenance.checker(session, holder, slot)
}

impl Checked {
    /// What `checker` found once its stream has ended (frames still pending are settled).
    pub fn of(checker: &mut Checker) -> Self {
        checker.finish();
        let certificate = checker.certificate();
        Self {
            counts: checker.counts(),
            key: certificate.map(|c| c.body.key),
            tainted: checker.tainted().map(|r| r.code()),
            attestation_digest: certificate.map(|c| c.digest()).unwrap_or_default(),
        }
    }

    /// Checks the recording at `path` with `checker` (made by [`checker`]).
    pub fn of_file(path: &Path, checker: Checker) -> Result<Self, ogg::OggError> {
        Ok(Self::reading(path, checker)?.0)
    }

    /// Checks the recording at `path` with `checker`, and returns the first certificate
    /// that was not the holder's key's (one their contract wallet may vouch for).
    fn reading(
        path: &Path,
        mut checker: Checker,
    ) -> Result<(Self, Option<Certificate>), ogg::OggError> {
        let mut ask = None;
        for packet in ogg::read_packets(path)? {
            let (_, step) = checker.packet(&packet);
            if ask.is_none() {
                ask = step.ask_wallet;
            }
        }
        Ok((Self::of(&mut checker), ask))
    }

    /// Checks the recording at `path` as the recorder would have, with no live path to
    /// have asked the holder's contract wallet first: a certificate not the holder's key's
    /// is asked of it (`provenance.wallets`), and once it has answered (within `wait`) the
    /// file is read again with `fresh`, so a contract wallet's speech a crash left
    /// unchecked reads as signed, as it would have.
    pub fn of_file_asking(
        path: &Path,
        first: Checker,
        fresh: impl FnOnce() -> Checker,
        holder: Address,
        provenance: &Checking,
        wait: Duration,
    ) -> Result<Self, ogg::OggError> {
        let (found, ask) = Self::reading(path, first)?;
        let Some(certificate) = ask else {
            return Ok(found);
        };
        provenance.wallets.ask(holder, &certificate);
        let digest = certificate.digest();
        let until = Instant::now() + wait;
        while !provenance.wallets.vouched(&digest) {
            if Instant::now() >= until {
                return Ok(found);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Self::of_file(path, fresh())
    }
}

/// How a speech stands, for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ProvenanceVerdict)]
pub enum Verdict {
    /// Still being recorded, or not checked yet.
    Pending,
    /// Its speaker's wallet certified a speaking key and that key signed the audio:
    /// nothing forged or altered was found (frames after a lost batch are counted
    /// `unattested`).
    Signed,
    /// No certificate by the slot's holder came with it.
    Unsigned,
    /// It carried a forgery or an alteration (`refused` says which first).
    Tainted,
}

/// Frames of a speech by what their attestations showed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ProvenanceFrames)]
pub struct Frames {
    /// Vouched for by a batch the holder's certified key signed.
    pub signed: u64,
    /// Before any certificate by the holder.
    pub unsigned: u64,
    /// Matching no signed tag though every batch around them arrived.
    pub altered: u64,
    /// Matching no signed tag, with a batch lost around them.
    pub unattested: u64,
}

/// Whether a speech is provably its speaker's, as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Provenance {
    /// The verdict.
    pub verdict: Verdict,
    /// Frames by verdict; null while pending.
    pub frames: Option<Frames>,
    /// The speaking key that signed the audio (EIP-55), which the speaker's wallet
    /// certified; null when unsigned.
    pub speaking_key: Option<String>,
    /// Why the speech is tainted: the first refusal's stable code (`altered`,
    /// `wrong_key`, `replayed`, ...); null otherwise.
    pub refused: Option<String>,
    /// keccak256 of the speaker's certificate as the audio carries it (0x-hex): the record
    /// leaf's `attestationDigest`; all zeros for an unsigned speech, null while pending.
    pub attestation_digest: Option<String>,
}

/// The speeches columns [`provenance`] reads, in order.
pub const COLUMNS: &str = "open, checked, frames_signed, frames_unsigned, frames_altered, frames_unattested, speaking_key, refused, attestation_digest";

/// The columns [`COLUMNS`] names, with their types, for a database from before them.
pub(crate) const ADDED: [(&str, &str); 8] = [
    ("checked", "INTEGER NOT NULL DEFAULT 0"),
    ("frames_signed", "INTEGER"),
    ("frames_unsigned", "INTEGER"),
    ("frames_altered", "INTEGER"),
    ("frames_unattested", "INTEGER"),
    ("speaking_key", "TEXT"),
    ("refused", "TEXT"),
    ("attestation_digest", "TEXT"),
];

/// The [`Provenance`] in a row whose columns from `at` are [`COLUMNS`].
pub fn provenance(r: &rusqlite::Row, at: usize) -> rusqlite::Result<Provenance> {
    let open = r.get::<_, i64>(at)? != 0;
    let checked = r.get::<_, i64>(at + 1)? != 0;
    if open || !checked {
        return Ok(Provenance {
            verdict: Verdict::Pending,
            frames: None,
            speaking_key: None,
            refused: None,
            attestation_digest: None,
        });
    }
    let n = |i: usize| -> rusqlite::Result<u64> {
        Ok(r.get::<_, Option<i64>>(at + i)?.unwrap_or(0) as u64)
    };
    let frames = Frames {
        signed: n(2)?,
        unsigned: n(3)?,
        altered: n(4)?,
        unattested: n(5)?,
    };
    let speaking_key: Option<String> = r.get(at + 6)?;
    let refused: Option<String> = r.get(at + 7)?;
    let verdict = match (&refused, &speaking_key) {
        (Some(_), _) => Verdict::Tainted,
        (None, Some(_)) => Verdict::Signed,
        (None, None) => Verdict::Unsigned,
    };
    Ok(Provenance {
        verdict,
        frames: Some(frames),
        speaking_key,
        refused,
        attestation_digest: r.get(at + 8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::U256;
    use assembly_provenance::carrier::{Certificate, Signer};
    use assembly_provenance::k256::ecdsa::SigningKey;
    use assembly_provenance::SpeakingKey;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_slice(&[n; 32]).unwrap()
    }

    /// A signed speech's packets: a wallet certifies a key, the key signs 60 frames.
    /// Checks with no contract wallets.
    fn plain(domain: assembly_provenance::Eip712Domain) -> Checking {
        Checking {
            domain,
            wallets: std::sync::Arc::new(assembly_media::attest::NoContractWallets),
        }
    }

    fn signed_speech(
        wallet: &SigningKey,
        domain: &assembly_provenance::Eip712Domain,
    ) -> Vec<Vec<u8>> {
        let speaking = key(9);
        let body = SpeakingKey {
            session: U256::from(3),
            occurrence: 1,
            key: Address::from_private_key(&speaking),
            notAfter: 2_000_000_100,
        };
        let certificate = Certificate::sign(body, wallet, domain);
        let mut signer = Signer::new(certificate, speaking).unwrap();
        (0..60u8)
            .map(|i| {
                let frame = [0xf8, i, 1, 2, 3, 4, 5, 6];
                signer
                    .sign(&frame, 2_000_000_000_000 + u64::from(i) * 20)
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn a_signed_speech_names_its_key_and_certificate() {
        let domain = assembly_provenance::domain(31337, Address::repeat_byte(1));
        let wallet = key(7);
        let holder = Address::from_private_key(&wallet);
        let packets = signed_speech(&wallet, &domain);
        let slot = (2_000_000_000, 2_000_000_060);
        let mut c = checker(3, 1, holder, slot, &plain(domain.clone()));
        for p in &packets {
            c.packet(p);
        }
        let checked = Checked::of(&mut c);
        assert_eq!(checked.key, Some(Address::from_private_key(&key(9))));
        assert_eq!(checked.tainted, None);
        // Two batches of 25 vouch for 50 frames; the last 10 had no batch yet.
        assert_eq!(checked.counts.signed, 50);
        assert_eq!(checked.counts.unattested, 10);
        assert_ne!(checked.attestation_digest, B256::ZERO);

        // Someone else's speech of the same packets: unsigned, no digest.
        let mut other = checker(3, 1, Address::repeat_byte(5), slot, &plain(domain));
        for p in &packets {
            other.packet(p);
        }
        let other = Checked::of(&mut other);
        assert_eq!((other.key, other.attestation_digest), (None, B256::ZERO));
        assert_eq!(other.counts.unsigned, 60);
    }

    /// A contract wallet that vouches for whatever it is asked about, once asked.
    #[derive(Default)]
    struct Agreeable(parking_lot::Mutex<std::collections::HashSet<B256>>);

    impl assembly_media::attest::WalletCheck for Agreeable {
        fn vouched(&self, certificate: &B256) -> bool {
            self.0.lock().contains(certificate)
        }
        fn ask(&self, _: Address, certificate: &Certificate) {
            self.0.lock().insert(certificate.digest());
        }
    }

    #[test]
    fn a_contract_wallets_speech_checked_from_its_file_asks_the_wallet() {
        let domain = assembly_provenance::domain(31337, Address::repeat_byte(1));
        // The holder is a contract wallet; its owner's key signed the certificate.
        let holder = Address::repeat_byte(0xcc);
        let packets = signed_speech(&key(7), &domain);
        let dir = std::env::temp_dir().join(format!("checked-wallet-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("speech.ogg");
        let mut w = ogg::OggOpusWriter::create(&path, 1, "test").unwrap();
        for p in &packets {
            w.write(p).unwrap();
        }
        w.finish().unwrap();
        let slot = (2_000_000_000, 2_000_000_060);
        let checking = Checking {
            domain: domain.clone(),
            wallets: std::sync::Arc::new(Agreeable::default()),
        };
        let fresh = || checker(3, 1, holder, slot, &checking);
        // Read once, the wallet not yet asked: unsigned.
        assert_eq!(
            Checked::of_file(&path, fresh()).unwrap().counts.unsigned,
            60
        );
        let found = Checked::of_file_asking(
            &path,
            fresh(),
            fresh,
            holder,
            &checking,
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!((found.counts.signed, found.counts.unsigned), (50, 0));
        assert_ne!(found.attestation_digest, B256::ZERO);
        // A wallet that never answers: the verdict without it, after the wait.
        let silent = plain(domain);
        let fresh = || checker(3, 1, holder, slot, &silent);
        let unanswered = Checked::of_file_asking(
            &path,
            fresh(),
            fresh,
            holder,
            &silent,
            Duration::from_millis(200),
        )
        .unwrap();
        assert_eq!(unanswered.counts.unsigned, 60);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
