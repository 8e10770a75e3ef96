// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRecordAnchor} from "../interfaces/IRecordAnchor.sol";

/// @title SpeechLeaf
/// @notice The leaf of one speech in an occurrence's record, stated once. Every other part
/// of Assembly (the Rust node's `assembly verify` among them) encodes exactly this.
///
///     leaf = keccak256(keccak256(abi.encode(
///                sessionId, occurrence, slotStart, speaker,
///                audioDigest, attestationDigest, transcriptDigest, revision)))
///
/// with the types of `IRecordAnchor.Speech` (uint256, uint32, uint40, address, bytes32,
/// bytes32, bytes32, uint32): eight 32-byte words, each value left-padded with zeros, 256
/// bytes in all. The outer hash is of the inner hash's 32 bytes.
///
/// The tree over an occurrence's leaves is OpenZeppelin's standard tree: leaves sorted by
/// hash (ascending, as unsigned 256-bit integers), laid out as a complete binary tree in an
/// array `t` of `2n - 1` nodes with leaf `i` of the sorted list at `t[2n - 2 - i]`, and
/// `t[k] = H(t[2k + 1], t[2k + 2])` for `k` from `n - 2` down to 0, where `H(a, b)` is
/// keccak256 of the smaller then the larger; the root is `t[0]` (the leaf itself for one).
/// A proof lists the siblings from the leaf up, which `MerkleProof.verify` folds with `H`.
/// @dev The double hash keeps a leaf (hashed from 256 bytes, then from 32) from ever being
/// read as an inner node (hashed from 64), so no pair of inner nodes passes for a speech.
library SpeechLeaf {
    /// @notice The leaf of `s`.
    function hash(IRecordAnchor.Speech memory s) internal pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                keccak256(
                    abi.encode(
                        s.sessionId,
                        s.occurrence,
                        s.slotStart,
                        s.speaker,
                        s.audioDigest,
                        s.attestationDigest,
                        s.transcriptDigest,
                        s.revision
                    )
                )
            )
        );
    }
}
