// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IBondingManager} from "./interfaces/ILivepeer.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";

/// @title NodeRegistry
/// @notice Which Assembly nodes make up the cluster: one node per operator, each with a URL
/// and the key it signs with. Membership is read live from Livepeer's active set.
/// @dev Eligibility is checked once, at `register`; membership at every read. Checking it at
/// registration keeps strangers from filling the registry (and the indexer's event stream)
/// and from reserving keys; checking it at reads means an orchestrator that leaves the
/// active set stops being a member that round, with no transaction, and comes back with it.
/// Changing a URL, rotating a key and leaving never depend on eligibility: an operator out
/// of the active set or suspended must still be able to retire a leaked key.
///
/// A key is claimed only with the key holder's signature of the operator's address
/// (EIP-712, bound to this registry and chain). Without it an operator could register a
/// node key it does not hold, another's seen on the wire or in a pending transaction,
/// and a verifier would attribute that node's signatures to the wrong operator.
contract NodeRegistry is INodeRegistry, Ownable2Step, EIP712 {
    /// @inheritdoc INodeRegistry
    uint256 public constant MAX_URL_LENGTH = 256;
    /// @inheritdoc INodeRegistry
    bytes32 public constant NODE_KEY_TYPEHASH = keccak256("NodeKey(address operator)");

    /// @inheritdoc INodeRegistry
    IBondingManager public immutable bondingManager;

    /// A node and its place in `_operators`, one-based so that zero means "not listed"; the
    /// key and the place share a slot, so reads of either touch one.
    struct Record {
        address key;
        uint96 position;
        string url;
    }

    mapping(address operator => Record) internal _records;
    mapping(address nodeKey => address operator) internal _operatorOfKey;
    mapping(address operator => Standing) internal _standing;
    /// Every operator with a node, for `operators`; deregistering swaps the last into the gap.
    address[] internal _operators;

    /// @param owner_ Governance: Livepeer's treasury timelock on Arbitrum One, the deployer locally.
    /// @param bondingManager_ Livepeer's BondingManager.
    constructor(address owner_, IBondingManager bondingManager_) Ownable(owner_) EIP712("Assembly NodeRegistry", "1") {
        if (address(bondingManager_).code.length == 0) revert NotAContract(address(bondingManager_));
        bondingManager = bondingManager_;
    }

    // ------------------------------------------------------------------ operators

    /// @inheritdoc INodeRegistry
    function register(string calldata url, address nodeKey, bytes calldata keyProof) external {
        Standing standing = _standing[msg.sender];
        if (standing == Standing.Suspended) revert OperatorSuspended(msg.sender);
        if (standing != Standing.Approved && !bondingManager.isActiveTranscoder(msg.sender)) {
            revert NotEligible(msg.sender);
        }
        Record storage r = _records[msg.sender];
        if (r.key != address(0)) revert AlreadyRegistered(msg.sender);
        _checkUrl(url);
        _claimKey(nodeKey, keyProof);

        _operators.push(msg.sender);
        r.key = nodeKey;
        r.position = uint96(_operators.length);
        r.url = url;
        emit NodeRegistered(msg.sender, nodeKey, url);
    }

    /// @inheritdoc INodeRegistry
    function updateUrl(string calldata url) external {
        Record storage r = _registered(msg.sender);
        _checkUrl(url);
        r.url = url;
        emit NodeUrlChanged(msg.sender, url);
    }

    /// @inheritdoc INodeRegistry
    function rotateKey(address newKey, bytes calldata keyProof) external {
        Record storage r = _registered(msg.sender);
        address oldKey = r.key;
        _claimKey(newKey, keyProof);
        delete _operatorOfKey[oldKey];
        r.key = newKey;
        emit NodeKeyRotated(msg.sender, oldKey, newKey);
    }

    /// @inheritdoc INodeRegistry
    function deregister() external {
        Record storage r = _registered(msg.sender);
        address key = r.key;
        uint256 at = r.position - 1;
        address last = _operators[_operators.length - 1];
        _operators[at] = last;
        _records[last].position = uint96(at + 1);
        _operators.pop();
        delete _operatorOfKey[key];
        delete _records[msg.sender];
        emit NodeDeregistered(msg.sender, key);
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc INodeRegistry
    /// @dev A suspension does not deregister: the operator keeps its record (and may still
    /// rotate its key or leave), so lifting the suspension restores it as it was.
    function setStanding(address operator, Standing standing) external onlyOwner {
        _standing[operator] = standing;
        emit StandingChanged(operator, standing);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc INodeRegistry
    function isMember(address operator) public view returns (bool) {
        if (_records[operator].key == address(0)) return false;
        Standing standing = _standing[operator];
        if (standing == Standing.Approved) return true;
        return standing == Standing.Default && bondingManager.isActiveTranscoder(operator);
    }

    /// @inheritdoc INodeRegistry
    function nodeOf(address operator) external view returns (Node memory) {
        Record storage r = _records[operator];
        return Node({key: r.key, url: r.url});
    }

    /// @inheritdoc INodeRegistry
    function operatorOfKey(address nodeKey) external view returns (address) {
        return _operatorOfKey[nodeKey];
    }

    /// @inheritdoc INodeRegistry
    function memberOfKey(address nodeKey) external view returns (address) {
        address operator = _operatorOfKey[nodeKey];
        return operator != address(0) && isMember(operator) ? operator : address(0);
    }

    /// @inheritdoc INodeRegistry
    function standingOf(address operator) external view returns (Standing) {
        return _standing[operator];
    }

    /// @inheritdoc INodeRegistry
    function nodeCount() external view returns (uint256) {
        return _operators.length;
    }

    /// @inheritdoc INodeRegistry
    function operators(uint256 start, uint256 limit) external view returns (address[] memory page) {
        uint256 n = _operators.length;
        if (start >= n) return page;
        uint256 end = limit > n - start ? n : start + limit;
        page = new address[](end - start);
        for (uint256 i = start; i < end; ++i) {
            page[i - start] = _operators[i];
        }
    }

    /// @inheritdoc INodeRegistry
    function keyDigest(address operator) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(NODE_KEY_TYPEHASH, operator)));
    }

    // ------------------------------------------------------------------ internals

    function _registered(address operator) internal view returns (Record storage r) {
        r = _records[operator];
        if (r.key == address(0)) revert NotRegistered(operator);
    }

    /// Binds `nodeKey` to the caller once its holder has signed the caller's claim. Zero is
    /// never a key: no signature recovers to it, and it marks "no node" in `Record`.
    function _claimKey(address nodeKey, bytes calldata keyProof) internal {
        address holder = _operatorOfKey[nodeKey];
        if (holder != address(0)) revert KeyTaken(nodeKey, holder);
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(keyDigest(msg.sender), keyProof);
        if (err != ECDSA.RecoverError.NoError || signer != nodeKey) revert InvalidKeyProof(nodeKey);
        _operatorOfKey[nodeKey] = msg.sender;
    }

    /// The URL is stored for other nodes and browsers to dial, and every indexer keeps a
    /// copy, so it is bounded, must be HTTP(S) with something after the scheme, and holds no
    /// spaces or control characters: a newline or an escape sequence would reach logs and
    /// pages verbatim, and a URL needs neither (hosts beyond ASCII are written in punycode).
    /// The byte loop is bounded by MAX_URL_LENGTH: at most 40k gas, once per registration.
    function _checkUrl(string calldata url) internal pure {
        bytes calldata b = bytes(url);
        if (b.length > MAX_URL_LENGTH) revert UrlTooLong(b.length, MAX_URL_LENGTH);
        uint256 host;
        if (_startsWith(b, "https://")) host = 8;
        else if (_startsWith(b, "http://")) host = 7;
        if (host == 0 || b.length == host) revert InvalidUrl();
        for (uint256 i = host; i < b.length; ++i) {
            bytes1 c = b[i];
            if (c < 0x21 || c > 0x7e) revert InvalidUrl();
        }
    }

    function _startsWith(bytes calldata b, bytes memory prefix) private pure returns (bool) {
        return b.length >= prefix.length && keccak256(b[:prefix.length]) == keccak256(prefix);
    }
}
