//! Who someone is: single-use nonces, SIWE verification (EOA signatures by recovery, smart
//! contract wallets by EIP-1271 against the chain), and session tokens.
//!
//! **Nonces are stateless until spent.** A nonce is its issue time, random bytes and a MAC
//! under the node's secret, so issuing one stores nothing and costs O(1): no flood of nonce
//! requests can push anyone else's nonce out. A sign-in attempt spends its nonce whatever
//! its outcome, and spent nonces are remembered (O(1) each) until they would have expired.
//!
//! **Session tokens** are self-contained, so a node that restarts keeps everyone signed in.
//! A node with a node key signs them with it — `address.expiry.end.session.key.signature`, an
//! EIP-191 signature of everything before it — and accepts those of the cluster's other
//! members too ([`Auth::trust`], kept current from the registry): signed in on one member is
//! signed in on every member, with no secret shared between operators, and a member whose
//! key is rotated away or deregistered has its tokens refused everywhere. Without a node key
//! a token is `address.expiry.end.session.hmac` under the node's secret. A token lives
//! `token_ttl` (an hour by default) and is renewed while in use, never past the sign-in's
//! `end`. Signing out revokes the session: its id is kept, on disk, until its `end`, and told
//! to the other members ([`Auth::signed_out`]), which revoke it too. The same token travels as
//! an HTTP-only cookie for browsers and as a bearer token for other clients. A role is never
//! in the token: it is read from chain state on use, so an orchestrator who leaves the
//! active set stops being one at once.

use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

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

/// Whether the contract wallet at `wallet` vouches for `signature` of `hash` (EIP-1271):
/// `Ok(false)` for a wallet that says no or reverts, or an address with no code; `Err` when
/// the chain could not be asked.
pub async fn contract_vouches(
    provider: &DynProvider,
    wallet: Address,
    hash: alloy::primitives::B256,
    signature: Bytes,
) -> Result<bool, String> {
    match IERC1271::new(wallet, provider.clone())
        .isValidSignature(hash, signature)
        .call()
        .await
    {
        Ok(magic) => Ok(magic == FixedBytes(ERC1271_MAGIC)),
        Err(alloy::contract::Error::TransportError(e)) if !e.is_error_resp() => Err(e.to_string()),
        // A wallet that reverts is refusing the signature.
        Err(_) => Ok(false),
    }
}

/// Whether `signature` of `hash` is `signer`'s: their key's (`ecrecover` of a 65-byte
/// signature), or else their contract wallet's (EIP-1271, asked only then). `Err` when the
/// chain could not be asked.
pub async fn signed_by(
    provider: &DynProvider,
    signer: Address,
    hash: alloy::primitives::B256,
    signature: &Bytes,
) -> Result<bool, String> {
    let by_key = Signature::try_from(signature.as_ref())
        .ok()
        .and_then(|s| s.recover_address_from_prehash(&hash).ok());
    if by_key == Some(signer) {
        return Ok(true);
    }
    contract_vouches(provider, signer, hash, signature.clone()).await
}

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
    /// A session token is malformed, its HMAC is wrong, it has expired, or its session was
    /// signed out.
    #[error("session token is invalid or expired")]
    BadToken,
    /// Too many sign-ins are under way to remember every spent nonce: refused rather than
    /// risk accepting one twice (5xx).
    #[error("too many sign-ins at once; try again shortly")]
    Busy,
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
    /// The longest a sign-in lasts, however often its token is renewed.
    pub session_ttl: Duration,
    /// How long one token lasts; renewed while in use.
    pub token_ttl: Duration,
    /// The HMAC key for nonces and session tokens.
    pub secret: Vec<u8>,
    /// Where signed-out sessions are kept across restarts; None: in memory only.
    pub revocations: Option<PathBuf>,
}

/// Nonces and tokens.
pub struct Auth {
    config: AuthConfig,
    spent: Mutex<Spent>,
    revoked: Mutex<HashMap<u64, u64>>,
    provider: DynProvider,
    /// The key this node signs its tokens with, if it has one.
    node_key: Option<alloy::signers::local::PrivateKeySigner>,
    /// The other members' node keys, whose tokens this node accepts.
    trusted: parking_lot::RwLock<HashSet<Address>>,
    /// Sessions signed out here (id, end), for the other members.
    signed_out: tokio::sync::broadcast::Sender<(u64, u64)>,
}

