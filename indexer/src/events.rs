//! Chain logs decoded into the events the store applies. A log that is not one of
//! Assembly's events, or does not decode, is an error the caller logs and skips; it never
//! panics and never stops the indexer.

use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::Log;
use alloy::sol_types::SolEvent;
use serde::{Deserialize, Serialize};

use crate::bindings::livepeer::{IBondingManager, ILivepeerGovernor, IPoll, IPollCreator};
use crate::bindings::Assembly;
use crate::deployment::Deployment;

/// What a session is for (the contract's `Kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A floor open to any eligible speaker, with no proposal attached.
    OpenFloor,
    /// A debate on a Livepeer Improvement Proposal, voted on in a PollCreator poll; its
    /// proposal id is the poll's address.
    LipDebate,
    /// A debate on a governor proposal that spends the treasury (LPT or ETH).
    TreasuryDebate,
    /// A debate on any other governor proposal (governance housekeeping).
    GovernorDebate,
}

pub use assembly_floor::Speakers;

/// One of Assembly's state changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A session was scheduled, by governance or by `openDebate`.
    SessionCreated {
        /// The contract's id for the new session.
        session: u64,
        /// What the session is for.
        kind: Kind,
        /// The governor proposal a debate is about, or its poll's address for an LIP debate;
        /// zero for an open floor.
        proposal_id: U256,
        /// When the first occurrence begins, seconds since the epoch.
        start: u64,
        /// How long each occurrence lasts, in seconds (`u40::MAX`: always in session).
        duration: u64,
        /// Seconds between the starts of successive occurrences; 0 for a single occurrence.
        period: u64,
        /// How many occurrences the schedule has; 0 with a period means until cancelled.
        count: u32,
        /// The longest a speaker holds the floor, in seconds.
        slot_length: u64,
        /// The most entries an occurrence's queue holds at once.
        max_queue: u16,
        /// Who may ask for the floor.
        speakers: Speakers,
    },
    /// A session was cancelled; nobody holds its floor from `at` on.
    SessionCancelled {
        /// The cancelled session's id.
        session: u64,
        /// When the cancellation took effect (its block's time), seconds since the epoch.
        at: u64,
    },
    /// Governance set whether a session requires signed audio.
    SignedAudioSet {
        /// The session.
        session: u64,
        /// Whether it now requires signed audio.
        required: bool,
    },
    /// A speaker joined an occurrence's queue.
    Enqueued {
        /// The session whose queue it is.
        session: u64,
        /// Which occurrence of the session, counting from 0.
        occurrence: u32,
        /// The entry's position in the occurrence's queue, counting from 0.
        index: u32,
        /// The wallet that asked for the floor.
        speaker: Address,
        /// When it asked (its block's time), seconds since the epoch.
        at: u64,
        /// Whether the speaker was an active orchestrator when it asked (else a delegator).
        orchestrator: bool,
    },
    /// A speaker left the queue before their slot started.
    Withdrawn {
        /// The session whose queue it is.
        session: u64,
        /// Which occurrence of the session, counting from 0.
        occurrence: u32,
        /// The withdrawn entry's position in the queue.
        index: u32,
        /// The wallet that withdrew.
        speaker: Address,
        /// When it withdrew (its block's time), seconds since the epoch.
        at: u64,
    },
    /// The floor holder ended their own slot early.
    Yielded {
        /// The session whose floor it is.
        session: u64,
        /// Which occurrence of the session, counting from 0.
        occurrence: u32,
        /// The yielding entry's position in the queue.
        index: u32,
        /// The wallet that yielded.
        speaker: Address,
        /// When the slot ended (its block's time), seconds since the epoch.
        at: u64,
    },
    /// A debate session was scheduled for a governor proposal or a poll.
    DebateOpened {
        /// The governor proposal under debate, or the poll's address.
        proposal_id: U256,
        /// The session created for the debate.
        session: u64,
        /// The contract's estimate of when the vote closes, seconds since the epoch.
        vote_closes_at: u64,
    },
    /// Defaults, ownership: recorded, with no effect on sessions or the floor.
    Governance {
        /// The contract event's name, e.g. `DefaultsChanged`.
        name: String,
    },
    /// A governor proposal, with the actions `openDebate` needs to name it.
    ProposalCreated {
        /// The governor's id for the proposal (the hash of its actions and description).
        proposal_id: U256,
        /// The contracts the proposal's actions call.
        targets: Vec<Address>,
        /// The wei each action sends, one per target.
        values: Vec<U256>,
        /// The calldata of each action, one per target.
        calldatas: Vec<alloy::primitives::Bytes>,
        /// keccak256 of the proposal's description text.
        description_hash: B256,
        /// The governor's deadline for the vote, a Livepeer round number.
        vote_end: u64,
        /// Who proposed it.
        #[serde(default)]
        proposer: Address,
        /// The first line of its description (see [`title_of`]).
        #[serde(default)]
        title: Option<String>,
    },
    /// A governor proposal was cancelled.
    ProposalCanceled {
        /// The governor's id for the cancelled proposal.
        proposal_id: U256,
    },
    /// Livepeer's BondingManager changed the role or stake of `accounts` (an activation or
    /// deactivation, a bond on both its sides, an unbond, a rebond, a transfer of a bond, a
    /// claim of earnings, a reward, a slash): cached eligibility for each is stale.
    RoleChanged {
        /// Every orchestrator and delegator whose role or stake the event changed.
        accounts: Vec<Address>,
        /// Which change: `activated`, `deactivated`, `bond`, `unbond`, `rebond`,
        /// `transfer_bond`, `earnings_claimed`, `reward` or `slashed`.
        reason: String,
    },
    /// A poll for an LIP was created by Livepeer's PollCreator.
    PollCreated {
        /// The poll's address; as a proposal id, `U256::from_be_slice(poll)`.
        poll: Address,
        /// What the poll is about: the IPFS content identifier of the LIP's text.
        proposal: alloy::primitives::Bytes,
        /// The last L1 block at which the poll takes votes.
        end_block: u64,
        /// Who created it: the sender of the `createPoll` transaction (the event does not
        /// name them), filled in by the follower; None until then, and in rows from before.
        #[serde(default)]
        creator: Option<Address>,
    },
    /// A vote on a governor proposal (`VoteCast`, `VoteCastWithParams`) or on a poll (`Vote`).
    Voted {
        /// The governor's proposal id, or the poll's address.
        proposal_id: U256,
        /// Who voted.
        voter: Address,
        /// For a governor proposal OpenZeppelin's counting, 0 against, 1 for, 2 abstain; for
        /// a poll LIP-16's, 0 yes, 1 no.
        support: u8,
        /// The governor's voting weight (the voter's stake at the proposal's snapshot); None
        /// for a poll, whose votes carry no weight on chain.
        weight: Option<U256>,
        /// The reason the voter gave, if any.
        reason: String,
    },
    /// An operator registered its Assembly node (the node registry's `NodeRegistered`).
    NodeRegistered {
        /// The orchestrator (or governance-approved operator) whose node it is.
        operator: Address,
        /// The address of the key the node signs with.
        key: Address,
        /// Where the node serves.
        url: String,
    },
    /// An operator's node moved to `url`.
    NodeUrlChanged {
        /// The operator.
        operator: Address,
        /// Where the node serves now.
        url: String,
    },
    /// An operator's node signs with `new_key` from now on; what `old_key` signed is void.
    NodeKeyRotated {
        /// The operator.
        operator: Address,
        /// The retired key.
        old_key: Address,
        /// The key in use from now on.
        new_key: Address,
    },
    /// An operator removed its node; what `key` signed is void.
    NodeDeregistered {
        /// The operator.
        operator: Address,
        /// The freed key.
        key: Address,
    },
    /// Governance set an operator's standing in the node registry.
    NodeStandingChanged {
        /// The operator.
        operator: Address,
        /// Its standing from now on.
        standing: NodeStanding,
    },
    /// A member operator attested `root` as the record of an ended occurrence (RecordAnchor's
    /// `RecordAnchored`).
    RecordAnchored {
        /// The session.
        session: u64,
        /// Its occurrence.
        occurrence: u32,
        /// The Merkle root of the occurrence's speeches.
        root: B256,
        /// The operator attesting.
        operator: Address,
        /// Who sent it: the operator's node key, or the operator itself.
        node: Address,
        /// How many speeches the sender says the tree holds.
        speeches: u32,
    },
}

