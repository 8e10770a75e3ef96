//! Schedules written as cron expressions, expanded into what `createSession` stores.
//!
//! Assembly's contract keeps a recurring session as one record — a first start and a
//! period — so the floor stays an O(1) function of time. People think in calendars, so
//! governance tooling accepts a cron expression (the `cron` crate's seven fields: `sec min
//! hour day-of-month month day-of-week year`, in UTC) and turns it into that record. Only
//! expressions that fire at a fixed interval can be represented: "every Thursday at 16:00"
//! (`0 0 16 * * Thu *`) is 604,800 s apart forever; "the first Monday of each month" is not,
//! and is refused rather than approximated.
//!
//! ```text
//! assembly-indexer plan-session '0 0 16 * * Thu *' 3600
//! ```
//! prints the `SessionParams` for `createSession`.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// How many upcoming firings are checked for a fixed interval.
const CHECKED: usize = 64;

/// A recurring schedule in the contract's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Recurrence {
    /// The first occurrence's start (unix seconds).
    pub start: u64,
    /// Seconds between starts.
    pub period: u64,
    /// Each occurrence's length in seconds.
    pub duration: u64,
}

/// Why a cron expression cannot be a session schedule.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecurrenceError {
    /// The `cron` crate rejected the expression; its message.
    #[error("not a cron expression: {0}")]
    Parse(String),
    /// The expression has no firing after the given time.
    #[error("the expression never fires after the given time")]
    NeverFires,
    /// The expression fires only once, which is a one-off session, not a recurrence.
    #[error("the expression fires once; create a one-off session instead")]
    FiresOnce,
    /// Successive firings are not a fixed interval apart.
    #[error("the expression does not fire at a fixed interval ({first} s, then {later} s)")]
    Irregular {
        /// Seconds between the first two firings.
        first: u64,
        /// Seconds between a later pair, which differs.
        later: u64,
    },
    /// Each occurrence would last longer than the interval between starts.
    #[error("occurrences of {duration} s would overlap at {period} s apart")]
    Overlap {
        /// Each occurrence's length asked for, in seconds.
        duration: u64,
        /// Seconds between the expression's firings.
        period: u64,
    },
}

/// The recurrence `expr` describes, from the first firing after `after`, with occurrences
/// lasting `duration` seconds.
pub fn from_cron(
    expr: &str,
    after: DateTime<Utc>,
    duration: u64,
) -> Result<Recurrence, RecurrenceError> {
    let schedule =
        cron::Schedule::from_str(expr).map_err(|e| RecurrenceError::Parse(e.to_string()))?;
    let firings: Vec<u64> = schedule
        .after(&after)
        .take(CHECKED)
        .map(|t| t.timestamp() as u64)
        .collect();
    let (&first, rest) = firings.split_first().ok_or(RecurrenceError::NeverFires)?;
    let &second = rest.first().ok_or(RecurrenceError::FiresOnce)?;
    let period = second - first;
    for pair in firings.windows(2) {
        let gap = pair[1] - pair[0];
        if gap != period {
            return Err(RecurrenceError::Irregular {
                first: period,
                later: gap,
            });
        }
    }
    if duration > period {
        return Err(RecurrenceError::Overlap { duration, period });
    }
    Ok(Recurrence {
        start: first,
        period,
        duration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn weekly_thursday_afternoon() {
        let after = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap(); // a Tuesday
        let r = from_cron("0 0 16 * * Thu *", after, 3600).unwrap();
        assert_eq!(r.period, 7 * 86_400);
        assert_eq!(
            r.start,
            Utc.with_ymd_and_hms(2026, 11, 26, 16, 0, 0)
                .unwrap()
                .timestamp() as u64
        );
        assert_eq!(
            r.start % (7 * 86_400),
            16 * 3600,
            "Thursdays 16:00 UTC are 16 h past a weekly epoch boundary"
        );
    }

    #[test]
    fn refuses_what_a_period_cannot_say() {
        let after = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert!(matches!(
            from_cron("0 0 16 1-7 * Mon *", after, 3600),
            Err(RecurrenceError::Irregular { .. })
        ));
        assert!(matches!(
            from_cron("0 0 16 * * * *", after, 2 * 86_400),
            Err(RecurrenceError::Overlap { .. })
        ));
        assert!(matches!(
            from_cron("every thursday", after, 60),
            Err(RecurrenceError::Parse(_))
        ));
        assert_eq!(
            from_cron("0 0 16 1 1 * 2027", after, 60),
            Err(RecurrenceError::FiresOnce)
        );
        assert_eq!(
            from_cron("0 0 16 1 1 * 2020", after, 60),
            Err(RecurrenceError::NeverFires)
        );
    }
}
