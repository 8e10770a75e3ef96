// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAssembly} from "../contracts/interfaces/IAssembly.sol";
import {ILivepeerGovernor} from "../contracts/interfaces/ILivepeer.sol";
import {Fixture} from "./utils/Fixture.sol";
import {vm} from "./utils/Vm.sol";

/// Debates open themselves from the governor's proposals.
contract DebatesTest is Fixture {
    address[] internal targets;
    uint256[] internal values;
    bytes[] internal calldatas;
    string internal constant DESCRIPTION = "LIP-100: raise the active set";

    function setUp() public override {
        super.setUp();
        targets.push(address(rounds));
        values.push(0);
        calldatas.push(abi.encodeWithSignature("setRoundLength(uint256)", 200));
    }

    function propose() internal returns (uint256) {
        return gov.propose(targets, values, calldatas, DESCRIPTION);
    }

    function open() internal returns (uint256) {
        return floor.openDebate(targets, values, calldatas, keccak256(bytes(DESCRIPTION)));
    }

    function test_openDebate_schedulesBeforeTheVoteCloses() public {
        uint256 pid = propose();
        // Round 4000 started at block 1000; the deadline is round 4011, so the vote closes
        // when round 4012 starts, at block 1000 + 12 * 100 = 2200: 1200 blocks, 14400 s away.
        uint256 closesAt = T0 + 14_400;
        vm.expectEmit();
        emit IAssembly.SessionCreated(
            1,
            IAssembly.Kind.GovernorDebate,
            pid,
            uint40(closesAt - 1800 - 3600),
            3600,
            0,
            1,
            SLOT,
            16,
            IAssembly.Speakers.OrchestratorsAndDelegators
        );
        vm.expectEmit();
        emit IAssembly.DebateOpened(pid, 1, uint64(closesAt));
        uint256 id = open();
        vm.assertEq(floor.debateOf(pid), id, "linked");
        vm.assertEq(floor.proposalOf(id), pid, "linked back");
        (, uint64 end) = floor.occurrenceBounds(id, 0);
        vm.assertEq(end, closesAt - 1800, "ends the lead before the vote closes");
        // Anyone may call it again; it is the same debate.
        vm.prank(EVE);
        vm.assertEq(open(), id, "idempotent");
        vm.assertEq(floor.sessionCount(), 1, "no second session");
        // A delegator may speak in a debate.
        enqueueAs(DAVE, id);
    }

    function test_openDebate_classifiesTreasurySpends() public {
        targets[0] = address(lpt);
        calldatas[0] = abi.encodeWithSignature("transfer(address,uint256)", ALICE, 1 ether);
        propose();
        uint256 id = open();
        vm.assertTrue(floor.getSession(id).kind == IAssembly.Kind.TreasuryDebate, "treasury");
    }

    function test_openDebate_refusesUnknownProposals() public {
        uint256 pid = gov.hashProposal(targets, values, calldatas, keccak256(bytes(DESCRIPTION)));
        vm.expectRevert(abi.encodeWithSelector(IAssembly.UnknownProposal.selector, pid));
        open();
    }

    function test_openDebate_refusesCancelledProposals() public {
        uint256 pid = propose();
        gov.cancel(pid);
        vm.expectRevert(
            abi.encodeWithSelector(IAssembly.ProposalNotOpen.selector, pid, ILivepeerGovernor.ProposalState.Canceled)
        );
        open();
    }

    function test_openDebate_refusesFinishedProposals() public {
        uint256 pid = propose();
        vm.roll(1000 + 13 * 100);
        vm.expectRevert(
            abi.encodeWithSelector(IAssembly.ProposalNotOpen.selector, pid, ILivepeerGovernor.ProposalState.Defeated)
        );
        open();
    }

    function test_openDebate_refusesPassedAndExecutedProposals() public {
        uint256 pid = propose();
        gov.setVotes(ALICE, 700 ether);
        vm.roll(1000 + 2 * 100);
        vm.prank(ALICE);
        gov.castVote(pid, 1);
        vm.roll(1000 + 13 * 100);
        vm.expectRevert(
            abi.encodeWithSelector(IAssembly.ProposalNotOpen.selector, pid, ILivepeerGovernor.ProposalState.Succeeded)
        );
        open();

        bytes32 descriptionHash = keccak256(bytes(DESCRIPTION));
        gov.queue(targets, values, calldatas, descriptionHash);
        vm.expectRevert(
            abi.encodeWithSelector(IAssembly.ProposalNotOpen.selector, pid, ILivepeerGovernor.ProposalState.Queued)
        );
        open();

        gov.execute(targets, values, calldatas, descriptionHash);
        vm.assertEq(rounds.roundLength(), 200, "the proposal ran");
        vm.expectRevert(
            abi.encodeWithSelector(IAssembly.ProposalNotOpen.selector, pid, ILivepeerGovernor.ProposalState.Executed)
        );
        open();
        vm.assertEq(floor.sessionCount(), 0, "no debate");
    }

    function test_openDebate_refusesWhenTooLate() public {
        uint256 pid = propose();
        // In the last round of voting: the vote closes 100 blocks (1200 s) from now, less
        // than the lead plus notice plus one slot.
        vm.roll(2100);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.VoteClosesTooSoon.selector, pid, T0 + 1200));
        open();
    }

    function test_openDebate_activeProposalStartsAfterNotice() public {
        propose();
        // Voting is under way (round 4005): the vote closes in 700 blocks, 8400 s.
        vm.roll(1500);
        uint256 id = open();
        (uint64 start, uint64 end) = floor.occurrenceBounds(id, 0);
        vm.assertEq(end, T0 + 8400 - 1800, "end");
        vm.assertEq(start, end - 3600, "full length");
        vm.assertGe(start, T0 + 600, "after notice");
    }

    function test_openDebate_malformed() public {
        uint256[] memory noValues = new uint256[](0);
        vm.expectRevert(IAssembly.MalformedProposal.selector);
        floor.openDebate(targets, noValues, calldatas, bytes32(0));
        vm.expectRevert(IAssembly.MalformedProposal.selector);
        floor.openDebate(new address[](0), noValues, new bytes[](0), bytes32(0));
    }

    function test_roundLengthChangeMovesTheEstimate() public {
        propose();
        // Doubling the round length pushes the close out; a debate opened after sees it.
        rounds.setRoundLength(200);
        uint256 id = open();
        (, uint64 end) = floor.occurrenceBounds(id, 0);
        // Now round 4000 is 200 blocks long from block 1000: close at 1000 + 12 * 200 = 3400.
        vm.assertEq(end, T0 + 2400 * 12 - 1800, "longer rounds, later debate");
    }
}
