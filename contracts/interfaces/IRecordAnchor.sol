// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAssembly} from "./IAssembly.sol";
import {INodeRegistry} from "./INodeRegistry.sol";

/// @title IRecordAnchor
/// @notice The record of each occurrence, anchored on chain, its whole public surface. When
/// an occurrence of a session has ended, a node of the cluster anchors the Merkle root of its
/// speeches; other nodes that recomputed the same root attest it too, and a node that
/// computed another anchors that one. Every root is kept and counted, so agreement and
/// disagreement are both visible, and any client can check one speech against the chain
/// with `verify`.
///
/// The tree (see `SpeechLeaf`) is OpenZeppelin's standard Merkle tree: each leaf is
/// `keccak256(bytes.concat(keccak256(abi.encode(<Speech's fields in order>))))`, inner nodes
/// hash their two children in sorted order, and the leaves are sorted by hash before the
/// tree is built, so the root depends on the set of speeches alone and two honest nodes
/// with the same record anchor the same root. It is the tree OpenZeppelin's JavaScript
/// merkle-tree package builds with `StandardMerkleTree.of(values, ["uint256", "uint32",
/// "uint40", "address", "bytes32", "bytes32", "bytes32", "uint32"])`.
/// @dev Errors and events are complete for an indexer: every anchoring is a `RecordAnchored`.
interface IRecordAnchor {
    /// @notice One speech of an occurrence, as a leaf of its record. Every field is public
    /// or derivable by any node that heard the occurrence, so a second node recomputes the
    /// leaf without trusting the first. A corrected transcript is a new leaf: the same
    /// speech with the new `transcriptDigest` and `revision` one higher; the original leaf
    /// is never removed, so both stay verifiable under the roots that hold them.
    /// @param sessionId The session (Assembly's id).
    /// @param occurrence The occurrence of that session, from 0 (as in Assembly's events).
    /// @param slotStart The start of the speaker's slot, unix seconds: `IAssembly.floorAt`
    /// at this instant names `speaker` with this start, which ties the leaf to the floor.
    /// @param speaker The slot holder who spoke.
    /// @param audioDigest SHA-256 of the speech's audio as archived (one Ogg Opus file).
    /// @param attestationDigest keccak256 of the speaking-key certificate the speaker's wallet
    /// signed, as the recording carries it (its kind byte, body and signature; see
    /// `provenance/src/carrier.rs`): the key every frame of the audio is signed with, bound
    /// into the record. Zero for a speech that carries none (unsigned).
    /// @param transcriptDigest SHA-256 of the transcript's UTF-8 text; zero if there is none.
    /// @param revision 0 for the original transcript, one more for each correction.
    struct Speech {
        uint256 sessionId;
        uint32 occurrence;
        uint40 slotStart;
        address speaker;
        bytes32 audioDigest;
        bytes32 attestationDigest;
        bytes32 transcriptDigest;
        uint32 revision;
    }

    /// @notice `operator` attests that `root` is the record of `occurrence` of `sessionId`,
    /// holding `speeches` speeches; `node` sent it (a node key, or the operator itself when
    /// a lone node anchors with its operator's key). Emitted for every attestation, so two
    /// roots for one occurrence (a disagreement, or a corrected transcript) are both seen.
    event RecordAnchored(
        uint256 indexed sessionId,
        uint32 indexed occurrence,
        bytes32 indexed root,
        address operator,
        address node,
        uint32 speeches
    );

    /// @notice An address given to the constructor has no code.
    error NotAContract(address account);
    /// @notice Only a registered node of a member operator, or a member operator itself, may anchor a record.
    error NotAMember(address account);
    /// @notice There is no such session.
    error UnknownSession(uint256 sessionId);
    /// @notice The session has no such occurrence: it is past the schedule's end, or was cancelled before it began.
    error NoSuchOccurrence(uint256 sessionId, uint32 occurrence);
    /// @notice The occurrence has not ended yet: its record is anchored once it has.
    error OccurrenceNotOver(uint256 sessionId, uint32 occurrence, uint64 end);
    /// @notice A zero root anchors nothing.
    error ZeroRoot();
    /// @notice A record of no speeches has no root.
    error NoSpeeches();
    /// @notice This operator has already attested this root for this occurrence.
    error AlreadyAttested(uint256 sessionId, uint32 occurrence, bytes32 root, address operator);

    // ------------------------------------------------------------------ configuration

    /// @notice Assembly's floor, whose schedule says when an occurrence has ended.
    function floor() external view returns (IAssembly);

    /// @notice The cluster's node registry, which says who may anchor.
    function registry() external view returns (INodeRegistry);

    // ------------------------------------------------------------------ anchoring

    /// @notice Attest that `root` is the record of an ended occurrence, for the caller's
    /// operator. The caller is either a node key whose operator is a member now, or a
    /// member operator itself. Each operator attests a root once; it may attest other
    /// roots of the same occurrence (a corrected transcript), and every root is kept.
    /// @dev Emits `RecordAnchored`. Reverts with `ZeroRoot`, `NoSpeeches`, `NotAMember` (a
    /// stranger, an operator without a node, deregistered, suspended or out of the active
    /// set, or a key no longer its node's), `UnknownSession`, `NoSuchOccurrence`,
    /// `OccurrenceNotOver` or `AlreadyAttested`. An occurrence of an always-in-session floor
    /// (`IAssembly.FOREVER`) ends only if the session is cancelled; until then it is refused
    /// with `OccurrenceNotOver`.
    /// @param sessionId The session.
    /// @param occurrence The occurrence, from 0.
    /// @param root The root of the occurrence's speeches, built as `SpeechLeaf` states.
    /// @param speeches How many leaves the tree holds (a claim the event carries for
    /// readers; the chain cannot check it).
    function anchor(uint256 sessionId, uint32 occurrence, bytes32 root, uint32 speeches) external;

    // ------------------------------------------------------------------ views

    /// @notice How many operators attested `root` for this occurrence (0: never anchored).
    /// @param sessionId The session.
    /// @param occurrence The occurrence.
    /// @param root The root.
    function attestations(uint256 sessionId, uint32 occurrence, bytes32 root) external view returns (uint256);

    /// @notice Whether `operator` attested `root` for this occurrence.
    /// @param sessionId The session.
    /// @param occurrence The occurrence.
    /// @param root The root.
    /// @param operator The operator (not its node key).
    function attested(uint256 sessionId, uint32 occurrence, bytes32 root, address operator) external view returns (bool);

    /// @notice How many distinct roots were anchored for this occurrence: more than one
    /// means a disagreement or a correction, which the `RecordAnchored` events tell apart.
    /// @param sessionId The session.
    /// @param occurrence The occurrence.
    function rootCount(uint256 sessionId, uint32 occurrence) external view returns (uint256);

    /// @notice The leaf of `speech` in an occurrence's tree (see `SpeechLeaf`).
    /// @param speech The speech.
    function leafHash(Speech calldata speech) external pure returns (bytes32);

    /// @notice Whether `speech` is a leaf of `root` (by `proof`) and `root` was anchored for
    /// this occurrence, which must be the speech's own. Says nothing of other roots: a
    /// client wary of disagreement reads `rootCount` and `attestations` too.
    /// @param sessionId The session.
    /// @param occurrence The occurrence.
    /// @param root An anchored root of that occurrence.
    /// @param speech The speech to check.
    /// @param proof The sibling hashes from the speech's leaf up to `root`.
    function verify(
        uint256 sessionId,
        uint32 occurrence,
        bytes32 root,
        Speech calldata speech,
        bytes32[] calldata proof
    ) external view returns (bool);
}
