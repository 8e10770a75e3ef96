//! Node tokens: how one node of the cluster proves to another that a request is its own.
//! No secret is shared between operators; a node signs with its node key, and the receiver
//! checks the signer against the registry it indexes.
//!
//! A token is `base64url(claims JSON) "." hex(signature)`, the signature an EIP-191
//! `personal_sign` of the claims' bytes, so any Ethereum tool can check one. The claims name
//! the signing key, the one node the token is for (`aud`, its public URL), what it is for,
//! a short life and a nonce; the receiver accepts each nonce once. A token is therefore
//! good for one request to one node for one purpose, within two minutes of its making.

use std::collections::HashMap;
use std::time::Duration;

use alloy::primitives::{Address, Signature};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// The longest a token may live.
pub const MAX_LIFE: Duration = Duration::from_secs(120);
/// How far a signer's clock may run ahead of ours.
const SKEW_S: u64 = 30;
/// The largest token accepted, in bytes.
const MAX_TOKEN: usize = 2048;

/// What a node token says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// The signing node key.
    pub key: Address,
    /// The node it is for: its public URL.
    pub aud: String,
    /// What it is for: `relay` (pushing the program of `session`) or `live` (reactions and
    /// listener counts).
    pub purpose: String,
    /// The session, for a relay.
    pub session: Option<u64>,
    /// Made at, seconds since the epoch.
    pub iat: u64,
    /// Good until, seconds since the epoch.
    pub exp: u64,
    /// Random, accepted once.
    pub nonce: String,
}

/// Why a node token was refused; each has a stable code, logged and counted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token's shape, or its claims do not parse.
    #[error("not a node token")]
    Malformed,
    /// The signature is not the named key's.
    #[error("the signature is not the named key's")]
    BadSignature,
    /// Made out to another node.
    #[error("made out to another node")]
    WrongAudience,
    /// For something else than what it is presented for.
    #[error("made out for another purpose or session")]
    WrongPurpose,
    /// Expired, not yet valid, or too long-lived.
    #[error("outside its time")]
    Expired,
    /// Its nonce was seen already.
    #[error("replayed")]
    Replayed,
    /// The key is no member node's (unregistered, rotated away, or its operator is no
    /// member now).
    #[error("the signing key is no member node's")]
    NotAMember,
}

impl TokenError {
    /// Its stable code, in the error body and the metric's label.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed",
            TokenError::BadSignature => "bad_signature",
            TokenError::WrongAudience => "wrong_audience",
            TokenError::WrongPurpose => "wrong_purpose",
            TokenError::Expired => "expired",
            TokenError::Replayed => "replayed",
            TokenError::NotAMember => "not_a_member",
        }
    }
}

/// Signs `claims` with `key`.
pub fn mint(key: &PrivateKeySigner, claims: &Claims) -> String {
    let body = serde_json::to_vec(claims).unwrap_or_default();
    // A local key signs any message; there is no failure to report but a broken signer.
    let signature = key
        .sign_message_sync(&body)
        .map(|s| alloy::hex::encode(s.as_bytes()))
        .unwrap_or_default();
    format!("{}.{signature}", URL_SAFE_NO_PAD.encode(&body))
}

/// A relay token for `session` from `key` to the node at `aud`, made at `now_s`.
pub fn relay(key: &PrivateKeySigner, aud: &str, session: u64, now_s: u64) -> String {
    make(key, aud, "relay", Some(session), now_s)
}

/// A token from `key` to the node at `aud` for `purpose` (and `session`), made at `now_s`,
/// good for a minute.
pub fn make(
    key: &PrivateKeySigner,
    aud: &str,
    purpose: &str,
    session: Option<u64>,
    now_s: u64,
) -> String {
    let mut nonce = [0u8; 16];
    // Without randomness the nonce repeats, and the receiver refuses the repeat: a refusal,
    // never a token that could be replayed.
    let _ = getrandom::fill(&mut nonce);
    mint(
        key,
        &Claims {
            key: key.address(),
            aud: aud.to_string(),
            purpose: purpose.into(),
            session,
            iat: now_s,
            exp: now_s + 60,
            nonce: alloy::hex::encode(nonce),
        },
    )
}

/// The nonces seen, until their tokens expire.
#[derive(Default)]
pub struct Seen(Mutex<HashMap<String, u64>>);

impl Seen {
    /// Records `nonce` (good until `exp`); false if it was seen already.
    fn first(&self, nonce: &str, exp: u64, now_s: u64) -> bool {
        let mut seen = self.0.lock();
        if seen.len() > 10_000 {
            seen.retain(|_, e| *e >= now_s);
        }
        seen.insert(nonce.to_string(), exp).is_none()
    }
}

