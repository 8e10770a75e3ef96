use alloy_primitives::{Address, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use proptest::prelude::*;

use super::*;

const SESSION: u64 = 3;
const OCCURRENCE: u32 = 1;
const SLOT: (u64, u64) = (1_000_000, 1_060_000);

fn assembly() -> Eip712Domain {
    domain(42161, Address::repeat_byte(0xA5))
}

fn certificate(
    key: &PrivateKeySigner,
    session: u64,
    occurrence: u32,
    not_after_s: u64,
) -> SpeakingKey {
    SpeakingKey {
        session: U256::from(session),
        occurrence,
        key: key.address(),
        notAfter: not_after_s,
    }
}

/// The holder's wallet certifies `key`; returns the certificate and who signed it.
fn certified(holder: &PrivateKeySigner, key: &PrivateKeySigner) -> (SpeakingKey, Address) {
    let cert = certificate(key, SESSION, OCCURRENCE, SLOT.1 / 1000 + 60);
    let sig = holder.sign_hash_sync(&cert.digest(&assembly())).unwrap();
    let signer = cert.signer(&assembly(), &sig).unwrap();
    (cert, signer)
}

fn frames(from: u8, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| vec![from.wrapping_add(i as u8); 80])
        .collect()
}

fn batch(key: &PrivateKeySigner, first: u64, signed_ms: u64, frames: &[Vec<u8>]) -> Batch {
    let mut b = Batch {
        session: SESSION,
        occurrence: OCCURRENCE,
        first,
        signed_ms,
        tags: frames.iter().map(|f| tag(f)).collect(),
        signature: Signature::test_signature(),
    };
    b.signature = key.sign_hash_sync(&b.digest()).unwrap();
    b
}

/// A holder, their speaking key, and the speech being checked.
fn speech() -> (PrivateKeySigner, PrivateKeySigner, Speech) {
    let (holder, key) = (PrivateKeySigner::random(), PrivateKeySigner::random());
    let (cert, signer) = certified(&holder, &key);
    let s = Speech::new(SESSION, OCCURRENCE, holder.address(), SLOT, &cert, signer).unwrap();
    (holder, key, s)
}

#[test]
fn the_holders_speech_checks_out_frame_by_frame() {
    let (_, key, mut s) = speech();
    let first = frames(0, BATCH_FRAMES);
    let second = frames(100, 10);
    s.batch(&batch(&key, 0, SLOT.0 + 500, &first)).unwrap();
    s.batch(&batch(&key, 25, SLOT.0 + 700, &second)).unwrap();
    for f in first.iter().chain(&second) {
        assert_eq!(s.frame(tag(f)), Ok(()));
    }
    // A frame lost on the way costs only itself: the rest were checked above in any case.
}

#[test]
fn a_frame_altered_by_one_bit_is_caught() {
    let (_, key, mut s) = speech();
    let mut f = frames(0, 5);
    s.batch(&batch(&key, 0, SLOT.0 + 100, &f)).unwrap();
    f[2][40] ^= 1;
    assert_eq!(s.frame(tag(&f[1])), Ok(()));
    assert_eq!(s.frame(tag(&f[2])), Err(Refused::Altered));
}

#[test]
fn a_frame_played_twice_is_vouched_for_once() {
    let (_, key, mut s) = speech();
    let f = frames(0, 3);
    s.batch(&batch(&key, 0, SLOT.0 + 100, &f)).unwrap();
    assert_eq!(s.frame(tag(&f[0])), Ok(()));
    assert_eq!(s.frame(tag(&f[0])), Err(Refused::Altered));
}

#[test]
fn a_batch_signed_by_another_key_is_refused() {
    let (_, _, mut s) = speech();
    let stranger = PrivateKeySigner::random();
    assert_eq!(
        s.batch(&batch(&stranger, 0, SLOT.0 + 100, &frames(0, 3))),
        Err(Refused::WrongKey)
    );
    // A batch whose fields were changed after signing recovers to another key, too.
    let (_, key, mut s) = speech();
    let mut b = batch(&key, 0, SLOT.0 + 100, &frames(0, 3));
    b.tags[0][0] ^= 1;
    assert_eq!(s.batch(&b), Err(Refused::WrongKey));
}

#[test]
fn a_key_certified_by_someone_else_is_refused() {
    let (holder, key, someone) = (
        PrivateKeySigner::random(),
        PrivateKeySigner::random(),
        PrivateKeySigner::random(),
    );
    let (cert, signer) = certified(&someone, &key);
    assert_eq!(
        Speech::new(SESSION, OCCURRENCE, holder.address(), SLOT, &cert, signer).unwrap_err(),
        Refused::NotTheHolders
    );
    // A certificate signed in another domain (another contract or chain) recovers to someone
    // else as well.
    let cert = certificate(&key, SESSION, OCCURRENCE, 2_000);
    let elsewhere = domain(1, Address::repeat_byte(0xA5));
    let sig = holder.sign_hash_sync(&cert.digest(&elsewhere)).unwrap();
    let signer = cert.signer(&assembly(), &sig).unwrap();
    assert_eq!(
        Speech::new(SESSION, OCCURRENCE, holder.address(), SLOT, &cert, signer).unwrap_err(),
        Refused::NotTheHolders
    );
}

