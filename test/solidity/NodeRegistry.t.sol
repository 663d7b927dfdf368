// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {INodeRegistry} from "../../contracts/interfaces/INodeRegistry.sol";
import {IPullPayments} from "../../contracts/interfaces/IPullPayments.sol";
import {ITaskManager} from "../../contracts/interfaces/ITaskManager.sol";
import {ITaskTypes} from "../../contracts/interfaces/ITaskTypes.sol";
import {Dispatch} from "../../contracts/libraries/Dispatch.sol";
import {BaseTest} from "./BaseTest.sol";

contract NodeRegistryTest is BaseTest {
    address internal node;

    function setUp() public override {
        super.setUp();
        node = nodes[0];
    }

    /// @dev Joins `node` and gives it a task, so it is Busy. Returns the task.
    function _makeBusy(address who) internal returns (bytes32 id) {
        _joinNode(who);
        id = _createTask(apps[0], keccak256(abi.encode("guid", who)), keccak256(abi.encode("nonce", who)));
        assertEq(_selectedNode(id), who);
        assertEq(uint8(_status(who)), uint8(INodeRegistry.NodeStatus.Busy));
    }

    /// @dev Ends `id` by an execution timeout (anyone may call after the deadline): the node is released.
    /// @dev A node timeout: the parameters are uploaded first (a Started timeout is the application's, DESIGN §13.3).
    function _timeOut(bytes32 id) internal {
        if (tm.taskStatus(id) == ITaskTypes.TaskStatus.Started) _uploadParameters(id);
        vm.warp(tm.deadlineOf(id));
        vm.prank(stranger);
        tm.abortTask(id);
    }

    function _expectInvalidStatus(address who, INodeRegistry.NodeStatus status) internal {
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeInvalidStatus.selector, who, status));
    }

    function _expectNotTaskManager(address caller) internal {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                caller,
                registry.TASK_MANAGER_ROLE()
            )
        );
    }

    function _assertStatus(address who, INodeRegistry.NodeStatus expected) internal view {
        assertEq(uint8(_status(who)), uint8(expected));
    }

    // ---------------------------------------------------------------------------------------------------------
    // join
    // ---------------------------------------------------------------------------------------------------------

    function test_join_becomesAvailableWithProfile() public {
        vm.expectEmit(true, true, false, true, address(registry));
        emit INodeRegistry.NodeJoined(node, GPU_4090_ID, GPU_4090, NODE_VRAM, MINIMUM_STAKE);
        _joinNode(node);

        INodeRegistry.NodeInfo memory info = registry.getNode(node);
        assertEq(uint8(info.status), uint8(INodeRegistry.NodeStatus.Available));
        assertEq(info.gpuID, GPU_4090_ID);
        assertEq(info.gpuVRAM, NODE_VRAM);
        assertEq(info.version[0], 2);
        assertEq(info.version[1], 5);
        assertEq(info.stake, MINIMUM_STAKE);
        assertEq(info.publicKey[0], BJJ_X);
        assertEq(info.publicKey[1], BJJ_Y);
        assertEq(info.health, 10_000);
        assertEq(info.scoreCount, 0);
        assertTrue(registry.hasModel(node, MODEL_SDXL));
        assertFalse(registry.hasModel(node, MODEL_LLAMA));
        assertEq(registry.nodeCount(), 1);
        assertEq(registry.availableNodeCount(), 1);
        assertEq(registry.totalStaked(), MINIMUM_STAKE);
        assertEq(address(registry).balance, MINIMUM_STAKE);
    }

    function test_join_acceptsAnyStakeAboveMinimum(uint256 stake) public {
        stake = _boundStake(stake);
        _joinNode(node, stake);
        assertEq(registry.getNode(node).stake, stake);
        assertEq(registry.totalStaked(), stake);
    }

    function test_join_revertsWhenStakeTooLow(uint256 stake) public {
        stake = bound(stake, 0, MINIMUM_STAKE - 1);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeStakeTooLow.selector, stake, MINIMUM_STAKE));
        _joinNode(node, stake);
    }

    function test_join_revertsWhenAlreadyJoined() public {
        _joinNode(node);
        _expectInvalidStatus(node, INodeRegistry.NodeStatus.Available);
        _joinNode(node);
    }

    function test_join_revertsWhenPaused() public {
        _joinNode(node);
        vm.prank(node);
        registry.pause();
        _expectInvalidStatus(node, INodeRegistry.NodeStatus.Paused);
        _joinNode(node);
    }

    function test_join_revertsWhenVRAMZero() public {
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeInvalidProfile.selector, node));
        vm.prank(node);
        registry.join{value: MINIMUM_STAKE}(GPU_4090, 0, _defaultVersion(), _bjjKey(), _bjjWitness(), _defaultModels());
    }

    function test_join_revertsWhenPublicKeyZero() public {
        uint256[2] memory key = [uint256(0), 0];
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeKeyNotInSubgroup.selector, node, key));
        vm.prank(node);
        registry.join{value: MINIMUM_STAKE}(
            GPU_4090,
            NODE_VRAM,
            _defaultVersion(),
            key,
            _bjjWitness(),
            _defaultModels()
        );
    }

    /// @dev Keys the circuits cannot use: off the curve, the points (0, ±1), coordinates outside the field; each with
    /// the witness of the real key, which cannot match.
    function test_join_revertsWhenPublicKeyUnusable() public {
        uint256[2][6] memory bad = [
            [uint256(1), 2],
            [BJJ_X, BJJ_Y + 1],
            [uint256(0), 1],
            [uint256(0), BJJ_FIELD - 1],
            [BJJ_X + BJJ_FIELD, BJJ_Y],
            [BJJ_X, BJJ_Y + BJJ_FIELD]
        ];
        for (uint256 i = 0; i < bad.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeKeyNotInSubgroup.selector, node, bad[i]));
            vm.prank(node);
            registry.join{value: MINIMUM_STAKE}(
                GPU_4090,
                NODE_VRAM,
                _defaultVersion(),
                bad[i],
                _bjjWitness(),
                _defaultModels()
            );
        }
        assertEq(registry.nodeCount(), 0);
    }

    /// @dev Another key of the subgroup than Base8 (its negation (-x, y), witness (-Rx, Ry)) is accepted and kept by
    /// `nodePublicKey`.
    function test_join_acceptsAnotherSubgroupKey() public {
        (uint256[2] memory key, uint256[2] memory witness) = _distinctKeyAndWitness(1);
        vm.prank(node);
        registry.join{value: MINIMUM_STAKE}(GPU_4090, NODE_VRAM, _defaultVersion(), key, witness, _defaultModels());
        assertEq(registry.nodePublicKey(node)[0], key[0]);
        assertEq(registry.nodePublicKey(node)[1], key[1]);
        assertEq(registry.getNode(node).publicKey[0], key[0]);
    }

    /// @dev A correct key with a witness R whose [8]R is another key is refused.
    function test_join_revertsWhenWitnessIsNotTheKeysEighth() public {
        (, uint256[2] memory otherWitness) = _distinctKeyAndWitness(2);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeKeyNotInSubgroup.selector, node, _bjjKey()));
        vm.prank(node);
        registry.join{value: MINIMUM_STAKE}(
            GPU_4090,
            NODE_VRAM,
            _defaultVersion(),
            _bjjKey(),
            otherWitness,
            _defaultModels()
        );
    }

    function test_join_takesQueuedTask() public {
        bytes32 id = _createTask(apps[0], "guid", "nonce");
        assertEq(uint8(_taskStatus(id)), uint8(ITaskTypes.TaskStatus.Queued));
        _joinNode(node);
        _assertStatus(node, INodeRegistry.NodeStatus.Busy);
        assertEq(_selectedNode(id), node);
        assertEq(registry.availableNodeCount(), 0);
    }

    /// @dev DESIGN §13.3: quitting does not wipe a node's QoS history (its timeouts stay in its health and window).
    function test_join_afterQuitKeepsQoSHistory() public {
        bytes32 id = _makeBusy(node);
        _timeOut(id); // H ← 0.3, a 0 in the window
        assertEq(registry.getNode(node).health, 3_000);
        vm.prank(node);
        registry.quit();
        _joinNode(node, 2 * MINIMUM_STAKE);
        INodeRegistry.NodeInfo memory info = registry.getNode(node);
        assertEq(info.health, 3_000, "health kept");
        assertEq(info.scoreCount, 1, "the timeout's 0 kept");
        assertEq(info.scoreSum, 0);
        assertEq(info.stake, 2 * MINIMUM_STAKE);
        assertEq(info.lastModelsHash, bytes32(0));
    }

    // ---------------------------------------------------------------------------------------------------------
    // quit
    // ---------------------------------------------------------------------------------------------------------

    function test_quit_whenAvailableCreditsStakeForWithdrawal() public {
        _joinNode(node, 1_000 ether);
        vm.expectEmit(true, false, false, true, address(registry));
        emit INodeRegistry.NodeQuit(node, 1_000 ether);
        vm.prank(node);
        registry.quit();

        _assertStatus(node, INodeRegistry.NodeStatus.Quit);
        assertEq(registry.nodeCount(), 0);
        assertEq(registry.availableNodeCount(), 0);
        assertEq(registry.totalStaked(), 0);
        assertEq(registry.getNode(node).stake, 0);
        assertEq(registry.withdrawable(node), 1_000 ether);
        assertEq(registry.totalWithdrawable(), 1_000 ether);

        uint256 before = node.balance;
        vm.prank(node);
        assertEq(registry.withdraw(), 1_000 ether);
        assertEq(node.balance, before + 1_000 ether);
        assertEq(address(registry).balance, 0);
        assertEq(registry.totalWithdrawable(), 0);

        vm.expectRevert(abi.encodeWithSelector(IPullPayments.PaymentNothingToWithdraw.selector, node));
        vm.prank(node);
        registry.withdraw();
    }

    function test_quit_whenPausedCreditsStake() public {
        _joinNode(node);
        vm.startPrank(node);
        registry.pause();
        registry.quit();
        vm.stopPrank();
        _assertStatus(node, INodeRegistry.NodeStatus.Quit);
        assertEq(registry.withdrawable(node), MINIMUM_STAKE);
    }

    function test_quit_whenBusyBecomesPendingQuitThenQuitsOnRelease() public {
        bytes32 id = _makeBusy(node);
        vm.prank(node);
        registry.quit();
        _assertStatus(node, INodeRegistry.NodeStatus.PendingQuit);
        assertEq(registry.withdrawable(node), 0);
        assertEq(registry.nodeCount(), 1);

        _timeOut(id);
        _assertStatus(node, INodeRegistry.NodeStatus.Quit);
        assertEq(registry.nodeCount(), 0);
        assertEq(registry.totalStaked(), 0);
        assertEq(registry.withdrawable(node), MINIMUM_STAKE);
    }

    function test_quit_whenPendingPauseBecomesPendingQuit() public {
        _makeBusy(node);
        vm.startPrank(node);
        registry.pause();
        registry.quit();
        vm.stopPrank();
        _assertStatus(node, INodeRegistry.NodeStatus.PendingQuit);
    }

    function test_quit_revertsWhenNeverJoined() public {
        _expectInvalidStatus(node, INodeRegistry.NodeStatus.Quit);
        vm.prank(node);
        registry.quit();
    }

    function test_quit_revertsWhenPendingQuit() public {
        _makeBusy(node);
        vm.prank(node);
        registry.quit();
        _expectInvalidStatus(node, INodeRegistry.NodeStatus.PendingQuit);
        vm.prank(node);
        registry.quit();
    }

    function test_quit_pendingQuitNodeDoesNotTakeQueuedTask() public {
        bytes32 first = _makeBusy(node);
        bytes32 queued = _createTask(apps[0], "guid-2", "nonce-2");
        assertEq(uint8(_taskStatus(queued)), uint8(ITaskTypes.TaskStatus.Queued));
        vm.prank(node);
        registry.quit();
        _timeOut(first);
        assertEq(uint8(_taskStatus(queued)), uint8(ITaskTypes.TaskStatus.Queued));
        _assertStatus(node, INodeRegistry.NodeStatus.Quit);
    }

    // ---------------------------------------------------------------------------------------------------------
    // pause / resume
    // ---------------------------------------------------------------------------------------------------------

    function test_pause_whenAvailablePausesAtOnce() public {
        _joinNode(node);
        vm.expectEmit(true, false, false, false, address(registry));
        emit INodeRegistry.NodePaused(node);
        vm.prank(node);
        registry.pause();
        _assertStatus(node, INodeRegistry.NodeStatus.Paused);
        assertEq(registry.availableNodeCount(), 0);
        assertEq(registry.nodeCount(), 1);
        // A paused node is not selected.
        bytes32 id = _createTask(apps[0], "guid", "nonce");
        assertEq(uint8(_taskStatus(id)), uint8(ITaskTypes.TaskStatus.Queued));
    }

    function test_pause_whenBusyBecomesPendingPauseThenPausedOnRelease() public {
        bytes32 id = _makeBusy(node);
        vm.prank(node);
        registry.pause();
        _assertStatus(node, INodeRegistry.NodeStatus.PendingPause);
        _timeOut(id);
        _assertStatus(node, INodeRegistry.NodeStatus.Paused);
        assertEq(registry.availableNodeCount(), 0);
    }

    function test_pause_revertsWhenPaused() public {
        _joinNode(node);
        vm.prank(node);
        registry.pause();
        _expectInvalidStatus(node, INodeRegistry.NodeStatus.Paused);
        vm.prank(node);
        registry.pause();
    }

    function test_pause_revertsWhenPendingPause() public {
        _makeBusy(node);
        vm.prank(node);
        registry.pause();
        _expectInvalidStatus(node, INodeRegistry.NodeStatus.PendingPause);
        vm.prank(node);
        registry.pause();
    }

    function test_pause_revertsWhenPendingQuit() public {
        _makeBusy(node);
        vm.prank(node);
        registry.quit();
        _expectInvalidStatus(node, INodeRegistry.NodeStatus.PendingQuit);
        vm.prank(node);
        registry.pause();
    }

    function test_pause_revertsWhenNeverJoined() public {
        _expectInvalidStatus(node, INodeRegistry.NodeStatus.Quit);
        vm.prank(node);
        registry.pause();
    }

    function test_resume_whenPausedBecomesAvailableAndTakesQueuedTask() public {
        _joinNode(node);
        vm.prank(node);
        registry.pause();
        bytes32 id = _createTask(apps[0], "guid", "nonce");
        vm.expectEmit(true, false, false, false, address(registry));
        emit INodeRegistry.NodeResumed(node);
        vm.prank(node);
        registry.resume();
        _assertStatus(node, INodeRegistry.NodeStatus.Busy);
        assertEq(_selectedNode(id), node);
    }

    function test_resume_whenPausedWithEmptyQueueIsAvailable() public {
        _joinNode(node);
        vm.startPrank(node);
        registry.pause();
        registry.resume();
        vm.stopPrank();
        _assertStatus(node, INodeRegistry.NodeStatus.Available);
        assertEq(registry.availableNodeCount(), 1);
    }

    function test_resume_whenPendingPauseCancelsThePause() public {
        bytes32 id = _makeBusy(node);
        vm.startPrank(node);
        registry.pause();
        registry.resume();
        vm.stopPrank();
        _assertStatus(node, INodeRegistry.NodeStatus.Busy);
        _timeOut(id);
        _assertStatus(node, INodeRegistry.NodeStatus.Available);
    }

    function test_resume_revertsWhenAvailable() public {
        _joinNode(node);
        _expectInvalidStatus(node, INodeRegistry.NodeStatus.Available);
        vm.prank(node);
        registry.resume();
    }

    function test_resume_revertsWhenBusy() public {
        _makeBusy(node);
        _expectInvalidStatus(node, INodeRegistry.NodeStatus.Busy);
        vm.prank(node);
        registry.resume();
    }

    function test_resume_revertsWhenPendingQuit() public {
        _makeBusy(node);
        vm.prank(node);
        registry.quit();
        _expectInvalidStatus(node, INodeRegistry.NodeStatus.PendingQuit);
        vm.prank(node);
        registry.resume();
    }

    // ---------------------------------------------------------------------------------------------------------
    // reportModelDownloaded
    // ---------------------------------------------------------------------------------------------------------

    function test_reportModelDownloaded_recordsModel() public {
        _joinNode(node);
        vm.expectEmit(true, true, false, false, address(registry));
        emit INodeRegistry.NodeModelDownloaded(node, MODEL_LLAMA);
        vm.prank(node);
        registry.reportModelDownloaded(MODEL_LLAMA);
        assertTrue(registry.hasModel(node, MODEL_LLAMA));
    }

    function test_reportModelDownloaded_revertsWhenModelAlreadyHeld() public {
        _joinNode(node);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeModelAlreadyHeld.selector, node, MODEL_SDXL));
        vm.prank(node);
        registry.reportModelDownloaded(MODEL_SDXL);
    }

    function test_reportModelDownloaded_revertsWhenNotJoined() public {
        _expectInvalidStatus(node, INodeRegistry.NodeStatus.Quit);
        vm.prank(node);
        registry.reportModelDownloaded(MODEL_LLAMA);
    }

    function test_reportModelDownloaded_makesNodeALocalCandidate() public {
        // Two nodes; only the second holds LLAMA after reporting it, so it is the only local candidate (B9).
        _joinNode(nodes[0]);
        _joinNode(nodes[1]);
        vm.prank(nodes[1]);
        registry.reportModelDownloaded(MODEL_LLAMA);
        ITaskManager.TaskInput memory input = _taskInput("guid", "nonce");
        input.modelIDs[0] = MODEL_LLAMA;
        for (uint256 i = 0; i < 8; ++i) {
            vm.prevrandao(bytes32(i + 1));
            input.nonce = keccak256(abi.encode(i));
            input.taskIDCommitment = _commitment("guid", input.nonce);
            bytes32 id = _createTask(apps[0], input, FEE);
            assertEq(_selectedNode(id), nodes[1]);
            // Free it again for the next draw.
            _timeOut(id);
            // Keep health high enough to stay selectable: it recovers with time (14 half-lives: fully). Then quit
            // and join again: a node that quits is forgotten with its models, so it reports the download again.
            vm.warp(block.timestamp + 14 * registry.HEALTH_HALF_LIFE());
            vm.prank(nodes[1]);
            registry.quit();
            assertFalse(registry.hasModel(nodes[1], MODEL_LLAMA));
            _joinNode(nodes[1]);
            vm.prank(nodes[1]);
            registry.reportModelDownloaded(MODEL_LLAMA);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // recordGroupScore: a window of the last 50 scores
    // ---------------------------------------------------------------------------------------------------------

    function _score(uint256 seed, uint256 i) internal pure returns (uint8) {
        return uint8(uint256(keccak256(abi.encode(seed, i))) % 11);
    }

    function test_recordGroupScore_windowOf50(uint256 seed, uint256 k) public {
        k = bound(k, 0, 130);
        _joinNode(node);
        vm.startPrank(address(tm));
        for (uint256 i = 0; i < k; ++i) registry.recordGroupScore(node, _score(seed, i));
        vm.stopPrank();

        uint256 held = k < 50 ? k : 50;
        uint256 expectedSum;
        for (uint256 i = k - held; i < k; ++i) expectedSum += _score(seed, i);
        INodeRegistry.NodeInfo memory info = registry.getNode(node);
        assertEq(info.scoreCount, held);
        assertEq(info.scoreSum, expectedSum);
    }

    function test_recordGroupScore_oldestScoreLeavesTheWindow() public {
        _joinNode(node);
        vm.startPrank(address(tm));
        registry.recordGroupScore(node, 10);
        for (uint256 i = 0; i < 49; ++i) registry.recordGroupScore(node, 2);
        assertEq(registry.getNode(node).scoreSum, 10 + 49 * 2);
        registry.recordGroupScore(node, 5); // the 10 leaves
        vm.stopPrank();
        assertEq(registry.getNode(node).scoreCount, 50);
        assertEq(registry.getNode(node).scoreSum, 49 * 2 + 5);
    }

    function test_recordGroupScore_changesWeight() public {
        _joinNode(node, STAKE_CAP);
        uint256 fresh = registry.weightOf(node); // Q_long = 5
        assertEq(fresh, uint256(1e18) / 3); // S = 1, Q = 0.5
        vm.prank(address(tm));
        registry.recordGroupScore(node, 10);
        assertGt(registry.weightOf(node), fresh);
        // A partial window counts its missing scores as 5: Q_long = (10 + 49 · 5) / 50 = 5.1.
        assertEq(registry.weightOf(node), Dispatch.staticWeight(STAKE_CAP, STAKE_CAP, 255, 50, 10_000));
        _recordScores(node, 49, 10, 10);
        assertEq(registry.weightOf(node), 0.5e18); // S = 1, Q = 1
    }

    // ---------------------------------------------------------------------------------------------------------
    // QoS kick-out (DESIGN §7): Q_long < 2 over a full window of 50 scores
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Records `count` scores for `who` as the task manager, alternating `a` and `b`.
    function _recordScores(address who, uint256 count, uint8 a, uint8 b) internal {
        vm.startPrank(address(tm));
        for (uint256 i = 0; i < count; ++i) registry.recordGroupScore(who, i % 2 == 0 ? a : b);
        vm.stopPrank();
    }

    function test_kickOut_availableNodeLeavesWithItsStakeWhenMeanBelowTwo() public {
        _joinNode(node, 1_000 ether);
        _joinNode(nodes[1]);
        _recordScores(node, 49, 1, 2); // 49 scores, mean < 2, but the window is not full
        _assertStatus(node, INodeRegistry.NodeStatus.Available);
        vm.expectEmit(true, false, false, true, address(registry));
        emit INodeRegistry.NodeKickedOut(node, 1_000 ether);
        _recordScores(node, 1, 2, 2); // the 50th: sum = 25 · 1 + 25 · 2 = 75 < 100
        _assertStatus(node, INodeRegistry.NodeStatus.Quit);
        assertEq(registry.withdrawable(node), 1_000 ether, "stake returned, not slashed");
        assertEq(registry.withdrawable(treasury), 0);
        assertEq(registry.nodeCount(), 1);
        assertEq(registry.availableNodeCount(), 1);
        assertEq(registry.totalStaked(), MINIMUM_STAKE);
        assertEq(registry.drawWeightOf(node), 0);
        // It is never drawn again: every task goes to the other node.
        for (uint256 i = 0; i < 4; ++i) {
            bytes32 id = _createTask(apps[0], keccak256(abi.encode("g", i)), keccak256(abi.encode("n", i)));
            assertEq(_selectedNode(id), nodes[1]);
            _timeOut(id);
            // Health recovers with time (14 half-lives: fully).
            vm.warp(block.timestamp + 14 * registry.HEALTH_HALF_LIFE());
            registry.refreshHealth(nodes[1]);
        }
    }

    function test_kickOut_meanOfExactlyTwoStays() public {
        _joinNode(node);
        _recordScores(node, 60, 2, 2);
        _assertStatus(node, INodeRegistry.NodeStatus.Available);
        assertEq(registry.getNode(node).scoreSum, 100);
    }

    function test_kickOut_busyNodeLeavesWhenItsTaskEnds() public {
        bytes32 id = _makeBusy(node);
        _recordScores(node, 50, 0, 1);
        _assertStatus(node, INodeRegistry.NodeStatus.Busy);
        // A queued task is not handed to the node that is leaving.
        bytes32 queued = _createTask(apps[0], "guid-2", "nonce-2");
        _uploadParameters(id);
        vm.expectEmit(true, false, false, true, address(registry));
        emit INodeRegistry.NodeKickedOut(node, MINIMUM_STAKE);
        _timeOut(id);
        _assertStatus(node, INodeRegistry.NodeStatus.Quit);
        assertEq(uint8(_taskStatus(queued)), uint8(ITaskTypes.TaskStatus.Queued));
        assertEq(registry.withdrawable(node), MINIMUM_STAKE);
        assertEq(registry.nodeCount(), 0);
        assertEq(address(registry).balance, registry.totalStaked() + registry.totalWithdrawable());
        // It may join again, with its history: the window is still full and its mean below 2 (the timeout's 0
        // replaced the oldest 0), so the next fault kicks it out again.
        _joinNode(node);
        assertEq(registry.getNode(node).scoreCount, 50);
        assertEq(registry.getNode(node).scoreSum, 25);
        assertEq(_selectedNode(queued), node);
    }

    function test_recordGroupScore_revertsWhenNotJoined() public {
        _expectInvalidStatus(node, INodeRegistry.NodeStatus.Quit);
        vm.prank(address(tm));
        registry.recordGroupScore(node, 10);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Models
    // ---------------------------------------------------------------------------------------------------------

    function test_join_revertsWithTooManyModels() public {
        uint256 max = registry.MAX_MODELS_PER_NODE();
        bytes32[] memory models = new bytes32[](max + 1);
        for (uint256 i = 0; i < models.length; ++i) models[i] = keccak256(abi.encode("model", i));
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeTooManyModels.selector, node, max + 1, max));
        vm.prank(node);
        registry.join{value: MINIMUM_STAKE}(GPU_4090, NODE_VRAM, _defaultVersion(), _bjjKey(), _bjjWitness(), models);
    }

    function test_reportModelDownloaded_revertsWithTooManyModels() public {
        _joinNode(node); // holds one model
        uint256 max = registry.MAX_MODELS_PER_NODE();
        vm.startPrank(node);
        for (uint256 i = 1; i < max; ++i) registry.reportModelDownloaded(keccak256(abi.encode("model", i)));
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeTooManyModels.selector, node, max + 1, max));
        registry.reportModelDownloaded(keccak256("one too many"));
        vm.stopPrank();
    }

    function test_availableModelHolders_followsStatus() public {
        _joinNode(node);
        assertEq(registry.availableModelHolders(MODEL_SDXL), 1);
        vm.prank(node);
        registry.pause();
        assertEq(registry.availableModelHolders(MODEL_SDXL), 0);
        vm.prank(node);
        registry.reportModelDownloaded(MODEL_LLAMA); // while Paused: held, not available
        assertEq(registry.availableModelHolders(MODEL_LLAMA), 0);
        vm.prank(node);
        registry.resume();
        assertEq(registry.availableModelHolders(MODEL_SDXL), 1);
        assertEq(registry.availableModelHolders(MODEL_LLAMA), 1);
        bytes32 id = _createTask(apps[0], "guid", "nonce");
        assertEq(_selectedNode(id), node);
        assertEq(registry.availableModelHolders(MODEL_SDXL), 0);
        vm.prank(node);
        registry.quit(); // PendingQuit
        _timeOut(id);
        assertEq(registry.availableModelHolders(MODEL_SDXL), 0);
        assertFalse(registry.hasModel(node, MODEL_SDXL), "a node that quit is forgotten with its models");
    }

    function test_drawWeightOf_isZeroUnlessAvailableAndHealthy() public {
        _joinNode(node, STAKE_CAP);
        assertEq(registry.drawWeightOf(node), registry.weightOf(node) / 1e9);
        bytes32 id = _createTask(apps[0], "guid", "nonce");
        assertEq(registry.drawWeightOf(node), 0, "Busy");
        _timeOut(id); // H = 0.3
        assertEq(registry.drawWeightOf(node), registry.weightOf(node) / 1e9);
        id = _createTask(apps[0], "guid-2", "nonce-2");
        _timeOut(id); // H = 0.09 < 0.1
        assertGt(registry.weightOf(node), 0);
        assertEq(registry.drawWeightOf(node), 0, "excluded while H < 0.1");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Task manager hooks: access control
    // ---------------------------------------------------------------------------------------------------------

    function _requirements() internal pure returns (INodeRegistry.TaskRequirements memory req) {
        req.version = [uint32(2), 0, 0];
        req.minimumVRAM = 8;
        req.modelIDs = _defaultModels();
    }

    function test_selectNode_revertsWhenNotTaskManager() public {
        _joinNode(node);
        INodeRegistry.TaskRequirements memory req = _requirements();
        _expectNotTaskManager(stranger);
        vm.prank(stranger);
        registry.selectNode(req, 1);
    }

    function test_startNode_revertsWhenNotTaskManager() public {
        _joinNode(node);
        _expectNotTaskManager(node);
        vm.prank(node);
        registry.startNode(node, bytes32(0));
    }

    function test_releaseNode_revertsWhenNotTaskManager() public {
        _makeBusy(node);
        _expectNotTaskManager(node);
        vm.prank(node);
        registry.releaseNode(node, INodeRegistry.ReleaseOutcome.Success);
    }

    function test_recordGroupScore_revertsWhenNotTaskManager() public {
        _joinNode(node);
        _expectNotTaskManager(node);
        vm.prank(node);
        registry.recordGroupScore(node, 10);
    }

    function test_slash_revertsWhenNotTaskManager() public {
        _makeBusy(node);
        _expectNotTaskManager(admin);
        vm.prank(admin);
        registry.slash(node, bytes32(0));
    }

    function test_selectNode_drawsAnEligibleNodeAndMarksItBusy() public {
        _joinNode(nodes[0]);
        _joinNode(nodes[1]);
        INodeRegistry.TaskRequirements memory req = _requirements();
        vm.prank(address(tm));
        address selected = registry.selectNode(req, 12345);
        assertTrue(selected == nodes[0] || selected == nodes[1]);
        _assertStatus(selected, INodeRegistry.NodeStatus.Busy);
        assertEq(registry.availableNodeCount(), 1);
    }

    function test_selectNode_returnsZeroWhenNoneEligible() public {
        _joinNode(node);
        INodeRegistry.TaskRequirements memory req = _requirements();
        req.minimumVRAM = NODE_VRAM + 1;
        vm.prank(address(tm));
        assertEq(registry.selectNode(req, 1), address(0));
        _assertStatus(node, INodeRegistry.NodeStatus.Available);
    }

    function test_startNode_revertsWhenNotAvailable() public {
        _makeBusy(node);
        _expectInvalidStatus(node, INodeRegistry.NodeStatus.Busy);
        vm.prank(address(tm));
        registry.startNode(node, bytes32(0));
    }

    function test_releaseNode_revertsWhenAvailable() public {
        _joinNode(node);
        _expectInvalidStatus(node, INodeRegistry.NodeStatus.Available);
        vm.prank(address(tm));
        registry.releaseNode(node, INodeRegistry.ReleaseOutcome.Neutral);
    }

    function test_releaseNode_appliesHealthOutcomes() public {
        _makeBusy(node);
        vm.startPrank(address(tm));
        assertTrue(registry.releaseNode(node, INodeRegistry.ReleaseOutcome.Timeout));
        assertEq(registry.getNode(node).health, 3_000);
        registry.startNode(node, bytes32(0));
        registry.releaseNode(node, INodeRegistry.ReleaseOutcome.Success);
        assertEq(registry.getNode(node).health, 4_500);
        registry.startNode(node, bytes32(0));
        registry.releaseNode(node, INodeRegistry.ReleaseOutcome.Neutral);
        assertEq(registry.getNode(node).health, 4_500);
        for (uint256 i = 0; i < 5; ++i) {
            registry.startNode(node, bytes32(0));
            registry.releaseNode(node, INodeRegistry.ReleaseOutcome.Success);
        }
        vm.stopPrank();
        assertEq(registry.getNode(node).health, 10_000); // capped at 1
    }

    function test_slash_sendsStakeToTreasury() public {
        bytes32 id = _makeBusy(node);
        vm.expectEmit(true, true, false, true, address(registry));
        emit INodeRegistry.NodeSlashed(node, id, MINIMUM_STAKE);
        vm.prank(address(tm));
        assertEq(registry.slash(node, id), MINIMUM_STAKE);
        _assertStatus(node, INodeRegistry.NodeStatus.Quit);
        assertEq(registry.totalStaked(), 0);
        assertEq(registry.nodeCount(), 0);
        assertEq(registry.withdrawable(node), 0);
        assertEq(registry.withdrawable(treasury), MINIMUM_STAKE);
        uint256 before = treasury.balance;
        vm.prank(treasury);
        registry.withdraw();
        assertEq(treasury.balance, before + MINIMUM_STAKE);
    }

    // ---------------------------------------------------------------------------------------------------------
    // QoS that can act (DESIGN §13.7, issue 11 item 8)
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Regression (issue 11 item 8): a node that keeps timing out after the application uploaded its parameters
    /// (the node's fault) used to stay in the network forever: timeouts never entered the score window, so the
    /// kick-out (Q_long < 2 over 50 scores) could not trigger. Now each timeout is a 0 and the node is kicked out
    /// after 50 of them, with its stake returned (not slashed). Between tasks its health recovers with time, so it
    /// keeps being drawn (it is the only node).
    function test_qos_nodeThatKeepsTimingOutIsKickedOut() public {
        _joinNode(node);
        uint256 rounds;
        while (_status(node) != INodeRegistry.NodeStatus.Quit) {
            assertLt(rounds, 50, "kicked out within one window");
            bytes32 id = _createTask(apps[0], keccak256(abi.encode("g", rounds)), keccak256(abi.encode("n", rounds)));
            assertEq(_selectedNode(id), node, "drawn again once recovered");
            _uploadParameters(id);
            if (rounds == 49) {
                vm.expectEmit(true, false, false, true, address(registry));
                emit INodeRegistry.NodeKickedOut(node, MINIMUM_STAKE);
            }
            _timeOut(id);
            ++rounds;
            if (_status(node) == INodeRegistry.NodeStatus.Quit) break;
            assertEq(registry.getNode(node).scoreCount, rounds);
            assertEq(registry.getNode(node).scoreSum, 0);
            vm.warp(block.timestamp + 14 * registry.HEALTH_HALF_LIFE());
            registry.refreshHealth(node);
        }
        assertEq(rounds, 50);
        assertEq(registry.withdrawable(node), MINIMUM_STAKE, "stake returned, not slashed");
        assertEq(registry.withdrawable(treasury), 0);
        assertEq(registry.nodeCount(), 0);
    }

    /// @dev A single fault does not exclude a new node for good: the missing scores of its window count as 5.
    function test_qos_oneTimeoutKeepsANewNodeDrawable() public {
        _joinNode(node, STAKE_CAP);
        bytes32 id = _createTask(apps[0], "g", "n");
        _uploadParameters(id);
        _timeOut(id); // H = 0.3, Q_long = (0 + 49 · 5) / 50 = 4.9
        assertEq(registry.getNode(node).scoreCount, 1);
        assertEq(registry.weightOf(node), Dispatch.staticWeight(STAKE_CAP, STAKE_CAP, 245, 50, 3_000));
        assertGt(registry.drawWeightOf(node), 0);
    }

    /// @dev Health recovers with time: the deficit 1 − H halves every HEALTH_HALF_LIFE (lazily, from a timestamp).
    function test_health_recoversAfterTheHalfLife() public {
        bytes32 id = _makeBusy(node);
        _uploadParameters(id);
        _timeOut(id);
        id = _createTask(apps[0], "g2", "n2");
        _uploadParameters(id);
        _timeOut(id); // H ≈ 0.3 · 0.3 (plus the little recovered between the two): excluded from selection
        uint256 h0 = registry.getNode(node).health;
        assertLt(h0, 1_000);
        assertEq(registry.drawWeightOf(node), 0);
        assertEq(registry.healthOf(node), h0, "no time passed");
        uint256 deficit = 10_000 - h0;
        uint256 halfLife = registry.HEALTH_HALF_LIFE();
        vm.warp(block.timestamp + halfLife);
        assertEq(registry.healthOf(node), 10_000 - deficit / 2, "one half-life: half the deficit");
        vm.warp(block.timestamp + halfLife / 2);
        // Linear between halvings: the deficit of one halving, less a quarter of it.
        assertEq(registry.healthOf(node), 10_000 - (deficit / 2 - deficit / 2 / 4));
        vm.warp(block.timestamp + halfLife / 2);
        assertEq(registry.healthOf(node), 10_000 - deficit / 4, "two half-lives: a quarter");
        // Nothing was written: selection still sees the stored value until the node is refreshed.
        assertEq(registry.getNode(node).health, h0);
        registry.refreshHealth(node);
        assertEq(registry.getNode(node).health, 10_000 - deficit / 4);
        assertGt(registry.drawWeightOf(node), 0, "drawable again");
        vm.warp(block.timestamp + 14 * halfLife);
        assertEq(registry.healthOf(node), uint256(10_000));
    }

    function test_refreshHealth_revertsWhenNotJoined() public {
        _expectInvalidStatus(node, INodeRegistry.NodeStatus.Quit);
        registry.refreshHealth(node);
    }

    /// @dev A slash is a 0 in the window, and the window stays with the address when it joins again.
    function test_slash_entersAZeroThatStaysAcrossRejoin() public {
        bytes32 id = _makeBusy(node);
        _recordScores(node, 3, 10, 10);
        vm.prank(address(tm));
        registry.slash(node, id);
        assertEq(registry.getNode(node).scoreCount, 4);
        assertEq(registry.getNode(node).scoreSum, 30);
        _joinNode(node);
        assertEq(registry.getNode(node).scoreCount, 4, "history kept across re-join");
        assertEq(registry.getNode(node).scoreSum, 30);
    }

    /// @dev Quitting to shed a bad window does not work: a node one fault from the kick-out that quits is kicked out
    /// by that fault, and when it joins again its window (fifty 0s) gives it no weight, so it is never drawn.
    function test_qos_quitAndRejoinDoesNotResetTheWindow() public {
        bytes32 id = _makeBusy(node);
        _recordScores(node, 49, 0, 0);
        _uploadParameters(id);
        vm.prank(node);
        registry.quit(); // PendingQuit
        vm.expectEmit(true, false, false, true, address(registry));
        emit INodeRegistry.NodeKickedOut(node, MINIMUM_STAKE);
        _timeOut(id); // the 50th score, a 0
        assertEq(registry.getNode(node).scoreCount, 50);
        _assertStatus(node, INodeRegistry.NodeStatus.Quit);
        vm.warp(block.timestamp + 14 * registry.HEALTH_HALF_LIFE());
        _joinNode(node);
        _joinNode(nodes[1]);
        assertEq(registry.getNode(node).scoreCount, 50);
        assertEq(registry.getNode(node).scoreSum, 0);
        assertEq(registry.getNode(node).health, 10_000, "health recovered meanwhile");
        assertEq(registry.drawWeightOf(node), 0, "no weight with Q_long = 0");
        for (uint256 i = 0; i < 4; ++i) {
            id = _createTask(apps[0], keccak256(abi.encode("g", i)), keccak256(abi.encode("n", i)));
            assertEq(_selectedNode(id), nodes[1]);
            _timeOut(id);
            vm.warp(block.timestamp + 14 * registry.HEALTH_HALF_LIFE());
            registry.refreshHealth(nodes[1]);
        }
    }

    function test_slash_revertsWhenAvailable() public {
        _joinNode(node);
        _expectInvalidStatus(node, INodeRegistry.NodeStatus.Available);
        vm.prank(address(tm));
        registry.slash(node, bytes32(0));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Administration
    // ---------------------------------------------------------------------------------------------------------

    function test_setTaskManager_revertsWhenAlreadySet() public {
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.RegistryTaskManagerAlreadySet.selector, address(tm)));
        vm.prank(admin);
        registry.setTaskManager(stranger);
    }

    function test_setTaskManager_revertsWhenNotAdmin() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                stranger,
                registry.DEFAULT_ADMIN_ROLE()
            )
        );
        vm.prank(stranger);
        registry.setTaskManager(stranger);
    }

    function test_setConfig_revertsWhenInvalid() public {
        INodeRegistry.RegistryConfig memory config = _registryConfig();
        config.stakeCap = 0;
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.RegistryConfigInvalid.selector));
        vm.prank(admin);
        registry.setConfig(config);

        config = _registryConfig();
        config.treasury = address(0);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.RegistryTreasuryFixed.selector, treasury, address(0)));
        vm.prank(admin);
        registry.setConfig(config);

        config = _registryConfig();
        config.sameModelsBonusBps = 10_001;
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.RegistryConfigInvalid.selector));
        vm.prank(admin);
        registry.setConfig(config);
    }

    function test_registry_solventAfterJoinsAndQuits(uint256 s1, uint256 s2) public {
        s1 = _boundStake(s1);
        s2 = _boundStake(s2);
        _joinNode(nodes[0], s1);
        _joinNode(nodes[1], s2);
        vm.prank(nodes[0]);
        registry.quit();
        assertEq(address(registry).balance, registry.totalStaked() + registry.totalWithdrawable());
        assertEq(registry.totalStaked(), s2);
        assertEq(registry.totalWithdrawable(), s1);
    }
}
