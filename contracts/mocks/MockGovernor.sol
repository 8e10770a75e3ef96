// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ILivepeerGovernor, IRoundsManager} from "../interfaces/ILivepeer.sol";

/// @title MockGovernor
/// @notice Stand-in for Livepeer's governor (LivepeerGovernor: OpenZeppelin 4.9's Governor with
/// GovernorSettings, GovernorTimelockControl, GovernorVotes on the Livepeer round and
/// GovernorVotesQuorumFraction, counted by Livepeer's GovernorCountingOverridable). It has
/// OpenZeppelin 4.9's proposal ids, states, revert strings and events, and its life cycle:
/// Pending, Active, then Succeeded or Defeated by Livepeer's rule (quorum of all votes cast,
/// then `for` at least `quota` of `for` plus `against`), Queued, Executed, or Canceled.
/// @dev Simplified where Assembly does not look: a voter's weight is what `setVotes` last gave
/// it, read when the vote is cast (the real governor reads stake at the snapshot round), with
/// no delegator overrides; the quorum is a number of votes set with `setQuorum` (the real one
/// is a fraction of the total active stake at the snapshot round); quorum and quota apply to
/// every proposal whose vote has ended, as the mock keeps no history; and the governor is its
/// own timelock: it holds the funds and makes the calls the Treasury would.
contract MockGovernor is ILivepeerGovernor {
    struct Proposal {
        uint256 snapshot;
        uint256 deadline;
        bool canceled;
    }

    struct Tally {
        uint256 againstVotes;
        uint256 forVotes;
        uint256 abstainVotes;
    }

    // Kept apart from `Proposal` so that the public `proposals` getter keeps its shape.
    struct Execution {
        uint256 eta;
        bool executed;
    }

    // Livepeer's fractions (quorum numerator, quota) are parts of MathUtils.PERC_DIVISOR.
    uint256 internal constant PERC_DIVISOR = 1_000_000;

    /// @notice The RoundsManager whose round is the governor's clock.
    IRoundsManager public immutable rounds;
    /// @notice Rounds from a proposal's creation to its snapshot round.
    uint256 public votingDelay;
    /// @notice Rounds voting stays open after the snapshot round.
    uint256 public votingPeriod;
    /// @notice Votes a proposer needs (`setVotes`) to propose. 0, so that anyone may propose,
    /// until `setProposalThreshold` says otherwise (Livepeer asks for 100 LPT of stake).
    uint256 public proposalThreshold;
    /// @notice The share of `for` plus `against` votes that `for` needs, in parts per million:
    /// Livepeer's 500000 (50%), its PollCreator's QUOTA. Abstentions count towards the quorum
    /// only.
    uint256 public quota = 500_000;
    /// @notice Seconds a queued proposal waits before it can be executed: the Treasury
    /// timelock's minimum delay, 0 on Livepeer.
    uint256 public minDelay;
    /// @notice Each proposal's snapshot round, deadline round and whether it was cancelled.
    mapping(uint256 => Proposal) public proposals;
    mapping(address => uint256) internal _votes;
    mapping(uint256 => Tally) internal _tallies;
    mapping(uint256 => mapping(address => bool)) internal _voted;
    mapping(uint256 => Execution) internal _executions;
    // Livepeer's quorum is a third of the active stake, never 0 in practice: 1 vote keeps a
    // proposal nobody voted on Defeated, as it would be there.
    uint256 internal _quorum = 1;

    /// @notice `delegate`'s voting power changed from `previousBalance` to `newBalance`
    /// (OpenZeppelin's IVotes event, which Livepeer's BondingVotes emits).
    event DelegateVotesChanged(address indexed delegate, uint256 previousBalance, uint256 newBalance);
    /// @notice A Succeeded proposal was queued; it can be executed from timestamp `eta`
    /// (OpenZeppelin's IGovernor event).
    event ProposalQueued(uint256 proposalId, uint256 eta);
    /// @notice A proposal's actions were carried out (OpenZeppelin's IGovernor event).
    event ProposalExecuted(uint256 proposalId);
    /// @notice The votes needed to propose changed (OpenZeppelin's GovernorSettings event).
    event ProposalThresholdSet(uint256 oldProposalThreshold, uint256 newProposalThreshold);
    /// @notice The votes a proposal needs cast on it changed. (The real governor sets a
    /// fraction of the stake instead and emits `QuorumNumeratorUpdated`.)
    event QuorumSet(uint256 oldQuorum, uint256 newQuorum);
    /// @notice The share of `for` and `against` votes that `for` needs changed, in parts per
    /// million. (Livepeer's quota is fixed when the governor is initialized.)
    event QuotaSet(uint256 oldQuota, uint256 newQuota);
    /// @notice The delay between queueing and execution changed, in seconds (OpenZeppelin's
    /// TimelockController event).
    event MinDelayChange(uint256 oldDuration, uint256 newDuration);

    /// @notice `voteType` is none of 0 (against), 1 (for) and 2 (abstain).
    error InvalidVoteType(uint8 voteType);
    /// @notice The account has already voted on this proposal.
    error VoteAlreadyCast();

    constructor(IRoundsManager rounds_, uint256 votingDelay_, uint256 votingPeriod_) {
        rounds = rounds_;
        votingDelay = votingDelay_;
        votingPeriod = votingPeriod_;
    }

    /// @inheritdoc ILivepeerGovernor
    function hashProposal(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) public pure returns (uint256) {
        return uint256(keccak256(abi.encode(targets, values, calldatas, descriptionHash)));
    }

    /// @notice Create a proposal; voting opens `votingDelay` rounds from now. The caller needs
    /// `proposalThreshold` votes.
    function propose(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        string memory description
    ) external returns (uint256 id) {
        // The real governor reads the proposer's stake in the previous round; the mock keeps
        // only the current weight.
        require(_votes[msg.sender] >= proposalThreshold, "Governor: proposer votes below proposal threshold");
        id = hashProposal(targets, values, calldatas, keccak256(bytes(description)));
        require(targets.length == values.length, "Governor: invalid proposal length");
        require(targets.length == calldatas.length, "Governor: invalid proposal length");
        require(targets.length > 0, "Governor: empty proposal");
        require(proposals[id].snapshot == 0, "Governor: proposal already exists");
        uint256 snapshot = rounds.currentRound() + votingDelay;
        proposals[id] = Proposal({snapshot: snapshot, deadline: snapshot + votingPeriod, canceled: false});
        emit ProposalCreated(
            id, msg.sender, targets, values, new string[](targets.length), calldatas, snapshot, snapshot + votingPeriod, description
        );
    }

    /// @notice Queue a Succeeded proposal: it can be executed `minDelay` seconds from now.
    function queue(address[] memory targets, uint256[] memory values, bytes[] memory calldatas, bytes32 descriptionHash)
        external
        returns (uint256 id)
    {
        id = hashProposal(targets, values, calldatas, descriptionHash);
        require(state(id) == ProposalState.Succeeded, "Governor: proposal not successful");
        uint256 eta = block.timestamp + minDelay;
        _executions[id].eta = eta;
        emit ProposalQueued(id, eta);
    }

    /// @notice Carry out a queued proposal whose delay has passed: call each target with its
    /// value (paid from this contract's balance, to which `msg.value` adds) and calldata.
    /// @dev As on Livepeer, where the governor hands execution to its timelock, a Succeeded
    /// proposal must be queued first and a failing call reverts with the timelock's message.
    function execute(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) external payable returns (uint256 id) {
        id = hashProposal(targets, values, calldatas, descriptionHash);
        ProposalState current = state(id);
        require(
            current == ProposalState.Succeeded || current == ProposalState.Queued, "Governor: proposal not successful"
        );
        Execution storage e = _executions[id];
        require(e.eta != 0 && e.eta <= block.timestamp, "TimelockController: operation is not ready");
        // Marked before the calls, as OpenZeppelin does, so a target calling back finds the
        // proposal Executed and cannot run it twice.
        e.executed = true;
        emit ProposalExecuted(id);
        for (uint256 i; i < targets.length; ++i) {
            (bool success,) = targets[i].call{value: values[i]}(calldatas[i]);
            require(success, "TimelockController: underlying transaction reverted");
        }
    }

    /// @notice Cancel a proposal that is neither cancelled nor executed (on Livepeer, its
    /// proposer while it is Pending, or the Treasury's canceller once queued).
    function cancel(uint256 id) external {
        ProposalState current = state(id);
        require(
            current != ProposalState.Canceled && current != ProposalState.Expired && current != ProposalState.Executed,
            "Governor: proposal not active"
        );
        proposals[id].canceled = true;
        // The timelock forgets a cancelled operation, so its eta reads 0 again.
        delete _executions[id];
        emit ProposalCanceled(id);
    }

    /// @notice Give `account` a voting weight of `weight` for the votes it casts from now on.
    function setVotes(address account, uint256 weight) external {
        uint256 previous = _votes[account];
        _votes[account] = weight;
        emit DelegateVotesChanged(account, previous, weight);
    }

    /// @notice Set the votes an account needs to propose.
    function setProposalThreshold(uint256 newProposalThreshold) external {
        emit ProposalThresholdSet(proposalThreshold, newProposalThreshold);
        proposalThreshold = newProposalThreshold;
    }

    /// @notice Set the votes (for, against and abstaining together) a proposal needs.
    function setQuorum(uint256 newQuorum) external {
        emit QuorumSet(_quorum, newQuorum);
        _quorum = newQuorum;
    }

    /// @notice Set the share of `for` plus `against` that `for` needs, in parts per million.
    function setQuota(uint256 newQuota) external {
        emit QuotaSet(quota, newQuota);
        quota = newQuota;
    }

    /// @notice Set the seconds a queued proposal waits before it can be executed.
    function setMinDelay(uint256 newDelay) external {
        emit MinDelayChange(minDelay, newDelay);
        minDelay = newDelay;
    }

    /// @inheritdoc ILivepeerGovernor
    function castVote(uint256 proposalId, uint8 support) external returns (uint256) {
        return _castVote(proposalId, msg.sender, support, "", "");
    }

    /// @inheritdoc ILivepeerGovernor
    function castVoteWithReason(uint256 proposalId, uint8 support, string calldata reason)
        external
        returns (uint256)
    {
        return _castVote(proposalId, msg.sender, support, reason, "");
    }

    /// @notice As `castVoteWithReason`, with `params`; a vote with non-empty `params` is
    /// announced with `VoteCastWithParams` instead of `VoteCast`.
    function castVoteWithReasonAndParams(uint256 proposalId, uint8 support, string calldata reason, bytes calldata params)
        external
        returns (uint256)
    {
        return _castVote(proposalId, msg.sender, support, reason, params);
    }

    /// @notice `account`'s voting weight, as `setVotes` last set it (`timepoint` is ignored:
    /// the mock keeps no history).
    function getVotes(address account, uint256 timepoint) external view returns (uint256) {
        timepoint;
        return _votes[account];
    }

    /// @notice The votes a proposal needs cast on it, as `setQuorum` last set it (`timepoint`
    /// is ignored: the mock keeps no history).
    function quorum(uint256 timepoint) public view returns (uint256) {
        timepoint;
        return _quorum;
    }

    /// @notice True once `account` has voted on `proposalId`.
    function hasVoted(uint256 proposalId, address account) external view returns (bool) {
        return _voted[proposalId][account];
    }

    /// @notice The weight cast against, for and abstaining on `proposalId`.
    function proposalVotes(uint256 proposalId)
        external
        view
        returns (uint256 againstVotes, uint256 forVotes, uint256 abstainVotes)
    {
        Tally memory t = _tallies[proposalId];
        return (t.againstVotes, t.forVotes, t.abstainVotes);
    }

    /// @notice When a queued proposal can be executed; 0 if it is not queued, was executed or
    /// was cancelled.
    function proposalEta(uint256 proposalId) external view returns (uint256) {
        Execution memory e = _executions[proposalId];
        return e.executed ? 0 : e.eta;
    }

    /// @inheritdoc ILivepeerGovernor
    function state(uint256 id) public view returns (ProposalState) {
        Proposal storage p = proposals[id];
        uint256 snapshot = p.snapshot;
        if (snapshot == 0) revert("Governor: unknown proposal id");
        if (p.canceled) return ProposalState.Canceled;
        uint256 round = rounds.currentRound();
        if (round <= snapshot) return ProposalState.Pending;
        if (round <= p.deadline) return ProposalState.Active;
        // OpenZeppelin looks for Executed first; only a proposal whose vote is over can have
        // been queued or executed (and cancel refuses an executed one), so looking here is the
        // same and spares open proposals, which Assembly asks about, the extra reads.
        Execution memory e = _executions[id];
        if (e.executed) return ProposalState.Executed;
        if (!_quorumReached(id, snapshot) || !_voteSucceeded(id)) return ProposalState.Defeated;
        return e.eta == 0 ? ProposalState.Succeeded : ProposalState.Queued;
    }

    /// @notice The round voting starts after.
    function proposalSnapshot(uint256 id) external view returns (uint256) {
        return proposals[id].snapshot;
    }

    /// @inheritdoc ILivepeerGovernor
    function proposalDeadline(uint256 id) external view returns (uint256) {
        return proposals[id].deadline;
    }

    /// Livepeer's `_quorumReached`: abstentions count, as in "quorum=for,abstain,against".
    function _quorumReached(uint256 id, uint256 snapshot) internal view returns (bool) {
        Tally storage t = _tallies[id];
        return t.againstVotes + t.forVotes + t.abstainVotes >= quorum(snapshot);
    }

    /// Livepeer's `_voteSucceeded`: `for` needs `quota` of `for` plus `against`, rounded down
    /// as MathUtils.percOf rounds, so a tie passes at 50% and a vote with only abstentions
    /// passes too.
    function _voteSucceeded(uint256 id) internal view returns (bool) {
        Tally storage t = _tallies[id];
        return t.forVotes >= (t.againstVotes + t.forVotes) * quota / PERC_DIVISOR;
    }

    /// OpenZeppelin 4.9's `Governor._castVote` with Livepeer's `_countVote`: only while the
    /// proposal is Active, once per account, with a valid support value.
    function _castVote(uint256 id, address account, uint8 support, string memory reason, bytes memory params)
        internal
        returns (uint256 weight)
    {
        require(state(id) == ProposalState.Active, "Governor: vote not currently active");
        if (support > 2) revert InvalidVoteType(support);
        if (_voted[id][account]) revert VoteAlreadyCast();
        _voted[id][account] = true;
        weight = _votes[account];
        Tally storage t = _tallies[id];
        if (support == 0) t.againstVotes += weight;
        else if (support == 1) t.forVotes += weight;
        else t.abstainVotes += weight;
        if (params.length == 0) emit VoteCast(account, id, support, weight, reason);
        else emit VoteCastWithParams(account, id, support, weight, reason, params);
    }
}
