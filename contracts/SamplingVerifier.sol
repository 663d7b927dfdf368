// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {VRF} from "@chainlink/contracts/src/v0.8/vrf/VRF.sol";
import {ISamplingVerifier} from "./interfaces/ISamplingVerifier.sol";

/// @title SamplingVerifier
/// @notice Stateless wrapper around Chainlink's VRF verifier. It is a separate contract (not a library) so that
/// `TaskManager` can catch the verifier's string reverts and rethrow them as a named custom error.
contract SamplingVerifier is ISamplingVerifier, VRF {
    /// @inheritdoc ISamplingVerifier
    function samplingNumber(VRFProof calldata proof) external view returns (uint256) {
        // Chainlink reverts with strings ("invalid proof", "public key is not on curve", ...); callers catch them.
        _verifyVRFProof(
            proof.pk,
            proof.gamma,
            proof.c,
            proof.s,
            proof.seed,
            proof.uWitness,
            proof.cGammaWitness,
            proof.sHashWitness,
            proof.zInv
        );
        // Same output derivation as Chainlink's `_randomValueFromVRFProof`.
        return uint256(keccak256(abi.encode(VRF_RANDOM_OUTPUT_HASH_PREFIX, proof.gamma)));
    }

    /// @inheritdoc ISamplingVerifier
    function addressOf(uint256[2] calldata pk) external pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encodePacked(pk)))));
    }
}