/// Governance's say over an operator in the node registry (the contract's `Standing`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeStanding {
    /// A member while registered and in Livepeer's active set.
    #[default]
    Default,
    /// A member while registered, in the active set or not.
    Approved,
    /// Never a member.
    Suspended,
}

/// The longest title kept; longer first lines are cut at a character boundary.
pub const MAX_TITLE: usize = 160;

/// A governor proposal's title: the first non-blank line of its description, without a
/// Markdown heading's `#`s, at most [`MAX_TITLE`] bytes.
pub fn title_of(description: &str) -> Option<String> {
    let line = description
        .lines()
        .map(|l| l.trim().trim_start_matches('#').trim())
        .find(|l| !l.is_empty())?;
    let mut end = line.len().min(MAX_TITLE);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    Some(line[..end].to_string())
}

/// Where a log sits in the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The number of the block holding the log.
    pub block: u64,
    /// The hash of that block, to notice a reorg.
    pub block_hash: B256,
    /// The log's index within the block.
    pub log_index: u64,
    /// The hash of the transaction that emitted the log.
    pub tx_hash: B256,
}

/// Why a log could not be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The RPC returned the log without this piece of its position (a pending log).
    #[error("log is missing its {0}")]
    MissingField(&'static str),
    /// The log has no event signature topic.
    #[error("log has no topics")]
    NoTopics,
    /// The signature topic is none of the events the indexer follows.
    #[error("unknown event with topic {0}")]
    UnknownEvent(B256),
    /// The log's topics or data do not ABI-decode as the event its signature names.
    #[error("malformed {event} log: {reason}")]
    Malformed {
        /// The event's Solidity signature.
        event: &'static str,
        /// The decoder's complaint.
        reason: String,
    },
    /// A value decoded but does not fit the indexer's type (or is an unknown enum value).
    #[error("{event} log has a value out of range: {field}")]
    OutOfRange {
        /// The event's name.
        event: &'static str,
        /// The offending field's name.
        field: &'static str,
    },
}

