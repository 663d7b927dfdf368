// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title VSSTimelock
/// @notice The admin of the network's contracts (DESIGN §13.6): OpenZeppelin's `TimelockController`, unchanged.
/// Parameters (`setConfig`), relay roles and root revocation change only through a proposal that waits `minDelay`,
/// longer than a task's longest life, so a change never surprises a task already running and every node and
/// application can leave before it takes effect.
/// @dev Deployed by `deploy/modules/VSSNetwork.ts` with no admin of its own (`admin = address(0)`): only the timelock
/// itself (through a delayed proposal) can change its proposers, executors or delay.
contract VSSTimelock is TimelockController {
    /// @param minDelay Seconds between scheduling a call and executing it.
    /// @param proposers Accounts that may schedule (and cancel) calls.
    /// @param executors Accounts that may execute ready calls (`address(0)`: anyone).
    constructor(
        uint256 minDelay,
        address[] memory proposers,
        address[] memory executors
    ) TimelockController(minDelay, proposers, executors, address(0)) {}
}
