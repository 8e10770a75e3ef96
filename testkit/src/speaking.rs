//! Signed audio, as a speaker's client makes it: a fresh speaking key certified by one of
//! anvil's accounts for a session's occurrence (see `assembly_provenance::carrier`).

use alloy::signers::local::PrivateKeySigner;
use assembly_provenance::carrier::{Certificate, Signer};
use assembly_provenance::k256::ecdsa::SigningKey;
use assembly_provenance::{domain, SpeakingKey};

use crate::chain::TestChain;

/// A signer for account `i`'s speech in `occurrence` of `session`, its key good for an hour.
pub fn signer(chain: &TestChain, i: usize, session: u64, occurrence: u32) -> Signer {
    let wallet = SigningKey::from(chain.anvil.keys()[i].clone());
    certified_by(chain, &wallet, session, occurrence)
}

/// A signer whose key `wallet` certified (the holder's, or a stranger's).
pub fn certified_by(
    chain: &TestChain,
    wallet: &SigningKey,
    session: u64,
    occurrence: u32,
) -> Signer {
    let key = PrivateKeySigner::random();
    let body = SpeakingKey {
        session: alloy::primitives::U256::from(session),
        occurrence,
        key: key.address(),
        notAfter: crate::clock::now() + 3600,
    };
    let domain = domain(chain.deployment.chain_id, chain.deployment.assembly);
    let certificate = Certificate::sign(body, wallet, &domain);
    Signer::new(certificate, key.credential().clone()).expect("a session id within 64 bits")
}
