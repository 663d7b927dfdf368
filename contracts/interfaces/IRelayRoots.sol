// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Merkle roots of the DA/Relay's blob batches
/// @notice An authorised relay stores encrypted blobs off-chain, closes them in batches, and posts each batch's
/// Merkle root here. Anyone can then prove on-chain that a blob hash is in a posted batch.
/// @dev Tree and leaf encoding are those of `@openzeppelin/merkle-tree`'s `StandardMerkleTree.of(leaves, ["bytes32"])`:
/// leaf = keccak256(bytes.concat(keccak256(abi.encode(blobHash)))), sorted pairs.
interface IRelayRoots {
    /// @notice Emitted when a relay posts a batch root.
    /// @param root The Merkle root.
    /// @param relay The relay account that posted it.
    /// @param index The root's sequence number (0, 1, 2, ...).
    /// @param blobCount The number of blobs the relay says are in the batch (informational).
    event RootPosted(bytes32 indexed root, address indexed relay, uint256 index, uint256 blobCount);

    /// @notice An admin revoked a root (e.g. its batch was lost or withheld): proofs under it fail from now on.
    /// @param root The revoked root.
    /// @param admin The admin account that revoked it.
    event RootRevoked(bytes32 indexed root, address indexed admin);

    /// @notice The root was already posted; roots are never posted twice.
    error RelayRootAlreadyPosted(bytes32 root);
    /// @notice The zero root carries no batch.
    error RelayRootZero();
    /// @notice The root was never posted.
    error RelayRootNotPosted(bytes32 root);
    /// @notice The root was already revoked.
    error RelayRootAlreadyRevoked(bytes32 root);

    /// @notice Posts the Merkle root of a closed batch. Only accounts with `RELAY_ROLE`.
    /// @param root The batch root.
    /// @param blobCount The number of blobs in the batch.
    function postRoot(bytes32 root, uint256 blobCount) external;

    /// @notice Revokes a posted root: `verifyBlob` is false under it from now on (a stale root), and it can never be
    /// posted again. Only `DEFAULT_ADMIN_ROLE`. Tasks that already proved a blob under it are not affected.
    /// @param root The root to revoke.
    function revokeRoot(bytes32 root) external;

    /// @notice Whether `blobHash` is a leaf of the posted, unrevoked root `root`.
    /// @param blobHash The blob hash (a leaf value of the standard tree over `["bytes32"]`).
    /// @param root A root; false when it was never posted or was revoked.
    /// @param proof The sibling path from `StandardMerkleTree.getProof`.
    /// @return True iff `root` was posted, is not revoked, and `proof` proves `blobHash` under it.
    function verifyBlob(bytes32 blobHash, bytes32 root, bytes32[] calldata proof) external view returns (bool);

    /// @notice When `root` was posted (0 if never).
    /// @param root The root.
    /// @return The block timestamp of the post.
    function rootPostedAt(bytes32 root) external view returns (uint256);

    /// @notice When `root` was revoked (0 if never).
    /// @param root The root.
    /// @return The block timestamp of the revocation.
    function rootRevokedAt(bytes32 root) external view returns (uint256);

    /// @notice How many roots have been posted.
    /// @return The number of roots.
    function rootCount() external view returns (uint256);
}
