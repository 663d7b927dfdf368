// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ITaskManager} from "./interfaces/ITaskManager.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {IRelayRoots} from "./interfaces/IRelayRoots.sol";
import {ISamplingVerifier} from "./interfaces/ISamplingVerifier.sol";
import {IParamsConsistencyVerifier, IResultAvailabilityVerifier} from "./interfaces/IGroth16Verifiers.sol";
import {Dispatch} from "./libraries/Dispatch.sol";
import {SimHash} from "./libraries/SimHash.sol";
import {Task, TaskRules} from "./libraries/TaskRules.sol";
import {PullPayments} from "./PullPayments.sol";
import {TaskQueue} from "./TaskQueue.sol";
import {ITaskQueue} from "./interfaces/ITaskQueue.sol";

/// @title TaskManager
/// @notice The task state machine: creation, dispatch and queue, parameter upload, score and error, single and
/// group validation, result upload, deadlines, fee escrow and settlement.
/// @dev The queue (DESIGN §10, O(log q)) lives in a `TaskQueue` this contract deploys and owns.
contract TaskManager is ITaskManager, AccessControl, PullPayments {
    /// @dev For each target state (16 bits at offset 16·to), the set of states it may be entered from (bit i =
    /// state i). One table for every transition (DESIGN §2); `_setStatus` is the only writer of `Task.status`.
    uint256 private constant _ALLOWED_FROM =
        (uint256(1 << uint8(TaskStatus.Queued)) << (16 * uint8(TaskStatus.Started))) |
            (uint256(1 << uint8(TaskStatus.Started)) << (16 * uint8(TaskStatus.ParametersUploaded))) |
            (uint256(1 << uint8(TaskStatus.ParametersUploaded)) << (16 * uint8(TaskStatus.ErrorReported))) |
            (uint256(1 << uint8(TaskStatus.ParametersUploaded)) << (16 * uint8(TaskStatus.ScoreReady))) |
            (uint256(1 << uint8(TaskStatus.ScoreReady)) << (16 * uint8(TaskStatus.Validated))) |
            (uint256(1 << uint8(TaskStatus.ScoreReady)) << (16 * uint8(TaskStatus.GroupValidated))) |
            (uint256((1 << uint8(TaskStatus.ScoreReady)) | (1 << uint8(TaskStatus.ErrorReported))) <<
                (16 * uint8(TaskStatus.EndInvalidated))) |
            (uint256(1 << uint8(TaskStatus.Validated)) << (16 * uint8(TaskStatus.EndSuccess))) |
            (uint256(0x7F) << (16 * uint8(TaskStatus.EndAborted))) | // every non-final state (0..6)
            (uint256(1 << uint8(TaskStatus.ScoreReady)) << (16 * uint8(TaskStatus.EndGroupRefund))) |
            (uint256(1 << uint8(TaskStatus.GroupValidated)) << (16 * uint8(TaskStatus.EndGroupSuccess)));

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

    /// @param admin Receives `DEFAULT_ADMIN_ROLE` (parameters).
    /// @param registry The node registry (wire it back with `NodeRegistry.setTaskManager`).
    /// @param relayRoots The relay roots registry.
    /// @param samplingVerifier The VRF verifier.
    /// @param paramsVerifier The ParamsConsistency verifier (`contracts/verifiers/ParamsConsistencyVerifier.sol`).
    /// @param resultVerifier The ResultAvailability verifier (`contracts/verifiers/ResultAvailabilityVerifier.sol`).
    /// @param initialConfig The parameters.
    constructor(
        address admin,
        INodeRegistry registry,
        IRelayRoots relayRoots,
        ISamplingVerifier samplingVerifier,
        IParamsConsistencyVerifier paramsVerifier,
        IResultAvailabilityVerifier resultVerifier,
        TaskConfig memory initialConfig
    ) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
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
    function setConfig(TaskConfig calldata newConfig) external onlyRole(DEFAULT_ADMIN_ROLE) {
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
        if (msg.value == 0) revert TaskFeeZero();
        uint256 minimumFee = cfg.minimumFee[uint256(input.taskType)];
        if (msg.value < minimumFee) revert TaskFeeBelowMinimum(msg.value, minimumFee);
        if (input.taskSize == 0) revert TaskSizeZero(id);
        if (msg.value > type(uint96).max) revert TaskFeeTooHigh(msg.value);
        if (id == bytes32(0)) revert TaskCommitmentZero();
        if (_tasks[id].creator != address(0)) revert TaskAlreadyExists(id);
        if (_nonceUsed[input.nonce]) revert TaskNonceUsed(input.nonce);
        // The result circuit needs a key on the curve: without this check an application could make the result
        // proof impossible, and the node would time out while the application got its fee back.
        if (!_appKeyChecked[keccak256(abi.encode(input.appPublicKey))]) revert TaskAppKeyInvalid(id);

        _nonceUsed[input.nonce] = true;
        Task storage task = _tasks[id];
        task.creator = msg.sender;
        task.taskType = input.taskType;
        task.sequence = ++_taskCount;
        task.fee = uint96(msg.value);
        task.createdAt = uint48(block.timestamp);
        task.configVersion = _configVersion;
        task.requirementsHash = _requirementsHash(input);
        task.nonce = input.nonce;
        bytes32 seed = keccak256(abi.encodePacked(block.prevrandao, id));
        task.samplingSeed = seed;
        task.appPublicKey = input.appPublicKey;
        _totalEscrowed += msg.value;
        emit TaskCreated(id, msg.sender, seed);

        INodeRegistry.TaskRequirements memory req = INodeRegistry.TaskRequirements({
            taskType: input.taskType,
            requiredGPU: input.requiredGPU,
            requiredGPUVRAM: input.requiredGPUVRAM,
            minimumVRAM: input.minimumVRAM,
            version: input.taskVersion,
            modelIDs: input.modelIDs
        });
        // Selection randomness from prevrandao and the commitment, separated from the sampling seed.
        address node = REGISTRY.selectNode(req, uint256(keccak256(abi.encode(seed, "dispatch"))));
        if (node != address(0)) {
            _start(id, task, node);
        } else {
            _enqueue(id, task, req, taskValue(input.taskType, input.taskSize, msg.value));
        }
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
        _onlySelectedNode(taskIDCommitment, task);
        bool group = task.status == TaskStatus.GroupValidated;
        _setStatus(taskIDCommitment, task, group ? TaskStatus.EndGroupSuccess : TaskStatus.EndSuccess);
        if (!RELAY_ROOTS.verifyBlob(resultHash, root, proof)) {
            revert TaskBlobNotInRoot(taskIDCommitment, resultHash, root);
        }
        _checkResultProof(taskIDCommitment, task, resultHash, resultProof);
        task.resultHash = resultHash;
        emit TaskSuccess(taskIDCommitment, resultHash);
        if (group) {
            emit TaskEndGroupSuccess(taskIDCommitment, msg.sender);
            _payGroup(taskIDCommitment, task);
            REGISTRY.recordGroupScore(msg.sender, task.qosScore);
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
        for (uint256 i = 0; i < 3; ++i) {
            if (_tasks[ids[i]].status == TaskStatus.EndAborted) return;
        }
        uint256[9] memory signals;
        for (uint256 i = 0; i < 3; ++i) {
            Task storage member = _tasks[ids[i]];
            uint256[2] memory key = REGISTRY.nodePublicKey(member.selectedNode);
            signals[2 * i] = key[0];
            signals[2 * i + 1] = key[1];
            signals[6 + i] = uint256(member.paramsHash);
        }
        if (!PARAMS_VERIFIER.verifyProof(p.a, p.b, p.c, signals)) revert TaskParamsProofInvalid(ids[0]);
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
        bool isText = task.taskType == TaskType.LLM;
        bytes memory score = task.score;
        uint256 simHash;
        if (isText) {
            simHash = uint256(bytes32(score)); // 32 bytes: submitTaskScore checked the shape
        } else {
            if (score.length != SimHash.BLOCK_LENGTH) revert TaskResultProofInvalid(taskIDCommitment);
            simHash = uint64(bytes8(score));
        }
        uint256 binding =
            uint256(
                keccak256(abi.encode(block.chainid, address(this), task.creator, taskIDCommitment, task.selectedNode))
            ) >> 3;
        uint256[6] memory signals = [
            isText ? 1 : 0,
            task.appPublicKey[0],
            task.appPublicKey[1],
            uint256(resultHash),
            simHash,
            binding
        ];
        if (!RESULT_VERIFIER.verifyProof(p.a, p.b, p.c, signals)) revert TaskResultProofInvalid(taskIDCommitment);
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

    /// @dev Splits the fee of a group's validated task among the agreeing nodes by QoS score (10/5/2).
    function _payGroup(bytes32 id, Task storage task) private {
        _escrowOut(task);
        bytes32[] storage peers = _groupPeers[id];
        uint256 fee = task.fee;
        uint256 totalScore = task.qosScore;
        for (uint256 i = 0; i < peers.length; ++i) totalScore += _tasks[peers[i]].qosScore;
        uint256 paid;
        for (uint256 i = 0; i < peers.length; ++i) {
            Task storage peer = _tasks[peers[i]];
            uint256 share = (fee * peer.qosScore) / totalScore;
            paid += share;
            _creditFee(id, peer.selectedNode, share);
        }
        // The validated task's node takes its share plus the rounding remainder.
        _creditFee(id, task.selectedNode, fee - paid);
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

    /// @dev Frees the node; if it is Available again, hands it the best queued task it can serve.
    function _release(address node, INodeRegistry.ReleaseOutcome outcome) private {
        if (REGISTRY.releaseNode(node, outcome)) _dispatchQueuedTo(node);
    }

    /// @dev Queues the task; a full queue (α · N) evicts its lowest-value task (EndAborted, TaskFeeTooLow, refund)
    /// for a task worth more, or rejects the new one with `TaskQueueFull` (B5: never just revert when full).
    function _enqueue(bytes32 id, Task storage task, INodeRegistry.TaskRequirements memory req, uint256 value) private {
        bool byGPU = req.requiredGPU != bytes32(0);
        bytes32 evicted = QUEUE.push(
            id,
            task.sequence,
            value,
            req.requiredGPU,
            byGPU ? req.requiredGPUVRAM : req.minimumVRAM,
            req.version,
            Dispatch.modelsHash(req.modelIDs),
            queueCapacity()
        );
        if (evicted != bytes32(0)) {
            Task storage lowest = _tasks[evicted];
            _abort(evicted, lowest, TaskAbortReason.TaskFeeTooLow);
            _refund(evicted, lowest);
        }
        emit TaskQueued(id);
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
