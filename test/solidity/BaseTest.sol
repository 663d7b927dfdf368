// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {SamplingVerifier} from "../../contracts/SamplingVerifier.sol";
import {RelayRoots} from "../../contracts/RelayRoots.sol";
import {NodeRegistry} from "../../contracts/NodeRegistry.sol";
import {TaskManager} from "../../contracts/TaskManager.sol";
import {INodeRegistry} from "../../contracts/interfaces/INodeRegistry.sol";
import {ITaskManager} from "../../contracts/interfaces/ITaskManager.sol";
import {ITaskTypes} from "../../contracts/interfaces/ITaskTypes.sol";
import {ISamplingVerifier} from "../../contracts/interfaces/ISamplingVerifier.sol";
import {
    IParamsConsistencyVerifier,
    IResultAvailabilityVerifier
} from "../../contracts/interfaces/IGroth16Verifiers.sol";
import {ParamsConsistencyVerifier} from "../../contracts/verifiers/ParamsConsistencyVerifier.sol";
import {ResultAvailabilityVerifier} from "../../contracts/verifiers/ResultAvailabilityVerifier.sol";
import {VRFBeacon} from "../../contracts/VRFBeacon.sol";
import {IRandomnessBeacon} from "../../contracts/interfaces/IRandomnessBeacon.sol";
import {VRFCoordinatorV2_5Mock} from "@chainlink/contracts/src/v0.8/vrf/mocks/VRFCoordinatorV2_5Mock.sol";

