// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITaskManager} from "../interfaces/ITaskManager.sol";
import {ITaskTypes} from "../interfaces/ITaskTypes.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {ISamplingVerifier} from "../interfaces/ISamplingVerifier.sol";
import {IParamsConsistencyVerifier, IResultAvailabilityVerifier} from "../interfaces/IGroth16Verifiers.sol";
import {ITaskQueue} from "../interfaces/ITaskQueue.sol";
import {Dispatch} from "./Dispatch.sol";
import {SimHash} from "./SimHash.sol";

/// @notice A task as `TaskManager` stores it; shared with `TaskRules`, which reads it through a storage pointer.
struct Task {
    // slot 0
    address creator;
    ITaskTypes.TaskType taskType;
    ITaskTypes.TaskStatus status;
    ITaskTypes.TaskAbortReason abortReason;
    ITaskTypes.TaskError error;
    uint8 qosScore;
    uint48 sequence;
    // slot 1
    address selectedNode;
    uint48 validatedAt;
    uint48 scoreSequence;
    // slot 2
    uint96 fee;
    uint48 createdAt;
    uint48 startedAt;
    uint48 scoreReadyAt;
    uint16 configVersion;
    // slot 3
    uint48 uploadedAt;
    bytes26 requirementsHash;
    bytes32 nonce;
    bytes32 samplingSeed;
    bytes32 paramsHash;
    bytes32 resultHash;
    uint256[2] appPublicKey;
    bytes score;
}

