// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ILivepeerGovernor, IRoundsManager} from "../interfaces/ILivepeer.sol";

/// @title GovernorClock
/// @notice Adapter that turns Livepeer governor deadlines (round numbers) into wall-clock time.
///
/// Livepeer's governor uses the round as its clock: a proposal is open while
/// `currentRound() <= proposalDeadline(id)`, so its vote closes when round `deadline + 1`
/// begins. Rounds are `roundLength()` L1 blocks long, so that round begins at L1 block
///
///     closeBlock = currentRoundStartBlock() + (deadline + 1 - currentRound()) * roundLength()
///
/// and, with L1 blocks every `l1BlockTime` seconds (12 since the Merge), at roughly
///
///     closesAt = block.timestamp + (closeBlock - blockNum()) * l1BlockTime.
///
/// It is an estimate (missed L1 slots make it late, never early, and a change of
/// `roundLength` mid-vote moves it), which is why debates end a governance-set lead before it.
library GovernorClock {
    /// @notice Estimated unix time at which the vote on `proposalId` closes.
    function voteClosesAt(ILivepeerGovernor governor, IRoundsManager rounds, uint256 proposalId, uint256 l1BlockTime)
        internal
        view
        returns (uint256)
    {
        uint256 deadline = governor.proposalDeadline(proposalId);
        uint256 round = rounds.currentRound();
        uint256 nowBlock = rounds.blockNum();
        if (deadline < round) return block.timestamp;
        uint256 closeBlock = rounds.currentRoundStartBlock() + (deadline + 1 - round) * rounds.roundLength();
        if (closeBlock <= nowBlock) return block.timestamp;
        return block.timestamp + (closeBlock - nowBlock) * l1BlockTime;
    }
}
