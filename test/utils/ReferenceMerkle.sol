// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice OpenZeppelin's standard Merkle tree written out plainly, as a second node builds
/// it (see `SpeechLeaf`): leaves sorted by hash, a complete binary tree in an array with the
/// sorted leaves at its end in reverse, each inner node the hash of its children in sorted
/// order. Independent of `MerkleProof`, which the contract verifies with.
library ReferenceMerkle {
    /// The tree over `leaves` (any order): `tree[0]` is the root, and the sorted leaf `i`
    /// sits at `tree[tree.length - 1 - i]`.
    function build(bytes32[] memory leaves) internal pure returns (bytes32[] memory tree) {
        uint256 n = leaves.length;
        require(n > 0, "no leaves");
        bytes32[] memory sorted = sort(leaves);
        tree = new bytes32[](2 * n - 1);
        for (uint256 i; i < n; ++i) {
            tree[tree.length - 1 - i] = sorted[i];
        }
        for (uint256 k = n - 1; k > 0; --k) {
            tree[k - 1] = pair(tree[2 * k - 1], tree[2 * k]);
        }
    }

    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        return build(leaves)[0];
    }

    /// The siblings from `leaf` up to the root; reverts if `leaf` is not in `tree`.
    function proof(bytes32[] memory tree, bytes32 leaf) internal pure returns (bytes32[] memory siblings) {
        uint256 n = (tree.length + 1) / 2;
        uint256 at = type(uint256).max;
        for (uint256 i = tree.length - n; i < tree.length; ++i) {
            if (tree[i] == leaf) at = i;
        }
        require(at != type(uint256).max, "not a leaf");
        uint256 depth;
        for (uint256 k = at; k > 0; k = (k - 1) / 2) {
            ++depth;
        }
        siblings = new bytes32[](depth);
        for (uint256 d; at > 0; ++d) {
            siblings[d] = tree[at % 2 == 1 ? at + 1 : at - 1];
            at = (at - 1) / 2;
        }
    }

    function pair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
    }

    /// Insertion sort, ascending: fine for the few dozen leaves of an occurrence.
    function sort(bytes32[] memory xs) internal pure returns (bytes32[] memory ys) {
        ys = new bytes32[](xs.length);
        for (uint256 i; i < xs.length; ++i) {
            bytes32 x = xs[i];
            uint256 j = i;
            for (; j > 0 && ys[j - 1] > x; --j) {
                ys[j] = ys[j - 1];
            }
            ys[j] = x;
        }
    }
}
