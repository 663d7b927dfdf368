// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITaskTypes} from "./ITaskTypes.sol";
import {IPullPayments} from "./IPullPayments.sol";
import {ISamplingVerifier} from "./ISamplingVerifier.sol";

/// @title Task manager: the task state machine of the VSS task network
/// @notice Applications create tasks and pay fees into escrow; the chain dispatches each task to a staked node or
/// queues it; the application proves its encrypted parameters are on the relay; the node submits the result's
/// similarity hash; the application validates (alone, or as a group of three when its VRF says the task was
/// sampled); the node proves its result is on the relay and is paid. Every non-final state has a deadline after
/// which anyone can end the task. States, events and stages follow the source document (DESIGN §2).
interface ITaskManager is ITaskTypes, IPullPayments {
    /// @notice What an application sends to create a task.
    /// @param taskType Image (`SD`, `SD_FT`) or text (`LLM`).
    /// @param taskIDCommitment keccak256(abi.encodePacked(taskGUID, nonce)); the task's primary key.
    /// @param nonce keccak256(abi.encodePacked(taskGUID, uint8(k))): k = 0 for an original task, 1 and 2 for its
    /// validation tasks (DESIGN §13.2); group validation checks it. Never used before by anyone.
    /// @param modelIDs keccak256 of each model name the task uses.
    /// @param minimumVRAM Minimum VRAM (GB) when any GPU will do.
    /// @param requiredGPU keccak256 of an exact GPU model name, or zero.
    /// @param requiredGPUVRAM VRAM (GB) of the required GPU model.
    /// @param taskVersion Task version (major, minor, patch).
    /// @param taskSize Size units of the task for pricing (e.g. images or tokens); at least 1.
    /// @param appPublicKey The application's Baby Jubjub public key (x, y) that the result is encrypted to; must be
    /// on the curve with x ≠ 0 (the result circuit requires it).
    struct TaskInput {
        TaskType taskType;
        bytes32 taskIDCommitment;
        bytes32 nonce;
        bytes32[] modelIDs;
        uint64 minimumVRAM;
        bytes32 requiredGPU;
        uint64 requiredGPUVRAM;
        uint32[3] taskVersion;
        uint64 taskSize;
        uint256[2] appPublicKey;
    }

    /// @notice A Groth16 proof in the generated verifiers' argument order (`b` with its coordinates swapped, as
    /// snarkjs exports it; see `src/zk/proofs.ts` `toSolidityProof`).
    /// @param a The proof's A point.
    /// @param b The proof's B point (G2).
    /// @param c The proof's C point.
    struct Groth16Proof {
        uint256[2] a;
        uint256[2][2] b;
        uint256[2] c;
    }

    /// @notice A task as stored.
    /// @param taskType The task type.
    /// @param status The current state.
    /// @param abortReason Why the task ended in `EndAborted` (else `None`).
    /// @param error The error the node reported (else `None`).
    /// @param qosScore The node's QoS task score from group validation (10, 5, 2; 0 otherwise).
    /// @param creator The application account.
    /// @param selectedNode The node running the task (zero while queued).
    /// @param fee The escrowed fee, in wei.
    /// @param sequence Creation order (1, 2, ...), used to find a group's original task.
    /// @param scoreSequence Order of score submission, used to break QoS ties.
    /// @param createdAt Creation time.
    /// @param startedAt When a node was selected.
    /// @param uploadedAt When the parameters were uploaded (the execution timer and the speed ranking start here).
    /// @param scoreReadyAt When the score or the error was reported.
    /// @param validatedAt When the task was validated.
    /// @param nonce The task's nonce.
    /// @param samplingSeed keccak256(abi.encode(r, "sampling")) with r from the beacon word, fixed at dispatch
    /// (docs/randomness.md); zero while the task is Pending.
    /// @param paramsHash Blob hash of the encrypted parameters.
    /// @param resultHash Blob hash of the encrypted result.
    /// @param score The similarity hash the node submitted.
    /// @param appPublicKey The application's Baby Jubjub public key.
    struct TaskInfo {
        TaskType taskType;
        TaskStatus status;
        TaskAbortReason abortReason;
        TaskError error;
        uint8 qosScore;
        address creator;
        address selectedNode;
        uint256 fee;
        uint256 sequence;
        uint256 scoreSequence;
        uint256 createdAt;
        uint256 startedAt;
        uint256 uploadedAt;
        uint256 scoreReadyAt;
        uint256 validatedAt;
        bytes32 nonce;
        bytes32 samplingSeed;
        bytes32 paramsHash;
        bytes32 resultHash;
        bytes score;
        uint256[2] appPublicKey;
    }