/// Nonces used, each until it would have expired anyway.
#[derive(Default)]
struct Spent {
    set: HashSet<[u8; NONCE_BODY]>,
    /// In the order spent, with when each may be forgotten.
    order: VecDeque<(u64, [u8; NONCE_BODY])>,
}

/// A signed-in person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    /// The signed-in account.
    pub address: Address,
    /// When this token ends, seconds since the epoch (renewable until `session_end`).
    pub expires_at: u64,
    /// When the sign-in ends whatever renewals: its length, cut at the message's own expiry.
    pub session_end: u64,
    /// The sign-in's id: what signing out revokes.
    pub session: u64,
}

/// Spent nonces remembered at most: past it, sign-ins wait rather than forget one early.
const MAX_SPENT: usize = 1_000_000;
/// A nonce's issue time (8 bytes) and random bytes (8), then 12 bytes of MAC.
const NONCE_BODY: usize = 16;
const NONCE_MAC: usize = 12;

impl Auth {
    /// Sign-in with `config`, asking the chain through `provider` about contract wallets.
    /// Signed-out sessions still current are read back from `config.revocations`.
    pub fn new(config: AuthConfig, provider: DynProvider) -> Self {
        let revoked = config
            .revocations
            .as_ref()
            .map(|p| load_revocations(p, now_s()))
            .unwrap_or_default();
        Self {
            config,
            spent: Mutex::new(Spent::default()),
            revoked: Mutex::new(revoked),
            provider,
            node_key: None,
            trusted: Default::default(),
            signed_out: tokio::sync::broadcast::channel(256).0,
        }
    }

    /// Signs tokens with `key` from now on (a node of a cluster; see the module's docs).
    pub fn with_node_key(mut self, key: alloy::signers::local::PrivateKeySigner) -> Self {
        self.node_key = Some(key);
        self
    }

    /// Accepts the tokens of the nodes whose keys are `keys` (the other members now), and no
    /// others'.
    pub fn trust(&self, keys: HashSet<Address>) {
        *self.trusted.write() = keys;
    }

    /// Sessions signed out on this node, as they are: for the other members.
    pub fn signed_out(&self) -> tokio::sync::broadcast::Receiver<(u64, u64)> {
        self.signed_out.subscribe()
    }

