// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {VRFCoordinatorV2_5Mock} from "@chainlink/contracts/src/v0.8/vrf/mocks/VRFCoordinatorV2_5Mock.sol";

/// @title LocalVRFCoordinator
/// @notice Chainlink's VRF v2.5 mock coordinator, as local networks (tests, the demo) deploy it behind `VRFBeacon`
/// (`deploy/modules/VSSLocalNetwork.ts`). Whoever calls it chooses the words: never on a live network.
contract LocalVRFCoordinator is VRFCoordinatorV2_5Mock {
    /// @param baseFee The fee per request (0 locally).
    /// @param gasPrice The gas price it charges (0 locally).
    /// @param weiPerUnitLink The LINK price it assumes.
    constructor(
        uint96 baseFee,
        uint96 gasPrice,
        int256 weiPerUnitLink
    ) VRFCoordinatorV2_5Mock(baseFee, gasPrice, weiPerUnitLink) {}
}
