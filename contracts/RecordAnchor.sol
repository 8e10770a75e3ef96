// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IAssembly} from "./interfaces/IAssembly.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {IRecordAnchor} from "./interfaces/IRecordAnchor.sol";
import {Occurrences} from "./libraries/Occurrences.sol";
import {SpeechLeaf} from "./libraries/SpeechLeaf.sol";

/// @title RecordAnchor
/// @notice Where the cluster anchors the Merkle root of each ended occurrence's speeches,
/// and where anyone checks a speech against it.
/// @dev The chain does not judge which root is right: it cannot see the audio. It records
/// who (which member operator) attested what, once each, and leaves every root standing, so
/// a verifier weighs the attestations and a dissenting node is never silenced. Authority is
/// read from the registry at the moment of anchoring; an attestation made while a member
/// stays one after the operator leaves, since it was true of the record when made.
///
/// An occurrence is anchored only once it has ended, as Assembly's schedule says: its
/// record is complete then, and a root of a prefix could not be told from one that omits
/// speeches. A floor that is always in session never ends unless cancelled, so it is never
/// anchored until then; cutting it into windows here would let two honest nodes choose
/// different cuts and read as a disagreement that is none.
///
/// No state is ever iterated: each attestation writes a fixed few slots.
contract RecordAnchor is IRecordAnchor {
    using SpeechLeaf for Speech;

    /// @inheritdoc IRecordAnchor
    IAssembly public immutable floor;
    /// @inheritdoc IRecordAnchor
    INodeRegistry public immutable registry;

    struct RootRecord {
        uint256 attestations;
        mapping(address operator => bool) attested;
    }

    struct OccurrenceRecord {
        uint256 roots;
        mapping(bytes32 root => RootRecord) byRoot;
    }

    mapping(uint256 sessionId => mapping(uint32 occurrence => OccurrenceRecord)) internal _records;

    /// @param floor_ Assembly's floor.
    /// @param registry_ The cluster's node registry.
    constructor(IAssembly floor_, INodeRegistry registry_) {
        if (address(floor_).code.length == 0) revert NotAContract(address(floor_));
        if (address(registry_).code.length == 0) revert NotAContract(address(registry_));
        floor = floor_;
        registry = registry_;
    }

    // ------------------------------------------------------------------ anchoring

    /// @inheritdoc IRecordAnchor
    function anchor(uint256 sessionId, uint32 occurrence, bytes32 root, uint32 speeches) external {
        if (root == bytes32(0)) revert ZeroRoot();
        if (speeches == 0) revert NoSpeeches();
        address operator = _operatorOf(msg.sender);
        _checkEnded(sessionId, occurrence);

        OccurrenceRecord storage o = _records[sessionId][occurrence];
        RootRecord storage r = o.byRoot[root];
        if (r.attested[operator]) revert AlreadyAttested(sessionId, occurrence, root, operator);
        r.attested[operator] = true;
        // A root's first attestation is a new root for the occurrence.
        if (r.attestations++ == 0) ++o.roots;
        emit RecordAnchored(sessionId, occurrence, root, operator, msg.sender, speeches);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IRecordAnchor
    function attestations(uint256 sessionId, uint32 occurrence, bytes32 root) public view returns (uint256) {
        return _records[sessionId][occurrence].byRoot[root].attestations;
    }

    /// @inheritdoc IRecordAnchor
    function attested(uint256 sessionId, uint32 occurrence, bytes32 root, address operator)
        external
        view
        returns (bool)
    {
        return _records[sessionId][occurrence].byRoot[root].attested[operator];
    }

    /// @inheritdoc IRecordAnchor
    function rootCount(uint256 sessionId, uint32 occurrence) external view returns (uint256) {
        return _records[sessionId][occurrence].roots;
    }

    /// @inheritdoc IRecordAnchor
    function leafHash(Speech calldata speech) external pure returns (bytes32) {
        return speech.hash();
    }

    /// @inheritdoc IRecordAnchor
    function verify(
        uint256 sessionId,
        uint32 occurrence,
        bytes32 root,
        Speech calldata speech,
        bytes32[] calldata proof
    ) external view returns (bool) {
        // The speech names its occurrence, so a leaf of another occurrence's record never
        // verifies here, even under a root some node anchored for this one.
        if (speech.sessionId != sessionId || speech.occurrence != occurrence) return false;
        if (attestations(sessionId, occurrence, root) == 0) return false;
        return MerkleProof.verifyCalldata(proof, root, speech.hash());
    }

    // ------------------------------------------------------------------ internals

    /// The operator `sender` anchors for: its node's operator if `sender` is a node key
    /// (what a node's software sends with), else itself if it is a member operator (a lone
    /// node whose operator's key is its only key). The key is asked first because nodes
    /// anchor far more often than operators do.
    function _operatorOf(address sender) internal view returns (address operator) {
        operator = registry.memberOfKey(sender);
        if (operator != address(0)) return operator;
        if (registry.isMember(sender)) return sender;
        revert NotAMember(sender);
    }

    /// Reads the schedule by the same rule Assembly keeps it (`Occurrences`), from one call.
    function _checkEnded(uint256 sessionId, uint32 occurrence) internal view {
        // Ids run from 1 to sessionCount, and every one has a schedule, so getSession
        // below cannot revert with Assembly's own error in place of ours.
        if (sessionId == 0 || sessionId > floor.sessionCount()) revert UnknownSession(sessionId);
        IAssembly.Session memory s = floor.getSession(sessionId);
        if (!Occurrences.exists(s, occurrence)) revert NoSuchOccurrence(sessionId, occurrence);
        (uint256 start, uint256 end) = Occurrences.bounds(s, occurrence);
        // A cancellation before the occurrence began leaves it empty: it was never held.
        if (end == start) revert NoSuchOccurrence(sessionId, occurrence);
        if (block.timestamp < end) revert OccurrenceNotOver(sessionId, occurrence, uint64(end));
    }
}
