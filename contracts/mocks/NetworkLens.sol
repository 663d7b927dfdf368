// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITaskManager} from "../interfaces/ITaskManager.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";

/// @title NetworkLens (test only)
/// @notice Reads, in one call, everything the model-based test compares after each step: tasks, nodes, withdrawable
/// balances in both contracts, the totals and the contracts' ether. Only external views are read, so the lens does
/// not depend on how selection or the queue are implemented.
contract NetworkLens {
    /// @notice What is compared of a task.
    struct TaskView {
        ITaskManager.TaskStatus status;
        ITaskManager.TaskAbortReason abortReason;
        address selectedNode;
        uint256 fee;
    }

    /// @notice What is compared of a node.
    struct NodeView {
        INodeRegistry.NodeStatus status;
        uint256 stake;
        uint16 health;
    }

    /// @notice Totals and ether held.
    struct Totals {
        uint256 tmBalance;
        uint256 tmEscrowed;
        uint256 tmWithdrawable;
        uint256 regBalance;
        uint256 regStaked;
        uint256 regWithdrawable;
        uint256 nodeCount;
    }

    /// @notice The state of `ids`, `nodes` and `accounts`.
    function read(
        ITaskManager tm,
        INodeRegistry registry,
        bytes32[] calldata ids,
        address[] calldata nodes,
        address[] calldata accounts
    )
        external
        view
        returns (
            TaskView[] memory tasks,
            NodeView[] memory nodeViews,
            uint256[] memory tmWithdrawable,
            uint256[] memory regWithdrawable,
            Totals memory totals,
            bytes32[] memory queued
        )
    {
        tasks = new TaskView[](ids.length);
        for (uint256 i = 0; i < ids.length; ++i) {
            ITaskManager.TaskInfo memory info = tm.getTask(ids[i]);
            tasks[i] = TaskView(info.status, info.abortReason, info.selectedNode, info.fee);
        }
        nodeViews = new NodeView[](nodes.length);
        for (uint256 i = 0; i < nodes.length; ++i) {
            INodeRegistry.NodeInfo memory info = registry.getNode(nodes[i]);
            nodeViews[i] = NodeView(info.status, info.stake, info.health);
        }
        tmWithdrawable = new uint256[](accounts.length);
        regWithdrawable = new uint256[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            tmWithdrawable[i] = tm.withdrawable(accounts[i]);
            regWithdrawable[i] = registry.withdrawable(accounts[i]);
        }
        totals = Totals({
            tmBalance: address(tm).balance,
            tmEscrowed: tm.totalEscrowed(),
            tmWithdrawable: tm.totalWithdrawable(),
            regBalance: address(registry).balance,
            regStaked: registry.totalStaked(),
            regWithdrawable: registry.totalWithdrawable(),
            nodeCount: registry.nodeCount()
        });
        queued = tm.queuedTasks();
    }
}