/// @title TaskRules
/// @notice Rules of the task game that only read state: who may form a group and what each member becomes (DESIGN §5,
/// §13.2), deadlines (§8, §13.3) and parameter checks.
/// @dev An external library, linked into `TaskManager` (deploy/modules/VSSNetwork.ts): it reads the task manager's
/// storage through the `tasks` pointer (delegatecall) and decides; the task manager applies the decision (state,
/// money, registry). Split out so that the task manager stays under 20 KiB of code (docs/cost.md).
library TaskRules {
    /// @dev What a member becomes. `KEEP`: already EndAborted, stays as it is.
    uint8 internal constant KEEP = 0;
    uint8 internal constant VALIDATE = 1;
    uint8 internal constant GROUP_REFUND = 2;
    uint8 internal constant INVALIDATE = 3;
    uint8 internal constant ABORT = 4;

    /// @dev QoS task scores by submission speed within a group (DESIGN §5).
    uint8 private constant _QOS_FIRST = 10;
    uint8 private constant _QOS_SECOND = 5;
    uint8 private constant _QOS_THIRD = 2;

    /// @notice Reverts unless `ids` may form a group for `taskGUID` and the caller is its creator.
    /// @param tasks The task manager's tasks.
    /// @param ids The original, then the two validation tasks.
    /// @param taskGUID The revealed GUID.
    /// @dev DESIGN §13.2: member k's nonce is keccak256(taskGUID, uint8(k)), so each GUID names exactly one
    /// original and two validation tasks (an application cannot create spares to choose from), and a task belongs to
    /// at most one group (its commitment fixes its GUID and k). Members share the original's requirements hash, and
    /// the validation tasks were created after the original, within its sibling window.
    /// @param siblingWindow The sibling window of the original's configuration.
    function check(
        mapping(bytes32 => Task) storage tasks,
        bytes32[3] memory ids,
        bytes32 taskGUID,
        uint256 siblingWindow
    ) external view {
        if (ids[0] == ids[1] || ids[0] == ids[2]) revert ITaskManager.TaskGroupDuplicateMember(ids[0]);
        if (ids[1] == ids[2]) revert ITaskManager.TaskGroupDuplicateMember(ids[1]);
        Task storage original = tasks[ids[0]];
        if (original.creator == address(0)) revert ITaskManager.TaskNotFound(ids[0]);
        // Delegatecall: msg.sender is the task manager's caller.
        if (msg.sender != original.creator) revert ITaskManager.TaskNotCreator(ids[0], msg.sender, original.creator);
        for (uint256 i = 0; i < 3; ++i) {
            Task storage member = tasks[ids[i]];
            if (member.creator == address(0)) revert ITaskManager.TaskNotFound(ids[i]);
            if (member.creator != original.creator) {
                revert ITaskManager.TaskGroupCreatorMismatch(ids[i], member.creator, original.creator);
            }
            if (keccak256(abi.encodePacked(taskGUID, member.nonce)) != ids[i]) {
                revert ITaskManager.TaskGroupCommitmentMismatch(ids[i], taskGUID);
            }
            if (member.nonce != keccak256(abi.encodePacked(taskGUID, uint8(i)))) {
                revert ITaskManager.TaskGroupNonceMismatch(ids[i], uint8(i));
            }
            if (i != 0) {
                if (member.sequence < original.sequence) revert ITaskManager.TaskGroupNotOriginal(ids[0], ids[i]);
                if (member.requirementsHash != original.requirementsHash) {
                    revert ITaskManager.TaskGroupRequirementsMismatch(ids[i], ids[0]);
                }
                uint256 windowEnd = uint256(original.createdAt) + siblingWindow;
                if (member.createdAt > windowEnd) {
                    revert ITaskManager.TaskGroupOutsideWindow(ids[i], member.createdAt, windowEnd);
                }
            }
            ITaskTypes.TaskStatus status = member.status;
            if (
                status != ITaskTypes.TaskStatus.ScoreReady &&
                status != ITaskTypes.TaskStatus.ErrorReported &&
                status != ITaskTypes.TaskStatus.EndAborted
            ) revert ITaskManager.TaskInvalidState(ids[i], status);
        }
    }

    /// @notice The outcome table of DESIGN §5: what each member becomes, and the QoS task score of agreeing ones.
    /// @dev With three scores, the agreeing set is every member that matches another (if A~B and B~C but not A~C,
    /// all three agree through B; the table's rows are the cases where matching is transitive). The agreeing member
    /// created first is validated (`VALIDATE`), the others `GROUP_REFUND`.
    /// @param tasks The task manager's tasks.
    /// @param ids The members, checked by `check`.
    /// @param distanceThreshold The image match threshold.
    /// @param registry The node registry (GPU models of text members' nodes).
    /// @return actions Per member: KEEP, VALIDATE, GROUP_REFUND, INVALIDATE or ABORT.
    /// @return qos Per agreeing member, its QoS task score (10/5/2 by speed); 0 for the others.
    function plan(
        mapping(bytes32 => Task) storage tasks,
        bytes32[3] memory ids,
        uint256 distanceThreshold,
        INodeRegistry registry
    ) external view returns (uint8[3] memory actions, uint8[3] memory qos) {
        bool[3] memory scored;
        bool[3] memory errored;
        uint256 scoredCount;
        uint256 errorCount;
        for (uint256 i = 0; i < 3; ++i) {
            ITaskTypes.TaskStatus status = tasks[ids[i]].status;
            scored[i] = status == ITaskTypes.TaskStatus.ScoreReady;
            errored[i] = status == ITaskTypes.TaskStatus.ErrorReported;
            if (scored[i]) ++scoredCount;
            if (errored[i]) ++errorCount;
        }

        bool[3] memory agrees;
        uint256 agreeCount;
        if (scoredCount >= 2) (agrees, agreeCount) = _agreeing(tasks, ids, scored, distanceThreshold);

        if (agreeCount >= 2) {
            // AAA, AAB, AA+ER, AA+EA: the odd scored or erroring member is invalidated; aborted ones stay aborted.
            uint256 winner = 3;
            for (uint256 i = 0; i < 3; ++i) {
                if (agrees[i]) {
                    qos[i] = _speedScore(tasks, ids, agrees, i);
                    // Argument 0 is the original and the earliest; otherwise the earliest agreeing member.
                    if (winner == 3 || tasks[ids[i]].sequence < tasks[ids[winner]].sequence) winner = i;
                    actions[i] = GROUP_REFUND;
                } else if (errored[i] || scored[i]) {
                    actions[i] = _oddMember(tasks, ids, agrees, i, registry);
                }
            }
            actions[winner] = VALIDATE;
        } else if (scoredCount == 1 && errorCount == 2) {
            // A,ER,ER: two nodes found the parameters unusable; the one that "ran" them is invalidated.
            for (uint256 i = 0; i < 3; ++i) actions[i] = scored[i] ? INVALIDATE : ABORT;
        } else {
            // ABC, AB+ER, AB+EA, and every row with fewer than two usable results: nothing to pay for.
            for (uint256 i = 0; i < 3; ++i) {
                if (tasks[ids[i]].status != ITaskTypes.TaskStatus.EndAborted) actions[i] = ABORT;
            }
        }
    }

    /// @dev Which scored members match another scored member.
    function _agreeing(
        mapping(bytes32 => Task) storage tasks,
        bytes32[3] memory ids,
        bool[3] memory scored,
        uint256 distanceThreshold
    ) private view returns (bool[3] memory agrees, uint256 agreeCount) {
        bool isText = tasks[ids[0]].taskType == ITaskTypes.TaskType.LLM;
        for (uint256 i = 0; i < 3; ++i) {
            if (!scored[i]) continue;
            bytes memory a = tasks[ids[i]].score;
            for (uint256 j = i + 1; j < 3; ++j) {
                if (scored[j] && SimHash.matches(isText, a, tasks[ids[j]].score, distanceThreshold)) {
                    agrees[i] = true;
                    agrees[j] = true;
                }
            }
        }
        for (uint256 i = 0; i < 3; ++i) if (agrees[i]) ++agreeCount;
    }

    /// @dev 10/5/2 by submission speed (score time minus upload time, ties by submission order; never by argument
    /// order, B3).
    function _speedScore(
        mapping(bytes32 => Task) storage tasks,
        bytes32[3] memory ids,
        bool[3] memory agrees,
        uint256 i
    ) private view returns (uint8) {
        uint256 rank;
        for (uint256 j = 0; j < 3; ++j) {
            if (j != i && agrees[j] && _faster(tasks[ids[j]], tasks[ids[i]])) ++rank;
        }
        return
            rank == 0
                ? _QOS_FIRST
                : rank == 1
                    ? _QOS_SECOND
                    : _QOS_THIRD;
    }

    /// @dev What the odd (scored or erroring, not agreeing) member becomes. Text is compared exactly, and exact output
    /// depends on the GPU model: an odd text score is slashed only when its node has the agreeing nodes' GPU model,
    /// else it is aborted unpaid. An error is a claim about the parameters, the same on every GPU: invalidated.
    function _oddMember(
        mapping(bytes32 => Task) storage tasks,
        bytes32[3] memory ids,
        bool[3] memory agrees,
        uint256 odd,
        INodeRegistry registry
    ) private view returns (uint8) {
        if (tasks[ids[odd]].status == ITaskTypes.TaskStatus.ErrorReported) return INVALIDATE;
        if (tasks[ids[0]].taskType != ITaskTypes.TaskType.LLM) return INVALIDATE;
        return _sameGPU(tasks, ids, agrees, odd, registry) ? INVALIDATE : ABORT;
    }

    /// @dev Whether member `odd`'s node has the GPU model of every agreeing member's node. Members that are
    /// ScoreReady hold their node Busy, so the profiles are those the tasks ran on.
    function _sameGPU(
        mapping(bytes32 => Task) storage tasks,
        bytes32[3] memory ids,
        bool[3] memory agrees,
        uint256 odd,
        INodeRegistry registry
    ) private view returns (bool) {
        (, , bytes32 gpu, , ) = registry.nodeProfile(tasks[ids[odd]].selectedNode);
        for (uint256 j = 0; j < 3; ++j) {
            if (!agrees[j]) continue;
            (, , bytes32 other, , ) = registry.nodeProfile(tasks[ids[j]].selectedNode);
            if (other != gpu) return false;
        }
        return true;
    }

    /// @dev Speed is measured from the parameter upload (DESIGN §13.7): before it, the application decides.
    function _faster(Task storage ta, Task storage tb) private view returns (bool) {
        uint256 da = uint256(ta.scoreReadyAt) - ta.uploadedAt;
        uint256 db = uint256(tb.scoreReadyAt) - tb.uploadedAt;
        return da < db || (da == db && ta.scoreSequence < tb.scoreSequence);
    }

    /// @notice When `task`'s current stage may be ended by anyone (0 for final states); DESIGN §13.3.
    /// @param task The task.
    /// @param cfg The configuration the task was created under.
    /// @param groupSpan The largest sibling window plus the largest queue + upload + execution + validation timeouts
    /// of every configuration set so far.
    /// @return The deadline.
    function deadline(
        Task storage task,
        ITaskManager.TaskConfig storage cfg,
        uint256 groupSpan
    ) external view returns (uint256) {
        ITaskTypes.TaskStatus status = task.status;
        // Pending and Queued share the queue timeout, counted from creation.
        if (status == ITaskTypes.TaskStatus.Queued || status == ITaskTypes.TaskStatus.Pending) {
            return uint256(task.createdAt) + cfg.queueTimeout;
        }
        if (status == ITaskTypes.TaskStatus.Started) return uint256(task.startedAt) + cfg.uploadTimeout;
        if (status == ITaskTypes.TaskStatus.ParametersUploaded) return uint256(task.uploadedAt) + cfg.executionTimeout;
        if (status == ITaskTypes.TaskStatus.ScoreReady || status == ITaskTypes.TaskStatus.ErrorReported) {
            // The latest moment the task's group could be validated: the task may be an original whose siblings are
            // created at the end of its window, or a sibling created late; each sibling may queue, wait for its
            // parameters and run under the largest configuration set so far, then the app has validationTimeout.
            // Since siblingWindow >= queue + upload + execution, this is also after the task's own score +
            // validationTimeout.
            return uint256(task.createdAt) + groupSpan;
        }
        if (status == ITaskTypes.TaskStatus.Validated) return uint256(task.validatedAt) + cfg.resultUploadTimeout;
        // A group's validated task: its node's own upload window, then one more in which an agreeing member may
        // upload its own result instead (`resultReporter`).
        if (status == ITaskTypes.TaskStatus.GroupValidated) {
            return uint256(task.validatedAt) + 2 * uint256(cfg.resultUploadTimeout);
        }
        return 0;
    }

    /// @notice DESIGN §13.8 (docs/game.md): once a GroupValidated task's own result deadline has passed, the node of
    /// an agreeing member of its group may upload its own result in its place. Returns that member; reverts with
    /// `TaskNotSelectedNode` when `caller` is neither the task's node nor such a member's, and with
    /// `TaskResultFallbackNotOpen` when it is such a member's but the validated node's window is still open.
    /// @param tasks The task manager's tasks.
    /// @param peers The agreeing members of the group whose validated task is `id` (they ended EndGroupRefund).
    /// @param id The validated task.
    /// @param task Its record.
    /// @param cfg The configuration it was created under.
    /// @param caller Who reports the result.
    /// @return member The member whose result is reported (`id` itself when `caller` is its node).
    function resultReporter(
        mapping(bytes32 => Task) storage tasks,
        bytes32[] storage peers,
        bytes32 id,
        Task storage task,
        ITaskManager.TaskConfig storage cfg,
        address caller
    ) external view returns (bytes32 member) {
        if (caller == task.selectedNode) return id;
        if (task.status == ITaskTypes.TaskStatus.GroupValidated) {
            for (uint256 i = 0; i < peers.length; ++i) {
                if (tasks[peers[i]].selectedNode != caller) continue;
                uint256 opensAt = uint256(task.validatedAt) + cfg.resultUploadTimeout;
                if (block.timestamp < opensAt) revert ITaskManager.TaskResultFallbackNotOpen(id, opensAt);
                return peers[i];
            }
        }
        revert ITaskManager.TaskNotSelectedNode(id, caller, task.selectedNode);
    }

    /// @notice Checks `c` and stores it as configuration `version`; returns the two terms of its group span.
    /// @param configs The task manager's configurations.
    /// @param version The new version.
    /// @param c The parameters.
    /// @return window The sibling window.
    /// @return siblingLife queue + upload + execution + validation timeouts.
    function storeConfig(
        mapping(uint256 => ITaskManager.TaskConfig) storage configs,
        uint256 version,
        ITaskManager.TaskConfig calldata c
    ) external returns (uint256 window, uint256 siblingLife) {
        if (
            c.samplingDivisor == 0 ||
            c.distanceThreshold == 0 ||
            c.distanceThreshold > 64 ||
            c.minQueueCapacity == 0 ||
            c.queueTimeout == 0 ||
            c.uploadTimeout == 0 ||
            c.executionTimeout == 0 ||
            c.validationTimeout == 0 ||
            c.resultUploadTimeout == 0
        ) revert ITaskManager.TaskConfigInvalid();
        if (c.noShowShare > 10_000) revert ITaskManager.TaskConfigNoShowShareTooHigh(c.noShowShare);
        uint256 latestScore = uint256(c.queueTimeout) + c.uploadTimeout + c.executionTimeout;
        if (c.siblingWindow < latestScore) {
            revert ITaskManager.TaskConfigSiblingWindowTooShort(c.siblingWindow, latestScore);
        }
        configs[version] = c;
        return (c.siblingWindow, latestScore + c.validationTimeout);
    }

    /// @notice The creator's VRF output over the task's sampling seed.
    /// @dev Reverts `TaskSamplingSeedMismatch`, `TaskSamplingKeyNotCreator` or `TaskSamplingProofInvalid`.
    /// @param task The task.
    /// @param taskIDCommitment Its commitment (for the errors).
    /// @param proof The VRF proof.
    /// @param verifier The VRF verifier.
    /// @return The sampling number.
    function samplingNumber(
        Task storage task,
        bytes32 taskIDCommitment,
        ISamplingVerifier.VRFProof calldata proof,
        ISamplingVerifier verifier
    ) external view returns (uint256) {
        if (bytes32(proof.seed) != task.samplingSeed) {
            revert ITaskManager.TaskSamplingSeedMismatch(taskIDCommitment, task.samplingSeed, proof.seed);
        }
        // The VRF key must be the creator's own Ethereum key, so nobody else can answer for the application.
        address keyOwner = address(uint160(uint256(keccak256(abi.encodePacked(proof.pk)))));
        if (keyOwner != task.creator) {
            revert ITaskManager.TaskSamplingKeyNotCreator(taskIDCommitment, keyOwner, task.creator);
        }
        try verifier.samplingNumber(proof) returns (uint256 number) {
            return number;
        } catch {
            revert ITaskManager.TaskSamplingProofInvalid(taskIDCommitment);
        }
    }

    /// @notice Whether two scores match (`SimHash.matches`).
    /// @param isText Text (exact) or image (per-block Hamming distance).
    /// @param a A score.
    /// @param b Another score.
    /// @param threshold The image threshold.
    /// @return Whether they match.
    function scoresMatch(
        bool isText,
        bytes calldata a,
        bytes calldata b,
        uint256 threshold
    ) external pure returns (bool) {
        return SimHash.matches(isText, a, b, threshold);
    }

    /// @notice Takes from the queue the highest-value task the freed `node` can serve, and marks the node Busy.
    /// @param queue The task manager's queue.
    /// @param registry The node registry.
    /// @param node The freed node.
    /// @return id The task to start on `node`, or zero (none it can serve, or its health is below the minimum).
    function popQueuedFor(ITaskQueue queue, INodeRegistry registry, address node) external returns (bytes32 id) {
        (, uint16 health, bytes32 gpuID, uint64 vram, uint32[3] memory version) = registry.nodeProfile(node);
        if (health < Dispatch.HEALTH_MIN) return bytes32(0);
        bytes32 modelsHash;
        (id, modelsHash) = queue.popFor(gpuID, vram, version);
        if (id != bytes32(0)) registry.startNode(node, modelsHash);
    }

    /// @notice The ParamsConsistency check of `validateTaskGroup` (see `TaskManager._checkParamsProof`): public signals
    /// are the three selected nodes' registered keys, then the three parameter blob hashes, members in order. Skipped
    /// when a member is EndAborted.
    function checkParamsProof(
        mapping(bytes32 => Task) storage tasks,
        bytes32[3] memory ids,
        ITaskManager.Groth16Proof calldata p,
        INodeRegistry registry,
        IParamsConsistencyVerifier verifier
    ) external view {
        for (uint256 i = 0; i < 3; ++i) {
            if (tasks[ids[i]].status == ITaskTypes.TaskStatus.EndAborted) return;
        }
        uint256[9] memory signals;
        for (uint256 i = 0; i < 3; ++i) {
            Task storage member = tasks[ids[i]];
            uint256[2] memory key = registry.nodePublicKey(member.selectedNode);
            signals[2 * i] = key[0];
            signals[2 * i + 1] = key[1];
            signals[6 + i] = uint256(member.paramsHash);
        }
        if (!verifier.verifyProof(p.a, p.b, p.c, signals)) revert ITaskManager.TaskParamsProofInvalid(ids[0]);
    }

    /// @notice The ResultAvailability check of `reportTaskResultUploaded` (see `TaskManager._checkResultProof`).
    /// @dev The sim hash is the stored score read as a big-endian integer (32 bytes for text; exactly one 8-byte pHash
    /// for images, the only size the circuit hashes). The last signal binds the proof to this deployment (the
    /// delegatecall's `address(this)` is the task manager), this task and its selected node; `>> 3` keeps it below
    /// the BN254 scalar field. src/zk/proofs.ts `resultBinding` computes the same value.
    function checkResultProof(
        Task storage task,
        bytes32 taskIDCommitment,
        bytes32 resultHash,
        ITaskManager.Groth16Proof calldata p,
        IResultAvailabilityVerifier verifier
    ) external view {
        bool isText = task.taskType == ITaskTypes.TaskType.LLM;
        bytes memory score = task.score;
        uint256 simHash;
        if (isText) {
            simHash = uint256(bytes32(score)); // 32 bytes: submitTaskScore checked the shape
        } else {
            if (score.length != SimHash.BLOCK_LENGTH) revert ITaskManager.TaskResultProofInvalid(taskIDCommitment);
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
        if (!verifier.verifyProof(p.a, p.b, p.c, signals)) revert ITaskManager.TaskResultProofInvalid(taskIDCommitment);
    }
}