    /// @notice Network parameters of the task manager.
    /// @param samplingDivisor A task is sampled for validation iff VRF output % samplingDivisor == 0 (10 → 10 %).
    /// @param distanceThreshold Two image scores match when every 8-byte block differs in fewer bits than this.
    /// @param queueTimeout Seconds a task may wait in the queue.
    /// @param executionTimeout Seconds from the parameter upload to score or error (the node's timer).
    /// @param validationTimeout Seconds the application has to validate after a group's last score or error; the
    /// ScoreReady/ErrorReported deadline adds the whole group's span (`deadlineOf`, DESIGN §13.3).
    /// @param resultUploadTimeout Seconds from validation to result upload.
    /// @param queueSizeFactor α: the queue holds at most max(α · joined nodes, minQueueCapacity) tasks.
    /// @param minQueueCapacity Queue capacity floor.
    /// @param overhead Per task type, the fixed time T₀ in the value V = fee / (T₀ + unitTime · size).
    /// @param unitTime Per task type, the time per size unit.
    /// @param uploadTimeout Seconds from start to the parameter upload (the application's timer).
    /// @param siblingWindow Seconds after an original's creation during which its validation tasks may be created;
    /// at least queueTimeout + uploadTimeout + executionTimeout (the original's latest possible score time).
    /// @param noShowShare Basis points of the fee credited to the node when the application never uploads the
    /// parameters (Started timeout); the rest is refunded.
    /// @param minimumFee Per task type, the smallest fee `createTask` accepts.
    struct TaskConfig {
        uint64 samplingDivisor;
        uint16 distanceThreshold;
        uint64 queueTimeout;
        uint64 executionTimeout;
        uint64 validationTimeout;
        uint64 resultUploadTimeout;
        uint64 queueSizeFactor;
        uint64 minQueueCapacity;
        uint64[3] overhead;
        uint64[3] unitTime;
        uint64 uploadTimeout;
        uint64 siblingWindow;
        uint16 noShowShare;
        uint96[3] minimumFee;
    }

    // -------------------------------------------------------------------------------------------------------------
    // Events (names of the source document)
    // -------------------------------------------------------------------------------------------------------------

    /// @notice A task was created; the application runs its VRF over `samplingSeed`.
    event TaskCreated(bytes32 indexed taskIDCommitment, address indexed creator, bytes32 samplingSeed);
    /// @notice No eligible node was available; the task waits in the queue.
    event TaskQueued(bytes32 indexed taskIDCommitment);
    /// @notice A node was selected; the application encrypts the parameters to it and uploads them.
    event TaskStarted(bytes32 indexed taskIDCommitment, address indexed selectedNode);
    /// @notice The encrypted parameters are provably on the relay; the node fetches and executes them.
    event TaskParametersUploaded(bytes32 indexed taskIDCommitment, bytes32 paramsHash, address indexed selectedNode);
    /// @notice The node reported that the parameters can never run.
    event TaskErrorReported(bytes32 indexed taskIDCommitment, address indexed selectedNode, TaskError error);
    /// @notice The node submitted the similarity hash of its result.
    event TaskScoreReady(bytes32 indexed taskIDCommitment, address indexed selectedNode, bytes score);
    /// @notice The task was validated; its node uploads the result.
    event TaskValidated(bytes32 indexed taskIDCommitment, address indexed selectedNode);
    /// @notice The task ended in `EndAborted`.
    event TaskAborted(
        bytes32 indexed taskIDCommitment,
        address indexed issuer,
        TaskStatus lastStatus,
        TaskAbortReason reason
    );
    /// @notice The result is provably on the relay, encrypted to the application; the fee was settled.
    event TaskSuccess(bytes32 indexed taskIDCommitment, bytes32 resultHash);
    /// @notice A group member agreed with the group; its fee was refunded.
    event TaskEndGroupRefund(bytes32 indexed taskIDCommitment, address indexed selectedNode);
    /// @notice A group member disagreed with the group; its node was slashed and its fee refunded.
    event TaskEndInvalidated(bytes32 indexed taskIDCommitment, address indexed selectedNode);
    /// @notice The group's result was uploaded; the fee was split among the agreeing nodes.
    event TaskEndGroupSuccess(bytes32 indexed taskIDCommitment, address indexed selectedNode);
    /// @notice The fee of a task was credited to a node.
    event TaskFeePaid(bytes32 indexed taskIDCommitment, address indexed node, uint256 amount);
    /// @notice The fee of a task was credited back to its creator.
    event TaskFeeRefunded(bytes32 indexed taskIDCommitment, address indexed creator, uint256 amount);
    /// @notice The parameters changed.
    event TaskConfigUpdated(TaskConfig config);

