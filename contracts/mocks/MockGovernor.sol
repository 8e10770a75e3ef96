// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ILivepeerGovernor, IRoundsManager} from "../interfaces/ILivepeer.sol";

/// @title MockGovernor
/// @notice Stand-in for Livepeer's governor: an OpenZeppelin-style Governor whose clock is
/// the Livepeer round, with OpenZeppelin's proposal ids, states and `ProposalCreated` event.
contract MockGovernor is ILivepeerGovernor {
    struct Proposal {
        uint256 snapshot;
        uint256 deadline;
        bool canceled;
    }

    IRoundsManager public immutable rounds;
    uint256 public votingDelay;
    uint256 public votingPeriod;
    mapping(uint256 => Proposal) public proposals;

    /// @notice The governor has no proposal with that id.
    error GovernorNonexistentProposal(uint256 proposalId);
    /// @notice A proposal with the same actions and description already exists.
    error GovernorDuplicateProposal(uint256 proposalId);

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

    /// @inheritdoc ILivepeerGovernor
    function state(uint256 id) external view returns (ProposalState) {
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
}
