// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {INodeRegistry} from "../../contracts/interfaces/INodeRegistry.sol";
import {ITaskManager} from "../../contracts/interfaces/ITaskManager.sol";
import {ITaskTypes} from "../../contracts/interfaces/ITaskTypes.sol";
import {ISamplingVerifier} from "../../contracts/interfaces/ISamplingVerifier.sol";
import {BaseTest} from "./BaseTest.sol";

/// @title `declineTask`: the node's neutral end of a task the application made impossible (DESIGN §13.3)
/// @notice What it must do (refund, no health change, no QoS score, the node free again) and what it must not let a
/// node do: decline someone else's task, decline for a reason of its own, or dodge a penalty it already earned
/// (after its score, after validation, or once its stage deadline has passed, where `abortTask`'s H × 0.3 wins).
contract DeclineTaskTest is BaseTest {
    address internal app;
    address internal node;
    uint256 internal constant NOT_SAMPLED = 7;
    uint64 internal constant SCORE_A = 0x0123456789ABCDEF;
    ITaskTypes.TaskAbortReason internal constant APP_KEY_INVALID = ITaskTypes.TaskAbortReason.AppKeyInvalid;

    function setUp() public override {
        super.setUp();
        app = apps[0];
        node = nodes[0];
    }

    function _started() internal returns (bytes32 id) {
        _joinNode(node);
        id = _createTask(app, "guid", "nonce");
        assertEq(_selectedNode(id), node);
    }

    function _parametersUploaded() internal returns (bytes32 id) {
        id = _started();
        _uploadParameters(id);
    }

    function _scoreReady() internal returns (bytes32 id) {
        id = _parametersUploaded();
        _submitScore(id, _imageScore(SCORE_A));
    }

    function _expectInvalidState(bytes32 id, ITaskTypes.TaskStatus current) internal {
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskInvalidState.selector, id, current));
    }

    function _decline(bytes32 id, ITaskTypes.TaskAbortReason reason) internal {
        vm.prank(node);
        tm.declineTask(id, reason);
    }

    function _assertSolvent() internal view {
        assertEq(address(tm).balance, tm.totalEscrowed() + tm.totalWithdrawable(), "task manager solvent");
    }

    /// @dev Lowers the node's health to 3,000 with one execution timeout, so that "unchanged" can be told apart
    /// from a success (+1,500) and from another timeout (× 0.3).
    function _lowerHealth() internal {
        _joinNode(node);
        bytes32 first = _createTask(app, "guid", "first");
        _uploadParameters(first); // the node's timer: it never executes after the upload
        vm.warp(block.timestamp + EXECUTION_TIMEOUT);
        tm.abortTask(first);
        assertEq(registry.getNode(node).health, 3_000);
    }

    // ---------------------------------------------------------------------------------------------------------
    // What it does
    // ---------------------------------------------------------------------------------------------------------

    function test_declineTask_fromStartedRefundsTheAppAndReleasesTheNodeNeutrally() public {
        _lowerHealth();
        bytes32 id = _createTask(app, "guid", "nonce");
        assertEq(_selectedNode(id), node);
        INodeRegistry.NodeInfo memory before = registry.getNode(node);
        uint256 escrowed = tm.totalEscrowed();

        vm.expectEmit(true, true, false, true, address(tm));
        emit ITaskManager.TaskAborted(id, node, ITaskTypes.TaskStatus.Started, APP_KEY_INVALID);
        vm.expectEmit(true, true, false, true, address(tm));
        emit ITaskManager.TaskFeeRefunded(id, app, FEE);
        _decline(id, APP_KEY_INVALID);

        ITaskManager.TaskInfo memory info = tm.getTask(id);
        assertEq(uint8(info.status), uint8(ITaskTypes.TaskStatus.EndAborted));
        assertEq(uint8(info.abortReason), uint8(APP_KEY_INVALID));
        assertEq(tm.withdrawable(app), 2 * FEE, "both fees refunded (the timed-out one and the declined one)");
        assertEq(tm.withdrawable(node), 0, "the node is not paid");
        assertEq(tm.totalEscrowed(), escrowed - FEE);
        INodeRegistry.NodeInfo memory afterwards = registry.getNode(node);
        assertEq(afterwards.health, before.health, "no health change");
        assertEq(afterwards.scoreCount, before.scoreCount, "no QoS score");
        assertEq(afterwards.scoreSum, before.scoreSum, "no QoS score");
        assertEq(afterwards.stake, before.stake, "no slash");
        assertEq(uint8(afterwards.status), uint8(INodeRegistry.NodeStatus.Available));
        assertEq(tm.deadlineOf(id), 0, "final");
        _assertSolvent();
    }

    function test_declineTask_fromParametersUploadedWithModelDownloadFailed() public {
        bytes32 id = _parametersUploaded();
        vm.expectEmit(true, true, false, true, address(tm));
        emit ITaskManager.TaskAborted(
            id,
            node,
            ITaskTypes.TaskStatus.ParametersUploaded,
            ITaskTypes.TaskAbortReason.ModelDownloadFailed
        );
        _decline(id, ITaskTypes.TaskAbortReason.ModelDownloadFailed);
        assertEq(uint8(tm.getTask(id).abortReason), uint8(ITaskTypes.TaskAbortReason.ModelDownloadFailed));
        assertEq(tm.withdrawable(app), FEE);
        assertEq(registry.getNode(node).health, 10_000);
        assertEq(uint8(_status(node)), uint8(INodeRegistry.NodeStatus.Available));
        _assertSolvent();
    }

    function test_declineTask_freedNodeTakesTheNextQueuedTask() public {
        bytes32 id = _started();
        bytes32 queued = _createTask(app, "guid", "queued");
        assertEq(uint8(_taskStatus(queued)), uint8(ITaskTypes.TaskStatus.Queued), "the only node is busy");
        vm.expectEmit(true, true, false, false, address(tm));
        emit ITaskManager.TaskStarted(queued, node);
        _decline(id, APP_KEY_INVALID);
        assertEq(uint8(_taskStatus(queued)), uint8(ITaskTypes.TaskStatus.Started));
        assertEq(_selectedNode(queued), node);
        assertEq(uint8(_status(node)), uint8(INodeRegistry.NodeStatus.Busy));
    }

    function test_declineTask_nodePendingQuitLeavesWithItsWholeStake() public {
        bytes32 id = _started();
        vm.prank(node);
        registry.quit();
        _decline(id, APP_KEY_INVALID);
        assertEq(uint8(_status(node)), uint8(INodeRegistry.NodeStatus.Quit));
        assertEq(registry.withdrawable(node), MINIMUM_STAKE, "stake returned in full");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Who, when, why
    // ---------------------------------------------------------------------------------------------------------

    function test_declineTask_revertsWhenNotSelectedNode() public {
        bytes32 id = _started();
        _joinNode(nodes[1]);
        address[3] memory callers = [app, stranger, nodes[1]];
        for (uint256 i = 0; i < callers.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskNotSelectedNode.selector, id, callers[i], node));
            vm.prank(callers[i]);
            tm.declineTask(id, APP_KEY_INVALID);
        }
        assertEq(uint8(_taskStatus(id)), uint8(ITaskTypes.TaskStatus.Started));
    }

    function test_declineTask_revertsWhenQueued() public {
        // No node yet: the task waits in the queue with no selected node, so nobody can decline it.
        bytes32 id = _createTask(app, "guid", "nonce");
        assertEq(uint8(_taskStatus(id)), uint8(ITaskTypes.TaskStatus.Queued));
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskNotSelectedNode.selector, id, node, address(0)));
        _decline(id, APP_KEY_INVALID);
    }

    function test_declineTask_revertsWhenTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskNotFound.selector, bytes32("missing")));
        _decline(bytes32("missing"), APP_KEY_INVALID);
    }

    function testFuzz_declineTask_revertsForAReasonTheAppDidNotCause(uint8 raw) public {
        ITaskTypes.TaskAbortReason reason = ITaskTypes.TaskAbortReason(
            bound(raw, 0, uint8(type(ITaskTypes.TaskAbortReason).max))
        );
        vm.assume(reason != APP_KEY_INVALID && reason != ITaskTypes.TaskAbortReason.ModelDownloadFailed);
        bytes32 id = _parametersUploaded();
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskDeclineReasonInvalid.selector, id, reason));
        _decline(id, reason);
    }

    function test_declineTask_revertsForEveryOtherReason() public {
        bytes32 id = _parametersUploaded();
        uint8 max = uint8(type(ITaskTypes.TaskAbortReason).max);
        assertEq(max, 9, "AppKeyInvalid is the last reason");
        for (uint8 r = 0; r <= max; ++r) {
            ITaskTypes.TaskAbortReason reason = ITaskTypes.TaskAbortReason(r);
            if (reason == APP_KEY_INVALID || reason == ITaskTypes.TaskAbortReason.ModelDownloadFailed) continue;
            vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskDeclineReasonInvalid.selector, id, reason));
            _decline(id, reason);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // No escape from an earned penalty
    // ---------------------------------------------------------------------------------------------------------

    function test_declineTask_revertsAfterTheScore() public {
        bytes32 id = _scoreReady();
        _expectInvalidState(id, ITaskTypes.TaskStatus.ScoreReady);
        _decline(id, APP_KEY_INVALID);
    }

    function test_declineTask_revertsAfterAnErrorReport() public {
        bytes32 id = _parametersUploaded();
        vm.prank(node);
        tm.reportTaskError(id, ITaskTypes.TaskError.ParametersValidationFailed);
        _expectInvalidState(id, ITaskTypes.TaskStatus.ErrorReported);
        _decline(id, APP_KEY_INVALID);
    }

    /// @dev A validated node that withholds its result must not turn its ResultUploadTimeout (H × 0.3) into a
    /// neutral end.
    function test_declineTask_revertsWhenValidated() public {
        bytes32 id = _scoreReady();
        _mockSamplingNumber(NOT_SAMPLED);
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, id);
        vm.prank(app);
        tm.validateSingleTask(id, proof);
        _expectInvalidState(id, ITaskTypes.TaskStatus.Validated);
        _decline(id, APP_KEY_INVALID);
        vm.warp(block.timestamp + RESULT_UPLOAD_TIMEOUT);
        tm.abortTask(id);
        assertEq(registry.getNode(node).health, 3_000, "the withholding node is penalised");
    }

    function test_declineTask_revertsInFinalStates() public {
        bytes32 id = _started();
        _decline(id, APP_KEY_INVALID);
        _expectInvalidState(id, ITaskTypes.TaskStatus.EndAborted);
        _decline(id, APP_KEY_INVALID);

        // EndSuccess: a later task on the same node, run to the end.
        bytes32 done = _createTask(app, "guid", "done");
        _uploadParameters(done);
        _submitScore(done, _imageScore(SCORE_A));
        _mockSamplingNumber(NOT_SAMPLED);
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, done);
        vm.prank(app);
        tm.validateSingleTask(done, proof);
        _uploadResult(done);
        _expectInvalidState(done, ITaskTypes.TaskStatus.EndSuccess);
        _decline(done, APP_KEY_INVALID);
    }

    /// @dev The node sat on its task until the execution deadline: from that moment `abortTask` gives it H × 0.3,
    /// and a last-second decline cannot pre-empt it. One second earlier, declining is still allowed.
    function test_declineTask_revertsFromTheExecutionDeadlineSoAbortTaskPenaltyWins() public {
        bytes32 id = _parametersUploaded();
        uint256 deadline = tm.deadlineOf(id);
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskDeclineTooLate.selector, id, deadline, deadline));
        _decline(id, APP_KEY_INVALID);
        vm.warp(deadline + 1 days);
        vm.expectRevert(
            abi.encodeWithSelector(ITaskManager.TaskDeclineTooLate.selector, id, deadline, deadline + 1 days)
        );
        _decline(id, ITaskTypes.TaskAbortReason.ModelDownloadFailed);
        vm.prank(stranger);
        tm.abortTask(id);
        assertEq(uint8(tm.getTask(id).abortReason), uint8(ITaskTypes.TaskAbortReason.Timeout));
        assertEq(registry.getNode(node).health, 3_000, "the late node pays H x 0.3");
    }

    function test_declineTask_allowedOneSecondBeforeTheDeadline() public {
        bytes32 id = _started();
        vm.warp(tm.deadlineOf(id) - 1);
        _decline(id, APP_KEY_INVALID);
        assertEq(registry.getNode(node).health, 10_000);
        assertEq(uint8(tm.getTask(id).abortReason), uint8(APP_KEY_INVALID));
    }
}