    // -------------------------------------------------------------------------------------------------------------
    // Errors
    // -------------------------------------------------------------------------------------------------------------

    /// @notice `createTask` was sent without a fee.
    error TaskFeeZero();
    /// @notice The fee does not fit the 96 bits it is stored in.
    error TaskFeeTooHigh(uint256 fee);
    /// @notice The nonce was used by an earlier task.
    error TaskNonceUsed(bytes32 nonce);
    /// @notice A task with this commitment exists; commitments are never overwritten (B7).
    error TaskAlreadyExists(bytes32 taskIDCommitment);
    /// @notice The commitment is zero.
    error TaskCommitmentZero();
    /// @notice No task has this commitment.
    error TaskNotFound(bytes32 taskIDCommitment);
    /// @notice The call is not allowed in the task's current state.
    error TaskInvalidState(bytes32 taskIDCommitment, TaskStatus current);
    /// @notice Only the task's creator may do this.
    error TaskNotCreator(bytes32 taskIDCommitment, address caller, address creator);
    /// @notice Only the task's selected node may do this.
    error TaskNotSelectedNode(bytes32 taskIDCommitment, address caller, address selectedNode);
    /// @notice The blob hash is not proven to be in that relay root.
    error TaskBlobNotInRoot(bytes32 taskIDCommitment, bytes32 blobHash, bytes32 root);
    /// @notice The score does not have the task type's shape (8-byte blocks for images, 32 bytes for text).
    error TaskScoreInvalid(bytes32 taskIDCommitment, uint256 length);
    /// @notice `TaskError.None` is not an error.
    error TaskErrorInvalid(bytes32 taskIDCommitment);
    /// @notice The VRF proof is not over the task's sampling seed.
    error TaskSamplingSeedMismatch(bytes32 taskIDCommitment, bytes32 expected, uint256 provided);
    /// @notice The VRF public key is not the creator's key.
    error TaskSamplingKeyNotCreator(bytes32 taskIDCommitment, address keyOwner, address creator);
    /// @notice The VRF proof does not verify.
    error TaskSamplingProofInvalid(bytes32 taskIDCommitment);
    /// @notice The task was sampled for validation, so it cannot be validated alone.
    error TaskSampled(bytes32 taskIDCommitment, uint256 samplingNumber);
    /// @notice The task was not sampled, so it cannot be validated as a group.
    error TaskNotSampled(bytes32 taskIDCommitment, uint256 samplingNumber);
    /// @notice The commitment is not keccak256(taskGUID, nonce) for the revealed GUID.
    error TaskGroupCommitmentMismatch(bytes32 taskIDCommitment, bytes32 taskGUID);
    /// @notice All members of a group must have the same creator.
    error TaskGroupCreatorMismatch(bytes32 taskIDCommitment, address creator, address expected);
    /// @notice A commitment appears twice in the group.
    error TaskGroupDuplicateMember(bytes32 taskIDCommitment);
    /// @notice The first commitment must be the group's original (earliest created) task.
    error TaskGroupNotOriginal(bytes32 first, bytes32 earlier);
    /// @notice The task's current stage has a deadline that has not passed yet.
    error TaskDeadlineNotReached(bytes32 taskIDCommitment, uint256 deadline, uint256 nowTimestamp);
    /// @notice Only the node registry may call this.
    error TaskCallerNotRegistry(address caller);
    /// @notice The parameters are unusable (a zero timeout, divisor or capacity, or a threshold above 64).
    error TaskConfigInvalid();
    /// @notice The sibling window ends before an original's latest possible score time (DESIGN §13.2).
    error TaskConfigSiblingWindowTooShort(uint256 siblingWindow, uint256 latestScoreTime);
    /// @notice `noShowShare` is more than 10,000 basis points.
    error TaskConfigNoShowShareTooHigh(uint256 noShowShare);
    /// @notice The fee is below the task type's minimum.
    error TaskFeeBelowMinimum(uint256 fee, uint256 minimumFee);
    /// @notice `taskSize` is zero.
    error TaskSizeZero(bytes32 taskIDCommitment);
    /// @notice A member's nonce is not keccak256(taskGUID, k) for its position k (0 original, 1 and 2 validation).
    error TaskGroupNonceMismatch(bytes32 taskIDCommitment, uint8 k);
    /// @notice A member's requirements (type, models, version, GPU, VRAM, size) differ from the original's.
    error TaskGroupRequirementsMismatch(bytes32 taskIDCommitment, bytes32 original);
    /// @notice A validation task was created outside the original's sibling window.
    error TaskGroupOutsideWindow(bytes32 taskIDCommitment, uint256 createdAt, uint256 windowEnd);
    /// @notice The application's Baby Jubjub key was not registered with `registerAppKey` (which checks that it lies
    /// in the prime-order subgroup).
    error TaskAppKeyInvalid(bytes32 taskIDCommitment);
    /// @notice `declineTask` takes only a reason the application caused: `ModelDownloadFailed` or `AppKeyInvalid`.
    error TaskDeclineReasonInvalid(bytes32 taskIDCommitment, TaskAbortReason reason);
    /// @notice The node may decline only before its stage deadline; from `deadline` on, `abortTask` settles the task.
    error TaskDeclineTooLate(bytes32 taskIDCommitment, uint256 deadline, uint256 nowTimestamp);
    /// @notice The ParamsConsistency proof does not verify for the group's node keys, the parameter blob hashes
    /// recorded at upload (the group is named by its first commitment).
    error TaskParamsProofInvalid(bytes32 taskIDCommitment);
    /// @notice The ResultAvailability proof does not verify for the task's type, the application's key, the result
    /// blob hash and the stored score; also raised for an image score that is not exactly one 8-byte pHash.
    error TaskResultProofInvalid(bytes32 taskIDCommitment);

