// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITaskManager} from "../interfaces/ITaskManager.sol";
import {ITaskTypes} from "../interfaces/ITaskTypes.sol";
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
/// money, registry). Split out so that the task manager stays well under the 24,576-byte code limit (EIP-170).
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
    function check(mapping(bytes32 => Task) storage tasks, bytes32[3] memory ids, bytes32 taskGUID) external view {
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
            if (i != 0 && member.sequence < original.sequence) revert ITaskManager.TaskGroupNotOriginal(ids[0], ids[i]);
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
    /// @return actions Per member: KEEP, VALIDATE, GROUP_REFUND, INVALIDATE or ABORT.
    /// @return qos Per agreeing member, its QoS task score (10/5/2 by speed); 0 for the others.
    function plan(
        mapping(bytes32 => Task) storage tasks,
        bytes32[3] memory ids,
        uint256 distanceThreshold
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
                } else if (scored[i] || errored[i]) {
                    actions[i] = INVALIDATE;
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

    /// @dev 10/5/2 by submission speed (score time minus start time, ties by submission order; never by argument
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

    function _faster(Task storage ta, Task storage tb) private view returns (bool) {
        uint256 da = uint256(ta.scoreReadyAt) - ta.startedAt;
        uint256 db = uint256(tb.scoreReadyAt) - tb.startedAt;
        return da < db || (da == db && ta.scoreSequence < tb.scoreSequence);
    }
}
