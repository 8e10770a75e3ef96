// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBondingManager, IPoll, IPollCreator} from "../interfaces/ILivepeer.sol";

/// @title MockPoll
/// @notice Stand-in for Livepeer's Poll with its semantics: votes are taken while
/// `block.number <= endBlock` (on Arbitrum, the L1 block), and refused after with the real
/// poll's revert string.
contract MockPoll is IPoll {
    /// @inheritdoc IPoll
    uint256 public immutable endBlock;

    constructor(uint256 endBlock_) {
        endBlock = endBlock_;
    }

    /// @inheritdoc IPoll
    function vote(uint256 _choiceID) external {
        require(block.number <= endBlock, "poll is over");
        emit Vote(msg.sender, _choiceID);
    }
}

/// @title MockPollCreator
/// @notice Stand-in for Livepeer's PollCreator on Arbitrum: a caller with 100 LPT of pending
/// stake (or an orchestrator with that much total stake) creates a poll that is open for
/// `POLL_PERIOD` blocks, deployed with CREATE as the real one does, so a poll's address follows
/// from this contract's address and nonce.
contract MockPollCreator is IPollCreator {
    /// @notice 33.33%, in parts per million.
    uint256 public constant QUORUM = 333300;
    /// @notice 50%, in parts per million.
    uint256 public constant QUOTA = 500000;
    /// @inheritdoc IPollCreator
    uint256 public constant POLL_PERIOD = 10 * 5760;
    /// @notice The stake a poll's creator needs.
    uint256 public constant POLL_CREATION_COST = 100 ether;

    /// @notice Where stake is read.
    IBondingManager public immutable bondingManager;

    constructor(IBondingManager bondingManager_) {
        bondingManager = bondingManager_;
    }

    /// @inheritdoc IPollCreator
    function createPoll(bytes calldata _proposal) external {
        require(
            bondingManager.pendingStake(msg.sender, 0) >= POLL_CREATION_COST
                || bondingManager.transcoderTotalStake(msg.sender) >= POLL_CREATION_COST,
            "PollCreator#createPoll: INSUFFICIENT_STAKE"
        );
        uint256 endBlock = block.number + POLL_PERIOD;
        MockPoll poll = new MockPoll(endBlock);
        emit PollCreated(address(poll), _proposal, endBlock, QUORUM, QUOTA);
    }
}