    // -------------------------------------------------------------------------------------------------------------
    // Application
    // -------------------------------------------------------------------------------------------------------------

    /// @notice Creates a task in the `Pending` state and enrols it in the beacon's open epoch; emits `TaskPending`.
    /// `msg.value` pays the fee (escrowed), the dispatch bounty (`dispatchBounty`, paid to whoever dispatches it) and
    /// the task's share of the beacon's words (`IRandomnessBeacon.feePerTask`, not refundable). The node and the
    /// sampling seed are drawn only when the epoch's word has landed (`dispatchTasks`): nobody, the creator included,
    /// knows them when the commitment, fee and requirements are fixed (docs/randomness.md). A pending task cannot be
    /// cancelled.
    /// @param input The task's metadata.
    function createTask(TaskInput calldata input) external payable;

    /// @notice Dispatches pending tasks, oldest first: `inputs[0]` must be the oldest pending task, `inputs[1]` the
    /// next, and so on (each exactly as given to `createTask`, as `TaskPending` repeats it). Stops at the first task
    /// whose epoch word has not landed. For each: fixes its randomness from the word, emits `TaskCreated` with the
    /// sampling seed, then `TaskStarted` or `TaskQueued` (a full queue evicts its lowest-value task, or aborts this
    /// one with `TaskFeeTooLow` when it would be the lowest). Pays the caller each dispatched task's bounty. Then, if
    /// no dispatchable task is left, frees (up to 16) nodes whose release waited for the pool to be open again and,
    /// when none is left waiting, asks the beacon for the next word. Anyone may call.
    /// @param inputs The pending tasks' inputs, oldest first.
    /// @return dispatched How many tasks were dispatched.
    function dispatchTasks(TaskInput[] calldata inputs) external returns (uint256 dispatched);

    /// @notice Frees up to `max` nodes whose release waited while the pool was frozen (see `poolFrozen`) and, when none
    /// is left waiting, asks the beacon for the open epoch's word (the only way a new word is requested besides
    /// `createTask` and `dispatchTasks`). Anyone may call; it does nothing while the pool is frozen.
    /// @param max The most nodes to free.
    /// @return released How many nodes were freed.
    function releaseDeferred(uint256 max) external returns (uint256 released);