#[test]
fn a_key_certified_for_another_session_or_occurrence_is_refused() {
    let (holder, key) = (PrivateKeySigner::random(), PrivateKeySigner::random());
    for (session, occurrence) in [(SESSION + 1, OCCURRENCE), (SESSION, OCCURRENCE + 1)] {
        let cert = certificate(&key, session, occurrence, 2_000);
        let sig = holder.sign_hash_sync(&cert.digest(&assembly())).unwrap();
        let signer = cert.signer(&assembly(), &sig).unwrap();
        assert_eq!(
            Speech::new(SESSION, OCCURRENCE, holder.address(), SLOT, &cert, signer).unwrap_err(),
            Refused::OtherSession
        );
    }
}

#[test]
fn a_batch_signed_after_the_key_expired_is_refused() {
    let (holder, key) = (PrivateKeySigner::random(), PrivateKeySigner::random());
    // Certified until ten seconds into the slot.
    let cert = certificate(&key, SESSION, OCCURRENCE, SLOT.0 / 1000 + 10);
    let sig = holder.sign_hash_sync(&cert.digest(&assembly())).unwrap();
    let signer = cert.signer(&assembly(), &sig).unwrap();
    let mut s = Speech::new(SESSION, OCCURRENCE, holder.address(), SLOT, &cert, signer).unwrap();
    s.batch(&batch(&key, 0, SLOT.0 + 10_000, &frames(0, 2)))
        .unwrap();
    assert_eq!(
        s.batch(&batch(&key, 2, SLOT.0 + 10_001, &frames(2, 2))),
        Err(Refused::Expired)
    );
}

#[test]
fn a_replayed_or_earlier_batch_is_refused() {
    let (_, key, mut s) = speech();
    let b = batch(&key, 0, SLOT.0 + 100, &frames(0, 25));
    s.batch(&b).unwrap();
    assert_eq!(s.batch(&b), Err(Refused::Replayed));
    assert_eq!(
        s.batch(&batch(&key, 24, SLOT.0 + 600, &frames(24, 5))),
        Err(Refused::Replayed),
        "overlapping the batch taken"
    );
    assert_eq!(
        s.batch(&batch(&key, 25, SLOT.0 + 600, &frames(25, 5))),
        Ok(())
    );
}

#[test]
fn a_batch_from_outside_the_slot_or_another_occurrence_is_refused() {
    let (_, key, mut s) = speech();
    // Signed before the slot (an earlier slot's audio, replayed into this one).
    assert_eq!(
        s.batch(&batch(&key, 0, SLOT.0 - 1, &frames(0, 2))),
        Err(Refused::OutsideSlot)
    );
    assert_eq!(
        s.batch(&batch(&key, 0, SLOT.1 + 1_001, &frames(0, 2))),
        Err(Refused::OutsideSlot)
    );
    let mut other = batch(&key, 0, SLOT.0 + 100, &frames(0, 2));
    other.occurrence += 1;
    other.signature = key.sign_hash_sync(&other.digest()).unwrap();
    assert_eq!(s.batch(&other), Err(Refused::OtherBatch));
}

#[test]
fn a_batch_longer_than_a_batch_may_be_is_refused() {
    let (_, key, mut s) = speech();
    assert_eq!(
        s.batch(&batch(&key, 0, SLOT.0 + 100, &frames(0, BATCH_FRAMES + 1))),
        Err(Refused::TooLong)
    );
}

#[test]
fn refusal_codes_are_distinct() {
    let all = [
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
    let codes: std::collections::HashSet<_> = all.iter().map(Refused::code).collect();
    assert_eq!(codes.len(), all.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any change to a signed frame, anywhere in it, is caught; the untouched frame passes.
    #[test]
    fn any_change_to_a_frame_is_caught(payload in proptest::collection::vec(any::<u8>(), 1..400), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let (_, key, mut s) = speech();
        s.batch(&batch(&key, 0, SLOT.0 + 100, std::slice::from_ref(&payload))).unwrap();
        let mut altered = payload.clone();
        let i = at.index(altered.len());
        altered[i] ^= flip;
        prop_assert_eq!(s.frame(tag(&altered)), Err(Refused::Altered));
        prop_assert_eq!(s.frame(tag(&payload)), Ok(()));
    }
}
