// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ILivepeerGovernor, IRoundsManager} from "../interfaces/ILivepeer.sol";

/// @title VoteClock
/// @notice Adapter that turns Livepeer's vote deadlines, which are counted in L1 blocks, into
/// wall-clock time.
///
/// Both of Livepeer's votes close at an L1 block. A governor proposal is open while
/// `currentRound() <= proposalDeadline(id)`, so it closes when round `deadline + 1` begins;
/// rounds are `roundLength()` L1 blocks long, so that round begins at L1 block
///
///     closeBlock = currentRoundStartBlock() + (deadline + 1 - currentRound()) * roundLength().
///
/// A poll takes votes while `block.number <= endBlock` (on Arbitrum `block.number` is the L1
/// block), so it closes at `closeBlock = endBlock + 1`. With L1 blocks every `l1BlockTime`
/// seconds (12 since the Merge), and RoundsManager's `blockNum()` as the L1 block now, either
/// closes at roughly
///
///     closesAt = block.timestamp + (closeBlock - blockNum()) * l1BlockTime.
///
/// It is an estimate (missed L1 slots make it late, never early, and a change of
/// `roundLength` mid-vote moves a governor deadline), which is why debates end a
/// governance-set lead before it.
library VoteClock {
    /// @notice Estimated unix time at which the governor's vote on `proposalId` closes.
    function governorVoteClosesAt(
        ILivepeerGovernor governor,
        IRoundsManager rounds,
        uint256 proposalId,
        uint256 l1BlockTime
    ) internal view returns (uint256) {
        uint256 deadline = governor.proposalDeadline(proposalId);
        uint256 round = rounds.currentRound();
        if (deadline < round) return block.timestamp;
        uint256 closeBlock = rounds.currentRoundStartBlock() + (deadline + 1 - round) * rounds.roundLength();
        return l1BlockAt(rounds, closeBlock, l1BlockTime);
    }

    /// @notice Estimated unix time at which the vote of a poll ending at `endBlock` closes.
    function pollClosesAt(IRoundsManager rounds, uint256 endBlock, uint256 l1BlockTime)
        internal
        view
        returns (uint256)
    {
        return l1BlockAt(rounds, endBlock + 1, l1BlockTime);
    }

    /// @notice Estimated unix time of L1 block `l1Block` (now, if it is not in the future).
    function l1BlockAt(IRoundsManager rounds, uint256 l1Block, uint256 l1BlockTime) internal view returns (uint256) {
        uint256 nowBlock = rounds.blockNum();
        if (l1Block <= nowBlock) return block.timestamp;
        return block.timestamp + (l1Block - nowBlock) * l1BlockTime;
    }
}
