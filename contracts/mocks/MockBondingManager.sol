// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBondingManager, IRoundsManager} from "../interfaces/ILivepeer.sol";

/// @title MockBondingManager
/// @notice Stand-in for Livepeer's BondingManager on local chains and in tests. It emits the
/// events `IBondingManager` declares (Livepeer's own), so the indexer follows it as it
/// follows the real one.
/// @dev The model, kept simple but consistent: a delegator's pending stake is its
/// `bondedAmount` plus the rewards it has not claimed, and an address's total stake
/// (`transcoderTotalStake`) is the pending stake of everyone delegating to it. Activation runs
/// on Livepeer's round clock: `activate` and `resign` take effect in the next round, and the
/// active set holds at most `numActiveTranscoders`, a newcomer with more stake evicting the
/// member with the least (each change announced with the round it takes effect in, as
/// Livepeer announces it). `setActive` is the deployment's shortcut for orchestrators that
/// are active already (or leave at once); the real contract has no such thing. Unbonding
/// locks are withdrawable from round 0, and a claim names the round it claims through. Where
/// Livepeer refuses the same thing, the revert strings are Livepeer's.
contract MockBondingManager is IBondingManager {
    /// Livepeer's percentages are fractions of a million (MathUtils.PERC_DIVISOR).
    uint256 internal constant PERC_DIVISOR = 1_000_000;

    /// Where the current round is read.
    IRoundsManager public immutable rounds;
    /// The most orchestrators the active set holds (Livepeer's `numActiveTranscoders`).
    uint256 public immutable numActiveTranscoders;
    /// The round from which an orchestrator is active (0: never activated).
    mapping(address => uint256) public activationRound;
    /// The round from which it no longer is (0: not scheduled to leave).
    mapping(address => uint256) public deactivationRound;
    /// The next round's active set; never longer than `numActiveTranscoders`.
    address[] internal _pool;
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

    /// @param rounds_ The round clock (Livepeer's RoundsManager, or its mock).
    /// @param numActiveTranscoders_ The active set's size (100 on Arbitrum One).
    constructor(IRoundsManager rounds_, uint256 numActiveTranscoders_) {
        rounds = rounds_;
        numActiveTranscoders = numActiveTranscoders_;
    }

    /// @notice Put `transcoder` in or out of the active set from the current round: a
    /// deployment's or a test's shortcut (the real contract only schedules changes for the
    /// next round; see `activate` and `resign`). Announced with the current round.
    function setActive(address transcoder, bool isActive) external {
        uint256 round = rounds.currentRound();
        if (isActive) {
            _join(transcoder);
            activationRound[transcoder] = round;
            deactivationRound[transcoder] = 0;
            emit TranscoderActivated(transcoder, round);
        } else {
            _leave(transcoder);
            deactivationRound[transcoder] = round;
            emit TranscoderDeactivated(transcoder, round);
        }
    }

    /// @notice Join the active set from the next round, as Livepeer's `transcoder()` does:
    /// when the set is full, `transcoder` takes the place of the member with the least stake if
    /// it has more (that member leaves from the next round), and is not admitted otherwise
    /// (no event, as in Livepeer).
    function activate(address transcoder) external {
        require(!_inPool(transcoder), "transcoder already active");
        uint256 next = rounds.currentRound() + 1;
        if (_pool.length >= numActiveTranscoders) {
            (uint256 at, uint256 least) = _weakest();
            if (totalStake[transcoder] <= least) return;
            address evicted = _pool[at];
            _pool[at] = _pool[_pool.length - 1];
            _pool.pop();
            deactivationRound[evicted] = next;
            emit TranscoderDeactivated(evicted, next);
        }
        _pool.push(transcoder);
        activationRound[transcoder] = next;
        deactivationRound[transcoder] = 0;
        emit TranscoderActivated(transcoder, next);
    }

    /// @notice Leave the active set from the next round.
    function resign(address transcoder) external {
        require(_inPool(transcoder), "transcoder not active");
        _leave(transcoder);
        uint256 next = rounds.currentRound() + 1;
        deactivationRound[transcoder] = next;
        emit TranscoderDeactivated(transcoder, next);
    }

    function _join(address transcoder) internal {
        if (_inPool(transcoder)) return;
        require(_pool.length < numActiveTranscoders, "active set is full");
        _pool.push(transcoder);
    }

    function _leave(address transcoder) internal {
        for (uint256 i; i < _pool.length; ++i) {
            if (_pool[i] == transcoder) {
                _pool[i] = _pool[_pool.length - 1];
                _pool.pop();
                return;
            }
        }
    }

    /// Bounded by `numActiveTranscoders`, as Livepeer's sorted pool is.
    function _inPool(address transcoder) internal view returns (bool) {
        for (uint256 i; i < _pool.length; ++i) {
            if (_pool[i] == transcoder) return true;
        }
        return false;
    }

    function _weakest() internal view returns (uint256 at, uint256 least) {
        least = type(uint256).max;
        for (uint256 i; i < _pool.length; ++i) {
            uint256 stake = totalStake[_pool[i]];
            if (stake < least) (at, least) = (i, stake);
        }
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
        require(_isActive(delegate), "transcoder must be active");
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
        if (_isActive(transcoder)) {
            // Livepeer resigns a slashed orchestrator from the next round; here it leaves at
            // once, which is what Assembly must survive either way.
            _leave(transcoder);
            deactivationRound[transcoder] = rounds.currentRound();
            emit TranscoderDeactivated(transcoder, 0);
        }
        bonded[transcoder] = stake - penalty;
        totalStake[delegateOf[transcoder]] -= penalty;
        uint256 finderReward = finder == address(0) ? 0 : penalty * finderFee / PERC_DIVISOR;
        emit TranscoderSlashed(transcoder, finder, penalty, finderReward);
    }

    /// @inheritdoc IBondingManager
    function isActiveTranscoder(address transcoder) external view returns (bool) {
        return _isActive(transcoder);
    }

    /// Active in the current round: activated by now, and not yet deactivated.
    function _isActive(address transcoder) internal view returns (bool) {
        uint256 from = activationRound[transcoder];
        uint256 until = deactivationRound[transcoder];
        uint256 round = rounds.currentRound();
        return from != 0 && from <= round && (until == 0 || round < until);
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
