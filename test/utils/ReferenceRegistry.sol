// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The registry written the plain way: one list of nodes, every question answered by
/// a scan of it. No second mapping to keep in step, no positions, no swap-and-pop.
contract ReferenceRegistry {
    struct Node {
        address operator;
        address key;
        bytes32 url;
    }

    Node[] internal _nodes;

    function count() external view returns (uint256) {
        return _nodes.length;
    }

    function at(uint256 i) external view returns (Node memory) {
        return _nodes[i];
    }

    /// The operator's node; a zero key if it has none.
    function nodeOf(address operator) public view returns (Node memory n) {
        for (uint256 i; i < _nodes.length; ++i) {
            if (_nodes[i].operator == operator) return _nodes[i];
        }
    }

    /// Whose node signs with `key`; zero if nobody's.
    function holderOf(address key) public view returns (address) {
        for (uint256 i; i < _nodes.length; ++i) {
            if (_nodes[i].key == key) return _nodes[i].operator;
        }
        return address(0);
    }

    function add(address operator, address key, bytes32 url) external {
        _nodes.push(Node(operator, key, url));
    }

    function setUrl(address operator, bytes32 url) external {
        _nodes[_indexOf(operator)].url = url;
    }

    function setKey(address operator, address key) external {
        _nodes[_indexOf(operator)].key = key;
    }

    /// Removes the operator's node, keeping the others in order.
    function remove(address operator) external {
        for (uint256 i = _indexOf(operator); i + 1 < _nodes.length; ++i) {
            _nodes[i] = _nodes[i + 1];
        }
        _nodes.pop();
    }

    function _indexOf(address operator) internal view returns (uint256 i) {
        while (_nodes[i].operator != operator) ++i;
    }
}
