// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {ITaskManager} from "../interfaces/ITaskManager.sol";
import {ITaskTypes} from "../interfaces/ITaskTypes.sol";

/// @title A node that joins from its constructor (test and benchmark only)
/// @notice Lets `ScaleBench` put thousands of nodes into the registry in a few transactions. Each node is a separate
/// account that calls the real `join`, so the registry's state is exactly what thousands of real joins leave.
contract BenchNode {
    constructor(
        INodeRegistry registry,
        uint64 vram,
        uint32[3] memory version,
        uint256[2] memory publicKey,
        uint256[2] memory keyWitness,
        bytes32[] memory models
    ) payable {
        registry.join{value: msg.value}("NVIDIA GeForce RTX 4090", vram, version, publicKey, keyWitness, models);
    }
}

/// @title Bulk setup for `scripts/bench-scale.ts` (test and benchmark only, never deployed by deploy/)
/// @notice Joins many nodes, creates many tasks and dispatches them (into the queue when no node is eligible) through
/// the contracts' real external functions, in batches that fit a transaction. The measured calls are made by the
/// benchmark itself, not through this contract.
contract ScaleBench {
    /// @dev A valid Baby Jubjub key (Base8), for nodes and tasks.
    uint256 private constant _BJJ_X = 5299619240641551281634865583518297030282874472190772894086521144482721001553;
    uint256 private constant _BJJ_Y = 16950150798460657717958625567821834550301663161624707787222815936182638968203;
    /// @dev Its subgroup witness R ([8]R = the key).
    uint256 private constant _BJJ_R_X = 14983708237372537934307712296172313237814584764465642185306010953083014944823;
    uint256 private constant _BJJ_R_Y = 2997955667916190954169357132153638145915367433663202014407885436612035056202;

    /// @notice Joins `count` nodes (24 GB, version 2.5.0, holding `model`) with stakes that vary deterministically
    /// between `minimumStake` and 10 × `minimumStake`; `msg.value` must cover them (the rest is kept).
    function joinNodes(
        INodeRegistry registry,
        uint256 count,
        uint256 first,
        uint256 minimumStake,
        bytes32 model
    ) external payable {
        bytes32[] memory models = new bytes32[](1);
        models[0] = model;
        for (uint256 i = 0; i < count; ++i) {
            uint256 stake = minimumStake + ((uint256(keccak256(abi.encode(first + i))) % 10) * minimumStake);
            new BenchNode{value: stake, salt: bytes32(first + i)}(
                registry,
                24,
                [uint32(2), 5, 0],
                [_BJJ_X, _BJJ_Y],
                [_BJJ_R_X, _BJJ_R_Y],
                models
            );
        }
    }

    /// @notice Creates `count` SD tasks numbered from `first`, with fees that vary deterministically from 1 to 1,000 ×
    /// `feeUnit`; each also pays the task manager's `dispatchCost`, and `msg.value` must cover it all. The tasks stay
    /// Pending: the first one enrolled while no word is in flight requests its epoch's word, the others enrol in the
    /// next epoch. `dispatchTasks` (below) dispatches them once their words have landed.
    function createTasks(
        ITaskManager tm,
        uint256 count,
        uint256 first,
        bytes32 model,
        uint256 feeUnit
    ) external payable {
        ITaskManager.TaskInput memory input = _baseInput(model);
        tm.registerAppKey(input.appPublicKey, [_BJJ_R_X, _BJJ_R_Y]);
        uint256 cost = tm.dispatchCost();
        for (uint256 i = 0; i < count; ++i) {
            bytes32 guid = _number(input, first + i);
            uint256 fee = (1 + (uint256(guid) % 1_000)) * feeUnit;
            tm.createTask{value: fee + cost}(input);
        }
    }

    /// @notice Calls the task manager's real `dispatchTasks` with the inputs of the tasks `first` to
    /// `first + count - 1` of `createTasks` (the pending tasks, oldest first, must be exactly these). Stops, as
    /// `dispatchTasks` does, at the first task whose word has not landed.
    /// @return dispatched What `dispatchTasks` returned.
    function dispatchTasks(
        ITaskManager tm,
        uint256 count,
        uint256 first,
        bytes32 model
    ) external returns (uint256 dispatched) {
        ITaskManager.TaskInput[] memory inputs = new ITaskManager.TaskInput[](count);
        for (uint256 i = 0; i < count; ++i) {
            inputs[i] = _baseInput(model);
            _number(inputs[i], first + i);
        }
        return tm.dispatchTasks(inputs);
    }

    /// @dev The group every benchmark task belongs to: SD, one model, 8 GB, version 2.0.0, size 1.
    function _baseInput(bytes32 model) private pure returns (ITaskManager.TaskInput memory input) {
        input.taskType = ITaskTypes.TaskType.SD;
        input.modelIDs = new bytes32[](1);
        input.modelIDs[0] = model;
        input.minimumVRAM = 8;
        input.taskVersion = [uint32(2), 0, 0];
        input.taskSize = 1;
        input.appPublicKey = [_BJJ_X, _BJJ_Y];
    }

    /// @dev Gives `input` the nonce and commitment of task number `n`; returns its GUID.
    function _number(ITaskManager.TaskInput memory input, uint256 n) private pure returns (bytes32 guid) {
        guid = keccak256(abi.encode("bench-guid", n));
        input.nonce = keccak256(abi.encode("bench-nonce", n));
        input.taskIDCommitment = keccak256(abi.encodePacked(guid, input.nonce));
    }

    /// @notice Lets the contract take refunds (`withdraw` of the task manager).
    receive() external payable {}
}
