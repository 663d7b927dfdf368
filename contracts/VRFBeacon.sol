// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IVRFCoordinatorV2Plus} from "@chainlink/contracts/src/v0.8/vrf/dev/interfaces/IVRFCoordinatorV2Plus.sol";
import {VRFV2PlusClient} from "@chainlink/contracts/src/v0.8/vrf/dev/libraries/VRFV2PlusClient.sol";
import {IRandomnessBeacon} from "./interfaces/IRandomnessBeacon.sol";

/// @title VRFBeacon
/// @notice A randomness beacon fed by Chainlink VRF v2.5: one request per epoch serves every task enrolled in it
/// (docs/randomness.md). It has no owner: the coordinator, key hash and retry delay are immutable, the subscription is
/// its own (created in the constructor), and the consumer is bound once, by the deployer, at deployment.
/// @dev It does not inherit `VRFConsumerBaseV2Plus`, whose owner could `setCoordinator` and feed chosen words. The
/// callback only stores the word: it cannot revert for a known request and needs about 30k gas.
contract VRFBeacon is IRandomnessBeacon {
    /// @notice The gas the coordinator gives the callback: a fresh slot, an event and the checks, with margin.
    uint32 public constant CALLBACK_GAS_LIMIT = 100_000;

    /// @notice The VRF v2.5 coordinator; immutable (nobody can feed words through another).
    IVRFCoordinatorV2Plus public immutable COORDINATOR;
    /// @notice This beacon's subscription at the coordinator.
    uint256 public immutable SUBSCRIPTION_ID;
    /// @notice The coordinator's key hash (gas lane).
    bytes32 public immutable KEY_HASH;
    /// @notice Block confirmations the coordinator waits before answering.
    uint16 public immutable REQUEST_CONFIRMATIONS;
    /// @notice Seconds after which a word that has not landed may be requested again (`poke`).
    uint64 public immutable RETRY_AFTER;
    /// @inheritdoc IRandomnessBeacon
    /// @dev Named as the interface's getter, not in SNAKE_CASE.
    // solhint-disable-next-line immutable-vars-naming
    uint256 public immutable feePerTask;
    address private immutable _DEPLOYER;

    /// @notice The task manager, bound once by the deployer.
    address public consumer;
    /// @notice The epoch tasks enrol in now.
    uint64 public openEpoch = 1;
    /// @notice The last epoch whose word was requested (0: none yet).
    uint64 public requestedEpoch;
    /// @notice When the word of `requestedEpoch` was last requested.
    uint64 public requestedAt;
    /// @notice Whether a task enrolled in `openEpoch`.
    bool public openHasTasks;
    /// @notice The coordinator's id of the request for `requestedEpoch` (an answer to any other is ignored).
    uint256 public requestId;
    mapping(uint64 epoch => uint256 word) private _words;

    /// @param coordinator The VRF v2.5 coordinator (`VRFCoordinatorV2_5Mock` on local networks).
    /// @param keyHash The gas lane.
    /// @param requestConfirmations Confirmations before the coordinator answers.
    /// @param retryAfter Seconds after which `poke` requests a missing word again.
    /// @param fee What each task pays toward the words, in wei (forwarded to the subscription in native currency).
    constructor(
        IVRFCoordinatorV2Plus coordinator,
        bytes32 keyHash,
        uint16 requestConfirmations,
        uint64 retryAfter,
        uint256 fee
    ) {
        COORDINATOR = coordinator;
        KEY_HASH = keyHash;
        REQUEST_CONFIRMATIONS = requestConfirmations;
        RETRY_AFTER = retryAfter;
        feePerTask = fee;
        _DEPLOYER = msg.sender;
        uint256 subId = coordinator.createSubscription();
        coordinator.addConsumer(subId, address(this));
        SUBSCRIPTION_ID = subId;
    }

    /// @notice Binds the task manager that may enrol tasks: once, by the deployer.
    /// @param taskManager The task manager.
    function bind(address taskManager) external {
        if (msg.sender != _DEPLOYER || consumer != address(0)) revert BeaconAlreadyBound();
        consumer = taskManager;
    }

    /// @inheritdoc IRandomnessBeacon
    function enroll() external payable returns (uint64 epoch) {
        if (msg.sender != consumer) revert BeaconCallerNotConsumer(msg.sender);
        epoch = openEpoch;
        openHasTasks = true;
    }

    /// @inheritdoc IRandomnessBeacon
    function poke() external {
        if (inFlight()) {
            if (block.timestamp >= uint256(requestedAt) + RETRY_AFTER) _send(requestedEpoch);
        } else if (openHasTasks) {
            // Only the consumer opens a new epoch: it knows whether its pool is open (no landed word waiting for
            // dispatch, no deferred release). Anyone else could freeze the pool again after each word, for free.
            if (msg.sender != consumer) revert BeaconCallerNotConsumer(msg.sender);
            _request();
        }
    }

    /// @notice The coordinator's callback: stores the word of the epoch the request was for. Answers to a request
    /// that was replaced by a retry are ignored.
    /// @param id The request id.
    /// @param randomWords The words (one is asked for).
    function rawFulfillRandomWords(uint256 id, uint256[] calldata randomWords) external {
        if (msg.sender != address(COORDINATOR)) revert BeaconCallerNotCoordinator(msg.sender, address(COORDINATOR));
        uint64 epoch = requestedEpoch;
        if (id != requestId || _words[epoch] != 0 || randomWords.length == 0) return;
        // 0 means "not landed": the one word in 2^256 that is 0 becomes 1.
        uint256 word = randomWords[0] == 0 ? 1 : randomWords[0];
        _words[epoch] = word;
        emit BeaconWordDelivered(epoch, word);
    }

    /// @inheritdoc IRandomnessBeacon
    function wordOf(uint64 epoch) external view returns (uint256) {
        return _words[epoch];
    }

    /// @inheritdoc IRandomnessBeacon
    function inFlight() public view returns (bool) {
        return requestedEpoch != 0 && _words[requestedEpoch] == 0;
    }

    /// @dev Closes the open epoch and requests its word.
    function _request() private {
        uint64 epoch = openEpoch;
        requestedEpoch = epoch;
        openEpoch = epoch + 1;
        openHasTasks = false;
        _send(epoch);
    }

    function _send(uint64 epoch) private {
        uint256 balance = address(this).balance;
        if (balance != 0) COORDINATOR.fundSubscriptionWithNative{value: balance}(SUBSCRIPTION_ID);
        uint256 id = COORDINATOR.requestRandomWords(
            VRFV2PlusClient.RandomWordsRequest({
                keyHash: KEY_HASH,
                subId: SUBSCRIPTION_ID,
                requestConfirmations: REQUEST_CONFIRMATIONS,
                callbackGasLimit: CALLBACK_GAS_LIMIT,
                numWords: 1,
                extraArgs: VRFV2PlusClient._argsToBytes(VRFV2PlusClient.ExtraArgsV1({nativePayment: true}))
            })
        );
        requestId = id;
        requestedAt = uint64(block.timestamp);
        emit BeaconWordRequested(epoch, id);
    }
}