/// Where `log` is; every log the indexer applies must say.
pub fn position(log: &Log) -> Result<Position, DecodeError> {
    Ok(Position {
        block: log
            .block_number
            .ok_or(DecodeError::MissingField("block number"))?,
        block_hash: log
            .block_hash
            .ok_or(DecodeError::MissingField("block hash"))?,
        log_index: log
            .log_index
            .ok_or(DecodeError::MissingField("log index"))?,
        tx_hash: log
            .transaction_hash
            .ok_or(DecodeError::MissingField("transaction hash"))?,
    })
}

fn decoded<E: SolEvent>(log: &Log) -> Result<E, DecodeError> {
    E::decode_log_data(log.data()).map_err(|e| DecodeError::Malformed {
        event: E::SIGNATURE,
        reason: e.to_string(),
    })
}

fn u64_of(v: U256, event: &'static str, field: &'static str) -> Result<u64, DecodeError> {
    u64::try_from(v).map_err(|_| DecodeError::OutOfRange { event, field })
}

fn kind(k: u8) -> Result<Kind, DecodeError> {
    match k {
        0 => Ok(Kind::OpenFloor),
        1 => Ok(Kind::LipDebate),
        2 => Ok(Kind::TreasuryDebate),
        3 => Ok(Kind::GovernorDebate),
        _ => Err(DecodeError::OutOfRange {
            event: "SessionCreated",
            field: "kind",
        }),
    }
}

