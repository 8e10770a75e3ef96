//! A speech signed by [`Signer`] and read by [`Checker`], packet by packet, as a node or
//! `assembly verify` reads it; and each way of spoiling it.

use alloy_primitives::{Address, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use assembly_provenance::carrier::{self, Certificate, Item, Signer};
use assembly_provenance::check::{Checker, Counts, Heard};
use assembly_provenance::{domain, Refused, SpeakingKey, BATCH_FRAMES};

const SESSION: u64 = 4;
const OCCURRENCE: u32 = 2;
const SLOT: (u64, u64) = (1_700_000_000_000, 1_700_000_060_000);
const CHAIN: u64 = 31337;

fn assembly() -> Address {
    Address::repeat_byte(0xA5)
}

fn holder() -> PrivateKeySigner {
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
        .parse()
        .expect("a key")
}

fn speaking_key() -> k256::ecdsa::SigningKey {
    k256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("a key")
}

fn certificate(wallet: &PrivateKeySigner, session: u64, occurrence: u32) -> Certificate {
    let body = SpeakingKey {
        session: U256::from(session),
        occurrence,
        key: Address::from_private_key(&speaking_key()),
        notAfter: SLOT.1 / 1000 + 600,
    };
    let signature = wallet
        .sign_hash_sync(&body.digest(&domain(CHAIN, assembly())))
        .expect("signs");
    Certificate { body, signature }
}

/// Opus-like packets: CELT 20 ms, code 0, `n` bytes of speech each.
fn encoded(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let mut p = vec![0xfc];
            p.extend((0..60).map(|j| (i * 7 + j) as u8));
            p
        })
        .collect()
}

fn signed(cert: Certificate, count: usize) -> Vec<Vec<u8>> {
    let mut s = Signer::new(cert, speaking_key()).expect("a signer");
    encoded(count)
        .iter()
        .enumerate()
        .map(|(i, p)| s.sign(p, SLOT.0 + 20 * i as u64 + 20).expect("signs"))
        .collect()
}

fn checker() -> Checker {
    Checker::new(
        SESSION,
        OCCURRENCE,
        holder().address(),
        SLOT,
        domain(CHAIN, assembly()),
    )
}

fn run(packets: &[Vec<u8>]) -> (Checker, Vec<Heard>, Vec<Refused>) {
    let mut c = checker();
    let mut heard = Vec::new();
    let mut refused = Vec::new();
    for p in packets {
        let (h, step) = c.packet(p);
        heard.push(h);
        refused.extend(step.refused);
    }
    refused.extend(c.finish().refused);
    (c, heard, refused)
}

#[test]
fn the_holders_signed_speech_is_signed_frame_by_frame() {
    let packets = signed(
        certificate(&holder(), SESSION, OCCURRENCE),
        4 * BATCH_FRAMES,
    );
    let (c, heard, refused) = run(&packets);
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(
        c.counts(),
        Counts {
            signed: 100,
            ..Counts::default()
        }
    );
    assert_eq!(heard[0], Heard::Pending);
    assert_eq!(
        heard[BATCH_FRAMES - 1],
        Heard::Signed,
        "the batch rides on it"
    );
    // Padding on the first frame (certificate) and on each batch's last; the rest untouched.
    let plain = encoded(4 * BATCH_FRAMES);
    let carried: Vec<usize> = (0..packets.len())
        .filter(|&i| packets[i] != plain[i])
        .collect();
    assert_eq!(carried, vec![0, 24, 49, 74, 99]);
}

#[test]
fn one_bit_flipped_in_one_frame_by_a_relay_is_caught() {
    let mut packets = signed(
        certificate(&holder(), SESSION, OCCURRENCE),
        2 * BATCH_FRAMES,
    );
    packets[30][10] ^= 0x01;
    let (c, heard, refused) = run(&packets);
    assert_eq!(refused, vec![Refused::Altered]);
    assert_eq!(c.tainted(), Some(Refused::Altered));
    assert_eq!(c.counts().altered, 1);
    assert_eq!(c.counts().signed, 49);
    assert_eq!(heard[29], Heard::Pending);
    assert_eq!(heard[49], Heard::Tainted(Refused::Altered));
}

#[test]
fn a_lost_batch_leaves_its_frames_unattested_and_nothing_tainted() {
    let mut packets = signed(
        certificate(&holder(), SESSION, OCCURRENCE),
        3 * BATCH_FRAMES,
    );
    packets.remove(49); // the second batch's carrier
    let (c, _, refused) = run(&packets);
    assert!(refused.is_empty());
    assert_eq!(c.tainted(), None);
    assert_eq!(c.counts().unattested, 24);
    assert_eq!(c.counts().signed, 50);
}

