//! Said versus voted: a debate's speeches beside each speaker's vote on the proposal it
//! debates, and who voted without speaking or spoke without voting.
//!
//! The speeches are the archive's (attributed to the slot's holder by the chain's timeline,
//! so never guessed), the votes the indexer's (`VoteCast`, `VoteCastWithParams`, a poll's
//! `Vote`). A poll voter may vote again and LIP-16 counts the last vote, so the last is shown.

use std::collections::HashMap;

use alloy::primitives::{Address, U256};
use assembly_archive::hansard::store::Entry;
use assembly_indexer::api::VoteKind;
use assembly_indexer::store::Vote;
use serde::Serialize;
use utoipa::ToSchema;

/// A debate's speakers and voters.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SaidVoted {
    /// The governor's proposal id, or the poll's address as a number (decimal).
    pub proposal_id: String,
    /// Which of Livepeer's votes it is.
    pub kind: VoteKind,
    /// Everyone who spoke or voted: speakers in the order they first spoke, then voters who
    /// did not speak in the order they voted.
    pub participants: Vec<Participant>,
    /// Addresses (EIP-55) that voted and never spoke in this session.
    pub voted_without_speaking: Vec<String>,
    /// Addresses (EIP-55) that spoke and have not voted (yet: a vote may still be open).
    pub spoke_without_voting: Vec<String>,
}

/// One speaker or voter of a debate.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Participant {
    /// The address, EIP-55 checksummed.
    pub address: String,
    /// Their speeches in this session (ids in the archive), in order.
    pub speeches: Vec<i64>,
    /// Audio they spoke, in milliseconds.
    pub spoken_ms: u64,
    /// Their vote on the debated proposal; null if they have not voted.
    pub vote: Option<CastVote>,
}

/// A vote as the chain recorded it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CastVote {
    /// `for`, `against`, `abstain` (governor) or `yes`, `no` (poll); null for a poll
    /// choice outside LIP-16's two.
    pub choice: Option<&'static str>,
    /// The choice's number on chain.
    pub support: u8,
    /// The stake behind it, in LPT base units (hex): a governor vote's weight (the stake at
    /// the proposal's snapshot). Null for a poll, whose votes carry no weight on chain (the
    /// poll's tally weighs stake at its end block).
    #[schema(value_type = Option<String>)]
    pub weight: Option<U256>,
    /// The reason given ("" if none).
    pub reason: String,
    /// The block it was cast in.
    pub block: u64,
}

impl From<&Vote> for CastVote {
    fn from(v: &Vote) -> Self {
        CastVote {
            choice: None,
            support: v.support,
            weight: v.weight,
            reason: v.reason.clone(),
            block: v.block,
        }
    }
}

/// Joins a session's speeches with the votes on its proposal.
pub fn join(proposal: U256, kind: VoteKind, speeches: &[Entry], votes: &[Vote]) -> SaidVoted {
    // A poll's voter may change their vote; a governor's cannot vote twice. Either way the
    // last vote cast is the one that counts.
    let mut last: HashMap<Address, &Vote> = HashMap::new();
    let mut voters: Vec<Address> = Vec::new();
    for v in votes {
        if last.insert(v.voter, v).is_none() {
            voters.push(v.voter);
        }
    }
    let vote_of = |a: &Address| {
        last.get(a).map(|v| CastVote {
            choice: kind.choice(v.support),
            ..CastVote::from(*v)
        })
    };

    let mut participants: Vec<Participant> = Vec::new();
    let mut index: HashMap<Address, usize> = HashMap::new();
    for e in speeches {
        // Speakers are written EIP-55 by the recorder; an unparsable one is still shown.
        let Ok(address) = e.speech.speaker.parse::<Address>() else {
            continue;
        };
        let i = *index.entry(address).or_insert_with(|| {
            participants.push(Participant {
                address: address.to_checksum(None),
                speeches: Vec::new(),
                spoken_ms: 0,
                vote: vote_of(&address),
            });
            participants.len() - 1
        });
        participants[i].speeches.push(e.speech.id);
        participants[i].spoken_ms += e.speech.duration_ms;
    }
    let spoke_without_voting = participants
        .iter()
        .filter(|p| p.vote.is_none())
        .map(|p| p.address.clone())
        .collect();
    let mut voted_without_speaking = Vec::new();
    for voter in voters {
        if !index.contains_key(&voter) {
            voted_without_speaking.push(voter.to_checksum(None));
            participants.push(Participant {
                address: voter.to_checksum(None),
                speeches: Vec::new(),
                spoken_ms: 0,
                vote: vote_of(&voter),
            });
        }
    }
    SaidVoted {
        proposal_id: proposal.to_string(),
        kind,
        participants,
        voted_without_speaking,
        spoke_without_voting,
    }
}

/// LPT base units in whole LPT with thousands separators ("10,500 LPT"), rounded down.
pub fn lpt(units: U256) -> String {
    let whole = (units / U256::from(10u64).pow(U256::from(18))).to_string();
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out + " LPT"
}

