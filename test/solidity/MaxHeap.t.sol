// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {MaxHeap} from "../../contracts/libraries/MaxHeap.sol";

/// @dev Library reverts happen in the caller's frame; this wrapper gives `vm.expectRevert` an external call.
contract MaxHeapWrapper {
    using MaxHeap for MaxHeap.Heap;

    MaxHeap.Heap internal _heap;

    function push(uint256 key) external {
        _heap.push(key);
    }

    function remove(uint256 key) external {
        _heap.remove(key);
    }
}

contract MaxHeapTest is Test {
    using MaxHeap for MaxHeap.Heap;

    MaxHeap.Heap internal heap;
    /// @dev The reference model: the keys in the heap.
    uint256[] internal keys;

    function _modelMax() internal view returns (uint256 best) {
        for (uint256 i = 0; i < keys.length; ++i) if (keys[i] > best) best = keys[i];
    }

    function _modelRemove(uint256 key) internal {
        for (uint256 i = 0; i < keys.length; ++i) {
            if (keys[i] == key) {
                keys[i] = keys[keys.length - 1];
                keys.pop();
                return;
            }
        }
        revert("not in model");
    }

    /// @dev The heap property over the whole array, and every position index.
    function _assertHeap() internal view {
        uint256 n = heap.size();
        assertEq(n, keys.length, "size");
        for (uint256 i = 0; i < n; ++i) {
            uint256 key = heap.at(i);
            assertTrue(heap.contains(key));
            if (i != 0) assertLe(key, heap.at((i - 1) / 4), "child above parent");
        }
        assertEq(heap.top(), _modelMax(), "top");
    }

    function test_popReturnsKeysInDescendingOrder() public {
        uint256[12] memory input = [uint256(5), 17, 3, 99, 42, 8, 1, 64, 23, 77, 2, 50];
        for (uint256 i = 0; i < input.length; ++i) {
            heap.push(input[i]);
            keys.push(input[i]);
        }
        _assertHeap();
        uint256 previous = type(uint256).max;
        for (uint256 i = 0; i < input.length; ++i) {
            uint256 key = heap.pop();
            assertLt(key, previous);
            assertFalse(heap.contains(key));
            previous = key;
        }
        assertEq(heap.size(), 0);
        assertEq(heap.pop(), 0);
        assertEq(heap.top(), 0);
    }

    function test_push_revertsOnZeroOrDuplicate() public {
        MaxHeapWrapper wrapper = new MaxHeapWrapper();
        vm.expectRevert(abi.encodeWithSelector(MaxHeap.MaxHeapInvalidKey.selector, 0));
        wrapper.push(0);
        wrapper.push(7);
        vm.expectRevert(abi.encodeWithSelector(MaxHeap.MaxHeapInvalidKey.selector, 7));
        wrapper.push(7);
    }

    function test_remove_revertsWhenMissing() public {
        MaxHeapWrapper wrapper = new MaxHeapWrapper();
        wrapper.push(7);
        vm.expectRevert(abi.encodeWithSelector(MaxHeap.MaxHeapKeyNotFound.selector, 8));
        wrapper.remove(8);
        wrapper.remove(7);
        vm.expectRevert(abi.encodeWithSelector(MaxHeap.MaxHeapKeyNotFound.selector, 7));
        wrapper.remove(7);
    }

    /// @dev Random pushes, pops and removals of arbitrary keys against the model.
    function test_fuzz_operationsMatchModel(uint256 seed) public {
        for (uint256 step = 0; step < 150; ++step) {
            uint256 r = uint256(keccak256(abi.encode(seed, step)));
            uint256 op = r % 3;
            if (op == 0 || keys.length == 0) {
                uint256 key = 1 + ((r >> 8) % 1_000_000);
                if (heap.contains(key)) continue;
                heap.push(key);
                keys.push(key);
            } else if (op == 1) {
                uint256 expected = _modelMax();
                assertEq(heap.pop(), expected);
                _modelRemove(expected);
            } else {
                uint256 key = keys[(r >> 8) % keys.length];
                heap.remove(key);
                _modelRemove(key);
                assertFalse(heap.contains(key));
            }
            _assertHeap();
        }
    }
}
