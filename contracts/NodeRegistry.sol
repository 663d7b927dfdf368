// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {ITaskManager} from "./interfaces/ITaskManager.sol";
import {BabyJubjub} from "./libraries/BabyJubjub.sol";
import {Dispatch} from "./libraries/Dispatch.sol";
import {PullPayments} from "./PullPayments.sol";

/// @title NodeRegistry
/// @notice Stake, hardware, keys, models, QoS and slashing of the network's GPU nodes, and the weighted random
/// draw that dispatches a task to one of them.
/// @dev Selection here is a linear scan over the Available nodes: O(n) gas. DESIGN §6 asks for O(log n) sum trees,
/// which a later change brings; the interface does not change.
contract NodeRegistry is INodeRegistry, AccessControl, PullPayments {
    /// @notice The role of the task manager contract: select, start, release, score and slash nodes.
    bytes32 public constant TASK_MANAGER_ROLE = keccak256("TASK_MANAGER_ROLE");

    /// @dev Group scores held per node; the mean of the last `_SCORE_WINDOW` is Q_long (DESIGN §7).
    uint256 private constant _SCORE_WINDOW = 50;
    /// @dev The window is packed 4 bits per score (scores are 0..10) into one word: 50 × 4 = 200 bits.
    uint256 private constant _SCORE_MASK = (uint256(1) << (_SCORE_WINDOW * 4)) - 1;

    struct Node {
        NodeStatus status;
        uint16 health;
        uint8 scoreCount;
        uint16 scoreSum;
        uint64 gpuVRAM;
        uint32[3] version;
        bytes32 gpuID;
        uint256 stake;
        uint256[2] publicKey;
        bytes32 lastModelsHash;
        uint256 recentScores;
    }

    mapping(address node => Node info) private _nodes;
    mapping(address node => mapping(bytes32 modelID => bool held)) private _hasModel;
    address[] private _available;
    mapping(address node => uint256 indexPlusOne) private _availableIndex;
    uint256 private _nodeCount;
    uint256 private _totalStaked;
    RegistryConfig private _config;
    address private _taskManager;

    /// @param admin Receives `DEFAULT_ADMIN_ROLE` (parameters, wiring the task manager).
    /// @param initialConfig The registry parameters.
    constructor(address admin, RegistryConfig memory initialConfig) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setConfig(initialConfig);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Administration
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Wires the task manager once: it gets `TASK_MANAGER_ROLE` and is told when nodes become available.
    /// @param manager The task manager contract.
    function setTaskManager(address manager) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_taskManager != address(0)) revert RegistryTaskManagerAlreadySet(_taskManager);
        _taskManager = manager;
        _grantRole(TASK_MANAGER_ROLE, manager);
    }

    /// @notice Replaces the registry parameters.
    /// @param newConfig The new parameters.
    function setConfig(RegistryConfig calldata newConfig) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setConfig(newConfig);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Node actions
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc INodeRegistry
    function join(
        string calldata gpuName,
        uint64 gpuVRAM,
        uint32[3] calldata version,
        uint256[2] calldata publicKey,
        bytes32[] calldata modelIDs
    ) external payable {
        Node storage node = _nodes[msg.sender];
        if (node.status != NodeStatus.Quit) revert NodeInvalidStatus(msg.sender, node.status);
        if (msg.value < _config.minimumStake) revert NodeStakeTooLow(msg.value, _config.minimumStake);
        if (gpuVRAM == 0 || !BabyJubjub.isValidPublicKey(publicKey[0], publicKey[1])) {
            revert NodeInvalidProfile(msg.sender);
        }

        bytes32 gpuID = keccak256(bytes(gpuName));
        node.gpuID = gpuID;
        node.gpuVRAM = gpuVRAM;
        node.version = version;
        node.publicKey = publicKey;
        node.stake = msg.value;
        // A node that quit and joins again starts with fresh QoS, like a new node.
        node.health = Dispatch.HEALTH_ONE;
        node.scoreCount = 0;
        node.scoreSum = 0;
        node.recentScores = 0;
        node.lastModelsHash = bytes32(0);
        for (uint256 i = 0; i < modelIDs.length; ++i) {
            _hasModel[msg.sender][modelIDs[i]] = true;
        }
        _nodeCount += 1;
        _totalStaked += msg.value;
        emit NodeJoined(msg.sender, gpuID, gpuName, gpuVRAM, msg.value);
        _becomeAvailable(msg.sender, node);
    }

    /// @inheritdoc INodeRegistry
    function quit() external {
        Node storage node = _nodes[msg.sender];
        NodeStatus status = node.status;
        if (status == NodeStatus.Available || status == NodeStatus.Paused) {
            _removeNode(msg.sender, node);
        } else if (status == NodeStatus.Busy || status == NodeStatus.PendingPause) {
            _setStatus(msg.sender, node, NodeStatus.PendingQuit);
        } else {
            revert NodeInvalidStatus(msg.sender, status);
        }
    }

    /// @inheritdoc INodeRegistry
    function pause() external {
        Node storage node = _nodes[msg.sender];
        NodeStatus status = node.status;
        if (status == NodeStatus.Available) {
            _removeAvailable(msg.sender);
            _setStatus(msg.sender, node, NodeStatus.Paused);
            emit NodePaused(msg.sender);
        } else if (status == NodeStatus.Busy) {
            _setStatus(msg.sender, node, NodeStatus.PendingPause);
        } else {
            revert NodeInvalidStatus(msg.sender, status);
        }
    }

    /// @inheritdoc INodeRegistry
    function resume() external {
        Node storage node = _nodes[msg.sender];
        NodeStatus status = node.status;
        if (status == NodeStatus.Paused) {
            emit NodeResumed(msg.sender);
            _becomeAvailable(msg.sender, node);
        } else if (status == NodeStatus.PendingPause) {
            _setStatus(msg.sender, node, NodeStatus.Busy);
        } else {
            revert NodeInvalidStatus(msg.sender, status);
        }
    }

    /// @inheritdoc INodeRegistry
    function reportModelDownloaded(bytes32 modelID) external {
        NodeStatus status = _nodes[msg.sender].status;
        if (status == NodeStatus.Quit) revert NodeInvalidStatus(msg.sender, status);
        if (_hasModel[msg.sender][modelID]) revert NodeModelAlreadyHeld(msg.sender, modelID);
        // Selection reads this mapping directly, so the node is a local candidate from the next draw on (B9).
        _hasModel[msg.sender][modelID] = true;
        emit NodeModelDownloaded(msg.sender, modelID);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Task manager hooks
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc INodeRegistry
    function selectNode(
        TaskRequirements calldata req,
        uint256 randomness
    ) external onlyRole(TASK_MANAGER_ROLE) returns (address selected) {
        bytes32 modelsHash = Dispatch.modelsHash(req.modelIDs);
        (address[] memory candidates, uint256[] memory weights, uint256 total) = _candidates(req, modelsHash);
        if (total == 0) return address(0);
        uint256 r = randomness % total;
        for (uint256 i = 0; i < candidates.length; ++i) {
            if (r < weights[i]) {
                selected = candidates[i];
                break;
            }
            r -= weights[i];
        }
        _start(selected, _nodes[selected], modelsHash);
    }

    /// @inheritdoc INodeRegistry
    function startNode(address node, bytes32 modelsHash) external onlyRole(TASK_MANAGER_ROLE) {
        Node storage info = _nodes[node];
        if (info.status != NodeStatus.Available) revert NodeInvalidStatus(node, info.status);
        _start(node, info, modelsHash);
    }

    /// @inheritdoc INodeRegistry
    function releaseNode(
        address node,
        ReleaseOutcome outcome
    ) external onlyRole(TASK_MANAGER_ROLE) returns (bool available) {
        Node storage info = _nodes[node];
        if (outcome == ReleaseOutcome.Success) {
            uint256 raised = uint256(info.health) + 1_500;
            info.health = raised > Dispatch.HEALTH_ONE ? Dispatch.HEALTH_ONE : uint16(raised);
        } else if (outcome == ReleaseOutcome.Timeout) {
            info.health = uint16((uint256(info.health) * 3) / 10);
        }
        NodeStatus status = info.status;
        if (status == NodeStatus.Busy) {
            // Tell the caller instead of calling back: the task manager hands the node a queued task itself.
            _setStatus(node, info, NodeStatus.Available);
            _addAvailable(node);
            return true;
        } else if (status == NodeStatus.PendingPause) {
            _setStatus(node, info, NodeStatus.Paused);
            emit NodePaused(node);
        } else if (status == NodeStatus.PendingQuit) {
            _removeNode(node, info);
        } else {
            revert NodeInvalidStatus(node, status);
        }
    }

    /// @inheritdoc INodeRegistry
    function recordGroupScore(address node, uint8 score) external onlyRole(TASK_MANAGER_ROLE) {
        Node storage info = _nodes[node];
        uint256 recent = info.recentScores;
        uint256 sum = info.scoreSum;
        if (info.scoreCount == _SCORE_WINDOW) {
            // The oldest score sits in the top nibble of the 200-bit window.
            sum -= (recent >> ((_SCORE_WINDOW - 1) * 4)) & 0xF;
        } else {
            info.scoreCount += 1;
        }
        info.recentScores = ((recent << 4) | score) & _SCORE_MASK;
        info.scoreSum = uint16(sum + score);
    }

    /// @inheritdoc INodeRegistry
    function slash(
        address node,
        bytes32 taskIDCommitment
    ) external onlyRole(TASK_MANAGER_ROLE) returns (uint256 amount) {
        Node storage info = _nodes[node];
        NodeStatus status = info.status;
        if (status != NodeStatus.Busy && status != NodeStatus.PendingPause && status != NodeStatus.PendingQuit) {
            revert NodeInvalidStatus(node, status);
        }
        amount = info.stake;
        info.stake = 0;
        _totalStaked -= amount;
        _nodeCount -= 1;
        _setStatus(node, info, NodeStatus.Quit);
        emit NodeSlashed(node, taskIDCommitment, amount);
        _credit(_config.treasury, amount);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc INodeRegistry
    function getNode(address node) external view returns (NodeInfo memory) {
        Node storage info = _nodes[node];
        return
            NodeInfo({
                status: info.status,
                gpuID: info.gpuID,
                gpuVRAM: info.gpuVRAM,
                version: info.version,
                stake: info.stake,
                publicKey: info.publicKey,
                health: info.health,
                scoreCount: info.scoreCount,
                scoreSum: info.scoreSum,
                lastModelsHash: info.lastModelsHash
            });
    }

    /// @inheritdoc INodeRegistry
    function nodePublicKey(address node) external view returns (uint256[2] memory) {
        return _nodes[node].publicKey;
    }

    /// @inheritdoc INodeRegistry
    function nodeStatus(address node) external view returns (NodeStatus) {
        return _nodes[node].status;
    }

    /// @inheritdoc INodeRegistry
    function hasModel(address node, bytes32 modelID) external view returns (bool) {
        return _hasModel[node][modelID];
    }

    /// @inheritdoc INodeRegistry
    function isEligible(address node, TaskRequirements calldata req) external view returns (bool) {
        Node storage info = _nodes[node];
        return info.status == NodeStatus.Available && _eligible(info, req);
    }

    /// @inheritdoc INodeRegistry
    function weightOf(address node) external view returns (uint256) {
        return _weight(_nodes[node]);
    }

    /// @inheritdoc INodeRegistry
    function nodeCount() external view returns (uint256) {
        return _nodeCount;
    }

    /// @inheritdoc INodeRegistry
    function availableNodeCount() external view returns (uint256) {
        return _available.length;
    }

    /// @inheritdoc INodeRegistry
    function totalStaked() external view returns (uint256) {
        return _totalStaked;
    }

    /// @inheritdoc INodeRegistry
    function config() external view returns (RegistryConfig memory) {
        return _config;
    }

    /// @inheritdoc INodeRegistry
    function taskManager() external view returns (address) {
        return _taskManager;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------------------

    function _setConfig(RegistryConfig memory newConfig) private {
        if (newConfig.stakeCap == 0 || newConfig.treasury == address(0) || newConfig.sameModelsBonusBps > 10_000) {
            revert RegistryConfigInvalid();
        }
        _config = newConfig;
        emit RegistryConfigUpdated(newConfig);
    }

    function _eligible(Node storage node, TaskRequirements calldata req) private view returns (bool) {
        return
            node.health >= Dispatch.HEALTH_MIN &&
            Dispatch.versionCompatible(node.version, req.version) &&
            Dispatch.hardwareCompatible(
                node.gpuID,
                node.gpuVRAM,
                req.requiredGPU,
                req.requiredGPUVRAM,
                req.minimumVRAM
            );
    }

    function _weight(Node storage node) private view returns (uint256) {
        return Dispatch.staticWeight(node.stake, _config.stakeCap, node.scoreSum, node.scoreCount, node.health);
    }

    /// @dev Eligible Available nodes with their weights; when any of them holds every model of the task, the
    /// others get weight zero (model locality, DESIGN §6).
    function _candidates(
        TaskRequirements calldata req,
        bytes32 modelsHash
    ) private view returns (address[] memory candidates, uint256[] memory weights, uint256 total) {
        uint256 n = _available.length;
        candidates = new address[](n);
        weights = new uint256[](n);
        bool[] memory local = new bool[](n);
        bool anyLocal;
        for (uint256 i = 0; i < n; ++i) {
            address candidate = _available[i];
            candidates[i] = candidate;
            (weights[i], local[i]) = _candidateWeight(candidate, req, modelsHash);
            if (weights[i] != 0 && local[i]) anyLocal = true;
        }
        for (uint256 i = 0; i < n; ++i) {
            if (anyLocal && !local[i]) weights[i] = 0;
            total += weights[i];
        }
    }

    /// @dev W = M · S·Q/(S+Q) for an eligible node (zero otherwise), and whether it holds every model.
    function _candidateWeight(
        address candidate,
        TaskRequirements calldata req,
        bytes32 modelsHash
    ) private view returns (uint256 weight, bool holdsAll) {
        Node storage node = _nodes[candidate];
        if (!_eligible(node, req)) return (0, false);
        weight = _weight(node);
        if (req.modelIDs.length != 0 && node.lastModelsHash == modelsHash) {
            weight += (weight * _config.sameModelsBonusBps) / 10_000;
        }
        holdsAll = _holdsAll(candidate, req.modelIDs);
    }

    function _holdsAll(address node, bytes32[] calldata modelIDs) private view returns (bool) {
        for (uint256 i = 0; i < modelIDs.length; ++i) {
            if (!_hasModel[node][modelIDs[i]]) return false;
        }
        return true;
    }

    function _start(address node, Node storage info, bytes32 modelsHash) private {
        _removeAvailable(node);
        info.lastModelsHash = modelsHash;
        _setStatus(node, info, NodeStatus.Busy);
    }

    /// @dev Marks the node Available and lets the task manager hand it a queued task (join and resume only;
    /// a node released by the task manager is handled by the task manager itself).
    function _becomeAvailable(address node, Node storage info) private {
        _setStatus(node, info, NodeStatus.Available);
        _addAvailable(node);
        if (_taskManager != address(0)) ITaskManager(_taskManager).onNodeAvailable(node);
    }

    function _removeNode(address node, Node storage info) private {
        uint256 stake = info.stake;
        info.stake = 0;
        _totalStaked -= stake;
        _nodeCount -= 1;
        _removeAvailable(node);
        _setStatus(node, info, NodeStatus.Quit);
        emit NodeQuit(node, stake);
        _credit(node, stake);
    }

    function _setStatus(address node, Node storage info, NodeStatus to) private {
        emit NodeStatusChanged(node, info.status, to);
        info.status = to;
    }

    function _addAvailable(address node) private {
        _available.push(node);
        _availableIndex[node] = _available.length;
    }

    function _removeAvailable(address node) private {
        uint256 indexPlusOne = _availableIndex[node];
        if (indexPlusOne == 0) return;
        uint256 last = _available.length;
        if (indexPlusOne != last) {
            address moved = _available[last - 1];
            _available[indexPlusOne - 1] = moved;
            _availableIndex[moved] = indexPlusOne;
        }
        _available.pop();
        delete _availableIndex[node];
    }
}
