// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// The narrow slices of Livepeer's protocol contracts that Assembly and its indexer use: the
// functions they call and the events the indexer follows. Livepeer's own sources declare
// much more; Assembly depends on nothing beyond these, so a protocol upgrade that keeps them
// keeps Assembly working. The events are copied from Livepeer's sources
// (contracts/bonding/IBondingManager.sol; OpenZeppelin's Governor, as LivepeerGovernor's
// deployed ABI shows it): a log matches only if name, types, order and `indexed` all agree,
// and the indexer's production bindings are generated from these declarations.

/// @notice Livepeer's Controller: the registry through which protocol contracts are found.
interface ILivepeerController {
    /// @notice The address registered under `id` (keccak256 of the contract's name).
    function getContract(bytes32 id) external view returns (address);
}

/// @notice Livepeer's BondingManager: who is an active orchestrator, and who has bonded stake.
interface IBondingManager {
    /// @notice `transcoder` joins the active set from round `activationRound`.
    event TranscoderActivated(address indexed transcoder, uint256 activationRound);
    /// @notice `transcoder` leaves the active set from round `deactivationRound`.
    event TranscoderDeactivated(address indexed transcoder, uint256 deactivationRound);
    /// @notice `transcoder`'s bonded stake was cut by `penalty`, of which `finder` (zero if
    /// none) received `finderReward`; a slashed orchestrator also leaves the active set.
    event TranscoderSlashed(address indexed transcoder, address finder, uint256 penalty, uint256 finderReward);
    /// @notice `transcoder` called reward for the round: `amount` LPT was minted to it and its
    /// delegators. It adds to their pending stake, not to their `bondedAmount`, until they claim.
    event Reward(address indexed transcoder, uint256 amount);
    /// @notice `delegator` bonded `additionalAmount` more (now `bondedAmount`) to `newDelegate`,
    /// moving its stake from `oldDelegate` if that differs.
    event Bond(
        address indexed newDelegate,
        address indexed oldDelegate,
        address indexed delegator,
        uint256 additionalAmount,
        uint256 bondedAmount
    );
    /// @notice `delegator` unbonded `amount` from `delegate`, withdrawable from `withdrawRound`.
    event Unbond(
        address indexed delegate, address indexed delegator, uint256 unbondingLockId, uint256 amount, uint256 withdrawRound
    );
    /// @notice `delegator` bonded again, to `delegate`, the `amount` of its unbonding lock
    /// `unbondingLockId`.
    event Rebond(address indexed delegate, address indexed delegator, uint256 unbondingLockId, uint256 amount);
    /// @notice `oldDelegator` gave `amount` of its bonded stake to `newDelegator`: unbonded into
    /// the old delegator's lock `oldUnbondingLockId`, moved to the new one's lock
    /// `newUnbondingLockId`, and rebonded from it (a `Rebond` follows).
    event TransferBond(
        address indexed oldDelegator,
        address indexed newDelegator,
        uint256 oldUnbondingLockId,
        uint256 newUnbondingLockId,
        uint256 amount
    );
    /// @notice `delegator` (bonded to `delegate`) claimed the `rewards` and `fees` it earned from
    /// round `startRound` through `endRound`: the rewards are now part of its `bondedAmount`.
    event EarningsClaimed(
        address indexed delegate,
        address indexed delegator,
        uint256 rewards,
        uint256 fees,
        uint256 startRound,
        uint256 endRound
    );

    /// @notice True when `transcoder` is in the active set of the current round.
    function isActiveTranscoder(address transcoder) external view returns (bool);

    /// @notice An orchestrator's total stake (its own and its delegators'), shown to others.
    function transcoderTotalStake(address transcoder) external view returns (uint256);

    /// @notice A delegator's bonding state. `bondedAmount` is its stake as of `lastClaimRound`:
    /// it leaves out the rewards earned since, so Assembly counts stake with `pendingStake`.
    function getDelegator(address delegator)
        external
        view
        returns (
            uint256 bondedAmount,
            uint256 fees,
            address delegateAddress,
            uint256 delegatedAmount,
            uint256 startRound,
            uint256 lastClaimRound,
            uint256 nextUnbondingLockId
        );

    /// @notice A delegator's stake as Livepeer counts it: its `bondedAmount` plus the rewards it
    /// has earned and not yet claimed. `_endRound` is unused: the stake is always the current
    /// round's (pass 0, as Livepeer's PollCreator does).
    function pendingStake(address _delegator, uint256 _endRound) external view returns (uint256);
}

