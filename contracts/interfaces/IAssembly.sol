// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ILivepeerGovernor} from "./ILivepeer.sol";

/// @title IAssembly
/// @notice Types, events and errors of Assembly's on-chain floor. The events are complete:
/// an indexer that replays them in order, with the rule in `FloorRule`, rebuilds every
/// session, queue and slot without reading storage.
interface IAssembly {
    /// @notice What a session is for.
    enum Kind {
        OpenFloor,
        LipDebate,
        TreasuryDebate
    }

    /// @notice Who may ask for the floor in a session.
    enum Speakers {
        Orchestrators,
        OrchestratorsAndDelegators
    }

    /// @notice A schedule of one or more occurrences. Occurrence `i` runs over
    /// [start + i * period, start + i * period + duration). `period == 0` means a single
    /// occurrence; `count == 0` with a period means "until cancelled"; a duration of
    /// `type(uint40).max` is a floor that is always in session.
    struct Session {
        uint40 start;
        uint40 duration;
        uint40 period;
        uint32 count;
        uint32 slotLength;
        uint16 maxQueue;
        Speakers speakers;
        Kind kind;
        uint40 cancelledAt;
    }

    /// @notice What governance passes to create a session; zero slot length or queue
    /// bound take the defaults.
    struct SessionParams {
        uint40 start;
        uint40 duration;
        uint40 period;
        uint32 count;
        uint32 slotLength;
        uint16 maxQueue;
        Speakers speakers;
        Kind kind;
        uint256 proposalId;
    }

    /// @notice Per-occurrence queue state. Entries below `head` are settled: their slot is
    /// over and `Entry.time` holds the slot's start. `cursor` is the end of the last
    /// settled slot, the earliest the head entry may start. `present` is a one-hash Bloom
    /// filter of who has asked since the queue was last empty: a clear bit proves an address
    /// has no live entry, which spares most requests a scan of the queue.
    struct Queue {
        uint32 head;
        uint32 tail;
        uint40 cursor;
        uint152 present;
    }

    /// @notice One request for the floor. `time` is the enqueue time until the entry is
    /// settled, then its slot start (the rule needs nothing else once the start is final).
    struct Entry {
        address speaker;
        uint40 time;
        uint40 yieldedAt;
        bool withdrawn;
    }

    /// @notice Who holds (or, for a future instant, will hold) the floor. `speaker` is zero
    /// when nobody does; `end` is exclusive.
    struct Floor {
        address speaker;
        uint64 start;
        uint64 end;
        uint32 occurrence;
        uint32 index;
    }

    /// @notice Parameters governance sets once for all sessions and debates.
    struct Defaults {
        uint32 slotLength;
        uint16 maxQueue;
        uint32 debateDuration;
        uint32 debateLead;
        uint32 debateNotice;
        uint16 l1BlockTime;
        Speakers debateSpeakers;
        uint96 minDelegatorStake;
    }

    /// @notice A session was scheduled (by governance, or by `openDebate`).
    event SessionCreated(
        uint256 indexed sessionId,
        Kind kind,
        uint256 indexed proposalId,
        uint40 start,
        uint40 duration,
        uint40 period,
        uint32 count,
        uint32 slotLength,
        uint16 maxQueue,
        Speakers speakers
    );
    /// @notice A session was cancelled; nobody holds its floor from `at` on.
    event SessionCancelled(uint256 indexed sessionId, uint40 at);
    /// @notice Governance changed the defaults.
    event DefaultsChanged(Defaults defaults);
    /// @notice `speaker` joined the queue of `occurrence` at position `index`.
    event Enqueued(
        uint256 indexed sessionId,
        uint32 indexed occurrence,
        uint32 index,
        address indexed speaker,
        uint40 at,
        bool orchestrator
    );
    /// @notice `speaker` left the queue before their slot started.
    event Withdrawn(uint256 indexed sessionId, uint32 indexed occurrence, uint32 index, address indexed speaker, uint40 at);
    /// @notice The floor holder ended their own slot at `at`.
    event Yielded(uint256 indexed sessionId, uint32 indexed occurrence, uint32 index, address indexed speaker, uint40 at);
    /// @notice A debate was scheduled for a governance proposal whose vote closes near `voteClosesAt`.
    event DebateOpened(uint256 indexed proposalId, uint256 indexed sessionId, uint64 voteClosesAt);

    error UnknownSession(uint256 sessionId);
    error SessionIsCancelled(uint256 sessionId);
    error SessionOver(uint256 sessionId);
    error NotInSession(uint256 sessionId, uint64 at);
    error NotEligible(address account, Speakers speakers);
    error AlreadyQueued(uint256 sessionId, uint32 occurrence, uint32 index);
    error QueueFull(uint256 sessionId, uint32 occurrence, uint16 maxQueue);
    error UnknownEntry(uint256 sessionId, uint32 occurrence, uint32 index);
    error NotQueued(uint256 sessionId, address account);
    error SlotAlreadyStarted(uint256 sessionId, uint32 index, uint64 start);
    error NotFloorHolder(uint256 sessionId, address account, address holder);
    error ZeroDuration();
    error StartInPast(uint64 start, uint64 now_);
    error OccurrencesOverlap(uint40 duration, uint40 period);
    error MaxQueueOutOfRange(uint16 maxQueue, uint16 cap);
    error DebateNeedsProposal(Kind kind);
    error OpenFloorHasProposal(uint256 proposalId);
    error DebateExists(uint256 proposalId, uint256 sessionId);
    error MalformedProposal();
    error UnknownProposal(uint256 proposalId);
    error ProposalNotOpen(uint256 proposalId, ILivepeerGovernor.ProposalState state);
    error VoteClosesTooSoon(uint256 proposalId, uint64 voteClosesAt);
    error InvalidDefaults();
    error NotAContract(address account);
}
