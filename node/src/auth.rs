//! Who someone is: single-use nonces, SIWE verification (EOA signatures by recovery, smart
//! contract wallets by EIP-1271 against the chain), and session tokens.
//!
//! Session tokens are self-contained — `address.expiry.hmac` under the node's secret — so a
//! node that restarts keeps everyone signed in, and several nodes sharing a secret accept
//! each other's sessions. The same token travels as an HTTP-only cookie for browsers and as
//! a bearer token for other clients. A role is never in the token: it is read from chain
//! state on use, so an orchestrator who leaves the active set stops being one at once.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, FixedBytes, Signature};
use alloy::providers::DynProvider;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::siwe::{SiweError, SiweMessage};

alloy::sol! {
    #[sol(rpc)]
    interface IERC1271 {
        function isValidSignature(bytes32 hash, bytes signature) external view returns (bytes4 magicValue);
    }
}

/// EIP-1271's "valid" answer.
const ERC1271_MAGIC: [u8; 4] = [0x16, 0x26, 0xba, 0x7e];

/// Sign-in failures; all but `Chain` are the client's fault (4xx).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The SIWE message does not parse or fails its checks.
    #[error(transparent)]
    Message(#[from] SiweError),
    /// The message's nonce was never issued, has expired, or was already used.
    #[error("unknown or already used nonce")]
    Nonce,
    /// The signature is not hex, or, from an account with no code, not 65 bytes.
    #[error("signature is malformed")]
    MalformedSignature,
    /// The signature recovers to another account than the message's; the message's address.
    #[error("signature is not {0}'s")]
    WrongSigner(Address),
    /// Asking a contract wallet about its signature (EIP-1271) failed; the RPC's message. Not the client's fault (5xx).
    #[error("could not check the contract wallet's signature: {0}")]
    Chain(String),
    /// A session token is malformed, its HMAC is wrong, or it has expired.
    #[error("session token is invalid or expired")]
    BadToken,
}

/// The node's sign-in policy.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// What SIWE messages must name (the host the browser shows).
    pub domain: String,
    /// The prefix their URI must have.
    pub uri_prefix: String,
    /// The EIP-155 chain messages must name, the deployment's.
    pub chain_id: u64,
    /// How long after issue a message may be used.
    pub max_message_age: Duration,
    /// How long a nonce waits to be used.
    pub nonce_ttl: Duration,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// The HMAC key for session tokens.
    pub secret: Vec<u8>,
}

/// Nonces and tokens.
pub struct Auth {
    config: AuthConfig,
    nonces: Mutex<HashMap<String, Instant>>,
    provider: DynProvider,
}

/// A signed-in person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    /// The signed-in account.
    pub address: Address,
    /// When the sign-in ends, seconds since the epoch: the session's length, cut at the message's own expiry.
    pub expires_at: u64,
}

/// Bounds memory if someone asks for nonces without end; old ones expire first.
const MAX_NONCES: usize = 100_000;

impl Auth {
    /// Sign-in with `config`, asking the chain through `provider` about contract wallets.
    pub fn new(config: AuthConfig, provider: DynProvider) -> Self {
        Self {
            config,
            nonces: Mutex::new(HashMap::new()),
            provider,
        }
    }

    /// The policy this was made with.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// A fresh single-use nonce.
    pub fn nonce(&self) -> String {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the OS has a random source");
        let nonce = alloy::hex::encode(bytes);
        let mut nonces = self.nonces.lock();
        let now = Instant::now();
        if nonces.len() >= MAX_NONCES {
            nonces.retain(|_, issued| now.duration_since(*issued) < self.config.nonce_ttl);
            if nonces.len() >= MAX_NONCES {
                if let Some(oldest) = nonces
                    .iter()
                    .min_by_key(|(_, t)| **t)
                    .map(|(k, _)| k.clone())
                {
                    nonces.remove(&oldest);
                }
            }
        }
        nonces.insert(nonce.clone(), now);
        nonce
    }

    /// Spends a nonce: true if it was issued here, unused and unexpired.
    fn spend(&self, nonce: &str) -> bool {
        let mut nonces = self.nonces.lock();
        nonces
            .remove(nonce)
            .is_some_and(|issued| issued.elapsed() < self.config.nonce_ttl)
    }

    /// Verifies a signed SIWE message and returns a session token.
    pub async fn sign_in(
        &self,
        message: &str,
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, Identity), AuthError> {
        let msg = SiweMessage::parse(message)?;
        let age = chrono::Duration::from_std(self.config.max_message_age)
            .unwrap_or(chrono::Duration::minutes(10));
        msg.check(
            &self.config.domain,
            &self.config.uri_prefix,
            self.config.chain_id,
            now,
            age,
        )?;
        // The nonce is spent whatever happens next, so a captured message is good once.
        if !self.spend(&msg.nonce) {
            return Err(AuthError::Nonce);
        }
        let sig: Bytes = signature
            .parse()
            .map_err(|_| AuthError::MalformedSignature)?;
        self.verify(&msg, message, &sig).await?;
        let expires_at = (now.timestamp() as u64) + self.config.session_ttl.as_secs();
        let expires_at = msg
            .expiration_time
            .map_or(expires_at, |t| expires_at.min(t.timestamp() as u64));
        let identity = Identity {
            address: msg.address,
            expires_at,
        };
        Ok((self.token(&identity), identity))
    }