/// @notice Livepeer's RoundsManager: rounds are counted in L1 blocks.
interface IRoundsManager {
    /// @notice The current round number.
    function currentRound() external view returns (uint256);
    /// @notice The L1 block at which the current round started.
    function currentRoundStartBlock() external view returns (uint256);
    /// @notice The length of a round, in L1 blocks.
    function roundLength() external view returns (uint256);
    /// @notice The L1 block number RoundsManager counts rounds with (on Arbitrum, the L1 block).
    function blockNum() external view returns (uint256);
}

/// @notice Livepeer's governor (an OpenZeppelin Governor whose clock is the Livepeer round).
interface ILivepeerGovernor {
    /// @notice OpenZeppelin's ProposalState, in its declaration order.
    enum ProposalState {
        Pending,
        Active,
        Canceled,
        Defeated,
        Succeeded,
        Queued,
        Expired,
        Executed
    }

    /// @notice A proposal was made: the governor hashes its actions and the description's
    /// hash into `proposalId`. Voting runs from round `voteStart` to round `voteEnd`.
    event ProposalCreated(
        uint256 proposalId,
        address proposer,
        address[] targets,
        uint256[] values,
        string[] signatures,
        bytes[] calldatas,
        uint256 voteStart,
        uint256 voteEnd,
        string description
    );
    /// @notice The proposal was cancelled before it was executed.
    event ProposalCanceled(uint256 proposalId);
    /// @notice `voter` voted on `proposalId` with `weight` votes: `support` is 0 against, 1 for,
    /// 2 abstain; `reason` may be empty.
    event VoteCast(address indexed voter, uint256 proposalId, uint8 support, uint256 weight, string reason);
    /// @notice As `VoteCast`, for a vote cast with non-empty `params`.
    event VoteCastWithParams(
        address indexed voter, uint256 proposalId, uint8 support, uint256 weight, string reason, bytes params
    );

    /// @notice The proposal's state; reverts for a proposal the governor does not know.
    function state(uint256 proposalId) external view returns (ProposalState);
    /// @notice The round at whose end voting closes (voting is open while clock() <= deadline).
    function proposalDeadline(uint256 proposalId) external view returns (uint256);
    /// @notice The id a proposal with these actions and description hash has.
    function hashProposal(
        address[] calldata targets,
        uint256[] calldata values,
        bytes[] calldata calldatas,
        bytes32 descriptionHash
    ) external pure returns (uint256);
    /// @notice Vote on an active proposal (0 against, 1 for, 2 abstain) with the caller's
    /// voting power at the proposal's snapshot; returns that weight. One vote per account.
    function castVote(uint256 proposalId, uint8 support) external returns (uint256);
    /// @notice As `castVote`, with a reason recorded in the `VoteCast` event.
    function castVoteWithReason(uint256 proposalId, uint8 support, string calldata reason) external returns (uint256);
}

/// @notice Livepeer's PollCreator (LIP-16), where LIPs are voted on: each `createPoll` deploys a
/// new `Poll` (with CREATE, so the poll's address follows from the creator's address and nonce)
/// and announces it. It is not registered in the Controller; Livepeer Explorer hard-codes it.
interface IPollCreator {
    /// @notice `poll` was created for `proposal` (the IPFS content identifier of the LIP's text);
    /// its vote is open through L1 block `endBlock`. `quorum` and `quota` are in parts per million.
    event PollCreated(address indexed poll, bytes proposal, uint256 endBlock, uint256 quorum, uint256 quota);

    /// @notice How many L1 blocks a poll is open for (10 rounds).
    function POLL_PERIOD() external view returns (uint256);
    /// @notice Create the poll of an LIP; the caller needs `POLL_CREATION_COST` of stake.
    function createPoll(bytes calldata _proposal) external;
}

/// @notice One LIP's poll, as `PollCreator` deploys it.
interface IPoll {
    /// @notice `voter` voted `choiceID` (LIP-16: 0 yes, 1 no); the voter's last vote is the
    /// one that counts.
    event Vote(address indexed voter, uint256 choiceID);

    /// @notice The last L1 block (as `block.number` reads it on Arbitrum) at which votes are taken.
    function endBlock() external view returns (uint256);
    /// @notice Vote on the poll while it is open.
    function vote(uint256 _choiceID) external;
}
