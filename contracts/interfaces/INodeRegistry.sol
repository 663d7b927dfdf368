// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITaskTypes} from "./ITaskTypes.sol";
import {IPullPayments} from "./IPullPayments.sol";

/// @title Node registry: stake, hardware, keys, models, QoS, slashing and weighted random selection
/// @notice GPU nodes join with a stake and are drawn at random, weighted by stake and quality of service, for the
/// tasks they can serve. Only the task manager selects, starts and releases nodes.
interface INodeRegistry is IPullPayments {
    /// @notice Node lifecycle (numbering kept from the reference implementation; `Quit` is also "never joined").
    enum NodeStatus {
        Quit,
        Available,
        Busy,
        PendingPause,
        PendingQuit,
        Paused
    }

    /// @notice How a task ended for the node that held it, as far as QoS is concerned.
    enum ReleaseOutcome {
        Neutral, // no QoS change (e.g. the app aborted, or a group member without a result to upload)
        Success, // H <- min(1, H + 0.15)
        Timeout // H <- 0.3 * H
    }

    /// @notice What a task requires of the node that runs it.
    /// @param taskType The task type.
    /// @param requiredGPU keccak256 of the exact GPU model name, or zero for "any GPU with enough VRAM".
    /// @param requiredGPUVRAM VRAM (GB) the required GPU model must have; ignored when `requiredGPU` is zero.
    /// @param minimumVRAM Minimum VRAM (GB) when any GPU will do.
    /// @param version Task version (major, minor, patch): a node must have the same major and >= minor.patch.
    /// @param modelIDs keccak256 of each model name the task uses.
    struct TaskRequirements {
        ITaskTypes.TaskType taskType;
        bytes32 requiredGPU;
        uint64 requiredGPUVRAM;
        uint64 minimumVRAM;
        uint32[3] version;
        bytes32[] modelIDs;
    }

    /// @notice What the registry knows of a node.
    /// @param status Lifecycle status.
    /// @param gpuID keccak256 of the GPU model name.
    /// @param gpuVRAM VRAM in GB.
    /// @param version Node software version (major, minor, patch).
    /// @param stake The stake held, in wei.
    /// @param publicKey Baby Jubjub public key (x, y) that task parameters are encrypted to.
    /// @param health The H factor of DESIGN §7, scaled by 10,000 (starts at 10,000), as of its last update
    /// (`healthOf` adds the recovery since).
    /// @param scoreCount Number of group task scores held (at most 50).
    /// @param scoreSum Sum of the held scores.
    /// @param lastModelsHash keccak256 of the model IDs of the node's last task (same-models bonus).
    struct NodeInfo {
        NodeStatus status;
        bytes32 gpuID;
        uint64 gpuVRAM;
        uint32[3] version;
        uint256 stake;
        uint256[2] publicKey;
        uint16 health;
        uint8 scoreCount;
        uint16 scoreSum;
        bytes32 lastModelsHash;
    }

    /// @notice Registry parameters.
    /// @param minimumStake Smallest stake accepted at join, in wei.
    /// @param stakeCap Stake at which the stake factor S saturates at 1, in wei.
    /// @param sameModelsBonusBps Bonus of the weight factor M, in basis points, when the node's last task used
    /// the same models.
    /// @param treasury Receiver of slashed stakes: fixed at deployment (`setConfig` must repeat it).
    struct RegistryConfig {
        uint256 minimumStake;
        uint256 stakeCap;
        uint256 sameModelsBonusBps;
        address treasury;
    }

    /// @notice A node joined.
    event NodeJoined(address indexed node, bytes32 indexed gpuID, string gpuName, uint64 gpuVRAM, uint256 stake);
    /// @notice A node quit (at once, or when its task ended); its stake was credited back.
    event NodeQuit(address indexed node, uint256 stakeReturned);
    /// @notice A node is paused (at once, or when its task ended).
    event NodePaused(address indexed node);
    /// @notice A paused node is available again.
    event NodeResumed(address indexed node);
    /// @notice A node was removed for poor quality of service; its stake was credited back.
    event NodeKickedOut(address indexed node, uint256 stakeReturned);
    /// @notice A node's stake was sent to the treasury because its result disagreed with its group.
    event NodeSlashed(address indexed node, bytes32 indexed taskIDCommitment, uint256 amount);
    /// @notice Fewer than 3 Available nodes hold `modelID`, which a new task needs: `node` (eligible for the task,
    /// drawn at random by selection weight) is asked to download it and then call `reportModelDownloaded`.
    event DownloadModel(address indexed node, bytes32 indexed modelID);
    /// @notice A node reports that it now holds a model locally.
    event NodeModelDownloaded(address indexed node, bytes32 indexed modelID);
    /// @notice A node's status changed (every transition, for indexers).
    event NodeStatusChanged(address indexed node, NodeStatus from, NodeStatus to);
    /// @notice The registry's parameters changed.
    event RegistryConfigUpdated(RegistryConfig config);

