// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IENS, IENSResolver} from "../interfaces/IENS.sol";

/// @title MockENS
/// @notice ENS's registry reduced to resolvers, for tests and local chains: anyone may point
/// any node at a resolver (the real registry asks the node's owner).
contract MockENS is IENS {
    mapping(bytes32 => address) private _resolvers;

    /// @notice Emitted when a node's resolver is set, as the real registry does.
    event NewResolver(bytes32 indexed node, address resolver);

    /// @inheritdoc IENS
    function resolver(bytes32 node) external view returns (address) {
        return _resolvers[node];
    }

    /// @notice Points `node` at `resolver_`.
    /// @param node A namehash.
    /// @param resolver_ The resolver that answers for it.
    function setResolver(bytes32 node, address resolver_) external {
        _resolvers[node] = resolver_;
        emit NewResolver(node, resolver_);
    }
}

/// @title MockENSResolver
/// @notice A public resolver reduced to the name, addr and text profiles, writable by anyone
/// (tests and local chains only).
contract MockENSResolver is IENSResolver {
    mapping(bytes32 => string) private _names;
    mapping(bytes32 => address) private _addrs;
    mapping(bytes32 => mapping(string => string)) private _texts;

    /// @notice Emitted when a reverse node's name is set (EIP-181).
    event NameChanged(bytes32 indexed node, string name);
    /// @notice Emitted when a name's address is set (EIP-137).
    event AddrChanged(bytes32 indexed node, address a);
    /// @notice Emitted when a text record is set (ENSIP-5).
    event TextChanged(bytes32 indexed node, string indexed indexedKey, string key, string value);

    /// @inheritdoc IENSResolver
    function name(bytes32 node) external view returns (string memory) {
        return _names[node];
    }

    /// @inheritdoc IENSResolver
    function addr(bytes32 node) external view returns (address) {
        return _addrs[node];
    }

    /// @inheritdoc IENSResolver
    function text(bytes32 node, string calldata key) external view returns (string memory) {
        return _texts[node][key];
    }

    /// @notice Sets the name a reverse node claims.
    /// @param node The namehash of `<address>.addr.reverse`.
    /// @param name_ The name.
    function setName(bytes32 node, string calldata name_) external {
        _names[node] = name_;
        emit NameChanged(node, name_);
    }

    /// @notice Sets the address a name resolves to.
    /// @param node The namehash of the name.
    /// @param a The address.
    function setAddr(bytes32 node, address a) external {
        _addrs[node] = a;
        emit AddrChanged(node, a);
    }

    /// @notice Sets a text record.
    /// @param node The namehash of the name.
    /// @param key The record's key.
    /// @param value Its value.
    function setText(bytes32 node, string calldata key, string calldata value) external {
        _texts[node][key] = value;
        emit TextChanged(node, key, key, value);
    }
}
