// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITaskManager} from "./interfaces/ITaskManager.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {IRelayRoots} from "./interfaces/IRelayRoots.sol";
import {ISamplingVerifier} from "./interfaces/ISamplingVerifier.sol";
import {IParamsConsistencyVerifier, IResultAvailabilityVerifier} from "./interfaces/IGroth16Verifiers.sol";
import {IRandomnessBeacon} from "./interfaces/IRandomnessBeacon.sol";
import {ITaskQueue} from "./interfaces/ITaskQueue.sol";
import {Task, TaskRules} from "./libraries/TaskRules.sol";
import {TaskManagerBase} from "./TaskManagerBase.sol";

/// @title TaskSettlement
/// @notice The task manager's rarer calls: `abortTask` (every deadline), `declineTask`, `validateTaskGroup`, and the
/// once-only `setConfig` and `registerAppKey`.
/// @dev Deployed by `TaskManager`'s constructor and only ever run through its delegatecall, in the task manager's
/// storage (the layout both inherit from `TaskManagerBase`): the functions keep the task manager's ABI, events and
/// errors, and their NatSpec is in `ITaskManager`. Called directly it reverts (`TaskSettlementNotDelegated`).
contract TaskSettlement is TaskManagerBase {
    /// @notice A function of this module was called on the module itself, not through the task manager.
    error TaskSettlementNotDelegated();

    /// @dev This module's own address: under the task manager's delegatecall `address(this)` is the task manager.
    address private immutable _SELF;

    /// @dev The same wiring as the task manager that deploys it (`TaskManagerBase`), so that the immutables agree.
    constructor(
        address admin,
        INodeRegistry registry,
        IRelayRoots relayRoots,
        ISamplingVerifier samplingVerifier,
        IParamsConsistencyVerifier paramsVerifier,
        IResultAvailabilityVerifier resultVerifier,
        IRandomnessBeacon beacon,
        uint256 dispatchBounty,
        ITaskQueue queue
    )
        TaskManagerBase(
            admin,
            registry,
            relayRoots,
            samplingVerifier,
            paramsVerifier,
            resultVerifier,
            beacon,
            dispatchBounty,
            queue
        )
    {
        _SELF = address(this);
    }

    modifier onlyDelegated() {
        if (address(this) == _SELF) revert TaskSettlementNotDelegated();
        _;
    }

    /// @notice See `TaskManager.setConfig`.
    function setConfig(ITaskManager.TaskConfig calldata newConfig) external onlyDelegated {
        if (msg.sender != ADMIN) revert ITaskManager.TaskCallerNotAdmin(msg.sender);
        uint16 version = ++_configVersion;
        (uint256 window, uint256 siblingLife) = TaskRules.storeConfig(_configs, version, newConfig);
        _raiseSpan(window, siblingLife);
        emit ITaskManager.TaskConfigUpdated(newConfig);
    }

    /// @notice See `ITaskManager.registerAppKey`.
    function registerAppKey(uint256[2] calldata key, uint256[2] calldata witness) external onlyDelegated {
        // The check lives in the registry, which checks node keys the same way.
        if (!REGISTRY.isSubgroupKey(key, witness)) revert ITaskManager.TaskAppKeyNotInSubgroup(key);
        _appKeyChecked[keccak256(abi.encode(key))] = true;
        emit ITaskManager.AppKeyRegistered(key);
    }

    /// @notice See `ITaskManager.declineTask`.
    function declineTask(bytes32 taskIDCommitment, TaskAbortReason reason) external onlyDelegated {
        Task storage task = _getTask(taskIDCommitment);
        _onlySelectedNode(taskIDCommitment, task);
        TaskStatus status = task.status;
        if (status != TaskStatus.Started && status != TaskStatus.ParametersUploaded) {
            revert ITaskManager.TaskInvalidState(taskIDCommitment, status);
        }
        if (reason != TaskAbortReason.AppKeyInvalid && reason != TaskAbortReason.ModelDownloadFailed) {
            revert ITaskManager.TaskDeclineReasonInvalid(taskIDCommitment, reason);
        }
        // At the deadline the node may already be at fault (it never executed): `abortTask`'s penalty must win.
        uint256 deadline = _deadline(task);
        if (block.timestamp >= deadline) {
            revert ITaskManager.TaskDeclineTooLate(taskIDCommitment, deadline, block.timestamp);
        }
        _abort(taskIDCommitment, task, reason);
        _refund(taskIDCommitment, task);
        _release(msg.sender, INodeRegistry.ReleaseOutcome.Neutral);
    }

    /// @notice See `ITaskManager.validateTaskGroup`.
    function validateTaskGroup(
        bytes32 taskIDCommitment1,
        bytes32 taskIDCommitment2,
        bytes32 taskIDCommitment3,
        bytes32 taskGUID,
        ISamplingVerifier.VRFProof calldata proof,
        ITaskManager.Groth16Proof calldata paramsProof
    ) external onlyDelegated {
        bytes32[3] memory ids = [taskIDCommitment1, taskIDCommitment2, taskIDCommitment3];
        Task storage original = _tasks[ids[0]];
        TaskRules.check(_tasks, ids, taskGUID, _configs[original.configVersion].siblingWindow);
        uint256 number = _samplingNumber(ids[0], original, proof);
        if (number % _configs[original.configVersion].samplingDivisor != 0) {
            revert ITaskManager.TaskNotSampled(ids[0], number);
        }
        // Skipped when a member is EndAborted: then no row invalidates anyone. Otherwise every member is ScoreReady
        // or ErrorReported, so its parameters were uploaded, and its node has been Busy since it was selected: it
        // cannot have re-joined, so its registered key is the one the parameters were encrypted to.
        TaskRules.checkParamsProof(_tasks, ids, paramsProof, REGISTRY, PARAMS_VERIFIER);
        _settleGroup(ids);
    }

    /// @notice See `ITaskManager.abortTask`.
    function abortTask(bytes32 taskIDCommitment) external onlyDelegated {
        Task storage task = _getTask(taskIDCommitment);
        TaskStatus status = task.status;
        uint256 deadline = _deadline(task);
        // Final states have no deadline (B2: the guard must actually reject them).
        if (deadline == 0) revert ITaskManager.TaskInvalidState(taskIDCommitment, status);
        if (block.timestamp < deadline) {
            revert ITaskManager.TaskDeadlineNotReached(taskIDCommitment, deadline, block.timestamp);
        }

        address node = task.selectedNode;
        if (status == TaskStatus.Queued) {
            QUEUE.remove(task.sequence);
            _abort(taskIDCommitment, task, TaskAbortReason.QueueTimeout);
            _refund(taskIDCommitment, task);
        } else if (status == TaskStatus.Pending) {
            // The beacon never delivered the task's word: nobody is at fault, everything goes back.
            if (BEACON.wordOf(uint64(task.startedAt)) != 0) revert ITaskManager.TaskDispatchable(taskIDCommitment);
            _abort(taskIDCommitment, task, TaskAbortReason.QueueTimeout);
            _refund(taskIDCommitment, task);
            _totalEscrowed -= DISPATCH_BOUNTY;
            _credit(task.creator, DISPATCH_BOUNTY);
        } else if (status == TaskStatus.Started) {
            // The application never uploaded the parameters: it pays the node `noShowShare` for the slot it held.
            _abort(taskIDCommitment, task, TaskAbortReason.Timeout);
            _escrowOut(task);
            uint256 share = (uint256(task.fee) * _configs[task.configVersion].noShowShare) / 10_000;
            _creditFee(taskIDCommitment, node, share);
            emit ITaskManager.TaskFeeRefunded(taskIDCommitment, task.creator, task.fee - share);
            _credit(task.creator, task.fee - share);
            _release(node, INodeRegistry.ReleaseOutcome.Neutral);
        } else if (status == TaskStatus.ParametersUploaded) {
            // The node never answered in time after the upload.
            _abort(taskIDCommitment, task, TaskAbortReason.Timeout);
            _refund(taskIDCommitment, task);
            _release(node, INodeRegistry.ReleaseOutcome.Timeout);
        } else if (status == TaskStatus.ScoreReady || status == TaskStatus.ErrorReported) {
            // The application never validated: the task settles as a success for the node, which is paid.
            _abort(taskIDCommitment, task, TaskAbortReason.ValidationTimeout);
            _escrowOut(task);
            _creditFee(taskIDCommitment, node, task.fee);
            _release(node, INodeRegistry.ReleaseOutcome.Success);
        } else {
            // Validated or GroupValidated: the node never proved its result available.
            _abort(taskIDCommitment, task, TaskAbortReason.ResultUploadTimeout);
            _refund(taskIDCommitment, task);
            _release(node, INodeRegistry.ReleaseOutcome.Timeout);
        }
    }

    // =============================================================================================================
    // Group settlement (DESIGN §5)
    // =============================================================================================================

    /// @dev Applies `TaskRules.plan`: the validated member and its agreeing peers first, then the peers' nodes are
    /// scored and freed, then the odd members are invalidated or aborted, in argument order.
    function _settleGroup(bytes32[3] memory ids) private {
        (uint8[3] memory actions, uint8[3] memory qos) = TaskRules.plan(
            _tasks,
            ids,
            _configs[_tasks[ids[0]].configVersion].distanceThreshold,
            REGISTRY
        );
        uint256 winner = 3;
        for (uint256 i = 0; i < 3; ++i) if (actions[i] == TaskRules.VALIDATE) winner = i;
        for (uint256 i = 0; i < 3; ++i) {
            bytes32 id = ids[i];
            Task storage task = _tasks[id];
            if (actions[i] == TaskRules.VALIDATE) {
                task.qosScore = qos[i];
                _setStatus(id, task, TaskStatus.GroupValidated);
                task.validatedAt = uint48(block.timestamp);
                emit ITaskManager.TaskValidated(id, task.selectedNode);
            } else if (actions[i] == TaskRules.GROUP_REFUND) {
                task.qosScore = qos[i];
                _groupPeers[ids[winner]].push(id);
                _setStatus(id, task, TaskStatus.EndGroupRefund);
                emit ITaskManager.TaskEndGroupRefund(id, task.selectedNode);
                _refund(id, task);
            }
        }
        // The validated member's node is scored when it uploads the result (a ResultUploadTimeout earns no score, B8).
        for (uint256 i = 0; i < 3; ++i) {
            if (actions[i] != TaskRules.GROUP_REFUND) continue;
            address node = _tasks[ids[i]].selectedNode;
            REGISTRY.recordGroupScore(node, qos[i]);
            _release(node, INodeRegistry.ReleaseOutcome.Success);
        }
        for (uint256 i = 0; i < 3; ++i) {
            if (actions[i] == TaskRules.INVALIDATE) _invalidate(ids[i]);
            else if (actions[i] == TaskRules.ABORT) _abortMember(ids[i]);
        }
    }

    function _invalidate(bytes32 id) private {
        Task storage task = _tasks[id];
        _setStatus(id, task, TaskStatus.EndInvalidated);
        emit ITaskManager.TaskEndInvalidated(id, task.selectedNode);
        _refund(id, task);
        REGISTRY.slash(task.selectedNode, id);
    }

    /// @dev Aborts a member that is not final yet; members already aborted stay as they are.
    function _abortMember(bytes32 id) private {
        Task storage task = _tasks[id];
        if (task.status == TaskStatus.EndAborted) return;
        _abort(id, task, TaskAbortReason.IncorrectResult);
        _refund(id, task);
        _release(task.selectedNode, INodeRegistry.ReleaseOutcome.Neutral);
    }
}
