// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {ITaskManager} from "./interfaces/ITaskManager.sol";
import {BabyJubjub} from "./libraries/BabyJubjub.sol";
import {Dispatch} from "./libraries/Dispatch.sol";
import {SumTree} from "./libraries/SumTree.sol";
import {PullPayments} from "./PullPayments.sol";

/// @title NodeRegistry
/// @notice Stake, hardware, keys, models, QoS and slashing of the network's GPU nodes, and the weighted random
/// draw that dispatches a task to one of them.
/// @dev Selection is O(log n) (DESIGN §6). Every joined node sits in two sum trees ("pools") over its static weight
/// S·Q/(S+Q): the pool of its GPU model and the pool of its VRAM tier (`Dispatch.vramTier`). Its weight there is
/// zero unless it is Available with H >= 0.1, so a draw only ever lands on selectable nodes. A task that requires a
/// GPU model draws from that model's pool; any other task draws across the VRAM tiers that can hold its minimum
/// (the first of them may hold smaller cards). The task-specific conditions (VRAM within the first tier, version,
/// model locality, the same-models factor M) are applied by rejection sampling; see `selectNode`.
contract NodeRegistry is INodeRegistry, AccessControl, PullPayments {
    using SumTree for SumTree.Tree;

    /// @notice The role of the task manager contract: select, start, release, score and slash nodes.
    bytes32 public constant TASK_MANAGER_ROLE = keccak256("TASK_MANAGER_ROLE");
    /// @notice A role nobody holds and nobody can ever be granted (it is its own admin): the admin role of
    /// `TASK_MANAGER_ROLE`, so that once `setTaskManager` has wired the task manager nobody, the admin included, can
    /// grant or revoke that role again (DESIGN §13.6).
    bytes32 public constant UNGRANTABLE_ROLE = keccak256("UNGRANTABLE_ROLE");
    /// @notice Time in which a node's health deficit 1 − H halves (DESIGN §13.3: health recovers with time).
    uint256 public constant HEALTH_HALF_LIFE = 6 hours;

    /// @notice Most models a node may hold (bounds the gas a node adds to the calls that start or free it).
    uint256 public constant MAX_MODELS_PER_NODE = 16;
    /// @notice Draws that look for a node holding every model of the task before locality is given up.
    uint256 public constant LOCAL_DRAWS = 32;
    /// @notice Draws that look for any eligible node before the task is queued.
    uint256 public constant ELIGIBLE_DRAWS = 32;
    /// @notice When fewer than this many Available nodes hold a task's model, more are asked to download it.
    uint256 public constant MIN_MODEL_HOLDERS = 3;
    /// @notice How many nodes are asked to download a scarce model, at most, per task and model.
    uint256 public constant DOWNLOAD_REQUESTS = 10;
    /// @notice Draws spent looking for those nodes, per task and model, per node to ask.
    uint256 public constant DOWNLOAD_DRAWS_PER_REQUEST = 2;

    /// @dev Group scores held per node; the mean of the last `_SCORE_WINDOW` is Q_long (DESIGN §7).
    uint256 private constant _SCORE_WINDOW = 50;
    /// @dev The window is packed 4 bits per score (scores are 0..10) into one word: 50 × 4 = 200 bits.
    uint256 private constant _SCORE_MASK = (uint256(1) << (_SCORE_WINDOW * 4)) - 1;
    /// @dev Kick out when Q_long < 2 over a full window, i.e. when the sum of 50 scores is below 100.
    uint256 private constant _KICK_SCORE_SUM = 2 * _SCORE_WINDOW;
    /// @dev The never-cleared top bit of counters and packed totals (see `_availableHolders`).
    uint256 private constant _MARKER = uint256(1) << 255;
    uint256 private constant _TOTAL_MASK = type(uint64).max >> 1;

    /// @dev Slot 0 holds everything a draw checks (status, H, scores, VRAM, version) and the GPU-pool position.
    struct Node {
        NodeStatus status;
        uint16 health;
        uint8 scoreCount;
        uint16 scoreSum;
        uint64 gpuVRAM;
        uint32[3] version;
        // Position in the GPU-model pool (valid while joined).
        uint32 gpuPos;
        uint8 tier;
        // Q_long fell below 2: the node is removed when its current task ends.
        bool kickPending;
        bytes32 gpuID;
        uint96 stake;
        // When `health` was last brought up to date (zero: never joined). Health recovers lazily from here.
        uint40 healthAt;
        uint256[2] publicKey;
        bytes32 lastModelsHash;
        // The last 50 group scores, 4 bits each.
        uint200 recentScores;
        // Position in the VRAM-tier pool (valid while joined).
        uint32 tierPos;
    }

    /// @dev A sum tree of nodes and who sits at each position.
    struct Pool {
        SumTree.Tree tree;
        mapping(uint256 pos => address node) nodeAt;
    }

    /// @dev Where a task's draw comes from: one GPU-model pool, or the VRAM tiers `firstTier` and up.
    struct Source {
        bool byGPU;
        bytes32 gpuID;
        uint256 firstTier;
        uint256 total;
        uint256[4] tierTotals;
    }

    mapping(address node => Node info) private _nodes;
    mapping(address node => mapping(bytes32 modelID => bool held)) private _hasModel;
    mapping(address node => bytes32[] modelIDs) private _models;
    /// @dev Available nodes holding each model (for locality and pre-download), with `_MARKER` set: counters and
    /// totals keep a never-cleared top bit, so that falling to zero and back (every node busy, then one freed) costs
    /// 2,900-gas writes instead of 20,000-gas ones.
    mapping(bytes32 modelID => uint256 count) private _availableHolders;
    mapping(bytes32 gpuID => Pool pool) private _gpuPools;
    Pool[16] private _tierPools;
    /// @dev The total weight of each tier pool, four 64-bit fields per word (63-bit totals, bit 255 is `_MARKER`), so
    /// a draw reads 4 words, not 16 roots.
    uint256[4] private _tierTotals;
    /// @dev With `_MARKER` set.
    uint256 private _availableCount;
    uint256 private _nodeCount;
    uint256 private _totalStaked;
    RegistryConfig private _config;
    address private _taskManager;
    /// @dev Receiver of slashed stakes, fixed at deployment: `setConfig` cannot change it (DESIGN §13.6).
    address private immutable _TREASURY;

    /// @param admin Receives `DEFAULT_ADMIN_ROLE` (parameters, wiring the task manager).
    /// @param initialConfig The registry parameters.
    /// `initialConfig.treasury` is the receiver of slashed stakes for the contract's whole life.
    constructor(address admin, RegistryConfig memory initialConfig) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        // Nobody holds UNGRANTABLE_ROLE and only its holders could grant it: TASK_MANAGER_ROLE is granted once, by
        // `setTaskManager`, and never again (not even by DEFAULT_ADMIN_ROLE, which would otherwise administer it).
        _setRoleAdmin(UNGRANTABLE_ROLE, UNGRANTABLE_ROLE);
        _setRoleAdmin(TASK_MANAGER_ROLE, UNGRANTABLE_ROLE);
        if (initialConfig.treasury == address(0)) revert RegistryConfigInvalid();
        _TREASURY = initialConfig.treasury;
        _setConfig(initialConfig);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Administration
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Wires the task manager once: it gets `TASK_MANAGER_ROLE` and is told when nodes become available.
    /// @dev Callable once: the role can never be granted again (see `UNGRANTABLE_ROLE`), so the admin cannot make
    /// itself a task manager and slash stakes.
    /// @param manager The task manager contract.
    function setTaskManager(address manager) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_taskManager != address(0)) revert RegistryTaskManagerAlreadySet(_taskManager);
        if (manager == address(0)) revert RegistryTaskManagerZero();
        _taskManager = manager;
        _grantRole(TASK_MANAGER_ROLE, manager);
    }

    /// @notice Replaces the registry parameters.
    /// @dev The pools hold each node's weight as of its last update, so a new `stakeCap` reaches a node's weight in
    /// the draw when the node next changes (becomes Available, is started, is scored); `weightOf` shows it at once.
    /// The same-models bonus applies to the next draw. The treasury is fixed at deployment: `newConfig.treasury` must
    /// repeat it (`RegistryTreasuryFixed` otherwise).
    /// @param newConfig The new parameters.
    function setConfig(RegistryConfig calldata newConfig) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newConfig.treasury != _TREASURY) revert RegistryTreasuryFixed(_TREASURY, newConfig.treasury);
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
        uint256[2] calldata keyWitness,
        bytes32[] calldata modelIDs
    ) external payable {
        _requirePoolOpen();
        Node storage node = _nodes[msg.sender];
        if (node.status != NodeStatus.Quit) revert NodeInvalidStatus(msg.sender, node.status);
        if (msg.value < _config.minimumStake) revert NodeStakeTooLow(msg.value, _config.minimumStake);
        if (gpuVRAM == 0) revert NodeInvalidProfile(msg.sender);
        // A key outside the prime-order subgroup would make every proof involving it impossible, the node's own
        // ParamsConsistency proof included, and so make the node unslashable (DESIGN §13.4).
        if (!BabyJubjub.isSubgroupKey(publicKey, keyWitness)) revert NodeKeyNotInSubgroup(msg.sender, publicKey);
        if (modelIDs.length > MAX_MODELS_PER_NODE) {
            revert NodeTooManyModels(msg.sender, modelIDs.length, MAX_MODELS_PER_NODE);
        }

        bytes32 gpuID = keccak256(bytes(gpuName));
        node.gpuID = gpuID;
        node.gpuVRAM = gpuVRAM;
        node.version = version;
        node.publicKey = publicKey;
        node.stake = SafeCast.toUint96(msg.value);
        // QoS history (health and the score window) stays with the address across quit and re-join (DESIGN §13.3):
        // quitting does not wipe timeouts or a slash. A node that never joined starts at H = 1.
        if (node.healthAt == 0) node.health = Dispatch.HEALTH_ONE;
        else _recoverHealth(node);
        node.healthAt = uint40(block.timestamp); // also marks the address as having joined once
        node.lastModelsHash = bytes32(0);
        node.kickPending = false;
        for (uint256 i = 0; i < modelIDs.length; ++i) {
            if (_hasModel[msg.sender][modelIDs[i]]) continue; // listed twice
            _hasModel[msg.sender][modelIDs[i]] = true;
            _models[msg.sender].push(modelIDs[i]);
        }
        // Take positions in both pools (weight zero until the node is Available).
        uint256 tier = Dispatch.vramTier(gpuVRAM);
        node.tier = uint8(tier);
        node.gpuPos = uint32(_insert(_gpuPools[gpuID], msg.sender));
        node.tierPos = uint32(_insert(_tierPools[tier], msg.sender));
        _nodeCount += 1;
        _totalStaked += msg.value;
        emit NodeJoined(msg.sender, gpuID, gpuName, gpuVRAM, msg.value);
        _becomeAvailable(msg.sender, node);
    }

    /// @inheritdoc INodeRegistry
    function quit() external {
        _requirePoolOpen();
        Node storage node = _nodes[msg.sender];
        NodeStatus status = node.status;
        if (status == NodeStatus.Available || status == NodeStatus.Paused) {
            uint256 stake = _removeNode(msg.sender, node);
            emit NodeQuit(msg.sender, stake);
        } else if (status == NodeStatus.Busy || status == NodeStatus.PendingPause) {
            _setStatus(msg.sender, node, NodeStatus.PendingQuit);
        } else {
            revert NodeInvalidStatus(msg.sender, status);
        }
    }

    /// @inheritdoc INodeRegistry
    function pause() external {
        _requirePoolOpen();
        Node storage node = _nodes[msg.sender];
        NodeStatus status = node.status;
        if (status == NodeStatus.Available) {
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
        _requirePoolOpen();
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
        _requirePoolOpen();
        NodeStatus status = _nodes[msg.sender].status;
        if (status == NodeStatus.Quit) revert NodeInvalidStatus(msg.sender, status);
        if (_hasModel[msg.sender][modelID]) revert NodeModelAlreadyHeld(msg.sender, modelID);
        if (_models[msg.sender].length >= MAX_MODELS_PER_NODE) {
            revert NodeTooManyModels(msg.sender, _models[msg.sender].length + 1, MAX_MODELS_PER_NODE);
        }
        // Selection reads this mapping and the holder count directly, so the node is a local candidate from the
        // next draw on (B9).
        _hasModel[msg.sender][modelID] = true;
        _models[msg.sender].push(modelID);
        if (status == NodeStatus.Available) _availableHolders[modelID] = (_availableHolders[modelID] + 1) | _MARKER;
        emit NodeModelDownloaded(msg.sender, modelID);
    }

    /// @inheritdoc INodeRegistry
    function refreshHealth(address node) external {
        _requirePoolOpen();
        Node storage info = _nodes[node];
        NodeStatus status = info.status;
        if (status == NodeStatus.Quit) revert NodeInvalidStatus(node, status);
        _recoverHealth(info);
        if (status == NodeStatus.Available) _refreshWeight(info);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Task manager hooks
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc INodeRegistry
    /// @dev Rejection sampling, each attempt with fresh randomness keccak256(randomness, attempt):
    /// 1. Locality. When every model of the task is held by some Available node, up to `LOCAL_DRAWS` draws from the
    ///    source pool(s), proportional to the static weight W; a drawn node is accepted when it is eligible, holds
    ///    every model, and passes the M test (accepted with probability M / M_max, M_max = 1 + bonus). Conditional on
    ///    acceptance the node is drawn with probability proportional to M·W among the eligible nodes holding every
    ///    model: exactly DESIGN §6.
    /// 2. Otherwise up to `ELIGIBLE_DRAWS` draws accepting any eligible node that passes the M test: proportional to
    ///    M·W among all eligible nodes.
    /// The attempts are bounded, so an attempt budget can run out while candidates exist: with a fraction p of the
    /// source's weight acceptable, phase 1 gives up with probability (1 - p)^32 (below 10^-4 for p >= 0.25) and the
    /// task then goes to a non-local node (phase 2) or, if phase 2 also gives up, to the queue, from which the next
    /// node that becomes available takes it. Before the draw, every model of the task held by fewer than
    /// `MIN_MODEL_HOLDERS` Available nodes is announced with `DownloadModel` to up to `DOWNLOAD_REQUESTS` eligible
    /// nodes that lack it, drawn from the same pools (at most `DOWNLOAD_DRAWS_PER_REQUEST` draws per node to ask, and
    /// only when some Available node lacks the model).
    function selectNode(
        TaskRequirements calldata req,
        uint256 randomness
    ) external onlyRole(TASK_MANAGER_ROLE) returns (address selected) {
        Source memory source = _source(req);
        if (source.total == 0) return address(0);
        bytes32 modelsHash = Dispatch.modelsHash(req.modelIDs);
        bool local = req.modelIDs.length != 0;
        for (uint256 i = 0; i < req.modelIDs.length; ++i) {
            uint256 holders = _availableHolders[req.modelIDs[i]] & ~_MARKER;
            if (holders == 0) local = false;
            // Only when some Available node lacks the model: else there is nobody to ask.
            uint256 available = _availableCount & ~_MARKER;
            if (holders < MIN_MODEL_HOLDERS && holders < available) {
                _requestDownloads(req, source, req.modelIDs[i], available - holders, randomness, i);
            }
        }
        uint256 bonus = _config.sameModelsBonusBps;
        uint256 attempt;
        if (local) {
            for (; attempt < LOCAL_DRAWS; ++attempt) {
                (address node, bool accept) = _attempt(req, source, modelsHash, bonus, randomness, attempt);
                if (accept && _holdsAll(node, req.modelIDs)) {
                    selected = node;
                    break;
                }
            }
        }
        if (selected == address(0)) {
            for (uint256 end = attempt + ELIGIBLE_DRAWS; attempt < end; ++attempt) {
                (address node, bool accept) = _attempt(req, source, modelsHash, bonus, randomness, attempt);
                if (accept) {
                    selected = node;
                    break;
                }
            }
        }
        if (selected != address(0)) _start(selected, _nodes[selected], modelsHash);
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
        NodeStatus status = info.status;
        if (status != NodeStatus.Busy && status != NodeStatus.PendingPause && status != NodeStatus.PendingQuit) {
            revert NodeInvalidStatus(node, status);
        }
        if (outcome != ReleaseOutcome.Neutral) {
            _recoverHealth(info);
            if (outcome == ReleaseOutcome.Success) {
                uint256 raised = uint256(info.health) + 1_500;
                info.health = raised > Dispatch.HEALTH_ONE ? Dispatch.HEALTH_ONE : uint16(raised);
            } else {
                info.health = uint16((uint256(info.health) * 3) / 10);
                info.healthAt = uint40(block.timestamp);
                // A timeout is the node's fault: a 0 in its score window, so the kick-out can happen (DESIGN §13.7).
                if (_pushScore(info, 0)) info.kickPending = true;
            }
        }
        if (info.kickPending) {
            _kickOut(node, info);
        } else if (status == NodeStatus.Busy) {
            // Tell the caller instead of calling back: the task manager hands the node a queued task itself.
            _setStatus(node, info, NodeStatus.Available);
            return true;
        } else if (status == NodeStatus.PendingPause) {
            _setStatus(node, info, NodeStatus.Paused);
            emit NodePaused(node);
        } else {
            uint256 stake = _removeNode(node, info);
            emit NodeQuit(node, stake);
        }
    }

    /// @inheritdoc INodeRegistry
    function recordGroupScore(address node, uint8 score) external onlyRole(TASK_MANAGER_ROLE) {
        Node storage info = _nodes[node];
        NodeStatus status = info.status;
        if (status == NodeStatus.Quit) revert NodeInvalidStatus(node, status);
        if (_pushScore(info, score)) {
            // Q_long < 2 over a full window (DESIGN §7): out, stake returned. A node holding a task leaves when the
            // task ends (`releaseNode`), so the task manager can still settle it.
            if (status == NodeStatus.Available || status == NodeStatus.Paused) _kickOut(node, info);
            else info.kickPending = true;
        } else if (status == NodeStatus.Available) {
            _refreshWeight(info);
        }
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
        // The slash is the node's fault: a 0 in the window it keeps if it joins again (DESIGN §13.7).
        _pushScore(info, 0);
        info.kickPending = false;
        _totalStaked -= amount;
        _nodeCount -= 1;
        _setStatus(node, info, NodeStatus.Quit);
        _leavePools(node, info);
        emit NodeSlashed(node, taskIDCommitment, amount);
        // To the treasury fixed at deployment: nobody can redirect slashed stake (DESIGN §13.6).
        _credit(_TREASURY, amount);
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
    function nodeProfile(
        address node
    )
        external
        view
        returns (NodeStatus status, uint16 health, bytes32 gpuID, uint64 gpuVRAM, uint32[3] memory version)
    {
        Node storage info = _nodes[node];
        return (info.status, info.health, info.gpuID, info.gpuVRAM, info.version);
    }

    /// @inheritdoc INodeRegistry
    function nodePublicKey(address node) external view returns (uint256[2] memory) {
        return _nodes[node].publicKey;
    }

    /// @inheritdoc INodeRegistry
    function isSubgroupKey(uint256[2] calldata key, uint256[2] calldata witness) external pure returns (bool) {
        return BabyJubjub.isSubgroupKey(key, witness);
    }

    /// @inheritdoc INodeRegistry
    function healthOf(address node) external view returns (uint256) {
        Node storage info = _nodes[node];
        return _recoveredHealth(info.health, info.healthAt);
    }

    /// @inheritdoc INodeRegistry
    function treasury() external view returns (address) {
        return _TREASURY;
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
    function availableModelHolders(bytes32 modelID) external view returns (uint256) {
        return _availableHolders[modelID] & ~_MARKER;
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
    function drawWeightOf(address node) external view returns (uint256) {
        Node storage info = _nodes[node];
        if (info.status == NodeStatus.Quit) return 0;
        return _gpuPools[info.gpuID].tree.weightAt(info.gpuPos);
    }

    /// @inheritdoc INodeRegistry
    function nodeCount() external view returns (uint256) {
        return _nodeCount;
    }

    /// @inheritdoc INodeRegistry
    function availableNodeCount() external view returns (uint256) {
        return _availableCount & ~_MARKER;
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
    // Internals: selection
    // ---------------------------------------------------------------------------------------------------------

    function _setConfig(RegistryConfig memory newConfig) private {
        if (newConfig.stakeCap == 0 || newConfig.treasury == address(0) || newConfig.sameModelsBonusBps > 10_000) {
            revert RegistryConfigInvalid();
        }
        _config = newConfig;
        emit RegistryConfigUpdated(newConfig);
    }

    /// @dev The pool a word in flight (or a landed word whose tasks wait for dispatch) draws from must stay as it was
    /// when the word was requested (docs/randomness.md): changes a node makes wait, with `TaskPoolFrozen`.
    function _requirePoolOpen() private view {
        if (_taskManager != address(0)) ITaskManager(_taskManager).requirePoolOpen();
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

    /// @dev Q_long over a window not yet full counts each missing score as the new-node default 5 (DESIGN §7's
    /// "new node: 5", extended to a partial window). Without this, a new node whose first entry is a fault (a 0) would
    /// have Q_long = 0, weight 0, and never be drawn again: neither recovering nor reaching the 50 entries of a kick.
    function _weight(Node storage node) private view returns (uint256) {
        uint256 count = node.scoreCount;
        uint256 sum = node.scoreSum + Dispatch.DEFAULT_QLONG * (_SCORE_WINDOW - count);
        return Dispatch.staticWeight(node.stake, _config.stakeCap, sum, _SCORE_WINDOW, node.health);
    }

    /// @dev The pools a task draws from and their total weight.
    function _source(TaskRequirements calldata req) private view returns (Source memory source) {
        if (req.requiredGPU != bytes32(0)) {
            source.byGPU = true;
            source.gpuID = req.requiredGPU;
            source.total = _gpuPools[req.requiredGPU].tree.total();
        } else {
            source.firstTier = Dispatch.vramTier(req.minimumVRAM);
            // Only the words of the tiers drawn from.
            for (uint256 word = source.firstTier >> 2; word < 4; ++word) source.tierTotals[word] = _tierTotals[word];
            for (uint256 tier = source.firstTier; tier < Dispatch.VRAM_TIERS; ++tier) {
                source.total += _tierTotal(source.tierTotals, tier);
            }
        }
    }

    /// @dev One weighted draw from the source: a node with non-zero weight, i.e. Available with H >= 0.1.
    function _draw(Source memory source, uint256 value) private view returns (address node) {
        if (source.byGPU) {
            Pool storage pool = _gpuPools[source.gpuID];
            return pool.nodeAt[pool.tree.draw(value)];
        }
        for (uint256 tier = source.firstTier; ; ++tier) {
            uint256 tierTotal = _tierTotal(source.tierTotals, tier);
            if (value < tierTotal) {
                Pool storage pool = _tierPools[tier];
                return pool.nodeAt[pool.tree.draw(value)];
            }
            value -= tierTotal;
        }
    }

    /// @dev One attempt: a weighted draw, then the eligibility check and the M test.
    function _attempt(
        TaskRequirements calldata req,
        Source memory source,
        bytes32 modelsHash,
        uint256 bonus,
        uint256 randomness,
        uint256 attempt
    ) private view returns (address node, bool accept) {
        uint256 r = uint256(keccak256(abi.encode(randomness, attempt)));
        node = _draw(source, (r >> 128) % source.total);
        Node storage info = _nodes[node];
        if (!_eligible(info, req)) return (node, false);
        // M = 1 + bonus for a node whose last task used the same models, else 1: accept with probability
        // M / (1 + bonus).
        // Without models M is 1 for everyone (M_max = 1).
        if (bonus == 0 || req.modelIDs.length == 0 || info.lastModelsHash == modelsHash) return (node, true);
        accept = uint128(r) % (10_000 + bonus) < 10_000;
    }

    /// @dev Emits `DownloadModel` to up to `DOWNLOAD_REQUESTS` distinct eligible nodes lacking `modelID`, of the
    /// `lacking` Available nodes without it; with few of them, the draws are fewer too (two per node to ask).
    function _requestDownloads(
        TaskRequirements calldata req,
        Source memory source,
        bytes32 modelID,
        uint256 lacking,
        uint256 randomness,
        uint256 modelIndex
    ) private {
        uint256 wanted = lacking < DOWNLOAD_REQUESTS ? lacking : DOWNLOAD_REQUESTS;
        uint256 draws = DOWNLOAD_DRAWS_PER_REQUEST * wanted;
        address[] memory asked = new address[](wanted);
        uint256 count;
        for (uint256 i = 0; i < draws && count < wanted; ++i) {
            uint256 r = uint256(keccak256(abi.encode(randomness, "download", modelIndex, i)));
            address node = _draw(source, r % source.total);
            if (_hasModel[node][modelID] || !_eligible(_nodes[node], req)) continue;
            bool seen;
            for (uint256 j = 0; j < count; ++j) {
                if (asked[j] == node) {
                    seen = true;
                    break;
                }
            }
            if (seen) continue;
            asked[count++] = node;
            emit DownloadModel(node, modelID);
        }
    }

    function _holdsAll(address node, bytes32[] calldata modelIDs) private view returns (bool) {
        for (uint256 i = 0; i < modelIDs.length; ++i) {
            if (!_hasModel[node][modelIDs[i]]) return false;
        }
        return true;
    }

    function _tierTotal(uint256[4] memory totals, uint256 tier) private pure returns (uint256) {
        return (totals[tier >> 2] >> ((tier & 3) * 64)) & _TOTAL_MASK;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals: pools and status
    // ---------------------------------------------------------------------------------------------------------

    function _insert(Pool storage pool, address node) private returns (uint256 pos) {
        pos = pool.tree.insert(0);
        pool.nodeAt[pos] = node;
    }

    /// @dev Writes the node's draw weight (zero unless Available with H >= 0.1) into both of its pools.
    function _refreshWeight(Node storage info) private {
        uint256 weight;
        if (info.status == NodeStatus.Available && info.health >= Dispatch.HEALTH_MIN) {
            weight = Dispatch.treeWeight(_weight(info));
        }
        SumTree.Tree storage gpuTree = _gpuPools[info.gpuID].tree;
        if (gpuTree.weightAt(info.gpuPos) == weight) return; // both pools always hold the same weight
        gpuTree.update(info.gpuPos, weight);
        uint256 tier = info.tier;
        SumTree.Tree storage tierTree = _tierPools[tier].tree;
        tierTree.update(info.tierPos, weight);
        _storeTierTotal(tier, tierTree.total());
    }

    function _storeTierTotal(uint256 tier, uint256 total) private {
        uint256 shift = (tier & 3) * 64;
        uint256 word = _tierTotals[tier >> 2];
        _tierTotals[tier >> 2] = (word & ~(uint256(type(uint64).max) << shift)) | (total << shift) | _MARKER;
    }

    /// @dev Gives both pool positions back (the node's weight there is already zero: it is not Available).
    function _leavePools(address node, Node storage info) private {
        Pool storage gpuPool = _gpuPools[info.gpuID];
        gpuPool.tree.remove(info.gpuPos);
        delete gpuPool.nodeAt[info.gpuPos];
        Pool storage tierPool = _tierPools[info.tier];
        tierPool.tree.remove(info.tierPos);
        delete tierPool.nodeAt[info.tierPos];
        // Its models are forgotten too: a node that joins again declares what it holds then.
        bytes32[] storage models = _models[node];
        for (uint256 i = 0; i < models.length; ++i) delete _hasModel[node][models[i]];
        delete _models[node];
    }

    function _start(address node, Node storage info, bytes32 modelsHash) private {
        info.lastModelsHash = modelsHash;
        _setStatus(node, info, NodeStatus.Busy);
    }

    /// @dev Marks the node Available and lets the task manager hand it a queued task (join and resume only;
    /// a node released by the task manager is handled by the task manager itself).
    function _becomeAvailable(address node, Node storage info) private {
        _setStatus(node, info, NodeStatus.Available);
        if (_taskManager != address(0)) ITaskManager(_taskManager).onNodeAvailable(node);
    }

    /// @dev Quit (Available or Paused, or PendingQuit when its task ends): the stake is credited back.
    function _removeNode(address node, Node storage info) private returns (uint256 stake) {
        stake = info.stake;
        info.stake = 0;
        _totalStaked -= stake;
        _nodeCount -= 1;
        _setStatus(node, info, NodeStatus.Quit);
        _leavePools(node, info);
        _credit(node, stake);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals: QoS
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Adds `score` to the node's window of the last 50 group scores; true when the window is full and its mean
    /// Q_long is below 2 (the kick-out condition of DESIGN §7).
    function _pushScore(Node storage info, uint256 score) private returns (bool kick) {
        uint256 recent = info.recentScores;
        uint256 sum = info.scoreSum;
        if (info.scoreCount == _SCORE_WINDOW) {
            // The oldest score sits in the top nibble of the 200-bit window.
            sum -= (recent >> ((_SCORE_WINDOW - 1) * 4)) & 0xF;
        } else {
            info.scoreCount += 1;
        }
        sum += score;
        info.recentScores = uint200(((recent << 4) | score) & _SCORE_MASK);
        info.scoreSum = uint16(sum);
        return info.scoreCount == _SCORE_WINDOW && sum < _KICK_SCORE_SUM;
    }

    /// @dev Brings the stored health up to date (the recovery since `healthAt`) and restarts the clock. A node at
    /// H = 1 has nothing to recover and its `healthAt` is not read (it is set when H next drops), which spares healthy
    /// nodes a storage write on every release.
    function _recoverHealth(Node storage info) private {
        uint256 health = info.health;
        if (health == Dispatch.HEALTH_ONE) return;
        info.health = uint16(_recoveredHealth(health, info.healthAt));
        info.healthAt = uint40(block.timestamp);
    }

    /// @dev H after the time since `since`: the deficit 1 − H halves every `HEALTH_HALF_LIFE` (DESIGN §13.3), linear
    /// between two halvings (2^-f ≈ 1 − f/2 for 0 ≤ f < 1: continuous, monotone, at most 0.086 of the deficit
    /// above the exact curve). Lazy: nothing is written while a node waits.
    function _recoveredHealth(uint256 health, uint256 since) private view returns (uint256) {
        if (since == 0 || health >= Dispatch.HEALTH_ONE) return health;
        uint256 elapsed = block.timestamp - since;
        uint256 halvings = elapsed / HEALTH_HALF_LIFE;
        // The deficit is at most 10,000 < 2^14: after 14 halvings nothing is left.
        if (halvings >= 14) return Dispatch.HEALTH_ONE;
        uint256 deficit = (Dispatch.HEALTH_ONE - health) >> halvings;
        deficit -= (deficit * (elapsed % HEALTH_HALF_LIFE)) / (2 * HEALTH_HALF_LIFE);
        return Dispatch.HEALTH_ONE - deficit;
    }

    function _kickOut(address node, Node storage info) private {
        info.kickPending = false;
        uint256 stake = _removeNode(node, info);
        emit NodeKickedOut(node, stake);
    }

    /// @dev The only writer of a node's status. Keeps the Available count, the model holder counts and the pool
    /// weights in step with it.
    function _setStatus(address node, Node storage info, NodeStatus to) private {
        NodeStatus from = info.status;
        emit NodeStatusChanged(node, from, to);
        info.status = to;
        bool wasAvailable = from == NodeStatus.Available;
        bool isAvailable = to == NodeStatus.Available;
        if (wasAvailable != isAvailable) {
            bytes32[] storage models = _models[node];
            // The marker stays set: `| _MARKER` sets it on the first write, and the counts never go below zero.
            if (isAvailable) {
                _availableCount = (_availableCount + 1) | _MARKER;
                for (uint256 i = 0; i < models.length; ++i) {
                    _availableHolders[models[i]] = (_availableHolders[models[i]] + 1) | _MARKER;
                }
            } else {
                _availableCount -= 1;
                for (uint256 i = 0; i < models.length; ++i) _availableHolders[models[i]] -= 1;
            }
        }
        _refreshWeight(info);
    }
}