/// Checks `token`'s shape, signature, audience, purpose and time, and takes its nonce;
/// returns its claims. Whether the key is a member's is the caller's to ask (it needs the
/// registry): [`crate::cluster::Cluster::admit_relay`].
pub fn check(
    token: &str,
    me: &str,
    purpose: &str,
    session: Option<u64>,
    now_s: u64,
    seen: &Seen,
) -> Result<Claims, TokenError> {
    if token.len() > MAX_TOKEN {
        return Err(TokenError::Malformed);
    }
    let (body, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let body = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&body).map_err(|_| TokenError::Malformed)?;
    let signature = alloy::hex::decode(signature)
        .ok()
        .and_then(|b| Signature::try_from(b.as_slice()).ok())
        .ok_or(TokenError::Malformed)?;
    let signer = signature
        .recover_address_from_msg(&body)
        .map_err(|_| TokenError::BadSignature)?;
    if signer != claims.key {
        return Err(TokenError::BadSignature);
    }
    if claims.aud.trim_end_matches('/') != me.trim_end_matches('/') {
        return Err(TokenError::WrongAudience);
    }
    if claims.purpose != purpose || claims.session != session {
        return Err(TokenError::WrongPurpose);
    }
    if claims.exp < now_s
        || claims.iat > now_s + SKEW_S
        || claims.exp.saturating_sub(claims.iat) > MAX_LIFE.as_secs()
    {
        return Err(TokenError::Expired);
    }
    if !seen.first(&claims.nonce, claims.exp, now_s) {
        return Err(TokenError::Replayed);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "http://127.0.0.1:9000";

    #[test]
    fn a_token_is_good_once_for_its_node_purpose_and_time() {
        let key = PrivateKeySigner::random();
        let seen = Seen::default();
        let t = relay(&key, ME, 5, 1_000);
        let claims = check(&t, &format!("{ME}/"), "relay", Some(5), 1_010, &seen).unwrap();
        assert_eq!(claims.key, key.address());
        assert_eq!(
            check(&t, ME, "relay", Some(5), 1_010, &seen),
            Err(TokenError::Replayed)
        );
        let fresh = || relay(&key, ME, 5, 1_000);
        let s = Seen::default();
        assert_eq!(
            check(&fresh(), "http://other:9000", "relay", Some(5), 1_010, &s),
            Err(TokenError::WrongAudience)
        );
        assert_eq!(
            check(&fresh(), ME, "relay", Some(6), 1_010, &s),
            Err(TokenError::WrongPurpose)
        );
        assert_eq!(
            check(&fresh(), ME, "relay", Some(5), 1_061, &s),
            Err(TokenError::Expired)
        );
        assert_eq!(
            check(&fresh(), ME, "relay", Some(5), 900, &s),
            Err(TokenError::Expired),
            "made in the future"
        );
    }

    #[test]
    fn forged_and_garbled_tokens_are_refused() {
        let key = PrivateKeySigner::random();
        let other = PrivateKeySigner::random();
        let s = Seen::default();
        // Claims naming `key`, signed by `other`.
        let mut claims = Claims {
            key: key.address(),
            aud: ME.into(),
            purpose: "relay".into(),
            session: Some(5),
            iat: 1_000,
            exp: 1_060,
            nonce: "n1".into(),
        };
        let forged = mint(&other, &claims);
        assert_eq!(
            check(&forged, ME, "relay", Some(5), 1_010, &s),
            Err(TokenError::BadSignature)
        );
        // A genuine token whose claims were changed after signing.
        let genuine = mint(&key, &claims);
        let (_, sig) = genuine.split_once('.').unwrap();
        claims.session = Some(6);
        let altered = format!(
            "{}.{sig}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
        );
        assert_eq!(
            check(&altered, ME, "relay", Some(6), 1_010, &s),
            Err(TokenError::BadSignature)
        );
        // Too long-lived.
        claims.exp = claims.iat + MAX_LIFE.as_secs() + 1;
        claims.nonce = "n2".into();
        assert_eq!(
            check(&mint(&key, &claims), ME, "relay", Some(6), 1_010, &s),
            Err(TokenError::Expired)
        );
        for garbage in ["", "abc", "a.b", &"x".repeat(MAX_TOKEN + 1)] {
            assert_eq!(
                check(garbage, ME, "relay", Some(5), 1_010, &s),
                Err(TokenError::Malformed),
                "{garbage:.20}"
            );
        }
    }
}
