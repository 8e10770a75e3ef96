// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRoundsManager} from "../interfaces/ILivepeer.sol";

/// @title MockRoundsManager
/// @notice Stand-in for Livepeer's RoundsManager: rounds of `roundLength` blocks counted
/// from the block it was deployed in, as the real one counts L1 blocks.
contract MockRoundsManager is IRoundsManager {
    uint256 public roundLength;
    uint256 public lastUpdateRound;
    uint256 public lastUpdateBlock;

    event ParameterUpdate(string param);

    constructor(uint256 roundLength_, uint256 firstRound) {
        roundLength = roundLength_;
        lastUpdateRound = firstRound;
        lastUpdateBlock = block.number;
    }

    /// @notice Change the round length from the current round on, as Livepeer's does.
    function setRoundLength(uint256 roundLength_) external {
        lastUpdateRound = currentRound();
        lastUpdateBlock = currentRoundStartBlock();
        roundLength = roundLength_;
        emit ParameterUpdate("roundLength");
    }

    /// @inheritdoc IRoundsManager
    function currentRound() public view returns (uint256) {
        return lastUpdateRound + (block.number - lastUpdateBlock) / roundLength;
    }

    /// @inheritdoc IRoundsManager
    function currentRoundStartBlock() public view returns (uint256) {
        return lastUpdateBlock + (currentRound() - lastUpdateRound) * roundLength;
    }

    /// @inheritdoc IRoundsManager
    function blockNum() external view returns (uint256) {
        return block.number;
    }
}
