// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBondingManager} from "../interfaces/ILivepeer.sol";

/// @title MockBondingManager
/// @notice Stand-in for Livepeer's BondingManager on local chains and in tests. It emits the
/// events `IBondingManager` declares (Livepeer's own), so the indexer follows it as it
/// follows the real one.
/// @dev The model, kept simple but consistent: a delegator's pending stake is its
/// `bondedAmount` plus the rewards it has not claimed, and an address's total stake
/// (`transcoderTotalStake`) is the pending stake of everyone delegating to it. There is no
/// clock: activation is immediate, unbonding locks are withdrawable from round 0, and a claim
/// names the round it claims through. Where Livepeer refuses the same thing, the revert
/// strings are Livepeer's.
contract MockBondingManager is IBondingManager {
    /// Livepeer's percentages are fractions of a million (MathUtils.PERC_DIVISOR).
    uint256 internal constant PERC_DIVISOR = 1_000_000;

    mapping(address => bool) public active;
    mapping(address => uint256) public bonded;
    mapping(address => address) public delegateOf;
    mapping(address => uint256) public totalStake;
    /// Rewards earned and not yet claimed: part of the pending stake, not of `bonded`.
    mapping(address => uint256) public pendingRewards;
    mapping(address => uint256) public lastClaimRound;
    mapping(address => uint256) public nextUnbondingLockId;
    /// Unbonded stake not yet withdrawn or rebonded, by delegator and lock id.
    mapping(address => mapping(uint256 => uint256)) public unbondingLockAmount;

    /// @notice `delegator` has claimed its earnings through `lastClaimRound`, and the claim
    /// asked for no later round.
    error EarningsAlreadyClaimed(address delegator, uint256 lastClaimRound);

    /// @notice Put `transcoder` in or out of the active set.
    function setActive(address transcoder, bool isActive) external {
        active[transcoder] = isActive;
        if (isActive) emit TranscoderActivated(transcoder, 0);
        else emit TranscoderDeactivated(transcoder, 0);
    }

    /// @notice Set `delegator`'s bonded stake (delegated to `delegate`). Lowering it unbonds
    /// the difference into a new unbonding lock (which `rebond` can bond again). Unclaimed
    /// rewards stay unclaimed, and move with the delegator to `delegate`.
    function setBonded(address delegator, address delegate, uint256 amount) external {
        uint256 previous = bonded[delegator];
        uint256 unclaimed = pendingRewards[delegator];
        totalStake[delegateOf[delegator]] -= previous + unclaimed;
        bonded[delegator] = amount;
        delegateOf[delegator] = delegate;
        totalStake[delegate] += amount + unclaimed;
        if (amount >= previous) {
            emit Bond(delegate, delegate, delegator, amount - previous, amount);
        } else {
            uint256 lockId = nextUnbondingLockId[delegator]++;
            unbondingLockAmount[delegator][lockId] = previous - amount;
            emit Unbond(delegate, delegator, lockId, previous - amount, 0);
        }
    }

    /// @notice `delegator`'s delegate calls reward for a round, and all of the round's `amount`
    /// accrues to `delegator`, unclaimed: its pending stake and its delegate's total stake rise
    /// by `amount`, its `bondedAmount` does not (until `claimEarnings`). Emits `Reward`.
    function accrueReward(address delegator, uint256 amount) external {
        address delegate = delegateOf[delegator];
        require(active[delegate], "transcoder must be active");
        pendingRewards[delegator] += amount;
        totalStake[delegate] += amount;
        emit Reward(delegate, amount);
    }

    /// @notice `delegator` claims its earnings from its last claim through round `endRound`:
    /// its unclaimed rewards become part of its `bondedAmount` (its pending stake is unchanged).
    /// Emits `EarningsClaimed` (fees are always 0 here).
    function claimEarnings(address delegator, uint256 endRound) external {
        uint256 last = lastClaimRound[delegator];
        if (endRound <= last) revert EarningsAlreadyClaimed(delegator, last);
        uint256 rewards = pendingRewards[delegator];
        pendingRewards[delegator] = 0;
        bonded[delegator] += rewards;
        lastClaimRound[delegator] = endRound;
        emit EarningsClaimed(delegateOf[delegator], delegator, rewards, 0, last + 1, endRound);
    }

    /// @notice `delegator` bonds its unbonding lock `unbondingLockId` again, to its delegate.
    /// Emits `Rebond`.
    function rebond(address delegator, uint256 unbondingLockId) external {
        uint256 amount = unbondingLockAmount[delegator][unbondingLockId];
        require(amount != 0, "invalid unbonding lock ID");
        delete unbondingLockAmount[delegator][unbondingLockId];
        address delegate = delegateOf[delegator];
        bonded[delegator] += amount;
        totalStake[delegate] += amount;
        emit Rebond(delegate, delegator, unbondingLockId, amount);
    }

    /// @notice `oldDelegator` transfers `amount` of its bonded stake to `newDelegator`, as
    /// Livepeer's `transferBond` does: unbonded from the old delegator (`Unbond`), its lock
    /// handed over (`TransferBond`) and rebonded by the new one (`Rebond`), to the new
    /// delegator's delegate, or to the old one's if the new delegator has none.
    function transferBond(address oldDelegator, address newDelegator, uint256 amount) external {
        require(amount > 0, "unbond amount must be greater than 0");
        require(amount <= bonded[oldDelegator], "amount is greater than bonded amount");
        address oldDelegate = delegateOf[oldDelegator];
        bonded[oldDelegator] -= amount;
        totalStake[oldDelegate] -= amount;
        uint256 oldLockId = nextUnbondingLockId[oldDelegator]++;
        emit Unbond(oldDelegate, oldDelegator, oldLockId, amount, 0);

        uint256 newLockId = nextUnbondingLockId[newDelegator]++;
        emit TransferBond(oldDelegator, newDelegator, oldLockId, newLockId, amount);

        address newDelegate = delegateOf[newDelegator];
        if (newDelegate == address(0) && bonded[newDelegator] == 0) {
            require(oldDelegate != newDelegator && newDelegator != address(0), "INVALID_DELEGATOR");
            newDelegate = oldDelegate;
            delegateOf[newDelegator] = newDelegate;
        }
        bonded[newDelegator] += amount;
        totalStake[newDelegate] += amount;
        emit Rebond(newDelegate, newDelegator, newLockId, amount);
    }

    /// @notice Slash `transcoder` as Livepeer's Verifier would: `slashAmount` and `finderFee`
    /// are fractions of a million, of its `bondedAmount` and of the penalty. A slashed
    /// orchestrator leaves the active set (`TranscoderDeactivated`). Unclaimed rewards are not
    /// slashed here (Livepeer claims them first). Emits `TranscoderSlashed`.
    function slashTranscoder(address transcoder, address finder, uint256 slashAmount, uint256 finderFee) external {
        uint256 stake = bonded[transcoder];
        if (stake == 0) {
            emit TranscoderSlashed(transcoder, finder, 0, 0);
            return;
        }
        uint256 penalty = stake * slashAmount / PERC_DIVISOR;
        if (active[transcoder]) {
            active[transcoder] = false;
            emit TranscoderDeactivated(transcoder, 0);
        }
        bonded[transcoder] = stake - penalty;
        totalStake[delegateOf[transcoder]] -= penalty;
        uint256 finderReward = finder == address(0) ? 0 : penalty * finderFee / PERC_DIVISOR;
        emit TranscoderSlashed(transcoder, finder, penalty, finderReward);
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
        return (
            bonded[delegator],
            0,
            delegateOf[delegator],
            totalStake[delegator],
            0,
            lastClaimRound[delegator],
            nextUnbondingLockId[delegator]
        );
    }

    /// @inheritdoc IBondingManager
    function pendingStake(address _delegator, uint256 _endRound) external view returns (uint256) {
        _endRound; // unused, as in Livepeer's: the stake is always the current one
        return bonded[_delegator] + pendingRewards[_delegator];
    }

    /// @notice The amount of `delegator`'s unbonding lock `unbondingLockId` (0 once rebonded)
    /// and the round it is withdrawable from (always 0 here), as Livepeer's getter returns them.
    function getDelegatorUnbondingLock(address delegator, uint256 unbondingLockId)
        external
        view
        returns (uint256 amount, uint256 withdrawRound)
    {
        return (unbondingLockAmount[delegator][unbondingLockId], 0);
    }
}