    /// The policy this was made with.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    fn keyed(&self, purpose: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.config.secret).expect("HMAC takes any key length");
        // Each use of the secret signs its own kind of text: a nonce is never a token.
        mac.update(purpose);
        mac
    }

    /// A fresh single-use nonce. Nothing is stored until it is spent.
    pub fn nonce(&self) -> String {
        let mut body = [0u8; NONCE_BODY];
        body[..8].copy_from_slice(&now_s().to_be_bytes());
        getrandom::fill(&mut body[8..]).expect("the OS has a random source");
        let mut mac = self.keyed(b"nonce.");
        mac.update(&body);
        let tag = mac.finalize().into_bytes();
        let mut out = body.to_vec();
        out.extend_from_slice(&tag[..NONCE_MAC]);
        alloy::hex::encode(out)
    }

    /// Spends a nonce: Ok if this node issued it, it has not expired and was never spent.
    fn spend(&self, nonce: &str, now: u64) -> Result<(), AuthError> {
        let raw = alloy::hex::decode(nonce).map_err(|_| AuthError::Nonce)?;
        if raw.len() != NONCE_BODY + NONCE_MAC {
            return Err(AuthError::Nonce);
        }
        let (body, tag) = raw.split_at(NONCE_BODY);
        let mut mac = self.keyed(b"nonce.");
        mac.update(body);
        mac.verify_truncated_left(tag)
            .map_err(|_| AuthError::Nonce)?;
        let issued = u64::from_be_bytes(body[..8].try_into().map_err(|_| AuthError::Nonce)?);
        let forget_at = issued.saturating_add(self.config.nonce_ttl.as_secs());
        if now >= forget_at || issued > now.saturating_add(60) {
            return Err(AuthError::Nonce);
        }
        let body: [u8; NONCE_BODY] = body.try_into().map_err(|_| AuthError::Nonce)?;
        let mut spent = self.spent.lock();
        while let Some(&(at, key)) = spent.order.front() {
            if at > now {
                break;
            }
            spent.order.pop_front();
            spent.set.remove(&key);
        }
        if spent.set.contains(&body) {
            return Err(AuthError::Nonce);
        }
        if spent.set.len() >= MAX_SPENT {
            return Err(AuthError::Busy);
        }
        spent.set.insert(body);
        spent.order.push_back((forget_at, body));
        Ok(())
    }

    /// Verifies a signed SIWE message and returns a session token.
    pub async fn sign_in(
        &self,
        message: &str,
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, Identity), AuthError> {
        let msg = SiweMessage::parse(message)?;
        // Spent by any attempt, whatever is wrong with the rest: a captured message is good
        // at most once, and a refused one cannot be retried with its nonce.
        self.spend(&msg.nonce, now.timestamp().max(0) as u64)?;
        let age = chrono::Duration::from_std(self.config.max_message_age)
            .unwrap_or(chrono::Duration::minutes(10));
        msg.check(
            &self.config.domain,
            &self.config.uri_prefix,
            self.config.chain_id,
            now,
            age,
        )?;
        let sig: Bytes = signature
            .parse()
            .map_err(|_| AuthError::MalformedSignature)?;
        self.verify(&msg, message, &sig).await?;
        let now = now.timestamp().max(0) as u64;
        let end = now + self.config.session_ttl.as_secs();
        let session_end = msg
            .expiration_time
            .map_or(end, |t| end.min(t.timestamp().max(0) as u64));
        let mut session = [0u8; 8];
        getrandom::fill(&mut session).expect("the OS has a random source");
        let identity = Identity {
            address: msg.address,
            expires_at: (now + self.config.token_ttl.as_secs()).min(session_end),
            session_end,
            session: u64::from_be_bytes(session),
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
        match contract_vouches(&self.provider, msg.address, hash, sig.clone()).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(AuthError::WrongSigner(msg.address)),
            Err(e) => Err(AuthError::Chain(e)),
        }
    }

    /// The token for an identity.
    pub fn token(&self, id: &Identity) -> String {
        let payload = format!(
            "{}.{}.{}.{:016x}",
            id.address.to_checksum(None),
            id.expires_at,
            id.session_end,
            id.session
        );
        if let Some(key) = &self.node_key {
            use alloy::signers::SignerSync;
            let payload = format!("{payload}.{}", key.address().to_checksum(None));
            // A local key signs any message; only a broken signer fails, and then the token
            // is one no node accepts.
            let signature = key
                .sign_message_sync(payload.as_bytes())
                .map(|s| alloy::hex::encode(s.as_bytes()))
                .unwrap_or_default();
            return format!("{payload}.{signature}");
        }
        let mut mac = self.keyed(b"token.");
        mac.update(payload.as_bytes());
        format!(
            "{payload}.{}",
            alloy::hex::encode(mac.finalize().into_bytes())
        )
    }

    /// Whether `payload` (with its signing key as its last part) carries `proof` from a key
    /// this node accepts: its own, or a member's.
    fn proven(&self, payload: &str, proof: &str) -> Result<(), AuthError> {
        let given = alloy::hex::decode(proof).map_err(|_| AuthError::BadToken)?;
        if given.len() != 65 {
            // The HMAC form: this node's own secret.
            let mut m = self.keyed(b"token.");
            m.update(payload.as_bytes());
            // Constant-time comparison: the MAC is the secret's witness.
            return m.verify_slice(&given).map_err(|_| AuthError::BadToken);
        }
        let (_, key) = payload.rsplit_once('.').ok_or(AuthError::BadToken)?;
        let key: Address = key.parse().map_err(|_| AuthError::BadToken)?;
        let own = self.node_key.as_ref().map(|k| k.address());
        if Some(key) != own && !self.trusted.read().contains(&key) {
            return Err(AuthError::BadToken);
        }
        let signer = Signature::try_from(given.as_slice())
            .ok()
            .and_then(|s| s.recover_address_from_msg(payload.as_bytes()).ok())
            .ok_or(AuthError::BadToken)?;
        if signer != key {
            return Err(AuthError::BadToken);
        }
        Ok(())
    }

    /// The identity a token proves, if it is genuine, unexpired at `now` and not signed out.
    pub fn identify(&self, token: &str, now: u64) -> Result<Identity, AuthError> {
        let (payload, proof) = token.rsplit_once('.').ok_or(AuthError::BadToken)?;
        self.proven(payload, proof)?;
        let mut parts = payload.split('.');
        let mut next = || parts.next().ok_or(AuthError::BadToken);
        let address: Address = next()?.parse().map_err(|_| AuthError::BadToken)?;
        let expires_at: u64 = next()?.parse().map_err(|_| AuthError::BadToken)?;
        let session_end: u64 = next()?.parse().map_err(|_| AuthError::BadToken)?;
        let session = u64::from_str_radix(next()?, 16).map_err(|_| AuthError::BadToken)?;
        if now >= expires_at || now >= session_end || self.revoked.lock().contains_key(&session) {
            return Err(AuthError::BadToken);
        }
        Ok(Identity {
            address,
            expires_at,
            session_end,
            session,
        })
    }

    /// A new token for a session in use: another `token_ttl`, never past its end.
    pub fn renew(&self, id: &Identity, now: u64) -> (String, Identity) {
        let renewed = Identity {
            expires_at: (now + self.config.token_ttl.as_secs()).min(id.session_end),
            ..*id
        };
        (self.token(&renewed), renewed)
    }

    /// Signs a session out: its tokens are refused from now on, here across restarts, and
    /// on the other members once they are told.
    pub fn revoke(&self, id: &Identity, now: u64) {
        if self.revoke_session(id.session, id.session_end, now) {
            let _ = self.signed_out.send((id.session, id.session_end));
        }
    }

    /// A session another member signed out (ending at `end`): refused here too.
    pub fn revoke_told(&self, session: u64, end: u64, now: u64) {
        // Bounded by the longest sign-in: a member cannot make this node remember forever.
        let end = end.min(now + self.config.session_ttl.as_secs());
        self.revoke_session(session, end, now);
    }

    /// Records `session` as signed out until `end`; false if it already was.
    fn revoke_session(&self, session: u64, end: u64, now: u64) -> bool {
        let mut revoked = self.revoked.lock();
        revoked.retain(|_, e| *e > now);
        if revoked.insert(session, end).is_some() {
            return false;
        }
        if let Some(path) = &self.config.revocations {
            let line = format!("{session:016x} {end}\n");
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(line.as_bytes()));
            if let Err(e) = written {
                tracing::error!(path = %path.display(), error = %e, "could not record a sign-out: it holds until this node restarts");
            }
        }
        true
    }
}

