// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAssembly} from "../contracts/interfaces/IAssembly.sol";
import {IBondingManager, ILivepeerGovernor} from "../contracts/interfaces/ILivepeer.sol";
import {MockBondingManager} from "../contracts/mocks/MockBondingManager.sol";
import {MockGovernor} from "../contracts/mocks/MockGovernor.sol";
import {MockLivepeerToken} from "../contracts/mocks/MockLivepeerToken.sol";
import {Fixture} from "./utils/Fixture.sol";
import {Vm, vm} from "./utils/Vm.sol";

/// Livepeer as it really is: stake counted as `pendingStake`, and the mocks' stake and vote
/// changes announced with Livepeer's own events (topics checked against the canonical
/// signatures of Livepeer's deployed ABIs).
contract LivepeerTest is Fixture {
    address internal constant FRANK = address(0xF4A2C); // delegator
    address internal constant GRACE = address(0x6A4CE); // delegator

    // ------------------------------------------------------------ eligibility

    function test_enqueue_countsPendingStakeNotBondedAmount() public {
        IAssembly.SessionParams memory p = params(uint40(T0 + 100), 3600);
        p.speakers = IAssembly.Speakers.OrchestratorsAndDelegators;
        uint256 id = floor.createSession(p);

        // Bonded under the 1 LPT threshold, lifted over it by rewards not yet claimed.
        bonding.setBonded(FRANK, ALICE, 0.5 ether);
        bonding.accrueReward(FRANK, 0.6 ether);
        (uint256 bondedAmount,,,,,,) = bonding.getDelegator(FRANK);
        vm.assertEq(bondedAmount, 0.5 ether, "bondedAmount is under the threshold");
        vm.assertEq(bonding.pendingStake(FRANK, 0), 1.1 ether, "pendingStake is over it");
        vm.expectEmit();
        emit IAssembly.Enqueued(id, 0, 0, FRANK, uint40(T0), false);
        enqueueAs(FRANK, id);

        // Rewards that leave the pending stake under the threshold do not admit.
        bonding.setBonded(GRACE, ALICE, 0.5 ether);
        bonding.accrueReward(GRACE, 0.4 ether);
        vm.assertEq(bonding.pendingStake(GRACE, 0), 0.9 ether, "pendingStake under the threshold");
        vm.prank(GRACE);
        vm.expectRevert(
            abi.encodeWithSelector(IAssembly.NotEligible.selector, GRACE, IAssembly.Speakers.OrchestratorsAndDelegators)
        );
        floor.enqueue(id);

        // Still refused where only orchestrators speak, whatever the stake.
        uint256 orchestratorsOnly = openFloor();
        vm.prank(FRANK);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotEligible.selector, FRANK, IAssembly.Speakers.Orchestrators));
        floor.enqueue(orchestratorsOnly);
    }

    // ------------------------------------------------------------ MockBondingManager

    function test_accrueReward_raisesPendingStakeNotBondedAmount() public {
        vm.expectEmit(address(bonding));
        emit IBondingManager.Reward(ALICE, 5 ether);
        bonding.accrueReward(DAVE, 5 ether);
        (uint256 bondedAmount,,,,,,) = bonding.getDelegator(DAVE);
        vm.assertEq(bondedAmount, 100 ether, "bonded unchanged");
        vm.assertEq(bonding.pendingStake(DAVE, 0), 105 ether, "pending stake");
        vm.assertEq(bonding.transcoderTotalStake(ALICE), 105 ether, "delegate's total stake");

        bonding.setBonded(FRANK, EVE, 1 ether);
        vm.expectRevert(bytes("transcoder must be active"));
        bonding.accrueReward(FRANK, 1 ether);
    }

    function test_claimEarnings_movesRewardsIntoBondedAmount() public {
        bonding.accrueReward(DAVE, 5 ether);
        vm.expectEmit(address(bonding));
        emit IBondingManager.EarningsClaimed(ALICE, DAVE, 5 ether, 0, 1, 4000);
        bonding.claimEarnings(DAVE, 4000);
        (uint256 bondedAmount,,,,, uint256 lastClaimRound,) = bonding.getDelegator(DAVE);
        vm.assertEq(bondedAmount, 105 ether, "rewards bonded");
        vm.assertEq(lastClaimRound, 4000, "last claim round");
        vm.assertEq(bonding.pendingStake(DAVE, 0), 105 ether, "pending stake unchanged");
        vm.assertEq(bonding.transcoderTotalStake(ALICE), 105 ether, "total stake unchanged");

        vm.expectRevert(abi.encodeWithSelector(MockBondingManager.EarningsAlreadyClaimed.selector, DAVE, 4000));
        bonding.claimEarnings(DAVE, 4000);

        vm.expectEmit(address(bonding));
        emit IBondingManager.EarningsClaimed(ALICE, DAVE, 0, 0, 4001, 4002);
        bonding.claimEarnings(DAVE, 4002);
    }

    function test_rebond_bondsAnUnbondingLockAgain() public {
        vm.expectEmit(address(bonding));
        emit IBondingManager.Unbond(ALICE, DAVE, 0, 40 ether, 0);
        bonding.setBonded(DAVE, ALICE, 60 ether);
        (uint256 locked,) = bonding.getDelegatorUnbondingLock(DAVE, 0);
        vm.assertEq(locked, 40 ether, "unbonding lock");

        vm.expectEmit(address(bonding));
        emit IBondingManager.Rebond(ALICE, DAVE, 0, 40 ether);
        bonding.rebond(DAVE, 0);
        (uint256 bondedAmount,,,,,, uint256 nextLock) = bonding.getDelegator(DAVE);
        vm.assertEq(bondedAmount, 100 ether, "bonded again");
        vm.assertEq(nextLock, 1, "next lock id");
        vm.assertEq(bonding.transcoderTotalStake(ALICE), 100 ether, "delegate's total stake");
        (locked,) = bonding.getDelegatorUnbondingLock(DAVE, 0);
        vm.assertEq(locked, 0, "lock used up");

        vm.expectRevert(bytes("invalid unbonding lock ID"));
        bonding.rebond(DAVE, 0);
    }

    function test_transferBond_unbondsTransfersAndRebonds() public {
        vm.expectEmit(address(bonding));
        emit IBondingManager.Unbond(ALICE, DAVE, 0, 30 ether, 0);
        vm.expectEmit(address(bonding));
        emit IBondingManager.TransferBond(DAVE, FRANK, 0, 0, 30 ether);
        vm.expectEmit(address(bonding));
        emit IBondingManager.Rebond(ALICE, FRANK, 0, 30 ether);
        bonding.transferBond(DAVE, FRANK, 30 ether);
        vm.assertEq(bonding.pendingStake(DAVE, 0), 70 ether, "sender keeps the rest");
        vm.assertEq(bonding.pendingStake(FRANK, 0), 30 ether, "receiver bonded");
        vm.assertEq(bonding.delegateOf(FRANK), ALICE, "receiver takes the sender's delegate");
        vm.assertEq(bonding.transcoderTotalStake(ALICE), 100 ether, "delegate's total stake unchanged");

        vm.expectRevert(bytes("amount is greater than bonded amount"));
        bonding.transferBond(DAVE, FRANK, 71 ether);
        vm.expectRevert(bytes("unbond amount must be greater than 0"));
        bonding.transferBond(DAVE, FRANK, 0);
    }

    function test_slashTranscoder_cutsStakeAndDeactivates() public {
        bonding.setBonded(ALICE, ALICE, 1000 ether);
        // 10% of ALICE's bond, half of it to the finder (fractions of a million).
        vm.expectEmit(address(bonding));
        emit IBondingManager.TranscoderDeactivated(ALICE, 0);
        vm.expectEmit(address(bonding));
        emit IBondingManager.TranscoderSlashed(ALICE, BOB, 100 ether, 50 ether);
        bonding.slashTranscoder(ALICE, BOB, 100_000, 500_000);
        vm.assertTrue(!bonding.isActiveTranscoder(ALICE), "out of the active set");
        vm.assertEq(bonding.pendingStake(ALICE, 0), 900 ether, "bond cut");
        vm.assertEq(bonding.transcoderTotalStake(ALICE), 1000 ether, "total stake cut (DAVE's 100 remain)");

        // No finder, no finder's reward; nothing bonded, nothing slashed.
        vm.expectEmit(address(bonding));
        emit IBondingManager.TranscoderSlashed(ALICE, address(0), 90 ether, 0);
        bonding.slashTranscoder(ALICE, address(0), 100_000, 500_000);
        vm.expectEmit(address(bonding));
        emit IBondingManager.TranscoderSlashed(EVE, BOB, 0, 0);
        bonding.slashTranscoder(EVE, BOB, 100_000, 500_000);
    }

    /// The topics are those of Livepeer's deployed BondingManager: the canonical signature's
    /// hash, then exactly the parameters Livepeer indexes.
    function test_bondingEvents_haveLivepeersTopics() public {
        bonding.setBonded(ALICE, ALICE, 1000 ether);
        vm.recordLogs();
        bonding.accrueReward(DAVE, 5 ether);
        bonding.claimEarnings(DAVE, 4000);
        bonding.setBonded(DAVE, ALICE, 60 ether);
        bonding.rebond(DAVE, 0);
        bonding.transferBond(DAVE, FRANK, 10 ether);
        bonding.slashTranscoder(BOB, CAROL, 100_000, 0);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        vm.assertEq(logs.length, 8, "logs");

        expectLog(logs[0], "Reward(address,uint256)", ALICE, address(0), abi.encode(5 ether));
        expectLog(
            logs[1],
            "EarningsClaimed(address,address,uint256,uint256,uint256,uint256)",
            ALICE,
            DAVE,
            abi.encode(5 ether, 0, 1, 4000)
        );
        expectLog(logs[2], "Unbond(address,address,uint256,uint256,uint256)", ALICE, DAVE, abi.encode(0, 45 ether, 0));
        expectLog(logs[3], "Rebond(address,address,uint256,uint256)", ALICE, DAVE, abi.encode(0, 45 ether));
        expectLog(logs[4], "Unbond(address,address,uint256,uint256,uint256)", ALICE, DAVE, abi.encode(1, 10 ether, 0));
        expectLog(
            logs[5],
            "TransferBond(address,address,uint256,uint256,uint256)",
            DAVE,
            FRANK,
            abi.encode(1, 0, 10 ether)
        );
        expectLog(logs[6], "Rebond(address,address,uint256,uint256)", ALICE, FRANK, abi.encode(0, 10 ether));
        // BOB has nothing bonded: Livepeer's slash emits zeros then, and keeps BOB active.
        expectLog(
            logs[7],
            "TranscoderSlashed(address,address,uint256,uint256)",
            BOB,
            address(0),
            abi.encode(CAROL, 0, 0)
        );
        vm.assertTrue(bonding.isActiveTranscoder(BOB), "nothing bonded, nothing slashed");
    }

    // ------------------------------------------------------------ MockGovernor

    function proposeAndOpen() internal returns (uint256 pid) {
        address[] memory targets = new address[](1);
        targets[0] = address(rounds);
        pid = gov.propose(targets, new uint256[](1), new bytes[](1), "LIP-101: a vote");
        // Round 4000 started at block 1000 (rounds of 100 blocks); voting runs through rounds
        // 4002 to 4011.
        vm.roll(1000 + 2 * 100);
    }

    function test_castVote_emitsVoteCastWithTheVotersWeight() public {
        uint256 pid = proposeAndOpen();
        vm.expectEmit(address(gov));
        emit MockGovernor.DelegateVotesChanged(ALICE, 0, 700 ether);
        gov.setVotes(ALICE, 700 ether);
        gov.setVotes(DAVE, 100 ether);
        vm.assertEq(gov.getVotes(ALICE, 0), 700 ether, "weight set");

        vm.expectEmit(address(gov));
        emit ILivepeerGovernor.VoteCast(ALICE, pid, 1, 700 ether, "");
        vm.prank(ALICE);
        vm.assertEq(gov.castVote(pid, 1), 700 ether, "weight returned");

        vm.expectEmit(address(gov));
        emit ILivepeerGovernor.VoteCast(DAVE, pid, 0, 100 ether, "too soon");
        vm.prank(DAVE);
        gov.castVoteWithReason(pid, 0, "too soon");

        vm.expectEmit(address(gov));
        emit ILivepeerGovernor.VoteCastWithParams(BOB, pid, 2, 0, "", hex"01");
        vm.prank(BOB);
        gov.castVoteWithReasonAndParams(pid, 2, "", hex"01");

        (uint256 against, uint256 inFavour, uint256 abstain) = gov.proposalVotes(pid);
        vm.assertEq(against, 100 ether, "against");
        vm.assertEq(inFavour, 700 ether, "for");
        vm.assertEq(abstain, 0, "abstain");
        vm.assertTrue(gov.hasVoted(pid, ALICE), "ALICE voted");
        vm.assertTrue(!gov.hasVoted(pid, CAROL), "CAROL did not");
    }

    function test_castVote_refusesDoubleVotesAndClosedProposals() public {
        address[] memory targets = new address[](1);
        targets[0] = address(rounds);
        uint256 pid = gov.propose(targets, new uint256[](1), new bytes[](1), "LIP-101: a vote");

        // Pending: not yet.
        vm.prank(ALICE);
        vm.expectRevert(bytes("Governor: vote not currently active"));
        gov.castVote(pid, 1);

        vm.roll(1000 + 2 * 100);
        vm.prank(ALICE);
        gov.castVote(pid, 1);
        vm.prank(ALICE);
        vm.expectRevert(MockGovernor.VoteAlreadyCast.selector);
        gov.castVoteWithReason(pid, 0, "changed my mind");
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(MockGovernor.InvalidVoteType.selector, 3));
        gov.castVote(pid, 3);

        // Over: round 4012 starts at block 2200.
        vm.roll(2200);
        vm.prank(BOB);
        vm.expectRevert(bytes("Governor: vote not currently active"));
        gov.castVote(pid, 1);

        vm.prank(BOB);
        vm.expectRevert(bytes("Governor: unknown proposal id"));
        gov.castVote(7, 1);
    }

    function test_voteEvents_haveLivepeersTopics() public {
        uint256 pid = proposeAndOpen();
        gov.setVotes(ALICE, 3);
        vm.recordLogs();
        vm.prank(ALICE);
        gov.castVoteWithReason(pid, 1, "yes");
        vm.prank(BOB);
        gov.castVoteWithReasonAndParams(pid, 0, "no", hex"beef");
        Vm.Log[] memory logs = vm.getRecordedLogs();
        vm.assertEq(logs.length, 2, "logs");
        expectLog(logs[0], "VoteCast(address,uint256,uint8,uint256,string)", ALICE, address(0), abi.encode(pid, 1, 3, string("yes")));
        expectLog(
            logs[1],
            "VoteCastWithParams(address,uint256,uint8,uint256,string,bytes)",
            BOB,
            address(0),
            abi.encode(pid, 0, 0, string("no"), bytes(hex"beef"))
        );
    }

    // ------------------------------------------------------------ MockGovernor's life cycle

    string internal constant SPEND = "Treasury: 1000 LPT to ALICE";

    /// A treasury spend: the governor (standing in for the Treasury) sends ALICE 1000 LPT.
    function spend()
        internal
        view
        returns (address[] memory targets, uint256[] memory values, bytes[] memory calldatas)
    {
        targets = new address[](1);
        targets[0] = address(lpt);
        values = new uint256[](1);
        calldatas = new bytes[](1);
        calldatas[0] = abi.encodeCall(MockLivepeerToken.transfer, (ALICE, 1000 ether));
    }

    /// Propose the spend under `description` at the start of a round, have ALICE vote
    /// `inFavour` for it, BOB `against` against it and CAROL abstain with `abstain`, then close
    /// the vote: it opens two rounds on and closes twelve rounds on.
    function decide(string memory description, uint256 inFavour, uint256 against, uint256 abstain)
        internal
        returns (uint256 pid)
    {
        uint256 start = rounds.currentRoundStartBlock();
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = spend();
        pid = gov.propose(targets, values, calldatas, description);
        gov.setVotes(ALICE, inFavour);
        gov.setVotes(BOB, against);
        gov.setVotes(CAROL, abstain);
        vm.roll(start + 2 * 100);
        vm.prank(ALICE);
        gov.castVote(pid, 1);
        vm.prank(BOB);
        gov.castVote(pid, 0);
        vm.prank(CAROL);
        gov.castVote(pid, 2);
        vm.roll(start + 12 * 100);
    }

    function queueSpend() internal returns (uint256) {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = spend();
        return gov.queue(targets, values, calldatas, keccak256(bytes(SPEND)));
    }

    function executeSpend() internal returns (uint256) {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = spend();
        return gov.execute(targets, values, calldatas, keccak256(bytes(SPEND)));
    }

    function assertState(uint256 pid, ILivepeerGovernor.ProposalState expected, string memory why) internal view {
        vm.assertEq(uint256(gov.state(pid)), uint256(expected), why);
    }

    function test_state_unknownProposalRevertsWithOpenZeppelin49sString() public {
        vm.expectRevert(bytes("Governor: unknown proposal id"));
        gov.state(7);
        vm.expectRevert(bytes("Governor: unknown proposal id"));
        gov.cancel(7);
        vm.expectRevert(bytes("Governor: unknown proposal id"));
        queueSpend();
        vm.expectRevert(bytes("Governor: unknown proposal id"));
        executeSpend();
    }

    function test_state_pendingThenActiveThenDefeatedUnvoted() public {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = spend();
        uint256 pid = gov.propose(targets, values, calldatas, SPEND);
        assertState(pid, ILivepeerGovernor.ProposalState.Pending, "proposed in round 4000");
        vm.roll(1199);
        assertState(pid, ILivepeerGovernor.ProposalState.Pending, "through the snapshot round 4001");
        vm.roll(1200);
        assertState(pid, ILivepeerGovernor.ProposalState.Active, "from round 4002");
        vm.roll(2199);
        assertState(pid, ILivepeerGovernor.ProposalState.Active, "through the deadline round 4011");
        vm.roll(2200);
        vm.assertEq(gov.quorum(gov.proposalSnapshot(pid)), 1, "default quorum: one vote");
        assertState(pid, ILivepeerGovernor.ProposalState.Defeated, "nobody voted: no quorum");
    }

    function test_state_defeatedWithoutQuorum() public {
        vm.expectEmit(address(gov));
        emit MockGovernor.QuorumSet(1, 300 ether);
        gov.setQuorum(300 ether);
        // All for, but 299 LPT cast against a quorum of 300.
        uint256 pid = decide(SPEND, 200 ether, 0, 99 ether);
        assertState(pid, ILivepeerGovernor.ProposalState.Defeated, "one LPT short of the quorum");
        vm.expectRevert(bytes("Governor: proposal not successful"));
        queueSpend();
        vm.expectRevert(bytes("Governor: proposal not successful"));
        executeSpend();

        // Abstentions count towards the quorum: one LPT less of it and the same votes pass.
        gov.setQuorum(299 ether);
        assertState(pid, ILivepeerGovernor.ProposalState.Succeeded, "quorum met, abstentions included");
    }

    function test_state_defeatedWhenForMissesTheQuota() public {
        gov.setQuorum(300 ether);
        // 149 of the 300 for-or-against: under half. The abstentions meet the quorum but do not
        // count towards the quota.
        uint256 pid = decide(SPEND, 149 ether, 151 ether, 1000 ether);
        assertState(pid, ILivepeerGovernor.ProposalState.Defeated, "for under the 50% quota");
    }

    function test_state_succeededAtTheQuota() public {
        gov.setQuorum(300 ether);
        // A tie: `for` needs at least half of for-plus-against, and has exactly half.
        uint256 tie = decide(SPEND, 150 ether, 150 ether, 0);
        vm.assertEq(gov.quota(), 500_000, "Livepeer's quota: 50%");
        assertState(tie, ILivepeerGovernor.ProposalState.Succeeded, "a tie passes");
        vm.expectEmit(address(gov));
        emit MockGovernor.QuotaSet(500_000, 600_000);
        gov.setQuota(600_000);
        assertState(tie, ILivepeerGovernor.ProposalState.Defeated, "under a 60% quota");
        gov.setQuota(500_000);

        // Livepeer's rule passes a vote with only abstentions: 0 for is at least 50% of 0.
        uint256 abstained = decide("Treasury: abstained", 0, 0, 300 ether);
        assertState(abstained, ILivepeerGovernor.ProposalState.Succeeded, "only abstentions");
    }

    function test_queueAndExecute_spendsFromTheTreasury() public {
        lpt.mint(address(gov), 1000 ether);
        vm.expectEmit(address(gov));
        emit MockGovernor.MinDelayChange(0, 1 days);
        gov.setMinDelay(1 days);
        uint256 pid = decide(SPEND, 100 ether, 0, 0);
        assertState(pid, ILivepeerGovernor.ProposalState.Succeeded, "succeeded");
        vm.assertEq(gov.proposalEta(pid), 0, "not queued");

        // The timelock runs only what was queued and has waited out its delay.
        vm.expectRevert(bytes("TimelockController: operation is not ready"));
        executeSpend();
        vm.expectEmit(address(gov));
        emit MockGovernor.ProposalQueued(pid, T0 + 1 days);
        vm.assertEq(queueSpend(), pid, "queue returns the id");
        assertState(pid, ILivepeerGovernor.ProposalState.Queued, "queued");
        vm.assertEq(gov.proposalEta(pid), T0 + 1 days, "eta");
        vm.expectRevert(bytes("Governor: proposal not successful"));
        queueSpend();
        vm.warp(T0 + 1 days - 1);
        vm.expectRevert(bytes("TimelockController: operation is not ready"));
        executeSpend();

        vm.warp(T0 + 1 days);
        vm.expectEmit(address(gov));
        emit MockGovernor.ProposalExecuted(pid);
        vm.expectEmit(address(lpt));
        emit MockLivepeerToken.Transfer(address(gov), ALICE, 1000 ether);
        vm.assertEq(executeSpend(), pid, "execute returns the id");
        vm.assertEq(lpt.balanceOf(ALICE), 1000 ether, "ALICE was paid");
        vm.assertEq(lpt.balanceOf(address(gov)), 0, "from the treasury");
        assertState(pid, ILivepeerGovernor.ProposalState.Executed, "executed");
        vm.assertEq(gov.proposalEta(pid), 0, "done: no eta");

        // Once only.
        lpt.mint(address(gov), 1000 ether);
        vm.expectRevert(bytes("Governor: proposal not successful"));
        executeSpend();
        vm.expectRevert(bytes("Governor: proposal not active"));
        gov.cancel(pid);
        vm.assertEq(lpt.balanceOf(ALICE), 1000 ether, "paid once");
    }

    function test_execute_paysValuesAndRevertsWithAFailingCall() public {
        address[] memory targets = new address[](2);
        targets[0] = address(lpt);
        targets[1] = EVE;
        uint256[] memory values = new uint256[](2);
        values[1] = 1 ether;
        bytes[] memory calldatas = new bytes[](2);
        calldatas[0] = abi.encodeCall(MockLivepeerToken.transfer, (ALICE, 1000 ether));
        uint256 pid = gov.propose(targets, values, calldatas, SPEND);
        gov.setVotes(ALICE, 1);
        vm.roll(1200);
        vm.prank(ALICE);
        gov.castVote(pid, 1);
        vm.roll(2200);
        gov.queue(targets, values, calldatas, keccak256(bytes(SPEND)));

        // The treasury holds no LPT: the transfer fails, and with it the whole execution.
        vm.expectRevert(bytes("TimelockController: underlying transaction reverted"));
        gov.execute{value: 1 ether}(targets, values, calldatas, keccak256(bytes(SPEND)));
        assertState(pid, ILivepeerGovernor.ProposalState.Queued, "still queued");

        lpt.mint(address(gov), 1000 ether);
        gov.execute{value: 1 ether}(targets, values, calldatas, keccak256(bytes(SPEND)));
        vm.assertEq(lpt.balanceOf(ALICE), 1000 ether, "LPT sent");
        vm.assertEq(EVE.balance, 1 ether, "ETH sent with the call");
        assertState(pid, ILivepeerGovernor.ProposalState.Executed, "executed");
    }

    function test_cancel_pendingOrQueuedButNotTwice() public {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = spend();
        uint256 pending = gov.propose(targets, values, calldatas, "Treasury: withdrawn");
        vm.expectEmit(address(gov));
        emit ILivepeerGovernor.ProposalCanceled(pending);
        gov.cancel(pending);
        assertState(pending, ILivepeerGovernor.ProposalState.Canceled, "cancelled while pending");
        vm.expectRevert(bytes("Governor: proposal not active"));
        gov.cancel(pending);

        lpt.mint(address(gov), 1000 ether);
        uint256 queued = decide(SPEND, 100 ether, 0, 0);
        queueSpend();
        gov.cancel(queued);
        assertState(queued, ILivepeerGovernor.ProposalState.Canceled, "cancelled in the queue");
        vm.assertEq(gov.proposalEta(queued), 0, "out of the queue");
        vm.expectRevert(bytes("Governor: proposal not successful"));
        executeSpend();
        vm.assertEq(lpt.balanceOf(ALICE), 0, "nothing spent");
    }

    function test_propose_needsTheProposalThreshold() public {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = spend();
        vm.assertEq(gov.proposalThreshold(), 0, "anyone may propose by default");
        vm.expectEmit(address(gov));
        emit MockGovernor.ProposalThresholdSet(0, 100 ether);
        gov.setProposalThreshold(100 ether);

        gov.setVotes(EVE, 100 ether - 1);
        vm.prank(EVE);
        vm.expectRevert(bytes("Governor: proposer votes below proposal threshold"));
        gov.propose(targets, values, calldatas, SPEND);

        gov.setVotes(EVE, 100 ether);
        uint256 pid = gov.hashProposal(targets, values, calldatas, keccak256(bytes(SPEND)));
        vm.expectEmit(address(gov));
        emit ILivepeerGovernor.ProposalCreated(pid, EVE, targets, values, new string[](1), calldatas, 4001, 4011, SPEND);
        vm.prank(EVE);
        gov.propose(targets, values, calldatas, SPEND);
        assertState(pid, ILivepeerGovernor.ProposalState.Pending, "proposed at the threshold");
    }

    function test_propose_refusesMalformedAndDuplicateProposals() public {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = spend();
        vm.expectRevert(bytes("Governor: invalid proposal length"));
        gov.propose(targets, new uint256[](2), calldatas, SPEND);
        vm.expectRevert(bytes("Governor: invalid proposal length"));
        gov.propose(targets, values, new bytes[](0), SPEND);
        vm.expectRevert(bytes("Governor: empty proposal"));
        gov.propose(new address[](0), new uint256[](0), new bytes[](0), SPEND);
        gov.propose(targets, values, calldatas, SPEND);
        vm.expectRevert(bytes("Governor: proposal already exists"));
        gov.propose(targets, values, calldatas, SPEND);
    }

    /// The topics and data are those of OpenZeppelin 4.9's IGovernor, as LivepeerGovernor's
    /// deployed ABI declares them: nothing indexed.
    function test_lifeCycleEvents_haveOpenZeppelinsTopics() public {
        lpt.mint(address(gov), 1000 ether);
        uint256 pid = decide(SPEND, 100 ether, 0, 0);
        vm.recordLogs();
        queueSpend();
        executeSpend();
        Vm.Log[] memory logs = vm.getRecordedLogs();
        vm.assertEq(logs.length, 3, "queued, executed, LPT transfer");
        vm.assertEq(logs[0].topics.length, 1, "ProposalQueued: topics");
        vm.assertEq(logs[0].topics[0], keccak256("ProposalQueued(uint256,uint256)"), "ProposalQueued: topic0");
        vm.assertEq(logs[0].data, abi.encode(pid, T0), "ProposalQueued: data");
        vm.assertEq(logs[1].topics.length, 1, "ProposalExecuted: topics");
        vm.assertEq(logs[1].topics[0], keccak256("ProposalExecuted(uint256)"), "ProposalExecuted: topic0");
        vm.assertEq(logs[1].data, abi.encode(pid), "ProposalExecuted: data");
    }

    /// `log` is the event `signature`, with `first` (and `second`, unless zero) as its
    /// indexed addresses and `data` as the rest.
    function expectLog(Vm.Log memory log, string memory signature, address first, address second, bytes memory data)
        internal
        pure
    {
        uint256 addresses = second == address(0) ? 1 : 2;
        vm.assertEq(log.topics.length, 1 + addresses, string.concat(signature, ": topics"));
        vm.assertEq(log.topics[0], keccak256(bytes(signature)), string.concat(signature, ": topic0"));
        vm.assertEq(log.topics[1], bytes32(uint256(uint160(first))), string.concat(signature, ": first topic"));
        if (addresses == 2) {
            vm.assertEq(log.topics[2], bytes32(uint256(uint160(second))), string.concat(signature, ": second topic"));
        }
        vm.assertEq(log.data, data, string.concat(signature, ": data"));
    }
}