    /// @notice The stake sent is below the minimum.
    error NodeStakeTooLow(uint256 sent, uint256 minimum);
    /// @notice The operation is not allowed in the node's current status.
    error NodeInvalidStatus(address node, NodeStatus current);
    /// @notice A node must register non-zero VRAM.
    error NodeInvalidProfile(address node);
    /// @notice The node's Baby Jubjub key is not a usable key of the prime-order subgroup: x = 0, a coordinate out of
    /// the field, or the witness R is off the curve or [8]R ≠ publicKey (DESIGN §13.4).
    error NodeKeyNotInSubgroup(address node, uint256[2] publicKey);
    /// @notice The treasury is fixed at deployment; `setConfig` must repeat it.
    error RegistryTreasuryFixed(address treasury, address proposed);
    /// @notice The task manager cannot be the zero address.
    error RegistryTaskManagerZero();
    /// @notice The node already holds that model.
    error NodeModelAlreadyHeld(address node, bytes32 modelID);
    /// @notice A node may hold at most `max` models (`count` would be held).
    error NodeTooManyModels(address node, uint256 count, uint256 max);
    /// @notice The parameters are unusable (zero stake cap, zero treasury, bonus above 100 %).
    error RegistryConfigInvalid();
    /// @notice The task manager was already set.
    error RegistryTaskManagerAlreadySet(address current);

    /// @notice Joins the network with `msg.value` as stake; the node becomes Available.
    /// @param gpuName The GPU model name (its keccak256 is the GPU id used for matching).
    /// @param gpuVRAM VRAM in GB.
    /// @param version Node software version (major, minor, patch).
    /// @dev The node's QoS history (health, score window) is kept from any earlier membership of the same address.
    /// @param publicKey Baby Jubjub public key (x, y) for parameter encryption; in the prime-order subgroup, x ≠ 0.
    /// @param keyWitness A point R on the curve with [8]R = publicKey, the proof of subgroup membership
    /// (`subgroupWitness` in `src/crypto/babyjub.ts`: R = [8⁻¹ mod ℓ]·publicKey).
    /// @param modelIDs keccak256 of each model held locally.
    function join(
        string calldata gpuName,
        uint64 gpuVRAM,
        uint32[3] calldata version,
        uint256[2] calldata publicKey,
        uint256[2] calldata keyWitness,
        bytes32[] calldata modelIDs
    ) external payable;

    /// @notice Quits now (Available, Paused) or when the current task ends (Busy, PendingPause).
    function quit() external;

    /// @notice Pauses now (Available) or when the current task ends (Busy).
    function pause() external;

    /// @notice Resumes a Paused node, or cancels a pending pause.
    function resume() external;

    /// @notice Records that the caller now holds `modelID` locally; selection sees it at once.
    /// @param modelID keccak256 of the model name.
    function reportModelDownloaded(bytes32 modelID) external;

    /// @notice Brings `node`'s health up to date with its recovery over time (and its draw weight, if it is
    /// Available). Anyone may call it, e.g. a node excluded for H < 0.1 once it has recovered.
    /// @param node The node (joined).
    function refreshHealth(address node) external;

    /// @notice Draws an eligible Available node, weighted (DESIGN §6), and marks it Busy. Task manager only.
    /// @dev O(log n): weighted draws from sum trees with rejection sampling for the per-task factors (locality, M).
    /// @param req The task's requirements.
    /// @param randomness The draw's randomness.
    /// @return node The selected node, or zero when no node is eligible.
    function selectNode(TaskRequirements calldata req, uint256 randomness) external returns (address node);

    /// @notice Marks an Available node Busy with a task using `modelsHash`. Task manager only.
    /// @param node The node.
    /// @param modelsHash keccak256 of the task's model IDs.
    function startNode(address node, bytes32 modelsHash) external;

