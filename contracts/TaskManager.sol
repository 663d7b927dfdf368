// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITaskManager} from "./interfaces/ITaskManager.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {IRelayRoots} from "./interfaces/IRelayRoots.sol";
import {ISamplingVerifier} from "./interfaces/ISamplingVerifier.sol";
import {IParamsConsistencyVerifier, IResultAvailabilityVerifier} from "./interfaces/IGroth16Verifiers.sol";
import {IRandomnessBeacon} from "./interfaces/IRandomnessBeacon.sol";
import {Dispatch} from "./libraries/Dispatch.sol";
import {SimHash} from "./libraries/SimHash.sol";
import {Task, TaskRules} from "./libraries/TaskRules.sol";
import {TaskDispatch} from "./libraries/TaskDispatch.sol";
import {PullPayments} from "./PullPayments.sol";
import {TaskQueue} from "./TaskQueue.sol";
import {ITaskQueue} from "./interfaces/ITaskQueue.sol";

/// @title TaskManager
/// @notice The task state machine: creation, dispatch and queue, parameter upload, score and error, single and
/// group validation, result upload, deadlines, fee escrow and settlement.
/// @dev The queue (DESIGN §10, O(log q)) lives in a `TaskQueue` this contract deploys and owns.
// Nine of the state declarations are immutables (the wiring fixed at deployment).
// solhint-disable-next-line max-states-count
contract TaskManager is ITaskManager, PullPayments {
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

    /// @notice The most model IDs a task may require.
    uint256 public constant MAX_TASK_MODELS = 8;

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
    /// @notice The queue of tasks waiting for a node, deployed by this contract's constructor.
    ITaskQueue public immutable QUEUE;
    /// @notice The randomness beacon whose words decide dispatch and sampling (docs/randomness.md).
    IRandomnessBeacon public immutable BEACON;
    /// @notice What a creator prepays, per task, to whoever dispatches it (`dispatchTasks`).
    uint256 public immutable DISPATCH_BOUNTY;

    mapping(bytes32 taskIDCommitment => Task task) private _tasks;
    mapping(bytes32 nonce => bool used) private _nonceUsed;
    /// @dev keccak256(abi.encode(key)) of the app keys checked to lie in the prime-order subgroup (DESIGN §13.4).
    mapping(bytes32 keyHash => bool checked) private _appKeyChecked;
    /// @dev For a GroupValidated task: the other agreeing members, whose nodes share its fee.
    mapping(bytes32 taskIDCommitment => bytes32[] peers) private _groupPeers;
    uint256 private _totalEscrowed;
    uint48 private _taskCount;
    uint48 private _scoreCount;
    /// @dev Every configuration ever set, by version (1, 2, ...): a task runs under the one in force when it was
    /// created (DESIGN §13.6), named by `Task.configVersion`.
    mapping(uint256 version => TaskConfig config) private _configs;
    uint16 private _configVersion;
    /// @dev The largest sibling window, and the largest queue + upload + execution + validation timeouts, of every
    /// configuration set so far: they bound when a group can still be validated (`TaskRules.deadline`).
    uint64 private _maxSiblingWindow;
    uint64 private _maxSiblingLife;
    /// @dev Pending tasks in creation order (a FIFO: `_pendingHead` is the oldest not yet passed by `dispatchTasks`).
    mapping(uint256 position => bytes32 taskIDCommitment) private _pending;
    uint64 private _pendingHead;
    uint64 private _pendingTail;
    /// @dev Node releases that waited while the pool was frozen, in order: node | outcome << 160.
    uint64 private _deferredHead;
    uint64 private _deferredTail;
    mapping(uint256 position => uint256 release) private _deferred;

    /// @param admin The only account that may call `setConfig` (the timelock).
    /// @param registry The node registry (wire it back with `NodeRegistry.setTaskManager`).
    /// @param relayRoots The relay roots registry.
    /// @param samplingVerifier The VRF verifier.
    /// @param paramsVerifier The ParamsConsistency verifier (`contracts/verifiers/ParamsConsistencyVerifier.sol`).
    /// @param resultVerifier The ResultAvailability verifier (`contracts/verifiers/ResultAvailabilityVerifier.sol`).
    /// @param beacon The randomness beacon (bind it to this contract with `VRFBeacon.bind`).
    /// @param dispatchBounty The bounty per task, in wei, for whoever dispatches it.
    /// @param initialConfig The parameters.
    constructor(
        address admin,
        INodeRegistry registry,
        IRelayRoots relayRoots,
        ISamplingVerifier samplingVerifier,
        IParamsConsistencyVerifier paramsVerifier,
        IResultAvailabilityVerifier resultVerifier,
        IRandomnessBeacon beacon,
        uint256 dispatchBounty,
        TaskConfig memory initialConfig
    ) {
        BEACON = beacon;
        DISPATCH_BOUNTY = dispatchBounty;
        ADMIN = admin;
        REGISTRY = registry;
        RELAY_ROOTS = relayRoots;
        SAMPLING_VERIFIER = samplingVerifier;
        PARAMS_VERIFIER = paramsVerifier;
        RESULT_VERIFIER = resultVerifier;
        QUEUE = new TaskQueue(address(this));
        // Version 1 (the same steps as `setConfig`, kept apart so the runtime code holds one copy).
        _configVersion = 1;
        (uint256 window, uint256 siblingLife) = TaskRules.storeConfig(_configs, 1, initialConfig);
        _raiseSpan(window, siblingLife);
        emit TaskConfigUpdated(initialConfig);
    }

    /// @notice Sets the parameters for tasks created from now on; existing tasks keep the ones they were created
    /// under. Reverts with `TaskConfigInvalid`, `TaskConfigNoShowShareTooHigh` or `TaskConfigSiblingWindowTooShort`.
    /// @param newConfig The new parameters.
    function setConfig(TaskConfig calldata newConfig) external {
        if (msg.sender != ADMIN) revert TaskCallerNotAdmin(msg.sender);
        uint16 version = ++_configVersion;
        (uint256 window, uint256 siblingLife) = TaskRules.storeConfig(_configs, version, newConfig);
        _raiseSpan(window, siblingLife);
        emit TaskConfigUpdated(newConfig);
    }

    // =============================================================================================================
    // Creation and dispatch
    // =============================================================================================================

    /// @inheritdoc ITaskManager
    function registerAppKey(uint256[2] calldata key, uint256[2] calldata witness) external {
        // The check lives in the registry (which checks node keys the same way) to keep this contract's size down.
        if (!REGISTRY.isSubgroupKey(key, witness)) revert TaskAppKeyNotInSubgroup(key);
        _appKeyChecked[keccak256(abi.encode(key))] = true;
        emit AppKeyRegistered(key);
    }

    /// @inheritdoc ITaskManager
    function createTask(TaskInput calldata input) external payable {
        bytes32 id = input.taskIDCommitment;
        TaskConfig storage cfg = _configs[_configVersion];
        uint256 beaconFee = BEACON.feePerTask();
        uint256 cost = beaconFee + DISPATCH_BOUNTY;
        if (msg.value < cost) revert TaskValueBelowDispatchCost(msg.value, cost);
        uint256 fee = msg.value - cost;
        if (fee == 0) revert TaskFeeZero();
        uint256 minimumFee = cfg.minimumFee[uint256(input.taskType)];
        if (fee < minimumFee) revert TaskFeeBelowMinimum(fee, minimumFee);
        if (input.taskSize == 0) revert TaskSizeZero(id);
        if (fee > type(uint96).max) revert TaskFeeTooHigh(fee);
        // Bounded, so that dispatching any task fits a block: a task that could not be dispatched would hold every
        // task behind it, and the node pool, for good.
        if (input.modelIDs.length > MAX_TASK_MODELS) revert TaskTooManyModels(id, input.modelIDs.length);
        if (id == bytes32(0)) revert TaskCommitmentZero();
        if (_tasks[id].creator != address(0)) revert TaskAlreadyExists(id);
        if (_nonceUsed[input.nonce]) revert TaskNonceUsed(input.nonce);
        // The result circuit needs a key on the curve: without this check an application could make the result
        // proof impossible, and the node would time out while the application got its fee back.
        if (!_appKeyChecked[keccak256(abi.encode(input.appPublicKey))]) revert TaskAppKeyInvalid(id);

        _nonceUsed[input.nonce] = true;
        // Commit first (docs/randomness.md): the word this task's node and seed come from is not known yet.
        uint64 epoch = BEACON.enroll{value: beaconFee}();
        Task storage task = _tasks[id];
        task.creator = msg.sender;
        task.taskType = input.taskType;
        task.status = TaskStatus.Pending;
        task.sequence = ++_taskCount;
        task.fee = uint96(fee);
        task.createdAt = uint48(block.timestamp);
        // While the task is Pending, `startedAt` holds its epoch (it is set to the start time at dispatch).
        task.startedAt = uint48(epoch);
        task.configVersion = _configVersion;
        task.requirementsHash = _requirementsHash(input);
        task.nonce = input.nonce;
        task.appPublicKey = input.appPublicKey;
        _totalEscrowed += fee + DISPATCH_BOUNTY;
        _pending[_pendingTail++] = id;
        emit TaskPending(id, msg.sender, epoch, msg.data[4:]);
        _openPool(0);
    }

    /// @inheritdoc ITaskManager
    function dispatchTasks(TaskInput[] calldata) external returns (uint256 dispatched) {
        uint256 head;
        bytes32[] memory refunds;
        (head, dispatched, refunds) = TaskDispatch.dispatch(
            _tasks,
            _pending,
            _configs,
            TaskDispatch.Env(_pendingHead, _pendingTail, _configVersion, BEACON, REGISTRY, QUEUE),
            msg.data
        );
        _pendingHead = uint64(head);
        for (uint256 i = 0; i < refunds.length; ++i) {
            if (refunds[i] != bytes32(0)) _refund(refunds[i], _tasks[refunds[i]]);
        }
        if (dispatched != 0) {
            uint256 bounty = dispatched * DISPATCH_BOUNTY;
            _totalEscrowed -= bounty;
            emit DispatchBountyPaid(msg.sender, dispatched, bounty);
            _credit(msg.sender, bounty);
        }
        _openPool(16);
    }

    /// @inheritdoc ITaskManager
    function releaseDeferred(uint256 max) external returns (uint256 released) {
        return _openPool(max);
    }

    /// @inheritdoc ITaskManager
    function onNodeAvailable(address node) external {
        if (msg.sender != address(REGISTRY)) revert TaskCallerNotRegistry(msg.sender);
        _dispatchQueuedTo(node);
    }

    // =============================================================================================================
    // Execution
    // =============================================================================================================

    /// @inheritdoc ITaskManager
    function reportTaskParametersUploaded(
        bytes32 taskIDCommitment,
        bytes32 paramsHash,
        bytes32 root,
        bytes32[] calldata proof
    ) external {
        Task storage task = _getTask(taskIDCommitment);
        _onlyCreator(taskIDCommitment, task);
        _setStatus(taskIDCommitment, task, TaskStatus.ParametersUploaded);
        if (!RELAY_ROOTS.verifyBlob(paramsHash, root, proof)) {
            revert TaskBlobNotInRoot(taskIDCommitment, paramsHash, root);
        }
        task.paramsHash = paramsHash;
        task.uploadedAt = uint48(block.timestamp);
        emit TaskParametersUploaded(taskIDCommitment, paramsHash, task.selectedNode);
    }

    /// @inheritdoc ITaskManager
    function submitTaskScore(bytes32 taskIDCommitment, bytes calldata score) external {
        Task storage task = _getTask(taskIDCommitment);
        _onlySelectedNode(taskIDCommitment, task);
        _setStatus(taskIDCommitment, task, TaskStatus.ScoreReady);
        if (!SimHash.isWellFormed(task.taskType == TaskType.LLM, score)) {
            revert TaskScoreInvalid(taskIDCommitment, score.length);
        }
        task.score = score;
        task.scoreReadyAt = uint48(block.timestamp);
        task.scoreSequence = ++_scoreCount;
        emit TaskScoreReady(taskIDCommitment, msg.sender, score);
    }

    /// @inheritdoc ITaskManager
    function reportTaskError(bytes32 taskIDCommitment, TaskError error) external {
        Task storage task = _getTask(taskIDCommitment);
        _onlySelectedNode(taskIDCommitment, task);
        if (error == TaskError.None) revert TaskErrorInvalid(taskIDCommitment);
        _setStatus(taskIDCommitment, task, TaskStatus.ErrorReported);
        task.error = error;
        task.scoreReadyAt = uint48(block.timestamp);
        task.scoreSequence = ++_scoreCount;
        emit TaskErrorReported(taskIDCommitment, msg.sender, error);
    }

    /// @inheritdoc ITaskManager
    function declineTask(bytes32 taskIDCommitment, TaskAbortReason reason) external {
        Task storage task = _getTask(taskIDCommitment);
        _onlySelectedNode(taskIDCommitment, task);
        TaskStatus status = task.status;
        if (status != TaskStatus.Started && status != TaskStatus.ParametersUploaded) {
            revert TaskInvalidState(taskIDCommitment, status);
        }
        if (reason != TaskAbortReason.AppKeyInvalid && reason != TaskAbortReason.ModelDownloadFailed) {
            revert TaskDeclineReasonInvalid(taskIDCommitment, reason);
        }
        // At the deadline the node may already be at fault (it never executed): `abortTask`'s penalty must win.
        uint256 deadline = _deadline(task);
        if (block.timestamp >= deadline) revert TaskDeclineTooLate(taskIDCommitment, deadline, block.timestamp);
        _abort(taskIDCommitment, task, reason);
        _refund(taskIDCommitment, task);
        _release(msg.sender, INodeRegistry.ReleaseOutcome.Neutral);
    }

    // =============================================================================================================
    // Validation
    // =============================================================================================================

    /// @inheritdoc ITaskManager
    function validateSingleTask(bytes32 taskIDCommitment, ISamplingVerifier.VRFProof calldata proof) external {
        Task storage task = _getTask(taskIDCommitment);
        _onlyCreator(taskIDCommitment, task);
        TaskStatus status = task.status;
        if (status != TaskStatus.ScoreReady && status != TaskStatus.ErrorReported) {
            revert TaskInvalidState(taskIDCommitment, status);
        }
        uint256 number = _samplingNumber(taskIDCommitment, task, proof);
        if (number % _configs[task.configVersion].samplingDivisor == 0) revert TaskSampled(taskIDCommitment, number);

        if (status == TaskStatus.ScoreReady) {
            _setStatus(taskIDCommitment, task, TaskStatus.Validated);
            task.validatedAt = uint48(block.timestamp);
            emit TaskValidated(taskIDCommitment, task.selectedNode);
        } else {
            // The node's error stands unchallenged: refund; `task.error` says why.
            _abort(taskIDCommitment, task, TaskAbortReason.None);
            _refund(taskIDCommitment, task);
            _release(task.selectedNode, INodeRegistry.ReleaseOutcome.Neutral);
        }
    }

    /// @inheritdoc ITaskManager
    function validateTaskGroup(
        bytes32 taskIDCommitment1,
        bytes32 taskIDCommitment2,
        bytes32 taskIDCommitment3,
        bytes32 taskGUID,
        ISamplingVerifier.VRFProof calldata proof,
        Groth16Proof calldata paramsProof
    ) external {
        bytes32[3] memory ids = [taskIDCommitment1, taskIDCommitment2, taskIDCommitment3];
        Task storage original = _tasks[ids[0]];
        TaskRules.check(_tasks, ids, taskGUID, _configs[original.configVersion].siblingWindow);
        uint256 number = _samplingNumber(ids[0], original, proof);
        if (number % _configs[original.configVersion].samplingDivisor != 0) revert TaskNotSampled(ids[0], number);
        _checkParamsProof(ids, paramsProof);
        _settleGroup(ids);
    }

    // =============================================================================================================
    // Result and settlement
    // =============================================================================================================

    /// @inheritdoc ITaskManager
    function reportTaskResultUploaded(
        bytes32 taskIDCommitment,
        bytes32 resultHash,
        bytes32 root,
        bytes32[] calldata proof,
        Groth16Proof calldata resultProof
    ) external {
        Task storage task = _getTask(taskIDCommitment);
        // The member whose result this is: the task itself, or an agreeing member standing in for a withholding
        // validated node (DESIGN §13.8).
        bytes32 member = TaskRules.resultReporter(
            _tasks,
            _groupPeers[taskIDCommitment],
            taskIDCommitment,
            task,
            _configs[task.configVersion],
            msg.sender
        );
        bool group = task.status == TaskStatus.GroupValidated;
        _setStatus(taskIDCommitment, task, group ? TaskStatus.EndGroupSuccess : TaskStatus.EndSuccess);
        if (!RELAY_ROOTS.verifyBlob(resultHash, root, proof)) {
            revert TaskBlobNotInRoot(taskIDCommitment, resultHash, root);
        }
        _checkResultProof(member, _tasks[member], resultHash, resultProof);
        task.resultHash = resultHash;
        emit TaskSuccess(taskIDCommitment, resultHash);
        if (group) {
            emit TaskEndGroupSuccess(taskIDCommitment, msg.sender);
            _payGroup(taskIDCommitment, task, member == taskIDCommitment);
            if (member == taskIDCommitment) {
                REGISTRY.recordGroupScore(msg.sender, task.qosScore);
            } else {
                _release(task.selectedNode, INodeRegistry.ReleaseOutcome.Timeout);
                return;
            }
        } else {
            _escrowOut(task);
            _creditFee(taskIDCommitment, msg.sender, task.fee);
        }
        _release(msg.sender, INodeRegistry.ReleaseOutcome.Success);
    }

    /// @inheritdoc ITaskManager
    function abortTask(bytes32 taskIDCommitment) external {
        Task storage task = _getTask(taskIDCommitment);
        TaskStatus status = task.status;
        uint256 deadline = _deadline(task);
        // Final states have no deadline (B2: the guard must actually reject them).
        if (deadline == 0) revert TaskInvalidState(taskIDCommitment, status);
        if (block.timestamp < deadline) revert TaskDeadlineNotReached(taskIDCommitment, deadline, block.timestamp);

        address node = task.selectedNode;
        if (status == TaskStatus.Queued) {
            QUEUE.remove(task.sequence);
            _abort(taskIDCommitment, task, TaskAbortReason.QueueTimeout);
            _refund(taskIDCommitment, task);
        } else if (status == TaskStatus.Pending) {
            // The beacon never delivered the task's word: nobody is at fault, everything goes back.
            if (BEACON.wordOf(uint64(task.startedAt)) != 0) revert TaskDispatchable(taskIDCommitment);
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
            emit TaskFeeRefunded(taskIDCommitment, task.creator, task.fee - share);
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
    // Views
    // =============================================================================================================

    /// @inheritdoc ITaskManager
    function getTask(bytes32 taskIDCommitment) external view returns (TaskInfo memory info) {
        Task storage task = _getTask(taskIDCommitment);
        info.taskType = task.taskType;
        info.status = task.status;
        info.abortReason = task.abortReason;
        info.error = task.error;
        info.qosScore = task.qosScore;
        info.creator = task.creator;
        info.selectedNode = task.selectedNode;
        info.fee = task.fee;
        info.sequence = task.sequence;
        info.scoreSequence = task.scoreSequence;
        info.createdAt = task.createdAt;
        info.startedAt = task.startedAt;
        info.uploadedAt = task.uploadedAt;
        info.scoreReadyAt = task.scoreReadyAt;
        info.validatedAt = task.validatedAt;
        info.nonce = task.nonce;
        info.samplingSeed = task.samplingSeed;
        info.paramsHash = task.paramsHash;
        info.resultHash = task.resultHash;
        info.score = task.score;
        info.appPublicKey = task.appPublicKey;
    }

    /// @inheritdoc ITaskManager
    function taskStatus(bytes32 taskIDCommitment) external view returns (TaskStatus) {
        return _getTask(taskIDCommitment).status;
    }

    /// @inheritdoc ITaskManager
    function deadlineOf(bytes32 taskIDCommitment) external view returns (uint256) {
        return _deadline(_getTask(taskIDCommitment));
    }

    /// @inheritdoc ITaskManager
    function scoresMatch(TaskType taskType, bytes calldata a, bytes calldata b) external view returns (bool) {
        return TaskRules.scoresMatch(taskType == TaskType.LLM, a, b, _configs[_configVersion].distanceThreshold);
    }

    /// @inheritdoc ITaskManager
    function isNonceUsed(bytes32 nonce) external view returns (bool) {
        return _nonceUsed[nonce];
    }

    /// @inheritdoc ITaskManager
    function queuedTasks() external view returns (bytes32[] memory) {
        return QUEUE.ids();
    }

    /// @inheritdoc ITaskManager
    function queueCapacity() public view returns (uint256) {
        TaskConfig storage cfg = _configs[_configVersion];
        uint256 scaled = uint256(cfg.queueSizeFactor) * REGISTRY.nodeCount();
        return scaled > cfg.minQueueCapacity ? scaled : cfg.minQueueCapacity;
    }

    /// @inheritdoc ITaskManager
    function taskValue(TaskType taskType, uint256 taskSize, uint256 fee) public view returns (uint256) {
        uint256 kind = uint256(taskType);
        TaskConfig storage cfg = _configs[_configVersion];
        return Dispatch.taskValue(fee, cfg.overhead[kind], cfg.unitTime[kind], taskSize);
    }

    /// @inheritdoc ITaskManager
    function totalEscrowed() external view returns (uint256) {
        return _totalEscrowed;
    }

    /// @inheritdoc ITaskManager
    function config() external view returns (TaskConfig memory) {
        return _configs[_configVersion];
    }

    /// @inheritdoc ITaskManager
    function dispatchCost() external view returns (uint256) {
        return BEACON.feePerTask() + DISPATCH_BOUNTY;
    }

    /// @inheritdoc ITaskManager
    function pendingTasks(uint256 max) external view returns (bytes32[] memory) {
        return TaskDispatch.pendingTasks(_tasks, _pending, _pendingHead, _pendingTail, max);
    }

    /// @inheritdoc ITaskManager
    function poolFrozen() public view returns (bool) {
        if (BEACON.inFlight()) return true;
        uint256 head = TaskDispatch.skipEnded(_tasks, _pending, _pendingHead, _pendingTail);
        return head < _pendingTail && BEACON.wordOf(uint64(_tasks[_pending[head]].startedAt)) != 0;
    }

    /// @inheritdoc ITaskManager
    function requirePoolOpen() external view {
        if (poolFrozen()) revert TaskPoolFrozen();
    }

    // =============================================================================================================
    // Internals: state machine and access
    // =============================================================================================================

    function _getTask(bytes32 taskIDCommitment) private view returns (Task storage task) {
        task = _tasks[taskIDCommitment];
        if (task.creator == address(0)) revert TaskNotFound(taskIDCommitment);
    }

    function _setStatus(bytes32 taskIDCommitment, Task storage task, TaskStatus to) private {
        TaskStatus from = task.status;
        if ((_ALLOWED_FROM >> (16 * uint256(to) + uint256(from))) & 1 == 0) {
            revert TaskInvalidState(taskIDCommitment, from);
        }
        task.status = to;
    }

    function _onlyCreator(bytes32 taskIDCommitment, Task storage task) private view {
        if (msg.sender != task.creator) revert TaskNotCreator(taskIDCommitment, msg.sender, task.creator);
    }

    function _onlySelectedNode(bytes32 taskIDCommitment, Task storage task) private view {
        if (msg.sender != task.selectedNode) {
            revert TaskNotSelectedNode(taskIDCommitment, msg.sender, task.selectedNode);
        }
    }

    function _deadline(Task storage task) private view returns (uint256) {
        return TaskRules.deadline(task, _configs[task.configVersion], uint256(_maxSiblingWindow) + _maxSiblingLife);
    }

    /// @dev The requirements a group's members share (DESIGN §13.2), truncated to 208 bits to share a slot.
    function _requirementsHash(TaskInput calldata input) private pure returns (bytes26) {
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

    // =============================================================================================================
    // Internals: zero-knowledge proofs (DESIGN §4)
    // =============================================================================================================

    /// @dev The ParamsConsistency check of `validateTaskGroup` (see its NatSpec). Skipped when a member is
    /// EndAborted: then no row invalidates anyone. Otherwise every member is ScoreReady or ErrorReported, so its
    /// parameters were uploaded, and its node has been Busy since it was selected: it cannot have re-joined, so its
    /// registered key is the one the parameters were encrypted to.
    function _checkParamsProof(bytes32[3] memory ids, Groth16Proof calldata p) private view {
        TaskRules.checkParamsProof(_tasks, ids, p, REGISTRY, PARAMS_VERIFIER);
    }

    /// @dev The ResultAvailability check of `reportTaskResultUploaded`: the sim hash is the stored score read as a
    /// big-endian integer (32 bytes for text; exactly one 8-byte pHash for images, the only size the circuit hashes).
    /// The last signal binds the proof to this deployment, this task and its selected node (the caller), so that a
    /// proof made for another task, even of the same app with the same score, does not verify; `>> 3` keeps the
    /// hash below the BN254 scalar field. src/zk/proofs.ts `resultBinding` computes the same value.
    function _checkResultProof(
        bytes32 taskIDCommitment,
        Task storage task,
        bytes32 resultHash,
        Groth16Proof calldata p
    ) private view {
        TaskRules.checkResultProof(task, taskIDCommitment, resultHash, p, RESULT_VERIFIER);
    }

    /// @dev The creator's VRF output over the task's seed (`TaskRules.samplingNumber`).
    function _samplingNumber(
        bytes32 taskIDCommitment,
        Task storage task,
        ISamplingVerifier.VRFProof calldata proof
    ) private view returns (uint256) {
        return TaskRules.samplingNumber(task, taskIDCommitment, proof, SAMPLING_VERIFIER);
    }

    // =============================================================================================================
    // Internals: group validation (DESIGN §5)
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
                emit TaskValidated(id, task.selectedNode);
            } else if (actions[i] == TaskRules.GROUP_REFUND) {
                task.qosScore = qos[i];
                _groupPeers[ids[winner]].push(id);
                _setStatus(id, task, TaskStatus.EndGroupRefund);
                emit TaskEndGroupRefund(id, task.selectedNode);
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
        emit TaskEndInvalidated(id, task.selectedNode);
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

    /// @dev Splits the fee of a group's validated task among the agreeing nodes by QoS score (10/5/2); without the
    /// validated task's node when it withheld its result (`own` false: an agreeing member uploaded, DESIGN §13.8).
    /// The uploader takes the rounding remainder.
    function _payGroup(bytes32 id, Task storage task, bool own) private {
        _escrowOut(task);
        bytes32[] storage peers = _groupPeers[id];
        uint256 fee = task.fee;
        uint256 totalScore = own ? task.qosScore : 0;
        for (uint256 i = 0; i < peers.length; ++i) totalScore += _tasks[peers[i]].qosScore;
        uint256 paid;
        for (uint256 i = 0; i < peers.length; ++i) {
            Task storage peer = _tasks[peers[i]];
            uint256 share = (fee * peer.qosScore) / totalScore;
            paid += share;
            _creditFee(id, peer.selectedNode, share);
        }
        // The uploader takes the rounding remainder, and its share when it is the validated task's node.
        if (own || fee != paid) _creditFee(id, msg.sender, fee - paid);
    }

    // =============================================================================================================
    // Internals: money
    // =============================================================================================================

    function _abort(bytes32 id, Task storage task, TaskAbortReason reason) private {
        TaskStatus last = task.status;
        _setStatus(id, task, TaskStatus.EndAborted);
        task.abortReason = reason;
        emit TaskAborted(id, msg.sender, last, reason);
    }

    function _escrowOut(Task storage task) private {
        _totalEscrowed -= task.fee;
    }

    function _refund(bytes32 id, Task storage task) private {
        _escrowOut(task);
        emit TaskFeeRefunded(id, task.creator, task.fee);
        _credit(task.creator, task.fee);
    }

    function _creditFee(bytes32 id, address node, uint256 amount) private {
        emit TaskFeePaid(id, node, amount);
        _credit(node, amount);
    }

    // =============================================================================================================
    // Internals: queue and node hand-off
    // =============================================================================================================

    function _start(bytes32 id, Task storage task, address node) private {
        _setStatus(id, task, TaskStatus.Started);
        task.selectedNode = node;
        task.startedAt = uint48(block.timestamp);
        emit TaskStarted(id, node);
    }

    /// @dev Frees the node; if it is Available again, hands it the best queued task it can serve. While the pool is
    /// frozen the release waits (the node stays Busy): the draws of a word in flight see the pool as it was when the
    /// word was requested (docs/randomness.md).
    function _release(address node, INodeRegistry.ReleaseOutcome outcome) private {
        if (poolFrozen()) {
            _deferred[_deferredTail++] = uint256(uint160(node)) | (uint256(outcome) << 160);
            emit NodeReleaseDeferred(node);
            return;
        }
        if (REGISTRY.releaseNode(node, outcome)) _dispatchQueuedTo(node);
    }

    /// @dev When the pool is open: releases up to `max` deferred nodes and, once none is left, asks the beacon for
    /// the open epoch's word (the next freeze starts only after every earlier release).
    function _openPool(uint256 max) private returns (uint256 released) {
        if (poolFrozen()) return 0;
        released = _releaseDeferred(max);
        if (_deferredHead == _deferredTail) BEACON.poke();
    }

    function _releaseDeferred(uint256 max) private returns (uint256 released) {
        uint256 head = _deferredHead;
        uint256 tail = _deferredTail;
        while (head < tail && released < max) {
            uint256 entry = _deferred[head];
            delete _deferred[head];
            ++head;
            ++released;
            address node = address(uint160(entry));
            if (REGISTRY.releaseNode(node, INodeRegistry.ReleaseOutcome(entry >> 160))) _dispatchQueuedTo(node);
        }
        _deferredHead = uint64(head);
    }

    /// @dev Hands the freed node the highest-value queued task it can serve (see `TaskQueue` for the groups).
    function _dispatchQueuedTo(address node) private {
        if (QUEUE.size() == 0) return;
        bytes32 id = TaskRules.popQueuedFor(QUEUE, REGISTRY, node);
        if (id != bytes32(0)) _start(id, _tasks[id], node);
    }

    function _raiseSpan(uint256 window, uint256 siblingLife) private {
        if (window > _maxSiblingWindow) _maxSiblingWindow = uint64(window);
        if (siblingLife > _maxSiblingLife) _maxSiblingLife = uint64(siblingLife);
    }
}