    /// @notice Reports that the encrypted parameters are on the relay: Started → ParametersUploaded. Creator only.
    /// @param taskIDCommitment The task.
    /// @param paramsHash Blob hash of the encrypted parameters.
    /// @param root A root posted to `RelayRoots`.
    /// @param proof Merkle proof of `paramsHash` under `root`.
    function reportTaskParametersUploaded(
        bytes32 taskIDCommitment,
        bytes32 paramsHash,
        bytes32 root,
        bytes32[] calldata proof
    ) external;

    /// @notice Submits the result's similarity hash: ParametersUploaded → ScoreReady. Selected node only.
    /// @param taskIDCommitment The task.
    /// @param score 8 bytes per image for image tasks, 32 bytes for text tasks.
    function submitTaskScore(bytes32 taskIDCommitment, bytes calldata score) external;

    /// @notice Reports parameters that can never run: ParametersUploaded → ErrorReported. Selected node only.
    /// @param taskIDCommitment The task.
    /// @param error The error.
    function reportTaskError(bytes32 taskIDCommitment, TaskError error) external;

    /// @notice Validates a task that the VRF did not sample. ScoreReady → Validated; ErrorReported → EndAborted
    /// with the fee refunded. Creator only.
    /// @param taskIDCommitment The task.
    /// @param proof The creator's VRF proof over the task's sampling seed.
    function validateSingleTask(bytes32 taskIDCommitment, ISamplingVerifier.VRFProof calldata proof) external;

    /// @notice Validates a sampled task with its two validation tasks (outcome table of DESIGN §5). Creator only.
    /// @param taskIDCommitment1 The original task, whose sampling seed the VRF proof covers.
    /// @param taskIDCommitment2 A validation task.
    /// @param taskIDCommitment3 The other validation task.
    /// @dev When no member is `EndAborted` (every member is ScoreReady or ErrorReported), `paramsProof` must be a
    /// ParamsConsistency proof with public signals (the three selected nodes' registered keys, the three parameter
    /// blob hashes recorded by `reportTaskParametersUploaded`), members in argument order: the three nodes were sent
    /// the same parameters. No hash of the parameters is an argument: an unsalted one would let anyone confirm a
    /// guessed prompt offline. Else `TaskParamsProofInvalid`. Those are exactly the groups whose outcome
    /// can invalidate (slash) a member. With an aborted member nobody is slashed, and the proof is not checked: the
    /// aborted member may never have had parameters uploaded, and its node, released, may have re-joined with
    /// another key since. Any `paramsProof` (e.g. all zeros) will do then.
    /// @param taskGUID The group's GUID: every commitment must be keccak256(taskGUID, its nonce).
    /// @param proof The creator's VRF proof over the original task's sampling seed, saying "sampled".
    /// @param paramsProof The ParamsConsistency proof (see above).
    function validateTaskGroup(
        bytes32 taskIDCommitment1,
        bytes32 taskIDCommitment2,
        bytes32 taskIDCommitment3,
        bytes32 taskGUID,
        ISamplingVerifier.VRFProof calldata proof,
        Groth16Proof calldata paramsProof
    ) external;

    /// @notice Ends a task whose stage deadline passed (anyone). A queued task cannot be cancelled: it waits for a
    /// node or its queue timeout (DESIGN §13.1, §13.5).
    /// @dev One timer per party (DESIGN §13.3), under the parameters in force when the task was created:
    /// Queued → QueueTimeout (refund); Started (no parameters `uploadTimeout` after the start) → Timeout,
    /// the application's fault: the node is credited `noShowShare` of the fee, the rest refunded, node health
    /// unchanged; ParametersUploaded (after upload + `executionTimeout`) → Timeout, the node's fault: refund, node H
    /// penalty; ScoreReady/ErrorReported (after the latest moment the task's group could have been validated) →
    /// ValidationTimeout (fee paid to the node); Validated/GroupValidated → ResultUploadTimeout (refund, node H
    /// penalty).
    /// @param taskIDCommitment The task.
    function abortTask(bytes32 taskIDCommitment) external;

    // -------------------------------------------------------------------------------------------------------------
    // Node
    // -------------------------------------------------------------------------------------------------------------