    /// @notice Frees a node whose task ended and applies the QoS outcome. Task manager only.
    /// @dev A Timeout also enters the node's score window as a 0 (DESIGN §13.7), which may kick it out.
    /// @param node The node.
    /// @param outcome The QoS effect.
    /// @return available True when the node is now Available (and may take a queued task).
    function releaseNode(address node, ReleaseOutcome outcome) external returns (bool available);

    /// @notice Records a group task score (10, 5 or 2) for a node. Task manager only.
    /// @dev When the window is full (50 scores) and their mean Q_long is below 2, the node is kicked out with its
    /// stake returned (`NodeKickedOut`): at once if it holds no task, else when its task ends (`releaseNode`).
    /// @param node The node.
    /// @param score The score.
    function recordGroupScore(address node, uint8 score) external;

    /// @notice Sends the node's whole stake to the treasury and removes it; a 0 enters its score window, which it
    /// keeps if it joins again. Task manager only.
    /// @param node The node.
    /// @param taskIDCommitment The task whose result disagreed.
    /// @return amount The stake slashed.
    function slash(address node, bytes32 taskIDCommitment) external returns (uint256 amount);

    /// @notice Everything known of `node`.
    /// @param node The node.
    /// @return The node's record.
    function getNode(address node) external view returns (NodeInfo memory);

    /// @notice The Baby Jubjub key `node` registered at its last join (kept after it quits).
    /// @param node The node.
    /// @return The public key (x, y).
    function nodePublicKey(address node) external view returns (uint256[2] memory);

    /// @notice What the queue needs to match a node with tasks, in one call.
    /// @param node The node.
    /// @return status The status.
    /// @return health The H factor, scaled by 10,000.
    /// @return gpuID keccak256 of the GPU model name.
    /// @return gpuVRAM VRAM in GB.
    /// @return version Node software version.
    function nodeProfile(
        address node
    ) external view returns (NodeStatus status, uint16 health, bytes32 gpuID, uint64 gpuVRAM, uint32[3] memory version);

    /// @notice The node's health H now, scaled by 10,000, with its recovery since the last update: the deficit
    /// 1 − H halves every `HEALTH_HALF_LIFE`. Selection uses the stored value until the node is next updated.
    /// @param node The node.
    /// @return The current health.
    function healthOf(address node) external view returns (uint256);

    /// @notice The receiver of slashed stakes, fixed at deployment.
    function treasury() external view returns (address);

    /// @notice Whether `key` is a usable Baby Jubjub key of the prime-order subgroup, given a witness R with
    /// [8]R = key (DESIGN §13.4): the check `join` applies to node keys and `registerAppKey` to app keys.
    /// @param key The public key (x, y).
    /// @param witness A point R on the curve with [8]R = key.
    /// @return True when x ≠ 0, both points are in the field, R is on the curve and [8]R = key.
    function isSubgroupKey(uint256[2] calldata key, uint256[2] calldata witness) external pure returns (bool);

    /// @notice The status of `node`.
    /// @param node The node.
    /// @return The status.
    function nodeStatus(address node) external view returns (NodeStatus);

    /// @notice Whether `node` holds `modelID` locally.
    function hasModel(address node, bytes32 modelID) external view returns (bool);

    /// @notice How many Available nodes hold `modelID` locally.
    function availableModelHolders(bytes32 modelID) external view returns (uint256);

    /// @notice Whether `node` could run a task with `req` right now (ignoring model locality).
    function isEligible(address node, TaskRequirements calldata req) external view returns (bool);

    /// @notice The node's current selection weight (DESIGN §6 without the per-task factor M), scaled by 1e18.
    function weightOf(address node) external view returns (uint256);

    /// @notice The weight `node` is drawn with now, in sum-tree units of 1e-9 (zero unless it is Available with
    /// H >= 0.1); `weightOf` / 1e9 as of the node's last update.
    function drawWeightOf(address node) external view returns (uint256);

    /// @notice Number of joined nodes (every status but Quit).
    function nodeCount() external view returns (uint256);

    /// @notice Number of Available nodes.
    function availableNodeCount() external view returns (uint256);

    /// @notice The sum of all stakes held.
    function totalStaked() external view returns (uint256);

    /// @notice The registry's parameters.
    function config() external view returns (RegistryConfig memory);

    /// @notice The task manager allowed to select, start, release and slash.
    function taskManager() external view returns (address);
}