/// The Markdown section: a table of who spoke and how they voted, then the two lists.
pub fn markdown(s: &SaidVoted) -> String {
    let mut out = format!("## Said and voted — proposal {}\n\n", s.proposal_id);
    if s.participants.is_empty() {
        return out + "_Nobody has spoken or voted yet._\n\n";
    }
    out.push_str("| Who | Spoke | Vote | Stake | Reason |\n|---|---|---|---|---|\n");
    for p in &s.participants {
        let spoke = match p.speeches.len() {
            0 => "—".to_string(),
            n => format!("{n} × ({} s)", p.spoken_ms / 1000),
        };
        let (choice, stake, reason) = match &p.vote {
            None => ("not voted".to_string(), String::new(), String::new()),
            Some(v) => (
                v.choice
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("choice {}", v.support)),
                v.weight.map(lpt).unwrap_or_default(),
                cell(&v.reason),
            ),
        };
        out.push_str(&format!(
            "| `{}` | {spoke} | {choice} | {stake} | {reason} |\n",
            p.address
        ));
    }
    let list = |title: &str, who: &[String]| {
        let names = if who.is_empty() {
            "nobody".to_string()
        } else {
            who.iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!("\n**{title}:** {names}\n")
    };
    out.push_str(&list("Voted without speaking", &s.voted_without_speaking));
    out.push_str(&list("Spoke without voting", &s.spoke_without_voting));
    out + "\n"
}

/// A reason in one table cell: Markdown's cell and line syntax escaped, bounded.
fn cell(text: &str) -> String {
    let mut t: String = text.chars().take(280).collect();
    if t.len() < text.len() {
        t.push('…');
    }
    t.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use assembly_archive::record::archive::Speech;

    fn speech(id: i64, who: Address, ms: u64) -> Entry {
        Entry {
            speech: Speech {
                id,
                session: 3,
                occurrence: 0,
                speaker: who.to_checksum(None),
                slot_start: 0,
                slot_end: 60,
                started_ms: id as u64 * 1000,
                ended_ms: id as u64 * 1000 + ms,
                packets: ms / 20,
                duration_ms: ms,
                sha256: None,
                open: false,
                file: String::new(),
            },
            text: Some("words".into()),
            revision: 0,
            engine: None,
            segments: Vec::new(),
        }
    }

    fn vote(voter: Address, support: u8, weight: Option<u64>, reason: &str, block: u64) -> Vote {
        Vote {
            voter,
            support,
            weight: weight.map(|w| U256::from(w) * U256::from(10u64).pow(U256::from(18))),
            reason: reason.into(),
            block,
        }
    }

    #[test]
    fn speakers_sit_beside_their_votes_and_the_rest_are_listed() {
        let (a, b, c) = (
            Address::repeat_byte(0xa),
            Address::repeat_byte(0xb),
            Address::repeat_byte(0xc),
        );
        let speeches = [
            speech(1, a, 30_000),
            speech(2, b, 12_000),
            speech(3, a, 5_000),
        ];
        let votes = [
            vote(c, 0, Some(500), "too costly", 10),
            vote(a, 1, Some(10_500), "fund it | now\nplease", 11),
        ];
        let s = join(U256::from(7), VoteKind::Governor, &speeches, &votes);
        let who: Vec<_> = s.participants.iter().map(|p| p.address.clone()).collect();
        assert_eq!(
            who,
            [a, b, c].map(|x| x.to_checksum(None)),
            "speakers first, then silent voters"
        );
        assert_eq!(s.participants[0].speeches, [1, 3]);
        assert_eq!(s.participants[0].spoken_ms, 35_000);
        assert_eq!(s.participants[0].vote.as_ref().unwrap().choice, Some("for"));
        assert!(s.participants[1].vote.is_none());
        assert_eq!(
            s.participants[2].vote.as_ref().unwrap().choice,
            Some("against")
        );
        assert_eq!(s.voted_without_speaking, [c.to_checksum(None)]);
        assert_eq!(s.spoke_without_voting, [b.to_checksum(None)]);

        let md = markdown(&s);
        assert!(
            md.contains("| 2 × (35 s) | for | 10,500 LPT | fund it \\| now please |"),
            "{md}"
        );
        assert!(
            md.contains("| — | against | 500 LPT | too costly |"),
            "{md}"
        );
        assert!(md.contains(&format!(
            "**Spoke without voting:** `{}`",
            b.to_checksum(None)
        )));
    }

    #[test]
    fn a_poll_counts_each_voters_last_vote() {
        let a = Address::repeat_byte(0xa);
        let votes = [
            vote(a, 0, None, "", 5),
            vote(a, 1, None, "", 6),
            vote(a, 9, None, "", 4),
        ];
        let s = join(U256::from(1), VoteKind::Poll, &[], &votes[..2]);
        assert_eq!(s.participants.len(), 1);
        let v = s.participants[0].vote.as_ref().unwrap();
        assert_eq!((v.choice, v.block, v.weight), (Some("no"), 6, None));
        let odd = join(U256::from(1), VoteKind::Poll, &[], &votes[2..]);
        assert_eq!(odd.participants[0].vote.as_ref().unwrap().choice, None);
        assert!(markdown(&odd).contains("choice 9"));
    }

    #[test]
    fn stake_is_written_in_whole_lpt() {
        let e18 = U256::from(10u64).pow(U256::from(18));
        assert_eq!(lpt(U256::ZERO), "0 LPT");
        assert_eq!(lpt(U256::from(999u64) * e18), "999 LPT");
        assert_eq!(
            lpt(U256::from(1_234_567u64) * e18 + U256::from(5)),
            "1,234,567 LPT"
        );
    }
}
