//! What checking a speech costs (`cargo bench -p assembly-provenance --bench verify`): a
//! minute of speech (3,000 frames of 80 bytes, as 32 kbit/s Opus sends, in 120 batches of
//! 25), each batch signed by a certified speaking key; the checks a node makes of it, taken
//! 20 times over. Reports the cost per second of speech, per batch and per frame, and what
//! signing a batch costs a Rust client; then the same as clients and nodes run it, the
//! `Signer` carrying certificate and batches in Opus padding and the `Checker` reading the
//! packets back (`stream_*`). Writes `$CARGO_TARGET_DIR/bench-provenance.json`.

use std::time::Instant;

use alloy_primitives::{Address, Signature, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use assembly_provenance::carrier::{Certificate, Signer};
use assembly_provenance::check::Checker;
use assembly_provenance::{domain, tag, Batch, SpeakingKey, Speech, BATCH_FRAMES};

const SECONDS: u64 = 60;
const ROUNDS: u32 = 20;

fn main() {
    let (holder, key) = (PrivateKeySigner::random(), PrivateKeySigner::random());
    let domain = domain(42161, Address::repeat_byte(0xA5));
    let certificate = SpeakingKey {
        session: U256::from(1),
        occurrence: 0,
        key: key.address(),
        notAfter: 2_000_000_000,
    };
    let signature = holder
        .sign_hash_sync(&certificate.digest(&domain))
        .expect("a local key signs");
    let frames: Vec<Vec<u8>> = (0..SECONDS * 50)
        .map(|n| {
            let mut f = vec![0u8; 80];
            f[..8].copy_from_slice(&n.to_be_bytes());
            f
        })
        .collect();
    let start_ms = 1_700_000_000_000;
    let signing = Instant::now();
    let batches: Vec<Batch> = frames
        .chunks(BATCH_FRAMES)
        .enumerate()
        .map(|(i, chunk)| {
            let mut b = Batch {
                session: 1,
                occurrence: 0,
                first: (i * BATCH_FRAMES) as u64,
                signed_ms: start_ms + 500 * (i as u64 + 1),
                tags: chunk.iter().map(|f| tag(f)).collect(),
                signature: Signature::test_signature(),
            };
            b.signature = key.sign_hash_sync(&b.digest()).expect("a local key signs");
            b
        })
        .collect();
    let sign_us_per_batch = signing.elapsed().as_secs_f64() * 1e6 / batches.len() as f64;

    let checking = Instant::now();
    for _ in 0..ROUNDS {
        let signer = certificate
            .signer(&domain, &signature)
            .expect("the certificate recovers");
        let slot = (start_ms, start_ms + SECONDS * 1000);
        let mut speech = Speech::new(1, 0, holder.address(), slot, &certificate, signer)
            .expect("the holder's certificate");
        for (b, chunk) in batches.iter().zip(frames.chunks(BATCH_FRAMES)) {
            speech.batch(b).expect("the holder's batch");
            for f in chunk {
                speech.frame(tag(f)).expect("the holder's frame");
            }
        }
    }
    let total = checking.elapsed().as_secs_f64();
    let per_speech_second_us = total * 1e6 / (SECONDS as f64 * f64::from(ROUNDS));

    // As the clients and nodes run it: the Signer putting certificate and batches in Opus
    // padding, and the Checker reading the packets (framing, padding, tags, batches).
    let dom = domain.clone();
    let wallet =
        assembly_provenance::k256::ecdsa::SigningKey::from_slice(&[3u8; 32]).expect("a key");
    let speaking =
        assembly_provenance::k256::ecdsa::SigningKey::from_slice(&[5u8; 32]).expect("a key");
    let body = SpeakingKey {
        session: U256::from(1),
        occurrence: 0,
        key: Address::from_private_key(&speaking),
        notAfter: 2_000_000_000,
    };
    let cert = Certificate::sign(body, &wallet, &dom);
    let opus: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| {
            std::iter::once(0xfcu8)
                .chain(f[1..].iter().copied())
                .collect()
        })
        .collect();
    let streaming = Instant::now();
    let mut signer = Signer::new(cert, speaking).expect("a signer");
    let sent: Vec<Vec<u8>> = opus
        .iter()
        .enumerate()
        .map(|(i, p)| {
            signer
                .sign(p, start_ms + 20 * i as u64 + 20)
                .expect("signs")
        })
        .collect();
    let stream_sign_us_per_batch =
        streaming.elapsed().as_secs_f64() * 1e6 / (opus.len() / BATCH_FRAMES) as f64;
    let added: usize =
        sent.iter().map(Vec::len).sum::<usize>() - opus.iter().map(Vec::len).sum::<usize>();
    let reading = Instant::now();
    for _ in 0..ROUNDS {
        let mut c = Checker::new(
            1,
            0,
            Address::from_private_key(&wallet),
            (start_ms, start_ms + SECONDS * 1000),
            dom.clone(),
        );
        for p in &sent {
            c.packet(p);
        }
        assert_eq!(
            c.counts().signed,
            opus.len() as u64,
            "every frame checks out"
        );
    }
    let stream_us_per_speech_second =
        reading.elapsed().as_secs_f64() * 1e6 / (SECONDS as f64 * f64::from(ROUNDS));
    let batch_bytes = 8 + 4 + 8 + 8 + 1 + BATCH_FRAMES * 16 + 65;
    let report = serde_json::json!({
        "speech_seconds": SECONDS * u64::from(ROUNDS),
        "check_us_per_speech_second": (per_speech_second_us * 10.0).round() / 10.0,
        "check_cpu_share_per_speaker": format!("{:.4} %", per_speech_second_us / 1e4),
        "sign_us_per_batch_rust": sign_us_per_batch.round(),
        "batch_bytes": batch_bytes,
        "added_kbit_s": (batch_bytes as f64 * 8.0 * 2.0 / 1000.0 * 10.0).round() / 10.0,
        "stream_check_us_per_speech_second": (stream_us_per_speech_second * 10.0).round() / 10.0,
        "stream_sign_us_per_batch": stream_sign_us_per_batch.round(),
        "stream_added_kbit_s": ((added as f64 * 8.0 / SECONDS as f64 / 1000.0) * 10.0).round() / 10.0,
    });
    println!("{report}");
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let _ = std::fs::write(
        std::path::Path::new(&target).join("bench-provenance.json"),
        serde_json::to_vec_pretty(&report).expect("JSON"),
    );
}
