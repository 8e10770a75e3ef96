// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Assembly} from "../contracts/Assembly.sol";
import {IAssembly} from "../contracts/interfaces/IAssembly.sol";
import {MockBondingManager} from "../contracts/mocks/MockBondingManager.sol";
import {Fixture} from "./utils/Fixture.sol";
import {vm} from "./utils/Vm.sol";

/// Drives one session with random requests, withdrawals, yields, changes of the active
/// set and the passing of time; records what it saw for the invariants to check. There are
/// more actors than places in the queue, so it fills.
contract FloorHandler {
    Assembly public immutable floor;
    MockBondingManager public immutable bonding;
    uint256 public immutable id;
    uint16 public immutable maxQueue;
    address[8] internal actors = [
        address(0xA1),
        address(0xA2),
        address(0xA3),
        address(0xA4),
        address(0xA5),
        address(0xA6),
        address(0xA7),
        address(0xA8)
    ];

    uint256 public ineligibleAdmitted;
    /// Requests admitted, and refused `QueueFull`, while the model's live requests (neither
    /// withdrawn nor over, read from `slotOf`) filled the queue, or did not.
    uint256 public admittedWhenFull;
    uint256 public refusedWithRoom;
    uint256 public refusedFull;
    /// Requests admitted although live and withdrawn requests past the head together
    /// reached the bound (issue 13, item 9: these were refused).
    uint256 public admittedBesideWithdrawn;
    mapping(uint256 index => uint256) public enqueuedAt;
    mapping(uint256 index => bool) public wasEligible;
    uint256[] public observedAt;
    address[] public observedSpeaker;

    constructor(Assembly floor_, MockBondingManager bonding_, uint256 id_) {
        floor = floor_;
        bonding = bonding_;
        id = id_;
        maxQueue = floor_.getSession(id_).maxQueue;
        for (uint256 i; i < 7; ++i) bonding.setActive(actors[i], true);
    }

    function enqueue(uint256 seed) external {
        request(seed);
        observe();
    }

    function request(uint256 seed) internal {
        address who = actors[seed % actors.length];
        bool eligible = bonding.isActiveTranscoder(who);
        (uint256 live, uint256 withdrawn) = pending();
        bool full = live >= maxQueue;
        vm.prank(who);
        try floor.enqueue(id) returns (uint32, uint32 index) {
            if (!eligible) ++ineligibleAdmitted;
            if (full) ++admittedWhenFull;
            if (live + withdrawn >= maxQueue) ++admittedBesideWithdrawn;
            enqueuedAt[index] = block.timestamp;
            wasEligible[index] = eligible;
        } catch (bytes memory reason) {
            if (bytes4(reason) == IAssembly.QueueFull.selector) {
                if (full) ++refusedFull;
                else ++refusedWithRoom;
            }
        }
    }

    /// Asks for the floor and withdraws at once, which piles withdrawn requests up.
    function churn(uint256 seed) external {
        address who = actors[seed % actors.length];
        request(seed);
        vm.prank(who);
        try floor.withdraw(id) {} catch {}
        observe();
    }

    /// The model's queue now, read entry by entry from `slotOf`: `live` requests (not
    /// withdrawn, slot not over) and `withdrawn` ones after the first live one.
    function pending() public view returns (uint256 live, uint256 withdrawn) {
        uint32 tail = floor.getQueue(id, 0).tail;
        for (uint32 i; i < tail; ++i) {
            if (floor.getEntry(id, 0, i).withdrawn) {
                if (live != 0) ++withdrawn;
                continue;
            }
            (, uint64 end) = floor.slotOf(id, 0, i);
            if (end > block.timestamp) ++live;
        }
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
        (p.slotLength, p.maxQueue) = shape();
        id = floor.createSession(p);
        (uint64 a, uint64 b) = floor.occurrenceBounds(id, 0);
        (occStart, occEnd) = (a, b);
        handler = new FloorHandler(floor, bonding, id);
    }

    /// The session's slot length and queue bound.
    function shape() internal pure virtual returns (uint32 slotLength, uint16 maxQueue) {
        return (90, 6);
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

    /// The queue past the head never exceeds its bound (this bounds every loop): at most
    /// `maxQueue` live entries, which `live` counts, and MAX_QUEUE_CAP withdrawn ones, no two
    /// of them one speaker's.
    function invariant_queueBounded() public view {
        IAssembly.Queue memory q = floor.getQueue(id, 0);
        uint256 live;
        for (uint32 i = q.head; i < q.tail; ++i) {
            IAssembly.Entry memory e = floor.getEntry(id, 0, i);
            if (!e.withdrawn) {
                ++live;
                continue;
            }
            for (uint32 j = i + 1; j < q.tail; ++j) {
                IAssembly.Entry memory later = floor.getEntry(id, 0, j);
                if (later.withdrawn) vm.assertTrue(later.speaker != e.speaker, "one withdrawn entry a speaker");
            }
        }
        vm.assertEq(q.live, live, "live counts the entries past the head not withdrawn");
        vm.assertLe(q.live, handler.maxQueue(), "queue bound");
        vm.assertLe(q.tail - q.head - q.live, floor.MAX_QUEUE_CAP(), "withdrawn bound");
    }

    /// A request is refused `QueueFull` exactly when the live requests fill the queue:
    /// withdrawn requests and finished slots hold no place.
    function invariant_liveRequestsFillTheQueue() public view {
        vm.assertEq(handler.refusedWithRoom(), 0, "refused with a place free");
        vm.assertEq(handler.admittedWhenFull(), 0, "admitted past the bound");
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

/// The same invariants on a queue of two with short slots (issue 13, item 9's shape), which
/// the handler's crowd fills often, withdrawn requests and all.
contract SmallQueueInvariantsTest is FloorInvariantsTest {
    function shape() internal pure override returns (uint32 slotLength, uint16 maxQueue) {
        return (20, 2);
    }
}
