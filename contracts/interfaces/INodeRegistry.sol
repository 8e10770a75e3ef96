// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBondingManager} from "./ILivepeer.sol";

/// @title INodeRegistry
/// @notice The on-chain registry of Assembly nodes, its whole public surface. An orchestrator
/// registers one node: the URL it serves at and its node key, the address of the secp256k1
/// key the node signs with. The events are complete: an indexer that replays them in order
/// knows every node, its URL and its current key, with no gossip and no shared database.
/// Who is a member (`isMember`) is decided when asked, from Livepeer's active set, so it
/// changes with the round without a transaction here.
/// @dev Modelled on Livepeer's ServiceRegistry (one record per address, set by that address,
/// announced by an event), held apart from it: gateways read that one's URI for transcoding.
interface INodeRegistry {
    /// @notice Governance's say over an operator. `Default`: a member while registered and in
    /// Livepeer's active set. `Approved`: a member while registered, in the active set or not
    /// (a node run by someone who is not an orchestrator, such as a foundation's).
    /// `Suspended`: never a member, and may not register.
    enum Standing {
        Default,
        Approved,
        Suspended
    }

    /// @notice An operator's node: where it serves, and the address of the key it signs with.
    /// A zero `key` means the operator has no node.
    struct Node {
        address key;
        string url;
    }

    /// @notice `operator` registered a node serving at `url` that signs with `nodeKey`.
    event NodeRegistered(address indexed operator, address indexed nodeKey, string url);
    /// @notice `operator`'s node now serves at `url`.
    event NodeUrlChanged(address indexed operator, string url);
    /// @notice `operator`'s node signs with `newKey` from now on. Whatever `oldKey` signed for
    /// this operator is void from this event on: sessions, tokens and anchors alike.
    event NodeKeyRotated(address indexed operator, address indexed oldKey, address indexed newKey);
    /// @notice `operator` removed its node; whatever `nodeKey` signed for it is void.
    event NodeDeregistered(address indexed operator, address indexed nodeKey);
    /// @notice Governance set `operator`'s standing.
    event StandingChanged(address indexed operator, Standing standing);

    /// @notice Only an active Livepeer orchestrator, or an address governance approved, may register a node.
    error NotEligible(address operator);
    /// @notice Governance suspended this operator: it may not register a node.
    error OperatorSuspended(address operator);
    /// @notice This address already has a node: update it, rotate its key, or deregister it first.
    error AlreadyRegistered(address operator);
    /// @notice This address has no node.
    error NotRegistered(address operator);
    /// @notice That node key already belongs to a node (this one's own, or another operator's).
    error KeyTaken(address nodeKey, address operator);
    /// @notice The node key's proof is not its signature of this operator's claim: the node must sign it with that key.
    error InvalidKeyProof(address nodeKey);
    /// @notice A node URL must begin with http:// or https://, name a host, and contain no spaces or control characters.
    error InvalidUrl();
    /// @notice The node URL is longer than the registry allows.
    error UrlTooLong(uint256 length, uint256 max);
    /// @notice A Livepeer contract address has no code.
    error NotAContract(address account);

    // ------------------------------------------------------------------ configuration

    /// @notice The longest node URL accepted, in bytes.
    function MAX_URL_LENGTH() external view returns (uint256);

    /// @notice The EIP-712 type a node signs to consent to being an operator's node:
    /// `NodeKey(address operator)`.
    function NODE_KEY_TYPEHASH() external view returns (bytes32);

    /// @notice Livepeer's BondingManager, whose active set decides membership.
    function bondingManager() external view returns (IBondingManager);

    // ------------------------------------------------------------------ operators

    /// @notice Register the caller's node. The caller must be an active orchestrator (or
    /// approved by governance) and have no node yet.
    /// @param url Where the node serves: http:// or https://, printable ASCII without spaces,
    /// at most `MAX_URL_LENGTH` bytes.
    /// @param nodeKey The address of the node's signing key; no other node may hold it.
    /// @param keyProof `nodeKey`'s 65-byte signature of `keyDigest(msg.sender)`, so nobody can
    /// claim a key whose holder did not consent (and have that node's signatures read as theirs).
    function register(string calldata url, address nodeKey, bytes calldata keyProof) external;

    /// @notice Change the caller's node URL. Allowed while out of the active set, so an
    /// operator between rounds can keep its record right.
    /// @param url The new URL, under the same rules as at registration.
    function updateUrl(string calldata url) external;

    /// @notice Replace the caller's node key, ending everything the old key signed. Allowed
    /// while out of the active set or suspended: retiring a leaked key must never be refused.
    /// @param newKey The address of the node's new signing key; no other node may hold it.
    /// @param keyProof `newKey`'s signature of `keyDigest(msg.sender)`.
    function rotateKey(address newKey, bytes calldata keyProof) external;

    /// @notice Remove the caller's node and free its key. Always allowed.
    function deregister() external;

    // ------------------------------------------------------------------ governance

    /// @notice Set `operator`'s standing (see `Standing`), registered or not. Governance only.
    /// @param operator The operator.
    /// @param standing Its new standing.
    function setStanding(address operator, Standing standing) external;

    // ------------------------------------------------------------------ views

    /// @notice True when `operator` has a node and is a member now: not suspended, and either
    /// approved or in Livepeer's active set this round (read live from the BondingManager).
    /// @param operator The operator.
    function isMember(address operator) external view returns (bool);

    /// @notice `operator`'s node; its `key` is zero if it has none.
    /// @param operator The operator.
    function nodeOf(address operator) external view returns (Node memory);

    /// @notice The operator whose node signs with `nodeKey`, or zero if none does.
    /// @param nodeKey The address of a node key.
    function operatorOfKey(address nodeKey) external view returns (address);

    /// @notice The operator whose node signs with `nodeKey` if that operator is a member now,
    /// else zero: the one check a verifier of a node's signature needs.
    /// @param nodeKey The address recovered from the signature.
    function memberOfKey(address nodeKey) external view returns (address);

    /// @notice `operator`'s standing.
    /// @param operator The operator.
    function standingOf(address operator) external view returns (Standing);

    /// @notice How many operators have a node.
    function nodeCount() external view returns (uint256);

    /// @notice Up to `limit` operators with a node, from position `start`. Positions are not
    /// stable (deregistering moves the last operator into the gap); the events are the
    /// record to follow, and this is for a fresh node's bootstrap in one block's state.
    /// @param start The first position.
    /// @param limit The most operators returned.
    function operators(uint256 start, uint256 limit) external view returns (address[] memory page);

    /// @notice The EIP-712 digest a node key signs to consent to being `operator`'s node.
    /// @param operator The operator.
    function keyDigest(address operator) external view returns (bytes32);
}
