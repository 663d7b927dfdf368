// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IRelayRoots} from "../../contracts/interfaces/IRelayRoots.sol";
import {BaseTest} from "./BaseTest.sol";

contract RelayRootsTest is BaseTest {
    bytes32 internal constant BLOB_A = keccak256("blob-a");
    bytes32 internal constant BLOB_B = keccak256("blob-b");
    bytes32 internal constant BLOB_C = keccak256("blob-c");
    bytes32 internal constant BLOB_D = keccak256("blob-d");

    /// @dev OpenZeppelin's commutative node hash: the pair is sorted before hashing.
    function _hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
    }

    function _proof(bytes32 a) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](1);
        p[0] = a;
    }

    function _proof(bytes32 a, bytes32 b) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](2);
        p[0] = a;
        p[1] = b;
    }

    function _post(bytes32 root, uint256 blobCount) internal {
        vm.prank(relay);
        relayRoots.postRoot(root, blobCount);
    }

    // ---------------------------------------------------------------------------------------------------------
    // postRoot
    // ---------------------------------------------------------------------------------------------------------

    function test_postRoot_recordsTimeIndexAndEmits() public {
        bytes32 root = keccak256("root");
        vm.warp(1_700_000_000);
        vm.expectEmit(true, true, false, true, address(relayRoots));
        emit IRelayRoots.RootPosted(root, relay, 0, 5);
        _post(root, 5);
        assertEq(relayRoots.rootPostedAt(root), 1_700_000_000);
        assertEq(relayRoots.rootCount(), 1);

        vm.expectEmit(true, true, false, true, address(relayRoots));
        emit IRelayRoots.RootPosted(keccak256("root-2"), relay, 1, 1);
        _post(keccak256("root-2"), 1);
        assertEq(relayRoots.rootCount(), 2);
    }

    function test_postRoot_revertsWhenNotRelay() public {
        bytes32 role = relayRoots.RELAY_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        relayRoots.postRoot(keccak256("root"), 1);
    }

    function test_postRoot_revertsForAdminWithoutRelayRole() public {
        bytes32 role = relayRoots.RELAY_ROLE();
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, admin, role));
        vm.prank(admin);
        relayRoots.postRoot(keccak256("root"), 1);
    }

    function test_postRoot_revertsAfterRoleRevoked() public {
        bytes32 role = relayRoots.RELAY_ROLE();
        vm.prank(admin);
        relayRoots.revokeRole(role, relay);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, relay, role));
        _post(keccak256("root"), 1);
    }

    function test_postRoot_revertsWhenZero() public {
        vm.expectRevert(abi.encodeWithSelector(IRelayRoots.RelayRootZero.selector));
        _post(bytes32(0), 1);
    }

    function test_postRoot_revertsWhenDuplicate() public {
        bytes32 root = keccak256("root");
        _post(root, 1);
        vm.expectRevert(abi.encodeWithSelector(IRelayRoots.RelayRootAlreadyPosted.selector, root));
        _post(root, 2);
    }

    // ---------------------------------------------------------------------------------------------------------
    // verifyBlob
    // ---------------------------------------------------------------------------------------------------------

    function test_verifyBlob_singleLeafWithEmptyProof(bytes32 blob) public {
        bytes32 root = _postSingleBlobRoot(blob);
        assertTrue(relayRoots.verifyBlob(blob, root, new bytes32[](0)));
        assertFalse(relayRoots.verifyBlob(blob ^ bytes32(uint256(1)), root, new bytes32[](0)));
    }

    function test_verifyBlob_singleLeafRootIsNotTheRawHash() public {
        // The leaf is double-hashed: posting the raw blob hash (or its single hash) as a root proves nothing.
        _post(BLOB_A, 1);
        assertFalse(relayRoots.verifyBlob(BLOB_A, BLOB_A, new bytes32[](0)));
        bytes32 singleHash = keccak256(abi.encode(BLOB_A));
        _post(singleHash, 1);
        assertFalse(relayRoots.verifyBlob(BLOB_A, singleHash, new bytes32[](0)));
    }

    function test_verifyBlob_twoLeafTree() public {
        bytes32 la = _leaf(BLOB_A);
        bytes32 lb = _leaf(BLOB_B);
        bytes32 root = _hashPair(la, lb);
        _post(root, 2);
        assertTrue(relayRoots.verifyBlob(BLOB_A, root, _proof(lb)));
        assertTrue(relayRoots.verifyBlob(BLOB_B, root, _proof(la)));
        // Wrong sibling, wrong blob, missing proof.
        assertFalse(relayRoots.verifyBlob(BLOB_A, root, _proof(la)));
        assertFalse(relayRoots.verifyBlob(BLOB_C, root, _proof(lb)));
        assertFalse(relayRoots.verifyBlob(BLOB_A, root, new bytes32[](0)));
    }

    function test_verifyBlob_fourLeafTree() public {
        bytes32[4] memory leaves = [_leaf(BLOB_A), _leaf(BLOB_B), _leaf(BLOB_C), _leaf(BLOB_D)];
        bytes32 left = _hashPair(leaves[0], leaves[1]);
        bytes32 right = _hashPair(leaves[2], leaves[3]);
        bytes32 root = _hashPair(left, right);
        _post(root, 4);
        assertTrue(relayRoots.verifyBlob(BLOB_A, root, _proof(leaves[1], right)));
        assertTrue(relayRoots.verifyBlob(BLOB_B, root, _proof(leaves[0], right)));
        assertTrue(relayRoots.verifyBlob(BLOB_C, root, _proof(leaves[3], left)));
        assertTrue(relayRoots.verifyBlob(BLOB_D, root, _proof(leaves[2], left)));
        // A proof for another position, and an intermediate node passed as a leaf value.
        assertFalse(relayRoots.verifyBlob(BLOB_A, root, _proof(leaves[3], left)));
        assertFalse(relayRoots.verifyBlob(left, root, _proof(right)));
    }

    function test_verifyBlob_unknownRootIsFalse() public view {
        // A valid single-leaf root that was never posted.
        assertFalse(relayRoots.verifyBlob(BLOB_A, _leaf(BLOB_A), new bytes32[](0)));
        assertFalse(relayRoots.verifyBlob(BLOB_A, bytes32(0), new bytes32[](0)));
        assertEq(relayRoots.rootPostedAt(_leaf(BLOB_A)), 0);
    }

    function test_verifyBlob_validProofUnderAnotherPostedRootIsFalse() public {
        bytes32 rootA = _postSingleBlobRoot(BLOB_A);
        _postSingleBlobRoot(BLOB_B);
        assertFalse(relayRoots.verifyBlob(BLOB_B, rootA, new bytes32[](0)));
    }

    // ---------------------------------------------------------------------------------------------------------
    // revokeRoot (stale roots)
    // ---------------------------------------------------------------------------------------------------------

    function test_revokeRoot_makesVerifyBlobFalseAndEmits() public {
        bytes32 root = _hashPair(_leaf(BLOB_A), _leaf(BLOB_B));
        _post(root, 2);
        assertTrue(relayRoots.verifyBlob(BLOB_A, root, _proof(_leaf(BLOB_B))));
        vm.warp(1_800_000_000);
        vm.expectEmit(true, true, false, true, address(relayRoots));
        emit IRelayRoots.RootRevoked(root, admin);
        vm.prank(admin);
        relayRoots.revokeRoot(root);
        assertFalse(relayRoots.verifyBlob(BLOB_A, root, _proof(_leaf(BLOB_B))));
        assertFalse(relayRoots.verifyBlob(BLOB_B, root, _proof(_leaf(BLOB_A))));
        assertEq(relayRoots.rootRevokedAt(root), 1_800_000_000);
        assertTrue(relayRoots.rootPostedAt(root) != 0, "the post time is kept");
        assertEq(relayRoots.rootCount(), 1);
    }

    function test_revokeRoot_otherRootsStayValid() public {
        bytes32 rootA = _postSingleBlobRoot(BLOB_A);
        bytes32 rootB = _postSingleBlobRoot(BLOB_B);
        vm.prank(admin);
        relayRoots.revokeRoot(rootA);
        assertFalse(relayRoots.verifyBlob(BLOB_A, rootA, new bytes32[](0)));
        assertTrue(relayRoots.verifyBlob(BLOB_B, rootB, new bytes32[](0)));
        assertEq(relayRoots.rootRevokedAt(rootB), 0);
    }

    function test_revokeRoot_revokedRootCannotBePostedAgain() public {
        bytes32 root = _postSingleBlobRoot(BLOB_A);
        vm.prank(admin);
        relayRoots.revokeRoot(root);
        vm.expectRevert(abi.encodeWithSelector(IRelayRoots.RelayRootAlreadyPosted.selector, root));
        _post(root, 1);
    }

    function test_revokeRoot_revertsWhenNotAdmin() public {
        bytes32 root = _postSingleBlobRoot(BLOB_A);
        bytes32 adminRole = relayRoots.DEFAULT_ADMIN_ROLE();
        for (uint256 i = 0; i < 2; ++i) {
            address caller = i == 0 ? stranger : relay;
            vm.expectRevert(
                abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, adminRole)
            );
            vm.prank(caller);
            relayRoots.revokeRoot(root);
        }
        assertTrue(relayRoots.verifyBlob(BLOB_A, root, new bytes32[](0)));
    }

    function test_revokeRoot_revertsWhenNeverPosted() public {
        bytes32 root = _leaf(BLOB_A);
        vm.expectRevert(abi.encodeWithSelector(IRelayRoots.RelayRootNotPosted.selector, root));
        vm.prank(admin);
        relayRoots.revokeRoot(root);
    }

    function test_revokeRoot_revertsWhenAlreadyRevoked() public {
        bytes32 root = _postSingleBlobRoot(BLOB_A);
        vm.startPrank(admin);
        relayRoots.revokeRoot(root);
        vm.expectRevert(abi.encodeWithSelector(IRelayRoots.RelayRootAlreadyRevoked.selector, root));
        relayRoots.revokeRoot(root);
        vm.stopPrank();
    }
}
