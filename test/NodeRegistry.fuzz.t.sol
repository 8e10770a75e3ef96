// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {INodeRegistry} from "../contracts/interfaces/INodeRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {vm} from "./utils/Vm.sol";

/// The registry's rules over fuzzed inputs, each against its statement written the plain way.
contract NodeRegistryFuzzTest is RegistryFixture {
    /// secp256k1's group order: private keys are 1 .. N - 1.
    uint256 internal constant N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    /// Any bytes after any of a few schemes, near-schemes and none: accepted exactly when the
    /// URL is http:// or https://, has a host, is printable ASCII without spaces, and fits.
    /// Half the time the bytes are folded into the printable range, so acceptance is common.
    function testFuzz_url(uint8 schemeSeed, bytes calldata rest, bool fold) public {
        string[6] memory schemes = ["https://", "http://", "", "https:/", "HTTPS://", "ftp://"];
        bytes memory tail = rest;
        if (fold) {
            for (uint256 i; i < tail.length; ++i) {
                tail[i] = bytes1(uint8(0x21 + uint8(tail[i]) % 94));
            }
        }
        bytes memory url = bytes.concat(bytes(schemes[schemeSeed % 6]), tail);

        bytes4 expected;
        if (url.length > 256) {
            expected = INodeRegistry.UrlTooLong.selector;
        } else if (!(hasPrefix(url, "https://") && url.length > 8) && !(hasPrefix(url, "http://") && url.length > 7)) {
            expected = INodeRegistry.InvalidUrl.selector;
        } else if (!printable(url)) {
            expected = INodeRegistry.InvalidUrl.selector;
        }
        bytes memory keyProof = proof(ALICE, 1);
        vm.prank(ALICE);
        try registry.register(string(url), nodeKey(1), keyProof) {
            vm.assertEq(expected, bytes4(0), "accepted a URL the rule refuses");
            vm.assertEq(keccak256(bytes(registry.nodeOf(ALICE).url)), keccak256(url), "stored as given");
        } catch (bytes memory reason) {
            vm.assertEq(bytes4(reason), expected, "refused a URL the rule accepts, or for the wrong reason");
        }
    }

    /// A key is bound to an operator exactly when the key's holder signed that operator's
    /// claim (the two choices make the consenting case as common as the others).
    function testFuzz_keyProof(
        uint256 keySecret,
        uint256 otherSecret,
        bool holderSigns,
        address operator,
        address other,
        bool forThisOperator
    ) public {
        keySecret = bound(keySecret, 1, N - 1);
        otherSecret = bound(otherSecret, 1, N - 1);
        vm.assume(operator != address(0));
        registry.setStanding(operator, INodeRegistry.Standing.Approved);
        address key = vm.addr(keySecret);
        address claimedFor = forThisOperator ? operator : other;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(holderSigns ? keySecret : otherSecret, digest(claimedFor));

        bool consented = vm.addr(holderSigns ? keySecret : otherSecret) == key && claimedFor == operator;
        vm.prank(operator);
        try registry.register(URL, key, abi.encodePacked(r, s, v)) {
            vm.assertTrue(consented, "bound without the holder's consent");
            vm.assertEq(registry.operatorOfKey(key), operator, "bound");
        } catch (bytes memory reason) {
            vm.assertTrue(!consented, "refused a consenting key");
            vm.assertEq(reason, abi.encodeWithSelector(INodeRegistry.InvalidKeyProof.selector, key), "reason");
        }
    }

    /// The same consent with `s` in the upper half of the order (the other valid encoding of
    /// one signature) is refused: a proof has one form.
    function testFuzz_keyProof_refusesTheMalleableTwin(uint256 keySecret) public {
        keySecret = bound(keySecret, 1, N - 1);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(keySecret, digest(ALICE));
        bytes memory twin = abi.encodePacked(r, bytes32(N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.InvalidKeyProof.selector, vm.addr(keySecret)));
        registry.register(URL, vm.addr(keySecret), twin);
    }

    /// Membership is exactly: a node, not suspended, and approved or active this round.
    function testFuzz_isMember(address operator, bool registered, uint8 standingSeed, bool active) public {
        vm.assume(operator != address(0) && operator != ALICE && operator != BOB && operator != CAROL);
        INodeRegistry.Standing standing = INodeRegistry.Standing(standingSeed % 3);
        if (registered) {
            registry.setStanding(operator, INodeRegistry.Standing.Approved);
            registerAs(operator, URL, 1);
        }
        registry.setStanding(operator, standing);
        if (active) bonding.setActive(operator, true);

        bool expected = registered && standing != INodeRegistry.Standing.Suspended
            && (standing == INodeRegistry.Standing.Approved || active);
        vm.assertEq(registry.isMember(operator), expected, "isMember");
        vm.assertEq(registry.memberOfKey(nodeKey(1)), expected ? operator : address(0), "memberOfKey");
    }

    /// However two operators go about it, one key never serves both.
    function testFuzz_keyServesOneOperator(uint256 key, bool firstRotates) public {
        key = bound(key, 1, 1000);
        if (firstRotates) {
            registerAs(ALICE, URL, key + 1);
            bytes memory p = proof(ALICE, key);
            vm.prank(ALICE);
            registry.rotateKey(nodeKey(key), p);
        } else {
            registerAs(ALICE, URL, key);
        }
        bytes memory bobs = proof(BOB, key);
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.KeyTaken.selector, nodeKey(key), ALICE));
        registry.register(URL, nodeKey(key), bobs);
    }

    function printable(bytes memory b) internal pure returns (bool) {
        for (uint256 i; i < b.length; ++i) {
            if (uint8(b[i]) <= 0x20 || uint8(b[i]) >= 0x7f) return false;
        }
        return true;
    }

    function hasPrefix(bytes memory b, bytes memory prefix) internal pure returns (bool) {
        if (b.length < prefix.length) return false;
        for (uint256 i; i < prefix.length; ++i) {
            if (b[i] != prefix[i]) return false;
        }
        return true;
    }

    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }
}
