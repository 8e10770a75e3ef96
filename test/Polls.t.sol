// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Assembly} from "../contracts/Assembly.sol";
import {IAssembly} from "../contracts/interfaces/IAssembly.sol";
import {IPoll, IPollCreator} from "../contracts/interfaces/ILivepeer.sol";
import {LivepeerPolls} from "../contracts/libraries/LivepeerPolls.sol";
import {MockPoll, MockPollCreator} from "../contracts/mocks/MockPollCreator.sol";
import {Fixture} from "./utils/Fixture.sol";
import {vm} from "./utils/Vm.sol";

/// A contract with an `endBlock()` that no PollCreator made: what a forger would deploy.
contract ForgedPoll {
    function endBlock() external pure returns (uint256) {
        return type(uint256).max;
    }
}

/// A contract that is not a poll at all.
contract NotAPollContract {}

/// A "creator" whose first creation is not a poll, to reach `NotAPoll`.
contract OddCreator {
    function make() external returns (address) {
        return address(new NotAPollContract());
    }
}

/// Creates a contract on demand, so CREATE's addresses can be compared with `LivepeerPolls`.
contract Factory {
    function make() external returns (address) {
        return address(new NotAPollContract());
    }
}

/// LIP debates open themselves from PollCreator's polls, and nothing else passes for one.
contract PollsTest is Fixture {
    bytes internal constant LIP = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG";
    /// Livepeer's poll period: 10 rounds of 5760 L1 blocks.
    uint256 internal constant PERIOD = 57_600;

    function createPoll() internal returns (address poll) {
        vm.prank(DAVE); // 100 LPT of pending stake: exactly the creation cost
        polls.createPoll(LIP);
        poll = LivepeerPolls.createdAt(address(polls), 1);
    }

    function test_openPollDebate_schedulesBeforeThePollCloses() public {
        address poll = createPoll();
        vm.assertEq(IPoll(poll).endBlock(), 1000 + PERIOD, "the real period");
        // Votes are taken through block 58600, so the vote closes at block 58601: 57601
        // L1 blocks of 12 s from now.
        uint256 closesAt = T0 + 57_601 * 12;
        uint256 pid = uint256(uint160(poll));
        vm.expectEmit();
        emit IAssembly.SessionCreated(
            1,
            IAssembly.Kind.LipDebate,
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
        vm.prank(EVE); // anyone may open it
        uint256 id = floor.openPollDebate(poll, 1);
        vm.assertEq(floor.debateOf(pid), id, "linked");
        vm.assertEq(floor.proposalOf(id), pid, "linked back");
        // Again, by anyone, with any nonce: the same debate.
        vm.assertEq(floor.openPollDebate(poll, 7), id, "idempotent");
        vm.assertEq(floor.sessionCount(), 1, "no second session");
    }

    function test_pollCreator_needsStake_andPollsCloseAtTheirEndBlock() public {
        vm.prank(EVE);
        vm.expectRevert(bytes("PollCreator#createPoll: INSUFFICIENT_STAKE"));
        polls.createPoll(LIP);
        address poll = createPoll();
        vm.roll(1000 + PERIOD);
        vm.prank(ALICE);
        vm.expectEmit(poll);
        emit IPoll.Vote(ALICE, 0);
        IPoll(poll).vote(0);
        vm.roll(1001 + PERIOD);
        vm.expectRevert(bytes("poll is over"));
        IPoll(poll).vote(1);
    }

    function test_openPollDebate_refusesNonceZeroAndPastTheLimit() public {
        address poll = createPoll();
        vm.expectRevert(abi.encodeWithSelector(IAssembly.InvalidPollNonce.selector, 0));
        floor.openPollDebate(poll, 0);
        uint256 limit = type(uint64).max;
        vm.expectRevert(abi.encodeWithSelector(IAssembly.InvalidPollNonce.selector, limit));
        floor.openPollDebate(poll, limit);
    }

    function test_openPollDebate_refusesTheWrongNonce() public {
        address poll = createPoll();
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotFromPollCreator.selector, poll, 2));
        floor.openPollDebate(poll, 2);
    }

    function test_openPollDebate_refusesAnotherCreatorsPoll() public {
        MockPollCreator other = new MockPollCreator(bonding);
        vm.prank(DAVE);
        other.createPoll(LIP);
        address poll = LivepeerPolls.createdAt(address(other), 1);
        vm.assertTrue(poll.code.length != 0, "a real poll");
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotFromPollCreator.selector, poll, 1));
        floor.openPollDebate(poll, 1);
    }

    function test_openPollDebate_refusesAForgedPoll() public {
        address forged = address(new ForgedPoll());
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotFromPollCreator.selector, forged, 1));
        floor.openPollDebate(forged, 1);
    }

    function test_openPollDebate_refusesAnAddressWithNoCode() public {
        createPoll();
        address next = LivepeerPolls.createdAt(address(polls), 2);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.PollNotDeployed.selector, next, 2));
        floor.openPollDebate(next, 2);
    }

    function test_openPollDebate_refusesAContractThatIsNotAPoll() public {
        OddCreator odd = new OddCreator();
        Assembly strict = new Assembly(
            address(this), bonding, rounds, gov, address(lpt), IPollCreator(address(odd)), defaults()
        );
        address made = odd.make();
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotAPoll.selector, made));
        strict.openPollDebate(made, 1);
    }

    function test_openPollDebate_refusesAnEndedPoll() public {
        address poll = createPoll();
        vm.roll(1001 + PERIOD);
        vm.expectRevert(
            abi.encodeWithSelector(IAssembly.PollEnded.selector, poll, 1000 + PERIOD, 1001 + PERIOD)
        );
        floor.openPollDebate(poll, 1);
    }

    function test_openPollDebate_refusesAVoteClosingTooSoon() public {
        address poll = createPoll();
        vm.roll(1000 + PERIOD - 10); // 11 blocks (132 s) before the vote closes
        vm.expectRevert(
            abi.encodeWithSelector(IAssembly.VoteClosesTooSoon.selector, uint256(uint160(poll)), T0 + 132)
        );
        floor.openPollDebate(poll, 1);
    }

    /// The debate's timing against a reference computed here: it ends `debateLead` before the
    /// estimated close, lasts up to `debateDuration` and starts no sooner than `debateNotice`.
    function testFuzz_openPollDebate_timing(uint256 blocksLeft, uint256 elapsed) public {
        address poll = createPoll();
        blocksLeft = blocksLeft % (PERIOD + 1); // 0 .. PERIOD blocks before endBlock
        elapsed = elapsed % 30 days;
        vm.roll(1000 + PERIOD - blocksLeft);
        vm.warp(T0 + elapsed);
        uint256 now_ = T0 + elapsed;
        uint256 closesAt = now_ + (blocksLeft + 1) * 12;
        uint256 end = closesAt > 1800 ? closesAt - 1800 : 0;
        uint256 start = end > 3600 ? end - 3600 : 0;
        if (start < now_ + 600) start = now_ + 600;
        if (end < start + SLOT) {
            vm.expectRevert(
                abi.encodeWithSelector(IAssembly.VoteClosesTooSoon.selector, uint256(uint160(poll)), closesAt)
            );
            floor.openPollDebate(poll, 1);
            return;
        }
        uint256 id = floor.openPollDebate(poll, 1);
        (uint64 s, uint64 e) = floor.occurrenceBounds(id, 0);
        vm.assertEq(s, start, "start");
        vm.assertEq(e, end, "end");
        vm.assertTrue(floor.getSession(id).kind == IAssembly.Kind.LipDebate, "an LIP debate");
    }

    /// `LivepeerPolls.createdAt` is CREATE's rule, at every nonce width RLP distinguishes.
    function testFuzz_createdAt_matchesCreate(uint64 nonce) public {
        nonce = uint64(bound(nonce, 2, type(uint64).max - 2));
        Factory f = new Factory();
        vm.setNonce(address(f), nonce);
        vm.assertEq(f.make(), LivepeerPolls.createdAt(address(f), nonce), "CREATE address");
    }

    function test_createdAt_matchesCreate_atTheRlpBoundaries() public {
        uint64[6] memory nonces = [uint64(0x7f), 0x80, 0xff, 0x100, 0xffff, 0x10000];
        for (uint256 i; i < nonces.length; ++i) {
            Factory f = new Factory();
            if (nonces[i] > 1) vm.setNonce(address(f), nonces[i]);
            vm.assertEq(f.make(), LivepeerPolls.createdAt(address(f), nonces[i]), "CREATE address");
        }
        Factory first = new Factory();
        vm.assertEq(first.make(), LivepeerPolls.createdAt(address(first), 1), "a contract's first creation");
    }

    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }
}
