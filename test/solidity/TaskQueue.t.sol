// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {TaskQueue} from "../../contracts/TaskQueue.sol";
import {ITaskQueue} from "../../contracts/interfaces/ITaskQueue.sol";
import {ITaskManager} from "../../contracts/interfaces/ITaskManager.sol";
import {Dispatch} from "../../contracts/libraries/Dispatch.sol";

/// @title The task queue against a brute-force reference
/// @notice The test contract owns a `TaskQueue` and keeps every queued task in a plain list. `popFor` must return
/// what a full scan returns: among the tasks the node can serve (its GPU or any; the requirement, rounded up to a
/// VRAM bucket bound, at most the node's tier; the exact requirement at most its VRAM), the highest value, earliest
/// first. (All tasks share one version here: with mixed versions the queue only looks at each group's top; see
/// `TaskQueue`.) Eviction must take the lowest value, latest first.
contract TaskQueueTest is Test {
    TaskQueue internal queue;

    bytes32 internal constant GPU_A = keccak256("NVIDIA GeForce RTX 4090");
    bytes32 internal constant GPU_B = keccak256("NVIDIA A100");
    uint32[3] internal VERSION = [uint32(2), 0, 0];

    struct Item {
        bytes32 id;
        uint256 sequence;
        uint256 value;
        bytes32 gpu;
        uint64 vram;
        bool queued;
    }

    Item[] internal items;
    uint256 internal sequence;

    function setUp() public {
        queue = new TaskQueue(address(this));
    }

    function _push(uint256 value, bytes32 gpu, uint64 vram, uint256 capacity) internal returns (bytes32 evicted) {
        ++sequence;
        bytes32 id = keccak256(abi.encode("task", sequence));
        evicted = queue.push(id, sequence, value, gpu, vram, VERSION, keccak256(abi.encode("models", id)), capacity);
        items.push(Item(id, sequence, value, gpu, vram, true));
        if (evicted != bytes32(0)) _markTaken(evicted);
    }

    function _markTaken(bytes32 id) internal {
        for (uint256 i = 0; i < items.length; ++i) {
            if (items[i].id == id) {
                assertTrue(items[i].queued, "taken twice");
                items[i].queued = false;
                return;
            }
        }
        revert("unknown task");
    }

    function _better(Item storage a, Item storage b) internal view returns (bool) {
        return a.value > b.value || (a.value == b.value && a.sequence < b.sequence);
    }

    function _serves(Item storage item, bytes32 gpu, uint64 vram) internal view returns (bool) {
        if (item.gpu != bytes32(0) && item.gpu != gpu) return false;
        return Dispatch.requirementBucket(item.vram) <= Dispatch.vramTier(vram) && item.vram <= vram;
    }

    function _expectedFor(bytes32 gpu, uint64 vram) internal view returns (bytes32 best) {
        uint256 bestIndex = type(uint256).max;
        for (uint256 i = 0; i < items.length; ++i) {
            Item storage item = items[i];
            if (!item.queued || !_serves(item, gpu, vram)) continue;
            if (bestIndex == type(uint256).max || _better(item, items[bestIndex])) bestIndex = i;
        }
        if (bestIndex != type(uint256).max) best = items[bestIndex].id;
    }

    function _expectedLowest() internal view returns (uint256 lowestIndex) {
        lowestIndex = type(uint256).max;
        for (uint256 i = 0; i < items.length; ++i) {
            if (!items[i].queued) continue;
            if (lowestIndex == type(uint256).max || _better(items[lowestIndex], items[i])) lowestIndex = i;
        }
    }

    function _queuedCount() internal view returns (uint256 n) {
        for (uint256 i = 0; i < items.length; ++i) if (items[i].queued) ++n;
    }

    function test_onlyTheOwnerChangesTheQueue() public {
        address stranger = makeAddr("stranger");
        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ITaskQueue.QueueCallerNotOwner.selector, stranger));
        queue.push(bytes32("id"), 1, 1, bytes32(0), 8, VERSION, bytes32(0), 10);
        vm.expectRevert(abi.encodeWithSelector(ITaskQueue.QueueCallerNotOwner.selector, stranger));
        queue.remove(1);
        vm.expectRevert(abi.encodeWithSelector(ITaskQueue.QueueCallerNotOwner.selector, stranger));
        queue.popFor(GPU_A, 24, VERSION);
        vm.stopPrank();
        assertEq(queue.owner(), address(this));
    }

    function test_groups_nodeTakesTheBestTaskItCanServe() public {
        _push(5, GPU_B, 80, 100); // another model
        _push(4, bytes32(0), 48, 100); // too much VRAM for a 24 GB card
        _push(3, GPU_A, 24, 100); // its model
        _push(2, bytes32(0), 8, 100);
        _push(3, bytes32(0), 16, 100); // same value as the GPU_A task, created later
        (bytes32 id, bytes32 modelsHash) = queue.popFor(GPU_A, 24, VERSION);
        assertEq(id, items[2].id, "highest servable value, earliest among equals");
        assertEq(modelsHash, keccak256(abi.encode("models", id)));
        (id, ) = queue.popFor(GPU_A, 24, VERSION);
        assertEq(id, items[4].id);
        (id, ) = queue.popFor(GPU_A, 24, VERSION);
        assertEq(id, items[3].id);
        (id, ) = queue.popFor(GPU_A, 24, VERSION);
        assertEq(id, bytes32(0), "nothing left it can serve");
        assertEq(queue.size(), 2);
        (id, ) = queue.popFor(GPU_B, 80, VERSION);
        assertEq(id, items[0].id);
    }

    function test_groups_versionOfTheTopIsChecked() public {
        uint32[3] memory newer = [uint32(2), 6, 0];
        queue.push(bytes32("new"), 1, 9, bytes32(0), 8, newer, bytes32(0), 100);
        queue.push(bytes32("old"), 2, 1, bytes32(0), 8, VERSION, bytes32(0), 100);
        // The top of the only group needs 2.6: a 2.5 node passes the group over (the documented bound).
        (bytes32 id, ) = queue.popFor(GPU_A, 24, [uint32(2), 5, 0]);
        assertEq(id, bytes32(0));
        (id, ) = queue.popFor(GPU_A, 24, [uint32(2), 6, 0]);
        assertEq(id, bytes32("new"));
        (id, ) = queue.popFor(GPU_A, 24, [uint32(2), 5, 0]);
        assertEq(id, bytes32("old"));
    }

    function test_full_evictsTheLowestOrRejects() public {
        _push(5, bytes32(0), 8, 3);
        _push(2, GPU_A, 24, 3);
        _push(2, bytes32(0), 16, 3);
        assertEq(queue.lowestValue(), 2);
        vm.expectRevert(abi.encodeWithSelector(ITaskQueue.TaskQueueFull.selector, 2, 2));
        queue.push(bytes32("equal"), 99, 2, bytes32(0), 8, VERSION, bytes32(0), 3);
        bytes32 evicted = _push(3, bytes32(0), 8, 3);
        assertEq(evicted, items[2].id, "the later of the two lowest");
        assertEq(queue.size(), 3);
        evicted = _push(4, bytes32(0), 8, 3);
        assertEq(evicted, items[1].id);
    }

    /// @dev Random pushes (with eviction at a small capacity), removals and pops for random nodes.
    function test_fuzz_matchesFullScan(uint256 seed) public {
        uint64[8] memory vrams = [uint64(0), 6, 8, 11, 16, 24, 80, 200];
        for (uint256 step = 0; step < 80; ++step) {
            uint256 r = uint256(keccak256(abi.encode(seed, step)));
            uint256 op = r % 4;
            if (op <= 1) {
                uint256 capacity = 12;
                uint256 value = (r >> 8) % 6;
                bytes32 gpu = (r >> 16) % 3 == 0 ? bytes32(0) : ((r >> 18) % 2 == 0 ? GPU_A : GPU_B);
                uint64 vram = vrams[(r >> 24) % 8];
                uint256 expectedLowest = _expectedLowest();
                if (_queuedCount() >= capacity) {
                    uint256 lowestValue = items[expectedLowest].value;
                    if (value <= lowestValue) {
                        vm.expectRevert(abi.encodeWithSelector(ITaskQueue.TaskQueueFull.selector, value, lowestValue));
                        queue.push(bytes32("x"), sequence + 1, value, gpu, vram, VERSION, bytes32(0), capacity);
                        continue;
                    }
                    bytes32 evicted = _push(value, gpu, vram, capacity);
                    assertEq(evicted, items[expectedLowest].id, "evicted the lowest");
                } else {
                    assertEq(_push(value, gpu, vram, capacity), bytes32(0));
                }
            } else if (op == 2 && items.length != 0) {
                Item storage item = items[(r >> 8) % items.length];
                if (!item.queued) continue;
                queue.remove(item.sequence);
                item.queued = false;
            } else {
                bytes32 gpu = (r >> 8) % 2 == 0 ? GPU_A : GPU_B;
                uint64 vram = vrams[(r >> 16) % 8];
                bytes32 expected = _expectedFor(gpu, vram);
                (bytes32 id, ) = queue.popFor(gpu, vram, VERSION);
                assertEq(id, expected, "popFor");
                if (id != bytes32(0)) _markTaken(id);
            }
            assertEq(queue.size(), _queuedCount());
        }
        bytes32[] memory ids = queue.ids();
        assertEq(ids.length, _queuedCount());
        for (uint256 i = 0; i < ids.length; ++i) {
            bool found;
            for (uint256 j = 0; j < items.length; ++j) if (items[j].id == ids[i] && items[j].queued) found = true;
            assertTrue(found, "ids lists queued tasks");
        }
    }
}
