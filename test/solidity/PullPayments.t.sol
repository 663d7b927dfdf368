// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "forge-std/Vm.sol";
import {ISamplingVerifier} from "../../contracts/interfaces/ISamplingVerifier.sol";
import {IPullPayments} from "../../contracts/interfaces/IPullPayments.sol";
import {ITaskTypes} from "../../contracts/interfaces/ITaskTypes.sol";
import {ITaskManager} from "../../contracts/interfaces/ITaskManager.sol";
import {BaseTest} from "./BaseTest.sol";

/// @title Pull payments: crediting and withdrawing (P1, P2 of PROPERTIES.md)
contract PullPaymentsTest is BaseTest {
    bytes32 internal constant GUID = "dust-group";
    uint64 internal constant SCORE = 0x0123456789ABCDEF;

    /// @dev A group whose fee is 1 wei: the agreeing peers' 10/5/2 shares round down to zero. A zero share credits
    /// nothing (no `BalanceCredited`), the validated task's node takes the whole wei, and the money still adds up.
    function test_zeroShareCreditsNothingAndTheRemainderGoesToTheValidatedNode() public {
        // A network without a minimum fee (DESIGN §13.3 lets governance set it to zero).
        ITaskManager.TaskConfig memory c = _taskConfig();
        c.minimumFee = [uint96(0), 0, 0];
        vm.prank(admin);
        tm.setConfig(c);
        bytes32[3] memory ids;
        for (uint256 i = 0; i < 3; ++i) {
            _joinNode(nodes[i]);
            ids[i] = _createTask(apps[0], GUID, _nonce(GUID, uint8(i)), 1);
            _uploadParameters(ids[i]);
        }
        // Member 1 is fastest (10), member 2 next (5), member 0 last (2): every peer share of 1 wei rounds to 0.
        vm.warp(block.timestamp + 1);
        _submitScore(ids[1], _imageScore(SCORE));
        vm.warp(block.timestamp + 1);
        _submitScore(ids[2], _imageScore(SCORE));
        vm.warp(block.timestamp + 1);
        _submitScore(ids[0], _imageScore(SCORE));
        _mockSamplingNumber(0);
        _mockParamsProof(true);
        ISamplingVerifier.VRFProof memory proof = _proofFor(0, ids[0]);
        vm.prank(apps[0]);
        tm.validateTaskGroup(ids[0], ids[1], ids[2], GUID, proof, _noProof());
        assertEq(uint8(tm.taskStatus(ids[0])), uint8(ITaskTypes.TaskStatus.GroupValidated));

        vm.recordLogs();
        _uploadResult(ids[0]);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 credits;
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].topics[0] == IPullPayments.BalanceCredited.selector) {
                credits++;
                assertEq(address(uint160(uint256(logs[i].topics[1]))), nodes[0], "only the validated node is credited");
                assertEq(abi.decode(logs[i].data, (uint256)), 1);
            }
        }
        assertEq(credits, 1, "zero shares must not be credited");
        assertEq(tm.withdrawable(nodes[0]), 1);
        assertEq(tm.withdrawable(nodes[1]), 0);
        assertEq(tm.withdrawable(nodes[2]), 0);
        assertEq(address(tm).balance, tm.totalEscrowed() + tm.totalWithdrawable());
    }

    /// @dev `withdrawTo` pays the caller's balance to another address; the caller's balance is zero afterwards and a
    /// second withdrawal reverts with `PaymentNothingToWithdraw`.
    function test_withdrawToPaysElsewhereOnce() public {
        bytes32 id = _createTask(apps[0], "queued", "nonce", FEE);
        vm.warp(block.timestamp + QUEUE_TIMEOUT);
        tm.abortTask(id); // queued until its timeout (no cancel while queued): refund
        uint256 before = stranger.balance;
        vm.prank(apps[0]);
        assertEq(tm.withdrawTo(payable(stranger)), FEE);
        assertEq(stranger.balance, before + FEE);
        assertEq(tm.withdrawable(apps[0]), 0);
        assertEq(tm.totalWithdrawable(), 0);
        vm.expectRevert(abi.encodeWithSelector(IPullPayments.PaymentNothingToWithdraw.selector, apps[0]));
        vm.prank(apps[0]);
        tm.withdraw();
    }
}