fn now_s() -> u64 {
    assembly_floor::clock::now_s()
}

/// The sessions signed out and not yet ended; the file is rewritten with only those.
fn load_revocations(path: &std::path::Path, now: u64) -> HashMap<u64, u64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let current: HashMap<u64, u64> = text
        .lines()
        .filter_map(|l| {
            let (id, end) = l.split_once(' ')?;
            Some((u64::from_str_radix(id, 16).ok()?, end.trim().parse().ok()?))
        })
        .filter(|(_, end)| *end > now)
        .collect();
    let kept: String = current
        .iter()
        .map(|(id, end)| format!("{id:016x} {end}\n"))
        .collect();
    if let Err(e) = std::fs::write(path, kept) {
        tracing::warn!(path = %path.display(), error = %e, "could not compact the sign-out list");
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::providers::{Provider, ProviderBuilder};

    fn auth() -> Auth {
        auth_with(None)
    }

    fn auth_with(revocations: Option<PathBuf>) -> Auth {
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
                token_ttl: Duration::from_secs(600),
                secret: vec![9; 32],
                revocations,
            },
            provider,
        )
    }

    #[test]
    fn node_signed_tokens_hold_on_every_member_and_no_other_node() {
        use alloy::signers::local::PrivateKeySigner;
        let (key_a, key_b) = (PrivateKeySigner::random(), PrivateKeySigner::random());
        let a = auth().with_node_key(key_a.clone());
        let b = auth_with(None).with_node_key(key_b.clone());
        let id = Identity {
            address: Address::repeat_byte(0xab),
            expires_at: 1_000,
            session_end: 5_000,
            session: 7,
        };
        let token = a.token(&id);
        assert_eq!(a.identify(&token, 10).unwrap(), id, "its own");
        assert!(
            b.identify(&token, 10).is_err(),
            "not a member of b's cluster"
        );
        b.trust([key_a.address()].into());
        assert_eq!(b.identify(&token, 10).unwrap(), id, "a member's");
        // Claims changed after signing, or signed by a key other than the one named.
        let extended = token.replace(".1000.", ".9999.");
        assert!(b.identify(&extended, 10).is_err(), "extended expiry");
        let impostor = auth_with(None).with_node_key(PrivateKeySigner::random());
        let theirs = impostor.token(&id);
        let (payload, sig) = theirs.rsplit_once('.').unwrap();
        let (claims, _) = payload.rsplit_once('.').unwrap();
        let renamed = format!("{claims}.{}.{sig}", key_a.address().to_checksum(None));
        assert!(b.identify(&renamed, 10).is_err(), "signed by another key");
        // A member rotated away, or a sign-out told by a member: refused.
        b.trust(HashSet::new());
        assert!(b.identify(&token, 10).is_err(), "no longer a member");
        b.trust([key_a.address()].into());
        let mut told = a.signed_out();
        a.revoke(&id, 10);
        let (session, end) = told.try_recv().unwrap();
        assert!(a.identify(&token, 11).is_err());
        b.revoke_told(session, end, 11);
        assert!(b.identify(&token, 11).is_err(), "signed out everywhere");
    }

    #[test]
    fn tokens_prove_identity_and_nothing_else() {
        let a = auth();
        let id = Identity {
            address: Address::repeat_byte(0xab),
            expires_at: 1_000,
            session_end: 5_000,
            session: 42,
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
        // A nonce is not a token, though both are MACs under the same secret.
        assert!(a.identify(&a.nonce(), 1).is_err());
    }

    #[test]
    fn renewal_stops_at_the_sessions_end() {
        let a = auth();
        let id = Identity {
            address: Address::repeat_byte(1),
            expires_at: 1_000,
            session_end: 1_300,
            session: 7,
        };
        let (token, renewed) = a.renew(&id, 900);
        assert_eq!(renewed.expires_at, 1_300, "cut at the end, not 900 + 600");
        assert!(a.identify(&token, 1_299).is_ok());
        assert!(a.identify(&token, 1_300).is_err());
    }

    #[test]
    fn signing_out_revokes_every_token_of_the_session_across_restarts() {
        let dir = std::env::temp_dir().join(format!("assembly-auth-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join("revoked");
        let _ = std::fs::remove_file(&file);
        let a = auth_with(Some(file.clone()));
        // The file is read against the real clock, so the session must not have ended by it.
        let t = now_s();
        let id = Identity {
            address: Address::repeat_byte(2),
            expires_at: t + 2_000,
            session_end: t + 5_000,
            session: 99,
        };
        let (renewed, _) = a.renew(&id, t + 1_500);
        let other = Identity { session: 100, ..id };
        a.revoke(&id, t);
        assert!(a.identify(&a.token(&id), t + 1).is_err());
        assert!(a.identify(&renewed, t + 1).is_err(), "a renewal of it too");
        assert!(
            a.identify(&a.token(&other), t + 1).is_ok(),
            "another sign-in"
        );
        let restarted = auth_with(Some(file.clone()));
        assert!(
            restarted.identify(&a.token(&id), t + 1).is_err(),
            "after a restart"
        );
        assert!(restarted.identify(&a.token(&other), t + 1).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn nonces_are_single_use_and_cannot_be_forged() {
        let a = auth();
        let now = now_s();
        let n = a.nonce();
        assert!(
            n.chars().all(|c| c.is_ascii_alphanumeric()) && n.len() >= 8,
            "EIP-4361 nonce syntax"
        );
        assert!(a.spend(&n, now).is_ok());
        assert!(a.spend(&n, now).is_err(), "spent");
        assert!(a.spend("never-issued", now).is_err());
        let mut forged = alloy::hex::decode(a.nonce()).unwrap();
        forged[9] ^= 1;
        assert!(a.spend(&alloy::hex::encode(forged), now).is_err(), "MAC");
        let old = a.nonce();
        assert!(a.spend(&old, now + 600).is_err(), "expired");
    }

    #[test]
    fn issuing_nonces_stores_nothing() {
        let a = auth();
        let victim = a.nonce();
        for _ in 0..200_000 {
            let _ = a.nonce();
        }
        assert!(a.spend(&victim, now_s()).is_ok(), "a flood evicts no one");
        assert_eq!(a.spent.lock().set.len(), 1);
    }
}
