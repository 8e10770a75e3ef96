//! Participation: what one account did in the assembly over a window, occurrence by
//! occurrence, reckoned from three records that nobody can rewrite alone:
//!
//! - the chain (through the indexer): sessions, requests for the floor, the slots the rule
//!   gave, yields and withdrawals, votes on debated proposals;
//! - the archive: the speeches recorded in those slots;
//! - the attendance ledger: time signed in and connected, reactions given.
//!
//! Only occurrences that have begun are counted, so a delegator comparing orchestrators
//! compares what happened, not what is scheduled.

use std::collections::HashMap;
use std::ops::Range;

use alloy::primitives::{Address, U256};
use assembly_archive::attendance;
use assembly_archive::record::archive::{Archive, Filter};
use assembly_indexer::api::VoteKind;
use assembly_indexer::events::Kind;
use assembly_indexer::store::Store;
use serde::Serialize;
use utoipa::ToSchema;

/// The most occurrences one answer lists; older ones are left out and `truncated` says so.
pub const MAX_OCCURRENCES: usize = 500;

/// One account's participation over a window.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct Record {
    /// Sums over the occurrences listed (time attended is counted once where occurrences
    /// of two sessions overlap).
    pub totals: Totals,
    /// The occurrences that began in the window, newest first.
    pub occurrences: Vec<Occurrence>,
    /// Whether older occurrences were left out (more than 500 in the window).
    pub truncated: bool,
}

/// Sums over a window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Totals {
    /// Occurrences that began in the window.
    pub occurrences: u32,
    /// Of those, the ones the account was connected for at some time.
    pub attended: u32,
    /// Time connected while any occurrence ran, milliseconds.
    pub attended_ms: u64,
    /// Requests for the floor.
    pub requests: u32,
    /// Slots the rule gave them that have begun.
    pub slots_held: u32,
    /// Slots they yielded before their end.
    pub yields: u32,
    /// Requests they withdrew before their turn.
    pub withdrawals: u32,
    /// Speeches recorded.
    pub speeches: u32,
    /// Audio recorded from them, milliseconds.
    pub spoken_ms: u64,
    /// Reactions given.
    pub reactions: u32,
    /// Distinct proposals debated in the window.
    pub debates: u32,
    /// Of those, how many they voted on.
    pub votes_cast: u32,
}

/// One occurrence of a session, and what the account did in it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Occurrence {
    /// The session.
    pub session: u64,
    /// The occurrence, from 0.
    pub occurrence: u32,
    /// What the session is for.
    pub kind: Kind,
    /// The debated proposal (decimal), for a debate.
    pub proposal_id: Option<String>,
    /// When it began, seconds since the epoch.
    pub start: u64,
    /// When it ends or ended (exclusive), seconds since the epoch.
    pub end: u64,
    /// Time connected while it ran, milliseconds.
    pub attended_ms: u64,
    /// Requests for the floor in it.
    pub requests: u32,
    /// Slots held that have begun.
    pub slots_held: u32,
    /// Slots yielded early.
    pub yields: u32,
    /// Requests withdrawn.
    pub withdrawals: u32,
    /// Speeches recorded.
    pub speeches: u32,
    /// Audio recorded, milliseconds.
    pub spoken_ms: u64,
    /// Reactions given while it ran.
    pub reactions: u32,
    /// For a debate, the account's vote on the proposal (`for`, `against`, `abstain`,
    /// `yes`, `no`, or `choice N`); null if it has not voted.
    pub vote: Option<String>,
}

