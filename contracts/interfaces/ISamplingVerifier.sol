// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Verifiable secret sampling: VRF verification and the sampling decision
/// @notice The application proves, with a VRF over the task's sampling seed computed with its own secp256k1 key,
/// whether the task was sampled for validation. Verification is Chainlink's audited `VRF.sol`.
interface ISamplingVerifier {
    /// @notice A Chainlink VRF proof with its precomputed verification witnesses (field names as in `VRF.Proof`).
    /// @param pk The prover's secp256k1 public key (affine x, y).
    /// @param gamma The VRF point Gamma = sk * H(pk, seed).
    /// @param c The challenge scalar.
    /// @param s The response scalar.
    /// @param seed The VRF input; here the task's sampling seed.
    /// @param uWitness The Ethereum address of U = s*G - c*pk.
    /// @param cGammaWitness c * Gamma.
    /// @param sHashWitness s * H(pk, seed).
    /// @param zInv The inverse of the projective z coordinate of cGamma + sHash.
    struct VRFProof {
        uint256[2] pk;
        uint256[2] gamma;
        uint256 c;
        uint256 s;
        uint256 seed;
        address uWitness;
        uint256[2] cGammaWitness;
        uint256[2] sHashWitness;
        uint256 zInv;
    }

    /// @notice Verifies `proof` and returns its VRF output (the sampling number).
    /// @dev Reverts with Chainlink's string reason when the proof does not verify; `TaskManager` rethrows it
    /// as its custom error `TaskSamplingProofInvalid`.
    /// @param proof The VRF proof.
    /// @return samplingNumber The VRF output: keccak256(abi.encode(3, gamma)), as Chainlink computes it.
    function samplingNumber(VRFProof calldata proof) external view returns (uint256 samplingNumber);

    /// @notice The Ethereum address that owns the VRF public key `pk`.
    /// @param pk The secp256k1 public key (affine x, y).
    /// @return The address `uint160(uint256(keccak256(abi.encodePacked(pk))))`.
    function addressOf(uint256[2] calldata pk) external pure returns (address);
}
