// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AnchorFixture} from "./utils/AnchorFixture.sol";
import {vm} from "./utils/Vm.sol";

/// Gas of anchoring an occurrence's record, written to snapshots/RecordAnchorGasTest.json
/// under the `gas` profile (each call its own transaction, cold storage, the 21,000 base
/// included). Membership is read from the mock BondingManager, as in the registry's figures.
/// `verify` has no figure: clients call it off chain, where it costs nothing.
contract RecordAnchorGasTest is AnchorFixture {
    /// Each node anchors once per occurrence; this is a budget, not a target.
    uint256 internal constant ANCHOR_BUDGET = 150_000;

    bytes32 internal constant ROOT = keccak256("a record");
    uint256 internal id;

    function setUp() public override {
        super.setUp();
        registerAs(ALICE, 1);
        registerAs(BOB, 2);
        id = endedOccurrence();
    }

    function test_gas_anchor_first() public {
        vm.prank(nodeKey(1));
        anchors.anchor(id, 0, ROOT, 30);
        uint256 gas = vm.snapshotGasLastCall("anchor (an occurrence's first root, by a node key)");
        vm.assertLt(gas, ANCHOR_BUDGET, "anchor budget");
    }

    function test_gas_anchor_secondOperator() public {
        anchorAs(nodeKey(1), id, 0, ROOT, 30);
        vm.prank(nodeKey(2));
        anchors.anchor(id, 0, ROOT, 30);
        vm.snapshotGasLastCall("anchor (a second operator attests the same root)");
    }

    function test_gas_anchor_anotherRoot() public {
        anchorAs(nodeKey(1), id, 0, ROOT, 30);
        vm.prank(nodeKey(2));
        anchors.anchor(id, 0, keccak256("another record"), 29);
        vm.snapshotGasLastCall("anchor (a second root for the occurrence)");
    }

    function test_gas_anchor_byOperator() public {
        vm.prank(ALICE);
        anchors.anchor(id, 0, ROOT, 30);
        vm.snapshotGasLastCall("anchor (an occurrence's first root, by a lone node's operator)");
    }
}
