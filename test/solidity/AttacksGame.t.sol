// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {BaseTest} from "./BaseTest.sol";
import {ITaskManager} from "../../contracts/interfaces/ITaskManager.sol";
import {ITaskTypes} from "../../contracts/interfaces/ITaskTypes.sol";
import {INodeRegistry} from "../../contracts/interfaces/INodeRegistry.sol";
import {ISamplingVerifier} from "../../contracts/interfaces/ISamplingVerifier.sol";

/// @title Issue 11, items 2, 3 and 4: the attacks, performed against the fixed contracts
/// @notice Each test plays the attack of the issue end to end and asserts that it fails (DESIGN §13.2, §13.3).
/// The VRF answer and the ParamsConsistency proof are mocked as in `TaskManager.t.sol` (see `BaseTest`).
contract AttacksGameTest is BaseTest {
    uint256 internal constant SAMPLED = 20;
    uint64 internal constant SCORE_FAKE = 0x0123456789ABCDEF;
    /// @dev Far from SCORE_FAKE in every bit: the two never match.
    uint64 internal constant SCORE_HONEST = ~SCORE_FAKE;
    bytes32 internal constant GUID = "attack-guid";

    address internal app;

    function setUp() public override {
        super.setUp();
        app = apps[0];
    }

    function _assertTaskStatus(bytes32 id, ITaskTypes.TaskStatus expected) internal view {
        assertEq(uint8(_taskStatus(id)), uint8(expected));
    }

    function _member(uint8 k) internal returns (bytes32) {
        return _createTask(app, GUID, _nonce(GUID, k));
    }

    function _validate(bytes32[3] memory ids) internal {
        _mockSamplingNumber(SAMPLED);
        _mockParamsProof(true);
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, ids[0]);
        vm.prank(app);
        tm.validateTaskGroup(ids[0], ids[1], ids[2], GUID, proof, _noProof());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Item 2: a cheater whose group is slow cannot end its own task by ValidationTimeout
    // ---------------------------------------------------------------------------------------------------------

    /// @dev The cheater (the only node) takes the original and answers at once with a made-up score (or a made-up
    /// error). The validation tasks queue: no other node is there yet. Under the old rule the cheater's deadline was
    /// its score + validationTimeout (30 min), so it ended its task and was paid long before the group could be
    /// validated. Now it reverts until the group's latest validation moment; the honest nodes arrive, the group
    /// settles, and the cheater is slashed.
    function _slowGroupCheater(bool madeUpError) internal {
        address cheater = nodes[0];
        _joinNode(cheater);
        bytes32[3] memory ids;
        ids[0] = _member(0);
        assertEq(_selectedNode(ids[0]), cheater);
        _uploadParameters(ids[0]);
        vm.prank(cheater);
        if (madeUpError) tm.reportTaskError(ids[0], ITaskTypes.TaskError.ParametersValidationFailed);
        else tm.submitTaskScore(ids[0], _imageScore(SCORE_FAKE));
        ids[1] = _member(1);
        ids[2] = _member(2);
        _assertTaskStatus(ids[1], ITaskTypes.TaskStatus.Queued);
        _assertTaskStatus(ids[2], ITaskTypes.TaskStatus.Queued);

        // 31 minutes later (the old deadline has passed), the cheater tries to end its own task.
        vm.warp(block.timestamp + VALIDATION_TIMEOUT + 60);
        uint256 deadline = tm.getTask(ids[0]).createdAt + GROUP_SPAN;
        vm.expectRevert(
            abi.encodeWithSelector(ITaskManager.TaskDeadlineNotReached.selector, ids[0], deadline, block.timestamp)
        );
        vm.prank(cheater);
        tm.abortTask(ids[0]);

        // 55 minutes after the original, honest nodes join and take the queued validation tasks.
        vm.warp(block.timestamp + 24 minutes);
        _joinNode(nodes[1]);
        _joinNode(nodes[2]);
        assertEq(_selectedNode(ids[1]), nodes[1]);
        assertEq(_selectedNode(ids[2]), nodes[2]);
        for (uint256 i = 1; i < 3; ++i) {
            _uploadParameters(ids[i]);
            _submitScore(ids[i], _imageScore(SCORE_HONEST));
        }
        uint256 stake = registry.getNode(cheater).stake;
        _validate(ids);

        _assertTaskStatus(ids[0], ITaskTypes.TaskStatus.EndInvalidated);
        _assertTaskStatus(ids[1], ITaskTypes.TaskStatus.GroupValidated);
        _assertTaskStatus(ids[2], ITaskTypes.TaskStatus.EndGroupRefund);
        assertEq(tm.withdrawable(cheater), 0, "the cheater was paid");
        assertLt(registry.getNode(cheater).stake, stake, "the cheater was not slashed");
    }

    function test_attack_slowGroupCheaterCannotEscapeByValidationTimeout() public {
        _slowGroupCheater(false);
    }

    function test_attack_madeUpErrorCannotEscapeByValidationTimeout() public {
        _slowGroupCheater(true);
    }

    /// @dev The group deadline counts the largest configuration ever set: raising the timeouts after the original
    /// was created moves its ScoreReady deadline later, never earlier.
    function test_scoreReadyDeadlineFollowsTheLargestConfiguration() public {
        _joinNode(nodes[0]);
        bytes32 id = _member(0);
        _uploadParameters(id);
        _submitScore(id, _imageScore(SCORE_FAKE));
        uint256 before = tm.deadlineOf(id);
        ITaskManager.TaskConfig memory c = _taskConfig();
        c.queueTimeout *= 2;
        c.siblingWindow = c.queueTimeout + c.uploadTimeout + c.executionTimeout;
        vm.prank(admin);
        tm.setConfig(c);
        assertEq(tm.deadlineOf(id), before + 2 * QUEUE_TIMEOUT, "the deadline did not cover the new siblings");
        // Lowering it again does not shorten it.
        vm.prank(admin);
        tm.setConfig(_taskConfig());
        assertEq(tm.deadlineOf(id), before + 2 * QUEUE_TIMEOUT);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Item 4: nodes do not pay for the application's absence; 1-wei griefing
    // ---------------------------------------------------------------------------------------------------------

    /// @dev The issue's attack: two rounds of tasks against every node, never uploading the parameters, left every
    /// node at health 0.09 (out of selection) for gas only. Now a 1-wei task is refused, a task at the minimum fee
    /// costs the attacker `noShowShare` of it per node per round, the nodes keep their health, and a legitimate task
    /// is dispatched at once.
    function test_attack_noShowGriefingCostsTheAttackerAndLeavesNodesHealthy() public {
        for (uint256 i = 0; i < NODE_COUNT; ++i) _joinNode(nodes[i]);
        address attacker = apps[1];

        ITaskManager.TaskInput memory oneWei = _taskInput("one-wei", "one-wei");
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskFeeBelowMinimum.selector, 1, MIN_FEE));
        vm.prank(attacker);
        tm.createTask{value: 1}(oneWei);

        uint256 spent;
        for (uint256 round = 0; round < 2; ++round) {
            bytes32[] memory ids = new bytes32[](NODE_COUNT);
            for (uint256 i = 0; i < NODE_COUNT; ++i) {
                bytes32 guid = keccak256(abi.encode("grief", round, i));
                ids[i] = _createTask(attacker, guid, _nonce(guid, 0), MIN_FEE);
                _assertTaskStatus(ids[i], ITaskTypes.TaskStatus.Started);
                spent += MIN_FEE;
            }
            vm.warp(block.timestamp + UPLOAD_TIMEOUT);
            for (uint256 i = 0; i < NODE_COUNT; ++i) {
                vm.prank(stranger);
                tm.abortTask(ids[i]);
            }
        }
        uint256 share = (uint256(MIN_FEE) * NO_SHOW_SHARE) / 10_000;
        for (uint256 i = 0; i < NODE_COUNT; ++i) {
            assertEq(registry.getNode(nodes[i]).health, 10_000, "a node lost health for the app's absence");
            assertEq(tm.withdrawable(nodes[i]), 2 * share, "the node was not paid for its held slot");
        }
        assertEq(tm.withdrawable(attacker), spent - 2 * NODE_COUNT * share, "the attacker got everything back");

        bytes32 legit = _createTask(app, "legit", _nonce("legit", 0));
        _assertTaskStatus(legit, ITaskTypes.TaskStatus.Started);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Item 3: group membership is fixed by the GUID
    // ---------------------------------------------------------------------------------------------------------

    /// @dev The issue's attack: an original requiring version 2 on an honest node, grouped with validation tasks
    /// requiring version 3 whose (colluding) nodes report errors: A,ER,ER slashed the honest node. The requirements
    /// hash now differs, and the group is refused.
    function test_attack_versionMismatchedGroupIsRefused() public {
        address honest = nodes[0];
        _joinNode(honest);
        bytes32[3] memory ids;
        ids[0] = _member(0);
        _uploadParameters(ids[0]);
        _submitScore(ids[0], _imageScore(SCORE_HONEST));
        for (uint8 k = 1; k < 3; ++k) {
            _joinNode(nodes[k], MINIMUM_STAKE, [uint32(3), 0, 0]);
            ITaskManager.TaskInput memory input = _taskInput(GUID, _nonce(GUID, k));
            input.taskVersion = [uint32(3), 0, 0];
            ids[k] = _createTask(app, input, FEE);
            assertEq(_selectedNode(ids[k]), nodes[k]);
            _uploadParameters(ids[k]);
            vm.prank(nodes[k]);
            tm.reportTaskError(ids[k], ITaskTypes.TaskError.ParametersValidationFailed);
        }
        uint256 stake = registry.getNode(honest).stake;
        _mockSamplingNumber(SAMPLED);
        _mockParamsProof(true);
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, ids[0]);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskGroupRequirementsMismatch.selector, ids[1], ids[0]));
        vm.prank(app);
        tm.validateTaskGroup(ids[0], ids[1], ids[2], GUID, proof, _noProof());
        assertEq(registry.getNode(honest).stake, stake);
        _assertTaskStatus(ids[0], ITaskTypes.TaskStatus.ScoreReady);
    }

    /// @dev The issue's attack: with four validation tasks the app validated the two agreeing ones alone and grouped
    /// the original with the two disagreeing ones. Only nonces k = 1, 2 of the GUID can stand beside the original,
    /// a second task with nonce k = 1 has the same commitment (refused at creation), and any other nonce is refused
    /// at validation: the app has no pair to choose.
    function test_attack_spareValidationTasksCannotBeChosen() public {
        for (uint256 i = 0; i < 5; ++i) _joinNode(nodes[i]);
        bytes32[3] memory ids = [_member(0), _member(1), _member(2)];
        // A second k = 1 task is the same commitment.
        ITaskManager.TaskInput memory again = _taskInput(GUID, _nonce(GUID, 1));
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskAlreadyExists.selector, ids[1]));
        vm.prank(app);
        tm.createTask{value: FEE}(again);
        // Spares under the same GUID with other nonces exist, but cannot join the group.
        bytes32 spareA = _createTask(app, GUID, _nonce(GUID, 3));
        bytes32 spareB = _createTask(app, GUID, keccak256("free nonce"));
        for (uint256 i = 0; i < 3; ++i) {
            _uploadParameters(ids[i]);
            _submitScore(ids[i], _imageScore(i == 0 ? SCORE_HONEST : SCORE_FAKE));
        }
        _uploadParameters(spareA);
        _submitScore(spareA, _imageScore(SCORE_HONEST));
        _uploadParameters(spareB);
        _submitScore(spareB, _imageScore(SCORE_HONEST));
        _mockSamplingNumber(SAMPLED);
        _mockParamsProof(true);
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, ids[0]);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskGroupNonceMismatch.selector, spareA, 1));
        vm.prank(app);
        tm.validateTaskGroup(ids[0], spareA, spareB, GUID, proof, _noProof());
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskGroupNonceMismatch.selector, spareB, 2));
        vm.prank(app);
        tm.validateTaskGroup(ids[0], ids[1], spareB, GUID, proof, _noProof());
        // The one group there is: the two validation tasks agree against the original, which is slashed.
        _validate(ids);
        _assertTaskStatus(ids[0], ITaskTypes.TaskStatus.EndInvalidated);
    }

    /// @dev A validation task created after the sibling window cannot join: a node that saw no sibling by then knows
    /// it was not sampled, so late siblings would let it cheat safely.
    function test_validationTaskAfterTheWindowIsRefused() public {
        for (uint256 i = 0; i < 3; ++i) _joinNode(nodes[i]);
        bytes32[3] memory ids;
        ids[0] = _member(0);
        uint256 windowEnd = block.timestamp + SIBLING_WINDOW;
        ids[1] = _member(1);
        _uploadParameters(ids[0]);
        _submitScore(ids[0], _imageScore(SCORE_HONEST));
        _uploadParameters(ids[1]);
        _submitScore(ids[1], _imageScore(SCORE_HONEST));
        vm.warp(windowEnd + 1);
        ids[2] = _member(2);
        _uploadParameters(ids[2]);
        _submitScore(ids[2], _imageScore(SCORE_HONEST));
        _mockSamplingNumber(SAMPLED);
        _mockParamsProof(true);
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, ids[0]);
        vm.expectRevert(
            abi.encodeWithSelector(ITaskManager.TaskGroupOutsideWindow.selector, ids[2], windowEnd + 1, windowEnd)
        );
        vm.prank(app);
        tm.validateTaskGroup(ids[0], ids[1], ids[2], GUID, proof, _noProof());
    }

    /// @dev A validation task created before the original cannot be grouped with it (the node of a task created
    /// later could otherwise be told it was sampled).
    function test_validationTaskBeforeTheOriginalIsRefused() public {
        for (uint256 i = 0; i < 3; ++i) _joinNode(nodes[i]);
        bytes32 early = _member(1);
        bytes32 original = _member(0);
        bytes32 other = _member(2);
        bytes32[3] memory ids = [original, early, other];
        for (uint256 i = 0; i < 3; ++i) {
            _uploadParameters(ids[i]);
            _submitScore(ids[i], _imageScore(SCORE_HONEST));
        }
        _mockSamplingNumber(SAMPLED);
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, original);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskGroupNotOriginal.selector, original, early));
        vm.prank(app);
        tm.validateTaskGroup(original, early, other, GUID, proof, _noProof());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Text tasks: exact match depends on the GPU model
    // ---------------------------------------------------------------------------------------------------------

    function _textGroup(string memory oddGPU) internal returns (bytes32[3] memory ids) {
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(nodes[i]);
            registry.join{value: MINIMUM_STAKE}(
                i == 0 ? oddGPU : GPU_4090,
                NODE_VRAM,
                _defaultVersion(),
                _bjjKey(),
                _bjjWitness(),
                _defaultModels()
            );
            ITaskManager.TaskInput memory input = _taskInput(GUID, _nonce(GUID, uint8(i)));
            input.taskType = ITaskTypes.TaskType.LLM;
            ids[i] = _createTask(app, input, FEE);
            assertEq(_selectedNode(ids[i]), nodes[i]);
            _uploadParameters(ids[i]);
            _submitScore(ids[i], abi.encodePacked(i == 0 ? keccak256("odd text") : keccak256("agreed text")));
        }
    }

    /// @dev The odd text member ran on another GPU model than the agreeing pair: its different text may be the
    /// GPU's doing, so it is aborted unpaid, not slashed.
    function test_textOddMemberOnAnotherGPUIsAbortedNotSlashed() public {
        bytes32[3] memory ids = _textGroup("NVIDIA A100");
        uint256 stake = registry.getNode(nodes[0]).stake;
        _validate(ids);
        _assertTaskStatus(ids[0], ITaskTypes.TaskStatus.EndAborted);
        assertEq(uint8(tm.getTask(ids[0]).abortReason), uint8(ITaskTypes.TaskAbortReason.IncorrectResult));
        assertEq(registry.getNode(nodes[0]).stake, stake);
        assertEq(tm.withdrawable(nodes[0]), 0, "the odd member was paid");
        _assertTaskStatus(ids[1], ITaskTypes.TaskStatus.GroupValidated);
    }

    /// @dev Same GPU model as the agreeing pair: the odd text member is slashed.
    function test_textOddMemberOnTheSameGPUIsSlashed() public {
        bytes32[3] memory ids = _textGroup(GPU_4090);
        uint256 stake = registry.getNode(nodes[0]).stake;
        _validate(ids);
        _assertTaskStatus(ids[0], ITaskTypes.TaskStatus.EndInvalidated);
        assertLt(registry.getNode(nodes[0]).stake, stake);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Item 6: the queue cannot be blocked or flushed for free (partly: see docs/game.md)
    // ---------------------------------------------------------------------------------------------------------

    /// @dev The issue's attack: tasks of a version no node runs (major 9), worth more than the legitimate ones, topped
    /// the queue group every freed node looked at, so the node skipped the group and legitimate tasks waited; the
    /// attacker then cancelled for a full refund. Now a node never looks at another major's groups, so the freed node
    /// takes the legitimate task, and the attacker cannot cancel its queued tasks (it waits for the queue timeout).
    function test_attack_unserviceableTasksNeitherHideLegitimateOnesNorCancelForFree() public {
        address node = nodes[0];
        _joinNode(node);
        bytes32 running = _member(0);
        assertEq(_selectedNode(running), node);
        address attacker = apps[1];
        bytes32[] memory junk = new bytes32[](5);
        for (uint256 i = 0; i < junk.length; ++i) {
            bytes32 guid = keccak256(abi.encode("v9", i));
            ITaskManager.TaskInput memory input = _taskInput(guid, _nonce(guid, 0));
            input.taskVersion = [uint32(9), 0, 0];
            junk[i] = _createTask(attacker, input, 10 ether);
            _assertTaskStatus(junk[i], ITaskTypes.TaskStatus.Queued);
        }
        bytes32 legit = _createTask(app, "legit", _nonce("legit", 0));
        _assertTaskStatus(legit, ITaskTypes.TaskStatus.Queued);

        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskManager.TaskDeadlineNotReached.selector,
                junk[0],
                block.timestamp + QUEUE_TIMEOUT,
                block.timestamp
            )
        );
        vm.prank(attacker);
        tm.abortTask(junk[0]);

        // The node finishes its task (no parameters: the application's no-show) and is freed.
        vm.warp(block.timestamp + UPLOAD_TIMEOUT);
        tm.abortTask(running);
        assertEq(_selectedNode(legit), node, "the freed node did not take the legitimate task");
        _assertTaskStatus(legit, ITaskTypes.TaskStatus.Started);
        for (uint256 i = 0; i < junk.length; ++i) _assertTaskStatus(junk[i], ITaskTypes.TaskStatus.Queued);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Configuration
    // ---------------------------------------------------------------------------------------------------------

    /// @dev A sibling window shorter than queue + upload + execution would let a cheater outwait it.
    function test_setConfig_revertsWhenTheSiblingWindowEndsBeforeTheLatestScore() public {
        ITaskManager.TaskConfig memory c = _taskConfig();
        c.siblingWindow = SIBLING_WINDOW - 1;
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskManager.TaskConfigSiblingWindowTooShort.selector,
                SIBLING_WINDOW - 1,
                SIBLING_WINDOW
            )
        );
        vm.prank(admin);
        tm.setConfig(c);
    }

    function test_setConfig_revertsWhenNoShowShareAboveAll() public {
        ITaskManager.TaskConfig memory c = _taskConfig();
        c.noShowShare = 10_001;
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskConfigNoShowShareTooHigh.selector, 10_001));
        vm.prank(admin);
        tm.setConfig(c);
    }

    /// @dev DESIGN §13.6: a task runs under the timeouts in force when it was created.
    function test_taskKeepsTheConfigurationItWasCreatedUnder() public {
        _joinNode(nodes[0]);
        bytes32 id = _member(0);
        _uploadParameters(id);
        uint256 deadline = block.timestamp + EXECUTION_TIMEOUT;
        ITaskManager.TaskConfig memory c = _taskConfig();
        c.executionTimeout = 1;
        c.noShowShare = 10_000;
        vm.prank(admin);
        tm.setConfig(c);
        assertEq(tm.deadlineOf(id), deadline, "a later configuration shortened the node's timer");
        assertEq(tm.config().executionTimeout, 1);
    }

    function test_createTask_revertsWhenSizeZero() public {
        _joinNode(nodes[0]);
        ITaskManager.TaskInput memory input = _taskInput(GUID, _nonce(GUID, 0));
        input.taskSize = 0;
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskSizeZero.selector, input.taskIDCommitment));
        vm.prank(app);
        tm.createTask{value: FEE}(input);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Speed ranking from the parameter upload (DESIGN §13.7)
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Member 0 is started first but the app uploads its parameters late; it answers 10 s after its upload.
    /// Member 1's parameters come at once, and it answers 995 s after its upload but before member 0. Measured from
    /// the start, member 1 would rank first (the app's choice of upload times would decide); from the upload,
    /// member 0 is first.
    function test_speedRankingRunsFromTheParameterUpload() public {
        for (uint256 i = 0; i < 3; ++i) _joinNode(nodes[i]);
        bytes32[3] memory ids = [_member(0), _member(1), _member(2)];
        uint256 t0 = block.timestamp;
        _uploadParameters(ids[1]);
        _uploadParameters(ids[2]);
        vm.warp(t0 + 995);
        _submitScore(ids[1], _imageScore(SCORE_HONEST));
        vm.warp(t0 + 1000);
        _uploadParameters(ids[0]);
        vm.warp(t0 + 1010);
        _submitScore(ids[0], _imageScore(SCORE_HONEST));
        vm.warp(t0 + 1500);
        _submitScore(ids[2], _imageScore(SCORE_HONEST));
        _validate(ids);
        assertEq(tm.getTask(ids[0]).qosScore, 10);
        assertEq(tm.getTask(ids[1]).qosScore, 5);
        assertEq(tm.getTask(ids[2]).qosScore, 2);
    }
}
