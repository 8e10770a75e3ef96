//! The Standard Webhooks scheme (www.standardwebhooks.com), which receivers' existing
//! libraries verify: headers `webhook-id`, `webhook-timestamp` and `webhook-signature:
//! v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed by the secret's bytes (the
//! base64 after `whsec_`). The id is the same on every attempt of one message, so a receiver
//! that remembers ids, and refuses timestamps outside its tolerance, refuses replays.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// A new secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("the OS has a random source");
    format!("whsec_{}", STANDARD.encode(key))
}

/// The `webhook-signature` header's value for one attempt; `None` for a malformed secret
/// (the node only signs with secrets it made).
pub fn signature(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> Option<String> {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// A message id for `event_key` sent to `webhook`: the same on every attempt and after a
/// restart, and different for every webhook (so one receiver's ids say nothing of another's).
pub fn message_id(webhook: &str, event_key: &str) -> String {
    let digest = Sha256::digest(format!("{webhook}\n{event_key}").as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

/// The wait before retry `n` (1-based) under `schedule` (seconds), or `None` when the
/// attempts are spent.
pub fn retry_after(schedule: &[u64], n: u32) -> Option<Duration> {
    let i = usize::try_from(n).ok()?.checked_sub(1)?;
    schedule.get(i).map(|s| Duration::from_secs(*s))
}

/// How an attempt ended, as the retry rule sees it.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: done.
    Delivered,
    /// Network error, timeout, 5xx, 408 or 429: try again later.
    Retry,
    /// Any other answer (a 4xx: the receiver refuses it): retrying would not help.
    GiveUp,
}

/// The rule for an answer's status (`None`: no answer at all).
pub fn judge(status: Option<u16>) -> Outcome {
    match status {
        Some(200..=299) => Outcome::Delivered,
        None | Some(408 | 429 | 500..=599) => Outcome::Retry,
        Some(_) => Outcome::GiveUp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's published vector (also in the Svix and Standard Webhooks
    /// reference libraries' tests): reproducing it is what says their verifiers accept ours.
    #[test]
    fn the_standard_webhooks_test_vector() {
        assert_eq!(
            signature(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#,
            )
            .as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn a_new_secret_signs_and_another_does_not_verify() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_") && a.len() > 40);
        let s = signature(&a, "msg_1", 1, b"{}").unwrap();
        assert_ne!(Some(s.clone()), signature(&b, "msg_1", 1, b"{}"));
        assert_ne!(
            Some(s),
            signature(&a, "msg_1", 2, b"{}"),
            "the timestamp is signed"
        );
        assert_eq!(signature("whsec_!!!", "m", 1, b""), None);
    }

    #[test]
    fn message_ids_are_stable_and_per_webhook() {
        assert_eq!(message_id("w1", "e"), message_id("w1", "e"));
        assert_ne!(message_id("w1", "e"), message_id("w2", "e"));
        assert_eq!(message_id("w1", "e").len(), 4 + 32);
    }

    #[test]
    fn retries_follow_the_schedule_then_stop() {
        let s = crate::alerts::WebhooksConfig::default().retry_secs;
        let waits: Vec<u64> = (1..=7)
            .map_while(|n| retry_after(&s, n))
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(waits, [5, 30, 120, 600, 3600, 14_400]);
        assert_eq!(retry_after(&s, 0), None);
        assert_eq!(retry_after(&[], 1), None);
    }

    #[test]
    fn what_is_retried() {
        assert_eq!(judge(Some(204)), Outcome::Delivered);
        assert_eq!(judge(None), Outcome::Retry);
        assert_eq!(judge(Some(500)), Outcome::Retry);
        assert_eq!(judge(Some(503)), Outcome::Retry);
        assert_eq!(judge(Some(429)), Outcome::Retry);
        assert_eq!(judge(Some(410)), Outcome::GiveUp);
        assert_eq!(judge(Some(400)), Outcome::GiveUp);
        assert_eq!(judge(Some(301)), Outcome::GiveUp);
    }
}
