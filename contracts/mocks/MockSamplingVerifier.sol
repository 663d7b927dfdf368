// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ISamplingVerifier} from "../interfaces/ISamplingVerifier.sol";

/// @title MockSamplingVerifier (test only)
/// @notice Stands in for `SamplingVerifier` where the VRF is not the subject (the model-based and access-control
/// tests): it answers `proof.gamma[0]` as the VRF output, and rejects a proof whose `c` is zero the way Chainlink's
/// verifier rejects an invalid one (a string revert). The seed and key-binding checks of `TaskManager` still run on
/// the real code. Real VRF proofs are checked against the real verifier in test/unit/vrf.test.ts and the
/// integration tests.
contract MockSamplingVerifier is ISamplingVerifier {
    /// @inheritdoc ISamplingVerifier
    function samplingNumber(VRFProof calldata proof) external pure returns (uint256) {
        // solhint-disable-next-line gas-custom-errors
        require(proof.c != 0, "invalid proof");
        return proof.gamma[0];
    }

    /// @inheritdoc ISamplingVerifier
    function addressOf(uint256[2] calldata pk) external pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encodePacked(pk)))));
    }
}
