// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {INodeRegistry} from "../../contracts/interfaces/INodeRegistry.sol";
import {ITaskManager} from "../../contracts/interfaces/ITaskManager.sol";
import {ITaskQueue} from "../../contracts/interfaces/ITaskQueue.sol";
import {ITaskTypes} from "../../contracts/interfaces/ITaskTypes.sol";
import {BaseTest} from "./BaseTest.sol";

/// @title The task manager's queue hand-off, through the whole network
/// @dev In its own file: TaskManager.t.sol is at the legacy code generator's size limit ("Tag too large").
contract TaskManagerQueueTest is BaseTest {
    address internal app;

    function setUp() public override {
        super.setUp();
        app = apps[0];
    }

    function _assertTaskStatus(bytes32 id, ITaskTypes.TaskStatus expected) internal view {
        assertEq(uint8(_taskStatus(id)), uint8(expected));
    }

    function test_onNodeAvailable_takesTheBestAmongTheGroupsItServes() public {
        ITaskManager.TaskInput memory otherModel = _taskInput("guid-1", "nonce-1");
        otherModel.requiredGPU = keccak256("NVIDIA A100");
        otherModel.requiredGPUVRAM = 80;
        _createTask(app, otherModel, 9 ether);
        ITaskManager.TaskInput memory ownModel = _taskInput("guid-2", "nonce-2");
        ownModel.requiredGPU = GPU_4090_ID;
        ownModel.requiredGPUVRAM = NODE_VRAM;
        _createTask(app, ownModel, 2 ether);
        bytes32 anyGPU = _createTask(app, "guid-3", "nonce-3", 3 ether);
        _joinNode(nodes[0]);
        assertEq(_selectedNode(anyGPU), nodes[0], "the any-GPU group's top is worth more");
        _joinNode(nodes[1]);
        assertEq(_selectedNode(ownModel.taskIDCommitment), nodes[1], "its own model's group");
        _joinNode(nodes[2]);
        _assertTaskStatus(otherModel.taskIDCommitment, ITaskTypes.TaskStatus.Queued);
        assertEq(uint8(_status(nodes[2])), uint8(INodeRegistry.NodeStatus.Available));
    }

    function test_queue_isOwnedByTheTaskManager() public {
        ITaskQueue queue = tm.QUEUE();
        assertEq(queue.owner(), address(tm));
        bytes32 id = _createTask(app, "guid", "nonce");
        uint256 sequence = tm.getTask(id).sequence;
        vm.expectRevert(abi.encodeWithSelector(ITaskQueue.QueueCallerNotOwner.selector, stranger));
        vm.prank(stranger);
        queue.remove(sequence);
        assertEq(queue.size(), 1);
    }
}
