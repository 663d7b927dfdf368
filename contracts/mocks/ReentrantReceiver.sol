// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IPullPayments} from "../interfaces/IPullPayments.sol";

/// @title ReentrantReceiver (test only)
/// @notice An application or node implemented as a contract whose `receive` re-enters the paying contract's
/// withdraw path, trying to be paid twice.
contract ReentrantReceiver {
    /// @notice How `receive` re-enters.
    enum Mode {
        WithdrawCaught, // calls withdraw() again and swallows a failure
        WithdrawToCaught, // calls withdrawTo(this) again (cross-function) and swallows a failure
        WithdrawBubbled // calls withdraw() again and lets a failure revert the receive
    }

    /// @notice The contract whose withdraw path is attacked.
    IPullPayments public payer;
    /// @notice The re-entry mode.
    Mode public mode;
    /// @notice Number of re-entry attempts made by `receive`.
    uint256 public reentryAttempts;
    /// @notice Number of re-entries that succeeded.
    uint256 public reentrySuccesses;
    /// @notice Revert data of the last failed re-entry.
    bytes public lastReentryError;

    /// @notice Sets the attacked contract and the mode.
    function configure(IPullPayments newPayer, Mode newMode) external {
        payer = newPayer;
        mode = newMode;
    }

    /// @notice Calls `to` with `data` and `msg.value`, bubbling up the callee's revert data unchanged.
    function forward(address to, bytes calldata data) external payable returns (bytes memory result) {
        bool ok;
        (ok, result) = to.call{value: msg.value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
    }

    // The re-entry attempt is the whole point of this mock, so its receive is deliberately not simple.
    // solhint-disable-next-line no-complex-fallback
    receive() external payable {
        if (msg.sender != address(payer) || reentryAttempts != 0) return;
        ++reentryAttempts;
        if (mode == Mode.WithdrawCaught) {
            try payer.withdraw() {
                ++reentrySuccesses;
            } catch (bytes memory err) {
                lastReentryError = err;
            }
        } else if (mode == Mode.WithdrawToCaught) {
            try payer.withdrawTo(payable(address(this))) {
                ++reentrySuccesses;
            } catch (bytes memory err) {
                lastReentryError = err;
            }
        } else {
            payer.withdraw();
            ++reentrySuccesses;
        }
    }
}