fn speakers(s: u8) -> Result<Speakers, DecodeError> {
    match s {
        0 => Ok(Speakers::Orchestrators),
        1 => Ok(Speakers::OrchestratorsAndDelegators),
        _ => Err(DecodeError::OutOfRange {
            event: "SessionCreated",
            field: "speakers",
        }),
    }
}

/// Decodes a log of any contract the indexer follows, chosen by its address; a log from
/// none of the deployment's contracts is a poll's (the follower asks for no other).
pub fn decode_from(log: &Log, deployment: &Deployment) -> Result<Event, DecodeError> {
    let address = log.address();
    if address == deployment.governor {
        decode_governor(log)
    } else if address == deployment.bonding_manager {
        decode_bonding(log)
    } else if Some(address) == deployment.poll_creator {
        decode_poll_creator(log)
    } else if address == deployment.assembly {
        decode(log)
    } else if Some(address) == deployment.node_registry {
        decode_registry(log)
    } else if Some(address) == deployment.record_anchor {
        decode_anchor(log)
    } else {
        decode_poll(log)
    }
}

/// Decodes a log of Livepeer's PollCreator.
pub fn decode_poll_creator(log: &Log) -> Result<Event, DecodeError> {
    let topic0 = *log.topic0().ok_or(DecodeError::NoTopics)?;
    if topic0 != IPollCreator::PollCreated::SIGNATURE_HASH {
        return Err(DecodeError::UnknownEvent(topic0));
    }
    let e: IPollCreator::PollCreated = decoded(log)?;
    Ok(Event::PollCreated {
        poll: e.poll,
        proposal: e.proposal,
        end_block: u64_of(e.endBlock, "PollCreated", "endBlock")?,
        creator: None,
    })
}

/// Decodes a vote in one of PollCreator's polls (the log's emitter).
pub fn decode_poll(log: &Log) -> Result<Event, DecodeError> {
    let topic0 = *log.topic0().ok_or(DecodeError::NoTopics)?;
    if topic0 != IPoll::Vote::SIGNATURE_HASH {
        return Err(DecodeError::UnknownEvent(topic0));
    }
    let e: IPoll::Vote = decoded(log)?;
    Ok(Event::Voted {
        proposal_id: U256::from_be_slice(log.address().as_slice()),
        voter: e.voter,
        support: u8::try_from(e.choiceID).map_err(|_| DecodeError::OutOfRange {
            event: "Vote",
            field: "choiceID",
        })?,
        weight: None,
        reason: String::new(),
    })
}

/// Decodes a log of Livepeer's governor (OpenZeppelin's event signatures).
pub fn decode_governor(log: &Log) -> Result<Event, DecodeError> {
    let topic0 = *log.topic0().ok_or(DecodeError::NoTopics)?;
    Ok(match topic0 {
        ILivepeerGovernor::ProposalCreated::SIGNATURE_HASH => {
            let e: ILivepeerGovernor::ProposalCreated = decoded(log)?;
            if e.targets.len() != e.values.len() || e.targets.len() != e.calldatas.len() {
                return Err(DecodeError::Malformed {
                    event: "ProposalCreated",
                    reason: "action arrays differ in length".into(),
                });
            }
            Event::ProposalCreated {
                proposal_id: e.proposalId,
                targets: e.targets,
                values: e.values,
                calldatas: e.calldatas,
                description_hash: alloy::primitives::keccak256(e.description.as_bytes()),
                vote_end: u64_of(e.voteEnd, "ProposalCreated", "voteEnd")?,
                proposer: e.proposer,
                title: title_of(&e.description),
            }
        }
        ILivepeerGovernor::ProposalCanceled::SIGNATURE_HASH => {
            let e: ILivepeerGovernor::ProposalCanceled = decoded(log)?;
            Event::ProposalCanceled {
                proposal_id: e.proposalId,
            }
        }
        // The two events differ only in `params`, which Assembly does not use.
        ILivepeerGovernor::VoteCast::SIGNATURE_HASH => {
            let e: ILivepeerGovernor::VoteCast = decoded(log)?;
            governor_vote(e.proposalId, e.voter, e.support, e.weight, e.reason)
        }
        ILivepeerGovernor::VoteCastWithParams::SIGNATURE_HASH => {
            let e: ILivepeerGovernor::VoteCastWithParams = decoded(log)?;
            governor_vote(e.proposalId, e.voter, e.support, e.weight, e.reason)
        }
        other => return Err(DecodeError::UnknownEvent(other)),
    })
}

