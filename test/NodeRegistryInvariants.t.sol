// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {NodeRegistry} from "../contracts/NodeRegistry.sol";
import {INodeRegistry} from "../contracts/interfaces/INodeRegistry.sol";
import {MockBondingManager} from "../contracts/mocks/MockBondingManager.sol";
import {ReferenceRegistry} from "./utils/ReferenceRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {vm} from "./utils/Vm.sol";

/// Drives the registry with random registrations, URL changes, key rotations, departures,
/// changes of the active set and of governance standing, by a few operators sharing a small
/// pool of keys (so keys collide). Before each call it predicts the outcome from the
/// reference model; it applies the call to the model only when the registry accepted it.
contract RegistryHandler {
    NodeRegistry public immutable registry;
    MockBondingManager public immutable bonding;
    ReferenceRegistry public immutable model;
    /// Three orchestrators and one address that is not (until governance approves it).
    address[4] public actors = [address(0xA1), address(0xA2), address(0xA3), address(0xE1)];
    uint256 public constant KEYS = 6;
    /// Calls whose outcome (success, or the error) the model did not predict.
    uint256 public mispredicted;
    uint256 public accepted;

    constructor(NodeRegistry registry_, MockBondingManager bonding_) {
        registry = registry_;
        bonding = bonding_;
        model = new ReferenceRegistry();
        for (uint256 i; i < 3; ++i) {
            bonding.setActive(actors[i], true);
        }
    }

    function keySecret(uint256 i) public pure returns (uint256) {
        return uint256(keccak256(abi.encode("invariant node", i % KEYS))) % type(uint128).max + 1;
    }

    function keyOf(uint256 i) public pure returns (address) {
        return vm.addr(keySecret(i));
    }

    function register(uint256 actorSeed, uint256 keySeed, uint256 urlSeed, uint256 proofSeed) external {
        address who = actors[actorSeed % 4];
        address key = keyOf(keySeed);
        (bytes memory url, bytes4 urlError) = pickUrl(urlSeed);
        (bytes memory keyProof, bool consent) = pickProof(who, keySeed, proofSeed);

        INodeRegistry.Standing standing = registry.standingOf(who);
        bytes4 expected;
        if (standing == INodeRegistry.Standing.Suspended) {
            expected = INodeRegistry.OperatorSuspended.selector;
        } else if (standing != INodeRegistry.Standing.Approved && !bonding.isActiveTranscoder(who)) {
            expected = INodeRegistry.NotEligible.selector;
        } else if (model.nodeOf(who).key != address(0)) {
            expected = INodeRegistry.AlreadyRegistered.selector;
        } else if (urlError != 0) {
            expected = urlError;
        } else {
            expected = keyError(key, consent);
        }

        vm.prank(who);
        try registry.register(string(url), key, keyProof) {
            settle(expected, 0);
            model.add(who, key, keccak256(url));
        } catch (bytes memory reason) {
            settle(expected, bytes4(reason));
        }
    }

    function updateUrl(uint256 actorSeed, uint256 urlSeed) external {
        address who = actors[actorSeed % 4];
        (bytes memory url, bytes4 urlError) = pickUrl(urlSeed);
        bytes4 expected = model.nodeOf(who).key == address(0) ? INodeRegistry.NotRegistered.selector : urlError;
        vm.prank(who);
        try registry.updateUrl(string(url)) {
            settle(expected, 0);
            model.setUrl(who, keccak256(url));
        } catch (bytes memory reason) {
            settle(expected, bytes4(reason));
        }
    }

    function rotateKey(uint256 actorSeed, uint256 keySeed, uint256 proofSeed) external {
        address who = actors[actorSeed % 4];
        address key = keyOf(keySeed);
        (bytes memory keyProof, bool consent) = pickProof(who, keySeed, proofSeed);
        bytes4 expected =
            model.nodeOf(who).key == address(0) ? INodeRegistry.NotRegistered.selector : keyError(key, consent);
        vm.prank(who);
        try registry.rotateKey(key, keyProof) {
            settle(expected, 0);
            model.setKey(who, key);
        } catch (bytes memory reason) {
            settle(expected, bytes4(reason));
        }
    }

    function deregister(uint256 actorSeed) external {
        address who = actors[actorSeed % 4];
        bytes4 expected = model.nodeOf(who).key == address(0) ? INodeRegistry.NotRegistered.selector : bytes4(0);
        vm.prank(who);
        try registry.deregister() {
            settle(expected, 0);
            model.remove(who);
        } catch (bytes memory reason) {
            settle(expected, bytes4(reason));
        }
    }

    /// An operator joins or leaves the active set at once; three times in four it is (or
    /// stays) in, so registrations are not mostly refused.
    function setActive(uint256 actorSeed, uint256 seed) external {
        bonding.setActive(actors[actorSeed % 4], seed % 4 != 0);
    }

    /// Governance (the test handed the registry's ownership to this handler). Suspensions
    /// are the rarest, for the same reason.
    function setStanding(uint256 actorSeed, uint256 seed) external {
        uint256 k = seed % 6;
        INodeRegistry.Standing standing = k < 3
            ? INodeRegistry.Standing.Default
            : k < 5 ? INodeRegistry.Standing.Approved : INodeRegistry.Standing.Suspended;
        registry.setStanding(actors[actorSeed % 4], standing);
    }

    function keyError(address key, bool consent) internal view returns (bytes4) {
        if (model.holderOf(key) != address(0)) return INodeRegistry.KeyTaken.selector;
        return consent ? bytes4(0) : INodeRegistry.InvalidKeyProof.selector;
    }

    function settle(bytes4 expected, bytes4 actual) internal {
        if (expected != actual) ++mispredicted;
        if (actual == 0) ++accepted;
    }

    /// Mostly good URLs (the calls must get through for the state to grow), then three the
    /// rule refuses and one too long.
    function pickUrl(uint256 seed) internal pure returns (bytes memory url, bytes4 err) {
        uint256 k = seed % 12;
        if (k < 8) return (bytes.concat("https://n", bytes1(uint8(0x30 + k)), ".example"), 0);
        if (k == 8) return ("", INodeRegistry.InvalidUrl.selector);
        if (k == 9) return ("https://", INodeRegistry.InvalidUrl.selector);
        if (k == 10) return ("ws://b.example", INodeRegistry.InvalidUrl.selector);
        return (bytes.concat("https://", new bytes(249)), INodeRegistry.UrlTooLong.selector);
    }

    /// One proof in eight is signed by the wrong key, one in eight for a random operator.
    function pickProof(address who, uint256 keySeed, uint256 seed) internal view returns (bytes memory, bool) {
        uint256 k = seed % 8;
        address claimant = k == 1 ? actors[(seed / 8) % 4] : who;
        uint256 signer = keySecret(k == 0 ? keySeed % KEYS + 1 : keySeed);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(signer, registry.keyDigest(claimant));
        return (abi.encodePacked(r, s, v), k > 1 || (k == 1 && claimant == who));
    }
}