    /// @notice Reports that the encrypted result is on the relay: Validated → EndSuccess, GroupValidated →
    /// EndGroupSuccess; settles the fee. Selected node only; except that once a GroupValidated task's own result
    /// deadline (`validatedAt + resultUploadTimeout`) has passed, the node of an agreeing member of its group (one
    /// that ended EndGroupRefund) may upload its own result instead, until the task is aborted (`abortTask`, one more
    /// `resultUploadTimeout` later): the proof is then checked against that member's score and binding, the fee is
    /// split among the agreeing members without the withholding node, which is released with a timeout
    /// (docs/game.md, DESIGN §13.8). `TaskEndGroupSuccess` names the uploader.
    /// @dev `resultProof` is a ResultAvailability proof with public signals (isText = task type is LLM, the task's
    /// `appPublicKey`, `resultHash`, the stored score as a big-endian integer, and the binding uint256(keccak256(
    /// abi.encode(block.chainid, this contract, creator, taskIDCommitment, selectedNode))) >> 3):
    /// the blob is the result, canonically packed and encrypted to the application, its sim hash is the score the
    /// node submitted, and the proof was made for this task and this node (it settles no other). The circuit hashes
    /// exactly one 64×64 image, so an image task's score must be one 8-byte pHash; longer image scores (several
    /// images) cannot be proven and revert `TaskResultProofInvalid` like a bad proof.
    /// @param taskIDCommitment The task.
    /// @param resultHash Blob hash of the encrypted result.
    /// @param root A root posted to `RelayRoots` (and not revoked).
    /// @param proof Merkle proof of `resultHash` under `root`.
    /// @param resultProof The ResultAvailability proof (see above).
    function reportTaskResultUploaded(
        bytes32 taskIDCommitment,
        bytes32 resultHash,
        bytes32 root,
        bytes32[] calldata proof,
        Groth16Proof calldata resultProof
    ) external;

    /// @notice Declines the task neutrally for a reason the application caused (DESIGN §13.3): Started or
    /// ParametersUploaded → EndAborted(`reason`), full refund to the creator, the node released with no health
    /// change and no QoS score. Selected node only, and only before the stage deadline (`deadlineOf`): a node
    /// that let its deadline pass is settled by `abortTask` and its penalty, which declining cannot pre-empt.
    /// @dev `reason` must be `AppKeyInvalid` (the app's Baby Jubjub key is outside the prime-order subgroup, so no
    /// result proof can exist for it) or `ModelDownloadFailed` (a model the task names cannot be downloaded).
    /// Errors certain to be in the parameters still go through `reportTaskError`, where the group can contradict
    /// them. Emits `TaskAborted` with the node as issuer and `TaskFeeRefunded`.
    /// @param taskIDCommitment The task.
    /// @param reason `AppKeyInvalid` or `ModelDownloadFailed`, else `TaskDeclineReasonInvalid`.
    function declineTask(bytes32 taskIDCommitment, TaskAbortReason reason) external;

    /// @notice Called by the registry when a node joins or resumes: hands it the best queued task it can serve.
    /// @param node The node that became available.
    function onNodeAvailable(address node) external;

    // -------------------------------------------------------------------------------------------------------------
    // Views
    // -------------------------------------------------------------------------------------------------------------

    /// @notice The task stored under `taskIDCommitment` (reverts with `TaskNotFound`).
    function getTask(bytes32 taskIDCommitment) external view returns (TaskInfo memory);

    /// @notice The status of a task (reverts with `TaskNotFound`).
    function taskStatus(bytes32 taskIDCommitment) external view returns (TaskStatus);

    /// @notice When the task's current stage may be ended by anyone (0 for final states). For ScoreReady and
    /// ErrorReported: created + the largest sibling window + the largest (queue + upload + execution + validation)
    /// timeouts of every configuration set so far, the latest moment a group containing the task could be validated.
    function deadlineOf(bytes32 taskIDCommitment) external view returns (uint256);

    /// @notice Whether two scores of a task type match (the rule group validation applies).
    function scoresMatch(TaskType taskType, bytes calldata a, bytes calldata b) external view returns (bool);

    /// @notice Whether `nonce` was used.
    function isNonceUsed(bytes32 nonce) external view returns (bool);

