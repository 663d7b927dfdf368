// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {BaseTest} from "./BaseTest.sol";
import {NodeRegistry} from "../../contracts/NodeRegistry.sol";
import {TaskManager} from "../../contracts/TaskManager.sol";
import {VRFBeacon} from "../../contracts/VRFBeacon.sol";
import {INodeRegistry} from "../../contracts/interfaces/INodeRegistry.sol";
import {ITaskManager} from "../../contracts/interfaces/ITaskManager.sol";
import {ITaskTypes} from "../../contracts/interfaces/ITaskTypes.sol";
import {IRandomnessBeacon} from "../../contracts/interfaces/IRandomnessBeacon.sol";
import {ISamplingVerifier} from "../../contracts/interfaces/ISamplingVerifier.sol";
import {
    IParamsConsistencyVerifier,
    IResultAvailabilityVerifier
} from "../../contracts/interfaces/IGroth16Verifiers.sol";
import {VRFCoordinatorV2_5Mock} from "@chainlink/contracts/src/v0.8/vrf/mocks/VRFCoordinatorV2_5Mock.sol";

/// @title Commit-first randomness (docs/randomness.md): the attacks on dispatch and sampling, performed and failing
/// @notice A task's node and sampling seed come from the word of the beacon epoch it enrolled in, a word requested from
/// Chainlink VRF v2.5 when the task was already committed. Each test performs one attack (grinding commitments,
/// learning the seed early, cancelling a pending task, changing the pool after seeing the word, dispatching out of
/// order or with another input, feeding or re-binding the beacon) and shows it failing. Tasks stay Pending here
/// (`_autoDispatch` off): each test delivers the word and dispatches itself.
contract RandomnessBeaconTest is BaseTest {
    /// @dev Draws of the chi-square test, and the candidate commitments the grinding attacker tries per draw.
    uint256 internal constant DRAWS = 1_000;
    uint256 internal constant CANDIDATES = 20;
    /// @dev The chi-square critical value at p = 0.001 for df = NODE_COUNT - 1 = 7, times 1,000.
    uint256 internal constant CHI2_CRITICAL_DF7_MILLI = 24_322;

    address internal app;
    address internal target;
    address internal outsider = makeAddr("outsider");

    // A second deployment with a dispatch bounty and a beacon fee (the fixture's are zero).
    NodeRegistry internal registry2;
    TaskManager internal tm2;
    VRFCoordinatorV2_5Mock internal coordinator2;
    VRFBeacon internal beacon2;

    function setUp() public override {
        super.setUp();
        _autoDispatch = false;
        app = apps[0];
        target = nodes[3];
        vm.deal(outsider, 100_000 ether);
        // Eight nodes with the same stake, hardware, version and models: equal weights.
        for (uint256 i = 0; i < NODE_COUNT; ++i) _joinNode(nodes[i]);
    }

    // =============================================================================================================
    // Helpers
    // =============================================================================================================

    function _input(string memory label, uint256 i, uint256 j) internal pure returns (ITaskManager.TaskInput memory) {
        return _taskInput(keccak256(abi.encode(label, "guid", i, j)), keccak256(abi.encode(label, "nonce", i, j)));
    }

    function _createPending(ITaskManager.TaskInput memory input) internal returns (bytes32) {
        return _createTask(app, input, FEE);
    }

    function _requirements(
        ITaskManager.TaskInput memory input
    ) internal pure returns (INodeRegistry.TaskRequirements memory) {
        return
            INodeRegistry.TaskRequirements({
                taskType: input.taskType,
                requiredGPU: input.requiredGPU,
                requiredGPUVRAM: input.requiredGPUVRAM,
                minimumVRAM: input.minimumVRAM,
                version: input.taskVersion,
                modelIDs: input.modelIDs
            });
    }

    /// @dev The node the registry would draw for `input` of `creator` if the word were `word`, with the pool as it
    /// is now: the registry's own draw, run in a call that reverts with the result so that nothing of it stays (a
    /// state snapshot per prediction costs the test runner gigabytes over 20,000 predictions).
    function _predict(
        ITaskManager.TaskInput memory input,
        address creator,
        uint256 word
    ) internal returns (address node) {
        bytes32 r = keccak256(abi.encode(word, creator, input.taskIDCommitment));
        try this.drawAndRevert(_requirements(input), uint256(keccak256(abi.encode(r, "dispatch")))) {
            revert("drawAndRevert returned");
        } catch (bytes memory reason) {
            if (reason.length != 32) revert("selectNode reverted");
            node = abi.decode(reason, (address));
        }
    }

    /// @dev Draws as the task manager would, then reverts with the node (see `_predict`).
    function drawAndRevert(INodeRegistry.TaskRequirements calldata req, uint256 randomness) external {
        require(msg.sender == address(this), "self only");
        vm.prank(address(tm));
        address node = registry.selectNode(req, randomness);
        bytes memory encoded = abi.encode(node);
        assembly ("memory-safe") {
            revert(add(encoded, 32), 32)
        }
    }

    function _indexOf(address node) internal view returns (uint256) {
        for (uint256 i = 0; i < NODE_COUNT; ++i) if (nodes[i] == node) return i;
        revert("not a fixture node");
    }

    /// @dev The neutral exit: the app never uploads, the stranger ends the task after the upload timeout; the node
    /// is credited `noShowShare` and released with its health (so its draw weight) unchanged.
    function _noShow(bytes32 id, uint256[NODE_COUNT] memory weightsBefore) internal {
        address node = _selectedNode(id);
        uint256 weight = weightsBefore[_indexOf(node)];
        uint256 health = registry.getNode(node).health;
        vm.warp(block.timestamp + UPLOAD_TIMEOUT);
        vm.prank(stranger);
        tm.abortTask(id);
        tm.releaseDeferred(16);
        assertEq(uint8(_status(node)), uint8(INodeRegistry.NodeStatus.Available), "node not released");
        assertEq(registry.getNode(node).health, health, "health changed");
        assertEq(registry.drawWeightOf(node), weight, "weight changed");
    }

    /// @dev Every node's draw weight now (a Busy node's is zero).
    function _weights() internal view returns (uint256[NODE_COUNT] memory weights) {
        for (uint256 i = 0; i < NODE_COUNT; ++i) weights[i] = registry.drawWeightOf(nodes[i]);
    }

    /// @dev Runs tasks until every node's last task used SDXL, so that the same-models factor M is the same for all
    /// (selection is then proportional to the draw weight alone, `NodeRegistry.selectNode`).
    function _warmUp() internal {
        bytes32 sdxl = keccak256(abi.encodePacked(_defaultModels()));
        for (uint256 k = 0; k < 200; ++k) {
            bool all = true;
            for (uint256 i = 0; i < NODE_COUNT; ++i) if (registry.getNode(nodes[i]).lastModelsHash != sdxl) all = false;
            if (all) return;
            uint256[NODE_COUNT] memory before = _weights();
            bytes32 id = _createPending(_input("warm", k, 0));
            _deliverWord(uint256(keccak256(abi.encode("warm-word", k))));
            _dispatchPending();
            _noShow(id, before);
        }
        revert("warm-up did not reach every node");
    }

    /// @dev Pearson's statistic (times 1,000) of `counts` against expected counts proportional to `weights`.
    function _chiSquareMilli(
        uint256[NODE_COUNT] memory counts,
        uint256[NODE_COUNT] memory weights,
        uint256 total
    ) internal pure returns (uint256 sum) {
        uint256 weightSum;
        for (uint256 i = 0; i < NODE_COUNT; ++i) weightSum += weights[i];
        for (uint256 i = 0; i < NODE_COUNT; ++i) {
            uint256 expected = (total * weights[i] * 1e18) / weightSum; // 1e18 scale
            uint256 observed = counts[i] * 1e18;
            uint256 diff = observed > expected ? observed - expected : expected - observed;
            sum += (diff * diff) / expected;
        }
        sum = (sum * 1_000) / 1e18;
    }

    /// @dev One grinding campaign: per draw the attacker tries CANDIDATES commitments and commits the one it predicts
    /// lands on `target` under its best guess of the word: the last landed word (all it can know before the word),
    /// or, when `knowsWord` (the old rule, randomness known before committing), the word itself. Then a fresh word it
    /// does not control is delivered, the task dispatched, and the node freed neutrally.
    function _grind(
        bool knowsWord,
        uint256 draws
    ) internal returns (uint256[NODE_COUNT] memory counts, uint256 predictedHits) {
        for (uint256 d = 0; d < draws; ++d) {
            uint256 word = uint256(keccak256(abi.encode("beacon-word", knowsWord, d)));
            uint256 guess = knowsWord ? word : beacon.wordOf(beacon.requestedEpoch());
            ITaskManager.TaskInput memory pick = _input("grind", d, 0);
            for (uint256 j = 0; j < CANDIDATES; ++j) {
                ITaskManager.TaskInput memory candidate = _input("grind", d, j);
                if (_predict(candidate, app, guess) == target) {
                    pick = candidate;
                    ++predictedHits;
                    break;
                }
            }
            uint256[NODE_COUNT] memory before = _weights();
            address predicted = knowsWord ? _predict(pick, app, word) : address(0);
            bytes32 id = _createPending(pick);
            _deliverWord(word);
            _dispatchPending();
            address node = _selectedNode(id);
            if (knowsWord) assertEq(node, predicted, "the prediction under the known word is exact");
            counts[_indexOf(node)]++;
            _noShow(id, before);
        }
    }

    /// @dev A second network with a dispatch bounty and a beacon fee.
    function _deployBountyPair(uint256 bounty, uint256 beaconFee) internal {
        registry2 = new NodeRegistry(admin, _registryConfig());
        coordinator2 = new VRFCoordinatorV2_5Mock(0, 0, 1e18);
        beacon2 = new VRFBeacon(coordinator2, bytes32(0), 3, 600, beaconFee);
        tm2 = new TaskManager(
            admin,
            INodeRegistry(address(registry2)),
            relayRoots,
            ISamplingVerifier(address(verifier)),
            IParamsConsistencyVerifier(address(paramsVerifier)),
            IResultAvailabilityVerifier(address(resultVerifier)),
            IRandomnessBeacon(address(beacon2)),
            bounty,
            _taskConfig()
        );
        beacon2.bind(address(tm2));
        vm.prank(admin);
        registry2.setTaskManager(address(tm2));
        tm2.registerAppKey(_bjjKey(), _bjjWitness());
    }

    function _deliverWord2(uint256 word) internal {
        uint256[] memory words = new uint256[](1);
        words[0] = word;
        coordinator2.fulfillRandomWordsWithOverride(beacon2.requestId(), address(beacon2), words);
    }

    // =============================================================================================================
    // 1. Grinding: chi-square
    // =============================================================================================================

    /// @notice Attack: an app grinds 20 commitments per task (any GUID, nonce and creation time) to land on a chosen
    /// node. It cannot know the word, so over 1,000 draws the nodes' counts fit their weight shares (chi-square below
    /// the p = 0.001 critical value), and its "predicted hits" are no better than chance.
    function test_grind_chiSquareFitsWeightSharesUnderTheNewRule() public {
        _warmUp();
        uint256[NODE_COUNT] memory weights = _weights();
        for (uint256 i = 1; i < NODE_COUNT; ++i) assertEq(weights[i], weights[0], "equal weights");

        (uint256[NODE_COUNT] memory counts, uint256 predictedHits) = _grind(false, DRAWS);
        uint256 chi2 = _chiSquareMilli(counts, weights, DRAWS);
        emit log_named_uint("new rule: chi-square x1000 (df 7)", chi2);
        emit log_named_uint("new rule: tasks on the target", counts[_indexOf(target)]);
        emit log_named_uint("new rule: draws the attacker predicted on the target", predictedHits);
        for (uint256 i = 0; i < NODE_COUNT; ++i) assertEq(registry.drawWeightOf(nodes[i]), weights[i], "pool drifted");
        assertGt(predictedHits, DRAWS / 2, "the attacker did grind");
        assertLt(chi2, CHI2_CRITICAL_DF7_MILLI, "counts do not fit the weight shares");
    }

    /// @notice The same statistic rejects the old rule: an attacker who knows the randomness before committing (as
    /// with prevrandao) picks, among 20 commitments, one that lands on the target: the chi-square is far above the
    /// critical value.
    function test_grind_chiSquareRejectsTheOldRule() public {
        _warmUp();
        uint256[NODE_COUNT] memory weights = _weights();
        for (uint256 i = 1; i < NODE_COUNT; ++i) assertEq(weights[i], weights[0], "equal weights");

        (uint256[NODE_COUNT] memory counts, ) = _grind(true, DRAWS);
        uint256 chi2 = _chiSquareMilli(counts, weights, DRAWS);
        emit log_named_uint("old rule: chi-square x1000 (df 7)", chi2);
        emit log_named_uint("old rule: tasks on the target", counts[_indexOf(target)]);
        assertGt(counts[_indexOf(target)], (DRAWS * 8) / 10, "the informed attacker steers");
        assertGt(chi2, 10 * CHI2_CRITICAL_DF7_MILLI, "the statistic does not reject the old rule");
    }

    // =============================================================================================================
    // 2. Sampling outcome: no early seed, no cancel
    // =============================================================================================================

    /// @notice Attack: the app creates a task, hoping to learn its sampling seed (and so whether its VRF samples it)
    /// and cancel if it dislikes it. The seed is 0 while Pending, and a Pending task cannot be cancelled: before the
    /// deadline (TaskDeadlineNotReached), nor after it once the word landed (TaskDispatchable).
    function test_pending_seedUnknownAndTaskCannotBeCancelled() public {
        bytes32 id = _createPending(_input("pending", 0, 0));
        ITaskManager.TaskInfo memory task = tm.getTask(id);
        assertEq(uint8(task.status), uint8(ITaskTypes.TaskStatus.Pending));
        assertEq(task.samplingSeed, bytes32(0), "seed known while Pending");
        assertEq(task.selectedNode, address(0));
        uint256 deadline = task.createdAt + QUEUE_TIMEOUT;
        assertEq(tm.deadlineOf(id), deadline);

        vm.expectRevert(
            abi.encodeWithSelector(ITaskManager.TaskDeadlineNotReached.selector, id, deadline, block.timestamp)
        );
        vm.prank(app);
        tm.abortTask(id);

        uint256 word = uint256(keccak256("pending-word"));
        _deliverWord(word);
        assertEq(tm.getTask(id).samplingSeed, bytes32(0), "seed stored before dispatch");
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskDispatchable.selector, id));
        vm.prank(app);
        tm.abortTask(id);
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskDispatchable.selector, id));
        vm.prank(stranger);
        tm.abortTask(id);

        _dispatchPending();
        assertEq(
            tm.getTask(id).samplingSeed,
            keccak256(abi.encode(keccak256(abi.encode(word, app, id)), "sampling")),
            "seed from the word"
        );
        assertEq(uint8(_taskStatus(id)), uint8(ITaskTypes.TaskStatus.Started));
    }

    /// @notice Only a word that never lands lets a Pending task end, after the queue timeout: fee and bounty go back
    /// to the creator, no node is credited or penalised.
    function test_pending_neverDeliveredWordRefundsFeeAndBounty() public {
        uint256 bounty = 0.01 ether;
        uint256 beaconFee = 0.002 ether;
        _deployBountyPair(bounty, beaconFee);
        address node = nodes[0];
        vm.startPrank(node);
        registry2.join{value: MINIMUM_STAKE}(
            GPU_4090,
            NODE_VRAM,
            _defaultVersion(),
            _bjjKey(),
            _bjjWitness(),
            _defaultModels()
        );
        vm.stopPrank();
        uint16 health = registry2.getNode(node).health;

        ITaskManager.TaskInput memory input = _input("never", 0, 0);
        vm.prank(app);
        tm2.createTask{value: FEE + bounty + beaconFee}(input);
        bytes32 id = input.taskIDCommitment;
        assertEq(tm2.totalEscrowed(), FEE + bounty);
        vm.warp(block.timestamp + QUEUE_TIMEOUT);
        vm.prank(stranger);
        tm2.abortTask(id);

        ITaskManager.TaskInfo memory task = tm2.getTask(id);
        assertEq(uint8(task.status), uint8(ITaskTypes.TaskStatus.EndAborted));
        assertEq(uint8(task.abortReason), uint8(ITaskTypes.TaskAbortReason.QueueTimeout));
        assertEq(tm2.withdrawable(app), FEE + bounty, "fee + bounty refunded");
        assertEq(tm2.withdrawable(stranger), 0);
        assertEq(tm2.withdrawable(node), 0, "node credited");
        assertEq(tm2.totalEscrowed(), 0);
        assertEq(registry2.getNode(node).health, health, "node penalised");
        assertEq(registry2.getNode(node).stake, MINIMUM_STAKE, "node slashed");
        assertEq(uint8(registry2.nodeStatus(node)), uint8(INodeRegistry.NodeStatus.Available));
        assertEq(address(tm2).balance, tm2.totalEscrowed() + tm2.totalWithdrawable(), "solvent");
    }

    // =============================================================================================================
    // 3. Frozen pool
    // =============================================================================================================

    function _expectFrozen() internal {
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskPoolFrozen.selector));
    }

    function _assertEveryNodeActionFrozen() internal {
        assertTrue(tm.poolFrozen());
        _expectFrozen();
        vm.prank(outsider);
        registry.join{value: MINIMUM_STAKE}(
            GPU_4090,
            NODE_VRAM,
            _defaultVersion(),
            _bjjKey(),
            _bjjWitness(),
            _defaultModels()
        );
        _expectFrozen();
        vm.prank(nodes[0]);
        registry.quit();
        _expectFrozen();
        vm.prank(nodes[0]);
        registry.pause();
        _expectFrozen();
        vm.prank(nodes[1]);
        registry.resume();
        _expectFrozen();
        vm.prank(nodes[0]);
        registry.reportModelDownloaded(MODEL_LLAMA);
        _expectFrozen();
        vm.prank(stranger);
        registry.refreshHealth(nodes[0]);
    }

    /// @notice Attack: nodes change the pool while a word is in flight, or after it landed and before dispatch. Join,
    /// quit, pause, resume, model reports and health refreshes all revert TaskPoolFrozen; they work again once the
    /// pending task is dispatched.
    function test_frozen_nodeActionsRevertWhileWordInFlightOrUndispatched() public {
        vm.prank(nodes[1]);
        registry.pause();
        assertFalse(tm.poolFrozen());
        _createPending(_input("frozen", 0, 0));
        assertTrue(beacon.inFlight());
        _assertEveryNodeActionFrozen();
        _deliverWord();
        assertFalse(beacon.inFlight());
        _assertEveryNodeActionFrozen();
        _dispatchPending();
        assertFalse(tm.poolFrozen());
        vm.prank(nodes[1]);
        registry.resume();
        vm.prank(outsider);
        registry.join{value: MINIMUM_STAKE}(
            GPU_4090,
            NODE_VRAM,
            _defaultVersion(),
            _bjjKey(),
            _bjjWitness(),
            _defaultModels()
        );
        assertEq(uint8(_status(outsider)), uint8(INodeRegistry.NodeStatus.Available));
    }

    /// @dev A node Busy with a finished-by-no-show task while a pending task's word is in flight.
    function _busyNodeAndPendingTask() internal returns (bytes32 busyTask, address node, bytes32 pending) {
        busyTask = _createPending(_input("busy", 0, 0));
        _deliverWord();
        _dispatchPending();
        node = _selectedNode(busyTask);
        vm.warp(block.timestamp + UPLOAD_TIMEOUT);
        pending = _createPending(_input("busy", 1, 0));
        vm.expectEmit(true, false, false, false, address(tm));
        emit ITaskManager.NodeReleaseDeferred(node);
        vm.prank(stranger);
        tm.abortTask(busyTask);
        assertEq(uint8(_status(node)), uint8(INodeRegistry.NodeStatus.Busy), "released while frozen");
        assertEq(tm.releaseDeferred(16), 0, "releaseDeferred released while frozen");
        assertEq(uint8(_status(node)), uint8(INodeRegistry.NodeStatus.Busy));
    }

    /// @notice A node finishing its task while the pool is frozen stays Busy (NodeReleaseDeferred); the dispatch that
    /// reopens the pool frees it.
    function test_frozen_finishedNodeIsDeferredAndFreedByDispatch() public {
        (, address node, bytes32 pending) = _busyNodeAndPendingTask();
        _deliverWord();
        assertEq(tm.releaseDeferred(16), 0, "released before dispatch");
        _dispatchPending();
        assertTrue(_selectedNode(pending) != node, "the pending task landed on the deferred node");
        assertEq(uint8(_status(node)), uint8(INodeRegistry.NodeStatus.Available));
    }

    /// @notice When the pool reopens without a dispatch (the pending task ended for want of a word, then the word
    /// landed), releaseDeferred frees the node.
    function test_frozen_releaseDeferredFreesOnceOpen() public {
        (, address node, bytes32 pending) = _busyNodeAndPendingTask();
        vm.warp(tm.getTask(pending).createdAt + QUEUE_TIMEOUT);
        vm.prank(stranger);
        tm.abortTask(pending);
        assertTrue(tm.poolFrozen(), "word still in flight");
        assertEq(tm.releaseDeferred(16), 0);
        _deliverWord();
        assertFalse(tm.poolFrozen());
        assertEq(tm.releaseDeferred(16), 1);
        assertEq(uint8(_status(node)), uint8(INodeRegistry.NodeStatus.Available));
    }

    /// @notice Attack (free griefing): right after each word lands, before its tasks are dispatched, someone requests
    /// the next word (calling the beacon, or creating a task), so that the pool is frozen again when the dispatch ends
    /// and deferred nodes are never freed. Only the task manager requests words, and only while its pool is open: the
    /// dispatch frees the deferred node first, then requests the word the new task waits for.
    function test_frozen_nobodyRefreezesThePoolBeforeDeferredReleases() public {
        (, address node, ) = _busyNodeAndPendingTask();
        _deliverWord();
        bytes32 next = _createPending(_input("refreeze", 0, 0));
        assertFalse(beacon.inFlight(), "createTask requested a word while a landed word waited for dispatch");
        vm.expectRevert(abi.encodeWithSelector(IRandomnessBeacon.BeaconCallerNotConsumer.selector, stranger));
        vm.prank(stranger);
        beacon.poke();
        assertFalse(beacon.inFlight(), "a stranger requested a word");

        _dispatchPending();
        assertEq(uint8(_status(node)), uint8(INodeRegistry.NodeStatus.Available), "deferred node not freed");
        assertTrue(beacon.inFlight(), "the new task's word was not requested after the release");
        assertEq(uint8(_taskStatus(next)), uint8(ITaskTypes.TaskStatus.Pending));
        _deliverAndDispatch();
        assertEq(uint8(_taskStatus(next)), uint8(ITaskTypes.TaskStatus.Started));
    }

    /// @notice Attack: a colluding node sees the word (fulfilled, not yet dispatched), finds that the pending task
    /// would land on it if it were in the pool, and tries to join: TaskPoolFrozen; the task lands where the pool at
    /// request time says.
    function test_frozen_colluderCannotJoinAfterSeeingTheWord() public {
        ITaskManager.TaskInput memory input = _input("collude-join", 0, 0);
        // A word under which the task would land on the colluder had it joined before the request.
        uint256 word;
        for (uint256 j = 0; j < 256 && word == 0; ++j) {
            uint256 candidate = uint256(keccak256(abi.encode("collude-word", j)));
            uint256 snapshot = vm.snapshotState();
            _joinNode(outsider);
            if (_predict(input, app, candidate) == outsider) word = candidate;
            vm.revertToStateAndDelete(snapshot);
        }
        assertTrue(word != 0, "no word favours the colluder");

        bytes32 id = _createPending(input);
        _deliverWord(word);
        address honest = _predict(input, app, word);
        _expectFrozen();
        _joinNode(outsider);
        _dispatchPending();
        assertEq(_selectedNode(id), honest);
        assertTrue(_selectedNode(id) != outsider);
        _joinNode(outsider); // the pool is open again
    }

    /// @notice Attack: the colluder is Busy; after seeing the word its accomplice app finishes the colluder's task
    /// (no-show) so that the colluder is free for the pending task. The release is deferred and the task lands
    /// where it would have without the attempt.
    function test_frozen_colluderCannotFreeItselfAfterSeeingTheWord() public {
        bytes32 busyTask = _createPending(_input("collude-busy", 0, 0));
        _deliverWord();
        _dispatchPending();
        address colluder = _selectedNode(busyTask);
        vm.warp(block.timestamp + UPLOAD_TIMEOUT);

        ITaskManager.TaskInput memory input = _input("collude-busy", 1, 0);
        uint256 word;
        for (uint256 j = 0; j < 256 && word == 0; ++j) {
            uint256 candidate = uint256(keccak256(abi.encode("collude-busy-word", j)));
            uint256 snapshot = vm.snapshotState();
            tm.abortTask(busyTask);
            if (_predict(input, app, candidate) == colluder) word = candidate;
            vm.revertToStateAndDelete(snapshot);
        }
        assertTrue(word != 0, "no word favours the colluder");

        bytes32 id = _createPending(input);
        _deliverWord(word);
        address honest = _predict(input, app, word);
        vm.expectEmit(true, false, false, false, address(tm));
        emit ITaskManager.NodeReleaseDeferred(colluder);
        tm.abortTask(busyTask);
        assertEq(uint8(_status(colluder)), uint8(INodeRegistry.NodeStatus.Busy));
        _dispatchPending();
        assertEq(_selectedNode(id), honest);
        assertTrue(_selectedNode(id) != colluder);
        assertEq(uint8(_status(colluder)), uint8(INodeRegistry.NodeStatus.Available), "freed after dispatch");
    }

    // =============================================================================================================
    // 4. FIFO dispatch and the bounty
    // =============================================================================================================

    /// @notice Attack: a dispatcher skips the oldest task (TaskNotNextPending) or passes another input than the one
    /// committed (TaskDispatchInputMismatch); dispatch stops at a task whose word has not landed.
    function test_dispatch_isStrictFifoWithTheCommittedInput() public {
        ITaskManager.TaskInput memory a = _input("fifo", 0, 0);
        ITaskManager.TaskInput memory b = _input("fifo", 1, 0);
        _createPending(a);
        _createPending(b);
        _deliverWord(); // epoch 1 (a's); b is in epoch 2, not requested yet

        ITaskManager.TaskInput[] memory inputs = new ITaskManager.TaskInput[](1);
        inputs[0] = b;
        vm.expectRevert(
            abi.encodeWithSelector(ITaskManager.TaskNotNextPending.selector, b.taskIDCommitment, a.taskIDCommitment)
        );
        tm.dispatchTasks(inputs);

        ITaskManager.TaskInput memory forged = _input("fifo", 0, 0);
        forged.modelIDs = new bytes32[](1);
        forged.modelIDs[0] = MODEL_LLAMA;
        inputs[0] = forged;
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskDispatchInputMismatch.selector, a.taskIDCommitment));
        tm.dispatchTasks(inputs);

        inputs = new ITaskManager.TaskInput[](2);
        inputs[0] = a;
        inputs[1] = b;
        assertEq(tm.dispatchTasks(inputs), 1, "b's word has not landed");
        assertEq(uint8(_taskStatus(a.taskIDCommitment)), uint8(ITaskTypes.TaskStatus.Started));
        assertEq(uint8(_taskStatus(b.taskIDCommitment)), uint8(ITaskTypes.TaskStatus.Pending));
        assertEq(beacon.requestedEpoch(), 2, "the dispatch asked for b's word");
        _deliverWord();
        inputs = new ITaskManager.TaskInput[](1);
        inputs[0] = b;
        assertEq(tm.dispatchTasks(inputs), 1);
        assertEq(uint8(_taskStatus(b.taskIDCommitment)), uint8(ITaskTypes.TaskStatus.Started));
    }

    /// @notice The bounty is prepaid with the task (less than dispatchCost + a fee reverts) and goes to whoever
    /// dispatches it.
    function test_dispatch_bountyGoesToTheDispatcher() public {
        uint256 bounty = 0.01 ether;
        uint256 beaconFee = 0.002 ether;
        _deployBountyPair(bounty, beaconFee);
        assertEq(tm2.DISPATCH_BOUNTY(), bounty);
        assertEq(tm2.dispatchCost(), bounty + beaconFee);

        ITaskManager.TaskInput memory input = _input("bounty", 0, 0);
        vm.expectRevert(
            abi.encodeWithSelector(ITaskManager.TaskValueBelowDispatchCost.selector, bounty, bounty + beaconFee)
        );
        vm.prank(app);
        tm2.createTask{value: bounty}(input);

        vm.prank(app);
        tm2.createTask{value: FEE + bounty + beaconFee}(input);
        assertEq(tm2.totalEscrowed(), FEE + bounty);
        assertEq(address(tm2).balance, FEE + bounty, "the beacon's share left");
        _deliverWord2(uint256(keccak256("bounty-word")));

        address dispatcher = makeAddr("dispatcher");
        ITaskManager.TaskInput[] memory inputs = new ITaskManager.TaskInput[](1);
        inputs[0] = input;
        vm.expectEmit(true, false, false, true, address(tm2));
        emit ITaskManager.DispatchBountyPaid(dispatcher, 1, bounty);
        vm.prank(dispatcher);
        assertEq(tm2.dispatchTasks(inputs), 1);
        assertEq(tm2.withdrawable(dispatcher), bounty);
        assertEq(tm2.totalEscrowed(), FEE);
        assertEq(uint8(tm2.taskStatus(input.taskIDCommitment)), uint8(ITaskTypes.TaskStatus.Queued), "no node");
        assertEq(address(tm2).balance, tm2.totalEscrowed() + tm2.totalWithdrawable(), "solvent");
    }

    // =============================================================================================================
    // 5. The beacon
    // =============================================================================================================

    /// @notice Attack: a stranger feeds a chosen word (BeaconCallerNotCoordinator), enrols a task of its own
    /// (BeaconCallerNotConsumer), or re-binds the beacon (BeaconAlreadyBound).
    function test_beacon_onlyCoordinatorFeedsOnlyConsumerEnrolsBindOnce() public {
        _createPending(_input("beacon", 0, 0));
        uint256 requestId = beacon.requestId();
        uint256[] memory words = new uint256[](1);
        words[0] = 42;
        vm.expectRevert(
            abi.encodeWithSelector(
                IRandomnessBeacon.BeaconCallerNotCoordinator.selector,
                stranger,
                address(coordinator)
            )
        );
        vm.prank(stranger);
        beacon.rawFulfillRandomWords(requestId, words);
        assertEq(beacon.wordOf(1), 0);

        vm.expectRevert(abi.encodeWithSelector(IRandomnessBeacon.BeaconCallerNotConsumer.selector, stranger));
        vm.prank(stranger);
        beacon.enroll();

        vm.expectRevert(IRandomnessBeacon.BeaconAlreadyBound.selector);
        beacon.bind(stranger); // the deployer, a second time
        vm.expectRevert(IRandomnessBeacon.BeaconAlreadyBound.selector);
        vm.prank(stranger);
        beacon.bind(stranger);
        assertEq(beacon.consumer(), address(tm));

        // A fresh, unbound beacon: a stranger cannot bind it either.
        VRFBeacon fresh = new VRFBeacon(coordinator, bytes32(0), 3, 600, 0);
        vm.expectRevert(IRandomnessBeacon.BeaconAlreadyBound.selector);
        vm.prank(stranger);
        fresh.bind(stranger);
        assertEq(fresh.consumer(), address(0));
    }

    /// @notice Attack: someone redirects the beacon to a coordinator of its own. COORDINATOR is immutable and the
    /// beacon has no owner functions (setCoordinator, transferOwnership, owner all fail).
    function test_beacon_coordinatorIsImmutableAndThereIsNoOwner() public {
        assertEq(address(beacon.COORDINATOR()), address(coordinator));
        bytes[3] memory calls = [
            abi.encodeWithSignature("setCoordinator(address)", stranger),
            abi.encodeWithSignature("transferOwnership(address)", stranger),
            abi.encodeWithSignature("owner()")
        ];
        for (uint256 i = 0; i < calls.length; ++i) {
            (bool ok, ) = address(beacon).call(calls[i]);
            assertFalse(ok, "an owner function exists");
        }
        assertEq(address(beacon.COORDINATOR()), address(coordinator));
    }

    /// @notice A word that has not landed after RETRY_AFTER is requested again by poke(); the stale request's late
    /// answer is ignored (the callback still succeeds) and the new request's answer is stored.
    function test_beacon_staleAnswerAfterPokeIsIgnored() public {
        _createPending(_input("stale", 0, 0));
        uint256 stale = beacon.requestId();
        beacon.poke(); // too early: nothing happens
        assertEq(beacon.requestId(), stale);
        vm.warp(block.timestamp + beacon.RETRY_AFTER());
        beacon.poke();
        uint256 fresh = beacon.requestId();
        assertTrue(fresh != stale, "poke did not request again");
        assertEq(beacon.requestedEpoch(), 1);

        uint256[] memory words = new uint256[](1);
        words[0] = 1111;
        vm.expectEmit(true, true, false, true, address(coordinator));
        emit VRFCoordinatorV2_5Mock.RandomWordsFulfilled(stale, stale, beacon.SUBSCRIPTION_ID(), 0, true, true, false);
        coordinator.fulfillRandomWordsWithOverride(stale, address(beacon), words);
        assertEq(beacon.wordOf(1), 0, "the stale answer was stored");
        assertTrue(beacon.inFlight());

        words[0] = 2222;
        vm.expectEmit(true, false, false, true, address(beacon));
        emit IRandomnessBeacon.BeaconWordDelivered(1, 2222);
        coordinator.fulfillRandomWordsWithOverride(fresh, address(beacon), words);
        assertEq(beacon.wordOf(1), 2222);
        assertFalse(beacon.inFlight());
    }

    /// @notice The word 0 ("not landed") is stored as 1; the callback, through the coordinator with its gas limit,
    /// succeeds (RandomWordsFulfilled's success flag).
    function test_beacon_zeroWordBecomesOneAndCallbackSucceeds() public {
        bytes32 id = _createPending(_input("zero", 0, 0));
        uint256 requestId = beacon.requestId();
        uint256[] memory words = new uint256[](1);
        vm.expectEmit(true, true, false, true, address(coordinator));
        emit VRFCoordinatorV2_5Mock.RandomWordsFulfilled(
            requestId,
            requestId,
            beacon.SUBSCRIPTION_ID(),
            0,
            true,
            true,
            false
        );
        coordinator.fulfillRandomWordsWithOverride(requestId, address(beacon), words);
        assertEq(beacon.wordOf(1), 1);
        assertFalse(beacon.inFlight());
        _dispatchPending();
        assertEq(uint8(_taskStatus(id)), uint8(ITaskTypes.TaskStatus.Started), "a word of 1 dispatches");
    }

    // =============================================================================================================
    // 6. Bounded dispatch work
    // =============================================================================================================

    /// @notice Attack: a task naming many models, to make its dispatch too expensive and hold the FIFO: more than
    /// MAX_TASK_MODELS (8) reverts TaskTooManyModels; 8 is accepted.
    function test_createTask_revertsWithTooManyModels() public {
        ITaskManager.TaskInput memory input = _input("models", 0, 0);
        input.modelIDs = new bytes32[](tm.MAX_TASK_MODELS() + 1);
        for (uint256 i = 0; i < input.modelIDs.length; ++i) input.modelIDs[i] = keccak256(abi.encode("model", i));
        vm.expectRevert(
            abi.encodeWithSelector(ITaskManager.TaskTooManyModels.selector, input.taskIDCommitment, uint256(9))
        );
        vm.prank(app);
        tm.createTask{value: FEE}(input);

        bytes32[] memory eight = new bytes32[](8);
        for (uint256 i = 0; i < 8; ++i) eight[i] = input.modelIDs[i];
        input.modelIDs = eight;
        bytes32 id = _createPending(input);
        _deliverWord();
        _dispatchPending();
        assertTrue(_taskStatus(id) != ITaskTypes.TaskStatus.Pending, "an 8-model task dispatches");
    }
}
