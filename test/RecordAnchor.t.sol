// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RecordAnchor} from "../contracts/RecordAnchor.sol";
import {IAssembly} from "../contracts/interfaces/IAssembly.sol";
import {INodeRegistry} from "../contracts/interfaces/INodeRegistry.sol";
import {IRecordAnchor} from "../contracts/interfaces/IRecordAnchor.sol";
import {AnchorFixture} from "./utils/AnchorFixture.sol";
import {ReferenceMerkle} from "./utils/ReferenceMerkle.sol";
import {vm} from "./utils/Vm.sol";

/// Each function of the record anchor, and each of its refusals.
contract RecordAnchorTest is AnchorFixture {
    bytes32 internal constant ROOT = keccak256("a record");
    bytes32 internal constant OTHER_ROOT = keccak256("another record");

    function setUp() public override {
        super.setUp();
        registerAs(ALICE, 1);
        registerAs(BOB, 2);
    }

    // ------------------------------------------------------------------ constructor

    function test_constructor_refusesAddressesWithoutCode() public {
        vm.expectRevert(abi.encodeWithSelector(IRecordAnchor.NotAContract.selector, EVE));
        new RecordAnchor(IAssembly(EVE), registry);
        vm.expectRevert(abi.encodeWithSelector(IRecordAnchor.NotAContract.selector, EVE));
        new RecordAnchor(floor, INodeRegistry(EVE));
    }

    function test_constructor_namesTheFloorAndTheRegistry() public view {
        vm.assertEq(address(anchors.floor()), address(floor), "floor");
        vm.assertEq(address(anchors.registry()), address(registry), "registry");
    }

    // ------------------------------------------------------------------ who may anchor

    function test_anchor_byANodeKey_countsItsOperator() public {
        uint256 id = endedOccurrence();
        vm.expectEmit(address(anchors));
        emit IRecordAnchor.RecordAnchored(id, 0, ROOT, ALICE, nodeKey(1), 5);
        anchorAs(nodeKey(1), id, 0, ROOT, 5);

        vm.assertEq(anchors.attestations(id, 0, ROOT), 1, "one attestation");
        vm.assertTrue(anchors.attested(id, 0, ROOT, ALICE), "by the operator");
        vm.assertTrue(!anchors.attested(id, 0, ROOT, nodeKey(1)), "not by the key as an operator");
        vm.assertEq(anchors.rootCount(id, 0), 1, "one root");
    }

    /// A lone node anchors with its operator's key.
    function test_anchor_byAMemberOperatorItself() public {
        uint256 id = endedOccurrence();
        vm.expectEmit(address(anchors));
        emit IRecordAnchor.RecordAnchored(id, 0, ROOT, ALICE, ALICE, 5);
        anchorAs(ALICE, id, 0, ROOT, 5);
        vm.assertTrue(anchors.attested(id, 0, ROOT, ALICE), "attested");
    }

    /// Governance's approval makes a member out of the active set; its node anchors.
    function test_anchor_byAnApprovedOperatorOutOfTheActiveSet() public {
        uint256 id = endedOccurrence();
        bonding.setActive(ALICE, false);
        registry.setStanding(ALICE, INodeRegistry.Standing.Approved);
        anchorAs(nodeKey(1), id, 0, ROOT, 5);
        vm.assertTrue(anchors.attested(id, 0, ROOT, ALICE), "attested");
    }

    function test_anchor_refusesAStranger() public {
        uint256 id = endedOccurrence();
        vm.prank(EVE);
        vm.expectRevert(abi.encodeWithSelector(IRecordAnchor.NotAMember.selector, EVE));
        anchors.anchor(id, 0, ROOT, 5);
    }

    /// An active orchestrator with no node is not a member, nor is a key nobody registered.
    function test_anchor_refusesAnOrchestratorWithoutANode() public {
        uint256 id = endedOccurrence();
        vm.prank(CAROL);
        vm.expectRevert(abi.encodeWithSelector(IRecordAnchor.NotAMember.selector, CAROL));
        anchors.anchor(id, 0, ROOT, 5);
        vm.prank(nodeKey(3));
        vm.expectRevert(abi.encodeWithSelector(IRecordAnchor.NotAMember.selector, nodeKey(3)));
        anchors.anchor(id, 0, ROOT, 5);
    }

    function test_anchor_refusesADeregisteredOperatorAndItsKey() public {
        uint256 id = endedOccurrence();
        vm.prank(ALICE);
        registry.deregister();
        assertRefused(nodeKey(1), id);
        assertRefused(ALICE, id);
    }

    function test_anchor_refusesASuspendedOperatorAndItsKey() public {
        uint256 id = endedOccurrence();
        registry.setStanding(ALICE, INodeRegistry.Standing.Suspended);
        assertRefused(nodeKey(1), id);
        assertRefused(ALICE, id);
    }

    /// Membership follows Livepeer's active set with no transaction in the registry.
    function test_anchor_refusesAnOperatorThatLeftTheActiveSet() public {
        uint256 id = endedOccurrence();
        bonding.setActive(ALICE, false);
        assertRefused(nodeKey(1), id);
        assertRefused(ALICE, id);
    }

    /// A rotated-out key speaks for nobody; the new one does.
    function test_anchor_refusesARotatedOutKey() public {
        uint256 id = endedOccurrence();
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(nodeSecret(4), registry.keyDigest(ALICE));
        vm.prank(ALICE);
        registry.rotateKey(nodeKey(4), abi.encodePacked(r, s, v));
        assertRefused(nodeKey(1), id);
        anchorAs(nodeKey(4), id, 0, ROOT, 5);
        vm.assertTrue(anchors.attested(id, 0, ROOT, ALICE), "the new key's operator");
    }

    /// What was attested while a member stays attested when the operator leaves.
    function test_anchor_attestationOutlivesMembership() public {
        uint256 id = endedOccurrence();
        anchorAs(nodeKey(1), id, 0, ROOT, 5);
        vm.prank(ALICE);
        registry.deregister();
        vm.assertEq(anchors.attestations(id, 0, ROOT), 1, "still counted");
    }

    // ------------------------------------------------------------------ when

    function test_anchor_refusesAnOccurrenceNotOver() public {
        uint256 id = openFloor();
        uint64 end = uint64(T0 + 100 + 3600);
        vm.prank(nodeKey(1));
        vm.expectRevert(abi.encodeWithSelector(IRecordAnchor.OccurrenceNotOver.selector, id, 0, end));
        anchors.anchor(id, 0, ROOT, 5); // before it began

        vm.warp(end - 1);
        vm.prank(nodeKey(1));
        vm.expectRevert(abi.encodeWithSelector(IRecordAnchor.OccurrenceNotOver.selector, id, 0, end));
        anchors.anchor(id, 0, ROOT, 5); // its last second

        vm.warp(end); // the end is exclusive: over now
        anchorAs(nodeKey(1), id, 0, ROOT, 5);
    }

    function test_anchor_refusesAnUnknownSession() public {
        uint256 id = endedOccurrence();
        vm.startPrank(nodeKey(1));
        vm.expectRevert(abi.encodeWithSelector(IRecordAnchor.UnknownSession.selector, 0));
        anchors.anchor(0, 0, ROOT, 5);
        vm.expectRevert(abi.encodeWithSelector(IRecordAnchor.UnknownSession.selector, id + 1));
        anchors.anchor(id + 1, 0, ROOT, 5);
        vm.stopPrank();
    }

    function test_anchor_refusesAnOccurrenceOutsideTheSchedule() public {
        uint256 once = endedOccurrence();
        IAssembly.SessionParams memory p = params(uint40(block.timestamp + 10), 600);
        p.period = 1 days;
        p.count = 3;
        uint256 thrice = floor.createSession(p);
        vm.warp(block.timestamp + 10 days);

        vm.startPrank(nodeKey(1));
        vm.expectRevert(abi.encodeWithSelector(IRecordAnchor.NoSuchOccurrence.selector, once, 1));
        anchors.anchor(once, 1, ROOT, 5);
        vm.expectRevert(abi.encodeWithSelector(IRecordAnchor.NoSuchOccurrence.selector, thrice, 3));
        anchors.anchor(thrice, 3, ROOT, 5);
        anchors.anchor(thrice, 2, ROOT, 5);
        vm.stopPrank();
    }

    /// Cancelling a recurring session ends the occurrence in progress (which may then be
    /// anchored) and empties the later ones (which were never held).
    function test_anchor_afterCancellation() public {
        IAssembly.SessionParams memory p = params(uint40(T0 + 100), 3600);
        p.period = 1 days;
        uint256 id = floor.createSession(p);
        vm.warp(T0 + 100 + 1000);
        floor.cancelSession(id);

        anchorAs(nodeKey(1), id, 0, ROOT, 5);
        vm.warp(T0 + 10 days);
        vm.prank(nodeKey(1));
        vm.expectRevert(abi.encodeWithSelector(IRecordAnchor.NoSuchOccurrence.selector, id, 1));
        anchors.anchor(id, 1, ROOT, 5);
    }

    /// An always-in-session floor has one occurrence that ends only when cancelled.
    function test_anchor_alwaysInSessionOnlyOnceCancelled() public {
        uint256 id = floor.createSession(params(uint40(T0), floor.FOREVER()));
        vm.warp(T0 + 365 days);
        uint64 never = uint64(T0) + floor.FOREVER();
        vm.prank(nodeKey(1));
        vm.expectRevert(abi.encodeWithSelector(IRecordAnchor.OccurrenceNotOver.selector, id, 0, never));
        anchors.anchor(id, 0, ROOT, 5);

        floor.cancelSession(id);
        anchorAs(nodeKey(1), id, 0, ROOT, 5);
        vm.assertEq(anchors.attestations(id, 0, ROOT), 1, "anchored once cancelled");
    }

    // ------------------------------------------------------------------ what

    function test_anchor_refusesAnEmptyRecord() public {
        uint256 id = endedOccurrence();
        vm.startPrank(nodeKey(1));
        vm.expectRevert(IRecordAnchor.ZeroRoot.selector);
        anchors.anchor(id, 0, bytes32(0), 5);
        vm.expectRevert(IRecordAnchor.NoSpeeches.selector);
        anchors.anchor(id, 0, ROOT, 0);
        vm.stopPrank();
    }

    /// An operator attests a root once, whether through its node or by itself.
    function test_anchor_refusesASecondAttestationOfTheSameRoot() public {
        uint256 id = endedOccurrence();
        anchorAs(nodeKey(1), id, 0, ROOT, 5);
        bytes memory refusal = abi.encodeWithSelector(IRecordAnchor.AlreadyAttested.selector, id, 0, ROOT, ALICE);
        vm.prank(nodeKey(1));
        vm.expectRevert(refusal);
        anchors.anchor(id, 0, ROOT, 5);
        vm.prank(ALICE);
        vm.expectRevert(refusal);
        anchors.anchor(id, 0, ROOT, 6);
        vm.assertEq(anchors.attestations(id, 0, ROOT), 1, "still one");
    }

    function test_anchor_twoOperatorsAttestTheSameRoot() public {
        uint256 id = endedOccurrence();
        anchorAs(nodeKey(1), id, 0, ROOT, 5);
        anchorAs(nodeKey(2), id, 0, ROOT, 5);
        vm.assertEq(anchors.attestations(id, 0, ROOT), 2, "two attestations");
        vm.assertTrue(anchors.attested(id, 0, ROOT, BOB), "Bob's");
        vm.assertEq(anchors.rootCount(id, 0), 1, "one root: agreement");
    }

    /// Two roots for one occurrence are both kept, each with its own attesters, and both are
    /// announced: the disagreement is visible on chain and in the events.
    function test_anchor_disagreementIsVisible() public {
        uint256 id = endedOccurrence();
        anchorAs(nodeKey(1), id, 0, ROOT, 5);
        vm.expectEmit(address(anchors));
        emit IRecordAnchor.RecordAnchored(id, 0, OTHER_ROOT, BOB, nodeKey(2), 4);
        anchorAs(nodeKey(2), id, 0, OTHER_ROOT, 4);

        vm.assertEq(anchors.rootCount(id, 0), 2, "two roots");
        vm.assertEq(anchors.attestations(id, 0, ROOT), 1, "Alice's root");
        vm.assertEq(anchors.attestations(id, 0, OTHER_ROOT), 1, "Bob's root");
        vm.assertTrue(!anchors.attested(id, 0, OTHER_ROOT, ALICE), "Alice did not attest Bob's");
        vm.assertEq(anchors.rootCount(id, 1), 0, "another occurrence is untouched");
    }

    /// Roots are kept per occurrence: the same root anchored for two occurrences counts apart.
    function test_anchor_countsPerOccurrence() public {
        IAssembly.SessionParams memory p = params(uint40(T0 + 100), 600);
        p.period = 1 days;
        uint256 id = floor.createSession(p);
        vm.warp(T0 + 3 days);
        anchorAs(nodeKey(1), id, 0, ROOT, 5);
        anchorAs(nodeKey(1), id, 1, ROOT, 5);
        vm.assertEq(anchors.attestations(id, 0, ROOT), 1, "first");
        vm.assertEq(anchors.attestations(id, 1, ROOT), 1, "second");
    }

    // ------------------------------------------------------------------ leaves and verify

    /// A known answer, computed apart from Solidity (`cast abi-encode`, then `cast keccak`
    /// twice), for the Rust side to test its encoding against too.
    function test_leafHash_knownAnswer() public view {
        IRecordAnchor.Speech memory s = IRecordAnchor.Speech({
            sessionId: 7,
            occurrence: 2,
            slotStart: 1_700_000_220,
            speaker: ALICE,
            audioDigest: bytes32(uint256(0x1111111111111111111111111111111111111111111111111111111111111111)),
            attestationDigest: bytes32(uint256(0x2222222222222222222222222222222222222222222222222222222222222222)),
            transcriptDigest: bytes32(uint256(0x3333333333333333333333333333333333333333333333333333333333333333)),
            revision: 1
        });
        bytes32 expected = 0x16234721e06d7815f60386ca40ee102062bea0e540fa0814a09e64789275f227;
        vm.assertEq(anchors.leafHash(s), expected, "leaf");
        vm.assertEq(leaf(s), expected, "the fixture's leaf");
    }

    /// OpenZeppelin's layout for three leaves: the two smallest paired, the largest above.
    function test_referenceTree_layout() public pure {
        bytes32[] memory ls = new bytes32[](3);
        (ls[0], ls[1], ls[2]) = (bytes32(uint256(3)), bytes32(uint256(1)), bytes32(uint256(2)));
        bytes32 expected =
            ReferenceMerkle.pair(ReferenceMerkle.pair(bytes32(uint256(1)), bytes32(uint256(2))), bytes32(uint256(3)));
        vm.assertEq(ReferenceMerkle.root(ls), expected, "root");
    }

    function test_verify_aRecordOfOneSpeech() public {
        uint256 id = endedOccurrence();
        IRecordAnchor.Speech memory s = speech(id, 0, 1, 0);
        bytes32 root = leaf(s); // a tree of one leaf is that leaf
        anchorAs(nodeKey(1), id, 0, root, 1);
        vm.assertTrue(anchors.verify(id, 0, root, s, new bytes32[](0)), "the only speech");
    }

    function test_verify_refusesWhatWasNotAnchoredForThatOccurrence() public {
        uint256 id = endedOccurrence();
        IRecordAnchor.Speech[] memory speeches = record(id, 0, 1, 5);
        bytes32[] memory tree = ReferenceMerkle.build(leaves(speeches));
        bytes32 root = tree[0];
        bytes32[] memory proof = ReferenceMerkle.proof(tree, leaf(speeches[2]));

        vm.assertTrue(!anchors.verify(id, 0, root, speeches[2], proof), "not anchored yet");
        anchorAs(nodeKey(1), id, 0, root, 5);
        vm.assertTrue(anchors.verify(id, 0, root, speeches[2], proof), "anchored");
        vm.assertTrue(!anchors.verify(id, 1, root, speeches[2], proof), "another occurrence");
        vm.assertTrue(!anchors.verify(id + 1, 0, root, speeches[2], proof), "another session");
        vm.assertTrue(!anchors.verify(id, 0, OTHER_ROOT, speeches[2], proof), "another root");
    }

    /// A speech of one occurrence does not verify under another's root, even if a node put
    /// that leaf in the tree it anchored there.
    function test_verify_refusesASpeechOfAnotherOccurrence() public {
        IAssembly.SessionParams memory p = params(uint40(T0 + 100), 600);
        p.period = 1 days;
        uint256 id = floor.createSession(p);
        vm.warp(T0 + 3 days);
        IRecordAnchor.Speech[] memory speeches = record(id, 0, 1, 2);
        bytes32[] memory tree = ReferenceMerkle.build(leaves(speeches));
        anchorAs(nodeKey(1), id, 1, tree[0], 2);
        bytes32[] memory proof = ReferenceMerkle.proof(tree, leaf(speeches[0]));
        vm.assertTrue(!anchors.verify(id, 1, tree[0], speeches[0], proof), "occurrence 0's speech");
    }

    /// A corrected transcript is a new leaf under a new root; the original keeps verifying
    /// under the first root (and under the new one, which keeps it).
    function test_verify_correctedTranscript() public {
        uint256 id = endedOccurrence();
        IRecordAnchor.Speech[] memory original = record(id, 0, 1, 3);
        bytes32[] memory first = ReferenceMerkle.build(leaves(original));
        anchorAs(nodeKey(1), id, 0, first[0], 3);

        IRecordAnchor.Speech[] memory corrected = new IRecordAnchor.Speech[](4);
        for (uint256 i; i < 3; ++i) {
            corrected[i] = original[i];
        }
        IRecordAnchor.Speech memory fixed_ = speech(id, 0, 1, 1); // a copy of original[1]
        fixed_.transcriptDigest = keccak256("the corrected transcript");
        fixed_.revision = 1;
        corrected[3] = fixed_;
        bytes32[] memory second = ReferenceMerkle.build(leaves(corrected));
        anchorAs(nodeKey(1), id, 0, second[0], 4);

        vm.assertEq(anchors.rootCount(id, 0), 2, "both roots kept");
        vm.assertTrue(verifies(first[0], first, original[1]), "original under the first root");
        vm.assertTrue(verifies(second[0], second, original[1]), "original under the second root");
        vm.assertTrue(verifies(second[0], second, fixed_), "correction under the second root");
        vm.assertTrue(
            !anchors.verify(id, 0, first[0], fixed_, ReferenceMerkle.proof(second, leaf(fixed_))),
            "correction not under the first root"
        );
    }

    function assertRefused(address sender, uint256 id) internal {
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(IRecordAnchor.NotAMember.selector, sender));
        anchors.anchor(id, 0, ROOT, 5);
    }
}
