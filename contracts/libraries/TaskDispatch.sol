// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITaskManager} from "../interfaces/ITaskManager.sol";
import {ITaskTypes} from "../interfaces/ITaskTypes.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {IRandomnessBeacon} from "../interfaces/IRandomnessBeacon.sol";
import {ITaskQueue} from "../interfaces/ITaskQueue.sol";
import {Dispatch} from "./Dispatch.sol";
import {Task} from "./TaskRules.sol";

/// @title TaskDispatch
/// @notice The dispatch step of the task manager (docs/randomness.md): pending tasks, oldest first, get their node and
/// sampling seed from the word of the epoch they enrolled in.
/// @dev An external library linked into `TaskManager`, like `TaskRules`: it runs in the task manager's storage
/// (delegatecall) and leaves the money to it (the tasks to refund are returned). It moves Pending tasks to Started,
/// Queued or EndAborted and queued ones it evicts to EndAborted: transitions `TaskManager`'s table allows.
library TaskDispatch {
    /// @notice What `dispatch` reads besides storage.
    /// @param head The first pending position not yet passed.
    /// @param tail One past the last pending position.
    /// @param configVersion The configuration in force (queue capacity and task value, as for a new task).
    struct Env {
        uint256 head;
        uint256 tail;
        uint256 configVersion;
        IRandomnessBeacon beacon;
        INodeRegistry registry;
        ITaskQueue queue;
    }

    /// @notice Dispatches the pending tasks whose inputs `call` (the task manager's `dispatchTasks` calldata) lists,
    /// oldest first; stops at the first whose word has not landed.
    /// @return head The first pending position not yet passed.
    /// @return dispatched How many tasks were dispatched.
    /// @return refunds Tasks that ended (EndAborted with `TaskFeeTooLow`) and whose fee the caller must refund; zero
    /// entries are unused.
    function dispatch(
        mapping(bytes32 => Task) storage tasks,
        mapping(uint256 => bytes32) storage pending,
        mapping(uint256 => ITaskManager.TaskConfig) storage configs,
        Env memory env,
        bytes calldata call
    ) external returns (uint256 head, uint256 dispatched, bytes32[] memory refunds) {
        ITaskManager.TaskInput[] memory inputs = abi.decode(call[4:], (ITaskManager.TaskInput[]));
        refunds = new bytes32[](inputs.length);
        head = skipEnded(tasks, pending, env.head, env.tail);
        for (uint256 i = 0; i < inputs.length; ++i) {
            bytes32 next = head < env.tail ? pending[head] : bytes32(0);
            bytes32 id = inputs[i].taskIDCommitment;
            if (id != next) revert ITaskManager.TaskNotNextPending(id, next);
            Task storage task = tasks[id];
            uint256 word = env.beacon.wordOf(uint64(task.startedAt));
            if (word == 0) break;
            if (requirementsHash(inputs[i]) != task.requirementsHash) revert ITaskManager.TaskDispatchInputMismatch(id);
            head = skipEnded(tasks, pending, head + 1, env.tail);
            refunds[i] = _dispatchOne(tasks, configs[env.configVersion], env, id, task, inputs[i], word);
            ++dispatched;
        }
    }

    /// @notice The requirements a group's members share (DESIGN §13.2), truncated to 208 bits to share a slot.
    function requirementsHash(ITaskManager.TaskInput memory input) internal pure returns (bytes26) {
        return
            bytes26(
                keccak256(
                    abi.encode(
                        input.taskType,
                        input.modelIDs,
                        input.taskVersion,
                        input.requiredGPU,
                        input.requiredGPUVRAM,
                        input.minimumVRAM,
                        input.taskSize
                    )
                )
            );
    }

    /// @notice The first position from `head` on that holds a task still Pending (aborted ones are passed over).
    function skipEnded(
        mapping(bytes32 => Task) storage tasks,
        mapping(uint256 => bytes32) storage pending,
        uint256 head,
        uint256 tail
    ) internal view returns (uint256) {
        while (head < tail && tasks[pending[head]].status != ITaskTypes.TaskStatus.Pending) ++head;
        return head;
    }

    /// @notice The pending tasks, oldest first (at most `max`).
    function pendingTasks(
        mapping(bytes32 => Task) storage tasks,
        mapping(uint256 => bytes32) storage pending,
        uint256 head,
        uint256 tail,
        uint256 max
    ) external view returns (bytes32[] memory ids) {
        head = skipEnded(tasks, pending, head, tail);
        uint256 count = tail - head;
        if (count > max) count = max;
        ids = new bytes32[](count);
        uint256 found;
        for (uint256 p = head; p < tail && found < count; ++p) {
            bytes32 id = pending[p];
            if (tasks[id].status == ITaskTypes.TaskStatus.Pending) ids[found++] = id;
        }
        assembly ("memory-safe") {
            mstore(ids, found)
        }
    }

    /// @dev r = keccak256(word, creator, commitment); the node from keccak256(r, "dispatch"), the sampling seed
    /// keccak256(r, "sampling"). Returns a task to refund, or zero.
    function _dispatchOne(
        mapping(bytes32 => Task) storage tasks,
        ITaskManager.TaskConfig storage cfg,
        Env memory env,
        bytes32 id,
        Task storage task,
        ITaskManager.TaskInput memory input,
        uint256 word
    ) private returns (bytes32 refund) {
        bytes32 r = keccak256(abi.encode(word, task.creator, id));
        bytes32 seed = keccak256(abi.encode(r, "sampling"));
        task.samplingSeed = seed;
        task.startedAt = 0;
        emit ITaskManager.TaskCreated(id, task.creator, seed);
        INodeRegistry.TaskRequirements memory req = INodeRegistry.TaskRequirements({
            taskType: input.taskType,
            requiredGPU: input.requiredGPU,
            requiredGPUVRAM: input.requiredGPUVRAM,
            minimumVRAM: input.minimumVRAM,
            version: input.taskVersion,
            modelIDs: input.modelIDs
        });
        address node = env.registry.selectNode(req, uint256(keccak256(abi.encode(r, "dispatch"))));
        if (node != address(0)) {
            task.status = ITaskTypes.TaskStatus.Started;
            task.selectedNode = node;
            task.startedAt = uint48(block.timestamp);
            emit ITaskManager.TaskStarted(id, node);
            return bytes32(0);
        }
        return _enqueue(tasks, cfg, env, id, task, req, input.taskSize);
    }

    /// @dev Queues the task. A full queue (α · N) evicts its lowest-value task for a task worth more; a task that would
    /// itself be the lowest ends now (dispatch must never revert: it would hold every task behind this one).
    function _enqueue(
        mapping(bytes32 => Task) storage tasks,
        ITaskManager.TaskConfig storage cfg,
        Env memory env,
        bytes32 id,
        Task storage task,
        INodeRegistry.TaskRequirements memory req,
        uint256 taskSize
    ) private returns (bytes32 refund) {
        uint256 value = Dispatch.taskValue(
            task.fee,
            cfg.overhead[uint256(req.taskType)],
            cfg.unitTime[uint256(req.taskType)],
            taskSize
        );
        uint256 capacity = _capacity(cfg, env.registry);
        if (env.queue.size() >= capacity && value <= env.queue.lowestValue()) {
            _abortForFee(id, task);
            return id;
        }
        task.status = ITaskTypes.TaskStatus.Queued;
        refund = _push(env.queue, id, task.sequence, value, req, capacity);
        emit ITaskManager.TaskQueued(id);
        if (refund != bytes32(0)) _abortForFee(refund, tasks[refund]);
    }

    function _push(
        ITaskQueue queue,
        bytes32 id,
        uint256 sequence,
        uint256 value,
        INodeRegistry.TaskRequirements memory req,
        uint256 capacity
    ) private returns (bytes32 evicted) {
        bool byGPU = req.requiredGPU != bytes32(0);
        return
            queue.push(
                id,
                sequence,
                value,
                req.requiredGPU,
                byGPU ? req.requiredGPUVRAM : req.minimumVRAM,
                req.version,
                Dispatch.modelsHash(req.modelIDs),
                capacity
            );
    }

    /// @dev The queue's capacity: max(α · joined nodes, minQueueCapacity).
    function _capacity(ITaskManager.TaskConfig storage cfg, INodeRegistry registry) private view returns (uint256) {
        uint256 scaled = uint256(cfg.queueSizeFactor) * registry.nodeCount();
        return scaled > cfg.minQueueCapacity ? scaled : cfg.minQueueCapacity;
    }

    function _abortForFee(bytes32 id, Task storage task) private {
        ITaskTypes.TaskStatus last = task.status;
        task.status = ITaskTypes.TaskStatus.EndAborted;
        task.abortReason = ITaskTypes.TaskAbortReason.TaskFeeTooLow;
        emit ITaskManager.TaskAborted(id, msg.sender, last, ITaskTypes.TaskAbortReason.TaskFeeTooLow);
    }
}