fn governor_vote(
    proposal_id: U256,
    voter: Address,
    support: u8,
    weight: U256,
    reason: String,
) -> Event {
    Event::Voted {
        proposal_id,
        voter,
        support,
        weight: Some(weight),
        reason,
    }
}

/// Decodes a log of the node registry.
pub fn decode_registry(log: &Log) -> Result<Event, DecodeError> {
    use crate::bindings::NodeRegistry as R;
    let topic0 = *log.topic0().ok_or(DecodeError::NoTopics)?;
    Ok(match topic0 {
        R::NodeRegistered::SIGNATURE_HASH => {
            let e = decoded::<R::NodeRegistered>(log)?;
            Event::NodeRegistered {
                operator: e.operator,
                key: e.nodeKey,
                url: e.url,
            }
        }
        R::NodeUrlChanged::SIGNATURE_HASH => {
            let e = decoded::<R::NodeUrlChanged>(log)?;
            Event::NodeUrlChanged {
                operator: e.operator,
                url: e.url,
            }
        }
        R::NodeKeyRotated::SIGNATURE_HASH => {
            let e = decoded::<R::NodeKeyRotated>(log)?;
            Event::NodeKeyRotated {
                operator: e.operator,
                old_key: e.oldKey,
                new_key: e.newKey,
            }
        }
        R::NodeDeregistered::SIGNATURE_HASH => {
            let e = decoded::<R::NodeDeregistered>(log)?;
            Event::NodeDeregistered {
                operator: e.operator,
                key: e.nodeKey,
            }
        }
        R::StandingChanged::SIGNATURE_HASH => {
            let e = decoded::<R::StandingChanged>(log)?;
            Event::NodeStandingChanged {
                operator: e.operator,
                standing: match e.standing {
                    0 => NodeStanding::Default,
                    1 => NodeStanding::Approved,
                    2 => NodeStanding::Suspended,
                    _ => {
                        return Err(DecodeError::OutOfRange {
                            event: "StandingChanged",
                            field: "standing",
                        })
                    }
                },
            }
        }
        // The registry's ownership events change no node.
        R::OwnershipTransferred::SIGNATURE_HASH => Event::Governance {
            name: "NodeRegistry.OwnershipTransferred".into(),
        },
        R::OwnershipTransferStarted::SIGNATURE_HASH => Event::Governance {
            name: "NodeRegistry.OwnershipTransferStarted".into(),
        },
        other => return Err(DecodeError::UnknownEvent(other)),
    })
}

/// Decodes a log of the record anchor: its only event is `RecordAnchored`.
pub fn decode_anchor(log: &Log) -> Result<Event, DecodeError> {
    use crate::bindings::RecordAnchor as A;
    let topic0 = *log.topic0().ok_or(DecodeError::NoTopics)?;
    if topic0 != A::RecordAnchored::SIGNATURE_HASH {
        return Err(DecodeError::UnknownEvent(topic0));
    }
    let e = decoded::<A::RecordAnchored>(log)?;
    Ok(Event::RecordAnchored {
        session: u64_of(e.sessionId, "RecordAnchored", "sessionId")?,
        occurrence: e.occurrence,
        root: e.root,
        operator: e.operator,
        node: e.node,
        speeches: e.speeches,
    })
}

