//! Contract wallets' say-so on speaking keys (EIP-1271), for the live path and the recorder.
//!
//! A holder whose wallet is a contract (a multisig) certifies a speaking key with whatever
//! signature its wallet accepts, which recovers to no useful address; only the wallet's
//! `isValidSignature` can say. The live path never waits on the chain, so a certificate it
//! cannot take is asked about here, once, and the answer kept: the certificate is taken when
//! the speaker's client next carries it (every four seconds). A failed call is forgotten so
//! that the next carry asks again; a wallet's "no" is kept.

use std::collections::HashSet;
use std::sync::Arc;

use alloy::primitives::{Address, B256};
use alloy::providers::DynProvider;
use assembly_media::attest::WalletCheck;
use assembly_provenance::carrier::Certificate;
use assembly_provenance::Eip712Domain;
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;

/// At most this many certificates are asked about (a bound on what a flood of forged ones
/// costs: one call each, once).
const ASKED_MAX: usize = 10_000;

/// What this node has learned of contract wallets' certificates.
pub struct ContractWallets {
    vouched: RwLock<HashSet<B256>>,
    asked: Mutex<HashSet<B256>>,
    tx: mpsc::UnboundedSender<(Address, Certificate)>,
}

impl ContractWallets {
    /// Starts asking, through `provider`, about certificates signed in `domain`.
    pub fn start(provider: DynProvider, domain: Eip712Domain) -> Arc<Self> {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Address, Certificate)>();
        let me = Arc::new(Self {
            vouched: RwLock::default(),
            asked: Mutex::default(),
            tx,
        });
        let weak = Arc::downgrade(&me);
        tokio::spawn(async move {
            while let Some((holder, c)) = rx.recv().await {
                let hash = c.body.digest(&domain);
                let signature = c.signature.as_bytes().to_vec().into();
                let answer =
                    crate::auth::contract_vouches(&provider, holder, hash, signature).await;
                let Some(me) = weak.upgrade() else { return };
                match answer {
                    Ok(true) => {
                        tracing::info!(%holder, key = %c.body.key, "a contract wallet certified a speaking key");
                        me.vouched.write().insert(c.digest());
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(%holder, error = %e, "asking a contract wallet about a speaking key");
                        me.asked.lock().remove(&c.digest());
                    }
                }
            }
        });
        me
    }
}

impl WalletCheck for ContractWallets {
    fn vouched(&self, certificate: &B256) -> bool {
        self.vouched.read().contains(certificate)
    }

    fn ask(&self, holder: Address, certificate: &Certificate) {
        let mut asked = self.asked.lock();
        if asked.len() < ASKED_MAX && asked.insert(certificate.digest()) {
            let _ = self.tx.send((holder, certificate.clone()));
        }
    }
}
