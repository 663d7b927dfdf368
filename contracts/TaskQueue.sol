// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITaskQueue} from "./interfaces/ITaskQueue.sol";
import {Dispatch} from "./libraries/Dispatch.sol";
import {MaxHeap} from "./libraries/MaxHeap.sol";

/// @title TaskQueue
/// @notice The task manager's queue (DESIGN §10). The task manager deploys it in its constructor and is its owner.
/// @dev A max-heap per group (required GPU model or zero, the version's major, VRAM bucket), ordered by key, plus one
/// heap over every queued task ordered by the complement of the key, whose top is the next to evict. A task's key is
/// value << 48 | (2^48 - 1 - sequence): distinct per task, larger for a higher value and, at equal value, for the
/// earlier task. So dispatch takes the highest value, earliest first, and eviction the lowest value, latest first.
/// A requirement is rounded up to a bucket bound (`Dispatch.requirementBucket`), so every task of a bucket fits any
/// node of that tier or above (the last bucket is checked). A freed node looks only at the top of at most 32 groups
/// (16 "any GPU" buckets and 16 of its own model), which keeps `popFor` O(log q). That bound has two costs, both
/// documented in the README: a node whose VRAM lies strictly between two bucket bounds does not take queued tasks
/// asking for more than the lower bound (a bigger node, or a new `createTask` draw, will), and a group whose top needs
/// a newer minor or patch than the node's is passed over for that node, even if a lower-value task below it would
/// suit. A node never looks at groups of another major version (DESIGN §13.5: a task of a major no node runs, e.g.
/// 9, cannot hide the others).
/// It is a separate contract so that the task manager stays under 20 KiB of code (docs/cost.md).
contract TaskQueue is ITaskQueue {
    using MaxHeap for MaxHeap.Heap;

    /// @dev A queued task, by sequence number.
    struct Entry {
        bytes32 id;
        uint256 key;
        bytes32 modelsHash;
        bytes32 requiredGPU;
        uint64 requiredVRAM;
        uint32[3] version;
        uint8 bucket;
    }

    uint256 private constant _SEQUENCE_BITS = 48;
    uint256 private constant _SEQUENCE_MASK = (uint256(1) << _SEQUENCE_BITS) - 1;

    address private immutable _OWNER;

    mapping(uint256 sequence => Entry entry) private _entries;
    /// @dev One heap per (requirement class, VRAM bucket), keyed by `_groupKey`; a class is `_classKey`.
    mapping(bytes32 groupKey => MaxHeap.Heap heap) private _groups;
    /// @dev For each class (required GPU or zero, major version), bit b is set while the group of bucket b is not
    /// empty.
    mapping(bytes32 classKey => uint256 buckets) private _groupBuckets;
    /// @dev Every queued task, keyed by ~key: its top is the lowest value, the latest task among equals.
    MaxHeap.Heap private _evictionOrder;

    /// @param owner_ The task manager.
    constructor(address owner_) {
        _OWNER = owner_;
    }

    modifier onlyOwner() {
        if (msg.sender != _OWNER) revert QueueCallerNotOwner(msg.sender);
        _;
    }

    /// @inheritdoc ITaskQueue
    function owner() external view returns (address) {
        return _OWNER;
    }

    /// @inheritdoc ITaskQueue
    function push(
        bytes32 id,
        uint256 sequence,
        uint256 value,
        bytes32 requiredGPU,
        uint64 requiredVRAM,
        uint32[3] calldata version,
        bytes32 modelsHash,
        uint256 capacity
    ) external onlyOwner returns (bytes32 evicted) {
        if (_evictionOrder.size() >= capacity) {
            uint256 lowestKey = ~_evictionOrder.top();
            uint256 lowest = lowestKey >> _SEQUENCE_BITS;
            if (value <= lowest) revert TaskQueueFull(value, lowest);
            Entry storage entry = _entries[_sequenceOf(lowestKey)];
            evicted = entry.id;
            _remove(entry);
        }
        // The task manager's values fit in 208 bits: fee < 2^96 and V <= fee · 1e18 < 2^156.
        uint256 key = (value << _SEQUENCE_BITS) | (_SEQUENCE_MASK - sequence);
        uint256 bucket = Dispatch.requirementBucket(requiredVRAM);
        Entry storage added = _entries[sequence];
        added.id = id;
        added.key = key;
        added.modelsHash = modelsHash;
        added.requiredGPU = requiredGPU;
        added.requiredVRAM = requiredVRAM;
        added.version = version;
        added.bucket = uint8(bucket);
        bytes32 class_ = _classKey(requiredGPU, version[0]);
        _groups[_groupKey(class_, bucket)].push(key);
        _groupBuckets[class_] |= uint256(1) << bucket;
        _evictionOrder.push(~key);
    }

    /// @inheritdoc ITaskQueue
    function remove(uint256 sequence) external onlyOwner {
        _remove(_entries[sequence]);
    }

    /// @inheritdoc ITaskQueue
    function popFor(
        bytes32 gpuID,
        uint64 vram,
        uint32[3] calldata version
    ) external onlyOwner returns (bytes32 id, bytes32 modelsHash) {
        if (_evictionOrder.size() == 0) return (bytes32(0), bytes32(0));
        uint256 mask = (uint256(2) << Dispatch.vramTier(vram)) - 1;
        uint256 bestKey;
        for (uint256 pass = 0; pass < 2; ++pass) {
            // Only the groups of the node's own major version: a task it can never serve does not hide others.
            bytes32 gpu = _classKey(pass == 0 ? bytes32(0) : gpuID, version[0]);
            uint256 buckets = _groupBuckets[gpu] & mask;
            for (uint256 bucket = 0; buckets != 0; ++bucket) {
                uint256 bit = uint256(1) << bucket;
                if (buckets & bit == 0) continue;
                buckets &= ~bit;
                uint256 key = _groups[_groupKey(gpu, bucket)].top();
                if (key <= bestKey) continue;
                Entry storage entry = _entries[_sequenceOf(key)];
                if (vram < entry.requiredVRAM || !Dispatch.versionCompatible(version, entry.version)) continue;
                bestKey = key;
            }
        }
        if (bestKey == 0) return (bytes32(0), bytes32(0));
        Entry storage best = _entries[_sequenceOf(bestKey)];
        id = best.id;
        modelsHash = best.modelsHash;
        _remove(best);
    }

    /// @inheritdoc ITaskQueue
    function size() external view returns (uint256) {
        return _evictionOrder.size();
    }

    /// @inheritdoc ITaskQueue
    function ids() external view returns (bytes32[] memory list) {
        uint256 n = _evictionOrder.size();
        list = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) list[i] = _entries[_sequenceOf(~_evictionOrder.at(i))].id;
    }

    /// @inheritdoc ITaskQueue
    function lowestValue() external view returns (uint256) {
        if (_evictionOrder.size() == 0) return 0;
        return (~_evictionOrder.top()) >> _SEQUENCE_BITS;
    }

    /// @dev Takes the entry out of its group and of the eviction order, and deletes it.
    function _remove(Entry storage entry) private {
        uint256 key = entry.key;
        bytes32 gpu = _classKey(entry.requiredGPU, entry.version[0]);
        uint256 bucket = entry.bucket;
        MaxHeap.Heap storage group = _groups[_groupKey(gpu, bucket)];
        group.remove(key);
        if (group.size() == 0) _groupBuckets[gpu] &= ~(uint256(1) << bucket);
        _evictionOrder.remove(~key);
        delete _entries[_sequenceOf(key)];
    }

    /// @dev A requirement class: the required GPU (or any) and the version's major. Tasks of another major are in
    /// other groups, so a freed node's search never stops at one it cannot serve (DESIGN §13.5).
    function _classKey(bytes32 requiredGPU, uint32 major) private pure returns (bytes32) {
        return keccak256(abi.encode(requiredGPU, major));
    }

    function _groupKey(bytes32 requiredGPU, uint256 bucket) private pure returns (bytes32) {
        return keccak256(abi.encode(requiredGPU, bucket));
    }

    function _sequenceOf(uint256 key) private pure returns (uint256) {
        return _SEQUENCE_MASK - (key & _SEQUENCE_MASK);
    }
}