    /// @notice The queued commitments, in no particular order.
    function queuedTasks() external view returns (bytes32[] memory);

    /// @notice The queue's current capacity: max(α · joined nodes, minQueueCapacity).
    function queueCapacity() external view returns (uint256);

    /// @notice The value V used to order the queue, for a task with this type, size and fee.
    function taskValue(TaskType taskType, uint256 taskSize, uint256 fee) external view returns (uint256);

    /// @notice The sum of the fees held in escrow (tasks not yet settled).
    function totalEscrowed() external view returns (uint256);

    /// @notice The parameters.
    function config() external view returns (TaskConfig memory);

    // ---- Randomness and dispatch (docs/randomness.md) ----

    /// @notice A task was created and enrolled in `epoch`; its node and seed are drawn when the epoch's word lands.
    /// @param input `abi.encode(TaskInput)` as given to `createTask`; a dispatcher passes it back to `dispatchTasks`.
    event TaskPending(bytes32 indexed taskIDCommitment, address indexed creator, uint64 epoch, bytes input);
    /// @notice `dispatcher` dispatched `count` tasks and was paid `bounty` in all.
    event DispatchBountyPaid(address indexed dispatcher, uint256 count, uint256 bounty);
    /// @notice A node's release waits until the pool is open again (`releaseDeferred`).
    event NodeReleaseDeferred(address indexed node);

    /// @notice `msg.value` does not cover the dispatch bounty and the beacon's share with a fee left over.
    error TaskValueBelowDispatchCost(uint256 value, uint256 dispatchCost);
    /// @notice `dispatchTasks` was given a task that is not the oldest pending one.
    error TaskNotNextPending(bytes32 taskIDCommitment, bytes32 next);
    /// @notice The input given to `dispatchTasks` is not the one the task was created with.
    error TaskDispatchInputMismatch(bytes32 taskIDCommitment);
    /// @notice Only `ADMIN` (the timelock) may change the parameters.
    error TaskCallerNotAdmin(address caller);
    /// @notice A task may require at most `MAX_TASK_MODELS` models.
    error TaskTooManyModels(bytes32 taskIDCommitment, uint256 count);
    /// @notice A pending task whose word has landed is dispatched, not aborted.
    error TaskDispatchable(bytes32 taskIDCommitment);
    /// @notice An agreeing member's node may upload its own result for the group's validated task only from
    /// `opensAt`, once the validated node's own result deadline has passed.
    error TaskResultFallbackNotOpen(bytes32 taskIDCommitment, uint256 opensAt);
    /// @notice The node pool cannot change now: a beacon word is in flight, or a task whose word landed waits to be
    /// dispatched (`dispatchTasks`). Join, quit, pause, resume, model reports and health refreshes wait.
    error TaskPoolFrozen();

    /// @notice What `createTask` takes from `msg.value` before the fee: the dispatch bounty and the beacon's share.
    function dispatchCost() external view returns (uint256);

    /// @notice The pending tasks, oldest first (at most `max`).
    function pendingTasks(uint256 max) external view returns (bytes32[] memory ids);

    /// @notice Whether the node pool is frozen (see `TaskPoolFrozen`).
    function poolFrozen() external view returns (bool);

    /// @notice Reverts with `TaskPoolFrozen` while the pool is frozen; the registry calls it before every change of
    /// the pool that a node makes.
    function requirePoolOpen() external view;

    // ---- App keys (DESIGN §13.4) ----

    /// @notice An app key was checked to lie in the prime-order subgroup; tasks may now use it.
    event AppKeyRegistered(uint256[2] key);

    /// @notice `key` is not a usable Baby Jubjub key of the prime-order subgroup (x = 0, out of the field, or the
    /// witness R is off the curve or [8]R ≠ key).
    error TaskAppKeyNotInSubgroup(uint256[2] key);

    /// @notice Checks once that `key` lies in the prime-order subgroup, so that `createTask` can accept it for a
    /// storage read instead of paying the check on every task. Anyone may register any key: the check is about
    /// the key, not the account. Registering a key again is harmless (the event is emitted again).
    /// @param key The Baby Jubjub public key (x, y).
    /// @param witness A point R on the curve with [8]R = key (`subgroupWitness` in `src/crypto/babyjub.ts`).
    function registerAppKey(uint256[2] calldata key, uint256[2] calldata witness) external;
}
