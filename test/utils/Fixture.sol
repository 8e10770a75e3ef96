// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Assembly} from "../../contracts/Assembly.sol";
import {IAssembly} from "../../contracts/interfaces/IAssembly.sol";
import {MockBondingManager} from "../../contracts/mocks/MockBondingManager.sol";
import {MockGovernor} from "../../contracts/mocks/MockGovernor.sol";
import {MockLivepeerToken} from "../../contracts/mocks/MockLivepeerToken.sol";
import {MockPollCreator} from "../../contracts/mocks/MockPollCreator.sol";
import {MockRoundsManager} from "../../contracts/mocks/MockRoundsManager.sol";
import {vm} from "./Vm.sol";

/// @notice Assembly wired to mocks of Livepeer, with a few orchestrators and delegators.
abstract contract Fixture {
    uint256 internal constant T0 = 1_700_000_000;
    uint32 internal constant SLOT = 120;

    Assembly internal floor;
    MockBondingManager internal bonding;
    MockRoundsManager internal rounds;
    MockGovernor internal gov;
    MockLivepeerToken internal lpt;
    MockPollCreator internal polls;

    address internal constant ALICE = address(0xA11CE); // orchestrator
    address internal constant BOB = address(0xB0B); // orchestrator
    address internal constant CAROL = address(0xCA201); // orchestrator
    address internal constant DAVE = address(0xDA7E); // delegator
    address internal constant EVE = address(0xE7E); // stranger

    function setUp() public virtual {
        vm.warp(T0);
        vm.roll(1000);
        rounds = new MockRoundsManager(100, 4000);
        bonding = new MockBondingManager(rounds, 100);
        gov = new MockGovernor(rounds, 1, 10);
        lpt = new MockLivepeerToken();
        polls = new MockPollCreator(bonding);
        floor = new Assembly(address(this), bonding, rounds, gov, address(lpt), polls, defaults());
        bonding.setActive(ALICE, true);
        bonding.setActive(BOB, true);
        bonding.setActive(CAROL, true);
        bonding.setBonded(DAVE, ALICE, 100 ether);
    }

    function defaults() internal pure returns (IAssembly.Defaults memory) {
        return IAssembly.Defaults({
            slotLength: SLOT,
            maxQueue: 16,
            debateDuration: 3600,
            debateLead: 1800,
            debateNotice: 600,
            l1BlockTime: 12,
            debateSpeakers: IAssembly.Speakers.OrchestratorsAndDelegators,
            minDelegatorStake: 1 ether
        });
    }

    function params(uint40 start, uint40 duration) internal pure returns (IAssembly.SessionParams memory p) {
        p.start = start;
        p.duration = duration;
        p.speakers = IAssembly.Speakers.Orchestrators;
    }

    /// A one-hour open floor starting at T0 + 100.
    function openFloor() internal returns (uint256) {
        return floor.createSession(params(uint40(T0 + 100), 3600));
    }

    function enqueueAs(address who, uint256 id) internal returns (uint32 index) {
        vm.prank(who);
        (, index) = floor.enqueue(id);
    }

    function assertFloor(uint256 id, uint256 t, address speaker, uint256 start, uint256 end, string memory why)
        internal
        view
    {
        IAssembly.Floor memory f = floor.floorAt(id, t);
        vm.assertEq(f.speaker, speaker, why);
        if (speaker != address(0)) {
            vm.assertEq(f.start, start, string.concat(why, ": start"));
            vm.assertEq(f.end, end, string.concat(why, ": end"));
        }
    }
}