/// Why a participation record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ParticipationError {
    /// The indexer's store failed.
    #[error(transparent)]
    Chain(#[from] assembly_indexer::store::StoreError),
    /// The archive failed.
    #[error(transparent)]
    Archive(#[from] assembly_archive::record::archive::ArchiveError),
}

/// `account`'s participation in occurrences that began in `[from, to)` (seconds), as of
/// `now` (seconds).
pub fn reckon(
    store: &Store,
    archive: &Archive,
    account: Address,
    window: Range<u64>,
    now: u64,
) -> Result<Record, ParticipationError> {
    let to = window.end.min(now.saturating_add(1));
    let mut rows = Vec::new();
    for session in store.sessions()? {
        for (occurrence, start, end) in
            session
                .schedule
                .occurrences(window.start, to, MAX_OCCURRENCES + 1)
        {
            if start < window.start || start >= to {
                continue;
            }
            rows.push((session.clone(), occurrence, start, end));
        }
    }
    rows.sort_by_key(|(s, o, start, _)| std::cmp::Reverse((*start, s.id, *o)));
    let truncated = rows.len() > MAX_OCCURRENCES;
    rows.truncate(MAX_OCCURRENCES);

    // Everything the account did is read once for the whole window, then split by time.
    let first = rows.iter().map(|r| r.2).min().unwrap_or(window.start);
    let last = rows.iter().map(|r| r.3.min(now)).max().unwrap_or(first);
    let presence = attendance::presence(archive, account, first * 1000, last * 1000)?;
    let reactions = attendance::reactions(archive, account, first * 1000, last * 1000)?;
    let speeches = archive.speeches(&Filter {
        speaker: Some(account.to_checksum(None)),
        limit: Some(5_000),
        ..Filter::default()
    })?;

    let mut votes: HashMap<U256, Option<String>> = HashMap::new();
    let mut out = Record {
        truncated,
        ..Record::default()
    };
    for (session, occurrence, start, end) in &rows {
        let ran = start * 1000..end.min(&now) * 1000;
        let (_, slots, requests) = store.timeline(session, *occurrence)?;
        let mine = |i: &u32| requests[*i as usize].request.speaker == account;
        let (mut held, mut yields, mut withdrawals, mut asked) = (0, 0, 0, 0);
        for slot in slots.iter().filter(|s| mine(&s.index)) {
            let request = &requests[slot.index as usize].request;
            asked += 1;
            if request.withdrawn {
                withdrawals += 1;
            } else if slot.start < slot.end && slot.start <= now {
                held += 1;
                // The rule ends a yielded slot at the yield, so any yield in a held slot counts.
                yields += u32::from(request.yielded_at.is_some());
            }
        }
        let spoken: Vec<_> = speeches
            .iter()
            .filter(|s| s.session == session.id && s.occurrence == *occurrence)
            .collect();
        let vote = (!session.proposal_id.is_zero())
            .then(|| -> Result<_, ParticipationError> {
                if let Some(v) = votes.get(&session.proposal_id) {
                    return Ok(v.clone());
                }
                let kind = VoteKind::of(store, session.proposal_id)?;
                let v = store
                    .votes(session.proposal_id)?
                    .into_iter()
                    .rfind(|v| v.voter == account)
                    .map(|v| {
                        kind.choice(v.support)
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("choice {}", v.support))
                    });
                votes.insert(session.proposal_id, v.clone());
                Ok(v)
            })
            .transpose()?
            .flatten();
        let row = Occurrence {
            session: session.id,
            occurrence: *occurrence,
            kind: session.kind,
            proposal_id: (!session.proposal_id.is_zero()).then(|| session.proposal_id.to_string()),
            start: *start,
            end: *end,
            attended_ms: overlap(&presence, std::slice::from_ref(&ran)),
            requests: asked,
            slots_held: held,
            yields,
            withdrawals,
            speeches: spoken.len() as u32,
            spoken_ms: spoken.iter().map(|s| s.duration_ms).sum(),
            reactions: reactions.iter().filter(|t| ran.contains(t)).count() as u32,
            vote,
        };
        let t = &mut out.totals;
        t.occurrences += 1;
        t.attended += u32::from(row.attended_ms > 0);
        t.requests += row.requests;
        t.slots_held += row.slots_held;
        t.yields += row.yields;
        t.withdrawals += row.withdrawals;
        t.speeches += row.speeches;
        t.spoken_ms += row.spoken_ms;
        out.occurrences.push(row);
    }
    let spans: Vec<Range<u64>> = rows
        .iter()
        .map(|(_, _, start, end)| start * 1000..end.min(&now) * 1000)
        .collect();
    out.totals.attended_ms = overlap(&presence, &spans);
    out.totals.reactions = reactions
        .iter()
        .filter(|t| spans.iter().any(|s| s.contains(t)))
        .count() as u32;
    out.totals.debates = votes.len() as u32;
    out.totals.votes_cast = votes.values().filter(|v| v.is_some()).count() as u32;
    Ok(out)
}

/// Milliseconds in both the union of `intervals` and the union of `spans`.
fn overlap(intervals: &[(u64, u64)], spans: &[Range<u64>]) -> u64 {
    let union = |mut v: Vec<(u64, u64)>| {
        v.retain(|(a, b)| a < b);
        v.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        merged
    };
    let here = union(intervals.to_vec());
    let ran = union(spans.iter().map(|r| (r.start, r.end)).collect());
    let mut total = 0;
    for (a, b) in &here {
        for (c, d) in &ran {
            total += b.min(d).saturating_sub(*a.max(c));
        }
    }
    total
}

/// The record as CSV (RFC 4180): one line per occurrence, the totals' columns.
pub fn csv(r: &Record) -> String {
    let mut out = String::from(
        "session,occurrence,kind,proposal_id,start,end,attended_s,requests,slots_held,yields,withdrawals,speeches,spoken_s,reactions,vote\r\n",
    );
    for o in &r.occurrences {
        let kind = serde_json::to_value(o.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let stamp = |t: u64| {
            chrono::DateTime::from_timestamp(t as i64, 0)
                .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default()
        };
        out.push_str(&format!(
            "{},{},{},{},{},{},{:.1},{},{},{},{},{},{:.1},{},{}\r\n",
            o.session,
            o.occurrence,
            kind,
            o.proposal_id.as_deref().unwrap_or(""),
            stamp(o.start),
            // An always-open floor ends beyond any date a spreadsheet reads.
            if o.end >= assembly_indexer::floor::FOREVER {
                String::new()
            } else {
                stamp(o.end)
            },
            o.attended_ms as f64 / 1000.0,
            o.requests,
            o.slots_held,
            o.yields,
            o.withdrawals,
            o.speeches,
            o.spoken_ms as f64 / 1000.0,
            o.reactions,
            o.vote.as_deref().unwrap_or(""),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // A list of one span is what these cases mean, not a range of numbers.
    #[allow(clippy::single_range_in_vec_init)]
    fn time_attended_counts_once_across_overlapping_occurrences() {
        let here = [(0, 10), (5, 20), (30, 40)];
        assert_eq!(overlap(&here, &[0..100]), 30);
        assert_eq!(overlap(&here, &[8..12, 10..35]), 17);
        assert_eq!(overlap(&here, &[]), 0);
        assert_eq!(overlap(&[], &[0..100]), 0);
        assert_eq!(
            overlap(&[(50, 40)], &[0..100]),
            0,
            "a backwards interval is nothing"
        );
    }
}
