//! A speaker's correction of their speech's transcript: EIP-712 typed data their wallet
//! signs, naming the speech by what every node that heard it holds alike (the session, the
//! occurrence, the slot and the recording's SHA-256), the revision it makes, and the
//! corrected text itself, so that the wallet shows the speaker the words they put their
//! name to.
//!
//! The invariant: a transcript revision above 0 is in the record only if the speech's own
//! speaker signed this correction of this speech at this revision. The signature is the
//! whole of its authority, so any node, relay or reader checks it from the bytes alone (an
//! EIP-1271 wallet by asking its contract about [`TranscriptCorrection::digest`]), and a
//! correction carried by a node that lies is refused as readily as one forged outright.
//! Nothing is replaced: revision `n` is a new leaf beside revisions `0..n`.

use alloy_primitives::{Address, Signature, B256};
use alloy_sol_types::{sol, Eip712Domain, SolStruct};

sol! {
    /// What a speaker's wallet signs to correct their speech's transcript: the speech (its
    /// session, occurrence, slot start in unix seconds and the SHA-256 of its recording),
    /// the revision this correction makes (1 for the first) and the corrected text. The
    /// domain is the one speaking keys are certified in ([`crate::domain`]).
    #[derive(Debug, PartialEq, Eq)]
    struct TranscriptCorrection {
        uint256 session;
        uint32 occurrence;
        uint64 slotStart;
        bytes32 audio;
        uint32 revision;
        string text;
    }
}

/// The longest corrected transcript, in bytes of UTF-8: far above what a slot's speech
/// holds (an hour at 160 words a minute is about 55 kB), small enough to bound what one
/// signature makes every node keep.
pub const MAX_TEXT: usize = 64 * 1024;

/// The most corrections one speech takes: each is a leaf every node keeps and anchors.
pub const MAX_REVISION: u32 = 16;

/// Why a correction is refused before anyone's key is asked. The stable codes are what
/// clients see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// Revision 0 is the transcriber's; a correction makes 1 or more.
    #[error("a correction's revision starts at 1 (0 is the original transcript)")]
    RevisionZero,
    /// More revisions than a speech takes.
    #[error("a speech takes at most {MAX_REVISION} corrections")]
    TooManyRevisions,
    /// No words.
    #[error("the corrected text is empty")]
    Empty,
    /// Longer than [`MAX_TEXT`].
    #[error("the corrected text is longer than {MAX_TEXT} bytes")]
    TooLong,
    /// A control character other than a line break or a tab: nothing a transcript says,
    /// and six bytes each once escaped in JSON.
    #[error("the corrected text holds a control character other than a line break or a tab")]
    ControlCharacter,
}

impl Malformed {
    /// The stable code clients see.
    pub fn code(&self) -> &'static str {
        match self {
            Malformed::RevisionZero => "revision_zero",
            Malformed::TooManyRevisions => "too_many_revisions",
            Malformed::Empty => "empty_text",
            Malformed::TooLong => "text_too_long",
            Malformed::ControlCharacter => "control_character",
        }
    }
}

impl TranscriptCorrection {
    /// Checks what needs no key: the revision's range and the text's size.
    pub fn well_formed(&self) -> Result<(), Malformed> {
        if self.revision == 0 {
            return Err(Malformed::RevisionZero);
        }
        if self.revision > MAX_REVISION {
            return Err(Malformed::TooManyRevisions);
        }
        if self.text.trim().is_empty() {
            return Err(Malformed::Empty);
        }
        if self.text.len() > MAX_TEXT {
            return Err(Malformed::TooLong);
        }
        if self
            .text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(Malformed::ControlCharacter);
        }
        Ok(())
    }

    /// What the wallet signs (for an EIP-1271 wallet, the hash its contract is asked about).
    pub fn digest(&self, domain: &Eip712Domain) -> B256 {
        self.eip712_signing_hash(domain)
    }

    /// The account whose key made `signature` over this correction, if it recovers to one.
    /// A contract wallet's signature recovers to no one useful: ask its contract about
    /// [`TranscriptCorrection::digest`] instead.
    pub fn signer(&self, domain: &Eip712Domain, signature: &Signature) -> Option<Address> {
        signature
            .recover_address_from_prehash(&self.digest(domain))
            .ok()
    }

    /// The `transcriptDigest` its leaf carries: SHA-256 of the corrected text.
    pub fn transcript_digest(&self) -> B256 {
        crate::record::transcript_digest(Some(&self.text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::U256;
    use k256::ecdsa::SigningKey;

    fn correction(text: &str) -> TranscriptCorrection {
        TranscriptCorrection {
            session: U256::from(3),
            occurrence: 1,
            slotStart: 2_000_000_000,
            audio: B256::repeat_byte(7),
            revision: 1,
            text: text.into(),
        }
    }

    fn sign(key: &SigningKey, digest: B256) -> Signature {
        let (sig, v) = key.sign_prehash_recoverable(digest.as_slice()).unwrap();
        Signature::from_signature_and_parity(sig, v.is_y_odd())
    }

    #[test]
    fn the_speaker_recovers_and_any_change_breaks_it() {
        let domain = crate::domain(31337, Address::repeat_byte(0xaa));
        let key = SigningKey::from_slice(&[0x42; 32]).unwrap();
        let speaker = Address::from_private_key(&key);
        let c = correction("We should fund the monitoring work.");
        let sig = sign(&key, c.digest(&domain));
        assert_eq!(c.signer(&domain, &sig), Some(speaker));
        // Another speech, revision, text or contract: the same signature names someone else.
        let mut other = c.clone();
        other.audio = B256::repeat_byte(8);
        assert_ne!(other.signer(&domain, &sig), Some(speaker));
        let mut later = c.clone();
        later.revision = 2;
        assert_ne!(later.signer(&domain, &sig), Some(speaker));
        let mut words = c.clone();
        words.text.push('!');
        assert_ne!(words.signer(&domain, &sig), Some(speaker));
        let elsewhere = crate::domain(31337, Address::repeat_byte(0xab));
        assert_ne!(c.signer(&elsewhere, &sig), Some(speaker));
    }

    #[test]
    fn bounds_are_checked_before_any_key() {
        assert_eq!(correction("ok").well_formed(), Ok(()));
        assert_eq!(correction(" \n").well_formed(), Err(Malformed::Empty));
        assert_eq!(
            correction(&"a".repeat(MAX_TEXT + 1)).well_formed(),
            Err(Malformed::TooLong)
        );
        assert_eq!(correction("a\nb\tc\r\n").well_formed(), Ok(()));
        assert_eq!(
            correction("a\u{0}b").well_formed(),
            Err(Malformed::ControlCharacter)
        );
        let mut c = correction("ok");
        c.revision = 0;
        assert_eq!(c.well_formed(), Err(Malformed::RevisionZero));
        c.revision = MAX_REVISION + 1;
        assert_eq!(c.well_formed(), Err(Malformed::TooManyRevisions));
    }
}
