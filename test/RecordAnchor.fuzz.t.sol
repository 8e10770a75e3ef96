// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRecordAnchor} from "../contracts/interfaces/IRecordAnchor.sol";
import {AnchorFixture} from "./utils/AnchorFixture.sol";
import {ReferenceMerkle} from "./utils/ReferenceMerkle.sol";
import {vm} from "./utils/Vm.sol";

/// Random occurrences of up to 64 speeches, their trees built by the reference, anchored and
/// checked speech by speech against the contract's `verify`.
contract RecordAnchorFuzzTest is AnchorFixture {
    uint256 internal constant MAX_SPEECHES = 64;

    function setUp() public override {
        super.setUp();
        registerAs(ALICE, 1);
        registerAs(BOB, 2);
    }

    /// The root is anchored once per operator, a second node that builds the tree from the
    /// speeches in another order gets the same root and attests it, every speech verifies
    /// with its proof, and none does with one field altered or one bit of a sibling flipped.
    function testFuzz_record(uint256 seed, uint8 size, uint256 mask, uint256 which, uint8 bit) public {
        uint256 n = 1 + uint256(size) % MAX_SPEECHES;
        uint256 id = endedOccurrence();
        IRecordAnchor.Speech[] memory speeches = record(id, 0, seed, n);
        bytes32[] memory tree = ReferenceMerkle.build(leaves(speeches));
        bytes32 root = tree[0];

        anchorAs(nodeKey(1), id, 0, root, uint32(n));
        vm.prank(nodeKey(1));
        vm.expectRevert(abi.encodeWithSelector(IRecordAnchor.AlreadyAttested.selector, id, 0, root, ALICE));
        anchors.anchor(id, 0, root, uint32(n));

        bytes32 second = ReferenceMerkle.root(shuffle(leaves(speeches), seed));
        vm.assertEq(second, root, "a second node's root");
        anchorAs(nodeKey(2), id, 0, second, uint32(n));
        vm.assertEq(anchors.attestations(id, 0, root), 2, "two attestations");
        vm.assertEq(anchors.rootCount(id, 0), 1, "one root");

        for (uint256 i; i < n; ++i) {
            vm.assertEq(anchors.leafHash(speeches[i]), leaf(speeches[i]), "leaf");
            vm.assertTrue(verifies(root, tree, speeches[i]), "a speech of the record");
        }

        IRecordAnchor.Speech memory s = speeches[which % n];
        bytes32[] memory proof = ReferenceMerkle.proof(tree, leaf(s));
        for (uint256 field; field < 8; ++field) {
            IRecordAnchor.Speech memory altered = alter(s, field, mask);
            vm.assertTrue(!anchors.verify(id, 0, root, altered, proof), "a speech with a field altered");
        }
        if (proof.length > 0) {
            uint256 j = which % proof.length;
            proof[j] ^= bytes32(uint256(1) << bit);
            vm.assertTrue(!anchors.verify(id, 0, root, s, proof), "a proof with a sibling flipped");
        }
    }

    /// A copy of `s` with field number `field` (in `Speech`'s order) changed by a nonzero xor.
    function alter(IRecordAnchor.Speech memory s, uint256 field, uint256 mask)
        internal
        pure
        returns (IRecordAnchor.Speech memory t)
    {
        t = IRecordAnchor.Speech(
            s.sessionId,
            s.occurrence,
            s.slotStart,
            s.speaker,
            s.audioDigest,
            s.attestationDigest,
            s.transcriptDigest,
            s.revision
        );
        mask |= 1;
        if (field == 0) t.sessionId ^= mask;
        else if (field == 1) t.occurrence ^= uint32(mask);
        else if (field == 2) t.slotStart ^= uint40(mask);
        else if (field == 3) t.speaker = address(uint160(t.speaker) ^ uint160(mask));
        else if (field == 4) t.audioDigest ^= bytes32(mask);
        else if (field == 5) t.attestationDigest ^= bytes32(mask);
        else if (field == 6) t.transcriptDigest ^= bytes32(mask);
        else t.revision ^= uint32(mask);
    }

    /// Fisher-Yates, driven by `seed`.
    function shuffle(bytes32[] memory xs, uint256 seed) internal pure returns (bytes32[] memory) {
        for (uint256 i = xs.length; i > 1; --i) {
            uint256 j = uint256(keccak256(abi.encode(seed, i))) % i;
            (xs[i - 1], xs[j]) = (xs[j], xs[i - 1]);
        }
        return xs;
    }
}
