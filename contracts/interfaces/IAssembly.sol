// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBondingManager, ILivepeerGovernor, IPollCreator, IRoundsManager} from "./ILivepeer.sol";

/// @title IAssembly
/// @notice Assembly's on-chain floor, its whole public surface: types, events, errors and
/// functions. The events are complete: an indexer that replays them in order, with the rule
/// in `FloorRule`, rebuilds every session, queue and slot without reading storage.
/// @dev Each error's `@notice` is also the wording the web client shows for it
/// (`web/src/reasons.json`; `web/tests/reasons.mjs` checks that the two agree).
interface IAssembly {
    /// @notice What a session is for. An LIP debate is about a PollCreator poll, and its
    /// proposal id is the poll's address (as a uint256); a treasury or governor debate is about
    /// a governor proposal (one that spends, and one that does not), named by its id.
    enum Kind {
        OpenFloor,
        LipDebate,
        TreasuryDebate,
        GovernorDebate
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
    /// over and `Entry.time` holds the slot's start. `live` counts the entries from `head`
    /// to `tail` that were not withdrawn; it is what `maxQueue` bounds, so the rest
    /// (`tail - head - live`) are withdrawn entries that hold no place. (Settling is lazy: a
    /// live entry whose slot is over stays counted until the next transaction settles it.)
    /// `cursor` is the end of the last settled slot, the earliest the head entry may start.
    /// `present` is a one-hash Bloom filter of who has asked since the queue was last empty:
    /// a clear bit proves an address has no live entry, which spares most requests a scan
    /// of the queue.
    struct Queue {
        uint32 head;
        uint32 tail;
        uint8 live;
        uint40 cursor;
        uint144 present;
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

    /// @notice Governance set whether `sessionId` requires signed audio: when it does, nodes
    /// forward only audio whose speaking key the floor holder's wallet certified and whose
    /// frames that key signed; otherwise unsigned or altered audio is forwarded and flagged.
    event SignedAudioSet(uint256 indexed sessionId, bool required);
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
    /// @notice A debate was scheduled for a governor proposal or a poll (`proposalId` is then the
    /// poll's address) whose vote closes near `voteClosesAt`.
    event DebateOpened(uint256 indexed proposalId, uint256 indexed sessionId, uint64 voteClosesAt);

    /// @notice There is no such session.
    error UnknownSession(uint256 sessionId);
    /// @notice The session was cancelled.
    error SessionIsCancelled(uint256 sessionId);
    /// @notice The session is over.
    error SessionOver(uint256 sessionId);
    /// @notice The session is not open now.
    error NotInSession(uint256 sessionId, uint64 at);
    /// @notice This wallet may not speak here: not an active orchestrator (nor bonded enough, where delegators may speak).
    error NotEligible(address account, Speakers speakers);
    /// @notice You are already in the queue.
    error AlreadyQueued(uint256 sessionId, uint32 occurrence, uint32 index);
    /// @notice The queue is full.
    error QueueFull(uint256 sessionId, uint32 occurrence, uint16 maxQueue);
    /// @notice Too many withdrawn requests are still in the queue: yield when your turn comes instead.
    error TooManyWithdrawn(uint256 sessionId, uint32 occurrence, uint16 cap);
    /// @notice A request you withdrew is still in the queue: yield when your turn comes instead.
    error WithdrawnRequestQueued(uint256 sessionId, uint32 occurrence, uint32 index);
    /// @notice The queue has no entry at that position.
    error UnknownEntry(uint256 sessionId, uint32 occurrence, uint32 index);
    /// @notice You are not in the queue.
    error NotQueued(uint256 sessionId, address account);
    /// @notice Your slot has already started: yield instead.
    error SlotAlreadyStarted(uint256 sessionId, uint32 index, uint64 start);
    /// @notice You do not hold the floor.
    error NotFloorHolder(uint256 sessionId, address account, address holder);
    /// @notice A session must last longer than zero seconds.
    error ZeroDuration();
    /// @notice A session cannot start in the past.
    error StartInPast(uint64 start, uint64 now_);
    /// @notice A recurring session's occurrences would overlap: its duration is longer than its period.
    error OccurrencesOverlap(uint40 duration, uint40 period);
    /// @notice The queue bound is above the hard cap.
    error MaxQueueOutOfRange(uint16 maxQueue, uint16 cap);
    /// @notice A debate must name the governance proposal it is about.
    error DebateNeedsProposal(Kind kind);
    /// @notice An open floor cannot name a governance proposal.
    error OpenFloorHasProposal(uint256 proposalId);
    /// @notice That proposal already has a debate.
    error DebateExists(uint256 proposalId, uint256 sessionId);
    /// @notice The proposal's actions are malformed: none, or targets, values and calldatas of different lengths.
    error MalformedProposal();
    /// @notice The governor does not know that proposal.
    error UnknownProposal(uint256 proposalId);
    /// @notice The proposal is no longer pending or open for votes.
    error ProposalNotOpen(uint256 proposalId, ILivepeerGovernor.ProposalState state);
    /// @notice The vote closes too soon to hold a debate before it.
    error VoteClosesTooSoon(uint256 proposalId, uint64 voteClosesAt);
    /// @notice That is not a nonce a contract can have created a poll with.
    error InvalidPollNonce(uint256 nonce);
    /// @notice That address is not the poll Livepeer's PollCreator created with that nonce: a poll of another creator, or the wrong nonce.
    error NotFromPollCreator(address poll, uint256 nonce);
    /// @notice The PollCreator has not created that poll yet.
    error PollNotDeployed(address poll, uint256 nonce);
    /// @notice That contract does not answer as a Livepeer poll does.
    error NotAPoll(address poll);
    /// @notice The poll's vote is over.
    error PollEnded(address poll, uint256 endBlock, uint256 l1Block);
    /// @notice A default is out of range: zero where a value is needed, a queue bound over the cap, or a debate shorter than a slot.
    error InvalidDefaults();
    /// @notice A Livepeer contract address has no code.
    error NotAContract(address account);

