// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {NodeRegistry} from "../contracts/NodeRegistry.sol";
import {IBondingManager} from "../contracts/interfaces/ILivepeer.sol";
import {INodeRegistry} from "../contracts/interfaces/INodeRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {vm} from "./utils/Vm.sol";

/// Each function of the registry, and each of its refusals.
contract NodeRegistryTest is RegistryFixture {
    // ------------------------------------------------------------------ register

    function test_register_recordsTheNodeAndAnnouncesIt() public {
        vm.expectEmit(address(registry));
        emit INodeRegistry.NodeRegistered(ALICE, nodeKey(1), URL);
        registerAs(ALICE, URL, 1);

        INodeRegistry.Node memory n = registry.nodeOf(ALICE);
        vm.assertEq(n.key, nodeKey(1), "key");
        vm.assertEq(keccak256(bytes(n.url)), keccak256(bytes(URL)), "url");
        vm.assertEq(registry.operatorOfKey(nodeKey(1)), ALICE, "key's operator");
        vm.assertEq(registry.memberOfKey(nodeKey(1)), ALICE, "key of a member");
        vm.assertTrue(registry.isMember(ALICE), "member");
        vm.assertEq(registry.nodeCount(), 1, "count");
        vm.assertEq(registry.operators(0, 10)[0], ALICE, "listed");
    }

    function test_register_refusesAStranger() public {
        vm.prank(EVE);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NotEligible.selector, EVE));
        registry.register(URL, nodeKey(1), proof(EVE, 1));
    }

    /// Livepeer admits an orchestrator from the next round; until then it is not one.
    function test_register_refusesAnOrchestratorNotYetActive() public {
        address frank = address(0xF4A2C);
        bonding.activate(frank);
        vm.prank(frank);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NotEligible.selector, frank));
        registry.register(URL, nodeKey(1), proof(frank, 1));

        vm.roll(block.number + 100);
        registerAs(frank, URL, 1);
        vm.assertTrue(registry.isMember(frank), "member from its first active round");
    }

    function test_register_refusesASecondNode() public {
        registerAs(ALICE, URL, 1);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.AlreadyRegistered.selector, ALICE));
        registry.register(URL, nodeKey(2), proof(ALICE, 2));
    }

    function test_register_refusesAKeyAnotherNodeHolds() public {
        registerAs(ALICE, URL, 1);
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.KeyTaken.selector, nodeKey(1), ALICE));
        registry.register(URL, nodeKey(1), proof(BOB, 1));
    }

    /// Bob cannot claim a key whose holder signed for Alice, nor one it signed nothing for.
    function test_register_refusesAKeyWithoutItsHoldersConsent() public {
        vm.startPrank(BOB);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.InvalidKeyProof.selector, nodeKey(1)));
        registry.register(URL, nodeKey(1), proof(ALICE, 1));
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.InvalidKeyProof.selector, nodeKey(1)));
        registry.register(URL, nodeKey(1), proof(BOB, 2));
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.InvalidKeyProof.selector, nodeKey(1)));
        registry.register(URL, nodeKey(1), hex"1234");
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.InvalidKeyProof.selector, address(0)));
        registry.register(URL, address(0), new bytes(65));
        vm.stopPrank();
    }

    /// A proof for this registry means nothing to another deployment (EIP-712 domain).
    function test_register_refusesAProofForAnotherRegistry() public {
        NodeRegistry other = new NodeRegistry(address(this), bonding);
        bytes memory elsewhere = proof(ALICE, 1);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.InvalidKeyProof.selector, nodeKey(1)));
        other.register(URL, nodeKey(1), elsewhere);
    }

    function test_register_refusesAnEmptyOrHostlessOrNonHttpUrl() public {
        string[8] memory bad = [
            "",
            "https://",
            "http://",
            "wss://alice.example",
            "alice.example",
            "https://alice example",
            "https://alice.example\n",
            "https://alice.\u00e9xample"
        ];
        for (uint256 i; i < bad.length; ++i) {
            vm.prank(ALICE);
            vm.expectRevert(INodeRegistry.InvalidUrl.selector);
            registry.register(bad[i], nodeKey(1), proof(ALICE, 1));
        }
    }

    function test_register_boundsTheUrl() public {
        string memory longest = urlOfLength(256);
        string memory tooLong = urlOfLength(257);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.UrlTooLong.selector, 257, 256));
        registry.register(tooLong, nodeKey(1), proof(ALICE, 1));
        registerAs(ALICE, longest, 1);
        vm.assertEq(bytes(registry.nodeOf(ALICE).url).length, 256, "the longest URL accepted");
    }

    function test_register_httpIsAccepted() public {
        registerAs(ALICE, "http://10.0.0.7:8080", 1);
    }

    // ------------------------------------------------------------------ updateUrl

    function test_updateUrl_changesOnlyTheCallersNode() public {
        registerAs(ALICE, URL, 1);
        registerAs(BOB, "https://bob.example", 2);
        vm.expectEmit(address(registry));
        emit INodeRegistry.NodeUrlChanged(BOB, "https://bob.example/v2");
        vm.prank(BOB);
        registry.updateUrl("https://bob.example/v2");
        vm.assertEq(keccak256(bytes(registry.nodeOf(BOB).url)), keccak256("https://bob.example/v2"), "bob's");
        vm.assertEq(keccak256(bytes(registry.nodeOf(ALICE).url)), keccak256(bytes(URL)), "alice's untouched");
        vm.assertEq(registry.nodeOf(BOB).key, nodeKey(2), "key untouched");
    }

    /// Every write acts on the caller's own record: a stranger has none to act on.
    function test_updateUrl_refusesAStranger() public {
        registerAs(ALICE, URL, 1);
        vm.prank(EVE);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NotRegistered.selector, EVE));
        registry.updateUrl("https://eve.example");
        vm.assertEq(keccak256(bytes(registry.nodeOf(ALICE).url)), keccak256(bytes(URL)), "untouched");
    }

    function test_updateUrl_checksTheUrl() public {
        registerAs(ALICE, URL, 1);
        vm.startPrank(ALICE);
        vm.expectRevert(INodeRegistry.InvalidUrl.selector);
        registry.updateUrl("");
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.UrlTooLong.selector, 300, 256));
        registry.updateUrl(urlOfLength(300));
        vm.stopPrank();
    }

    function test_updateUrl_allowedOutOfTheActiveSet() public {
        registerAs(ALICE, URL, 1);
        bonding.setActive(ALICE, false);
        vm.prank(ALICE);
        registry.updateUrl("https://alice.example/new");
    }

    // ------------------------------------------------------------------ rotateKey

    function test_rotateKey_replacesTheKeyAndFreesTheOld() public {
        registerAs(ALICE, URL, 1);
        vm.expectEmit(address(registry));
        emit INodeRegistry.NodeKeyRotated(ALICE, nodeKey(1), nodeKey(2));
        vm.prank(ALICE);
        registry.rotateKey(nodeKey(2), proof(ALICE, 2));

        vm.assertEq(registry.nodeOf(ALICE).key, nodeKey(2), "new key");
        vm.assertEq(registry.operatorOfKey(nodeKey(2)), ALICE, "new key's operator");
        vm.assertEq(registry.operatorOfKey(nodeKey(1)), address(0), "old key freed");
        vm.assertEq(registry.memberOfKey(nodeKey(1)), address(0), "old key speaks for nobody");
        vm.assertTrue(registry.isMember(ALICE), "still a member");

        // The freed key may serve someone else, with its holder's consent to that operator.
        registerAs(BOB, "https://bob.example", 1);
        vm.assertEq(registry.operatorOfKey(nodeKey(1)), BOB, "old key reused");
    }

    function test_rotateKey_refusesTheSameKeyOrAnothersKey() public {
        registerAs(ALICE, URL, 1);
        registerAs(BOB, "https://bob.example", 2);
        vm.startPrank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.KeyTaken.selector, nodeKey(1), ALICE));
        registry.rotateKey(nodeKey(1), proof(ALICE, 1));
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.KeyTaken.selector, nodeKey(2), BOB));
        registry.rotateKey(nodeKey(2), proof(ALICE, 2));
        vm.stopPrank();
    }

    function test_rotateKey_refusesWithoutProof() public {
        registerAs(ALICE, URL, 1);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.InvalidKeyProof.selector, nodeKey(2)));
        registry.rotateKey(nodeKey(2), proof(ALICE, 3));
    }

    function test_rotateKey_refusesAStranger() public {
        vm.prank(EVE);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NotRegistered.selector, EVE));
        registry.rotateKey(nodeKey(2), proof(EVE, 2));
    }

    /// Retiring a leaked key is never refused: not out of the active set, not when suspended.
    function test_rotateKey_allowedOutOfTheActiveSetOrSuspended() public {
        registerAs(ALICE, URL, 1);
        bonding.setActive(ALICE, false);
        vm.prank(ALICE);
        registry.rotateKey(nodeKey(2), proof(ALICE, 2));
        registry.setStanding(ALICE, INodeRegistry.Standing.Suspended);
        vm.prank(ALICE);
        registry.rotateKey(nodeKey(3), proof(ALICE, 3));
        vm.assertEq(registry.operatorOfKey(nodeKey(3)), ALICE, "rotated");
    }

    // ------------------------------------------------------------------ deregister

    function test_deregister_removesTheNodeAndFreesItsKey() public {
        registerAs(ALICE, URL, 1);
        vm.expectEmit(address(registry));
        emit INodeRegistry.NodeDeregistered(ALICE, nodeKey(1));
        vm.prank(ALICE);
        registry.deregister();

        vm.assertTrue(!registry.isMember(ALICE), "no longer a member");
        vm.assertEq(registry.nodeOf(ALICE).key, address(0), "no node");
        vm.assertEq(bytes(registry.nodeOf(ALICE).url).length, 0, "no url");
        vm.assertEq(registry.operatorOfKey(nodeKey(1)), address(0), "key freed");
        vm.assertEq(registry.nodeCount(), 0, "count");

        registerAs(ALICE, URL, 1);
        vm.assertTrue(registry.isMember(ALICE), "may register again");
    }

    function test_deregister_refusesWithoutANode() public {
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NotRegistered.selector, ALICE));
        registry.deregister();
    }

    /// The last operator moves into the gap, and keeps a correct position for its own exit.
    function test_deregister_keepsTheListDense() public {
        registerAs(ALICE, URL, 1);
        registerAs(BOB, "https://bob.example", 2);
        registerAs(CAROL, "https://carol.example", 3);
        vm.prank(ALICE);
        registry.deregister();
        address[] memory page = registry.operators(0, 10);
        vm.assertEq(page.length, 2, "two left");
        vm.assertEq(page[0], CAROL, "last moved into the gap");
        vm.assertEq(page[1], BOB, "bob stays");
        vm.prank(CAROL);
        registry.deregister();
        page = registry.operators(0, 10);
        vm.assertEq(page.length, 1, "one left");
        vm.assertEq(page[0], BOB, "bob");
    }

    // ------------------------------------------------------------------ membership

    /// Leaving the active set ends membership with no transaction to the registry.
    function test_isMember_followsTheActiveSet() public {
        registerAs(ALICE, URL, 1);
        bonding.setActive(ALICE, false);
        vm.assertTrue(!registry.isMember(ALICE), "left the active set");
        vm.assertEq(registry.memberOfKey(nodeKey(1)), address(0), "its key speaks for nobody");
        vm.assertEq(registry.operatorOfKey(nodeKey(1)), ALICE, "but is still its key");
        bonding.setActive(ALICE, true);
        vm.assertTrue(registry.isMember(ALICE), "back");
    }

    function test_isMember_endsWithTheRoundAResignationTakesEffect() public {
        registerAs(ALICE, URL, 1);
        bonding.resign(ALICE);
        vm.assertTrue(registry.isMember(ALICE), "still active this round");
        vm.roll(block.number + 100);
        vm.assertTrue(!registry.isMember(ALICE), "not from the next");
    }

    function test_isMember_falseWithoutANode() public view {
        vm.assertTrue(!registry.isMember(ALICE), "active but no node");
        vm.assertEq(registry.memberOfKey(address(0)), address(0), "the zero key is nobody's");
    }

    // ------------------------------------------------------------------ governance

    function test_setStanding_approvedNonOrchestratorIsAMember() public {
        vm.expectEmit(address(registry));
        emit INodeRegistry.StandingChanged(EVE, INodeRegistry.Standing.Approved);
        registry.setStanding(EVE, INodeRegistry.Standing.Approved);
        registerAs(EVE, "https://foundation.example", 1);
        vm.assertTrue(registry.isMember(EVE), "approved member");

        registry.setStanding(EVE, INodeRegistry.Standing.Default);
        vm.assertTrue(!registry.isMember(EVE), "approval withdrawn: not an orchestrator");
        vm.assertEq(registry.nodeOf(EVE).key, nodeKey(1), "record kept");
    }

    function test_setStanding_suspensionEndsMembershipAndRefusesRegistration() public {
        registerAs(ALICE, URL, 1);
        registry.setStanding(ALICE, INodeRegistry.Standing.Suspended);
        vm.assertTrue(!registry.isMember(ALICE), "suspended");
        vm.assertEq(registry.memberOfKey(nodeKey(1)), address(0), "its key speaks for nobody");

        vm.prank(ALICE);
        registry.deregister();
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.OperatorSuspended.selector, ALICE));
        registry.register(URL, nodeKey(1), proof(ALICE, 1));

        registry.setStanding(ALICE, INodeRegistry.Standing.Default);
        registerAs(ALICE, URL, 1);
        vm.assertTrue(registry.isMember(ALICE), "suspension lifted");
    }

    function test_setStanding_governanceOnly() public {
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, ALICE));
        registry.setStanding(ALICE, INodeRegistry.Standing.Approved);
    }

    // ------------------------------------------------------------------ views and setup

    function test_operators_pages() public {
        registerAs(ALICE, URL, 1);
        registerAs(BOB, "https://bob.example", 2);
        registerAs(CAROL, "https://carol.example", 3);
        vm.assertEq(registry.operators(0, 2).length, 2, "first page");
        address[] memory rest = registry.operators(2, 2);
        vm.assertEq(rest.length, 1, "last page");
        vm.assertEq(rest[0], CAROL, "third");
        vm.assertEq(registry.operators(3, 2).length, 0, "past the end");
        vm.assertEq(registry.operators(1, 0).length, 0, "no room");
        vm.assertEq(registry.operators(1, type(uint256).max).length, 2, "no overflow");
    }

    function test_keyDigest_isEip712OfTheOperator() public view {
        vm.assertEq(registry.keyDigest(ALICE), digest(ALICE), "digest");
    }

    function test_constructor_refusesABondingManagerWithoutCode() public {
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NotAContract.selector, EVE));
        new NodeRegistry(address(this), IBondingManager(EVE));
    }

    /// "https://" and 'a's up to `n` bytes.
    function urlOfLength(uint256 n) internal pure returns (string memory) {
        bytes memory b = new bytes(n);
        bytes memory scheme = "https://";
        for (uint256 i; i < n; ++i) {
            b[i] = i < scheme.length ? scheme[i] : bytes1("a");
        }
        return string(b);
    }
}
