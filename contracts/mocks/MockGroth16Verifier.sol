// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IParamsConsistencyVerifier, IResultAvailabilityVerifier} from "../interfaces/IGroth16Verifiers.sol";

/// @title MockGroth16Verifier (test only)
/// @notice Stands in for both generated Groth16 verifiers where proofs are not the subject (a real proof costs
/// seconds to make): a proof is "valid" iff its `a[0]` is 1, whatever the public signals. Real proofs are made and
/// checked by the generated verifiers in test/integration/zk-proofs.test.ts and test/circuits/.
contract MockGroth16Verifier is IParamsConsistencyVerifier, IResultAvailabilityVerifier {
    /// @inheritdoc IParamsConsistencyVerifier
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata,
        uint256[2] calldata,
        uint256[9] calldata
    ) external pure returns (bool) {
        return a[0] == 1;
    }

    /// @inheritdoc IResultAvailabilityVerifier
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata,
        uint256[2] calldata,
        uint256[6] calldata
    ) external pure returns (bool) {
        return a[0] == 1;
    }
}
