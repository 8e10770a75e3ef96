// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IENS
/// @notice The part of ENS's registry (EIP-137) the node reads to name speakers: which resolver
/// answers for a node. Mainnet's registry is 0x00000000000C2E074eC69A0dFb2997BA6C7d2e1e.
interface IENS {
    /// @notice The resolver contract for `node` (a namehash); zero if none is set.
    /// @param node The namehash of a name, e.g. of `<address>.addr.reverse`.
    function resolver(bytes32 node) external view returns (address);
}

/// @title IENSResolver
/// @notice The resolver profiles the node reads: a reverse record's `name` (EIP-181), a name's
/// `addr` (EIP-137) to check the reverse record forward, and its `avatar` text record (ENSIP-5, -12).
interface IENSResolver {
    /// @notice The name a reverse node claims.
    /// @param node The namehash of `<address>.addr.reverse`.
    function name(bytes32 node) external view returns (string memory);

    /// @notice The address a name resolves to.
    /// @param node The namehash of the name.
    function addr(bytes32 node) external view returns (address);

    /// @notice A text record of a name, e.g. `avatar`.
    /// @param node The namehash of the name.
    /// @param key The record's key.
    function text(bytes32 node, string calldata key) external view returns (string memory);
}
