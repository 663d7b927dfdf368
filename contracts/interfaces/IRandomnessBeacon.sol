// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IRandomnessBeacon
/// @notice The source of the task manager's randomness (docs/randomness.md). Tasks enrol in the open epoch; the
/// epoch's word is requested at once if no other word is in flight (else as soon as the one in flight lands), and
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

    /// @notice Enrols one task in the open epoch and returns that epoch; requests the epoch's word if no word is in
    /// flight. `msg.value` is the task's share of the word's cost, forwarded to the source.
    function enroll() external payable returns (uint64 epoch);

    /// @notice Requests the open epoch's word if it has tasks and no word is in flight, or requests the in-flight
    /// epoch's word again once `retryAfter` seconds passed without it. Anyone may call.
    function poke() external;

    /// @notice The word of `epoch`, or 0 while it has not landed (a landed word is never 0).
    function wordOf(uint64 epoch) external view returns (uint256);

    /// @notice Whether a requested word has not landed yet.
    function inFlight() external view returns (bool);

    /// @notice What a task pays toward the words (wei), sent with `enroll`.
    function feePerTask() external view returns (uint256);
}
