// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title RevertingReceiver (test only)
/// @notice An application or node implemented as a contract: it forwards calls (with value) to the protocol, and its
/// `receive` reverts while payments are refused. Used to show that pull payments never let a reverting recipient
/// block a state transition (defect B10 of the reference implementation).
contract RevertingReceiver {
    /// @notice Plain ether sent to this contract was refused.
    error RevertingReceiverRefused(address sender, uint256 amount);

    /// @notice Whether `receive` accepts ether (false: it reverts).
    bool public acceptPayments;

    /// @notice Switches `receive` between accepting and reverting.
    /// @param accept True to accept ether.
    function setAcceptPayments(bool accept) external {
        acceptPayments = accept;
    }

    /// @notice Calls `target` with `data` and `msg.value`, bubbling up the callee's revert data unchanged.
    /// @param target The contract to call.
    /// @param data The calldata.
    /// @return result The callee's return data.
    function forward(address target, bytes calldata data) external payable returns (bytes memory result) {
        bool ok;
        (ok, result) = target.call{value: msg.value}(data);
        if (!ok) {
            // Bubble the exact revert data so that callers can decode the protocol's custom errors.
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
    }

    receive() external payable {
        if (!acceptPayments) revert RevertingReceiverRefused(msg.sender, msg.value);
    }
}
