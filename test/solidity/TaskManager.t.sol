// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {INodeRegistry} from "../../contracts/interfaces/INodeRegistry.sol";
import {IPullPayments} from "../../contracts/interfaces/IPullPayments.sol";
import {ITaskManager} from "../../contracts/interfaces/ITaskManager.sol";
import {ITaskTypes} from "../../contracts/interfaces/ITaskTypes.sol";
import {ISamplingVerifier} from "../../contracts/interfaces/ISamplingVerifier.sol";
import {
    IParamsConsistencyVerifier,
    IResultAvailabilityVerifier
} from "../../contracts/interfaces/IGroth16Verifiers.sol";
import {BaseTest} from "./BaseTest.sol";
import {TaskSettlement} from "../../contracts/TaskSettlement.sol";

/// @dev Validation needs the creator's VRF proof, which Solidity cannot compute. The guards that run before the
/// proof is verified are tested with a dummy proof (seed, key binding, and the verifier's rejection); the paths
/// past validation mock the verifier's answer with `vm.mockCall`. Real proofs: test/integration/*.ts.
contract TaskManagerTest is BaseTest {
    address internal app;
    address internal node;
    /// @dev A sampling number that says "not sampled" (7 % 10 != 0) and one that says "sampled".
    uint256 internal constant NOT_SAMPLED = 7;
    uint256 internal constant SAMPLED = 20;
    uint64 internal constant SCORE_A = 0x0123456789ABCDEF;

    function setUp() public override {
        super.setUp();
        app = apps[0];
        node = nodes[0];
    }

    function _assertTaskStatus(bytes32 id, ITaskTypes.TaskStatus expected) internal view {
        assertEq(uint8(_taskStatus(id)), uint8(expected));
    }

    function _expectInvalidState(bytes32 id, ITaskTypes.TaskStatus current) internal {
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskInvalidState.selector, id, current));
    }

    /// @dev Node joined, task created and started on it.
    function _started() internal returns (bytes32 id) {
        _joinNode(node);
        id = _createTask(app, "guid", "nonce");
        _assertTaskStatus(id, ITaskTypes.TaskStatus.Started);
    }

    function _parametersUploaded() internal returns (bytes32 id) {
        id = _started();
        _uploadParameters(id);
    }

    function _scoreReady() internal returns (bytes32 id) {
        id = _parametersUploaded();
        _submitScore(id, _imageScore(SCORE_A));
    }

    function _errorReported() internal returns (bytes32 id) {
        id = _parametersUploaded();
        vm.prank(node);
        tm.reportTaskError(id, ITaskTypes.TaskError.ParametersValidationFailed);
    }

    function _validated() internal returns (bytes32 id) {
        id = _scoreReady();
        _mockSamplingNumber(NOT_SAMPLED);
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, id);
        vm.prank(app);
        tm.validateSingleTask(id, proof);
        _assertTaskStatus(id, ITaskTypes.TaskStatus.Validated);
    }

    function _assertSolvent() internal view {
        assertEq(address(tm).balance, tm.totalEscrowed() + tm.totalWithdrawable(), "task manager solvent");
        assertEq(address(registry).balance, registry.totalStaked() + registry.totalWithdrawable(), "registry solvent");
    }

    // ---------------------------------------------------------------------------------------------------------
    // createTask
    // ---------------------------------------------------------------------------------------------------------

    /// @dev createTask only commits (TaskPending, epoch 1); the node and the seed come from dispatchTasks once the
    /// epoch's word has landed: seed = keccak256(r, "sampling") with r = keccak256(word, creator, id).
    function test_createTask_startsOnAnAvailableNode() public {
        _joinNode(node);
        _autoDispatch = false;
        vm.warp(1_000);
        bytes32 id = _commitment("guid", "nonce");
        ITaskManager.TaskInput memory input = _taskInput("guid", "nonce");

        vm.expectEmit(true, true, false, true, address(tm));
        emit ITaskManager.TaskPending(id, app, 1, abi.encode(input));
        _createTask(app, input, 2 ether);
        _assertTaskStatus(id, ITaskTypes.TaskStatus.Pending);
        assertEq(tm.getTask(id).samplingSeed, bytes32(0));
        assertEq(_selectedNode(id), address(0));

        uint256 word = uint256(keccak256("word"));
        _deliverWord(word);
        bytes32 seed = keccak256(abi.encode(keccak256(abi.encode(word, app, id)), "sampling"));
        vm.warp(1_010);
        vm.expectEmit(true, true, false, true, address(tm));
        emit ITaskManager.TaskCreated(id, app, seed);
        vm.expectEmit(true, true, false, true, address(tm));
        emit ITaskManager.TaskStarted(id, node);
        _dispatchPending();

        ITaskManager.TaskInfo memory task = tm.getTask(id);
        assertEq(uint8(task.status), uint8(ITaskTypes.TaskStatus.Started));
        assertEq(task.creator, app);
        assertEq(task.selectedNode, node);
        assertEq(task.fee, 2 ether);
        assertEq(task.sequence, 1);
        assertEq(task.createdAt, 1_000);
        assertEq(task.startedAt, 1_010);
        assertEq(task.nonce, bytes32("nonce"));
        assertEq(task.samplingSeed, seed);
        assertEq(task.appPublicKey[0], BJJ_X);
        assertTrue(tm.isNonceUsed("nonce"));
        assertEq(tm.totalEscrowed(), 2 ether);
        assertEq(address(tm).balance, 2 ether);
        assertEq(uint8(_status(node)), uint8(INodeRegistry.NodeStatus.Busy));
        assertEq(registry.getNode(node).lastModelsHash, keccak256(abi.encodePacked(_defaultModels())));
        assertEq(tm.deadlineOf(id), 1_010 + EXECUTION_TIMEOUT);
    }

    /// @dev Keys the result circuit cannot use: off the curve, (0, 1), a coordinate outside the field.
    function test_createTask_revertsWhenAppKeyUnusable() public {
        _joinNode(node);
        uint256[2][4] memory bad = [[uint256(1), 2], [uint256(0), 1], [BJJ_X, BJJ_Y + BJJ_FIELD], [uint256(0), 0]];
        for (uint256 i = 0; i < bad.length; ++i) {
            ITaskManager.TaskInput memory input = _taskInput("guid", "nonce");
            input.appPublicKey = bad[i];
            vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskAppKeyInvalid.selector, input.taskIDCommitment));
            vm.prank(app);
            tm.createTask{value: FEE}(input);
        }
        assertFalse(tm.isNonceUsed("nonce"));
        assertEq(tm.totalEscrowed(), 0);
        assertEq(uint8(_status(node)), uint8(INodeRegistry.NodeStatus.Available));
    }

    function test_createTask_queuesWithoutAnEligibleNode() public {
        bytes32 id = _commitment("guid", "nonce");
        _autoDispatch = false;
        vm.expectEmit(true, true, false, false, address(tm));
        emit ITaskManager.TaskPending(id, app, 1, "");
        _createTask(app, "guid", "nonce");
        _assertTaskStatus(id, ITaskTypes.TaskStatus.Pending);
        _deliverWord();
        vm.expectEmit(true, true, false, false, address(tm));
        emit ITaskManager.TaskCreated(id, app, bytes32(0));
        vm.expectEmit(true, false, false, false, address(tm));
        emit ITaskManager.TaskQueued(id);
        _dispatchPending();
        _assertTaskStatus(id, ITaskTypes.TaskStatus.Queued);
        assertEq(_selectedNode(id), address(0));
        bytes32[] memory queued = tm.queuedTasks();
        assertEq(queued.length, 1);
        assertEq(queued[0], id);
        assertEq(tm.deadlineOf(id), block.timestamp + QUEUE_TIMEOUT);
    }

    function test_createTask_escrowsAnyFee(uint256 fee) public {
        fee = bound(fee, MIN_FEE, type(uint96).max);
        vm.deal(app, fee);
        bytes32 id = _createTask(app, "guid", "nonce", fee);
        assertEq(tm.getTask(id).fee, fee);
        assertEq(tm.totalEscrowed(), fee);
        _assertSolvent();
    }

    function test_createTask_revertsWhenFeeZero() public {
        ITaskManager.TaskInput memory input = _taskInput("guid", "nonce");
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskFeeZero.selector));
        vm.prank(app);
        tm.createTask(input);
    }

    function test_createTask_revertsWhenFeeTooHigh() public {
        uint256 fee = uint256(type(uint96).max) + 1;
        vm.deal(app, fee);
        ITaskManager.TaskInput memory input = _taskInput("guid", "nonce");
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskFeeTooHigh.selector, fee));
        vm.prank(app);
        tm.createTask{value: fee}(input);
    }

    function test_createTask_revertsWhenNonceUsed() public {
        _createTask(app, "guid", "nonce");
        // Another GUID (so another commitment), same nonce, another app: still rejected.
        ITaskManager.TaskInput memory input = _taskInput("guid-2", "nonce");
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskNonceUsed.selector, bytes32("nonce")));
        vm.prank(apps[1]);
        tm.createTask{value: FEE}(input);
    }

    function test_createTask_revertsWhenCommitmentExists() public {
        bytes32 id = _createTask(app, "guid", "nonce");
        // Same commitment with a fresh nonce: never overwritten (B7).
        ITaskManager.TaskInput memory input = _taskInput("guid", "nonce");
        input.nonce = "nonce-2";
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskAlreadyExists.selector, id));
        vm.prank(apps[1]);
        tm.createTask{value: FEE}(input);
        assertEq(tm.getTask(id).creator, app);
    }

    function test_createTask_revertsWhenCommitmentOfAFinalTaskExists() public {
        bytes32 id = _createTask(app, "guid", "nonce");
        vm.warp(block.timestamp + QUEUE_TIMEOUT);
        tm.abortTask(id);
        ITaskManager.TaskInput memory input = _taskInput("guid", "nonce");
        input.nonce = "nonce-2";
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskAlreadyExists.selector, id));
        vm.prank(app);
        tm.createTask{value: FEE}(input);
    }

    function test_createTask_revertsWhenCommitmentZero() public {
        ITaskManager.TaskInput memory input = _taskInput("guid", "nonce");
        input.taskIDCommitment = bytes32(0);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskCommitmentZero.selector));
        vm.prank(app);
        tm.createTask{value: FEE}(input);
    }

    function test_createTask_skipsIncompatibleNodes() public {
        _joinNode(nodes[0], MINIMUM_STAKE, [uint32(3), 0, 0]); // other major
        _joinNode(nodes[1], MINIMUM_STAKE, [uint32(2), 5, 0]);
        ITaskManager.TaskInput memory input = _taskInput("guid", "nonce");
        input.minimumVRAM = NODE_VRAM + 1; // nobody has enough VRAM
        _createTask(app, input, FEE);
        _assertTaskStatus(input.taskIDCommitment, ITaskTypes.TaskStatus.Queued);
        bytes32 id = _createTask(app, "guid-2", "nonce-2");
        assertEq(_selectedNode(id), nodes[1]);
    }

    function test_createTask_prefersNodesHoldingTheModels(uint256 randao) public {
        _joinNode(nodes[0]);
        vm.prank(nodes[1]);
        registry.join{value: MINIMUM_STAKE}(
            GPU_4090,
            NODE_VRAM,
            _defaultVersion(),
            _bjjKey(),
            _bjjWitness(),
            new bytes32[](0)
        );
        vm.prevrandao(bytes32(randao));
        bytes32 id = _createTask(app, "guid", "nonce");
        assertEq(_selectedNode(id), nodes[0]);
    }

    // ---------------------------------------------------------------------------------------------------------
    // reportTaskParametersUploaded
    // ---------------------------------------------------------------------------------------------------------

    function test_reportTaskParametersUploaded_movesToParametersUploaded() public {
        bytes32 id = _started();
        bytes32 blob = _newBlob("params");
        bytes32 root = _postSingleBlobRoot(blob);
        vm.expectEmit(true, true, false, true, address(tm));
        emit ITaskManager.TaskParametersUploaded(id, blob, node);
        vm.prank(app);
        tm.reportTaskParametersUploaded(id, blob, root, new bytes32[](0));
        _assertTaskStatus(id, ITaskTypes.TaskStatus.ParametersUploaded);
        assertEq(tm.getTask(id).paramsHash, blob);
    }

    function test_reportTaskParametersUploaded_revertsWhenBlobNotInRoot() public {
        bytes32 id = _started();
        bytes32 blob = _newBlob("params");
        bytes32 root = _postSingleBlobRoot(_newBlob("other"));
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskBlobNotInRoot.selector, id, blob, root));
        vm.prank(app);
        tm.reportTaskParametersUploaded(id, blob, root, new bytes32[](0));
    }

    function test_reportTaskParametersUploaded_revertsWhenRootNotPosted() public {
        bytes32 id = _started();
        bytes32 blob = _newBlob("params");
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskBlobNotInRoot.selector, id, blob, _leaf(blob)));
        vm.prank(app);
        tm.reportTaskParametersUploaded(id, blob, _leaf(blob), new bytes32[](0));
    }

    function test_reportTaskParametersUploaded_revertsWhenNotCreator() public {
        bytes32 id = _started();
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskNotCreator.selector, id, stranger, app));
        vm.prank(stranger);
        tm.reportTaskParametersUploaded(id, bytes32(0), bytes32(0), new bytes32[](0));
    }

    function test_reportTaskParametersUploaded_revertsWhenQueued() public {
        bytes32 id = _createTask(app, "guid", "nonce");
        _expectInvalidState(id, ITaskTypes.TaskStatus.Queued);
        vm.prank(app);
        tm.reportTaskParametersUploaded(id, bytes32(0), bytes32(0), new bytes32[](0));
    }

    function test_reportTaskParametersUploaded_revertsWhenTwice() public {
        bytes32 id = _parametersUploaded();
        _expectInvalidState(id, ITaskTypes.TaskStatus.ParametersUploaded);
        vm.prank(app);
        tm.reportTaskParametersUploaded(id, bytes32(0), bytes32(0), new bytes32[](0));
    }

    function test_reportTaskParametersUploaded_revertsWhenTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskNotFound.selector, bytes32("missing")));
        vm.prank(app);
        tm.reportTaskParametersUploaded("missing", bytes32(0), bytes32(0), new bytes32[](0));
    }

    // ---------------------------------------------------------------------------------------------------------
    // submitTaskScore / reportTaskError
    // ---------------------------------------------------------------------------------------------------------

    function test_submitTaskScore_movesToScoreReady() public {
        bytes32 id = _parametersUploaded();
        vm.warp(block.timestamp + 60);
        bytes memory score = _imageScore(SCORE_A);
        vm.expectEmit(true, true, false, true, address(tm));
        emit ITaskManager.TaskScoreReady(id, node, score);
        vm.prank(node);
        tm.submitTaskScore(id, score);
        ITaskManager.TaskInfo memory task = tm.getTask(id);
        assertEq(uint8(task.status), uint8(ITaskTypes.TaskStatus.ScoreReady));
        assertEq(task.score, score);
        assertEq(task.scoreReadyAt, block.timestamp);
        assertEq(task.scoreSequence, 1);
        assertEq(tm.deadlineOf(id), task.createdAt + GROUP_SPAN);
    }

    function test_submitTaskScore_acceptsTextScore() public {
        _joinNode(node);
        ITaskManager.TaskInput memory input = _taskInput("guid", "nonce");
        input.taskType = ITaskTypes.TaskType.LLM;
        bytes32 id = _createTask(app, input, FEE);
        _uploadParameters(id);
        _submitScore(id, abi.encode(keccak256("text output")));
        _assertTaskStatus(id, ITaskTypes.TaskStatus.ScoreReady);
    }

    function test_submitTaskScore_revertsWhenNotSelectedNode() public {
        bytes32 id = _parametersUploaded();
        _joinNode(nodes[1]);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskNotSelectedNode.selector, id, nodes[1], node));
        vm.prank(nodes[1]);
        tm.submitTaskScore(id, _imageScore(SCORE_A));
    }

    function test_submitTaskScore_revertsBeforeParametersUploaded() public {
        bytes32 id = _started();
        _expectInvalidState(id, ITaskTypes.TaskStatus.Started);
        vm.prank(node);
        tm.submitTaskScore(id, _imageScore(SCORE_A));
    }

    function test_submitTaskScore_revertsWhenTwice() public {
        bytes32 id = _scoreReady();
        _expectInvalidState(id, ITaskTypes.TaskStatus.ScoreReady);
        vm.prank(node);
        tm.submitTaskScore(id, _imageScore(SCORE_A));
    }

    function test_submitTaskScore_revertsWhenImageScoreMalformed(uint8 length) public {
        vm.assume(length == 0 || length % 8 != 0);
        bytes32 id = _parametersUploaded();
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskScoreInvalid.selector, id, uint256(length)));
        vm.prank(node);
        tm.submitTaskScore(id, new bytes(length));
    }

    function test_submitTaskScore_revertsWhenTextScoreNot32Bytes() public {
        _joinNode(node);
        ITaskManager.TaskInput memory input = _taskInput("guid", "nonce");
        input.taskType = ITaskTypes.TaskType.LLM;
        bytes32 id = _createTask(app, input, FEE);
        _uploadParameters(id);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskScoreInvalid.selector, id, uint256(8)));
        vm.prank(node);
        tm.submitTaskScore(id, _imageScore(SCORE_A));
    }

    function test_reportTaskError_movesToErrorReported() public {
        bytes32 id = _parametersUploaded();
        vm.expectEmit(true, true, false, true, address(tm));
        emit ITaskManager.TaskErrorReported(id, node, ITaskTypes.TaskError.ParametersValidationFailed);
        vm.prank(node);
        tm.reportTaskError(id, ITaskTypes.TaskError.ParametersValidationFailed);
        ITaskManager.TaskInfo memory task = tm.getTask(id);
        assertEq(uint8(task.status), uint8(ITaskTypes.TaskStatus.ErrorReported));
        assertEq(uint8(task.error), uint8(ITaskTypes.TaskError.ParametersValidationFailed));
        assertEq(task.scoreReadyAt, block.timestamp);
    }

    function test_reportTaskError_revertsWhenErrorNone() public {
        bytes32 id = _parametersUploaded();
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskErrorInvalid.selector, id));
        vm.prank(node);
        tm.reportTaskError(id, ITaskTypes.TaskError.None);
    }

    function test_reportTaskError_revertsWhenNotSelectedNode() public {
        bytes32 id = _parametersUploaded();
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskNotSelectedNode.selector, id, app, node));
        vm.prank(app);
        tm.reportTaskError(id, ITaskTypes.TaskError.ParametersValidationFailed);
    }

    function test_reportTaskError_revertsAfterScore() public {
        bytes32 id = _scoreReady();
        _expectInvalidState(id, ITaskTypes.TaskStatus.ScoreReady);
        vm.prank(node);
        tm.reportTaskError(id, ITaskTypes.TaskError.ParametersValidationFailed);
    }

    function test_reportTaskError_revertsBeforeParametersUploaded() public {
        bytes32 id = _started();
        _expectInvalidState(id, ITaskTypes.TaskStatus.Started);
        vm.prank(node);
        tm.reportTaskError(id, ITaskTypes.TaskError.ParametersValidationFailed);
    }

    // ---------------------------------------------------------------------------------------------------------
    // validateSingleTask: guards before the VRF (dummy proof)
    // ---------------------------------------------------------------------------------------------------------

    function test_validateSingleTask_revertsWhenSeedMismatch() public {
        bytes32 id = _scoreReady();
        bytes32 seed = tm.getTask(id).samplingSeed;
        ISamplingVerifier.VRFProof memory proof = _dummyProof(_vrfKey(0), keccak256("other seed"));
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskSamplingSeedMismatch.selector, id, seed, proof.seed));
        vm.prank(app);
        tm.validateSingleTask(id, proof);
    }

    function test_validateSingleTask_revertsWhenKeyNotCreator() public {
        bytes32 id = _scoreReady();
        // A well-formed proof over the right seed, but with the other application's key.
        ISamplingVerifier.VRFProof memory proof = _proofFor(1, id);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskSamplingKeyNotCreator.selector, id, apps[1], app));
        vm.prank(app);
        tm.validateSingleTask(id, proof);
    }

    function test_validateSingleTask_revertsWhenProofInvalid() public {
        bytes32 id = _scoreReady();
        // Right seed, right key, points that are not on the curve: Chainlink's string revert becomes a custom error.
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, id);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskSamplingProofInvalid.selector, id));
        vm.prank(app);
        tm.validateSingleTask(id, proof);
    }

    function test_validateSingleTask_revertsWhenNotCreator() public {
        bytes32 id = _scoreReady();
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, id);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskNotCreator.selector, id, stranger, app));
        vm.prank(stranger);
        tm.validateSingleTask(id, proof);
    }

    function test_validateSingleTask_revertsBeforeScore() public {
        bytes32 id = _parametersUploaded();
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, id);
        _expectInvalidState(id, ITaskTypes.TaskStatus.ParametersUploaded);
        vm.prank(app);
        tm.validateSingleTask(id, proof);
    }

    // ---------------------------------------------------------------------------------------------------------
    // validateSingleTask and result upload: past the VRF (verifier mocked)
    // ---------------------------------------------------------------------------------------------------------

    function test_validateSingleTask_revertsWhenSampled() public {
        bytes32 id = _scoreReady();
        _mockSamplingNumber(SAMPLED);
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, id);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskSampled.selector, id, SAMPLED));
        vm.prank(app);
        tm.validateSingleTask(id, proof);
    }

    function test_validateSingleTask_validatesWhenNotSampled() public {
        bytes32 id = _scoreReady();
        _mockSamplingNumber(NOT_SAMPLED);
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, id);
        vm.expectEmit(true, true, false, false, address(tm));
        emit ITaskManager.TaskValidated(id, node);
        vm.prank(app);
        tm.validateSingleTask(id, proof);
        _assertTaskStatus(id, ITaskTypes.TaskStatus.Validated);
        assertEq(tm.getTask(id).validatedAt, block.timestamp);
        assertEq(tm.deadlineOf(id), block.timestamp + RESULT_UPLOAD_TIMEOUT);
    }

    function test_validateSingleTask_errorReportedRefundsTheApp() public {
        bytes32 id = _errorReported();
        _mockSamplingNumber(NOT_SAMPLED);
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, id);
        vm.prank(app);
        tm.validateSingleTask(id, proof);
        _assertTaskStatus(id, ITaskTypes.TaskStatus.EndAborted);
        assertEq(tm.withdrawable(app), FEE);
        assertEq(tm.totalEscrowed(), 0);
        assertEq(uint8(_status(node)), uint8(INodeRegistry.NodeStatus.Available));
        assertEq(registry.getNode(node).health, 10_000);
        _assertSolvent();
    }

    function test_singleTask_happyPathPaysTheNode() public {
        bytes32 id = _validated();
        bytes32 resultHash = _newBlob("result");
        bytes32 root = _postSingleBlobRoot(resultHash);
        _mockResultProof(true);
        vm.expectEmit(true, true, false, true, address(tm));
        emit ITaskManager.TaskSuccess(id, resultHash);
        vm.prank(node);
        tm.reportTaskResultUploaded(id, resultHash, root, new bytes32[](0), _noProof());

        _assertTaskStatus(id, ITaskTypes.TaskStatus.EndSuccess);
        assertEq(tm.getTask(id).resultHash, resultHash);
        assertEq(tm.deadlineOf(id), 0);
        assertEq(tm.totalEscrowed(), 0);
        assertEq(tm.withdrawable(node), FEE);
        assertEq(uint8(_status(node)), uint8(INodeRegistry.NodeStatus.Available));
        _assertSolvent();

        uint256 before = node.balance;
        vm.prank(node);
        tm.withdraw();
        assertEq(node.balance, before + FEE);
        assertEq(address(tm).balance, 0);
    }

    function test_reportTaskResultUploaded_revertsWhenBlobNotInRoot() public {
        bytes32 id = _validated();
        bytes32 blob = _newBlob("result");
        bytes32 root = _postSingleBlobRoot(_newBlob("other"));
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskBlobNotInRoot.selector, id, blob, root));
        vm.prank(node);
        tm.reportTaskResultUploaded(id, blob, root, new bytes32[](0), _noProof());
    }

    function test_reportTaskResultUploaded_revertsWhenNotSelectedNode() public {
        bytes32 id = _validated();
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskNotSelectedNode.selector, id, app, node));
        vm.prank(app);
        tm.reportTaskResultUploaded(id, bytes32(0), bytes32(0), new bytes32[](0), _noProof());
    }

    function test_reportTaskResultUploaded_revertsBeforeValidation() public {
        bytes32 id = _scoreReady();
        _expectInvalidState(id, ITaskTypes.TaskStatus.ScoreReady);
        vm.prank(node);
        tm.reportTaskResultUploaded(id, bytes32(0), bytes32(0), new bytes32[](0), _noProof());
    }

    // ---------------------------------------------------------------------------------------------------------
    // reportTaskResultUploaded: the ResultAvailability proof (verifier mocked; real proofs in the TS tests)
    // ---------------------------------------------------------------------------------------------------------

    /// @dev A proof with non-zero coordinates, to check that they reach the verifier unchanged.
    function _someProof() internal pure returns (ITaskManager.Groth16Proof memory p) {
        p.a = [uint256(11), 12];
        p.b = [[uint256(13), 14], [uint256(15), 16]];
        p.c = [uint256(17), 18];
    }

    function _postedResult() internal returns (bytes32 resultHash, bytes32 root) {
        resultHash = _newBlob("result");
        root = _postSingleBlobRoot(resultHash);
    }

    /// @dev ResultAvailability's binding signal, computed independently of TaskManager (src/zk/proofs.ts
    /// `resultBinding`): this chain, this TaskManager, the task's creator and commitment, the selected node.
    function _resultBinding(bytes32 id, address selected) internal view returns (uint256) {
        return uint256(keccak256(abi.encode(block.chainid, address(tm), app, id, selected))) >> 3;
    }

    function test_reportTaskResultUploaded_verifiesTheProofOverTheStoredScore() public {
        bytes32 id = _validated();
        (bytes32 resultHash, bytes32 root) = _postedResult();
        ITaskManager.Groth16Proof memory p = _someProof();
        // isText = 0, the app's key, the blob hash, the 8-byte pHash as an integer, the task binding.
        uint256[6] memory signals = [
            uint256(0),
            BJJ_X,
            BJJ_Y,
            uint256(resultHash),
            uint256(SCORE_A),
            _resultBinding(id, node)
        ];
        _mockResultProof(true);
        vm.expectCall(
            address(resultVerifier),
            abi.encodeCall(IResultAvailabilityVerifier.verifyProof, (p.a, p.b, p.c, signals))
        );
        vm.prank(node);
        tm.reportTaskResultUploaded(id, resultHash, root, new bytes32[](0), p);
        _assertTaskStatus(id, ITaskTypes.TaskStatus.EndSuccess);
    }

    function test_reportTaskResultUploaded_textTaskProvesIsTextAndTheWholeScore() public {
        _joinNode(node);
        ITaskManager.TaskInput memory input = _taskInput("guid", "nonce");
        input.taskType = ITaskTypes.TaskType.LLM;
        bytes32 id = _createTask(app, input, FEE);
        _uploadParameters(id);
        bytes32 score = keccak256("text output") >> 8; // a field element, like a Poseidon hash
        _submitScore(id, abi.encodePacked(score));
        _mockSamplingNumber(NOT_SAMPLED);
        ISamplingVerifier.VRFProof memory vrf = _proofFor(0, id);
        vm.prank(app);
        tm.validateSingleTask(id, vrf);

        (bytes32 resultHash, bytes32 root) = _postedResult();
        ITaskManager.Groth16Proof memory p = _someProof();
        uint256[6] memory signals = [
            uint256(1),
            BJJ_X,
            BJJ_Y,
            uint256(resultHash),
            uint256(score),
            _resultBinding(id, node)
        ];
        _mockResultProof(true);
        vm.expectCall(
            address(resultVerifier),
            abi.encodeCall(IResultAvailabilityVerifier.verifyProof, (p.a, p.b, p.c, signals))
        );
        vm.prank(node);
        tm.reportTaskResultUploaded(id, resultHash, root, new bytes32[](0), p);
        _assertTaskStatus(id, ITaskTypes.TaskStatus.EndSuccess);
    }

    function test_reportTaskResultUploaded_revertsWhenTheProofIsRejected() public {
        bytes32 id = _validated();
        (bytes32 resultHash, bytes32 root) = _postedResult();
        _mockResultProof(false);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskResultProofInvalid.selector, id));
        vm.prank(node);
        tm.reportTaskResultUploaded(id, resultHash, root, new bytes32[](0), _someProof());
        _assertTaskStatus(id, ITaskTypes.TaskStatus.Validated);
        assertEq(tm.totalEscrowed(), FEE);
        assertEq(tm.withdrawable(node), 0);
        assertEq(uint8(_status(node)), uint8(INodeRegistry.NodeStatus.Busy));
    }

    function test_reportTaskResultUploaded_realVerifierRejectsAMadeUpProof() public {
        bytes32 id = _validated();
        (bytes32 resultHash, bytes32 root) = _postedResult();
        for (uint256 i = 0; i < 2; ++i) {
            vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskResultProofInvalid.selector, id));
            vm.prank(node);
            tm.reportTaskResultUploaded(id, resultHash, root, new bytes32[](0), i == 0 ? _noProof() : _someProof());
        }
        _assertTaskStatus(id, ITaskTypes.TaskStatus.Validated);
    }

    function test_reportTaskResultUploaded_multiImageScoreCannotBeProven() public {
        // Two pHashes pass submitTaskScore's shape rule, but the circuit hashes exactly one 64×64 image.
        bytes32 id = _parametersUploaded();
        _submitScore(id, abi.encodePacked(SCORE_A, SCORE_A));
        _mockSamplingNumber(NOT_SAMPLED);
        ISamplingVerifier.VRFProof memory vrf = _proofFor(0, id);
        vm.prank(app);
        tm.validateSingleTask(id, vrf);
        (bytes32 resultHash, bytes32 root) = _postedResult();
        _mockResultProof(true);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskResultProofInvalid.selector, id));
        vm.prank(node);
        tm.reportTaskResultUploaded(id, resultHash, root, new bytes32[](0), _someProof());
        _assertTaskStatus(id, ITaskTypes.TaskStatus.Validated);
    }

    function test_reportTaskResultUploaded_blobCheckComesBeforeTheProof() public {
        bytes32 id = _validated();
        bytes32 blob = _newBlob("result");
        bytes32 root = _postSingleBlobRoot(_newBlob("other"));
        _mockResultProof(false);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskBlobNotInRoot.selector, id, blob, root));
        vm.prank(node);
        tm.reportTaskResultUploaded(id, blob, root, new bytes32[](0), _someProof());
    }

    // ---------------------------------------------------------------------------------------------------------
    // validateTaskGroup (verifier mocked to say "sampled")
    // ---------------------------------------------------------------------------------------------------------

    bytes32 internal constant GROUP_GUID = "group";

    /// @dev Three nodes, three tasks of one group, parameters uploaded; member i runs on nodes[i].
    function _group() internal returns (bytes32[3] memory ids) {
        for (uint256 i = 0; i < 3; ++i) {
            _joinNode(nodes[i]);
            ids[i] = _createTask(app, GROUP_GUID, _nonce(GROUP_GUID, uint8(i)));
            assertEq(_selectedNode(ids[i]), nodes[i]);
            _uploadParameters(ids[i]);
        }
    }

    function _validateGroup(bytes32[3] memory ids) internal {
        _mockSamplingNumber(SAMPLED);
        _mockParamsProof(true);
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, ids[0]);
        vm.prank(app);
        tm.validateTaskGroup(ids[0], ids[1], ids[2], GROUP_GUID, proof, _noProof());
    }

    function test_validateTaskGroup_allAgreeSplitsTheFeeBySpeed() public {
        bytes32[3] memory ids = _group();
        // Submission order: member 1 first, then member 0, then member 2 (QoS 10, 5, 2).
        vm.warp(block.timestamp + 10);
        _submitScore(ids[1], _imageScore(SCORE_A));
        vm.warp(block.timestamp + 10);
        _submitScore(ids[0], _imageScore(SCORE_A ^ 0xFF)); // 8 bits away: matches
        vm.warp(block.timestamp + 10);
        _submitScore(ids[2], _imageScore(SCORE_A));
        _validateGroup(ids);

        _assertTaskStatus(ids[0], ITaskTypes.TaskStatus.GroupValidated);
        _assertTaskStatus(ids[1], ITaskTypes.TaskStatus.EndGroupRefund);
        _assertTaskStatus(ids[2], ITaskTypes.TaskStatus.EndGroupRefund);
        assertEq(tm.getTask(ids[0]).qosScore, 5);
        assertEq(tm.getTask(ids[1]).qosScore, 10);
        assertEq(tm.getTask(ids[2]).qosScore, 2);
        assertEq(tm.withdrawable(app), 2 * FEE);
        assertEq(tm.totalEscrowed(), FEE);
        assertEq(uint8(_status(nodes[0])), uint8(INodeRegistry.NodeStatus.Busy));
        assertEq(uint8(_status(nodes[1])), uint8(INodeRegistry.NodeStatus.Available));
        assertEq(registry.getNode(nodes[1]).scoreSum, 10);

        _uploadResult(ids[0]);
        _assertTaskStatus(ids[0], ITaskTypes.TaskStatus.EndGroupSuccess);
        uint256 share1 = (FEE * 10) / 17;
        uint256 share2 = (FEE * 2) / 17;
        assertEq(tm.withdrawable(nodes[1]), share1);
        assertEq(tm.withdrawable(nodes[2]), share2);
        assertEq(tm.withdrawable(nodes[0]), FEE - share1 - share2);
        assertEq(tm.totalEscrowed(), 0);
        _assertSolvent();
    }

    /// @dev An all-agree group validated on member 0 (QoS 5; member 1 has 10, member 2 has 2), and its result window.
    function _validatedGroup() internal returns (bytes32[3] memory ids, uint256 opensAt, uint256 closesAt) {
        ids = _group();
        vm.warp(block.timestamp + 10);
        _submitScore(ids[1], _imageScore(SCORE_A));
        vm.warp(block.timestamp + 10);
        _submitScore(ids[0], _imageScore(SCORE_A ^ 0xFF));
        vm.warp(block.timestamp + 10);
        _submitScore(ids[2], _imageScore(SCORE_A ^ 0x0F));
        _validateGroup(ids);
        _assertTaskStatus(ids[0], ITaskTypes.TaskStatus.GroupValidated);
        opensAt = block.timestamp + RESULT_UPLOAD_TIMEOUT;
        closesAt = opensAt + RESULT_UPLOAD_TIMEOUT;
    }

    /// @notice Attack (DESIGN §13.8): the validated node withholds its result so that the agreeing members' work goes
    /// unpaid. Once its own window has passed, an agreeing member uploads its own result (the proof is checked against
    /// that member's score and binding) and the agreeing members share the fee; the withholder gets nothing.
    function test_attack_withheldGroupResult_agreeingMemberUploadsItsOwnAndIsPaid() public {
        (bytes32[3] memory ids, uint256 opensAt, uint256 closesAt) = _validatedGroup();
        (bytes32 resultHash, bytes32 root) = _postedResult();
        ITaskManager.Groth16Proof memory p = _someProof();

        // Not before the withholder's window has passed; and never by a node outside the group.
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskResultFallbackNotOpen.selector, ids[0], opensAt));
        vm.prank(nodes[1]);
        tm.reportTaskResultUploaded(ids[0], resultHash, root, new bytes32[](0), p);
        vm.warp(opensAt);
        vm.expectRevert(
            abi.encodeWithSelector(ITaskManager.TaskDeadlineNotReached.selector, ids[0], closesAt, opensAt)
        );
        tm.abortTask(ids[0]);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskNotSelectedNode.selector, ids[0], stranger, nodes[0]));
        vm.prank(stranger);
        tm.reportTaskResultUploaded(ids[0], resultHash, root, new bytes32[](0), p);

        // The proof must be member 1's: its score, its task and its node in the binding.
        ITaskManager.TaskInfo memory member = tm.getTask(ids[1]);
        uint256 binding = uint256(keccak256(abi.encode(block.chainid, address(tm), app, ids[1], nodes[1]))) >> 3;
        uint256[6] memory signals = [
            0,
            member.appPublicKey[0],
            member.appPublicKey[1],
            uint256(resultHash),
            uint256(SCORE_A),
            binding
        ];
        vm.mockCall(
            address(resultVerifier),
            abi.encodeWithSelector(resultVerifier.verifyProof.selector),
            abi.encode(false)
        );
        vm.mockCall(
            address(resultVerifier),
            abi.encodeCall(resultVerifier.verifyProof, (p.a, p.b, p.c, signals)),
            abi.encode(true)
        );
        vm.expectEmit(true, false, false, true, address(tm));
        emit ITaskManager.TaskEndGroupSuccess(ids[0], nodes[1]);
        vm.prank(nodes[1]);
        tm.reportTaskResultUploaded(ids[0], resultHash, root, new bytes32[](0), p);

        _assertTaskStatus(ids[0], ITaskTypes.TaskStatus.EndGroupSuccess);
        assertEq(tm.getTask(ids[0]).resultHash, resultHash);
        uint256 share2 = (FEE * 2) / 12;
        assertEq(tm.withdrawable(nodes[1]), FEE - share2, "uploader: its share and the remainder");
        assertEq(tm.withdrawable(nodes[2]), share2);
        assertEq(tm.withdrawable(nodes[0]), 0, "the withholder was paid");
        assertEq(tm.withdrawable(app), 2 * FEE, "the app paid for one task, as with an upload by its own node");
        assertEq(uint8(_status(nodes[0])), uint8(INodeRegistry.NodeStatus.Available), "the withholder is still Busy");
        assertEq(tm.totalEscrowed(), 0);
        _assertSolvent();
    }

    /// @notice The fallback is for the agreeing members only: an invalidated member cannot upload in the validated
    /// node's place. With no upload at all, the task aborts at the end of the second window and the app is refunded.
    function test_withheldGroupResult_noFallbackForTheOddMemberAndRefundAfterBothWindows() public {
        bytes32[3] memory ids = _group();
        _submitScore(ids[0], _imageScore(SCORE_A));
        _submitScore(ids[1], _imageScore(~SCORE_A));
        _submitScore(ids[2], _imageScore(SCORE_A));
        _validateGroup(ids);
        _assertTaskStatus(ids[1], ITaskTypes.TaskStatus.EndInvalidated);
        uint256 validatedAt = block.timestamp;
        (bytes32 resultHash, bytes32 root) = _postedResult();
        _mockResultProof(true);
        vm.warp(validatedAt + RESULT_UPLOAD_TIMEOUT);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskNotSelectedNode.selector, ids[0], nodes[1], nodes[0]));
        vm.prank(nodes[1]);
        tm.reportTaskResultUploaded(ids[0], resultHash, root, new bytes32[](0), _noProof());

        assertEq(tm.deadlineOf(ids[0]), validatedAt + 2 * RESULT_UPLOAD_TIMEOUT);
        vm.warp(validatedAt + 2 * RESULT_UPLOAD_TIMEOUT);
        vm.prank(stranger);
        tm.abortTask(ids[0]);
        _assertTaskStatus(ids[0], ITaskTypes.TaskStatus.EndAborted);
        assertEq(tm.withdrawable(app), 3 * FEE);
        assertEq(tm.withdrawable(nodes[0]), 0);
        assertEq(tm.withdrawable(nodes[2]), 0);
        // Too late for the agreeing member too: the task is final.
        vm.prank(nodes[2]);
        vm.expectRevert();
        tm.reportTaskResultUploaded(ids[0], resultHash, root, new bytes32[](0), _noProof());
        _assertSolvent();
    }

    function test_validateTaskGroup_oddResultIsInvalidatedAndSlashed() public {
        bytes32[3] memory ids = _group();
        _submitScore(ids[0], _imageScore(SCORE_A));
        _submitScore(ids[1], _imageScore(~SCORE_A));
        _submitScore(ids[2], _imageScore(SCORE_A));
        _validateGroup(ids);

        _assertTaskStatus(ids[0], ITaskTypes.TaskStatus.GroupValidated);
        _assertTaskStatus(ids[1], ITaskTypes.TaskStatus.EndInvalidated);
        _assertTaskStatus(ids[2], ITaskTypes.TaskStatus.EndGroupRefund);
        assertEq(uint8(_status(nodes[1])), uint8(INodeRegistry.NodeStatus.Quit));
        assertEq(registry.withdrawable(treasury), MINIMUM_STAKE);
        assertEq(registry.withdrawable(nodes[1]), 0);
        assertEq(tm.withdrawable(app), 2 * FEE);
        _assertSolvent();
    }

    function test_validateTaskGroup_threeDifferentResultsAbortAll() public {
        bytes32[3] memory ids = _group();
        _submitScore(ids[0], _imageScore(SCORE_A));
        _submitScore(ids[1], _imageScore(~SCORE_A));
        _submitScore(ids[2], _imageScore(0x00000000FFFFFFFF));
        _validateGroup(ids);
        for (uint256 i = 0; i < 3; ++i) {
            _assertTaskStatus(ids[i], ITaskTypes.TaskStatus.EndAborted);
            assertEq(uint8(_status(nodes[i])), uint8(INodeRegistry.NodeStatus.Available));
        }
        assertEq(tm.withdrawable(app), 3 * FEE);
        assertEq(registry.totalStaked(), 3 * MINIMUM_STAKE);
    }

    function test_validateTaskGroup_oneResultTwoErrorsInvalidatesTheResult() public {
        bytes32[3] memory ids = _group();
        _submitScore(ids[0], _imageScore(SCORE_A));
        vm.prank(nodes[1]);
        tm.reportTaskError(ids[1], ITaskTypes.TaskError.ParametersValidationFailed);
        vm.prank(nodes[2]);
        tm.reportTaskError(ids[2], ITaskTypes.TaskError.ParametersValidationFailed);
        _validateGroup(ids);
        _assertTaskStatus(ids[0], ITaskTypes.TaskStatus.EndInvalidated);
        _assertTaskStatus(ids[1], ITaskTypes.TaskStatus.EndAborted);
        _assertTaskStatus(ids[2], ITaskTypes.TaskStatus.EndAborted);
        assertEq(registry.withdrawable(treasury), MINIMUM_STAKE);
    }

    function test_validateTaskGroup_memberAbortedAfterStartStillSettles() public {
        // B1: a member aborted after a node took it must not block the group.
        bytes32[3] memory ids = _group();
        _submitScore(ids[0], _imageScore(SCORE_A));
        _submitScore(ids[1], _imageScore(SCORE_A));
        vm.warp(block.timestamp + EXECUTION_TIMEOUT);
        tm.abortTask(ids[2]); // ParametersUploaded → EndAborted (Timeout)
        _validateGroup(ids);
        _assertTaskStatus(ids[0], ITaskTypes.TaskStatus.GroupValidated);
        _assertTaskStatus(ids[1], ITaskTypes.TaskStatus.EndGroupRefund);
        _assertTaskStatus(ids[2], ITaskTypes.TaskStatus.EndAborted);
        _assertSolvent();
    }

    /// @dev Member i's node joins with its own key: Base8, −Base8 and [2]Base8 (all in the prime-order subgroup).
    function _distinctKey(uint256 i) internal pure returns (uint256[2] memory key) {
        (key, ) = _distinctKeyAndWitness(i);
    }

    function _groupWithDistinctKeys() internal returns (bytes32[3] memory ids) {
        for (uint256 i = 0; i < 3; ++i) {
            (uint256[2] memory key, uint256[2] memory witness) = _distinctKeyAndWitness(i);
            vm.prank(nodes[i]);
            registry.join{value: MINIMUM_STAKE}(GPU_4090, NODE_VRAM, _defaultVersion(), key, witness, _defaultModels());
            ids[i] = _createTask(app, GROUP_GUID, _nonce(GROUP_GUID, uint8(i)));
            assertEq(_selectedNode(ids[i]), nodes[i]);
            _uploadParameters(ids[i]);
            _submitScore(ids[i], _imageScore(SCORE_A));
        }
    }

    function _paramsSignals(
        bytes32[3] memory ids,
        uint256[3] memory order
    ) internal view returns (uint256[9] memory s) {
        for (uint256 i = 0; i < 3; ++i) {
            uint256[2] memory key = _distinctKey(order[i]);
            s[2 * i] = key[0];
            s[2 * i + 1] = key[1];
            s[6 + i] = uint256(tm.getTask(ids[order[i]]).paramsHash);
        }
    }

    function test_validateTaskGroup_verifiesTheParamsProofOverKeysAndRecordedBlobHashes() public {
        bytes32[3] memory ids = _groupWithDistinctKeys();
        ITaskManager.Groth16Proof memory p = _someProof();
        // Members in argument order, which is now fixed by k (DESIGN §13.2): the node keys and blob hashes follow it.
        uint256[9] memory signals = _paramsSignals(ids, [uint256(0), 1, 2]);
        _mockSamplingNumber(SAMPLED);
        _mockParamsProof(true);
        vm.expectCall(
            address(paramsVerifier),
            abi.encodeCall(IParamsConsistencyVerifier.verifyProof, (p.a, p.b, p.c, signals))
        );
        ISamplingVerifier.VRFProof memory vrf = _proofFor(0, ids[0]);
        vm.prank(app);
        tm.validateTaskGroup(ids[0], ids[1], ids[2], GROUP_GUID, vrf, p);
        _assertTaskStatus(ids[0], ITaskTypes.TaskStatus.GroupValidated);
    }

    function test_validateTaskGroup_revertsWhenTheParamsProofIsRejected() public {
        bytes32[3] memory ids = _groupWithDistinctKeys();
        _mockSamplingNumber(SAMPLED);
        _mockParamsProof(false);
        ISamplingVerifier.VRFProof memory vrf = _proofFor(0, ids[0]);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskParamsProofInvalid.selector, ids[0]));
        vm.prank(app);
        tm.validateTaskGroup(ids[0], ids[1], ids[2], GROUP_GUID, vrf, _someProof());
        for (uint256 i = 0; i < 3; ++i) {
            _assertTaskStatus(ids[i], ITaskTypes.TaskStatus.ScoreReady);
            assertEq(uint8(_status(nodes[i])), uint8(INodeRegistry.NodeStatus.Busy));
        }
        assertEq(tm.withdrawable(app), 0);
        assertEq(tm.totalEscrowed(), 3 * FEE);
        assertEq(registry.withdrawable(treasury), 0);
    }

    function test_validateTaskGroup_realVerifierRejectsAMadeUpProof() public {
        bytes32[3] memory ids = _groupWithDistinctKeys();
        _mockSamplingNumber(SAMPLED);
        ISamplingVerifier.VRFProof memory vrf = _proofFor(0, ids[0]);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskParamsProofInvalid.selector, ids[0]));
        vm.prank(app);
        tm.validateTaskGroup(ids[0], ids[1], ids[2], GROUP_GUID, vrf, _noProof());
        _assertTaskStatus(ids[0], ITaskTypes.TaskStatus.ScoreReady);
    }

    function test_validateTaskGroup_paramsProofNotCheckedWithAnAbortedMember() public {
        // Nobody can be slashed in a row with an aborted member, so no proof is asked for (any proof will do).
        bytes32[3] memory ids = _group();
        _submitScore(ids[0], _imageScore(SCORE_A));
        _submitScore(ids[1], _imageScore(SCORE_A));
        vm.warp(block.timestamp + EXECUTION_TIMEOUT);
        tm.abortTask(ids[2]);
        _mockSamplingNumber(SAMPLED);
        _mockParamsProof(false);
        vm.expectCall(
            address(paramsVerifier),
            abi.encodeWithSelector(IParamsConsistencyVerifier.verifyProof.selector),
            0
        );
        ISamplingVerifier.VRFProof memory vrf = _proofFor(0, ids[0]);
        vm.prank(app);
        tm.validateTaskGroup(ids[0], ids[1], ids[2], GROUP_GUID, vrf, _noProof());
        _assertTaskStatus(ids[0], ITaskTypes.TaskStatus.GroupValidated);
        _assertTaskStatus(ids[1], ITaskTypes.TaskStatus.EndGroupRefund);
    }

    function test_validateTaskGroup_revertsWhenNotSampled() public {
        bytes32[3] memory ids = _group();
        for (uint256 i = 0; i < 3; ++i) _submitScore(ids[i], _imageScore(SCORE_A));
        _mockSamplingNumber(NOT_SAMPLED);
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, ids[0]);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskNotSampled.selector, ids[0], NOT_SAMPLED));
        vm.prank(app);
        tm.validateTaskGroup(ids[0], ids[1], ids[2], GROUP_GUID, proof, _noProof());
    }

    function test_validateTaskGroup_revertsWhenFirstIsNotTheOriginal() public {
        bytes32[3] memory ids = _group();
        for (uint256 i = 0; i < 3; ++i) _submitScore(ids[i], _imageScore(SCORE_A));
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, ids[1]);
        // Member 1's nonce is keccak256(GUID, 1): it cannot stand in position 0 (DESIGN §13.2).
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskGroupNonceMismatch.selector, ids[1], 0));
        vm.prank(app);
        tm.validateTaskGroup(ids[1], ids[0], ids[2], GROUP_GUID, proof, _noProof());
    }

    function test_validateTaskGroup_revertsWhenDuplicateMember() public {
        bytes32[3] memory ids = _group();
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, ids[0]);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskGroupDuplicateMember.selector, ids[1]));
        vm.prank(app);
        tm.validateTaskGroup(ids[0], ids[1], ids[1], GROUP_GUID, proof, _noProof());
    }

    function test_validateTaskGroup_revertsWhenGUIDDoesNotMatch() public {
        bytes32[3] memory ids = _group();
        for (uint256 i = 0; i < 3; ++i) _submitScore(ids[i], _imageScore(SCORE_A));
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, ids[0]);
        vm.expectRevert(
            abi.encodeWithSelector(ITaskManager.TaskGroupCommitmentMismatch.selector, ids[0], bytes32("other"))
        );
        vm.prank(app);
        tm.validateTaskGroup(ids[0], ids[1], ids[2], "other", proof, _noProof());
    }

    function test_validateTaskGroup_revertsWhenAMemberHasNoResultYet() public {
        bytes32[3] memory ids = _group();
        _submitScore(ids[0], _imageScore(SCORE_A));
        _submitScore(ids[1], _imageScore(SCORE_A));
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, ids[0]);
        _expectInvalidState(ids[2], ITaskTypes.TaskStatus.ParametersUploaded);
        vm.prank(app);
        tm.validateTaskGroup(ids[0], ids[1], ids[2], GROUP_GUID, proof, _noProof());
    }

    // ---------------------------------------------------------------------------------------------------------
    // abortTask: deadlines
    // ---------------------------------------------------------------------------------------------------------

    /// @dev ISSUE-NOTES: Queued counts as before dispatch; the creator waits for a node or the queue timeout.
    function test_abortTask_creatorCannotCancelAQueuedTask() public {
        bytes32 id = _createTask(app, "guid", "nonce");
        uint256 deadline = block.timestamp + QUEUE_TIMEOUT;
        vm.expectRevert(
            abi.encodeWithSelector(ITaskManager.TaskDeadlineNotReached.selector, id, deadline, block.timestamp)
        );
        vm.prank(app);
        tm.abortTask(id);
        _assertTaskStatus(id, ITaskTypes.TaskStatus.Queued);
    }

    function test_abortTask_queuedRevertsBeforeQueueTimeout() public {
        bytes32 id = _createTask(app, "guid", "nonce");
        uint256 deadline = block.timestamp + QUEUE_TIMEOUT;
        vm.warp(deadline - 1);
        vm.expectRevert(
            abi.encodeWithSelector(ITaskManager.TaskDeadlineNotReached.selector, id, deadline, deadline - 1)
        );
        vm.prank(stranger);
        tm.abortTask(id);
    }

    function test_abortTask_queuedTimesOutForAnyone() public {
        bytes32 id = _createTask(app, "guid", "nonce");
        vm.warp(block.timestamp + QUEUE_TIMEOUT);
        vm.prank(stranger);
        tm.abortTask(id);
        _assertTaskStatus(id, ITaskTypes.TaskStatus.EndAborted);
        assertEq(uint8(tm.getTask(id).abortReason), uint8(ITaskTypes.TaskAbortReason.QueueTimeout));
        assertEq(tm.queuedTasks().length, 0);
        assertEq(tm.withdrawable(app), FEE);
    }

    function test_abortTask_startedRevertsBeforeExecutionTimeout() public {
        bytes32 id = _started();
        uint256 deadline = block.timestamp + EXECUTION_TIMEOUT;
        vm.warp(deadline - 1);
        vm.expectRevert(
            abi.encodeWithSelector(ITaskManager.TaskDeadlineNotReached.selector, id, deadline, deadline - 1)
        );
        // The creator has no special right once a node took the task.
        vm.prank(app);
        tm.abortTask(id);
    }

    /// @dev DESIGN §13.3: without parameters the application is at fault; the node keeps its health and is paid
    /// `noShowShare` of the fee for the slot it held.
    function test_abortTask_startedTimesOutAtTheApplicationsCost() public {
        bytes32 id = _started();
        uint256 deadline = block.timestamp + UPLOAD_TIMEOUT;
        assertEq(tm.deadlineOf(id), deadline);
        vm.warp(deadline);
        vm.expectEmit(true, true, false, true, address(tm));
        emit ITaskManager.TaskAborted(id, stranger, ITaskTypes.TaskStatus.Started, ITaskTypes.TaskAbortReason.Timeout);
        vm.prank(stranger);
        tm.abortTask(id);
        uint256 share = (FEE * NO_SHOW_SHARE) / 10_000;
        assertEq(tm.withdrawable(node), share);
        assertEq(tm.withdrawable(app), FEE - share);
        assertEq(registry.getNode(node).health, 10_000);
        assertEq(uint8(_status(node)), uint8(INodeRegistry.NodeStatus.Available));
        _assertSolvent();
    }

    /// @dev DESIGN §13.3: the node's timer starts at the parameter upload.
    function test_abortTask_parametersUploadedDeadlineRunsFromUpload() public {
        bytes32 id = _started();
        vm.warp(block.timestamp + 100);
        _uploadParameters(id);
        uint256 deadline = block.timestamp + EXECUTION_TIMEOUT;
        assertEq(tm.deadlineOf(id), deadline);
        vm.warp(deadline);
        tm.abortTask(id);
        assertEq(uint8(tm.getTask(id).abortReason), uint8(ITaskTypes.TaskAbortReason.Timeout));
    }

    function test_abortTask_scoreReadyValidationTimeoutPaysTheNode() public {
        bytes32 id = _scoreReady();
        uint256 deadline = tm.getTask(id).createdAt + GROUP_SPAN;
        vm.warp(deadline - 1);
        vm.expectRevert(
            abi.encodeWithSelector(ITaskManager.TaskDeadlineNotReached.selector, id, deadline, deadline - 1)
        );
        tm.abortTask(id);
        vm.warp(deadline);
        tm.abortTask(id);
        assertEq(uint8(tm.getTask(id).abortReason), uint8(ITaskTypes.TaskAbortReason.ValidationTimeout));
        assertEq(tm.withdrawable(node), FEE);
        assertEq(tm.withdrawable(app), 0);
        assertEq(registry.getNode(node).health, 10_000);
        assertEq(uint8(_status(node)), uint8(INodeRegistry.NodeStatus.Available));
        _assertSolvent();
    }

    function test_abortTask_errorReportedValidationTimeoutPaysTheNode() public {
        bytes32 id = _errorReported();
        vm.warp(tm.getTask(id).createdAt + GROUP_SPAN);
        tm.abortTask(id);
        assertEq(uint8(tm.getTask(id).abortReason), uint8(ITaskTypes.TaskAbortReason.ValidationTimeout));
        assertEq(tm.withdrawable(node), FEE);
    }

    function test_abortTask_validatedResultUploadTimeoutRefunds() public {
        bytes32 id = _validated();
        vm.warp(block.timestamp + RESULT_UPLOAD_TIMEOUT);
        tm.abortTask(id);
        assertEq(uint8(tm.getTask(id).abortReason), uint8(ITaskTypes.TaskAbortReason.ResultUploadTimeout));
        assertEq(tm.withdrawable(app), FEE);
        assertEq(tm.withdrawable(node), 0);
        assertEq(registry.getNode(node).health, 3_000);
        _assertSolvent();
    }

    function test_abortTask_revertsWhenFinal() public {
        bytes32 id = _createTask(app, "guid", "nonce");
        vm.warp(block.timestamp + QUEUE_TIMEOUT);
        tm.abortTask(id);
        _expectInvalidState(id, ITaskTypes.TaskStatus.EndAborted);
        vm.prank(app);
        tm.abortTask(id);
        vm.warp(block.timestamp + 365 days);
        _expectInvalidState(id, ITaskTypes.TaskStatus.EndAborted);
        tm.abortTask(id);
    }

    function test_abortTask_revertsWhenTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskNotFound.selector, bytes32("missing")));
        tm.abortTask("missing");
    }

    function test_abortTask_unhealthyNodeIsNoLongerSelected() public {
        bytes32 id = _parametersUploaded();
        vm.warp(block.timestamp + EXECUTION_TIMEOUT);
        tm.abortTask(id); // H = 0.3
        id = _createTask(app, "guid-2", "nonce-2");
        assertEq(_selectedNode(id), node);
        _uploadParameters(id);
        vm.warp(block.timestamp + EXECUTION_TIMEOUT);
        tm.abortTask(id); // H ≈ 0.09 < 0.1 (0.3 recovered a little over the execution timeout, then × 0.3)
        assertLt(registry.getNode(node).health, 1_000);
        id = _createTask(app, "guid-3", "nonce-3");
        _assertTaskStatus(id, ITaskTypes.TaskStatus.Queued);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Queue dispatch
    // ---------------------------------------------------------------------------------------------------------

    function test_onNodeAvailable_joinTakesTheQueuedTask() public {
        bytes32 id = _createTask(app, "guid", "nonce");
        vm.warp(block.timestamp + 10);
        vm.expectEmit(true, true, false, false, address(tm));
        emit ITaskManager.TaskStarted(id, node);
        _joinNode(node);
        ITaskManager.TaskInfo memory task = tm.getTask(id);
        assertEq(uint8(task.status), uint8(ITaskTypes.TaskStatus.Started));
        assertEq(task.selectedNode, node);
        assertEq(task.startedAt, block.timestamp);
        assertEq(tm.queuedTasks().length, 0);
    }

    function test_onNodeAvailable_takesTheHighestValueTask() public {
        bytes32 low = _createTask(app, "guid-1", "nonce-1", 1 ether);
        bytes32 high = _createTask(app, "guid-2", "nonce-2", 3 ether);
        bytes32 mid = _createTask(app, "guid-3", "nonce-3", 2 ether);
        _joinNode(nodes[0]);
        assertEq(_selectedNode(high), nodes[0]);
        _joinNode(nodes[1]);
        assertEq(_selectedNode(mid), nodes[1]);
        _assertTaskStatus(low, ITaskTypes.TaskStatus.Queued);
    }

    function test_onNodeAvailable_equalValueTakesTheEarliestTask() public {
        bytes32 first = _createTask(app, "guid-1", "nonce-1");
        _createTask(app, "guid-2", "nonce-2");
        _joinNode(node);
        assertEq(_selectedNode(first), node);
    }

    function test_onNodeAvailable_skipsTasksTheNodeCannotServe() public {
        ITaskManager.TaskInput memory big = _taskInput("guid-1", "nonce-1");
        big.minimumVRAM = 80;
        _createTask(app, big, 5 ether);
        bytes32 small = _createTask(app, "guid-2", "nonce-2", 1 ether);
        _joinNode(node);
        assertEq(_selectedNode(small), node);
        _assertTaskStatus(big.taskIDCommitment, ITaskTypes.TaskStatus.Queued);
    }

    function test_onNodeAvailable_finishedTaskHandsTheNodeTheNextOne() public {
        bytes32 first = _started();
        bytes32 queued = _createTask(app, "guid-2", "nonce-2");
        _assertTaskStatus(queued, ITaskTypes.TaskStatus.Queued);
        vm.warp(block.timestamp + EXECUTION_TIMEOUT);
        tm.abortTask(first);
        assertEq(_selectedNode(queued), node);
        _assertTaskStatus(queued, ITaskTypes.TaskStatus.Started);
    }

    function test_onNodeAvailable_revertsWhenNotRegistry() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskCallerNotRegistry.selector, stranger));
        vm.prank(stranger);
        tm.onNodeAvailable(stranger);
    }

    function test_createTask_fullQueueEvictsTheLowestValue() public {
        assertEq(tm.queueCapacity(), MIN_QUEUE_CAPACITY);
        for (uint256 i = 0; i < MIN_QUEUE_CAPACITY; ++i) {
            _createTask(app, keccak256(abi.encode("guid", i)), keccak256(abi.encode("nonce", i)), 1 ether);
        }
        bytes32 lastCreated = _commitment(
            keccak256(abi.encode("guid", MIN_QUEUE_CAPACITY - 1)),
            keccak256(abi.encode("nonce", MIN_QUEUE_CAPACITY - 1))
        );
        // Not worth more than the lowest: dispatch must not revert (it would hold every task behind this one), so
        // the task ends EndAborted(TaskFeeTooLow) at dispatch and its fee is refunded; the queue is unchanged.
        ITaskManager.TaskInput memory low = _taskInput("guid-low", "nonce-low");
        _autoDispatch = false;
        _createTask(app, low, 1 ether);
        _deliverWord();
        vm.expectEmit(true, true, false, true, address(tm));
        emit ITaskManager.TaskAborted(
            low.taskIDCommitment,
            stranger,
            ITaskTypes.TaskStatus.Pending,
            ITaskTypes.TaskAbortReason.TaskFeeTooLow
        );
        vm.expectEmit(true, true, false, true, address(tm));
        emit ITaskManager.TaskFeeRefunded(low.taskIDCommitment, app, 1 ether);
        _dispatchPending();
        _autoDispatch = true;
        _assertTaskStatus(low.taskIDCommitment, ITaskTypes.TaskStatus.EndAborted);
        assertEq(uint8(tm.getTask(low.taskIDCommitment).abortReason), uint8(ITaskTypes.TaskAbortReason.TaskFeeTooLow));
        _assertTaskStatus(lastCreated, ITaskTypes.TaskStatus.Queued);
        assertEq(tm.queuedTasks().length, MIN_QUEUE_CAPACITY);
        assertEq(tm.withdrawable(app), 1 ether);
        assertEq(tm.totalEscrowed(), uint256(MIN_QUEUE_CAPACITY) * 1 ether);
        // Worth more: the latest-created of the lowest is evicted and refunded.
        ITaskManager.TaskInput memory input = _taskInput("guid-new", "nonce-new");
        _createTask(app, input, 2 ether);
        _assertTaskStatus(input.taskIDCommitment, ITaskTypes.TaskStatus.Queued);
        _assertTaskStatus(lastCreated, ITaskTypes.TaskStatus.EndAborted);
        assertEq(uint8(tm.getTask(lastCreated).abortReason), uint8(ITaskTypes.TaskAbortReason.TaskFeeTooLow));
        assertEq(tm.queuedTasks().length, MIN_QUEUE_CAPACITY);
        assertEq(tm.withdrawable(app), 2 ether);
        assertEq(tm.totalEscrowed(), (uint256(MIN_QUEUE_CAPACITY) - 1) * 1 ether + 2 ether);
        _assertSolvent();
    }

    function test_queueCapacity_scalesWithJoinedNodes() public {
        for (uint256 i = 0; i < NODE_COUNT; ++i) _joinNode(nodes[i]);
        assertEq(tm.queueCapacity(), MIN_QUEUE_CAPACITY); // 5 · 8 = 40 < 50
        ITaskManager.TaskConfig memory config = _taskConfig();
        config.queueSizeFactor = 10;
        vm.prank(admin);
        tm.setConfig(config);
        assertEq(tm.queueCapacity(), 80);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Administration and views
    // ---------------------------------------------------------------------------------------------------------

    function test_setConfig_revertsWhenNotAdmin() public {
        ITaskManager.TaskConfig memory config = _taskConfig();
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskCallerNotAdmin.selector, stranger));
        vm.prank(stranger);
        tm.setConfig(config);
    }

    function test_setConfig_revertsWhenInvalid() public {
        ITaskManager.TaskConfig memory config = _taskConfig();
        config.distanceThreshold = 65;
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskConfigInvalid.selector));
        vm.prank(admin);
        tm.setConfig(config);
        config = _taskConfig();
        config.samplingDivisor = 0;
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskConfigInvalid.selector));
        vm.prank(admin);
        tm.setConfig(config);
    }

    function test_scoresMatch_usesTheDistanceThreshold() public view {
        bytes memory a = _imageScore(0);
        bytes memory near = _imageScore(uint64((1 << (DISTANCE_THRESHOLD - 1)) - 1)); // 23 bits
        bytes memory far = _imageScore(uint64((1 << DISTANCE_THRESHOLD) - 1)); // 24 bits
        assertTrue(tm.scoresMatch(ITaskTypes.TaskType.SD, a, near));
        assertFalse(tm.scoresMatch(ITaskTypes.TaskType.SD_FT, a, far));
        assertFalse(tm.scoresMatch(ITaskTypes.TaskType.LLM, abi.encode(bytes32(0)), abi.encode(bytes32(uint256(1)))));
    }

    function test_taskValue_usesTheTypePricing() public view {
        assertEq(tm.taskValue(ITaskTypes.TaskType.SD, 1, 30 ether), 1e36); // T = 20 + 10
        assertEq(tm.taskValue(ITaskTypes.TaskType.LLM, 95, 100 ether), 1e36); // T = 5 + 95
        assertEq(tm.taskValue(ITaskTypes.TaskType.SD_FT, 2, 100 ether), 1e36); // T = 60 + 40
    }

    function test_withdraw_revertsWhenNothingToWithdraw() public {
        vm.expectRevert(abi.encodeWithSelector(IPullPayments.PaymentNothingToWithdraw.selector, app));
        vm.prank(app);
        tm.withdraw();
    }

    function test_withdrawTo_sendsToAnotherAddress() public {
        bytes32 id = _createTask(app, "guid", "nonce");
        vm.warp(block.timestamp + QUEUE_TIMEOUT);
        tm.abortTask(id);
        address payable to = payable(makeAddr("receiver"));
        vm.prank(app);
        assertEq(tm.withdrawTo(to), FEE);
        assertEq(to.balance, FEE);
        assertEq(tm.withdrawable(app), 0);
    }

    // ---------------------------------------------------------------------------------------------------------
    // The settlement module (docs/cost.md): reached only through the task manager, wired like it
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Called on the module itself, every entry point refuses, even for a task that exists in the task manager:
    /// the module's own storage is never a second, empty task manager anyone could drive.
    function test_settlement_refusesDirectCalls() public {
        bytes32 id = _scoreReady();
        TaskSettlement settlement = TaskSettlement(tm.SETTLEMENT());
        ISamplingVerifier.VRFProof memory proof;
        ITaskManager.Groth16Proof memory groth;
        ITaskManager.TaskConfig memory cfg = tm.config();
        uint256[2] memory key;
        bytes4 refused = TaskSettlement.TaskSettlementNotDelegated.selector;

        vm.warp(tm.deadlineOf(id));
        vm.expectRevert(refused);
        settlement.abortTask(id);
        vm.prank(node);
        vm.expectRevert(refused);
        settlement.declineTask(id, ITaskTypes.TaskAbortReason.AppKeyInvalid);
        vm.prank(app);
        vm.expectRevert(refused);
        settlement.validateTaskGroup(id, id, id, bytes32(0), proof, groth);
        vm.prank(admin);
        vm.expectRevert(refused);
        settlement.setConfig(cfg);
        vm.expectRevert(refused);
        settlement.registerAppKey(key, key);

        // Through the task manager the same abort goes through, in the task manager's storage.
        tm.abortTask(id);
        _assertTaskStatus(id, ITaskTypes.TaskStatus.EndAborted);
    }

    /// @dev The module's immutables are the task manager's: it reads the same registry, queue, beacon and verifiers.
    function test_settlement_sharesTheTaskManagersWiring() public view {
        TaskSettlement settlement = TaskSettlement(tm.SETTLEMENT());
        assertEq(settlement.ADMIN(), tm.ADMIN());
        assertEq(address(settlement.REGISTRY()), address(tm.REGISTRY()));
        assertEq(address(settlement.RELAY_ROOTS()), address(tm.RELAY_ROOTS()));
        assertEq(address(settlement.SAMPLING_VERIFIER()), address(tm.SAMPLING_VERIFIER()));
        assertEq(address(settlement.PARAMS_VERIFIER()), address(tm.PARAMS_VERIFIER()));
        assertEq(address(settlement.RESULT_VERIFIER()), address(tm.RESULT_VERIFIER()));
        assertEq(address(settlement.QUEUE()), address(tm.QUEUE()));
        assertEq(address(settlement.BEACON()), address(tm.BEACON()));
        assertEq(settlement.DISPATCH_BOUNTY(), tm.DISPATCH_BOUNTY());
        assertTrue(address(settlement) != address(tm));
    }
}
