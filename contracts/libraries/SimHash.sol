// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Score comparison (DESIGN §4); the same rule as `src/crypto/simhash.ts`
/// @notice Image scores are 64-bit perceptual hashes, one 8-byte block per image; two image scores match when they
/// have the same length and every block differs in fewer than `threshold` bits. Text scores (a hash of the output)
/// match only when equal.
library SimHash {
    /// @notice Length of a text score (a Poseidon hash).
    uint256 internal constant TEXT_SCORE_LENGTH = 32;
    /// @notice Length of one image's perceptual hash.
    uint256 internal constant BLOCK_LENGTH = 8;

    /// @notice Whether `score` has the shape of its kind: non-empty 8-byte blocks, or 32 bytes for text.
    function isWellFormed(bool isText, bytes calldata score) internal pure returns (bool) {
        if (isText) return score.length == TEXT_SCORE_LENGTH;
        return score.length != 0 && score.length % BLOCK_LENGTH == 0;
    }

    /// @notice Whether two scores match.
    function matches(bool isText, bytes memory a, bytes memory b, uint256 threshold) internal pure returns (bool) {
        if (a.length != b.length) return false;
        if (isText) return keccak256(a) == keccak256(b);
        for (uint256 offset = 0; offset < a.length; offset += BLOCK_LENGTH) {
            if (hammingDistance(_block(a, offset), _block(b, offset)) >= threshold) return false;
        }
        return true;
    }

    /// @notice Number of differing bits between two 64-bit values (SWAR popcount).
    function hammingDistance(uint64 x, uint64 y) internal pure returns (uint256) {
        uint64 v = x ^ y;
        unchecked {
            // Classic SWAR popcount; every intermediate fits in 64 bits, the multiply wraps by design.
            v = v - ((v >> 1) & 0x5555555555555555);
            v = (v & 0x3333333333333333) + ((v >> 2) & 0x3333333333333333);
            v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0F;
            return uint256((v * 0x0101010101010101) >> 56);
        }
    }

    function _block(bytes memory data, uint256 offset) private pure returns (uint64 value) {
        // The first 8 bytes of the 32-byte word at `offset` (bytes are big-endian, like the TypeScript side).
        assembly ("memory-safe") {
            value := shr(192, mload(add(add(data, 32), offset)))
        }
    }
}
