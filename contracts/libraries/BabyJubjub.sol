// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Baby Jubjub public keys (DESIGN §4, §13.4)
/// @notice The twisted Edwards curve a·x² + y² = 1 + d·x²·y² over the BN254 scalar field (a = 168700, d = 168696),
/// on which nodes and applications hold their encryption keys. The curve has 8·ℓ points (ℓ a 251-bit prime); keys
/// must lie in the subgroup of order ℓ.
/// @dev Why the subgroup matters: a point of small order (2, 4 or 8), or one with a small-order component, passes
/// the on-curve check, yet circomlib's scalar multiplication has no witness for it, so no proof that involves the key
/// can ever be made. As an app key the node could never prove its result; as a node key no ParamsConsistency proof
/// could exist for a group containing it, so that node could never be slashed.
///
/// Checking [ℓ]P = O on-chain costs a 251-bit scalar multiplication. Instead the caller supplies a witness R with
/// P = [8]R: every point of the form [8]R lies in the order-ℓ subgroup (the curve group is cyclic of order 8·ℓ), so
/// three doublings and a projective comparison decide membership. R itself may be any point on the curve.
library BabyJubjub {
    /// @notice The field modulus (the BN254 scalar field).
    uint256 internal constant FIELD_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice The curve's `a`.
    uint256 internal constant A = 168700;
    /// @notice The curve's `d`.
    uint256 internal constant D = 168696;

    /// @notice Whether (x, y) is a usable point: both coordinates in the field, on the curve, and x ≠ 0 (the points
    /// (0, ±1) would make the shared key public). Does NOT check the subgroup: use `isSubgroupKey` for keys.
    function isValidPublicKey(uint256 x, uint256 y) internal pure returns (bool) {
        if (x == 0) return false;
        return isOnCurve(x, y);
    }

    /// @notice Whether (x, y) has both coordinates in the field and satisfies the curve equation.
    function isOnCurve(uint256 x, uint256 y) internal pure returns (bool) {
        if (x >= FIELD_MODULUS || y >= FIELD_MODULUS) return false;
        uint256 xx = mulmod(x, x, FIELD_MODULUS);
        uint256 yy = mulmod(y, y, FIELD_MODULUS);
        uint256 lhs = addmod(mulmod(A, xx, FIELD_MODULUS), yy, FIELD_MODULUS);
        uint256 rhs = addmod(1, mulmod(D, mulmod(xx, yy, FIELD_MODULUS), FIELD_MODULUS), FIELD_MODULUS);
        return lhs == rhs;
    }

    /// @notice Whether `key` is a usable public key in the prime-order subgroup, given a witness R with key = [8]R.
    /// @dev key must have x ≠ 0 (so it is neither the identity (0, 1) nor the order-2 point (0, -1)), R must be on the
    /// curve, and [8]R must equal key. An honest holder computes R = [8⁻¹ mod ℓ]·key (`subgroupWitness` in
    /// `src/crypto/babyjub.ts`); for a key outside the subgroup no such R exists.
    /// @param key The public key (x, y).
    /// @param witness A point R with [8]R = key.
    function isSubgroupKey(uint256[2] memory key, uint256[2] memory witness) internal pure returns (bool) {
        if (key[0] == 0 || key[0] >= FIELD_MODULUS || key[1] >= FIELD_MODULUS) return false;
        if (!isOnCurve(witness[0], witness[1])) return false;
        (uint256 x, uint256 y, uint256 z) = (witness[0], witness[1], 1);
        (x, y, z) = _double(x, y, z);
        (x, y, z) = _double(x, y, z);
        (x, y, z) = _double(x, y, z);
        // Projective comparison (X : Y : Z) = (key.x : key.y : 1); z ≠ 0 always (see `_double`).
        return mulmod(key[0], z, FIELD_MODULUS) == x && mulmod(key[1], z, FIELD_MODULUS) == y;
    }

    /// @dev Doubling in projective coordinates (X : Y : Z), x = X/Z, y = Y/Z, without inversions: the formulas
    /// "dbl-2008-bbjlp" of the Explicit-Formulas Database, from Bernstein, Birkner, Joye, Lange and Peters, "Twisted
    /// Edwards Curves" (AFRICACRYPT 2008), §6:
    ///   B = (X+Y)², C = X², D = Y², E = a·C, F = E+D, H = Z², J = F−2H,
    ///   X3 = (B−C−D)·J, Y3 = F·(E−D), Z3 = F·J.
    /// For a point on the curve, F/Z² = 1 + d·x²·y² and J/Z² = d·x²·y² − 1; neither is ever zero because d is not a
    /// square in the field (so −1/d and 1/d are not squares either: −1 is a square, p ≡ 1 mod 4). Hence Z3 ≠ 0 and
    /// the formulas hold for every point on the curve, small-order ones included.
    function _double(uint256 x, uint256 y, uint256 z) private pure returns (uint256, uint256, uint256) {
        uint256 p = FIELD_MODULUS;
        uint256 s = addmod(x, y, p);
        uint256 b = mulmod(s, s, p);
        uint256 c = mulmod(x, x, p);
        uint256 d = mulmod(y, y, p);
        uint256 e = mulmod(A, c, p);
        uint256 f = addmod(e, d, p);
        uint256 h = mulmod(z, z, p);
        // Subtractions as additions of the negation: every operand is already reduced below p.
        uint256 j = addmod(f, p - addmod(h, h, p), p);
        uint256 bcd = addmod(b, p - addmod(c, d, p), p);
        return (mulmod(bcd, j, p), mulmod(f, addmod(e, p - d, p), p), mulmod(f, j, p));
    }
}
