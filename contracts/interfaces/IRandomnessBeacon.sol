// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IRandomnessBeacon
/// @notice The source of the task manager's randomness (docs/randomness.md). Tasks enrol in the open epoch; the
/// task manager requests the epoch's word (`poke`) when its pool is open and no other word is in flight, and the word
/// arrives later from a source nobody on the chain chooses. A task's randomness is derived from the word of the epoch
/// it enrolled in, so it did not exist when the task's commitment, fee and requirements were fixed.
interface IRandomnessBeacon {
    /// @notice The word of `epoch` was requested (`requestId` from the source).
    event BeaconWordRequested(uint64 indexed epoch, uint256 requestId);
    /// @notice The word of `epoch` landed.
    event BeaconWordDelivered(uint64 indexed epoch, uint256 word);

    /// @notice Only the bound consumer (the task manager) may enrol tasks.
    error BeaconCallerNotConsumer(address caller);
    /// @notice `bind` was called by someone other than the deployer, or a second time.
    error BeaconAlreadyBound();
    /// @notice Only the VRF coordinator may deliver words.
    error BeaconCallerNotCoordinator(address caller, address coordinator);

    /// @notice Enrols one task in the open epoch and returns that epoch (it does not request the word: `poke` does).
    /// `msg.value` is the task's share of the word's cost, forwarded to the source.
    function enroll() external payable returns (uint64 epoch);

    /// @notice Requests the in-flight epoch's word again once `retryAfter` seconds passed without it (anyone may
    /// call); or, when no word is in flight and the open epoch has tasks, closes it and requests its word (only the
    /// consumer, which calls it when its pool is open; `BeaconCallerNotConsumer` for anyone else).
    function poke() external;

    /// @notice The word of `epoch`, or 0 while it has not landed (a landed word is never 0).
    function wordOf(uint64 epoch) external view returns (uint256);

    /// @notice Whether a requested word has not landed yet.
    function inFlight() external view returns (bool);

    /// @notice What a task pays toward the words (wei), sent with `enroll`.
    function feePerTask() external view returns (uint256);
}
