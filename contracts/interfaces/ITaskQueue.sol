// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title The task queue: value-ordered, grouped by requirements, bounded (DESIGN §10)
/// @notice Tasks waiting for a node, grouped by (required GPU model or any, VRAM bucket) and ordered by value
/// V = fee / T. A freed node takes the highest-value task among the groups it can serve. When full, the queue evicts
/// its lowest-value task for a new task worth more, and rejects a new task that would itself be the lowest. Every
/// operation is O(log q). Only its owner, the task manager that deployed it, changes it.
interface ITaskQueue {
    /// @notice Only the owning task manager may change the queue.
    error QueueCallerNotOwner(address caller);
    /// @notice The queue is full and the new task's value is not above the lowest queued value. The task manager
    /// checks this before it pushes (a task the queue would refuse ends at its dispatch), so it never sees it.
    error TaskQueueFull(uint256 value, uint256 lowestValue);

    /// @notice The task manager that owns the queue.
    function owner() external view returns (address);

    /// @notice Queues a task; evicts the lowest-value task when the queue holds `capacity` tasks or more.
    /// @dev Reverts with `TaskQueueFull(value, lowestValue)` when the queue is full and `value` is not
    /// above the lowest value (ties: the later task is the lower one).
    /// @param id The task's commitment.
    /// @param sequence The task's creation number (unique, below 2^48).
    /// @param value The task's value V.
    /// @param requiredGPU keccak256 of the required GPU model, or zero for any GPU.
    /// @param requiredVRAM The VRAM (GB) the task needs: of the required model, or the minimum for any GPU.
    /// @param version The task's version.
    /// @param modelsHash keccak256 of the task's model IDs (handed back to start the node).
    /// @param capacity The queue's capacity now (α · N).
    /// @return evicted The evicted task, or zero.
    function push(
        bytes32 id,
        uint256 sequence,
        uint256 value,
        bytes32 requiredGPU,
        uint64 requiredVRAM,
        uint32[3] calldata version,
        bytes32 modelsHash,
        uint256 capacity
    ) external returns (bytes32 evicted);

    /// @notice Removes a queued task (cancelled or timed out).
    /// @param sequence The task's creation number.
    function remove(uint256 sequence) external;

    /// @notice Removes and returns the highest-value task a node with this profile can serve (zero if none).
    /// @param gpuID keccak256 of the node's GPU model.
    /// @param vram The node's VRAM (GB).
    /// @param version The node's version.
    /// @return id The task, or zero.
    /// @return modelsHash keccak256 of its model IDs.
    function popFor(
        bytes32 gpuID,
        uint64 vram,
        uint32[3] calldata version
    ) external returns (bytes32 id, bytes32 modelsHash);

    /// @notice The number of queued tasks.
    function size() external view returns (uint256);

    /// @notice The queued tasks, in no particular order.
    function ids() external view returns (bytes32[] memory);

    /// @notice The lowest queued value (the next to be evicted), or zero when empty.
    function lowestValue() external view returns (uint256);
}
