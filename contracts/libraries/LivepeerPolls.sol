// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IPoll} from "../interfaces/ILivepeer.sol";

/// @title LivepeerPolls
/// @notice Adapter to Livepeer's PollCreator: proves that an address is one of its polls.
///
/// PollCreator deploys each poll with CREATE and keeps no list of them, and a poll does not
/// know its creator, so the only proof that an address is a poll (and not a contract anyone
/// could deploy with an `endBlock()` of their choosing) is the CREATE rule itself: the contract
/// created by `creator` with account nonce `nonce` lives at
///
///     address(keccak256(rlp([creator, nonce]))[12:]).
///
/// Contract nonces start at 1 (EIP-161) and stay below 2**64 - 1 (EIP-2681).
library LivepeerPolls {
    /// @notice The highest nonce an account can have (EIP-2681), exclusive.
    uint256 internal constant NONCE_LIMIT = type(uint64).max;

    /// @notice True when `nonce` is one a contract can have created something with.
    function validNonce(uint256 nonce) internal pure returns (bool) {
        return nonce != 0 && nonce < NONCE_LIMIT;
    }

    /// @notice The address of the contract `creator` created with account nonce `nonce`
    /// (`validNonce(nonce)` must hold).
    function createdAt(address creator, uint256 nonce) internal pure returns (address) {
        uint256 len;
        for (uint256 v = nonce; v != 0; v >>= 8) ++len; // at most 8 bytes
        bytes memory rlpNonce;
        if (nonce < 0x80) {
            rlpNonce = abi.encodePacked(uint8(nonce));
        } else {
            rlpNonce = new bytes(len + 1);
            rlpNonce[0] = bytes1(uint8(0x80 + len));
            for (uint256 i; i < len; ++i) {
                rlpNonce[len - i] = bytes1(uint8(nonce >> (8 * i)));
            }
        }
        bytes32 h = keccak256(abi.encodePacked(bytes1(uint8(0xc0 + 21 + rlpNonce.length)), bytes1(0x94), creator, rlpNonce));
        return address(uint160(uint256(h)));
    }

    /// @notice A poll's `endBlock`, or `ok == false` when `poll` does not answer as a poll does.
    function endBlockOf(address poll) internal view returns (bool ok, uint256 endBlock) {
        bytes memory ret;
        (ok, ret) = poll.staticcall(abi.encodeCall(IPoll.endBlock, ()));
        if (!ok || ret.length != 32) return (false, 0);
        endBlock = abi.decode(ret, (uint256));
    }
}
