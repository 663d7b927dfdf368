// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Baby Jubjub public keys (DESIGN §4)
/// @notice The twisted Edwards curve a·x² + y² = 1 + d·x²·y² over the BN254 scalar field (a = 168700, d = 168696),
/// on which nodes and applications hold their encryption keys.
/// @dev Checks exactly what the circuits require of a recipient key (circuits/lib/blob.circom: `BabyCheck` and
/// x ≠ 0), so that a key accepted on-chain never makes an honest proof impossible. Membership in the prime-order
/// subgroup is not checked (it needs a scalar multiplication): a small-order key only weakens its own holder's
/// encryption, and `src/crypto/babyjub.ts` `isValidPublicKey` checks it off-chain.
library BabyJubjub {
    /// @notice The field modulus (the BN254 scalar field).
    uint256 internal constant FIELD_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice The curve's `a`.
    uint256 internal constant A = 168700;
    /// @notice The curve's `d`.
    uint256 internal constant D = 168696;

    /// @notice Whether (x, y) is a usable public key: both coordinates in the field, on the curve, and x ≠ 0
    /// (the points (0, ±1) would make the shared key public).
    function isValidPublicKey(uint256 x, uint256 y) internal pure returns (bool) {
        if (x == 0 || x >= FIELD_MODULUS || y >= FIELD_MODULUS) return false;
        uint256 xx = mulmod(x, x, FIELD_MODULUS);
        uint256 yy = mulmod(y, y, FIELD_MODULUS);
        uint256 lhs = addmod(mulmod(A, xx, FIELD_MODULUS), yy, FIELD_MODULUS);
        uint256 rhs = addmod(1, mulmod(D, mulmod(xx, yy, FIELD_MODULUS), FIELD_MODULUS), FIELD_MODULUS);
        return lhs == rhs;
    }
}