/// Decodes a log of Livepeer's BondingManager that changes someone's role or stake, naming
/// everyone whose standing it changed: both delegates of a bond, the delegate of an unbond
/// or a rebond (its total stake moved too), both sides of a transferred bond.
pub fn decode_bonding(log: &Log) -> Result<Event, DecodeError> {
    use IBondingManager as B;
    let topic0 = *log.topic0().ok_or(DecodeError::NoTopics)?;
    let (accounts, reason) = match topic0 {
        B::TranscoderActivated::SIGNATURE_HASH => (
            vec![decoded::<B::TranscoderActivated>(log)?.transcoder],
            "activated",
        ),
        B::TranscoderDeactivated::SIGNATURE_HASH => (
            vec![decoded::<B::TranscoderDeactivated>(log)?.transcoder],
            "deactivated",
        ),
        B::Bond::SIGNATURE_HASH => {
            let e = decoded::<B::Bond>(log)?;
            (vec![e.delegator, e.newDelegate, e.oldDelegate], "bond")
        }
        B::Unbond::SIGNATURE_HASH => {
            let e = decoded::<B::Unbond>(log)?;
            (vec![e.delegator, e.delegate], "unbond")
        }
        B::Rebond::SIGNATURE_HASH => {
            let e = decoded::<B::Rebond>(log)?;
            (vec![e.delegator, e.delegate], "rebond")
        }
        B::TransferBond::SIGNATURE_HASH => {
            let e = decoded::<B::TransferBond>(log)?;
            (vec![e.oldDelegator, e.newDelegator], "transfer_bond")
        }
        B::EarningsClaimed::SIGNATURE_HASH => {
            let e = decoded::<B::EarningsClaimed>(log)?;
            (vec![e.delegator, e.delegate], "earnings_claimed")
        }
        // A reward or a slash changes every delegator's pending stake too; those are not
        // named by the event, and are refreshed when the round changes.
        B::Reward::SIGNATURE_HASH => (vec![decoded::<B::Reward>(log)?.transcoder], "reward"),
        B::TranscoderSlashed::SIGNATURE_HASH => (
            vec![decoded::<B::TranscoderSlashed>(log)?.transcoder],
            "slashed",
        ),
        other => return Err(DecodeError::UnknownEvent(other)),
    };
    let mut accounts: Vec<Address> = accounts.into_iter().filter(|a| !a.is_zero()).collect();
    accounts.sort();
    accounts.dedup();
    Ok(Event::RoleChanged {
        accounts,
        reason: reason.into(),
    })
}