/// @title The one Solidity fixture: deploys and wires the network with the defaults of `src/config.ts`
/// @notice Mirrors `test/helpers/fixture.ts`: a relay, a treasury, applications whose address is bound to a VRF
/// public key (so `TaskSamplingKeyNotCreator` can be passed without a real secp256k1 key), nodes, a stranger, and
/// bounded-input helpers for every lifecycle step that Solidity can drive.
/// @dev The VRF proof itself cannot be produced in Solidity. Tests that need the verifier's answer mock
/// `ISamplingVerifier.samplingNumber` with `vm.mockCall` (see `_mockSamplingNumber`); the real proof checks are
/// covered by the TypeScript tests. The same goes for the Groth16 proofs: the real generated verifiers are deployed,
/// and tests that need an answer mock `verifyProof` (`_mockParamsProof`, `_mockResultProof`; `_uploadResult` mocks
/// acceptance); real proofs are made and checked in test/integration/zk-proofs.test.ts and the other TS suites.
abstract contract BaseTest is Test {
    // ---------------------------------------------------------------------------------------------------------
    // Defaults (src/config.ts)
    // ---------------------------------------------------------------------------------------------------------

    uint256 internal constant MINIMUM_STAKE = 400 ether;
    uint256 internal constant STAKE_CAP = 4000 ether;
    uint256 internal constant SAME_MODELS_BONUS_BPS = 5_000;

    uint64 internal constant SAMPLING_DIVISOR = 10;
    uint16 internal constant DISTANCE_THRESHOLD = 24;
    uint64 internal constant QUEUE_TIMEOUT = 60 * 60;
    uint64 internal constant EXECUTION_TIMEOUT = 15 * 60;
    uint64 internal constant VALIDATION_TIMEOUT = 30 * 60;
    uint64 internal constant RESULT_UPLOAD_TIMEOUT = 15 * 60;
    uint64 internal constant QUEUE_SIZE_FACTOR = 5;
    uint64 internal constant MIN_QUEUE_CAPACITY = 50;
    uint64 internal constant UPLOAD_TIMEOUT = 15 * 60;
    /// @dev queue + upload + execution timeouts: the original's latest possible score time (DESIGN §13.2).
    uint64 internal constant SIBLING_WINDOW = QUEUE_TIMEOUT + UPLOAD_TIMEOUT + EXECUTION_TIMEOUT;
    uint16 internal constant NO_SHOW_SHARE = 2_000;
    /// @dev How long after its creation a scored task waits for its group (`TaskRules.deadline`).
    uint64 internal constant GROUP_SPAN =
        SIBLING_WINDOW + QUEUE_TIMEOUT + UPLOAD_TIMEOUT + EXECUTION_TIMEOUT + VALIDATION_TIMEOUT;
    uint96 internal constant MIN_FEE = 0.001 ether;

    // ---------------------------------------------------------------------------------------------------------
    // Fixture values (test/helpers/fixture.ts)
    // ---------------------------------------------------------------------------------------------------------

    string internal constant GPU_4090 = "NVIDIA GeForce RTX 4090";
    bytes32 internal constant GPU_4090_ID = keccak256(bytes(GPU_4090));
    bytes32 internal constant MODEL_SDXL = keccak256("stabilityai/sdxl-turbo");
    bytes32 internal constant MODEL_LLAMA = keccak256("meta-llama/Llama-3.2-1B");
    uint64 internal constant NODE_VRAM = 24;
    uint256 internal constant FEE = 1 ether;
    uint256 internal constant MAX_FEE = 100 ether;
    uint256 internal constant MAX_STAKE = 10 * STAKE_CAP;
    /// @dev A valid Baby Jubjub key for nodes and apps: the subgroup generator Base8 (= 1 · Base8).
    uint256 internal constant BJJ_X = 5299619240641551281634865583518297030282874472190772894086521144482721001553;
    uint256 internal constant BJJ_Y = 16950150798460657717958625567821834550301663161624707787222815936182638968203;
    /// @dev The subgroup witness of (BJJ_X, BJJ_Y): R = [8⁻¹ mod ℓ]·Base8, so [8]R = Base8 (DESIGN §13.4).
    uint256 internal constant BJJ_WITNESS_X =
        14983708237372537934307712296172313237814584764465642185306010953083014944823;
    uint256 internal constant BJJ_WITNESS_Y =
        2997955667916190954169357132153638145915367433663202014407885436612035056202;
    /// @dev The Baby Jubjub field modulus (the BN254 scalar field).
    uint256 internal constant BJJ_FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant NODE_COUNT = 8;
    uint256 internal constant APP_COUNT = 2;

    SamplingVerifier internal verifier;
    ParamsConsistencyVerifier internal paramsVerifier;
    ResultAvailabilityVerifier internal resultVerifier;
    RelayRoots internal relayRoots;
    NodeRegistry internal registry;
    TaskManager internal tm;
    VRFCoordinatorV2_5Mock internal coordinator;
    VRFBeacon internal beacon;
    /// @dev The input each task was created with, for `dispatchTasks` (as a dispatcher reads it from `TaskPending`).
    mapping(bytes32 id => bytes input) internal _inputOf;
    /// @dev When false, `_createTask` leaves the task Pending (the test delivers the word and dispatches itself).
    bool internal _autoDispatch = true;

    address internal admin = makeAddr("admin");
    address internal relay = makeAddr("relay");
    address internal treasury = makeAddr("treasury");
    address internal stranger = makeAddr("stranger");
    address[] internal apps;
    address[] internal nodes;

    /// @dev Distinct blob hashes for parameter and result blobs.
    uint256 private _blobCounter;

    function setUp() public virtual {
        verifier = new SamplingVerifier();
        paramsVerifier = new ParamsConsistencyVerifier();
        resultVerifier = new ResultAvailabilityVerifier();
        relayRoots = new RelayRoots(admin);
        registry = new NodeRegistry(admin, _registryConfig());
        coordinator = new VRFCoordinatorV2_5Mock(0, 0, 1e18);
        beacon = new VRFBeacon(coordinator, bytes32(0), 3, 600, 0);
        tm = new TaskManager(
            admin,
            INodeRegistry(address(registry)),
            relayRoots,
            ISamplingVerifier(address(verifier)),
            IParamsConsistencyVerifier(address(paramsVerifier)),
            IResultAvailabilityVerifier(address(resultVerifier)),
            IRandomnessBeacon(address(beacon)),
            0,
            _taskConfig()
        );
        beacon.bind(address(tm));
        vm.startPrank(admin);
        registry.setTaskManager(address(tm));
        relayRoots.grantRole(relayRoots.RELAY_ROLE(), relay);
        vm.stopPrank();
        // The apps' key, checked once (DESIGN §13.4).
        tm.registerAppKey(_bjjKey(), _bjjWitness());

        for (uint256 i = 0; i < APP_COUNT; ++i) {
            address app = _appOf(_vrfKey(i));
            vm.label(app, string.concat("app-", vm.toString(i)));
            vm.deal(app, 100_000 ether);
            apps.push(app);
        }
        for (uint256 i = 0; i < NODE_COUNT; ++i) {
            address node = makeAddr(string.concat("node-", vm.toString(i)));
            vm.deal(node, 100_000 ether);
            nodes.push(node);
        }
        vm.deal(stranger, 100_000 ether);
        vm.label(address(tm), "TaskManager");
        vm.label(address(registry), "NodeRegistry");
        vm.label(address(relayRoots), "RelayRoots");
        vm.label(address(verifier), "SamplingVerifier");
        vm.label(address(paramsVerifier), "ParamsConsistencyVerifier");
        vm.label(address(resultVerifier), "ResultAvailabilityVerifier");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Configs
    // ---------------------------------------------------------------------------------------------------------

    function _registryConfig() internal view virtual returns (INodeRegistry.RegistryConfig memory) {
        return
            INodeRegistry.RegistryConfig({
                minimumStake: MINIMUM_STAKE,
                stakeCap: STAKE_CAP,
                sameModelsBonusBps: SAME_MODELS_BONUS_BPS,
                treasury: treasury
            });
    }

    function _taskConfig() internal pure virtual returns (ITaskManager.TaskConfig memory) {
        return
            ITaskManager.TaskConfig({
                samplingDivisor: SAMPLING_DIVISOR,
                distanceThreshold: DISTANCE_THRESHOLD,
                queueTimeout: QUEUE_TIMEOUT,
                executionTimeout: EXECUTION_TIMEOUT,
                validationTimeout: VALIDATION_TIMEOUT,
                resultUploadTimeout: RESULT_UPLOAD_TIMEOUT,
                queueSizeFactor: QUEUE_SIZE_FACTOR,
                minQueueCapacity: MIN_QUEUE_CAPACITY,
                overhead: [uint64(20), 5, 60],
                unitTime: [uint64(10), 1, 20],
                uploadTimeout: UPLOAD_TIMEOUT,
                siblingWindow: SIBLING_WINDOW,
                noShowShare: NO_SHOW_SHARE,
                minimumFee: [MIN_FEE, MIN_FEE, MIN_FEE]
            });
    }

    // ---------------------------------------------------------------------------------------------------------
    // Bounded inputs
    // ---------------------------------------------------------------------------------------------------------

    function _boundFee(uint256 raw) internal pure returns (uint256) {
        return bound(raw, MIN_FEE, MAX_FEE);
    }

    function _boundStake(uint256 raw) internal pure returns (uint256) {
        return bound(raw, MINIMUM_STAKE, MAX_STAKE);
    }

    function _pick(address[] storage list, uint256 seed) internal view returns (address) {
        return list[seed % list.length];
    }

    // ---------------------------------------------------------------------------------------------------------
    // Nodes
    // ---------------------------------------------------------------------------------------------------------

    function _defaultVersion() internal pure returns (uint32[3] memory) {
        return [uint32(2), 5, 0];
    }

    function _defaultModels() internal pure returns (bytes32[] memory models) {
        models = new bytes32[](1);
        models[0] = MODEL_SDXL;
    }

    function _bjjKey() internal pure returns (uint256[2] memory) {
        return [BJJ_X, BJJ_Y];
    }

    /// @dev The witness R with [8]R = `_bjjKey()`, for `join` and `registerAppKey`.
    function _bjjWitness() internal pure returns (uint256[2] memory) {
        return [BJJ_WITNESS_X, BJJ_WITNESS_Y];
    }

    /// @dev Three distinct subgroup keys with their witnesses: Base8, −Base8 and [2]Base8.
    function _distinctKeyAndWitness(
        uint256 i
    ) internal pure returns (uint256[2] memory key, uint256[2] memory witness) {
        if (i == 0) return ([BJJ_X, BJJ_Y], [BJJ_WITNESS_X, BJJ_WITNESS_Y]);
        if (i == 1) return ([BJJ_FIELD - BJJ_X, BJJ_Y], [BJJ_FIELD - BJJ_WITNESS_X, BJJ_WITNESS_Y]);
        return (
            [
                10031262171927540148667355526369034398030886437092045105752248699557385197826,
                633281375905621697187330766174974863687049529291089048651929454608812697683
            ],
            [
                203990482483156675068230835703292031633502506535406124252709076945833048267,
                1048358829829221351727397162013352281514141022385127976075550477634089632625
            ]
        );
    }

    /// @dev Joins with the defaults: RTX 4090, 24 GB, v2.5.0, SDXL held locally, the minimum stake.
    function _joinNode(address node) internal {
        _joinNode(node, MINIMUM_STAKE);
    }

    function _joinNode(address node, uint256 stake) internal {
        _joinNode(node, stake, _defaultVersion());
    }

    function _joinNode(address node, uint256 stake, uint32[3] memory version) internal {
        vm.prank(node);
        registry.join{value: stake}(GPU_4090, NODE_VRAM, version, _bjjKey(), _bjjWitness(), _defaultModels());
    }

    function _status(address node) internal view returns (INodeRegistry.NodeStatus) {
        return registry.nodeStatus(node);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Tasks
    // ---------------------------------------------------------------------------------------------------------

    function _commitment(bytes32 guid, bytes32 nonce) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(guid, nonce));
    }

    /// @dev Member k's nonce under `guid` (k = 0 original, 1 and 2 validation tasks; DESIGN §13.2).
    function _nonce(bytes32 guid, uint8 k) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(guid, k));
    }

    /// @dev An SD task for any GPU with >= 8 GB, version 2.0.0, SDXL, size 1.
    function _taskInput(bytes32 guid, bytes32 nonce) internal pure returns (ITaskManager.TaskInput memory input) {
        input.taskType = ITaskTypes.TaskType.SD;
        input.taskIDCommitment = _commitment(guid, nonce);
        input.nonce = nonce;
        input.modelIDs = _defaultModels();
        input.minimumVRAM = 8;
        input.taskVersion = [uint32(2), 0, 0];
        input.taskSize = 1;
        input.appPublicKey = _bjjKey();
    }

    function _createTask(address app, bytes32 guid, bytes32 nonce) internal returns (bytes32) {
        return _createTask(app, guid, nonce, FEE);
    }

    function _createTask(address app, bytes32 guid, bytes32 nonce, uint256 fee) internal returns (bytes32) {
        return _createTask(app, _taskInput(guid, nonce), fee);
    }

    /// @dev Creates the task and, unless `_autoDispatch` is off, delivers its epoch's word and dispatches it (with
    /// every task pending before it), as the fulfiller and a dispatcher do on a live network.
    function _createTask(address app, ITaskManager.TaskInput memory input, uint256 fee) internal returns (bytes32) {
        vm.prank(app);
        tm.createTask{value: fee}(input);
        _inputOf[input.taskIDCommitment] = abi.encode(input);
        if (_autoDispatch) _deliverAndDispatch();
        return input.taskIDCommitment;
    }

    /// @dev Delivers the word in flight (the mock's default word for the request), then dispatches every pending task
    /// whose word has landed.
    function _deliverAndDispatch() internal {
        _deliverWord();
        _dispatchPending();
    }

    /// @dev Delivers the word in flight, if any: the mock's default word, or `word` when non-zero.
    function _deliverWord(uint256 word) internal {
        if (!beacon.inFlight()) return;
        if (word == 0) {
            coordinator.fulfillRandomWords(beacon.requestId(), address(beacon));
        } else {
            uint256[] memory words = new uint256[](1);
            words[0] = word;
            coordinator.fulfillRandomWordsWithOverride(beacon.requestId(), address(beacon), words);
        }
    }

    function _deliverWord() internal {
        _deliverWord(0);
    }

    /// @dev Dispatches every pending task (oldest first) whose word has landed; the caller is `stranger`.
    function _dispatchPending() internal {
        bytes32[] memory ids = tm.pendingTasks(type(uint256).max);
        ITaskManager.TaskInput[] memory inputs = new ITaskManager.TaskInput[](ids.length);
        for (uint256 i = 0; i < ids.length; ++i) inputs[i] = abi.decode(_inputOf[ids[i]], (ITaskManager.TaskInput));
        vm.prank(stranger);
        tm.dispatchTasks(inputs);
    }

    function _taskStatus(bytes32 id) internal view returns (ITaskTypes.TaskStatus) {
        return tm.taskStatus(id);
    }

    function _selectedNode(bytes32 id) internal view returns (address) {
        return tm.getTask(id).selectedNode;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Relay
    // ---------------------------------------------------------------------------------------------------------

    /// @dev The standard tree's leaf of a `bytes32` value: keccak256(bytes.concat(keccak256(abi.encode(value)))).
    function _leaf(bytes32 blobHash) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(blobHash))));
    }

    /// @dev A fresh blob hash.
    function _newBlob(string memory label) internal returns (bytes32) {
        return keccak256(abi.encode(label, ++_blobCounter));
    }

    /// @dev Posts a batch holding one blob: the single-leaf tree's root is its leaf, and the proof is empty.
    function _postSingleBlobRoot(bytes32 blobHash) internal returns (bytes32 root) {
        root = _leaf(blobHash);
        vm.prank(relay);
        relayRoots.postRoot(root, 1);
    }

    /// @dev Started → ParametersUploaded, with a fresh blob in a freshly posted single-leaf root.
    function _uploadParameters(bytes32 id) internal returns (bytes32 paramsHash) {
        paramsHash = _newBlob("params");
        bytes32 root = _postSingleBlobRoot(paramsHash);
        vm.prank(tm.getTask(id).creator);
        tm.reportTaskParametersUploaded(id, paramsHash, root, new bytes32[](0));
    }

    /// @dev Validated/GroupValidated → EndSuccess/EndGroupSuccess, by the selected node (result proof mocked valid).
    function _uploadResult(bytes32 id) internal returns (bytes32 resultHash) {
        resultHash = _newBlob("result");
        bytes32 root = _postSingleBlobRoot(resultHash);
        _mockResultProof(true);
        vm.prank(_selectedNode(id));
        tm.reportTaskResultUploaded(id, resultHash, root, new bytes32[](0), _noProof());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Groth16 proofs
    // ---------------------------------------------------------------------------------------------------------

    /// @dev A structurally complete Groth16 proof whose points are all zero (the real verifiers reject it).
    function _noProof() internal pure returns (ITaskManager.Groth16Proof memory proof) {}

    /// @dev Makes the ParamsConsistency verifier answer `valid` for every proof.
    function _mockParamsProof(bool valid) internal {
        vm.mockCall(
            address(paramsVerifier),
            abi.encodeWithSelector(IParamsConsistencyVerifier.verifyProof.selector),
            abi.encode(valid)
        );
    }

    /// @dev Makes the ResultAvailability verifier answer `valid` for every proof.
    function _mockResultProof(bool valid) internal {
        vm.mockCall(
            address(resultVerifier),
            abi.encodeWithSelector(IResultAvailabilityVerifier.verifyProof.selector),
            abi.encode(valid)
        );
    }

    // ---------------------------------------------------------------------------------------------------------
    // Scores
    // ---------------------------------------------------------------------------------------------------------

    /// @dev One image's 8-byte perceptual hash.
    function _imageScore(uint64 hash) internal pure returns (bytes memory) {
        return abi.encodePacked(hash);
    }

    function _submitScore(bytes32 id, bytes memory score) internal {
        vm.prank(_selectedNode(id));
        tm.submitTaskScore(id, score);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Sampling (VRF)
    // ---------------------------------------------------------------------------------------------------------

    /// @dev A VRF "public key" for app `i`. It need not be on the curve: only its hash binds it to the app address.
    function _vrfKey(uint256 i) internal pure returns (uint256[2] memory) {
        return [uint256(keccak256(abi.encode("vrf-x", i))), uint256(keccak256(abi.encode("vrf-y", i)))];
    }

    /// @dev The address that owns a VRF public key, as `TaskManager` derives it.
    function _appOf(uint256[2] memory pk) internal pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encodePacked(pk)))));
    }

    /// @dev A structurally complete proof over `seed` with key `pk`; its EC points are not valid.
    function _dummyProof(
        uint256[2] memory pk,
        bytes32 seed
    ) internal pure returns (ISamplingVerifier.VRFProof memory proof) {
        proof.pk = pk;
        proof.gamma = [uint256(1), 2];
        proof.c = 3;
        proof.s = 4;
        proof.seed = uint256(seed);
        proof.uWitness = address(5);
        proof.cGammaWitness = [uint256(6), 7];
        proof.sHashWitness = [uint256(8), 9];
        proof.zInv = 10;
    }

    /// @dev The proof app `appIndex` would send for task `id` (right seed, right key, invalid points).
    function _proofFor(uint256 appIndex, bytes32 id) internal view returns (ISamplingVerifier.VRFProof memory) {
        return _dummyProof(_vrfKey(appIndex), tm.getTask(id).samplingSeed);
    }

    /// @dev Makes the verifier answer `number` for every proof (the VRF cannot be computed in Solidity).
    function _mockSamplingNumber(uint256 number) internal {
        vm.mockCall(
            address(verifier),
            abi.encodeWithSelector(ISamplingVerifier.samplingNumber.selector),
            abi.encode(number)
        );
    }
}
