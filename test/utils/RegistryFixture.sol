// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {NodeRegistry} from "../../contracts/NodeRegistry.sol";
import {MockBondingManager} from "../../contracts/mocks/MockBondingManager.sol";
import {MockRoundsManager} from "../../contracts/mocks/MockRoundsManager.sol";
import {vm} from "./Vm.sol";

/// @notice A NodeRegistry over the mock BondingManager, with a few orchestrators, a stranger,
/// and node keys whose private keys the tests hold (to sign the registry's key proofs).
abstract contract RegistryFixture {
    NodeRegistry internal registry;
    MockBondingManager internal bonding;
    MockRoundsManager internal rounds;

    address internal constant ALICE = address(0xA11CE); // orchestrator
    address internal constant BOB = address(0xB0B); // orchestrator
    address internal constant CAROL = address(0xCA201); // orchestrator
    address internal constant EVE = address(0xE7E); // stranger

    string internal constant URL = "https://alice.example:8443";

    function setUp() public virtual {
        vm.roll(1000);
        rounds = new MockRoundsManager(100, 4000);
        bonding = new MockBondingManager(rounds, 100);
        registry = new NodeRegistry(address(this), bonding);
        bonding.setActive(ALICE, true);
        bonding.setActive(BOB, true);
        bonding.setActive(CAROL, true);
    }

    /// The private key of node key number `i` (never zero, always below the curve order).
    function nodeSecret(uint256 i) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode("assembly node", i))) % (type(uint128).max) + 1;
    }

    function nodeKey(uint256 i) internal pure returns (address) {
        return vm.addr(nodeSecret(i));
    }

    /// Node key `i`'s consent to serve `operator`.
    function proof(address operator, uint256 i) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(nodeSecret(i), digest(operator));
        return abi.encodePacked(r, s, v);
    }

    /// EIP-712 written out, as a node computes it: an independent check of `keyDigest`, and
    /// no call to the registry (which would use up a pending `vm.prank`).
    function digest(address operator) internal view returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Assembly NodeRegistry"),
                keccak256("1"),
                block.chainid,
                address(registry)
            )
        );
        bytes32 claim = keccak256(abi.encode(keccak256("NodeKey(address operator)"), operator));
        return keccak256(abi.encodePacked("\x19\x01", domain, claim));
    }

    function registerAs(address operator, string memory url, uint256 key) internal {
        vm.prank(operator);
        registry.register(url, nodeKey(key), proof(operator, key));
    }
}
