//! The wall clock the rule is judged against. Slots are dated in seconds since the epoch on
//! chain; the media path judges each packet in milliseconds; the load generator stamps
//! frames in microseconds. One clock for all of them, so no two parts of a node disagree
//! about the instant a slot ends. A clock before 1970 reads as 0 rather than failing: the
//! floor is then simply not held.

use std::time::{SystemTime, UNIX_EPOCH};

fn since_epoch() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Seconds since the epoch, now.
pub fn now_s() -> u64 {
    since_epoch().as_secs()
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    since_epoch().as_millis() as u64
}

/// Microseconds since the epoch, now.
pub fn now_us() -> u64 {
    since_epoch().as_micros() as u64
}
