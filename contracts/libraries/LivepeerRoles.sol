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
    /// as a delegator with a stake of at least `defaults.minDelegatorStake`).
    /// @dev A delegator's stake is its `pendingStake` (bonded plus unclaimed rewards), as
    /// Livepeer's own PollCreator counts it: `bondedAmount` alone lags for as long as the
    /// delegator does not claim. `defaults` is a storage pointer so that orchestrators, the
    /// common case, never pay for reading the stake threshold.
    function requireEligible(
        IBondingManager bondingManager,
        address account,
        IAssembly.Speakers speakers,
        IAssembly.Defaults storage defaults
    ) internal view returns (bool orchestrator) {
        if (bondingManager.isActiveTranscoder(account)) return true;
        if (speakers == IAssembly.Speakers.OrchestratorsAndDelegators) {
            uint256 stake = bondingManager.pendingStake(account, 0);
            if (stake != 0 && stake >= defaults.minDelegatorStake) return false;
        }
        revert IAssembly.NotEligible(account, speakers);
    }
}
