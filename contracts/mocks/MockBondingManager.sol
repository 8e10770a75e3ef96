// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBondingManager} from "../interfaces/ILivepeer.sol";

/// @title MockBondingManager
/// @notice Stand-in for Livepeer's BondingManager on local chains and in tests. It emits the
/// events `IBondingManager` declares (Livepeer's own), so the indexer follows it as it
/// follows the real one.
contract MockBondingManager is IBondingManager {
    mapping(address => bool) public active;
    mapping(address => uint256) public bonded;
    mapping(address => address) public delegateOf;
    mapping(address => uint256) public totalStake;

    /// @notice Put `transcoder` in or out of the active set.
    function setActive(address transcoder, bool isActive) external {
        active[transcoder] = isActive;
        if (isActive) emit TranscoderActivated(transcoder, 0);
        else emit TranscoderDeactivated(transcoder, 0);
    }

    /// @notice Set `delegator`'s bonded stake (delegated to `delegate`).
    function setBonded(address delegator, address delegate, uint256 amount) external {
        uint256 previous = bonded[delegator];
        totalStake[delegateOf[delegator]] -= previous;
        bonded[delegator] = amount;
        delegateOf[delegator] = delegate;
        totalStake[delegate] += amount;
        if (amount >= previous) emit Bond(delegate, delegate, delegator, amount - previous, amount);
        else emit Unbond(delegate, delegator, 0, previous - amount, 0);
    }

    /// @inheritdoc IBondingManager
    function isActiveTranscoder(address transcoder) external view returns (bool) {
        return active[transcoder];
    }

    /// @inheritdoc IBondingManager
    function transcoderTotalStake(address transcoder) external view returns (uint256) {
        return totalStake[transcoder];
    }

    /// @inheritdoc IBondingManager
    function getDelegator(address delegator)
        external
        view
        returns (uint256, uint256, address, uint256, uint256, uint256, uint256)
    {
        return (bonded[delegator], 0, delegateOf[delegator], 0, 0, 0, 0);
    }
}