    // ------------------------------------------------------------------ configuration

    /// @notice Hard bound on any queue's live entries (`maxQueue` is at most this), and on
    /// the withdrawn entries it holds past its head; together they bound every loop in the
    /// contract.
    function MAX_QUEUE_CAP() external view returns (uint16);

    /// @notice A session duration meaning "always in session".
    function FOREVER() external view returns (uint40);

    /// @notice Livepeer's BondingManager (a proxy whose address never changes).
    function bondingManager() external view returns (IBondingManager);

    /// @notice Livepeer's RoundsManager, used to turn vote deadlines into time.
    function roundsManager() external view returns (IRoundsManager);

    /// @notice Livepeer's governor, whose proposals get debates.
    function governor() external view returns (ILivepeerGovernor);

    /// @notice Livepeer's token; a proposal that calls it (or moves ETH) spends the treasury.
    function livepeerToken() external view returns (address);

    /// @notice Livepeer's PollCreator, whose polls are the votes on LIPs.
    function pollCreator() external view returns (IPollCreator);

    // ------------------------------------------------------------------ governance

    /// @notice Schedule a session (one-off, recurring or always-on). Governance only.
    /// @param p The schedule; zero `slotLength`/`maxQueue` take the defaults.
    /// @return sessionId The new session's id.
    function createSession(SessionParams calldata p) external returns (uint256 sessionId);

    /// @notice Cancel a session: nobody holds its floor from now on. Governance only.
    /// @param sessionId The session.
    function cancelSession(uint256 sessionId) external;

    /// @notice Require (or stop requiring) signed audio in a session: each speaker's client
    /// signs its audio with a key their wallet certified for the session, and nodes forward
    /// no audio that is unsigned or fails the check. Governance only; takes effect at once,
    /// for the occurrence in progress too.
    /// @param sessionId The session.
    /// @param required Whether signed audio is required.
    function setSignedAudio(uint256 sessionId, bool required) external;

    /// @notice Replace the defaults. Governance only.
    /// @param d The new defaults.
    function setDefaults(Defaults calldata d) external;

    // ------------------------------------------------------------------ debates

    /// @notice Schedule the debate of a governance proposal; anyone may call it, and calling
    /// it again returns the same session. The proposal is named by its actions (from its
    /// `ProposalCreated` event) rather than its id: the governor hashes them into the id, so
    /// the caller cannot lie about them, and they tell a treasury spend (a call to the LPT
    /// token, or ETH moved) from any other governor proposal.
    /// @dev The debate ends `debateLead` before the vote closes (see `VoteClock`), lasts
    /// `debateDuration`, and starts no sooner than `debateNotice` from now.
    /// @return sessionId The debate's session.
    function openDebate(
        address[] calldata targets,
        uint256[] calldata values,
        bytes[] calldata calldatas,
        bytes32 descriptionHash
    ) external returns (uint256 sessionId);

