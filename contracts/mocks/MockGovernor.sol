// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ILivepeerGovernor, IRoundsManager} from "../interfaces/ILivepeer.sol";

/// @title MockGovernor
/// @notice Stand-in for Livepeer's governor: an OpenZeppelin-style Governor whose clock is
/// the Livepeer round, with OpenZeppelin's proposal ids, states and `ProposalCreated` event,
/// and LivepeerGovernor's voting: OpenZeppelin 4.9's `castVote` checks and events, counted
/// as Livepeer's GovernorCountingOverridable counts (support 0 against, 1 for, 2 abstain;
/// one vote per account), without its delegator overrides.
/// @dev A voter's weight is what `setVotes` last gave it (0 until then), read when the vote
/// is cast; the real governor reads the voter's stake at the proposal's snapshot round.
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

    IRoundsManager public immutable rounds;
    uint256 public votingDelay;
    uint256 public votingPeriod;
    mapping(uint256 => Proposal) public proposals;
    mapping(address => uint256) internal _votes;
    mapping(uint256 => Tally) internal _tallies;
    mapping(uint256 => mapping(address => bool)) internal _voted;

    /// @notice `delegate`'s voting power changed from `previousBalance` to `newBalance`
    /// (OpenZeppelin's IVotes event, which Livepeer's BondingVotes emits).
    event DelegateVotesChanged(address indexed delegate, uint256 previousBalance, uint256 newBalance);

    /// @notice The governor has no proposal with that id.
    error GovernorNonexistentProposal(uint256 proposalId);
    /// @notice A proposal with the same actions and description already exists.
    error GovernorDuplicateProposal(uint256 proposalId);
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

    /// @notice Create a proposal; voting opens `votingDelay` rounds from now.
    function propose(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        string memory description
    ) external returns (uint256 id) {
        id = hashProposal(targets, values, calldatas, keccak256(bytes(description)));
        if (proposals[id].snapshot != 0) revert GovernorDuplicateProposal(id);
        uint256 snapshot = rounds.currentRound() + votingDelay;
        proposals[id] = Proposal({snapshot: snapshot, deadline: snapshot + votingPeriod, canceled: false});
        emit ProposalCreated(
            id, msg.sender, targets, values, new string[](targets.length), calldatas, snapshot, snapshot + votingPeriod, description
        );
    }

    /// @notice Cancel a proposal.
    function cancel(uint256 id) external {
        if (proposals[id].snapshot == 0) revert GovernorNonexistentProposal(id);
        proposals[id].canceled = true;
        emit ProposalCanceled(id);
    }

    /// @notice Give `account` a voting weight of `weight` for the votes it casts from now on.
    function setVotes(address account, uint256 weight) external {
        uint256 previous = _votes[account];
        _votes[account] = weight;
        emit DelegateVotesChanged(account, previous, weight);
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

    /// @inheritdoc ILivepeerGovernor
    function state(uint256 id) public view returns (ProposalState) {
        Proposal memory p = proposals[id];
        if (p.snapshot == 0) revert GovernorNonexistentProposal(id);
        if (p.canceled) return ProposalState.Canceled;
        uint256 round = rounds.currentRound();
        if (round <= p.snapshot) return ProposalState.Pending;
        if (round <= p.deadline) return ProposalState.Active;
        return ProposalState.Defeated;
    }

    /// @notice The round voting starts after.
    function proposalSnapshot(uint256 id) external view returns (uint256) {
        return proposals[id].snapshot;
    }

    /// @inheritdoc ILivepeerGovernor
    function proposalDeadline(uint256 id) external view returns (uint256) {
        return proposals[id].deadline;
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
