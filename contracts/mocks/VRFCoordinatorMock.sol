// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// Compiles Chainlink's VRF v2.5 mock coordinator, which local networks (tests, the demo) deploy behind `VRFBeacon`.
// solhint-disable-next-line no-unused-import
import {VRFCoordinatorV2_5Mock} from "@chainlink/contracts/src/v0.8/vrf/mocks/VRFCoordinatorV2_5Mock.sol";