    /// @notice Schedule the debate of an LIP's poll; anyone may call it, and calling it again
    /// returns the same session. The caller names the poll and the PollCreator nonce it was
    /// created with; the contract recomputes the address CREATE gave it (see `LivepeerPolls`),
    /// so no other contract can pass for a poll. The debate is timed as `openDebate`'s, from the
    /// poll's `endBlock` read against RoundsManager's L1 `blockNum()`.
    /// @param poll The poll's address (from PollCreator's `PollCreated` event).
    /// @param nonce PollCreator's account nonce when it created the poll (its first poll has 1).
    /// @return sessionId The debate's session; its proposal id is `uint160(poll)`.
    function openPollDebate(address poll, uint256 nonce) external returns (uint256 sessionId);

    // ------------------------------------------------------------------ the queue

    /// @notice Ask for the floor in the session's current occurrence (or its next one, if
    /// none is in progress). Eligibility is read from Livepeer's BondingManager now. Refused
    /// with `QueueFull` when `maxQueue` live requests (not withdrawn, slot not over) wait
    /// or hold the floor; withdrawn requests take no place.
    /// @param sessionId The session.
    /// @return occurrence The occurrence queued for.
    /// @return index The entry's position in that occurrence's queue.
    function enqueue(uint256 sessionId) external returns (uint32 occurrence, uint32 index);

    /// @notice Leave the queue before your slot starts (once it has, use `yieldFloor`).
    /// A withdrawn request stays in the queue, taking no time and no place, until the
    /// requests ahead of it are over. While it does, you may ask again but not withdraw
    /// again (`WithdrawnRequestQueued`), and nobody may withdraw while `MAX_QUEUE_CAP` withdrawn
    /// requests are in the queue (`TooManyWithdrawn`); either way, yielding the moment your
    /// slot starts gives the time back just the same.
    /// @param sessionId The session.
    function withdraw(uint256 sessionId) external;

    /// @notice End your own slot now, handing the floor to the next in line.
    /// @param sessionId The session.
    function yieldFloor(uint256 sessionId) external;

    // ------------------------------------------------------------------ views

    /// @notice Number of sessions created; ids run from 1 to this.
    function sessionCount() external view returns (uint256);

    /// @notice Whether a session requires signed audio (see `setSignedAudio`).
    /// @param sessionId The session.
    function signedAudioRequired(uint256 sessionId) external view returns (bool);

    /// @notice The proposal a debate session is about (0 for an open floor).
    function proposalOf(uint256 sessionId) external view returns (uint256);

    /// @notice The debate session of a governor proposal, or of a poll by `uint160(poll)` (0 if it has none).
    function debateOf(uint256 proposalId) external view returns (uint256);

    /// @notice Who holds the floor of `sessionId` at instant `t` (unix seconds), by the rule
    /// in `FloorRule`. For past instants the answer is final; for future ones it is what
    /// the present queue implies (later requests, yields and withdrawals may change it).
    /// @param sessionId The session.
    /// @param t The instant.
    /// @return f The holder and slot, or a zero speaker when nobody holds the floor.
    function floorAt(uint256 sessionId, uint256 t) external view returns (Floor memory f);

    /// @notice The slot the rule gives entry `index` of an occurrence's queue: final once
    /// settled, otherwise as things stand. A withdrawn entry has an empty slot.
    /// @return start Slot start.
    /// @return end Slot end (exclusive); equal to `start` for an empty slot.
    function slotOf(uint256 sessionId, uint32 occurrence, uint32 index) external view returns (uint64 start, uint64 end);

    /// @notice Who holds the floor of `sessionId` now.
    function floorNow(uint256 sessionId) external view returns (Floor memory);

    /// @notice A session's schedule.
    function getSession(uint256 sessionId) external view returns (Session memory);

    /// @notice Bounds of an occurrence of a session (its end cut at cancellation).
    function occurrenceBounds(uint256 sessionId, uint32 occurrence) external view returns (uint64 start, uint64 end);

    /// @notice The queue of one occurrence.
    function getQueue(uint256 sessionId, uint32 occurrence) external view returns (Queue memory);

    /// @notice One entry of an occurrence's queue.
    function getEntry(uint256 sessionId, uint32 occurrence, uint32 index) external view returns (Entry memory);

    /// @notice The defaults in force.
    function defaults() external view returns (Defaults memory);
}