#[test]
fn frames_reordered_across_a_batch_still_check_out() {
    let mut packets = signed(
        certificate(&holder(), SESSION, OCCURRENCE),
        2 * BATCH_FRAMES,
    );
    packets.swap(24, 25);
    let (c, _, refused) = run(&packets);
    assert!(refused.is_empty());
    assert_eq!(c.counts().signed, 50);
}

#[test]
fn a_key_certified_by_someone_else_leaves_the_speech_unsigned() {
    let stranger = PrivateKeySigner::random();
    let packets = signed(certificate(&stranger, SESSION, OCCURRENCE), BATCH_FRAMES);
    let (c, heard, refused) = run(&packets);
    assert_eq!(refused, vec![Refused::NotTheHolders]);
    assert!(heard.iter().all(|h| *h == Heard::Unsigned));
    assert_eq!(c.counts().unsigned, 25);
}

#[test]
fn a_key_certified_for_another_session_leaves_the_speech_unsigned() {
    let packets = signed(
        certificate(&holder(), SESSION + 1, OCCURRENCE),
        BATCH_FRAMES,
    );
    let (_, _, refused) = run(&packets);
    assert_eq!(refused, vec![Refused::OtherSession]);
}

#[test]
fn a_speech_replayed_into_a_later_slot_is_refused() {
    let packets = signed(certificate(&holder(), SESSION, OCCURRENCE), BATCH_FRAMES);
    let mut c = Checker::new(
        SESSION,
        OCCURRENCE,
        holder().address(),
        (SLOT.1 + 10_000, SLOT.1 + 70_000),
        domain(CHAIN, assembly()),
    );
    let refused: Vec<Refused> = packets.iter().flat_map(|p| c.packet(p).1.refused).collect();
    assert_eq!(refused, vec![Refused::OutsideSlot]);
}

#[test]
fn a_batch_signed_by_another_key_is_refused() {
    let mut packets = signed(certificate(&holder(), SESSION, OCCURRENCE), BATCH_FRAMES);
    let other = k256::ecdsa::SigningKey::from_slice(&[9u8; 32]).expect("a key");
    let cert = certificate(&holder(), SESSION, OCCURRENCE);
    let mut forger = Signer::new(cert, other).expect("a signer");
    let plain = encoded(BATCH_FRAMES);
    for (i, p) in plain.iter().enumerate() {
        let forged = forger.sign(p, SLOT.0 + 20 * i as u64 + 20).expect("signs");
        if i == BATCH_FRAMES - 1 {
            packets[i] = forged;
        }
    }
    let (c, _, refused) = run(&packets);
    assert_eq!(refused.first(), Some(&Refused::WrongKey));
    assert_eq!(c.counts().signed, 0);
}

#[test]
fn padding_that_claims_to_be_ours_and_is_not_taints_the_stream() {
    let plain = encoded(1);
    let p = assembly_provenance::packet::Packet::parse(&plain[0]).expect("parses");
    let mut bad = carrier::MAGIC.to_vec();
    bad.extend([2, 0, 0]);
    let (_, heard, _) = run(&[p.with_padding(&bad)]);
    assert_eq!(heard, vec![Heard::Tainted(Refused::Altered)]);
}

#[test]
fn items_read_back_as_written() {
    let packets = signed(certificate(&holder(), SESSION, OCCURRENCE), BATCH_FRAMES);
    let (_, items) = carrier::read(&packets[BATCH_FRAMES - 1]).expect("reads");
    let Some(Item::Batch(b)) = items.first() else {
        panic!("a batch: {items:?}");
    };
    assert_eq!(carrier::decode(&carrier::encode(&items)), Ok(items.clone()));
    assert_eq!((b.first, b.tags.len()), (0, BATCH_FRAMES));
    assert_eq!(b.signer(), Ok(Address::from_private_key(&speaking_key())));
}

/// A correction of a speech's transcript, signed by the holder's wallet: what the browser's
/// typed data must hash to, and a signature it must recover from.
fn correction_vector() -> serde_json::Value {
    use assembly_provenance::correction::TranscriptCorrection;
    let c = TranscriptCorrection {
        session: U256::from(SESSION),
        occurrence: OCCURRENCE,
        slotStart: SLOT.0 / 1000,
        audio: alloy_primitives::B256::repeat_byte(0x5e),
        revision: 1,
        text: "We should fund the monitoring work — “in full”.".into(),
    };
    let digest = c.digest(&domain(CHAIN, assembly()));
    let signature = holder().sign_hash_sync(&digest).expect("signs");
    assert_eq!(
        c.signer(&domain(CHAIN, assembly()), &signature),
        Some(holder().address())
    );
    serde_json::json!({
        "session": SESSION,
        "occurrence": OCCURRENCE,
        "slotStart": c.slotStart,
        "audio": c.audio,
        "revision": c.revision,
        "text": c.text,
        "digest": digest,
        "signature": alloy_primitives::hex::encode_prefixed(signature.as_bytes()),
        "transcriptDigest": c.transcript_digest(),
    })
}

