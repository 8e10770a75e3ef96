// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBondingManager} from "../interfaces/ILivepeer.sol";
import {IAssembly} from "../interfaces/IAssembly.sol";

/// @title LivepeerRoles
/// @notice Adapter to Livepeer's BondingManager: who may ask for the floor, read live at
/// the moment of asking.
library LivepeerRoles {
    /// @notice Reverts with `NotEligible` unless `account` may speak under `speakers`.
    /// @return orchestrator True if `account` is in the active set (otherwise it qualified
    /// as a delegator with at least `defaults.minDelegatorStake` bonded).
    /// @dev `defaults` is a storage pointer so that orchestrators, the common case, never pay
    /// for reading the stake threshold.
    function requireEligible(
        IBondingManager bondingManager,
        address account,
        IAssembly.Speakers speakers,
        IAssembly.Defaults storage defaults
    ) internal view returns (bool orchestrator) {
        if (bondingManager.isActiveTranscoder(account)) return true;
        if (speakers == IAssembly.Speakers.OrchestratorsAndDelegators) {
            (uint256 bonded,,,,,,) = bondingManager.getDelegator(account);
            if (bonded != 0 && bonded >= defaults.minDelegatorStake) return false;
        }
        revert IAssembly.NotEligible(account, speakers);
    }
}
