// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAssembly} from "../contracts/interfaces/IAssembly.sol";
import {LivepeerPolls} from "../contracts/libraries/LivepeerPolls.sol";
import {Fixture} from "./utils/Fixture.sol";
import {vm} from "./utils/Vm.sol";

/// Gas of each transaction, written to snapshots/GasTest.json (committed). Run under the
/// `gas` profile (`isolate = true`), each call is its own transaction with cold storage, and
/// the figure is the whole transaction's gas, the 21,000 every transaction pays included.
/// Gas is deterministic, so the budget for `enqueue` is asserted here.
contract GasTest is Fixture {
    /// Includes the eligibility check: the BondingManager reads the round from RoundsManager,
    /// as Livepeer's does (a cold call; on Arbitrum One a proxy hop more).
    uint256 internal constant ENQUEUE_BUDGET = 100_000;
    /// Any call, with the queue as full of live and withdrawn entries as the bounds allow.
    uint256 internal constant WORST_CASE_BUDGET = 1_000_000;
    uint256 internal id;

    function setUp() public override {
        super.setUp();
        IAssembly.SessionParams memory p = params(uint40(T0 + 100), 4 hours);
        p.speakers = IAssembly.Speakers.OrchestratorsAndDelegators;
        p.maxQueue = 32;
        id = floor.createSession(p);
    }

    function test_gas_enqueue_firstInOccurrence() public {
        vm.prank(ALICE);
        floor.enqueue(id);
        uint256 gas = vm.snapshotGasLastCall("enqueue (first entry of an occurrence)");
        vm.assertLt(gas, ENQUEUE_BUDGET, "enqueue budget");
    }

    function test_gas_enqueue_behindOthers() public {
        enqueueAs(ALICE, id);
        vm.prank(BOB);
        floor.enqueue(id);
        uint256 gas = vm.snapshotGasLastCall("enqueue (behind a waiting entry)");
        vm.assertLt(gas, ENQUEUE_BUDGET, "enqueue budget");
    }

    function test_gas_enqueue_settlingOneSlot() public {
        enqueueAs(ALICE, id);
        vm.warp(T0 + 100 + SLOT);
        vm.prank(BOB);
        floor.enqueue(id);
        uint256 gas = vm.snapshotGasLastCall("enqueue (settling one finished slot)");
        vm.assertLt(gas, ENQUEUE_BUDGET, "enqueue budget");
    }

    function test_gas_enqueue_returningSpeaker() public {
        enqueueAs(ALICE, id);
        enqueueAs(BOB, id);
        vm.warp(T0 + 100 + SLOT);
        vm.prank(ALICE);
        floor.enqueue(id);
        uint256 gas = vm.snapshotGasLastCall("enqueue (returning speaker, settling one slot)");
        vm.assertLt(gas, ENQUEUE_BUDGET, "enqueue budget");
    }

    function test_gas_enqueue_behindFifteen() public {
        for (uint160 i = 1; i <= 15; ++i) {
            address o = address(0x1000 + i);
            bonding.setActive(o, true);
            enqueueAs(o, id);
        }
        vm.prank(ALICE);
        floor.enqueue(id);
        uint256 gas = vm.snapshotGasLastCall("enqueue (behind 15 waiting entries)");
        vm.assertLt(gas, ENQUEUE_BUDGET, "enqueue budget");
    }

    function test_gas_enqueue_delegator() public {
        enqueueAs(ALICE, id);
        vm.prank(DAVE);
        floor.enqueue(id);
        uint256 gas = vm.snapshotGasLastCall("enqueue (delegator)");
        vm.assertLt(gas, ENQUEUE_BUDGET, "enqueue budget");
    }

    /// The worst case: 31 finished slots settled by one request (bounded by MAX_QUEUE_CAP).
    function test_gas_enqueue_worstCaseSettlesFullQueue() public {
        for (uint160 i = 1; i <= 31; ++i) {
            address o = address(0x1000 + i);
            bonding.setActive(o, true);
            enqueueAs(o, id);
        }
        vm.warp(T0 + 100 + 31 * SLOT);
        vm.prank(ALICE);
        floor.enqueue(id);
        vm.snapshotGasLastCall("enqueue (worst case: settling 31 slots)");
    }

    /// Fills the queue with churn: a first live entry, then `withdrawn` accounts that ask
    /// and withdraw at once behind it, then live entries up to `live` in all.
    function fillWithChurn(uint160 withdrawn, uint160 live) internal {
        bonding.setActive(address(0x1001), true);
        enqueueAs(address(0x1001), id);
        for (uint160 i = 1; i <= withdrawn; ++i) {
            address w = address(0x2000 + i);
            bonding.setActive(w, true);
            enqueueAs(w, id);
            vm.prank(w);
            floor.withdraw(id);
        }
        for (uint160 i = 2; i <= live; ++i) {
            address o = address(0x1000 + i);
            bonding.setActive(o, true);
            enqueueAs(o, id);
        }
    }

    /// Churn cannot grow the queue past the head: a 33rd withdrawal is refused, so this is
    /// the worst case, 32 finished slots and 32 withdrawn entries settled by one request.
    function test_gas_enqueue_worstCaseSettlesChurnedQueue() public {
        fillWithChurn(32, 31);
        address extra = address(0x2021);
        bonding.setActive(extra, true);
        enqueueAs(extra, id);
        vm.prank(extra);
        vm.expectRevert(abi.encodeWithSelector(IAssembly.TooManyWithdrawn.selector, id, 0, 32));
        floor.withdraw(id);
        vm.warp(T0 + 100 + 32 * SLOT);
        vm.prank(ALICE);
        floor.enqueue(id);
        uint256 gas = vm.snapshotGasLastCall("enqueue (worst case: settling 32 slots and 32 withdrawn entries)");
        vm.assertLt(gas, WORST_CASE_BUDGET, "bounded whatever the churn");
        vm.assertEq(floor.getQueue(id, 0).head, 64, "all settled");
    }

    function test_gas_withdraw_behindChurnedQueue() public {
        fillWithChurn(31, 32);
        vm.prank(address(0x1000 + 32));
        floor.withdraw(id);
        uint256 gas = vm.snapshotGasLastCall("withdraw (last of 32 live entries among 31 withdrawn)");
        vm.assertLt(gas, WORST_CASE_BUDGET, "bounded whatever the churn");
    }

    function test_gas_withdraw() public {
        enqueueAs(ALICE, id);
        enqueueAs(BOB, id);
        vm.prank(BOB);
        floor.withdraw(id);
        vm.snapshotGasLastCall("withdraw");
    }

    function test_gas_yieldFloor() public {
        enqueueAs(ALICE, id);
        enqueueAs(BOB, id);
        vm.warp(T0 + 150);
        vm.prank(ALICE);
        floor.yieldFloor(id);
        vm.snapshotGasLastCall("yieldFloor");
    }

    function test_gas_createSession_weekly() public {
        IAssembly.SessionParams memory p = params(uint40(T0 + 100), 3600);
        p.period = 7 days;
        floor.createSession(p);
        vm.snapshotGasLastCall("createSession (weekly, until cancelled)");
    }

    function test_gas_openDebate() public {
        address[] memory targets = new address[](1);
        targets[0] = address(rounds);
        uint256[] memory values = new uint256[](1);
        bytes[] memory calldatas = new bytes[](1);
        calldatas[0] = abi.encodeWithSignature("setRoundLength(uint256)", 200);
        gov.propose(targets, values, calldatas, "LIP");
        floor.openDebate(targets, values, calldatas, keccak256("LIP"));
        vm.snapshotGasLastCall("openDebate");
    }

    function test_gas_openPollDebate() public {
        vm.prank(DAVE);
        polls.createPoll("QmPoll");
        floor.openPollDebate(LivepeerPolls.createdAt(address(polls), 1), 1);
        vm.snapshotGasLastCall("openPollDebate");
    }

    /// Views run as a plain call so that they, too, are measured as a transaction.
    function viewCall(bytes memory data) internal {
        (bool ok,) = address(floor).call(data);
        vm.assertTrue(ok, "view call");
    }

    function test_gas_floorAt_fullQueue() public {
        for (uint160 i = 1; i <= 32; ++i) {
            address o = address(0x1000 + i);
            bonding.setActive(o, true);
            enqueueAs(o, id);
        }
        viewCall(abi.encodeCall(floor.floorAt, (id, T0 + 100 + 31 * SLOT)));
        vm.snapshotGasLastCall("floorAt (last of 32 waiting entries)");
    }

    function test_gas_floorAt_churnedQueue() public {
        fillWithChurn(32, 32);
        viewCall(abi.encodeCall(floor.floorAt, (id, T0 + 100 + 31 * SLOT)));
        uint256 gas = vm.snapshotGasLastCall("floorAt (last of 32 live entries behind 32 withdrawn)");
        vm.assertLt(gas, WORST_CASE_BUDGET, "bounded whatever the churn");
    }

    function test_gas_floorAt_deepHistory() public {
        for (uint160 i = 1; i <= 200; ++i) {
            address o = address(0x1000 + i);
            bonding.setActive(o, true);
            vm.warp(T0 + 100 + (i - 1) * 15);
            enqueueAs(o, id);
            vm.prank(o);
            floor.yieldFloor(id);
            bonding.setActive(o, false); // the active set holds 100
        }
        viewCall(abi.encodeCall(floor.floorAt, (id, T0 + 100 + 7 * 15)));
        vm.snapshotGasLastCall("floorAt (binary search over 200 settled slots)");
    }
}