/// The vectors every other signer (the browser's, the Python peer's) must reproduce byte for
/// byte: `provenance/tests/vectors.json`, written from this crate (`UPDATE_VECTORS=1`).
#[test]
fn vectors_are_what_this_crate_writes() {
    let cert = certificate(&holder(), SESSION, OCCURRENCE);
    let plain = encoded(BATCH_FRAMES + 1);
    let out = signed(cert.clone(), BATCH_FRAMES + 1);
    let hex = |b: &[u8]| alloy_primitives::hex::encode_prefixed(b);
    let packets: Vec<serde_json::Value> = plain
        .iter()
        .zip(&out)
        .enumerate()
        .map(|(i, (p, o))| {
            serde_json::json!({"at_ms": SLOT.0 + 20 * i as u64 + 20, "in": hex(p), "out": hex(o)})
        })
        .collect();
    let v = serde_json::json!({
        "about": "Written by provenance/tests/stream.rs (UPDATE_VECTORS=1 cargo test -p assembly-provenance --test stream); any signer of Assembly speech must reproduce every `out` from `in`.",
        "chainId": CHAIN,
        "assembly": assembly(),
        "session": SESSION,
        "occurrence": OCCURRENCE,
        "notAfter": cert.body.notAfter,
        "holder": holder().address(),
        "speakingKey": hex(&speaking_key().to_bytes()),
        "speakingKeyAddress": cert.body.key,
        "certificateDigest": cert.body.digest(&domain(CHAIN, assembly())),
        "certificateSignature": hex(&cert.signature.as_bytes()),
        "attestationDigest": cert.digest(),
        "packets": packets,
        "correction": correction_vector(),
    });
    let text = serde_json::to_string_pretty(&v).expect("json") + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors.json");
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        std::fs::write(path, &text).expect("writes the vectors");
    }
    assert_eq!(
        std::fs::read_to_string(path).unwrap_or_default(),
        text,
        "the vectors are stale: UPDATE_VECTORS=1 cargo test -p assembly-provenance --test stream"
    );
}

#[test]
fn a_flush_attests_the_last_frames() {
    let cert = certificate(&holder(), SESSION, OCCURRENCE);
    let mut s = Signer::new(cert, speaking_key()).expect("a signer");
    let mut packets: Vec<Vec<u8>> = encoded(BATCH_FRAMES + 7)
        .iter()
        .enumerate()
        .map(|(i, p)| s.sign(p, SLOT.0 + 20 * i as u64 + 20).expect("signs"))
        .collect();
    packets.push(s.flush(SLOT.0 + 700).expect("a batch for the last 7"));
    assert_eq!(s.flush(SLOT.0 + 720), None, "nothing left to attest");
    let (c, _, refused) = run(&packets);
    assert!(refused.is_empty());
    assert_eq!(
        c.counts(),
        Counts {
            signed: BATCH_FRAMES as u64 + 8,
            ..Counts::default()
        }
    );
}

#[test]
fn a_restated_certificate_lets_a_new_connection_check_at_once() {
    let plain = encoded(70);
    let connection = |restate: bool| {
        let cert = certificate(&holder(), SESSION, OCCURRENCE);
        let mut s = Signer::new(cert, speaking_key()).expect("a signer");
        let mut second = checker();
        for (i, p) in plain.iter().enumerate() {
            // The client reconnects after 30 frames: a new connection, a new checker.
            if i == 30 && restate {
                s.restate();
            }
            let out = s.sign(p, SLOT.0 + 20 * i as u64 + 20).expect("signs");
            if i >= 30 {
                second.packet(&out);
            }
        }
        second.finish();
        second.counts()
    };
    let restated = connection(true);
    assert_eq!(restated.unsigned, 0, "{restated:?}");
    assert_eq!(
        restated.signed, 20,
        "frames 30 to 49, the rest of the batch in flight"
    );
    assert_eq!(
        connection(false).unsigned,
        40,
        "without: unsigned until the next repeat"
    );
}
