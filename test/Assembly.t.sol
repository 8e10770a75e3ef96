// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Assembly} from "../contracts/Assembly.sol";
import {IAssembly} from "../contracts/interfaces/IAssembly.sol";
import {IBondingManager, ILivepeerGovernor, IPollCreator, IRoundsManager} from "../contracts/interfaces/ILivepeer.sol";
import {Fixture} from "./utils/Fixture.sol";
import {vm} from "./utils/Vm.sol";

/// Unit tests: every external function, every custom error.
contract AssemblyTest is Fixture {
    // ------------------------------------------------------------ governance

    function test_createSession_storesScheduleAndAppliesDefaults() public {
        vm.expectEmit();
        emit IAssembly.SessionCreated(
            1, IAssembly.Kind.OpenFloor, 0, uint40(T0 + 100), 3600, 0, 1, SLOT, 16, IAssembly.Speakers.Orchestrators
        );
        uint256 id = openFloor();
        vm.assertEq(id, 1, "first id");
        vm.assertEq(floor.sessionCount(), 1, "count");
        IAssembly.Session memory s = floor.getSession(id);
        vm.assertEq(s.slotLength, SLOT, "default slot length");
        vm.assertEq(s.maxQueue, 16, "default queue bound");
        vm.assertEq(s.count, 1, "one-off has one occurrence");
        (uint64 a, uint64 b) = floor.occurrenceBounds(id, 0);
        vm.assertEq(a, T0 + 100, "start");
        vm.assertEq(b, T0 + 3700, "end");
    }

    function test_createSession_onlyOwner() public {
        IAssembly.SessionParams memory p = params(uint40(T0), 10);
        vm.prank(EVE);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, EVE));
        floor.createSession(p);
    }

    function test_createSession_rejectsBadSchedules() public {
        IAssembly.SessionParams memory p = params(uint40(T0), 0);
        vm.expectRevert(IAssembly.ZeroDuration.selector);
        floor.createSession(p);

        p = params(uint40(T0 - 1), 10);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.StartInPast.selector, T0 - 1, T0));
        floor.createSession(p);

        p = params(uint40(T0), 3601);
        p.period = 3600;
        vm.expectRevert(abi.encodeWithSelector(IAssembly.OccurrencesOverlap.selector, 3601, 3600));
        floor.createSession(p);

        p = params(uint40(T0), 10);
        p.maxQueue = 33;
        vm.expectRevert(abi.encodeWithSelector(IAssembly.MaxQueueOutOfRange.selector, 33, 32));
        floor.createSession(p);

        p = params(uint40(T0), 10);
        p.kind = IAssembly.Kind.LipDebate;
        vm.expectRevert(abi.encodeWithSelector(IAssembly.DebateNeedsProposal.selector, IAssembly.Kind.LipDebate));
        floor.createSession(p);

        p = params(uint40(T0), 10);
        p.proposalId = 7;
        vm.expectRevert(abi.encodeWithSelector(IAssembly.OpenFloorHasProposal.selector, 7));
        floor.createSession(p);

        p.kind = IAssembly.Kind.TreasuryDebate;
        uint256 id = floor.createSession(p);
        vm.assertEq(floor.debateOf(7), id, "governance debate linked");
        vm.assertEq(floor.proposalOf(id), 7, "proposal linked");
        vm.expectRevert(abi.encodeWithSelector(IAssembly.DebateExists.selector, 7, id));
        floor.createSession(p);
    }

    function test_cancelSession() public {
        uint256 id = openFloor();
        enqueueAs(ALICE, id);
        vm.warp(T0 + 150);
        vm.expectEmit();
        emit IAssembly.SessionCancelled(id, uint40(T0 + 150));
        floor.cancelSession(id);
        assertFloor(id, T0 + 120, ALICE, T0 + 100, T0 + 150, "held until the cancellation");
        assertFloor(id, T0 + 150, address(0), 0, 0, "nobody after");

        vm.expectRevert(abi.encodeWithSelector(IAssembly.SessionIsCancelled.selector, id));
        floor.cancelSession(id);
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.SessionIsCancelled.selector, id));
        floor.enqueue(id);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.SessionIsCancelled.selector, id));
        floor.withdraw(id);
    }

    function test_cancelSession_errors() public {
        vm.expectRevert(abi.encodeWithSelector(IAssembly.UnknownSession.selector, 9));
        floor.cancelSession(9);
        uint256 id = openFloor();
        vm.prank(EVE);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, EVE));
        floor.cancelSession(id);
        vm.warp(T0 + 3700);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.SessionOver.selector, id));
        floor.cancelSession(id);
    }

    function test_setSignedAudio() public {
        uint256 id = openFloor();
        vm.assertEq(floor.signedAudioRequired(id), false, "counted, not required, by default");
        vm.expectEmit();
        emit IAssembly.SignedAudioSet(id, true);
        floor.setSignedAudio(id, true);
        vm.assertTrue(floor.signedAudioRequired(id), "required");
        vm.expectEmit();
        emit IAssembly.SignedAudioSet(id, false);
        floor.setSignedAudio(id, false);
        vm.assertEq(floor.signedAudioRequired(id), false, "no longer required");
    }

    function test_setSignedAudio_errors() public {
        vm.expectRevert(abi.encodeWithSelector(IAssembly.UnknownSession.selector, 9));
        floor.setSignedAudio(9, true);
        uint256 id = openFloor();
        vm.prank(EVE);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, EVE));
        floor.setSignedAudio(id, true);
    }

    function test_setDefaults() public {
        IAssembly.Defaults memory d = defaults();
        d.slotLength = 300;
        vm.expectEmit();
        emit IAssembly.DefaultsChanged(d);
        floor.setDefaults(d);
        vm.assertEq(floor.defaults().slotLength, 300, "stored");

        d.slotLength = 0;
        vm.expectRevert(IAssembly.InvalidDefaults.selector);
        floor.setDefaults(d);
        d = defaults();
        d.maxQueue = 33;
        vm.expectRevert(IAssembly.InvalidDefaults.selector);
        floor.setDefaults(d);
        d = defaults();
        d.l1BlockTime = 0;
        vm.expectRevert(IAssembly.InvalidDefaults.selector);
        floor.setDefaults(d);

        vm.prank(EVE);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, EVE));
        floor.setDefaults(defaults());
    }

    function test_constructor_rejectsMissingContracts() public {
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotAContract.selector, EVE));
        new Assembly(address(this), IBondingManager(EVE), rounds, gov, address(lpt), polls, defaults());
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotAContract.selector, EVE));
        new Assembly(address(this), bonding, IRoundsManager(EVE), gov, address(lpt), polls, defaults());
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotAContract.selector, EVE));
        new Assembly(address(this), bonding, rounds, ILivepeerGovernor(EVE), address(lpt), polls, defaults());
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotAContract.selector, EVE));
        new Assembly(address(this), bonding, rounds, gov, address(lpt), IPollCreator(EVE), defaults());
    }

    function test_ownershipIsTwoStep() public {
        floor.transferOwnership(ALICE);
        vm.assertEq(floor.owner(), address(this), "not yet");
        vm.prank(ALICE);
        floor.acceptOwnership();
        vm.assertEq(floor.owner(), ALICE, "accepted");
    }

    // ------------------------------------------------------------ enqueue

    function test_enqueue_emitsAndQueuesForTheCurrentOccurrence() public {
        uint256 id = openFloor();
        vm.expectEmit();
        emit IAssembly.Enqueued(id, 0, 0, ALICE, uint40(T0), true);
        uint32 i = enqueueAs(ALICE, id);
        vm.assertEq(i, 0, "index");
        IAssembly.Entry memory e = floor.getEntry(id, 0, 0);
        vm.assertEq(e.speaker, ALICE, "speaker");
        vm.assertEq(e.time, T0, "enqueued at");
        vm.assertEq(floor.getQueue(id, 0).tail, 1, "tail");
    }

    function test_enqueue_eligibility() public {
        uint256 id = openFloor();
        vm.prank(DAVE);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotEligible.selector, DAVE, IAssembly.Speakers.Orchestrators));
        floor.enqueue(id);
        vm.prank(EVE);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotEligible.selector, EVE, IAssembly.Speakers.Orchestrators));
        floor.enqueue(id);

        IAssembly.SessionParams memory p = params(uint40(T0 + 100), 3600);
        p.speakers = IAssembly.Speakers.OrchestratorsAndDelegators;
        uint256 open = floor.createSession(p);
        vm.expectEmit();
        emit IAssembly.Enqueued(open, 0, 0, DAVE, uint40(T0), false);
        enqueueAs(DAVE, open);
        vm.prank(EVE);
        vm.expectRevert(
            abi.encodeWithSelector(IAssembly.NotEligible.selector, EVE, IAssembly.Speakers.OrchestratorsAndDelegators)
        );
        floor.enqueue(open);

        // Too little stake is no stake.
        bonding.setBonded(EVE, ALICE, 0.5 ether);
        vm.prank(EVE);
        vm.expectRevert(
            abi.encodeWithSelector(IAssembly.NotEligible.selector, EVE, IAssembly.Speakers.OrchestratorsAndDelegators)
        );
        floor.enqueue(open);

        // Leaving the active set takes effect at the next request.
        bonding.setActive(BOB, false);
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotEligible.selector, BOB, IAssembly.Speakers.Orchestrators));
        floor.enqueue(id);
    }

    function test_enqueue_oneLiveEntryPerAddress() public {
        uint256 id = openFloor();
        enqueueAs(ALICE, id);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.AlreadyQueued.selector, id, 0, 0));
        floor.enqueue(id);
        // Once her slot is over she may ask again.
        vm.warp(T0 + 100 + SLOT);
        uint32 again = enqueueAs(ALICE, id);
        vm.assertEq(again, 1, "second entry");
        assertFloor(id, T0 + 100 + SLOT, ALICE, T0 + 220, T0 + 340, "her second slot");
    }

    function test_enqueue_queueIsBounded() public {
        IAssembly.SessionParams memory p = params(uint40(T0 + 100), 3600);
        p.maxQueue = 2;
        uint256 id = floor.createSession(p);
        enqueueAs(ALICE, id);
        enqueueAs(BOB, id);
        vm.prank(CAROL);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.QueueFull.selector, id, 0, 2));
        floor.enqueue(id);
        // Room frees up as slots end.
        vm.warp(T0 + 100 + SLOT);
        enqueueAs(CAROL, id);
        vm.assertEq(floor.getQueue(id, 0).head, 1, "head advanced");
    }

    /// Issue 13, item 9: a withdrawn request holds no place in the queue.
    function test_enqueue_withdrawnRequestHoldsNoPlace() public {
        IAssembly.SessionParams memory p = params(uint40(T0 + 100), 3600);
        p.maxQueue = 2;
        p.slotLength = 10;
        uint256 id = floor.createSession(p);
        vm.warp(T0 + 100);
        enqueueAs(ALICE, id);
        vm.warp(T0 + 102);
        vm.assertEq(floor.floorNow(id).speaker, ALICE, "Alice holds the floor");
        enqueueAs(BOB, id);
        vm.prank(BOB);
        floor.withdraw(id);
        // Only Alice is in the queue: Carol takes the second place.
        vm.expectEmit();
        emit IAssembly.Enqueued(id, 0, 2, CAROL, uint40(T0 + 102), true);
        enqueueAs(CAROL, id);
        assertFloor(id, T0 + 110, CAROL, T0 + 110, T0 + 120, "Carol after Alice");
        // Now two live entries fill it.
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.QueueFull.selector, id, 0, 2));
        floor.enqueue(id);
        // The place frees when Alice's slot ends.
        vm.warp(T0 + 110);
        enqueueAs(BOB, id);
        assertFloor(id, T0 + 120, BOB, T0 + 120, T0 + 130, "Bob after Carol");
    }

    function test_enqueue_unknownAndOverSessions() public {
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.UnknownSession.selector, 5));
        floor.enqueue(5);
        uint256 id = openFloor();
        vm.warp(T0 + 3700);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.SessionOver.selector, id));
        floor.enqueue(id);
    }

    // ------------------------------------------------------------ the floor rule

    function test_floor_fifoSlots() public {
        uint256 id = openFloor();
        enqueueAs(ALICE, id);
        enqueueAs(BOB, id);
        assertFloor(id, T0 + 99, address(0), 0, 0, "before the session");
        assertFloor(id, T0 + 100, ALICE, T0 + 100, T0 + 220, "first in");
        assertFloor(id, T0 + 219, ALICE, T0 + 100, T0 + 220, "until her slot ends");
        assertFloor(id, T0 + 220, BOB, T0 + 220, T0 + 340, "then the next");
        assertFloor(id, T0 + 340, address(0), 0, 0, "then nobody");
        // A late request starts when it is made.
        vm.warp(T0 + 1000);
        enqueueAs(CAROL, id);
        assertFloor(id, T0 + 999, address(0), 0, 0, "idle floor");
        assertFloor(id, T0 + 1000, CAROL, T0 + 1000, T0 + 1120, "starts at once");
        // The past is unchanged once settled (binary-searched history).
        vm.warp(T0 + 1200);
        enqueueAs(ALICE, id);
        assertFloor(id, T0 + 150, ALICE, T0 + 100, T0 + 220, "history: first");
        assertFloor(id, T0 + 300, BOB, T0 + 220, T0 + 340, "history: second");
        assertFloor(id, T0 + 1119, CAROL, T0 + 1000, T0 + 1120, "history: third");
        assertFloor(id, T0 + 500, address(0), 0, 0, "history: gap");
    }

    function test_floor_slotCutAtSessionEnd() public {
        uint256 id = floor.createSession(params(uint40(T0 + 100), 150));
        enqueueAs(ALICE, id);
        enqueueAs(BOB, id);
        assertFloor(id, T0 + 220, BOB, T0 + 220, T0 + 250, "second slot cut short");
        (uint64 a, uint64 b) = floor.slotOf(id, 0, 1);
        vm.assertEq(b - a, 30, "30 s left for Bob");
        vm.assertEq(floor.floorAt(id, T0 + 250).speaker, address(0), "session over");
    }

    function test_slotOf_unknownEntry() public {
        uint256 id = openFloor();
        vm.expectRevert(abi.encodeWithSelector(IAssembly.UnknownEntry.selector, id, 0, 0));
        floor.slotOf(id, 0, 0);
    }

    function test_floorNow() public {
        uint256 id = openFloor();
        enqueueAs(ALICE, id);
        vm.warp(T0 + 101);
        vm.assertEq(floor.floorNow(id).speaker, ALICE, "now");
        vm.expectRevert(abi.encodeWithSelector(IAssembly.UnknownSession.selector, 2));
        floor.floorNow(2);
    }

    // ------------------------------------------------------------ withdraw and yield

    function test_withdraw_beforeTurnTakesNoTime() public {
        uint256 id = openFloor();
        enqueueAs(ALICE, id);
        enqueueAs(BOB, id);
        enqueueAs(CAROL, id);
        vm.warp(T0 + 150);
        vm.expectEmit();
        emit IAssembly.Withdrawn(id, 0, 1, BOB, uint40(T0 + 150));
        vm.prank(BOB);
        floor.withdraw(id);
        assertFloor(id, T0 + 220, CAROL, T0 + 220, T0 + 340, "Carol moves up");
        (uint64 a, uint64 b) = floor.slotOf(id, 0, 1);
        vm.assertEq(a, b, "withdrawn slot is empty");
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotQueued.selector, id, BOB));
        floor.withdraw(id);
        // Bob may ask again, at the back.
        enqueueAs(BOB, id);
        assertFloor(id, T0 + 340, BOB, T0 + 340, T0 + 460, "Bob after Carol");
        // History survives settling past a withdrawn entry.
        vm.warp(T0 + 500);
        enqueueAs(ALICE, id);
        assertFloor(id, T0 + 300, CAROL, T0 + 220, T0 + 340, "history kept");
        assertFloor(id, T0 + 400, BOB, T0 + 340, T0 + 460, "history kept");
    }

    /// A request withdrawn behind the floor stays in the queue until the floor passes it;
    /// until then its speaker may ask again but not withdraw again.
    function test_withdraw_onceWhileAWithdrawnRequestWaits() public {
        uint256 id = openFloor();
        vm.warp(T0 + 100);
        enqueueAs(ALICE, id);
        enqueueAs(BOB, id);
        vm.prank(BOB);
        floor.withdraw(id);
        enqueueAs(CAROL, id);
        uint32 again = enqueueAs(BOB, id);
        vm.assertEq(again, 3, "Bob asks again");
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.WithdrawnRequestQueued.selector, id, 0, 1));
        floor.withdraw(id);
        // Once the floor has passed the withdrawn request (Alice's slot is over), he may.
        vm.warp(T0 + 220);
        vm.expectEmit();
        emit IAssembly.Withdrawn(id, 0, 3, BOB, uint40(T0 + 220));
        vm.prank(BOB);
        floor.withdraw(id);
        assertFloor(id, T0 + 340, address(0), 0, 0, "nobody after Carol");
    }

    /// Asking and withdrawing over and over, as many accounts as like, neither keeps anyone
    /// out of the queue nor grows what its loops read: at most MAX_QUEUE_CAP withdrawn
    /// entries are ever past the head.
    function test_withdraw_churnIsBounded() public {
        IAssembly.SessionParams memory p = params(uint40(T0 + 100), 3600);
        p.maxQueue = 2;
        uint256 id = floor.createSession(p);
        uint16 cap = floor.MAX_QUEUE_CAP();
        vm.warp(T0 + 100);
        enqueueAs(ALICE, id);
        for (uint160 i = 1; i <= 40; ++i) {
            address o = address(0x1000 + i);
            bonding.setActive(o, true);
            uint32 index = enqueueAs(o, id);
            vm.prank(o);
            if (i <= cap) {
                floor.withdraw(id);
            } else {
                vm.expectRevert(abi.encodeWithSelector(IAssembly.TooManyWithdrawn.selector, id, 0, cap));
                floor.withdraw(id);
                // The refused one keeps the second place; yielding at once would give it back.
                vm.assertEq(index, cap + 1, "behind the withdrawn");
                break;
            }
        }
        IAssembly.Queue memory q = floor.getQueue(id, 0);
        vm.assertEq(q.live, 2, "Alice and the refused one");
        vm.assertEq(q.tail - q.head, cap + 2, "bounded past the head");
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.QueueFull.selector, id, 0, 2));
        floor.enqueue(id);
        // When Alice's slot ends the head passes every withdrawn entry at once.
        vm.warp(T0 + 100 + SLOT);
        enqueueAs(BOB, id);
        q = floor.getQueue(id, 0);
        vm.assertEq(q.head, cap + 1, "head past the withdrawn");
        vm.assertEq(q.live, 2, "two live");
        assertFloor(id, T0 + 100 + SLOT, address(0x1000 + uint160(cap) + 1), T0 + 220, T0 + 340, "next live");
        assertFloor(id, T0 + 150, ALICE, T0 + 100, T0 + 220, "history kept");
        (uint64 a, uint64 b) = floor.slotOf(id, 0, 5);
        vm.assertEq(a, T0 + 220, "withdrawn entry settled at the cursor");
        vm.assertEq(b, a, "and empty");
    }

    function test_withdraw_errors() public {
        uint256 id = openFloor();
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotQueued.selector, id, ALICE));
        floor.withdraw(id);
        enqueueAs(ALICE, id);
        vm.warp(T0 + 100);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.SlotAlreadyStarted.selector, id, 0, T0 + 100));
        floor.withdraw(id);
        vm.warp(T0 + 220);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotQueued.selector, id, ALICE));
        floor.withdraw(id);
    }

    function test_yieldFloor_handsOverAtOnce() public {
        uint256 id = openFloor();
        enqueueAs(ALICE, id);
        enqueueAs(BOB, id);
        vm.warp(T0 + 130);
        vm.expectEmit();
        emit IAssembly.Yielded(id, 0, 0, ALICE, uint40(T0 + 130));
        vm.prank(ALICE);
        floor.yieldFloor(id);
        assertFloor(id, T0 + 129, ALICE, T0 + 100, T0 + 130, "her slot ended at the yield");
        assertFloor(id, T0 + 130, BOB, T0 + 130, T0 + 250, "Bob at once");
        // Yield, settle, and the history still reads back.
        vm.warp(T0 + 140);
        vm.prank(BOB);
        floor.yieldFloor(id);
        assertFloor(id, T0 + 135, BOB, T0 + 130, T0 + 140, "Bob's short slot");
        assertFloor(id, T0 + 140, address(0), 0, 0, "empty floor");
    }

    function test_yieldFloor_errors() public {
        uint256 id = openFloor();
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotInSession.selector, id, T0));
        floor.yieldFloor(id);
        vm.warp(T0 + 100);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotFloorHolder.selector, id, ALICE, address(0)));
        floor.yieldFloor(id);
        enqueueAs(ALICE, id);
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotFloorHolder.selector, id, BOB, ALICE));
        floor.yieldFloor(id);
        // Queued but waiting for the session's start: nobody holds the floor yet.
        uint256 later = floor.createSession(params(uint40(T0 + 1000), 100));
        enqueueAs(BOB, later);
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.NotInSession.selector, later, T0 + 100));
        floor.yieldFloor(later);
    }

    // ------------------------------------------------------------ schedules

    function test_recurringSession_oneTransactionManyWeeks() public {
        IAssembly.SessionParams memory p = params(uint40(T0 + 100), 3600);
        p.period = 7 days;
        p.count = 3;
        uint256 id = floor.createSession(p);
        (uint64 a, uint64 b) = floor.occurrenceBounds(id, 2);
        vm.assertEq(a, T0 + 100 + 14 days, "third week");
        vm.assertEq(b, T0 + 3700 + 14 days, "an hour long");

        // Between occurrences a request queues for the next one.
        vm.warp(T0 + 2 days);
        vm.prank(ALICE);
        (uint32 occ,) = floor.enqueue(id);
        vm.assertEq(occ, 1, "next week");
        assertFloor(id, T0 + 100 + 7 days, ALICE, T0 + 100 + 7 days, T0 + 220 + 7 days, "speaks next week");
        assertFloor(id, T0 + 100 + 14 days, address(0), 0, 0, "not the week after");
        vm.assertEq(floor.floorAt(id, T0 + 100 + 7 days).occurrence, 1, "occurrence reported");

        vm.warp(T0 + 3700 + 14 days);
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.SessionOver.selector, id));
        floor.enqueue(id);
    }

    function test_alwaysInSession() public {
        uint256 id = floor.createSession(params(uint40(T0), floor.FOREVER()));
        vm.warp(T0 + 400 days);
        enqueueAs(ALICE, id);
        assertFloor(id, T0 + 400 days, ALICE, T0 + 400 days, T0 + 400 days + SLOT, "any day");
    }

    function test_unboundedRecurrence() public {
        IAssembly.SessionParams memory p = params(uint40(T0 + 100), 3600);
        p.period = 7 days;
        uint256 id = floor.createSession(p);
        vm.warp(T0 + 100 + 520 weeks);
        vm.prank(ALICE);
        (uint32 occ,) = floor.enqueue(id);
        vm.assertEq(occ, 520, "ten years on");
    }
}
