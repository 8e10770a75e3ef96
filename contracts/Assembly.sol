// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {IAssembly} from "./interfaces/IAssembly.sol";
import {IBondingManager, ILivepeerGovernor, IPollCreator, IRoundsManager} from "./interfaces/ILivepeer.sol";
import {FloorRule} from "./libraries/FloorRule.sol";
import {LivepeerPolls} from "./libraries/LivepeerPolls.sol";
import {LivepeerRoles} from "./libraries/LivepeerRoles.sol";
import {Occurrences} from "./libraries/Occurrences.sol";
import {VoteClock} from "./libraries/VoteClock.sol";

/// @title Assembly
/// @notice The schedule and speaking queue of Livepeer's Assembly. Who holds the floor at
/// any instant is a pure function of this contract's state and the instant (`floorAt`), so
/// every media node computes the same answer and no human chair is needed.
/// @dev Gas is bounded everywhere: each occurrence's queue keeps a lazily advanced head;
/// at most `maxQueue` (<= MAX_QUEUE_CAP) live entries and MAX_QUEUE_CAP withdrawn ones are
/// ever past it, and finished entries are reached by binary search, never by a loop over
/// user-grown storage.
///
/// Withdrawn entries are bounded apart from live ones, and at `withdraw` rather than at
/// `enqueue`, because a request that gave its place back must not keep others out: were
/// withdrawn entries counted against `maxQueue`, or refused at `enqueue` past some total,
/// anyone could lock a queue by asking and withdrawing over and over. A refused withdrawal
/// keeps only the refused request's own place, which it held already, and its holder still
/// gives the time back by yielding the moment the slot starts. Each address may have one
/// withdrawn entry past the head, so exhausting the withdrawn allowance takes MAX_QUEUE_CAP
/// eligible accounts, at least the `maxQueue` that could fill the queue outright with live
/// requests: the allowance gives nobody a way to obstruct others that the queue bound does
/// not already give.
///
/// A withdrawn entry is never removed (not even from the tail, for its index to be reused):
/// an index names one request for good in the events, which the indexer keys its requests
/// by and rolls back by on a reorg, and every index below the head must keep a sorted time
/// for `floorAt`'s binary search of history.
contract Assembly is IAssembly, Ownable2Step {
    /// @inheritdoc IAssembly
    uint16 public constant MAX_QUEUE_CAP = 32;
    /// @inheritdoc IAssembly
    uint40 public constant FOREVER = type(uint40).max;

    /// @inheritdoc IAssembly
    IBondingManager public immutable bondingManager;
    /// @inheritdoc IAssembly
    IRoundsManager public immutable roundsManager;
    /// @inheritdoc IAssembly
    ILivepeerGovernor public immutable governor;
    /// @inheritdoc IAssembly
    address public immutable livepeerToken;
    /// @inheritdoc IAssembly
    IPollCreator public immutable pollCreator;

    /// @inheritdoc IAssembly
    uint256 public sessionCount;
    Defaults internal _defaults;

    mapping(uint256 sessionId => Session) internal _sessions;
    /// @inheritdoc IAssembly
    mapping(uint256 sessionId => uint256) public proposalOf;
    /// @inheritdoc IAssembly
    mapping(uint256 proposalId => uint256) public debateOf;
    /// @inheritdoc IAssembly
    mapping(uint256 sessionId => bool) public signedAudioRequired;
    mapping(bytes32 queueKey => Queue) internal _queues;
    mapping(bytes32 queueKey => mapping(uint256 index => Entry)) internal _entries;

    /// What the floor rule needs of one occurrence: its bounds (the end cut at cancellation)
    /// and the session's slot length. The indexer's `floor::Span` is the same triple.
    struct Span {
        uint256 start;
        uint256 end;
        uint256 slotLength;
    }

    /// @param owner_ Governance: Livepeer's treasury timelock on Arbitrum One, the deployer locally.
    /// @param bondingManager_ Livepeer's BondingManager.
    /// @param roundsManager_ Livepeer's RoundsManager.
    /// @param governor_ Livepeer's governor.
    /// @param livepeerToken_ Livepeer's LPT token.
    /// @param pollCreator_ Livepeer's PollCreator, whose polls are LIP votes.
    /// @param defaults_ Initial defaults.
    constructor(
        address owner_,
        IBondingManager bondingManager_,
        IRoundsManager roundsManager_,
        ILivepeerGovernor governor_,
        address livepeerToken_,
        IPollCreator pollCreator_,
        Defaults memory defaults_
    ) Ownable(owner_) {
        if (address(bondingManager_).code.length == 0) revert NotAContract(address(bondingManager_));
        if (address(roundsManager_).code.length == 0) revert NotAContract(address(roundsManager_));
        if (address(governor_).code.length == 0) revert NotAContract(address(governor_));
        if (address(pollCreator_).code.length == 0) revert NotAContract(address(pollCreator_));
        bondingManager = bondingManager_;
        roundsManager = roundsManager_;
        governor = governor_;
        livepeerToken = livepeerToken_;
        pollCreator = pollCreator_;
        _setDefaults(defaults_);
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc IAssembly
    function createSession(SessionParams calldata p) external onlyOwner returns (uint256 sessionId) {
        if (p.kind == Kind.OpenFloor) {
            if (p.proposalId != 0) revert OpenFloorHasProposal(p.proposalId);
        } else {
            if (p.proposalId == 0) revert DebateNeedsProposal(p.kind);
            uint256 existing = debateOf[p.proposalId];
            if (existing != 0) revert DebateExists(p.proposalId, existing);
        }
        return _createSession(p);
    }

    /// @inheritdoc IAssembly
    function cancelSession(uint256 sessionId) external onlyOwner {
        Session memory s = _session(sessionId);
        if (s.cancelledAt != 0) revert SessionIsCancelled(sessionId);
        (bool live,) = Occurrences.currentOrNext(s, block.timestamp);
        if (!live) revert SessionOver(sessionId);
        _sessions[sessionId].cancelledAt = uint40(block.timestamp);
        emit SessionCancelled(sessionId, uint40(block.timestamp));
    }

    /// @inheritdoc IAssembly
    function setSignedAudio(uint256 sessionId, bool required) external onlyOwner {
        // An unknown id reverts here: a policy for a session yet to exist would bind it
        // unseen by whoever creates it.
        _session(sessionId);
        signedAudioRequired[sessionId] = required;
        emit SignedAudioSet(sessionId, required);
    }

    /// @inheritdoc IAssembly
    function setDefaults(Defaults calldata d) external onlyOwner {
        _setDefaults(d);
    }

    // ------------------------------------------------------------------ debates

    /// @inheritdoc IAssembly
    function openDebate(
        address[] calldata targets,
        uint256[] calldata values,
        bytes[] calldata calldatas,
        bytes32 descriptionHash
    ) external returns (uint256 sessionId) {
        if (targets.length == 0 || targets.length != values.length || targets.length != calldatas.length) {
            revert MalformedProposal();
        }
        uint256 proposalId = governor.hashProposal(targets, values, calldatas, descriptionHash);
        sessionId = debateOf[proposalId];
        if (sessionId != 0) return sessionId;

        ILivepeerGovernor.ProposalState state;
        try governor.state(proposalId) returns (ILivepeerGovernor.ProposalState st) {
            state = st;
        } catch {
            revert UnknownProposal(proposalId);
        }
        if (state != ILivepeerGovernor.ProposalState.Pending && state != ILivepeerGovernor.ProposalState.Active) {
            revert ProposalNotOpen(proposalId, state);
        }

        uint256 closesAt = VoteClock.governorVoteClosesAt(governor, roundsManager, proposalId, _defaults.l1BlockTime);
        sessionId = _openDebate(proposalId, _classify(targets, values), closesAt);
    }

    /// @inheritdoc IAssembly
    function openPollDebate(address poll, uint256 nonce) external returns (uint256 sessionId) {
        uint256 proposalId = uint256(uint160(poll));
        sessionId = debateOf[proposalId];
        if (sessionId != 0) return sessionId;

        if (!LivepeerPolls.validNonce(nonce)) revert InvalidPollNonce(nonce);
        if (LivepeerPolls.createdAt(address(pollCreator), nonce) != poll) revert NotFromPollCreator(poll, nonce);
        if (poll.code.length == 0) revert PollNotDeployed(poll, nonce);
        (bool isPoll, uint256 endBlock) = LivepeerPolls.endBlockOf(poll);
        if (!isPoll) revert NotAPoll(poll);
        uint256 l1Block = roundsManager.blockNum();
        if (l1Block > endBlock) revert PollEnded(poll, endBlock, l1Block);

        uint256 closesAt = VoteClock.pollClosesAt(roundsManager, endBlock, _defaults.l1BlockTime);
        sessionId = _openDebate(proposalId, Kind.LipDebate, closesAt);
    }

    // ------------------------------------------------------------------ the queue

    /// @inheritdoc IAssembly
    function enqueue(uint256 sessionId) external returns (uint32 occurrence, uint32 index) {
        Session memory s = _session(sessionId);
        if (s.cancelledAt != 0) revert SessionIsCancelled(sessionId);
        bool found;
        (found, occurrence) = Occurrences.currentOrNext(s, block.timestamp);
        if (!found) revert SessionOver(sessionId);
        bool orchestrator = LivepeerRoles.requireEligible(bondingManager, msg.sender, s.speakers, _defaults);

        bytes32 key = _queueKey(sessionId, occurrence);
        Queue memory q = _advance(key, s, occurrence);
        if (q.head == q.tail) q.present = 0;
        uint144 bit = uint144(1) << uint8(uint160(msg.sender) % 144);
        if (q.present & bit != 0) {
            (bool queued, uint32 existing,,) = _find(key, q, msg.sender);
            if (queued) revert AlreadyQueued(sessionId, occurrence, existing);
        }
        // Settled, `q.live` counts exactly the live entries whose slot is not over.
        if (q.live >= s.maxQueue) revert QueueFull(sessionId, occurrence, s.maxQueue);
        q.present |= bit;

        index = q.tail;
        _entries[key][index] = Entry({speaker: msg.sender, time: uint40(block.timestamp), yieldedAt: 0, withdrawn: false});
        q.tail = index + 1;
        unchecked {
            ++q.live; // below maxQueue <= MAX_QUEUE_CAP, checked above
        }
        _queues[key] = q;
        emit Enqueued(sessionId, occurrence, index, msg.sender, uint40(block.timestamp), orchestrator);
    }

    /// @inheritdoc IAssembly
    /// @dev The two refusals bound the withdrawn entries past the head at MAX_QUEUE_CAP; the
    /// contract's developer notes say why they are made here and not at `enqueue`.
    function withdraw(uint256 sessionId) external {
        Session memory s = _session(sessionId);
        if (s.cancelledAt != 0) revert SessionIsCancelled(sessionId);
        // Entries of earlier occurrences are over, so a live one is in this occurrence.
        (bool found, uint32 occurrence) = Occurrences.currentOrNext(s, block.timestamp);
        if (!found) revert NotQueued(sessionId, msg.sender);
        bytes32 key = _queueKey(sessionId, occurrence);
        Queue memory q = _advance(key, s, occurrence);
        uint32 index;
        bool withdrew;
        uint32 withdrawnIndex;
        (found, index, withdrew, withdrawnIndex) = _find(key, q, msg.sender);
        if (!found) revert NotQueued(sessionId, msg.sender);

        (uint256 start,) = _slotOf(key, q, _span(s, occurrence), index);
        if (start <= block.timestamp) revert SlotAlreadyStarted(sessionId, index, uint64(start));
        if (withdrew) revert WithdrawnRequestQueued(sessionId, occurrence, withdrawnIndex);
        if (q.tail - q.head - q.live >= MAX_QUEUE_CAP) revert TooManyWithdrawn(sessionId, occurrence, MAX_QUEUE_CAP);

        _entries[key][index].withdrawn = true;
        unchecked {
            --q.live; // counts the entry withdrawn here
        }
        _queues[key] = q;
        emit Withdrawn(sessionId, occurrence, index, msg.sender, uint40(block.timestamp));
    }

    /// @inheritdoc IAssembly
    function yieldFloor(uint256 sessionId) external {
        Session memory s = _session(sessionId);
        (bool found, uint32 occurrence) = Occurrences.containing(s, block.timestamp);
        if (!found) revert NotInSession(sessionId, uint64(block.timestamp));
        bytes32 key = _queueKey(sessionId, occurrence);
        Queue memory q = _advance(key, s, occurrence);
        if (q.head == q.tail) revert NotFloorHolder(sessionId, msg.sender, address(0));

        Entry storage e = _entries[key][q.head];
        (uint256 occStart, uint256 occEnd) = Occurrences.bounds(s, occurrence);
        (uint256 start,) = FloorRule.slot(q.cursor, occStart, occEnd, e.time, 0, s.slotLength);
        address holder = start <= block.timestamp ? e.speaker : address(0);
        if (holder != msg.sender) revert NotFloorHolder(sessionId, msg.sender, holder);

        // The slot is over: settle it here rather than leave it to the next caller.
        e.yieldedAt = uint40(block.timestamp);
        e.time = uint40(start);
        q.cursor = uint40(block.timestamp);
        ++q.head;
        --q.live;
        _queues[key] = q;
        emit Yielded(sessionId, occurrence, q.head - 1, msg.sender, uint40(block.timestamp));
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IAssembly
    function floorAt(uint256 sessionId, uint256 t) public view returns (Floor memory f) {
        Session memory s = _session(sessionId);
        (bool found, uint32 occurrence) = Occurrences.containing(s, t);
        if (!found) return f;
        bytes32 key = _queueKey(sessionId, occurrence);
        Queue memory q = _queues[key];
        // Settled history (t before the cursor) is sorted, so it is binary searched; the
        // rest is at most `maxQueue` live and MAX_QUEUE_CAP withdrawn entries past the head.
        if (t < q.cursor) f = _settledFloorAt(key, q, _span(s, occurrence), t);
        else f = _liveFloorAt(key, q, _span(s, occurrence), t);
        f.occurrence = occurrence;
    }

    /// @inheritdoc IAssembly
    function slotOf(uint256 sessionId, uint32 occurrence, uint32 index) external view returns (uint64 start, uint64 end) {
        Session memory s = _session(sessionId);
        bytes32 key = _queueKey(sessionId, occurrence);
        Queue memory q = _queues[key];
        if (index >= q.tail) revert UnknownEntry(sessionId, occurrence, index);
        (uint256 a, uint256 b) = _slotOf(key, q, _span(s, occurrence), index);
        return (uint64(a), uint64(b));
    }

    /// @inheritdoc IAssembly
    function floorNow(uint256 sessionId) external view returns (Floor memory) {
        return floorAt(sessionId, block.timestamp);
    }

    /// @inheritdoc IAssembly
    function getSession(uint256 sessionId) external view returns (Session memory) {
        return _session(sessionId);
    }

    /// @inheritdoc IAssembly
    function occurrenceBounds(uint256 sessionId, uint32 occurrence) external view returns (uint64 start, uint64 end) {
        (uint256 a, uint256 b) = Occurrences.bounds(_session(sessionId), occurrence);
        return (uint64(a), uint64(b));
    }

    /// @inheritdoc IAssembly
    function getQueue(uint256 sessionId, uint32 occurrence) external view returns (Queue memory) {
        return _queues[_queueKey(sessionId, occurrence)];
    }

    /// @inheritdoc IAssembly
    function getEntry(uint256 sessionId, uint32 occurrence, uint32 index) external view returns (Entry memory) {
        return _entries[_queueKey(sessionId, occurrence)][index];
    }

    /// @inheritdoc IAssembly
    function defaults() external view returns (Defaults memory) {
        return _defaults;
    }

    // ------------------------------------------------------------------ internals

    function _createSession(SessionParams memory p) internal returns (uint256 sessionId) {
        Defaults memory d = _defaults;
        uint32 slotLength = p.slotLength == 0 ? d.slotLength : p.slotLength;
        uint16 maxQueue = p.maxQueue == 0 ? d.maxQueue : p.maxQueue;
        if (p.duration == 0) revert ZeroDuration();
        if (p.start < block.timestamp) revert StartInPast(p.start, uint64(block.timestamp));
        if (p.period != 0 && p.duration > p.period) revert OccurrencesOverlap(p.duration, p.period);
        if (maxQueue > MAX_QUEUE_CAP) revert MaxQueueOutOfRange(maxQueue, MAX_QUEUE_CAP);
        uint32 count = p.period == 0 ? 1 : p.count;

        sessionId = ++sessionCount;
        _sessions[sessionId] = Session({
            start: p.start,
            duration: p.duration,
            period: p.period,
            count: count,
            slotLength: slotLength,
            maxQueue: maxQueue,
            speakers: p.speakers,
            kind: p.kind,
            cancelledAt: 0
        });
        if (p.proposalId != 0) {
            proposalOf[sessionId] = p.proposalId;
            debateOf[p.proposalId] = sessionId;
        }
        emit SessionCreated(
            sessionId, p.kind, p.proposalId, p.start, p.duration, p.period, count, slotLength, maxQueue, p.speakers
        );
    }

    /// Schedules the debate of a vote that closes near `closesAt`: it ends `debateLead` before
    /// the vote closes, lasts up to `debateDuration`, and starts no sooner than `debateNotice`
    /// from now.
    function _openDebate(uint256 proposalId, Kind kind, uint256 closesAt) internal returns (uint256 sessionId) {
        Defaults memory d = _defaults;
        uint256 end = closesAt > d.debateLead ? closesAt - d.debateLead : 0;
        uint256 start = end > d.debateDuration ? end - d.debateDuration : 0;
        if (start < block.timestamp + d.debateNotice) start = block.timestamp + d.debateNotice;
        if (end < start + d.slotLength) revert VoteClosesTooSoon(proposalId, uint64(closesAt));
        sessionId = _createSession(
            SessionParams({
                start: uint40(start),
                duration: uint40(end - start),
                period: 0,
                count: 1,
                slotLength: 0,
                maxQueue: 0,
                speakers: d.debateSpeakers,
                kind: kind,
                proposalId: proposalId
            })
        );
        emit DebateOpened(proposalId, sessionId, uint64(closesAt));
    }

    /// A governor proposal that calls the LPT token or moves ETH spends the treasury. Any
    /// other is governance housekeeping, never an LIP: LIPs are voted on in PollCreator's
    /// polls (LIP-1, LIP-16).
    function _classify(address[] calldata targets, uint256[] calldata values) internal view returns (Kind) {
        for (uint256 i; i < targets.length; ++i) {
            if (targets[i] == livepeerToken || values[i] != 0) return Kind.TreasuryDebate;
        }
        return Kind.GovernorDebate;
    }

    function _setDefaults(Defaults memory d) internal {
        if (
            d.slotLength == 0 || d.maxQueue == 0 || d.maxQueue > MAX_QUEUE_CAP || d.debateDuration < d.slotLength
                || d.l1BlockTime == 0
        ) revert InvalidDefaults();
        _defaults = d;
        emit DefaultsChanged(d);
    }

    /// Settles every entry whose slot is over by now, and every withdrawn entry before the
    /// first that is not, so that `live` counts only entries still waiting or speaking.
    /// Returns the queue (stored only if it moved; callers store it anyway when they change
    /// it).
    function _advance(bytes32 key, Session memory s, uint32 occurrence) internal returns (Queue memory q) {
        q = _queues[key];
        if (q.head == q.tail) return q;
        (uint256 occStart, uint256 occEnd) = Occurrences.bounds(s, occurrence);
        uint32 head = q.head;
        uint256 cursor = q.cursor;
        while (head < q.tail) {
            Entry storage e = _entries[key][head];
            if (e.withdrawn) {
                // A withdrawn entry settles as an empty slot at the cursor, which keeps
                // settled times sorted for `floorAt`'s binary search.
                e.time = uint40(cursor);
            } else {
                (uint256 start, uint256 end) =
                    FloorRule.slot(cursor, occStart, occEnd, e.time, e.yieldedAt, s.slotLength);
                if (end > block.timestamp) break;
                e.time = uint40(start);
                cursor = end;
                unchecked {
                    --q.live; // counts the entry settled here
                }
            }
            ++head;
        }
        if (head != q.head) {
            q.head = head;
            q.cursor = uint40(cursor);
            _queues[key] = q;
        }
    }

    function _settledFloorAt(bytes32 key, Queue memory q, Span memory span, uint256 t)
        internal
        view
        returns (Floor memory f)
    {
        uint256 lo;
        uint256 hi = q.head;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (_entries[key][mid].time <= t) lo = mid + 1;
            else hi = mid;
        }
        if (lo == 0) return f;
        Entry memory e = _entries[key][lo - 1];
        if (e.withdrawn) return f;
        (uint256 start, uint256 end) =
            FloorRule.slot(e.time, span.start, span.end, e.time, e.yieldedAt, span.slotLength);
        if (t >= start && t < end) f = _floor(e.speaker, start, end, lo - 1);
    }

    function _liveFloorAt(bytes32 key, Queue memory q, Span memory span, uint256 t)
        internal
        view
        returns (Floor memory f)
    {
        uint256 cursor = q.cursor;
        for (uint256 i = q.head; i < q.tail; ++i) {
            Entry memory e = _entries[key][i];
            if (e.withdrawn) continue;
            (uint256 start, uint256 end) =
                FloorRule.slot(cursor, span.start, span.end, e.time, e.yieldedAt, span.slotLength);
            if (t < start) break;
            if (t < end) return _floor(e.speaker, start, end, i);
            cursor = end;
        }
    }

    /// The slot the rule gives entry `index`: read back if settled, else walked to from the
    /// head (at most 2 * MAX_QUEUE_CAP steps). A withdrawn entry gets an empty slot.
    function _slotOf(bytes32 key, Queue memory q, Span memory span, uint256 index)
        internal
        view
        returns (uint256 start, uint256 end)
    {
        if (index < q.head) {
            Entry memory e = _entries[key][index];
            if (e.withdrawn) return (e.time, e.time);
            return FloorRule.slot(e.time, span.start, span.end, e.time, e.yieldedAt, span.slotLength);
        }
        uint256 cursor = q.cursor;
        for (uint256 i = q.head; i <= index; ++i) {
            Entry memory e = _entries[key][i];
            if (e.withdrawn) {
                (start, end) = (cursor, cursor);
                continue;
            }
            (start, end) = FloorRule.slot(cursor, span.start, span.end, e.time, e.yieldedAt, span.slotLength);
            cursor = end;
        }
    }

    /// The speaker's live (unsettled, not withdrawn) entry, if any, and the last entry they
    /// withdrew before it that is still past the head, if any (an address cannot withdraw
    /// an entry after its live one: it cannot ask again while live). Scanning the at most
    /// 2 * MAX_QUEUE_CAP entries past the head (2,100 gas each), behind the `present` filter
    /// at `enqueue`, costs less than an index per address, whose first write alone is
    /// 22,100 gas.
    function _find(bytes32 key, Queue memory q, address speaker)
        internal
        view
        returns (bool found, uint32 index, bool withdrew, uint32 withdrawnIndex)
    {
        for (uint32 i = q.head; i < q.tail; ++i) {
            Entry storage e = _entries[key][i];
            if (e.speaker != speaker) continue;
            if (!e.withdrawn) return (true, i, withdrew, withdrawnIndex);
            (withdrew, withdrawnIndex) = (true, i);
        }
    }

    function _span(Session memory s, uint32 occurrence) internal pure returns (Span memory span) {
        (span.start, span.end) = Occurrences.bounds(s, occurrence);
        span.slotLength = s.slotLength;
    }

    function _session(uint256 sessionId) internal view returns (Session memory s) {
        s = _sessions[sessionId];
        if (s.duration == 0) revert UnknownSession(sessionId);
    }

    function _queueKey(uint256 sessionId, uint32 occurrence) internal pure returns (bytes32 key) {
        assembly ("memory-safe") {
            mstore(0x00, sessionId)
            mstore(0x20, occurrence)
            key := keccak256(0x00, 0x40)
        }
    }

    /// The searches that call this see one occurrence's queue without knowing which
    /// occurrence it is; `floorAt` fills that in.
    function _floor(address speaker, uint256 start, uint256 end, uint256 index) internal pure returns (Floor memory) {
        return Floor({speaker: speaker, start: uint64(start), end: uint64(end), occurrence: 0, index: uint32(index)});
    }
}