/// Decodes one of Assembly's logs.
pub fn decode(log: &Log) -> Result<Event, DecodeError> {
    let topic0 = *log.topic0().ok_or(DecodeError::NoTopics)?;
    Ok(match topic0 {
        Assembly::SessionCreated::SIGNATURE_HASH => {
            let e: Assembly::SessionCreated = decoded(log)?;
            Event::SessionCreated {
                session: u64_of(e.sessionId, "SessionCreated", "sessionId")?,
                kind: kind(e.kind)?,
                proposal_id: e.proposalId,
                start: e.start.to(),
                duration: e.duration.to(),
                period: e.period.to(),
                count: e.count,
                slot_length: u64::from(e.slotLength),
                max_queue: e.maxQueue,
                speakers: speakers(e.speakers)?,
            }
        }
        Assembly::SessionCancelled::SIGNATURE_HASH => {
            let e: Assembly::SessionCancelled = decoded(log)?;
            Event::SessionCancelled {
                session: u64_of(e.sessionId, "SessionCancelled", "sessionId")?,
                at: e.at.to(),
            }
        }
        Assembly::SignedAudioSet::SIGNATURE_HASH => {
            let e: Assembly::SignedAudioSet = decoded(log)?;
            Event::SignedAudioSet {
                session: u64_of(e.sessionId, "SignedAudioSet", "sessionId")?,
                required: e.required,
            }
        }
        Assembly::Enqueued::SIGNATURE_HASH => {
            let e: Assembly::Enqueued = decoded(log)?;
            Event::Enqueued {
                session: u64_of(e.sessionId, "Enqueued", "sessionId")?,
                occurrence: e.occurrence,
                index: e.index,
                speaker: e.speaker,
                at: e.at.to(),
                orchestrator: e.orchestrator,
            }
        }
        Assembly::Withdrawn::SIGNATURE_HASH => {
            let e: Assembly::Withdrawn = decoded(log)?;
            Event::Withdrawn {
                session: u64_of(e.sessionId, "Withdrawn", "sessionId")?,
                occurrence: e.occurrence,
                index: e.index,
                speaker: e.speaker,
                at: e.at.to(),
            }
        }
        Assembly::Yielded::SIGNATURE_HASH => {
            let e: Assembly::Yielded = decoded(log)?;
            Event::Yielded {
                session: u64_of(e.sessionId, "Yielded", "sessionId")?,
                occurrence: e.occurrence,
                index: e.index,
                speaker: e.speaker,
                at: e.at.to(),
            }
        }
        Assembly::DebateOpened::SIGNATURE_HASH => {
            let e: Assembly::DebateOpened = decoded(log)?;
            Event::DebateOpened {
                proposal_id: e.proposalId,
                session: u64_of(e.sessionId, "DebateOpened", "sessionId")?,
                vote_closes_at: e.voteClosesAt,
            }
        }
        Assembly::DefaultsChanged::SIGNATURE_HASH => {
            decoded::<Assembly::DefaultsChanged>(log)?;
            Event::Governance {
                name: "DefaultsChanged".into(),
            }
        }
        Assembly::OwnershipTransferred::SIGNATURE_HASH => {
            decoded::<Assembly::OwnershipTransferred>(log)?;
            Event::Governance {
                name: "OwnershipTransferred".into(),
            }
        }
        Assembly::OwnershipTransferStarted::SIGNATURE_HASH => {
            decoded::<Assembly::OwnershipTransferStarted>(log)?;
            Event::Governance {
                name: "OwnershipTransferStarted".into(),
            }
        }
        other => return Err(DecodeError::UnknownEvent(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Bytes, LogData};

    fn log_with(topics: Vec<B256>, data: Vec<u8>) -> Log {
        Log {
            inner: alloy::primitives::Log {
                address: Address::ZERO,
                data: LogData::new_unchecked(topics, Bytes::from(data)),
            },
            block_number: Some(1),
            block_hash: Some(B256::ZERO),
            log_index: Some(0),
            transaction_hash: Some(B256::ZERO),
            ..Default::default()
        }
    }

    #[test]
    fn unknown_and_malformed_logs_are_errors_not_panics() {
        assert_eq!(
            decode(&log_with(vec![], vec![])),
            Err(DecodeError::NoTopics)
        );
        let unknown = B256::repeat_byte(7);
        assert_eq!(
            decode(&log_with(vec![unknown], vec![])),
            Err(DecodeError::UnknownEvent(unknown))
        );
        let truncated = log_with(vec![Assembly::Enqueued::SIGNATURE_HASH], vec![1, 2, 3]);
        assert!(matches!(
            decode(&truncated),
            Err(DecodeError::Malformed { .. })
        ));
        let mut no_block = log_with(vec![unknown], vec![]);
        no_block.block_number = None;
        assert_eq!(
            position(&no_block),
            Err(DecodeError::MissingField("block number"))
        );
    }

    #[test]
    fn decodes_an_enqueue() {
        let e = Assembly::Enqueued {
            sessionId: U256::from(3),
            occurrence: 1,
            index: 2,
            speaker: Address::repeat_byte(9),
            at: alloy::primitives::Uint::from(77u64),
            orchestrator: true,
        };
        let data = e.encode_log_data();
        let log = log_with(data.topics().to_vec(), data.data.to_vec());
        assert_eq!(
            decode(&log),
            Ok(Event::Enqueued {
                session: 3,
                occurrence: 1,
                index: 2,
                speaker: Address::repeat_byte(9),
                at: 77,
                orchestrator: true
            })
        );
    }
}
