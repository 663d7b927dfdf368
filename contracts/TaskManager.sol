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
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {TaskManagerBase} from "./TaskManagerBase.sol";
import {TaskSettlement} from "./TaskSettlement.sol";
import {TaskQueue} from "./TaskQueue.sol";

/// @title TaskManager
/// @notice The task state machine: creation, dispatch and queue, parameter upload, score and error, single and
/// group validation, result upload, deadlines, fee escrow and settlement.
/// @dev The queue (DESIGN §10, O(log q)) lives in a `TaskQueue` this contract deploys and owns; `abortTask`,
/// `declineTask` and `validateTaskGroup` run in the `TaskSettlement` module it deploys, by delegatecall, so that each
/// contract stays under 20 KiB. Storage, wiring and the shared steps are in `TaskManagerBase`.
contract TaskManager is ITaskManager, TaskManagerBase {
    /// @notice The most model IDs a task may require.
    uint256 public constant MAX_TASK_MODELS = 8;

    /// @notice The settlement module (`TaskSettlement`) this contract deployed and delegatecalls.
    address public immutable SETTLEMENT;

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
            new TaskQueue(address(this))
        )
    {
        SETTLEMENT = address(
            new TaskSettlement(
                admin,
                registry,
                relayRoots,
                samplingVerifier,
                paramsVerifier,
                resultVerifier,
                beacon,
                dispatchBounty,
                QUEUE
            )
        );
        // Version 1 (the same steps as `setConfig`, kept apart so the runtime code holds one copy).
        _configVersion = 1;
        (uint256 window, uint256 siblingLife) = TaskRules.storeConfig(_configs, 1, initialConfig);
        _raiseSpan(window, siblingLife);
        emit TaskConfigUpdated(initialConfig);
    }

    /// @notice Sets the parameters for tasks created from now on; existing tasks keep the ones they were created
    /// under. Reverts with `TaskConfigInvalid`, `TaskConfigNoShowShareTooHigh` or `TaskConfigSiblingWindowTooShort`.
    /// @dev Runs in `TaskSettlement`, like the other rare calls.
    function setConfig(TaskConfig calldata) external {
        _settle();
    }

    // =============================================================================================================
    // Creation and dispatch
    // =============================================================================================================

    /// @inheritdoc ITaskManager
    function registerAppKey(uint256[2] calldata, uint256[2] calldata) external {
        _settle();
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
    function declineTask(bytes32, TaskAbortReason) external {
        _settle();
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
        bytes32,
        bytes32,
        bytes32,
        bytes32,
        ISamplingVerifier.VRFProof calldata,
        Groth16Proof calldata
    ) external {
        _settle();
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
    function abortTask(bytes32) external {
        _settle();
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
    function poolFrozen() external view returns (bool) {
        return _poolFrozen();
    }

    /// @inheritdoc ITaskManager
    function requirePoolOpen() external view {
        if (_poolFrozen()) revert TaskPoolFrozen();
    }

    // =============================================================================================================
    // Internals: state machine and access
    // =============================================================================================================

    /// @dev Runs the called function in the settlement module, in this contract's storage; its revert data (the
    /// task manager's own errors) is bubbled up unchanged.
    function _settle() private {
        Address.functionDelegateCall(SETTLEMENT, msg.data);
    }

    function _onlyCreator(bytes32 taskIDCommitment, Task storage task) private view {
        if (msg.sender != task.creator) revert TaskNotCreator(taskIDCommitment, msg.sender, task.creator);
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

    // =============================================================================================================
    // Internals: the group's fee (DESIGN §5, §13.8)
    // =============================================================================================================

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
    // Internals: the frozen pool (docs/randomness.md)
    // =============================================================================================================

    /// @dev When the pool is open: releases up to `max` deferred nodes and, once none is left, asks the beacon for
    /// the open epoch's word (the next freeze starts only after every earlier release).
    function _openPool(uint256 max) private returns (uint256 released) {
        if (_poolFrozen()) return 0;
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
}
