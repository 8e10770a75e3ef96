// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Assembly} from "../contracts/Assembly.sol";
import {IAssembly} from "../contracts/interfaces/IAssembly.sol";
import {MockBondingManager} from "../contracts/mocks/MockBondingManager.sol";
import {Fixture} from "./utils/Fixture.sol";
import {vm} from "./utils/Vm.sol";

/// Drives one session with random requests, withdrawals, yields, changes of the active
/// set and the passing of time; records what it saw for the invariants to check.
contract FloorHandler {
    Assembly public immutable floor;
    MockBondingManager public immutable bonding;
    uint256 public immutable id;
    address[5] internal actors = [address(0xA1), address(0xA2), address(0xA3), address(0xA4), address(0xA5)];

    uint256 public ineligibleAdmitted;
    mapping(uint256 index => uint256) public enqueuedAt;
    mapping(uint256 index => bool) public wasEligible;
    uint256[] public observedAt;
    address[] public observedSpeaker;

    constructor(Assembly floor_, MockBondingManager bonding_, uint256 id_) {
        floor = floor_;
        bonding = bonding_;
        id = id_;
        for (uint256 i; i < 3; ++i) bonding.setActive(actors[i], true);
    }

    function enqueue(uint256 seed) external {
        address who = actors[seed % actors.length];
        bool eligible = bonding.isActiveTranscoder(who);
        vm.prank(who);
        try floor.enqueue(id) returns (uint32, uint32 index) {
            if (!eligible) ++ineligibleAdmitted;
            enqueuedAt[index] = block.timestamp;
            wasEligible[index] = eligible;
        } catch {}
        observe();
    }

    function withdraw(uint256 seed) external {
        vm.prank(actors[seed % actors.length]);
        try floor.withdraw(id) {} catch {}
        observe();
    }

    function yieldFloor(uint256 seed) external {
        address who = seed % 2 == 0 ? floor.floorNow(id).speaker : actors[seed % actors.length];
        vm.prank(who);
        try floor.yieldFloor(id) {} catch {}
        observe();
    }

    function toggleActive(uint256 seed) external {
        address who = actors[seed % actors.length];
        bonding.setActive(who, !bonding.isActiveTranscoder(who));
    }

    function pass(uint256 seconds_) external {
        vm.warp(block.timestamp + seconds_ % 300);
        observe();
    }

    function observations() external view returns (uint256) {
        return observedAt.length;
    }

    /// Records who holds the floor now; a later action in the same second supersedes it.
    function observe() internal {
        uint256 n = observedAt.length;
        if (n != 0 && observedAt[n - 1] == block.timestamp) {
            observedSpeaker[n - 1] = floor.floorNow(id).speaker;
            return;
        }
        observedAt.push(block.timestamp);
        observedSpeaker.push(floor.floorNow(id).speaker);
    }
}

contract FloorInvariantsTest is Fixture {
    FloorHandler internal handler;
    uint256 internal id;
    uint256 internal occStart;
    uint256 internal occEnd;

    function setUp() public override {
        super.setUp();
        IAssembly.SessionParams memory p = params(uint40(T0 + 60), 2 hours);
        p.slotLength = 90;
        p.maxQueue = 6;
        id = floor.createSession(p);
        (uint64 a, uint64 b) = floor.occurrenceBounds(id, 0);
        (occStart, occEnd) = (a, b);
        handler = new FloorHandler(floor, bonding, id);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// Slots, in queue order: FIFO, never overlapping, inside the session, never before
    /// their request, and the floor is never idle while an entry waits.
    function invariant_slotsAreFifoDisjointAndWorkConserving() public view {
        uint32 tail = floor.getQueue(id, 0).tail;
        uint256 previousEnd;
        uint256 previousStart;
        for (uint32 i; i < tail; ++i) {
            (uint64 a, uint64 b) = floor.slotOf(id, 0, i);
            IAssembly.Entry memory e = floor.getEntry(id, 0, i);
            vm.assertGe(a, previousStart, "FIFO: starts in queue order");
            vm.assertLe(b, occEnd, "no slot past the session's end");
            if (e.withdrawn) continue;
            vm.assertGe(a, previousEnd, "slots never overlap");
            vm.assertGe(a, occStart, "no slot before the session");
            uint256 requested = handler.enqueuedAt(i);
            vm.assertGe(a, requested, "no slot before its request");
            uint256 earliest = requested > occStart ? requested : occStart;
            if (a > earliest) vm.assertEq(a, previousEnd, "no idle floor while someone waits");
            if (a == b && e.yieldedAt == 0) vm.assertEq(a, occEnd, "an empty slot only when time ran out");
            previousEnd = b;
            previousStart = a;
        }
    }

    /// Never two speakers at once: at most one slot contains any instant, and it is the
    /// one `floorAt` names.
    function invariant_oneSpeakerAtATime() public view {
        uint32 tail = floor.getQueue(id, 0).tail;
        for (uint256 t = occStart; t < occEnd; t += 89) {
            uint256 holders;
            uint32 holder;
            for (uint32 i; i < tail; ++i) {
                (uint64 a, uint64 b) = floor.slotOf(id, 0, i);
                if (t >= a && t < b) {
                    ++holders;
                    holder = i;
                }
            }
            vm.assertLe(holders, 1, "two speakers at once");
            IAssembly.Floor memory f = floor.floorAt(id, t);
            if (holders == 1) vm.assertEq(f.index, holder, "floorAt names the slot's holder");
            else vm.assertEq(f.speaker, address(0), "floorAt names nobody");
        }
    }

    /// Nobody ineligible at the moment of asking was ever queued.
    function invariant_noIneligibleEntry() public view {
        vm.assertEq(handler.ineligibleAdmitted(), 0, "ineligible admitted");
        uint32 tail = floor.getQueue(id, 0).tail;
        for (uint32 i; i < tail; ++i) {
            vm.assertTrue(handler.wasEligible(i), "entry eligible when made");
        }
    }

    /// The queue past the head never exceeds its bound (this bounds every loop).
    function invariant_queueBounded() public view {
        IAssembly.Queue memory q = floor.getQueue(id, 0);
        vm.assertLe(q.tail - q.head, 6, "queue bound");
    }

    /// Who held the floor at an instant never changes once the instant has passed (a
    /// transaction in the same second may still change it: that second is not past yet).
    function invariant_pastIsFinal() public view {
        uint256 n = handler.observations();
        for (uint256 k; k < n; ++k) {
            if (handler.observedAt(k) >= block.timestamp) continue;
            vm.assertEq(
                floor.floorAt(id, handler.observedAt(k)).speaker, handler.observedSpeaker(k), "history rewritten"
            );
        }
    }
}
