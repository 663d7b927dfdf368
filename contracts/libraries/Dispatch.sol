// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title Dispatch math (DESIGN §6, §7)
/// @notice Pure rules shared by selection in the registry and by the queue in the task manager.
library Dispatch {
    /// @notice Fixed-point one.
    uint256 internal constant WAD = 1e18;
    /// @notice The health factor H is stored scaled by this.
    uint16 internal constant HEALTH_ONE = 10_000;
    /// @notice Nodes with H below this are not selected (H < 0.1).
    uint16 internal constant HEALTH_MIN = 1_000;
    /// @notice Q_long of a node without any group score yet.
    uint256 internal constant DEFAULT_QLONG = 5;
    /// @notice Sum trees hold weights in units of 1e-9 (a weight is at most 0.5, so 5·10^8 units; see `SumTree`).
    uint256 internal constant TREE_UNIT = 1e9;
    /// @notice Number of VRAM tiers.
    uint256 internal constant VRAM_TIERS = 16;
    /// @dev Lower bounds (GB) of the VRAM tiers, 16 bits each, tier 0 in the low bits:
    /// 0, 4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128.
    uint256 private constant _TIER_BOUNDS =
        (uint256(0)) |
            (uint256(4) << 16) |
            (uint256(6) << 32) |
            (uint256(8) << 48) |
            (uint256(10) << 64) |
            (uint256(12) << 80) |
            (uint256(16) << 96) |
            (uint256(20) << 112) |
            (uint256(24) << 128) |
            (uint256(32) << 144) |
            (uint256(40) << 160) |
            (uint256(48) << 176) |
            (uint256(64) << 192) |
            (uint256(80) << 208) |
            (uint256(96) << 224) |
            (uint256(128) << 240);

    /// @notice Same major version, and node minor.patch >= task minor.patch.
    function versionCompatible(
        uint32[3] memory nodeVersion,
        uint32[3] memory taskVersion
    ) internal pure returns (bool) {
        if (nodeVersion[0] != taskVersion[0]) return false;
        if (nodeVersion[1] != taskVersion[1]) return nodeVersion[1] > taskVersion[1];
        return nodeVersion[2] >= taskVersion[2];
    }

    /// @notice The exact GPU model with its VRAM when one is required, otherwise enough VRAM.
    function hardwareCompatible(
        bytes32 nodeGPU,
        uint64 nodeVRAM,
        bytes32 requiredGPU,
        uint64 requiredGPUVRAM,
        uint64 minimumVRAM
    ) internal pure returns (bool) {
        if (requiredGPU != bytes32(0)) return nodeGPU == requiredGPU && nodeVRAM >= requiredGPUVRAM;
        return nodeVRAM >= minimumVRAM;
    }

    /// @notice Static weight S·Q/(S+Q), scaled by 1e18.
    /// @param stake The node's stake.
    /// @param stakeCap The stake at which S = min(1, sqrt(stake / stakeCap)) saturates.
    /// @param scoreSum Sum of the node's held group scores (each 0..10).
    /// @param scoreCount Number of held scores; zero means Q_long = 5.
    /// @param health H scaled by 10,000.
    function staticWeight(
        uint256 stake,
        uint256 stakeCap,
        uint256 scoreSum,
        uint256 scoreCount,
        uint256 health
    ) internal pure returns (uint256) {
        uint256 s = stake >= stakeCap ? WAD : Math.sqrt(Math.mulDiv(stake, WAD * WAD, stakeCap));
        // Q = (Q_long / 10) · H, with Q_long the mean held score.
        uint256 qLongWad = scoreCount == 0 ? (DEFAULT_QLONG * WAD) / 10 : (scoreSum * WAD) / (scoreCount * 10);
        uint256 q = (qLongWad * health) / HEALTH_ONE;
        if (s + q == 0) return 0;
        return Math.mulDiv(s, q, s + q);
    }

    /// @notice The lower bound (GB) of VRAM tier `tier`.
    function tierBound(uint256 tier) internal pure returns (uint256) {
        return (_TIER_BOUNDS >> (16 * tier)) & 0xFFFF;
    }

    /// @notice The tier of a node with `vram` GB: the last tier whose lower bound is at most `vram`.
    function vramTier(uint256 vram) internal pure returns (uint256 tier) {
        tier = VRAM_TIERS - 1;
        while (tierBound(tier) > vram) --tier;
    }

    /// @notice The queue bucket of a VRAM requirement: the first tier whose lower bound is at least `required`
    /// (the last tier when `required` is above every bound). Every node of tier `bucket` or above has at least
    /// `required` GB, except in the last tier, where the requirement must still be checked.
    function requirementBucket(uint256 required) internal pure returns (uint256 bucket) {
        while (bucket < VRAM_TIERS - 1 && tierBound(bucket) < required) ++bucket;
    }

    /// @notice A static weight (scaled by 1e18) in sum-tree units; any positive weight is at least one unit.
    function treeWeight(uint256 weight) internal pure returns (uint256) {
        if (weight == 0) return 0;
        uint256 units = weight / TREE_UNIT;
        return units == 0 ? 1 : units;
    }

    /// @notice Task value V = fee / T with T = overhead + unitTime · size, scaled by 1e18 (DESIGN §10).
    function taskValue(uint256 fee, uint256 overhead, uint256 unitTime, uint256 size) internal pure returns (uint256) {
        uint256 t = overhead + unitTime * size;
        // A zero time (misconfigured pricing) degrades to ordering by fee.
        return t == 0 ? fee * WAD : Math.mulDiv(fee, WAD, t);
    }

    /// @notice keccak256 of a model list; equal lists give equal hashes.
    function modelsHash(bytes32[] memory modelIDs) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(modelIDs));
    }
}
