// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "forge-std/Vm.sol";
import {INodeRegistry} from "../../contracts/interfaces/INodeRegistry.sol";
import {Dispatch} from "../../contracts/libraries/Dispatch.sol";
import {BaseTest} from "./BaseTest.sol";

/// @title Statistical tests of the weighted draw (DESIGN §6) and of model pre-download
/// @notice Each test draws many times from the real registry (as the task manager: `selectNode`, then
/// `releaseNode(Neutral)`, which puts the node back with the same weight), counts how often each node is drawn, and
/// compares the counts with the weights by Pearson's chi-square test at significance 0.001. The randomness of draw i
/// is keccak256(SEED, i), so every run draws the same sequence. Each test also checks that its counts are far from a
/// wrong weighting (uniform), so that the chi-square check is able to fail.
contract SelectionTest is BaseTest {
    uint256 internal constant DRAWS = 2_000;
    bytes32 internal constant SEED = keccak256("vss selection chi-square");
    bytes32 internal constant MODEL_X = keccak256("example-org/model-x");

    address[] internal pool;

    /// @dev The chi-square critical values at p = 0.001 for 1..12 degrees of freedom, scaled by 1,000.
    function _critical(uint256 df) internal pure returns (uint256) {
        uint256[12] memory table = [
            uint256(10_828),
            13_816,
            16_266,
            18_467,
            20_515,
            22_458,
            24_322,
            26_124,
            27_877,
            29_588,
            31_264,
            32_909
        ];
        return table[df - 1];
    }

    /// @dev Pearson's statistic (scaled by 1,000) of `counts` against `weights`, over the entries with weight > 0.
    function _chiSquare(
        uint256[] memory counts,
        uint256[] memory weights
    ) internal pure returns (uint256 stat, uint256 df) {
        uint256 total;
        uint256 n;
        for (uint256 i = 0; i < weights.length; ++i) {
            total += weights[i];
            n += counts[i];
        }
        for (uint256 i = 0; i < weights.length; ++i) {
            if (weights[i] == 0) continue;
            ++df;
            // (o - e)^2 / e with e = n·w/W:  (o·W - n·w)^2 / (n·w·W).
            uint256 observed = counts[i] * total;
            uint256 expected = n * weights[i];
            uint256 diff = observed > expected ? observed - expected : expected - observed;
            stat += (diff * diff * 1_000) / (expected * total);
        }
        df -= 1;
    }

    function _newNode(
        uint256 i,
        uint256 stake,
        uint64 vram,
        uint32[3] memory version,
        bytes32[] memory models
    ) internal returns (address node) {
        node = makeAddr(string.concat("pool-", vm.toString(i)));
        vm.deal(node, stake);
        vm.prank(node);
        registry.join{value: stake}(GPU_4090, vram, version, _bjjKey(), _bjjWitness(), models);
        pool.push(node);
    }

    function _indexOf(address node) internal view returns (uint256) {
        for (uint256 i = 0; i < pool.length; ++i) if (pool[i] == node) return i;
        revert("not in pool");
    }

    /// @dev Draws `DRAWS` times and counts each pool node; `restore[i]` (if non-zero) is put back as node i's last
    /// models hash after each of its draws, so that the same-models factor does not drift.
    function _draw(
        INodeRegistry.TaskRequirements memory req,
        bytes32[] memory restore
    ) internal returns (uint256[] memory counts) {
        counts = new uint256[](pool.length);
        vm.startPrank(address(tm));
        for (uint256 i = 0; i < DRAWS; ++i) {
            address selected = registry.selectNode(req, uint256(keccak256(abi.encode(SEED, i))));
            assertTrue(selected != address(0), "a node is drawn");
            uint256 index = _indexOf(selected);
            ++counts[index];
            registry.releaseNode(selected, INodeRegistry.ReleaseOutcome.Neutral);
            if (restore.length != 0 && restore[index] != bytes32(0)) {
                registry.startNode(selected, restore[index]);
                registry.releaseNode(selected, INodeRegistry.ReleaseOutcome.Neutral);
            }
        }
        vm.stopPrank();
    }

    function _assertFits(uint256[] memory counts, uint256[] memory weights) internal pure {
        (uint256 stat, uint256 df) = _chiSquare(counts, weights);
        assertLt(stat, _critical(df), "chi-square against the weights");
    }

    function _assertDoesNotFitUniform(uint256[] memory counts, uint256[] memory weights) internal pure {
        uint256[] memory uniform = new uint256[](weights.length);
        for (uint256 i = 0; i < weights.length; ++i) uniform[i] = weights[i] == 0 ? 0 : 1;
        (uint256 stat, uint256 df) = _chiSquare(counts, uniform);
        assertGt(stat, _critical(df), "the same counts reject a uniform draw");
    }

    /// @dev Twelve nodes across seven VRAM tiers with stakes from 400 to 4,800 and varied QoS (scores, timeouts). The task asks for 11 GB:
    /// the 8 GB nodes (a lower tier) and the 10 GB nodes (the same tier as 11 GB, below the minimum) and a node of
    /// another major version are never drawn; the others are drawn in proportion to S·Q/(S+Q).
    function test_draw_frequenciesMatchStaticWeights() public {
        uint64[12] memory vram = [uint64(8), 10, 11, 11, 12, 16, 24, 24, 24, 48, 80, 80];
        for (uint256 i = 0; i < 12; ++i) {
            uint32[3] memory version = i == 7 ? [uint32(3), 0, 0] : _defaultVersion();
            _newNode(i, MINIMUM_STAKE * (1 + i), vram[i], version, new bytes32[](0));
        }
        // Different Q: some nodes get group scores (while Busy, as in the protocol), others a timeout (H = 0.3).
        vm.startPrank(address(tm));
        for (uint256 i = 0; i < 12; i += 3) {
            registry.startNode(pool[i + 2], bytes32(0));
            for (uint256 k = 0; k < 1 + i; ++k) registry.recordGroupScore(pool[i + 2], k % 2 == 0 ? 10 : 2);
            registry.releaseNode(pool[i + 2], INodeRegistry.ReleaseOutcome.Neutral);
        }
        for (uint256 i = 3; i < 12; i += 4) {
            registry.startNode(pool[i], bytes32(0));
            registry.releaseNode(pool[i], INodeRegistry.ReleaseOutcome.Timeout);
        }
        vm.stopPrank();

        INodeRegistry.TaskRequirements memory req;
        req.version = [uint32(2), 0, 0];
        req.minimumVRAM = 11;
        uint256[] memory weights = new uint256[](12);
        for (uint256 i = 0; i < 12; ++i) {
            if (registry.isEligible(pool[i], req)) weights[i] = registry.drawWeightOf(pool[i]);
        }
        assertEq(weights[0] + weights[1] + weights[7], 0, "ineligible nodes");
        uint256[] memory counts = _draw(req, new bytes32[](0));
        assertEq(counts[0] + counts[1] + counts[7], 0, "ineligible nodes are never drawn");
        _assertFits(counts, weights);
        _assertDoesNotFitUniform(counts, weights);
    }

    /// @dev Model locality and the same-models factor M: ten nodes, six holding model X, three of those with X as
    /// their last task's models (M = 1.5). Only holders are drawn, in proportion to M·W.
    function test_draw_localityAndSameModelsBonus() public {
        bytes32[] memory withX = new bytes32[](1);
        withX[0] = MODEL_X;
        bytes32 xHash = Dispatch.modelsHash(withX);
        bytes32[] memory restore = new bytes32[](10);
        for (uint256 i = 0; i < 10; ++i) {
            _newNode(i, MINIMUM_STAKE * (1 + 2 * i), NODE_VRAM, _defaultVersion(), i < 6 ? withX : new bytes32[](0));
            restore[i] = i < 3 ? xHash : keccak256(abi.encode("other models", i));
            vm.startPrank(address(tm));
            registry.startNode(pool[i], restore[i]);
            registry.releaseNode(pool[i], INodeRegistry.ReleaseOutcome.Neutral);
            vm.stopPrank();
        }
        INodeRegistry.TaskRequirements memory req;
        req.version = [uint32(2), 0, 0];
        req.minimumVRAM = 8;
        req.modelIDs = withX;
        uint256[] memory weights = new uint256[](10);
        for (uint256 i = 0; i < 6; ++i) {
            uint256 w = registry.drawWeightOf(pool[i]);
            weights[i] = i < 3 ? (w * (10_000 + SAME_MODELS_BONUS_BPS)) / 10_000 : w;
        }
        uint256[] memory counts = _draw(req, restore);
        for (uint256 i = 6; i < 10; ++i) assertEq(counts[i], 0, "a node without the model is never drawn");
        _assertFits(counts, weights);
        _assertDoesNotFitUniform(counts, weights);
        // Without the factor M the counts do not fit either.
        uint256[] memory withoutM = new uint256[](10);
        for (uint256 i = 0; i < 6; ++i) withoutM[i] = registry.drawWeightOf(pool[i]);
        (uint256 stat, uint256 df) = _chiSquare(counts, withoutM);
        assertGt(stat, _critical(df), "the counts reject weights without M");
    }

    /// @dev A task that requires a GPU model draws only from that model's pool.
    function test_draw_requiredGPUDrawsFromItsModelOnly() public {
        for (uint256 i = 0; i < 6; ++i) _newNode(i, MINIMUM_STAKE * (1 + i), 80, _defaultVersion(), new bytes32[](0));
        address a100 = makeAddr("a100");
        vm.deal(a100, MINIMUM_STAKE);
        vm.prank(a100);
        registry.join{value: MINIMUM_STAKE}(
            "NVIDIA A100",
            80,
            _defaultVersion(),
            _bjjKey(),
            _bjjWitness(),
            new bytes32[](0)
        );
        INodeRegistry.TaskRequirements memory req;
        req.version = [uint32(2), 0, 0];
        req.requiredGPU = keccak256("NVIDIA A100");
        req.requiredGPUVRAM = 80;
        vm.startPrank(address(tm));
        for (uint256 i = 0; i < 20; ++i) {
            address selected = registry.selectNode(req, uint256(keccak256(abi.encode(SEED, i))));
            assertEq(selected, a100);
            registry.releaseNode(selected, INodeRegistry.ReleaseOutcome.Neutral);
        }
        req.requiredGPUVRAM = 81;
        assertEq(registry.selectNode(req, 1), address(0), "the model's nodes lack the VRAM");
        vm.stopPrank();
    }

    // ---------------------------------------------------------------------------------------------------------
    // DownloadModel
    // ---------------------------------------------------------------------------------------------------------

    /// @dev The DownloadModel events of the recorded logs: the nodes asked, and whether each was asked for `model`.
    function _downloads(Vm.Log[] memory logs, bytes32 model) internal view returns (address[] memory asked) {
        bytes32 topic = keccak256("DownloadModel(address,bytes32)");
        uint256 n;
        for (uint256 i = 0; i < logs.length; ++i) if (logs[i].topics[0] == topic) ++n;
        asked = new address[](n);
        n = 0;
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].topics[0] != topic) continue;
            assertEq(logs[i].emitter, address(registry));
            assertEq(logs[i].topics[2], model);
            asked[n++] = address(uint160(uint256(logs[i].topics[1])));
        }
    }

    function _selectWithModel(bytes32 model, uint64 minimumVRAM, uint256 randomness) internal returns (address) {
        INodeRegistry.TaskRequirements memory req;
        req.version = [uint32(2), 0, 0];
        req.minimumVRAM = minimumVRAM;
        req.modelIDs = new bytes32[](1);
        req.modelIDs[0] = model;
        vm.prank(address(tm));
        return registry.selectNode(req, randomness);
    }

    /// @dev 30 eligible nodes and 10 too small, none holding X: a task needing X asks 10 distinct eligible nodes to
    /// download it (and is dispatched anyway, to a node without X).
    function test_downloadModel_asksUpToTenEligibleNodesWhenNobodyHoldsIt() public {
        for (uint256 i = 0; i < 40; ++i) {
            _newNode(i, MINIMUM_STAKE, i < 30 ? NODE_VRAM : 8, _defaultVersion(), new bytes32[](0));
        }
        assertEq(registry.availableModelHolders(MODEL_X), 0);
        vm.recordLogs();
        address selected = _selectWithModel(MODEL_X, 16, uint256(SEED));
        address[] memory asked = _downloads(vm.getRecordedLogs(), MODEL_X);
        assertTrue(selected != address(0));
        assertEq(asked.length, 10);
        for (uint256 i = 0; i < asked.length; ++i) {
            assertLt(_indexOf(asked[i]), 30, "only eligible nodes are asked");
            for (uint256 j = 0; j < i; ++j) assertTrue(asked[i] != asked[j], "each node is asked once");
        }
    }

    /// @dev Two Available holders are fewer than three: others are asked (never the holders). With a third holder,
    /// nobody is asked.
    function test_downloadModel_onlyWhenFewerThanThreeAvailableHolders() public {
        bytes32[] memory withX = new bytes32[](1);
        withX[0] = MODEL_X;
        for (uint256 i = 0; i < 20; ++i) {
            _newNode(i, MINIMUM_STAKE, NODE_VRAM, _defaultVersion(), i < 2 ? withX : new bytes32[](0));
        }
        assertEq(registry.availableModelHolders(MODEL_X), 2);
        vm.recordLogs();
        address selected = _selectWithModel(MODEL_X, 8, uint256(SEED));
        address[] memory asked = _downloads(vm.getRecordedLogs(), MODEL_X);
        assertTrue(selected == pool[0] || selected == pool[1], "locality: a holder is drawn");
        assertEq(registry.availableModelHolders(MODEL_X), 1, "the drawn holder is Busy");
        assertGt(asked.length, 0);
        for (uint256 i = 0; i < asked.length; ++i) assertGe(_indexOf(asked[i]), 2, "holders are not asked");

        vm.prank(address(tm));
        registry.releaseNode(selected, INodeRegistry.ReleaseOutcome.Neutral);
        vm.prank(pool[5]);
        registry.reportModelDownloaded(MODEL_X);
        assertEq(registry.availableModelHolders(MODEL_X), 3);
        vm.recordLogs();
        _selectWithModel(MODEL_X, 8, uint256(SEED) + 1);
        assertEq(_downloads(vm.getRecordedLogs(), MODEL_X).length, 0);
    }
}
