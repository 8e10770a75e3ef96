// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {NodeRegistry} from "../../contracts/NodeRegistry.sol";
import {RecordAnchor} from "../../contracts/RecordAnchor.sol";
import {IRecordAnchor} from "../../contracts/interfaces/IRecordAnchor.sol";
import {Fixture} from "./Fixture.sol";
import {ReferenceMerkle} from "./ReferenceMerkle.sol";
import {vm} from "./Vm.sol";

/// @notice Assembly and the node registry over the same mock Livepeer, and the record anchor
/// over both; speeches, their leaves (written out apart from `SpeechLeaf`) and trees.
abstract contract AnchorFixture is Fixture {
    NodeRegistry internal registry;
    RecordAnchor internal anchors;

    function setUp() public virtual override {
        super.setUp();
        registry = new NodeRegistry(address(this), bonding);
        anchors = new RecordAnchor(floor, registry);
    }

    /// The private key of node key number `i` (never zero, always below the curve order).
    function nodeSecret(uint256 i) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode("assembly node", i))) % (type(uint128).max) + 1;
    }

    function nodeKey(uint256 i) internal pure returns (address) {
        return vm.addr(nodeSecret(i));
    }

    /// `operator` registers node key `i`, which consents by signing the registry's digest.
    function registerAs(address operator, uint256 i) internal {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(nodeSecret(i), registry.keyDigest(operator));
        vm.prank(operator);
        registry.register("https://node.example", nodeKey(i), abi.encodePacked(r, s, v));
    }

    /// An open floor of one hour from T0 + 100, over: the time is its end.
    function endedOccurrence() internal returns (uint256 id) {
        id = openFloor();
        vm.warp(T0 + 100 + 3600);
    }

    function anchorAs(address sender, uint256 id, uint32 occurrence, bytes32 root, uint32 speeches) internal {
        vm.prank(sender);
        anchors.anchor(id, occurrence, root, speeches);
    }

    /// Speech number `k` of an occurrence, its digests drawn from `seed`; up to 64 speeches
    /// fit in the hour of `endedOccurrence`.
    function speech(uint256 id, uint32 occurrence, uint256 seed, uint256 k)
        internal
        pure
        returns (IRecordAnchor.Speech memory s)
    {
        bytes32 h = keccak256(abi.encode(seed, k));
        s = IRecordAnchor.Speech({
            sessionId: id,
            occurrence: occurrence,
            slotStart: uint40(T0 + 100 + k * 56),
            speaker: address(uint160(uint256(h))),
            audioDigest: keccak256(abi.encode(h, "audio")),
            attestationDigest: keccak256(abi.encode(h, "attestation")),
            transcriptDigest: keccak256(abi.encode(h, "transcript")),
            revision: 0
        });
    }

    /// The leaf as the issue states it, written out here rather than read from `SpeechLeaf`.
    function leaf(IRecordAnchor.Speech memory s) internal pure returns (bytes32) {
        bytes memory encoded = abi.encode(
            s.sessionId,
            s.occurrence,
            s.slotStart,
            s.speaker,
            s.audioDigest,
            s.attestationDigest,
            s.transcriptDigest,
            s.revision
        );
        return keccak256(abi.encodePacked(keccak256(encoded)));
    }

    function leaves(IRecordAnchor.Speech[] memory speeches) internal pure returns (bytes32[] memory ls) {
        ls = new bytes32[](speeches.length);
        for (uint256 i; i < speeches.length; ++i) {
            ls[i] = leaf(speeches[i]);
        }
    }

    function record(uint256 id, uint32 occurrence, uint256 seed, uint256 n)
        internal
        pure
        returns (IRecordAnchor.Speech[] memory speeches)
    {
        speeches = new IRecordAnchor.Speech[](n);
        for (uint256 k; k < n; ++k) {
            speeches[k] = speech(id, occurrence, seed, k);
        }
    }

    function verifies(bytes32 root, bytes32[] memory tree, IRecordAnchor.Speech memory s) internal view returns (bool) {
        return anchors.verify(s.sessionId, s.occurrence, root, s, ReferenceMerkle.proof(tree, leaf(s)));
    }
}
