// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {INodeRegistry} from "../../contracts/interfaces/INodeRegistry.sol";
import {ITaskManager} from "../../contracts/interfaces/ITaskManager.sol";
import {ITaskTypes} from "../../contracts/interfaces/ITaskTypes.sol";
import {BaseTest} from "./BaseTest.sol";

/// @title Regression, issue 11 item 5: small-order Baby Jubjub keys (DESIGN §13.4)
/// @notice The attack: register a key that is on the curve with x ≠ 0 but outside the prime-order subgroup, e.g. the
/// order-4 point (1/√a, 0) or an order-8 point. circomlib's scalar multiplication has no witness for such a key, so
/// as a node key no ParamsConsistency proof can ever be made for a group containing the node (it cannot be
/// slashed), and as an app key the node can never prove its result (it times out; the app is refunded). Before the
/// fix `join` and `createTask` accepted both keys. Each test performs the attack and shows it refused.
contract SmallOrderKeysTest is BaseTest {
    /// @dev An order-8 point T8; [2]T8 = (T4_X, 0) is the order-4 point (1/√a, 0).
    uint256 internal constant T8_X = 17545522957889784193459637215142187266023652151580582754000402781682644312291;
    uint256 internal constant T8_Y = 4826523245007015323400664741523384119579596407052839571721035538011798951543;
    uint256 internal constant T4_X = 2957874849018779266517920829765869116077630550401372566248359756137677864698;

    /// @dev The attacker's keys: order 4, its negation, order 8, and Base8's witness offered for each.
    function _badKeys() internal pure returns (uint256[2][3] memory) {
        return [[T4_X, uint256(0)], [BJJ_FIELD - T4_X, uint256(0)], [T8_X, T8_Y]];
    }

    /// @dev Witnesses an attacker might try: a point of order 8 (whose [8] is the identity), Base8's, the key itself.
    function _witnesses(uint256[2] memory key) internal pure returns (uint256[2][3] memory) {
        return [[T8_X, T8_Y], [BJJ_WITNESS_X, BJJ_WITNESS_Y], key];
    }

    function test_attack_nodeJoinsWithASmallOrderKey_reverts() public {
        address node = nodes[0];
        uint256[2][3] memory keys = _badKeys();
        for (uint256 i = 0; i < keys.length; ++i) {
            // The old check (on the curve, x ≠ 0) accepted it.
            assertFalse(registry.isSubgroupKey(keys[i], keys[i]));
            uint256[2][3] memory ws = _witnesses(keys[i]);
            for (uint256 j = 0; j < ws.length; ++j) {
                vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeKeyNotInSubgroup.selector, node, keys[i]));
                vm.prank(node);
                registry.join{value: MINIMUM_STAKE}(
                    GPU_4090,
                    NODE_VRAM,
                    _defaultVersion(),
                    keys[i],
                    ws[j],
                    _defaultModels()
                );
            }
        }
        assertEq(registry.nodeCount(), 0);
        assertEq(registry.totalStaked(), 0);
    }

    /// @dev A subgroup key with a small-order component added (Base8 + T4, a point of order 4·ℓ) is refused too.
    function test_attack_nodeJoinsWithAKeyWithASmallOrderComponent_reverts() public {
        // Base8 + (T4_X, 0), computed with @zk-kit/baby-jubjub's addPoint.
        uint256[2] memory key = [
            uint256(16120112862970562683208024134212521724837375101562388219969418867453735398161),
            uint256(6024619782846759342161012647863721393722389083010190953927088766824157522958)
        ];
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeKeyNotInSubgroup.selector, nodes[0], key));
        vm.prank(nodes[0]);
        registry.join{value: MINIMUM_STAKE}(
            GPU_4090,
            NODE_VRAM,
            _defaultVersion(),
            key,
            _bjjWitness(),
            _defaultModels()
        );
    }

    function test_attack_appRegistersASmallOrderKey_reverts() public {
        uint256[2][3] memory keys = _badKeys();
        for (uint256 i = 0; i < keys.length; ++i) {
            uint256[2][3] memory ws = _witnesses(keys[i]);
            for (uint256 j = 0; j < ws.length; ++j) {
                vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskAppKeyNotInSubgroup.selector, keys[i]));
                vm.prank(apps[0]);
                tm.registerAppKey(keys[i], ws[j]);
            }
        }
    }

    /// @dev The app skips registration and creates a task with the order-4 key: refused, nothing escrowed.
    function test_attack_appCreatesATaskWithASmallOrderKey_reverts() public {
        _joinNode(nodes[0]);
        uint256[2][3] memory keys = _badKeys();
        for (uint256 i = 0; i < keys.length; ++i) {
            ITaskManager.TaskInput memory input = _taskInput(keccak256(abi.encode("guid", i)), "nonce");
            input.appPublicKey = keys[i];
            vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskAppKeyInvalid.selector, input.taskIDCommitment));
            vm.prank(apps[0]);
            tm.createTask{value: FEE}(input);
        }
        assertEq(tm.totalEscrowed(), 0);
        _assertNodeAvailable(nodes[0]);
    }

    /// @dev Registration is per key, not per account: a key registered by anyone serves every app, once.
    function test_registerAppKey_byAnyoneEnablesTheKeyForEveryApp() public {
        (uint256[2] memory key, uint256[2] memory witness) = _distinctKeyAndWitness(2);
        _joinNode(nodes[0]);
        ITaskManager.TaskInput memory input = _taskInput("guid", "nonce");
        input.appPublicKey = key;
        vm.expectRevert(abi.encodeWithSelector(ITaskManager.TaskAppKeyInvalid.selector, input.taskIDCommitment));
        vm.prank(apps[1]);
        tm.createTask{value: FEE}(input);

        vm.expectEmit(false, false, false, true, address(tm));
        emit ITaskManager.AppKeyRegistered(key);
        vm.prank(stranger);
        tm.registerAppKey(key, witness);
        _createTask(apps[1], input, FEE);
        assertEq(uint8(_taskStatus(input.taskIDCommitment)), uint8(ITaskTypes.TaskStatus.Started));
    }

    /// @dev Gas of registering a new key (once per key) and of the check alone through the registry.
    function test_registerAppKey_gas() public {
        (uint256[2] memory key, uint256[2] memory witness) = _distinctKeyAndWitness(1);
        uint256 before = gasleft();
        tm.registerAppKey(key, witness);
        emit log_named_uint("registerAppKey gas (new key, excluding the 21,000 base)", before - gasleft());
        before = gasleft();
        bool ok = registry.isSubgroupKey(key, witness);
        emit log_named_uint("NodeRegistry.isSubgroupKey gas (external call)", before - gasleft());
        assertTrue(ok);
    }

    function _assertNodeAvailable(address node) internal view {
        assertEq(uint8(registry.nodeStatus(node)), uint8(INodeRegistry.NodeStatus.Available));
    }
}
