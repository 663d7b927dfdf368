// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title An indexed 4-ary max-heap of distinct uint256 keys
/// @notice `push`, `pop` and `remove` (of any key) cost O(log n) storage accesses; `top` is one read.
/// @dev Keys must be distinct and non-zero (the task manager packs a task's value with its unique sequence number).
/// A 4-ary heap is half as deep as a binary one: a pop reads four children per level but writes two slots per
/// level, and writes dominate storage costs. Each key's position is kept (plus one) so that any key can be removed.
library MaxHeap {
    /// @notice The key is zero or already in the heap.
    error MaxHeapInvalidKey(uint256 key);
    /// @notice The key is not in the heap.
    error MaxHeapKeyNotFound(uint256 key);

    struct Heap {
        uint256[] items;
        mapping(uint256 key => uint256 indexPlusOne) position;
    }

    /// @notice The number of keys.
    function size(Heap storage heap) internal view returns (uint256) {
        return heap.items.length;
    }

    /// @notice The largest key, or zero when empty.
    function top(Heap storage heap) internal view returns (uint256) {
        return heap.items.length == 0 ? 0 : heap.items[0];
    }

    /// @notice The key at `index` of the heap's array (every key once, in heap order, not sorted).
    function at(Heap storage heap, uint256 index) internal view returns (uint256) {
        return heap.items[index];
    }

    /// @notice Whether `key` is in the heap.
    function contains(Heap storage heap, uint256 key) internal view returns (bool) {
        return heap.position[key] != 0;
    }

    /// @notice Adds `key`.
    function push(Heap storage heap, uint256 key) internal {
        if (key == 0 || heap.position[key] != 0) revert MaxHeapInvalidKey(key);
        heap.items.push(key);
        _siftUp(heap, heap.items.length - 1, key);
    }

    /// @notice Removes and returns the largest key (zero when empty).
    function pop(Heap storage heap) internal returns (uint256 key) {
        if (heap.items.length == 0) return 0;
        key = heap.items[0];
        _removeAt(heap, 0);
        delete heap.position[key];
    }

    /// @notice Removes `key`.
    function remove(Heap storage heap, uint256 key) internal {
        uint256 indexPlusOne = heap.position[key];
        if (indexPlusOne == 0) revert MaxHeapKeyNotFound(key);
        _removeAt(heap, indexPlusOne - 1);
        delete heap.position[key];
    }

    /// @dev Moves the last key into the hole at `index` and restores the order from there.
    function _removeAt(Heap storage heap, uint256 index) private {
        uint256 last = heap.items.length - 1;
        uint256 moved = heap.items[last];
        heap.items.pop();
        if (index == last) return;
        if (index != 0 && moved > heap.items[(index - 1) >> 2]) {
            _siftUp(heap, index, moved);
        } else {
            _siftDown(heap, index, moved, last);
        }
    }

    /// @dev Places `key` at `index` or above: parents smaller than it move down into the hole.
    function _siftUp(Heap storage heap, uint256 index, uint256 key) private {
        while (index != 0) {
            uint256 parentIndex = (index - 1) >> 2;
            uint256 parent = heap.items[parentIndex];
            if (parent >= key) break;
            heap.items[index] = parent;
            heap.position[parent] = index + 1;
            index = parentIndex;
        }
        heap.items[index] = key;
        heap.position[key] = index + 1;
    }

    /// @dev Places `key` at `index` or below, in a heap of `length` keys: the largest child moves up into the hole.
    function _siftDown(Heap storage heap, uint256 index, uint256 key, uint256 length) private {
        while (true) {
            uint256 first = 4 * index + 1;
            if (first >= length) break;
            uint256 end = first + 4 < length ? first + 4 : length;
            uint256 best = first;
            uint256 bestKey = heap.items[first];
            for (uint256 child = first + 1; child < end; ++child) {
                uint256 childKey = heap.items[child];
                if (childKey > bestKey) {
                    best = child;
                    bestKey = childKey;
                }
            }
            if (bestKey <= key) break;
            heap.items[index] = bestKey;
            heap.position[bestKey] = index + 1;
            index = best;
        }
        heap.items[index] = key;
        heap.position[key] = index + 1;
    }
}
