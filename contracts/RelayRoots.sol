// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IRelayRoots} from "./interfaces/IRelayRoots.sol";

/// @title RelayRoots
/// @notice Registry of the Merkle roots that authorised DA/Relay accounts post for their blob batches.
contract RelayRoots is IRelayRoots, AccessControl {
    /// @notice Accounts allowed to post roots.
    bytes32 public constant RELAY_ROLE = keccak256("RELAY_ROLE");

    /// @dev Both timestamps of a root in one slot, so `verifyBlob` reads one word.
    struct RootTimes {
        uint128 postedAt;
        uint128 revokedAt;
    }

    mapping(bytes32 root => RootTimes times) private _roots;
    uint256 private _rootCount;

    /// @param admin Receives `DEFAULT_ADMIN_ROLE` (grants and revokes relays, revokes roots).
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IRelayRoots
    function postRoot(bytes32 root, uint256 blobCount) external onlyRole(RELAY_ROLE) {
        if (root == bytes32(0)) revert RelayRootZero();
        if (_roots[root].postedAt != 0) revert RelayRootAlreadyPosted(root);
        _roots[root].postedAt = uint128(block.timestamp);
        emit RootPosted(root, msg.sender, _rootCount++, blobCount);
    }

    /// @inheritdoc IRelayRoots
    function revokeRoot(bytes32 root) external onlyRole(DEFAULT_ADMIN_ROLE) {
        RootTimes storage times = _roots[root];
        if (times.postedAt == 0) revert RelayRootNotPosted(root);
        if (times.revokedAt != 0) revert RelayRootAlreadyRevoked(root);
        times.revokedAt = uint128(block.timestamp);
        emit RootRevoked(root, msg.sender);
    }

    /// @inheritdoc IRelayRoots
    function verifyBlob(bytes32 blobHash, bytes32 root, bytes32[] calldata proof) external view returns (bool) {
        RootTimes memory times = _roots[root];
        if (times.postedAt == 0 || times.revokedAt != 0) return false;
        // Double hashing of the ABI-encoded value: the standard tree's leaf, immune to second-preimage attacks.
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(blobHash))));
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @inheritdoc IRelayRoots
    function rootPostedAt(bytes32 root) external view returns (uint256) {
        return _roots[root].postedAt;
    }

    /// @inheritdoc IRelayRoots
    function rootRevokedAt(bytes32 root) external view returns (uint256) {
        return _roots[root].revokedAt;
    }

    /// @inheritdoc IRelayRoots
    function rootCount() external view returns (uint256) {
        return _rootCount;
    }
}