contract NodeRegistryInvariantsTest is RegistryFixture {
    RegistryHandler internal handler;
    ReferenceRegistry internal model;

    function setUp() public override {
        super.setUp();
        handler = new RegistryHandler(registry, bonding);
        registry.transferOwnership(address(handler));
        vm.prank(address(handler));
        registry.acceptOwnership();
        model = handler.model();
    }

    /// Foundry's shape for `targetSelectors`.
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// The handler's actions only: its getters would spend the run's depth doing nothing.
    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory actions = new bytes4[](6);
        actions[0] = RegistryHandler.register.selector;
        actions[1] = RegistryHandler.updateUrl.selector;
        actions[2] = RegistryHandler.rotateKey.selector;
        actions[3] = RegistryHandler.deregister.selector;
        actions[4] = RegistryHandler.setActive.selector;
        actions[5] = RegistryHandler.setStanding.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), actions);
    }

    /// The registry accepts exactly the calls the model accepts, refusing the rest with the
    /// model's reason.
    function invariant_outcomesMatchTheModel() public view {
        vm.assertEq(handler.mispredicted(), 0, "an outcome the model did not predict");
    }

    /// operator -> node matches the model, and the node's key points back at its operator.
    function invariant_nodesMatchTheModel() public view {
        for (uint256 i; i < 4; ++i) {
            address who = handler.actors(i);
            INodeRegistry.Node memory n = registry.nodeOf(who);
            ReferenceRegistry.Node memory m = model.nodeOf(who);
            vm.assertEq(n.key, m.key, "key");
            vm.assertEq(keccak256(bytes(n.url)), m.key == address(0) ? keccak256("") : m.url, "url");
            if (n.key != address(0)) vm.assertEq(registry.operatorOfKey(n.key), who, "key points back");
        }
    }

    /// key -> operator matches the model, and the operator's node has that key.
    function invariant_keysMatchTheModel() public view {
        for (uint256 i; i < handler.KEYS(); ++i) {
            address key = handler.keyOf(i);
            address holder = registry.operatorOfKey(key);
            vm.assertEq(holder, model.holderOf(key), "holder");
            if (holder != address(0)) vm.assertEq(registry.nodeOf(holder).key, key, "operator's key");
        }
    }

    /// The enumeration lists each operator with a node exactly once, and nobody else.
    function invariant_enumerationIsTheSetOfNodes() public view {
        address[] memory listed = registry.operators(0, 100);
        vm.assertEq(listed.length, model.count(), "count");
        vm.assertEq(registry.nodeCount(), model.count(), "nodeCount");
        for (uint256 i; i < listed.length; ++i) {
            vm.assertTrue(model.nodeOf(listed[i]).key != address(0), "listed without a node");
            for (uint256 j = i + 1; j < listed.length; ++j) {
                vm.assertTrue(listed[i] != listed[j], "listed twice");
            }
        }
    }

    /// Membership is the model's node, the standing and the active set, combined as documented.
    function invariant_membershipMatchesTheRule() public view {
        for (uint256 i; i < 4; ++i) {
            address who = handler.actors(i);
            INodeRegistry.Standing standing = registry.standingOf(who);
            bool expected = model.nodeOf(who).key != address(0) && standing != INodeRegistry.Standing.Suspended
                && (standing == INodeRegistry.Standing.Approved || bonding.isActiveTranscoder(who));
            vm.assertEq(registry.isMember(who), expected, "isMember");
        }
    }
}
