// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAssembly} from "../contracts/interfaces/IAssembly.sol";
import {Fixture} from "./utils/Fixture.sol";
import {ReferenceFloor} from "./utils/ReferenceFloor.sol";
import {vm} from "./utils/Vm.sol";

/// `floorAt` and `slotOf` against the plain-fold reference model, over random histories of
/// requests, withdrawals, yields and the passing of time. Each action must succeed on the
/// contract exactly when the model says it is allowed: a request while the model's live
/// requests (neither withdrawn nor over) fill the queue, a withdrawal while the caller has
/// no withdrawn request past the model's head and fewer than MAX_QUEUE_CAP are there.
contract FloorRuleFuzzTest is Fixture {
    address[5] internal people = [ALICE, BOB, CAROL, DAVE, EVE];
    /// The queue bound of the session under test, which the model's live requests fill.
    uint16 internal maxQueue;

    function testFuzz_floorAtMatchesReference(uint256 seed, uint16 slot, uint16 duration, uint8 lead) public {
        uint32 slotLength = uint32(bound(slot, 5, 400));
        uint40 length = uint40(bound(duration, 60, 4000));
        uint40 start = uint40(T0 + bound(lead, 0, 200));
        IAssembly.SessionParams memory p = params(start, length);
        p.slotLength = slotLength;
        p.maxQueue = 32;
        maxQueue = 32;
        uint256 id = floor.createSession(p);
        ReferenceFloor ref = new ReferenceFloor(start, uint256(start) + length, slotLength);

        for (uint256 step; step < 40; ++step) {
            uint256 r = uint256(keccak256(abi.encode(seed, step)));
            vm.warp(block.timestamp + (r % 97 == 0 ? 600 : r % 90));
            address who = people[(r >> 8) % people.length];
            uint256 action = (r >> 16) % 4;
            if (action <= 1) tryEnqueue(id, ref, who);
            else if (action == 2) tryWithdraw(id, ref, who);
            else tryYield(id, ref, who);
        }
        compare(id, ref, uint256(start) + length);
    }

    /// Small queues, a crowd, short steps and much withdrawing, so queues fill and withdrawn
    /// requests sit behind the floor: a request is refused `QueueFull` exactly when the
    /// model's live requests fill the queue, whatever was withdrawn.
    function testFuzz_liveRequestsFillTheQueue(uint256 seed, uint8 bound_, uint16 slot) public {
        maxQueue = uint16(bound(bound_, 1, 4));
        uint32 slotLength = uint32(bound(slot, 5, 120));
        uint40 start = uint40(T0 + 30);
        uint40 length = 1500;
        IAssembly.SessionParams memory p = params(start, length);
        p.slotLength = slotLength;
        p.maxQueue = maxQueue;
        uint256 id = floor.createSession(p);
        ReferenceFloor ref = new ReferenceFloor(start, uint256(start) + length, slotLength);
        address[8] memory crowd;
        for (uint160 i; i < 8; ++i) {
            crowd[i] = address(0x1000 + i);
            bonding.setActive(crowd[i], true);
        }

        for (uint256 step; step < 60; ++step) {
            uint256 r = uint256(keccak256(abi.encode(seed, step)));
            vm.warp(block.timestamp + r % 15);
            address who = crowd[(r >> 8) % crowd.length];
            uint256 action = (r >> 16) % 5;
            if (action <= 1) tryEnqueue(id, ref, who);
            else if (action <= 3) tryWithdraw(id, ref, who);
            else tryYield(id, ref, who);
        }
        compare(id, ref, uint256(start) + length);
    }

    function tryEnqueue(uint256 id, ReferenceFloor ref, address who) internal {
        uint256 nowTs = block.timestamp;
        (bool live,) = ref.liveOf(who, nowTs);
        (, uint256 liveCount,,) = ref.pending(nowTs, who);
        bool open = bonding.isActiveTranscoder(who) && !live && nowTs < ref.occEnd();
        bool allowed = open && liveCount < maxQueue;
        vm.prank(who);
        (bool ok, bytes memory reason) = address(floor).call(abi.encodeCall(floor.enqueue, (id)));
        vm.assertEq(ok, allowed, "enqueue allowed iff the model allows it");
        if (open && !allowed) {
            vm.assertEq(
                keccak256(reason),
                keccak256(abi.encodeWithSelector(IAssembly.QueueFull.selector, id, 0, maxQueue)),
                "refused QueueFull when live requests fill the queue"
            );
        }
        if (ok) ref.add(who, nowTs);
    }

    function tryWithdraw(uint256 id, ReferenceFloor ref, address who) internal {
        (bool live, uint256 i) = ref.liveOf(who, block.timestamp);
        (,, uint256 withdrawn, bool withdrawnBy) = ref.pending(block.timestamp, who);
        bool allowed;
        if (live) {
            (uint256 s,) = ref.slotOf(i);
            allowed = s > block.timestamp && !withdrawnBy && withdrawn < floor.MAX_QUEUE_CAP();
        }
        vm.prank(who);
        (bool ok,) = address(floor).call(abi.encodeCall(floor.withdraw, (id)));
        vm.assertEq(ok, allowed, "withdraw allowed iff the model allows it");
        if (ok) ref.withdraw(i);
    }

    function tryYield(uint256 id, ReferenceFloor ref, address who) internal {
        (address holder,,, uint256 i) = ref.floorAt(block.timestamp);
        bool allowed = holder == who && who != address(0);
        vm.prank(who);
        (bool ok,) = address(floor).call(abi.encodeCall(floor.yieldFloor, (id)));
        vm.assertEq(ok, allowed, "yield allowed iff the model allows it");
        if (ok) ref.yieldAt(i, block.timestamp);
    }

    function compare(uint256 id, ReferenceFloor ref, uint256 end) internal view {
        uint256 n = ref.count();
        for (uint256 i; i < n; ++i) {
            (uint256 a, uint256 b) = ref.slotOf(i);
            (uint64 ca, uint64 cb) = floor.slotOf(id, 0, uint32(i));
            if (a == b) {
                vm.assertEq(cb - ca, 0, "empty slot");
            } else {
                vm.assertEq(ca, a, "slot start");
                vm.assertEq(cb, b, "slot end");
            }
            checkAt(id, ref, a);
            checkAt(id, ref, b);
            if (b > 0) checkAt(id, ref, b - 1);
        }
        for (uint256 t = T0; t < end + 100; t += 37) {
            checkAt(id, ref, t);
        }
    }

    function checkAt(uint256 id, ReferenceFloor ref, uint256 t) internal view {
        (address speaker, uint256 a, uint256 b, uint256 i) = ref.floorAt(t);
        IAssembly.Floor memory f = floor.floorAt(id, t);
        vm.assertEq(f.speaker, speaker, "speaker");
        if (speaker != address(0)) {
            vm.assertEq(f.start, a, "start");
            vm.assertEq(f.end, b, "end");
            vm.assertEq(f.index, i, "index");
        }
    }

    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }
}
