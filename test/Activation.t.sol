// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAssembly} from "../contracts/interfaces/IAssembly.sol";
import {IBondingManager} from "../contracts/interfaces/ILivepeer.sol";
import {MockBondingManager} from "../contracts/mocks/MockBondingManager.sol";
import {Fixture} from "./utils/Fixture.sol";
import {vm} from "./utils/Vm.sol";

/// Livepeer's round clock for the active set, as the mock models it and Assembly reads it:
/// joining and leaving take effect in the next round, and a full set evicts its weakest.
contract ActivationTest is Fixture {
    address internal constant FRANK = address(0xF4A2C);
    address internal constant GINA = address(0x61A);
    address internal constant HAL = address(0x4A1);

    /// Fixture: rounds are 100 blocks from block 1000 (round 4000).
    function nextRound() internal {
        vm.roll(block.number + 100);
    }

    function test_activation_takesEffectNextRound() public {
        uint256 id = floor.createSession(params(uint40(T0 + 100), 30 days));
        vm.warp(T0 + 100);
        vm.expectEmit(address(bonding));
        emit IBondingManager.TranscoderActivated(FRANK, 4001);
        bonding.activate(FRANK);
        vm.assertTrue(!bonding.isActiveTranscoder(FRANK), "not in the round it asked");
        vm.prank(FRANK);
        vm.expectRevert(
            abi.encodeWithSelector(IAssembly.NotEligible.selector, FRANK, IAssembly.Speakers.Orchestrators)
        );
        floor.enqueue(id);

        nextRound();
        vm.assertTrue(bonding.isActiveTranscoder(FRANK), "active from the next round");
        enqueueAs(FRANK, id);
    }

    function test_resignation_takesEffectNextRound() public {
        bonding.activate(FRANK);
        nextRound();
        vm.expectEmit(address(bonding));
        emit IBondingManager.TranscoderDeactivated(FRANK, 4002);
        bonding.resign(FRANK);
        vm.assertTrue(bonding.isActiveTranscoder(FRANK), "still active in this round");
        nextRound();
        vm.assertTrue(!bonding.isActiveTranscoder(FRANK), "gone from the next");
    }

    function test_fullActiveSet_evictsTheWeakest_orRefusesTheWeaker() public {
        MockBondingManager small = new MockBondingManager(rounds, 2);
        small.setBonded(FRANK, FRANK, 10 ether);
        small.setBonded(GINA, GINA, 20 ether);
        small.setBonded(HAL, HAL, 5 ether);
        small.activate(FRANK);
        small.activate(GINA);

        // Weaker than everyone in the set: not admitted, and nothing announced.
        vm.recordLogs();
        small.activate(HAL);
        vm.assertEq(vm.getRecordedLogs().length, 0, "no event for a refused activation");
        nextRound();
        vm.assertTrue(!small.isActiveTranscoder(HAL), "not admitted");

        // Stronger than the weakest: takes its place from the next round.
        small.setBonded(HAL, HAL, 30 ether);
        vm.expectEmit(address(small));
        emit IBondingManager.TranscoderDeactivated(FRANK, 4002);
        vm.expectEmit(address(small));
        emit IBondingManager.TranscoderActivated(HAL, 4002);
        small.activate(HAL);
        vm.assertTrue(small.isActiveTranscoder(FRANK), "the evicted stays for this round");
        vm.assertTrue(!small.isActiveTranscoder(HAL), "the newcomer waits for the next");
        nextRound();
        vm.assertTrue(!small.isActiveTranscoder(FRANK), "evicted");
        vm.assertTrue(small.isActiveTranscoder(HAL), "admitted");
        vm.assertTrue(small.isActiveTranscoder(GINA), "untouched");
    }
}
