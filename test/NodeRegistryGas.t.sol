// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {vm} from "./utils/Vm.sol";

/// Gas of each registry transaction, written to snapshots/NodeRegistryGasTest.json under the
/// `gas` profile (each call its own transaction, cold storage, the 21,000 base included).
contract NodeRegistryGasTest is RegistryFixture {
    /// An orchestrator registers once and rarely again; this is a budget, not a target.
    uint256 internal constant REGISTER_BUDGET = 200_000;

    function test_gas_register() public {
        bytes memory p = proof(ALICE, 1);
        vm.prank(ALICE);
        registry.register(URL, nodeKey(1), p);
        uint256 gas = vm.snapshotGasLastCall("register (26-byte URL)");
        vm.assertLt(gas, REGISTER_BUDGET, "register budget");
    }

    function test_gas_register_longestUrl() public {
        bytes memory host = new bytes(248);
        for (uint256 i; i < host.length; ++i) {
            host[i] = "a";
        }
        string memory longest = string(bytes.concat("https://", host));
        bytes memory p = proof(ALICE, 1);
        vm.prank(ALICE);
        registry.register(longest, nodeKey(1), p);
        vm.snapshotGasLastCall("register (256-byte URL)");
    }

    function test_gas_updateUrl() public {
        registerAs(ALICE, URL, 1);
        vm.prank(ALICE);
        registry.updateUrl("https://alice.example:9443");
        vm.snapshotGasLastCall("updateUrl (same length)");
    }

    function test_gas_rotateKey() public {
        registerAs(ALICE, URL, 1);
        bytes memory p = proof(ALICE, 2);
        vm.prank(ALICE);
        registry.rotateKey(nodeKey(2), p);
        vm.snapshotGasLastCall("rotateKey");
    }

    function test_gas_deregister_last() public {
        registerAs(ALICE, URL, 1);
        vm.prank(ALICE);
        registry.deregister();
        vm.snapshotGasLastCall("deregister (the last listed)");
    }

    function test_gas_deregister_swapsTheLast() public {
        registerAs(ALICE, URL, 1);
        registerAs(BOB, "https://bob.example", 2);
        vm.prank(ALICE);
        registry.deregister();
        vm.snapshotGasLastCall("deregister (the last listed moves into its place)");
    }
}
