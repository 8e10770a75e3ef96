//! Pins the one change Assembly makes to str0m's DTLS crate (`vendor/dimpl`, see its
//! `PATCHES.md`): a client's CertificateVerify signed with an RSA key verifies, as DTLS 1.2
//! allows and as GStreamer's `webrtcbin` (which can make no other kind of certificate) sends
//! it. Upstream dimpl 0.9 refuses RSA, so these fail if the `[patch]` is ever dropped. The
//! certificate and signature were made by the OpenSSL command line (`openssl req -x509
//! -newkey rsa:2048`, `openssl dgst -sha256 -sign`), not by the code under test.

use dimpl::crypto::aws_lc_rs::default_provider;
use dimpl::crypto::{HashAlgorithm, SignatureAlgorithm};

const CERT: &[u8] = include_bytes!("data/rsa-cert.der");
const SIGNED: &[u8] = include_bytes!("data/rsa-signed.bin");
const SIGNATURE: &[u8] = include_bytes!("data/rsa-signed.sha256.sig");

fn verify(data: &[u8], signature: &[u8], hash: HashAlgorithm) -> Result<(), String> {
    default_provider()
        .signature_verification
        .verify_signature(CERT, data, signature, hash, SignatureAlgorithm::RSA)
        .map_err(|e| e.to_string())
}

#[test]
fn an_rsa_client_signature_verifies() {
    verify(SIGNED, SIGNATURE, HashAlgorithm::SHA256).expect("RSA PKCS#1 SHA-256 verifies");
}

#[test]
fn a_forged_or_mislabelled_rsa_signature_does_not() {
    let mut altered = SIGNED.to_vec();
    altered[0] ^= 1;
    let e = verify(&altered, SIGNATURE, HashAlgorithm::SHA256).unwrap_err();
    assert!(e.contains("signature verification failed"), "{e}");
    let mut forged = SIGNATURE.to_vec();
    forged[10] ^= 1;
    assert!(verify(SIGNED, &forged, HashAlgorithm::SHA256).is_err());
    // The same bytes claimed as SHA-384: refused, not confused.
    assert!(verify(SIGNED, SIGNATURE, HashAlgorithm::SHA384).is_err());
    // An RSA signature claimed as ECDSA: the key is not an EC key.
    let as_ecdsa = default_provider().signature_verification.verify_signature(
        CERT,
        SIGNED,
        SIGNATURE,
        HashAlgorithm::SHA256,
        SignatureAlgorithm::ECDSA,
    );
    assert!(as_ecdsa.is_err());
}
