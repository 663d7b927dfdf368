// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITaskManager} from "./interfaces/ITaskManager.sol";
import {ITaskTypes} from "./interfaces/ITaskTypes.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {IRelayRoots} from "./interfaces/IRelayRoots.sol";
import {ISamplingVerifier} from "./interfaces/ISamplingVerifier.sol";
import {IParamsConsistencyVerifier, IResultAvailabilityVerifier} from "./interfaces/IGroth16Verifiers.sol";
import {IRandomnessBeacon} from "./interfaces/IRandomnessBeacon.sol";
import {ITaskQueue} from "./interfaces/ITaskQueue.sol";
import {Task, TaskRules} from "./libraries/TaskRules.sol";
import {TaskDispatch} from "./libraries/TaskDispatch.sol";
import {PullPayments} from "./PullPayments.sol";

/// @title TaskManagerBase
/// @notice The task manager's storage, wiring and the steps every part of it shares: the state machine's one table,
/// money (escrow, refunds, fees) and the hand-off of freed nodes.
/// @dev Inherited by `TaskManager` and by `TaskSettlement`, the module `TaskManager` delegatecalls for the rarer
/// settlements (aborts, declines, group validation). Both therefore have exactly this storage layout, and neither
/// declares a state variable of its own (only immutables): that is what makes the delegatecall sound. Split so that
/// each deployable contract stays under 20 KiB (docs/cost.md). Events, errors and structs are those of
/// `ITaskManager`, named with its prefix here because this contract does not implement that interface.
// Nine of the state declarations are immutables (the wiring fixed at deployment).
// solhint-disable-next-line max-states-count
abstract contract TaskManagerBase is ITaskTypes, PullPayments {
    /// @dev For each target state (16 bits at offset 16·to), the set of states it may be entered from (bit i =
    /// state i). One table for every transition (DESIGN §2); `_setStatus` is the only writer of `Task.status`.
    uint256 private constant _ALLOWED_FROM =
        (uint256(1 << uint8(TaskStatus.Pending)) << (16 * uint8(TaskStatus.Queued))) |
            (uint256((1 << uint8(TaskStatus.Queued)) | (1 << uint8(TaskStatus.Pending))) <<
                (16 * uint8(TaskStatus.Started))) |
            (uint256(1 << uint8(TaskStatus.Started)) << (16 * uint8(TaskStatus.ParametersUploaded))) |
            (uint256(1 << uint8(TaskStatus.ParametersUploaded)) << (16 * uint8(TaskStatus.ErrorReported))) |
            (uint256(1 << uint8(TaskStatus.ParametersUploaded)) << (16 * uint8(TaskStatus.ScoreReady))) |
            (uint256(1 << uint8(TaskStatus.ScoreReady)) << (16 * uint8(TaskStatus.Validated))) |
            (uint256(1 << uint8(TaskStatus.ScoreReady)) << (16 * uint8(TaskStatus.GroupValidated))) |
            (uint256((1 << uint8(TaskStatus.ScoreReady)) | (1 << uint8(TaskStatus.ErrorReported))) <<
                (16 * uint8(TaskStatus.EndInvalidated))) |
            (uint256(1 << uint8(TaskStatus.Validated)) << (16 * uint8(TaskStatus.EndSuccess))) |
            (uint256(0x7F | (1 << uint8(TaskStatus.Pending))) << (16 * uint8(TaskStatus.EndAborted))) | // non-final
            (uint256(1 << uint8(TaskStatus.ScoreReady)) << (16 * uint8(TaskStatus.EndGroupRefund))) |
            (uint256(1 << uint8(TaskStatus.GroupValidated)) << (16 * uint8(TaskStatus.EndGroupSuccess)));

    /// @notice The only account that may change the parameters (`setConfig`): the timelock (docs/admin-and-keys.md).
    /// Fixed at deployment; the task manager has no other admin function, and no role anyone could grant.
    address public immutable ADMIN;
    /// @notice The node registry.
    INodeRegistry public immutable REGISTRY;
    /// @notice The relay roots that parameter and result blobs are proven against.
    IRelayRoots public immutable RELAY_ROOTS;
    /// @notice The VRF verifier.
    ISamplingVerifier public immutable SAMPLING_VERIFIER;
    /// @notice The Groth16 verifier of the ParamsConsistency circuit (group validation).
    IParamsConsistencyVerifier public immutable PARAMS_VERIFIER;
    /// @notice The Groth16 verifier of the ResultAvailability circuit (result upload).
    IResultAvailabilityVerifier public immutable RESULT_VERIFIER;
    /// @notice The queue of tasks waiting for a node, deployed by the task manager's constructor.
    ITaskQueue public immutable QUEUE;
    /// @notice The randomness beacon whose words decide dispatch and sampling (docs/randomness.md).
    IRandomnessBeacon public immutable BEACON;
    /// @notice What a creator prepays, per task, to whoever dispatches it (`dispatchTasks`).
    uint256 public immutable DISPATCH_BOUNTY;

    mapping(bytes32 taskIDCommitment => Task task) internal _tasks;
    mapping(bytes32 nonce => bool used) internal _nonceUsed;
    /// @dev keccak256(abi.encode(key)) of the app keys checked to lie in the prime-order subgroup (DESIGN §13.4).
    mapping(bytes32 keyHash => bool checked) internal _appKeyChecked;
    /// @dev For a GroupValidated task: the other agreeing members, whose nodes share its fee.
    mapping(bytes32 taskIDCommitment => bytes32[] peers) internal _groupPeers;
    uint256 internal _totalEscrowed;
    uint48 internal _taskCount;
    uint48 internal _scoreCount;
    /// @dev Every configuration ever set, by version (1, 2, ...): a task runs under the one in force when it was
    /// created (DESIGN §13.6), named by `Task.configVersion`.
    mapping(uint256 version => ITaskManager.TaskConfig config) internal _configs;
    uint16 internal _configVersion;
    /// @dev The largest sibling window, and the largest queue + upload + execution + validation timeouts, of every
    /// configuration set so far: they bound when a group can still be validated (`TaskRules.deadline`).
    uint64 internal _maxSiblingWindow;
    uint64 internal _maxSiblingLife;
    /// @dev Pending tasks in creation order (a FIFO: `_pendingHead` is the oldest not yet passed by `dispatchTasks`).
    mapping(uint256 position => bytes32 taskIDCommitment) internal _pending;
    uint64 internal _pendingHead;
    uint64 internal _pendingTail;
    /// @dev Node releases that waited while the pool was frozen, in order: node | outcome << 160.
    uint64 internal _deferredHead;
    uint64 internal _deferredTail;
    mapping(uint256 position => uint256 release) internal _deferred;

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
    ) {
        ADMIN = admin;
        REGISTRY = registry;
        RELAY_ROOTS = relayRoots;
        SAMPLING_VERIFIER = samplingVerifier;
        PARAMS_VERIFIER = paramsVerifier;
        RESULT_VERIFIER = resultVerifier;
        BEACON = beacon;
        DISPATCH_BOUNTY = dispatchBounty;
        QUEUE = queue;
    }

    // =============================================================================================================
    // State machine and access
    // =============================================================================================================

    function _getTask(bytes32 taskIDCommitment) internal view returns (Task storage task) {
        task = _tasks[taskIDCommitment];
        if (task.creator == address(0)) revert ITaskManager.TaskNotFound(taskIDCommitment);
    }

    function _setStatus(bytes32 taskIDCommitment, Task storage task, TaskStatus to) internal {
        TaskStatus from = task.status;
        if ((_ALLOWED_FROM >> (16 * uint256(to) + uint256(from))) & 1 == 0) {
            revert ITaskManager.TaskInvalidState(taskIDCommitment, from);
        }
        task.status = to;
    }

    function _onlySelectedNode(bytes32 taskIDCommitment, Task storage task) internal view {
        if (msg.sender != task.selectedNode) {
            revert ITaskManager.TaskNotSelectedNode(taskIDCommitment, msg.sender, task.selectedNode);
        }
    }

    function _deadline(Task storage task) internal view returns (uint256) {
        return TaskRules.deadline(task, _configs[task.configVersion], uint256(_maxSiblingWindow) + _maxSiblingLife);
    }

    /// @dev The creator's VRF output over the task's seed (`TaskRules.samplingNumber`).
    function _samplingNumber(
        bytes32 taskIDCommitment,
        Task storage task,
        ISamplingVerifier.VRFProof calldata proof
    ) internal view returns (uint256) {
        return TaskRules.samplingNumber(task, taskIDCommitment, proof, SAMPLING_VERIFIER);
    }

    // =============================================================================================================
    // Money
    // =============================================================================================================

    function _abort(bytes32 id, Task storage task, TaskAbortReason reason) internal {
        TaskStatus last = task.status;
        _setStatus(id, task, TaskStatus.EndAborted);
        task.abortReason = reason;
        emit ITaskManager.TaskAborted(id, msg.sender, last, reason);
    }

    function _escrowOut(Task storage task) internal {
        _totalEscrowed -= task.fee;
    }

    function _refund(bytes32 id, Task storage task) internal {
        _escrowOut(task);
        emit ITaskManager.TaskFeeRefunded(id, task.creator, task.fee);
        _credit(task.creator, task.fee);
    }

    function _creditFee(bytes32 id, address node, uint256 amount) internal {
        emit ITaskManager.TaskFeePaid(id, node, amount);
        _credit(node, amount);
    }

    // =============================================================================================================
    // Node hand-off and the frozen pool (docs/randomness.md)
    // =============================================================================================================

    /// @dev Whether the node pool is frozen: a word is in flight, or the oldest pending task's word has landed and
    /// it has not been dispatched yet.
    function _poolFrozen() internal view returns (bool) {
        if (BEACON.inFlight()) return true;
        uint256 head = TaskDispatch.skipEnded(_tasks, _pending, _pendingHead, _pendingTail);
        return head < _pendingTail && BEACON.wordOf(uint64(_tasks[_pending[head]].startedAt)) != 0;
    }

    function _start(bytes32 id, Task storage task, address node) internal {
        _setStatus(id, task, TaskStatus.Started);
        task.selectedNode = node;
        task.startedAt = uint48(block.timestamp);
        emit ITaskManager.TaskStarted(id, node);
    }

    /// @dev Frees the node; if it is Available again, hands it the best queued task it can serve. While the pool is
    /// frozen the release waits (the node stays Busy): the draws of a word in flight see the pool as it was when the
    /// word was requested (docs/randomness.md).
    function _release(address node, INodeRegistry.ReleaseOutcome outcome) internal {
        if (_poolFrozen()) {
            _deferred[_deferredTail++] = uint256(uint160(node)) | (uint256(outcome) << 160);
            emit ITaskManager.NodeReleaseDeferred(node);
            return;
        }
        if (REGISTRY.releaseNode(node, outcome)) _dispatchQueuedTo(node);
    }

    /// @dev Hands the freed node the highest-value queued task it can serve (see `TaskQueue` for the groups).
    function _dispatchQueuedTo(address node) internal {
        if (QUEUE.size() == 0) return;
        bytes32 id = TaskRules.popQueuedFor(QUEUE, REGISTRY, node);
        if (id != bytes32(0)) _start(id, _tasks[id], node);
    }

    /// @dev Raises the bounds `_deadline` uses with a new configuration's sibling window and sibling life.
    function _raiseSpan(uint256 window, uint256 siblingLife) internal {
        if (window > _maxSiblingWindow) _maxSiblingWindow = uint64(window);
        if (siblingLife > _maxSiblingLife) _maxSiblingLife = uint64(siblingLife);
    }
}