    async fn verify(&self, msg: &SiweMessage, text: &str, sig: &Bytes) -> Result<(), AuthError> {
        if sig.len() == 65 {
            if let Ok(s) = Signature::try_from(sig.as_ref()) {
                if s.recover_address_from_msg(text).ok() == Some(msg.address) {
                    return Ok(());
                }
            }
        }
        // Not the key's signature: maybe the address is a contract wallet (a multisig).
        let code = alloy::providers::Provider::get_code_at(&self.provider, msg.address)
            .await
            .map_err(|e| AuthError::Chain(e.to_string()))?;
        if code.is_empty() {
            return if sig.len() == 65 {
                Err(AuthError::WrongSigner(msg.address))
            } else {
                Err(AuthError::MalformedSignature)
            };
        }
        let hash = alloy::primitives::eip191_hash_message(text);
        let wallet = IERC1271::new(msg.address, self.provider.clone());
        match wallet.isValidSignature(hash, sig.clone()).call().await {
            Ok(magic) if magic == FixedBytes(ERC1271_MAGIC) => Ok(()),
            Ok(_) => Err(AuthError::WrongSigner(msg.address)),
            // A wallet that reverts is refusing the signature.
            Err(alloy::contract::Error::TransportError(e)) if !e.is_error_resp() => {
                Err(AuthError::Chain(e.to_string()))
            }
            Err(_) => Err(AuthError::WrongSigner(msg.address)),
        }
    }

    fn mac(&self, payload: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.config.secret).expect("HMAC takes any key length");
        mac.update(payload.as_bytes());
        alloy::hex::encode(mac.finalize().into_bytes())
    }

    /// The token for an identity.
    pub fn token(&self, id: &Identity) -> String {
        let payload = format!("{}.{}", id.address.to_checksum(None), id.expires_at);
        format!("{payload}.{}", self.mac(&payload))
    }

    /// The identity a token proves, if it is genuine and unexpired at `now`.
    pub fn identify(&self, token: &str, now: u64) -> Result<Identity, AuthError> {
        let (payload, mac) = token.rsplit_once('.').ok_or(AuthError::BadToken)?;
        let given = alloy::hex::decode(mac).map_err(|_| AuthError::BadToken)?;
        // Constant-time comparison: the MAC is the secret's witness.
        let mut m =
            Hmac::<Sha256>::new_from_slice(&self.config.secret).expect("HMAC takes any key length");
        m.update(payload.as_bytes());
        m.verify_slice(&given).map_err(|_| AuthError::BadToken)?;
        let (address, expiry) = payload.split_once('.').ok_or(AuthError::BadToken)?;
        let address: Address = address.parse().map_err(|_| AuthError::BadToken)?;
        let expires_at: u64 = expiry.parse().map_err(|_| AuthError::BadToken)?;
        if now >= expires_at {
            return Err(AuthError::BadToken);
        }
        Ok(Identity {
            address,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::providers::{Provider, ProviderBuilder};

    fn auth() -> Auth {
        // Never contacted: tokens need no chain.
        let provider = ProviderBuilder::new()
            .connect_http("http://127.0.0.1:9".parse().unwrap())
            .erased();
        Auth::new(
            AuthConfig {
                domain: "a".into(),
                uri_prefix: "http://a".into(),
                chain_id: 1,
                max_message_age: Duration::from_secs(600),
                nonce_ttl: Duration::from_secs(600),
                session_ttl: Duration::from_secs(3600),
                secret: vec![9; 32],
            },
            provider,
        )
    }

    #[test]
    fn tokens_prove_identity_and_nothing_else() {
        let a = auth();
        let id = Identity {
            address: Address::repeat_byte(0xab),
            expires_at: 1_000,
        };
        let token = a.token(&id);
        assert_eq!(a.identify(&token, 999).unwrap(), id);
        assert!(
            matches!(a.identify(&token, 1_000), Err(AuthError::BadToken)),
            "expired"
        );
        let other = Identity {
            address: Address::repeat_byte(0xcd),
            ..id
        };
        let forged = format!(
            "{}.{}",
            a.token(&other).rsplit_once('.').unwrap().0,
            token.rsplit_once('.').unwrap().1
        );
        assert!(
            matches!(a.identify(&forged, 1), Err(AuthError::BadToken)),
            "MAC of another payload"
        );
        let extended = token.replace(".1000.", ".9999.");
        assert!(
            matches!(a.identify(&extended, 1), Err(AuthError::BadToken)),
            "extended expiry"
        );
        for junk in ["", ".", "a.b", "a.b.c", "0xab.1.zz", &token.to_uppercase()] {
            assert!(a.identify(junk, 1).is_err(), "{junk}");
        }
    }

    #[test]
    fn nonces_are_single_use() {
        let a = auth();
        let n = a.nonce();
        assert!(a.spend(&n));
        assert!(!a.spend(&n));
        assert!(!a.spend("never-issued"));
    }
}
