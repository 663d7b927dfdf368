// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {Dispatch} from "../../contracts/libraries/Dispatch.sol";

contract DispatchTest is Test {
    uint256 internal constant WAD = 1e18;
    uint256 internal constant STAKE_CAP = 4000 ether;
    uint256 internal constant HEALTH_ONE = 10_000;
    bytes32 internal constant GPU_A = keccak256("NVIDIA GeForce RTX 4090");
    bytes32 internal constant GPU_B = keccak256("NVIDIA A100");

    function _v(uint32 major, uint32 minor, uint32 patch) internal pure returns (uint32[3] memory) {
        return [major, minor, patch];
    }

    /// @dev Lexicographic comparison of (minor, patch).
    function _atLeast(uint32[3] memory a, uint32[3] memory b) internal pure returns (bool) {
        return a[1] > b[1] || (a[1] == b[1] && a[2] >= b[2]);
    }

    // ---------------------------------------------------------------------------------------------------------
    // versionCompatible
    // ---------------------------------------------------------------------------------------------------------

    function test_versionCompatible_table() public pure {
        // node, task, expected
        assertTrue(Dispatch.versionCompatible(_v(2, 5, 0), _v(2, 5, 0)), "equal");
        assertTrue(Dispatch.versionCompatible(_v(2, 5, 0), _v(2, 0, 0)), "newer minor");
        assertTrue(Dispatch.versionCompatible(_v(2, 5, 0), _v(2, 4, 9)), "newer minor, older patch");
        assertTrue(Dispatch.versionCompatible(_v(2, 5, 3), _v(2, 5, 2)), "newer patch");
        assertFalse(Dispatch.versionCompatible(_v(2, 5, 2), _v(2, 5, 3)), "older patch");
        assertFalse(Dispatch.versionCompatible(_v(2, 4, 9), _v(2, 5, 0)), "older minor, newer patch");
        assertFalse(Dispatch.versionCompatible(_v(3, 5, 0), _v(2, 5, 0)), "newer major");
        assertFalse(Dispatch.versionCompatible(_v(1, 9, 9), _v(2, 0, 0)), "older major");
        assertTrue(Dispatch.versionCompatible(_v(0, 0, 0), _v(0, 0, 0)), "zero");
    }

    function test_versionCompatible_fuzzMatchesRule(uint32[3] memory node, uint32[3] memory task) public pure {
        // Squeeze into a small range so that equal components are common.
        for (uint256 i = 0; i < 3; ++i) {
            node[i] = uint32(bound(node[i], 0, 3));
            task[i] = uint32(bound(task[i], 0, 3));
        }
        bool expected = node[0] == task[0] && _atLeast(node, task);
        assertEq(Dispatch.versionCompatible(node, task), expected);
    }

    // ---------------------------------------------------------------------------------------------------------
    // hardwareCompatible
    // ---------------------------------------------------------------------------------------------------------

    function test_hardwareCompatible_requiredGPU() public pure {
        assertTrue(Dispatch.hardwareCompatible(GPU_A, 24, GPU_A, 24, 0), "exact model and VRAM");
        assertTrue(Dispatch.hardwareCompatible(GPU_A, 48, GPU_A, 24, 0), "exact model, more VRAM");
        assertFalse(Dispatch.hardwareCompatible(GPU_A, 16, GPU_A, 24, 0), "exact model, too little VRAM");
        assertFalse(Dispatch.hardwareCompatible(GPU_B, 80, GPU_A, 24, 0), "other model");
        // The minimum is ignored when a model is required.
        assertTrue(Dispatch.hardwareCompatible(GPU_A, 24, GPU_A, 24, 80), "minimum ignored");
    }

    function test_hardwareCompatible_anyGPU() public pure {
        assertTrue(Dispatch.hardwareCompatible(GPU_B, 8, bytes32(0), 0, 8), "exactly the minimum");
        assertTrue(Dispatch.hardwareCompatible(GPU_B, 80, bytes32(0), 99, 8), "requiredGPUVRAM ignored");
        assertFalse(Dispatch.hardwareCompatible(GPU_A, 7, bytes32(0), 0, 8), "below the minimum");
    }

    function test_hardwareCompatible_fuzzMatchesRule(
        bool sameGPU,
        bool anyGPU,
        uint64 nodeVRAM,
        uint64 requiredVRAM,
        uint64 minimumVRAM
    ) public pure {
        bytes32 required = anyGPU ? bytes32(0) : GPU_A;
        bytes32 nodeGPU = sameGPU ? GPU_A : GPU_B;
        bool expected = anyGPU ? nodeVRAM >= minimumVRAM : (sameGPU && nodeVRAM >= requiredVRAM);
        assertEq(Dispatch.hardwareCompatible(nodeGPU, nodeVRAM, required, requiredVRAM, minimumVRAM), expected);
    }

    // ---------------------------------------------------------------------------------------------------------
    // staticWeight
    // ---------------------------------------------------------------------------------------------------------

    function test_staticWeight_newNodeAtCap() public pure {
        // S = 1, Q = 0.5 · 1 → S·Q/(S+Q) = 1/3.
        assertEq(Dispatch.staticWeight(STAKE_CAP, STAKE_CAP, 0, 0, HEALTH_ONE), WAD / 3);
    }

    function test_staticWeight_quarterStakeHalvesS() public pure {
        // S = sqrt(1/4) = 0.5, Q = 0.5 → 0.25.
        assertEq(Dispatch.staticWeight(STAKE_CAP / 4, STAKE_CAP, 0, 0, HEALTH_ONE), WAD / 4);
    }

    function test_staticWeight_perfectScoresAtCap() public pure {
        // S = 1, Q = 1 → 0.5.
        assertEq(Dispatch.staticWeight(STAKE_CAP, STAKE_CAP, 500, 50, HEALTH_ONE), WAD / 2);
    }

    function test_staticWeight_saturatesAtCap(uint256 stake) public pure {
        stake = bound(stake, STAKE_CAP, 1e30);
        assertEq(
            Dispatch.staticWeight(stake, STAKE_CAP, 0, 0, HEALTH_ONE),
            Dispatch.staticWeight(STAKE_CAP, STAKE_CAP, 0, 0, HEALTH_ONE)
        );
    }

    function test_staticWeight_monotoneInStake(uint256 a, uint256 b, uint256 scoreSeed, uint256 health) public pure {
        a = bound(a, 0, 2 * STAKE_CAP);
        b = bound(b, a, 2 * STAKE_CAP);
        uint256 count = bound(scoreSeed, 0, 50);
        uint256 sum = count * bound(scoreSeed >> 8, 0, 10);
        health = bound(health, 0, HEALTH_ONE);
        assertLe(
            Dispatch.staticWeight(a, STAKE_CAP, sum, count, health),
            Dispatch.staticWeight(b, STAKE_CAP, sum, count, health)
        );
    }

    function test_staticWeight_strictlyIncreasingBelowCap() public pure {
        uint256 previous;
        for (uint256 i = 1; i <= 10; ++i) {
            uint256 w = Dispatch.staticWeight((STAKE_CAP * i) / 10, STAKE_CAP, 0, 0, HEALTH_ONE);
            assertGt(w, previous);
            previous = w;
        }
    }

    function test_staticWeight_zeroHealthIsZero(uint256 stake, uint256 scoreSeed) public pure {
        stake = bound(stake, 0, 1e30);
        uint256 count = bound(scoreSeed, 0, 50);
        uint256 sum = count * bound(scoreSeed >> 8, 0, 10);
        assertEq(Dispatch.staticWeight(stake, STAKE_CAP, sum, count, 0), 0);
    }

    function test_staticWeight_zeroStakeIsZero() public pure {
        assertEq(Dispatch.staticWeight(0, STAKE_CAP, 0, 0, HEALTH_ONE), 0);
    }

    function test_staticWeight_monotoneInHealth(uint256 h1, uint256 h2) public pure {
        h1 = bound(h1, 0, HEALTH_ONE);
        h2 = bound(h2, h1, HEALTH_ONE);
        assertLe(
            Dispatch.staticWeight(STAKE_CAP / 2, STAKE_CAP, 0, 0, h1),
            Dispatch.staticWeight(STAKE_CAP / 2, STAKE_CAP, 0, 0, h2)
        );
    }

    function test_staticWeight_boundedInputsNeverRevertAndAtMostOne(
        uint256 stake,
        uint256 stakeCap,
        uint256 scoreSeed,
        uint256 health
    ) public pure {
        stake = bound(stake, 0, type(uint128).max);
        stakeCap = bound(stakeCap, 1, type(uint128).max);
        uint256 count = bound(scoreSeed, 0, 50);
        uint256 sum = count * bound(scoreSeed >> 8, 0, 10);
        health = bound(health, 0, HEALTH_ONE);
        uint256 w = Dispatch.staticWeight(stake, stakeCap, sum, count, health);
        assertLe(w, WAD);
        // S·Q/(S+Q) < min(S, Q) <= S <= 1 (and <= Q).
        uint256 q =
            count == 0 ? (5 * WAD * health) / 10 / HEALTH_ONE : (((sum * WAD) / (count * 10)) * health) / HEALTH_ONE;
        assertLe(w, q);
    }

    // ---------------------------------------------------------------------------------------------------------
    // taskValue
    // ---------------------------------------------------------------------------------------------------------

    function test_taskValue_feeOverTime() public pure {
        // SD defaults: T = 20 + 10 · 1 = 30 s.
        assertEq(Dispatch.taskValue(30 ether, 20, 10, 1), 1 ether * WAD);
        assertEq(Dispatch.taskValue(1 ether, 20, 10, 1), (1 ether * WAD) / 30);
        // LLM defaults: T = 5 + 1 · 100 = 105 s.
        assertEq(Dispatch.taskValue(1 ether, 5, 1, 100), (1 ether * WAD) / 105);
    }

    function test_taskValue_zeroTimeOrdersByFee() public pure {
        assertEq(Dispatch.taskValue(3, 0, 0, 7), 3 * WAD);
        assertEq(Dispatch.taskValue(3, 0, 5, 0), 3 * WAD);
    }

    function test_taskValue_monotoneInFeeAndAntitoneInSize(
        uint96 fee1,
        uint96 fee2,
        uint64 size1,
        uint64 size2
    ) public pure {
        (uint96 lowFee, uint96 highFee) = fee1 <= fee2 ? (fee1, fee2) : (fee2, fee1);
        (uint64 small, uint64 large) = size1 <= size2 ? (size1, size2) : (size2, size1);
        assertLe(Dispatch.taskValue(lowFee, 20, 10, small), Dispatch.taskValue(highFee, 20, 10, small));
        assertGe(Dispatch.taskValue(highFee, 20, 10, small), Dispatch.taskValue(highFee, 20, 10, large));
    }

    function test_modelsHash_equalListsEqualHashes() public pure {
        bytes32[] memory a = new bytes32[](2);
        a[0] = keccak256("a");
        a[1] = keccak256("b");
        bytes32[] memory b = new bytes32[](2);
        b[0] = keccak256("a");
        b[1] = keccak256("b");
        assertEq(Dispatch.modelsHash(a), Dispatch.modelsHash(b));
        b[1] = keccak256("c");
        assertNotEq(Dispatch.modelsHash(a), Dispatch.modelsHash(b));
    }
}
