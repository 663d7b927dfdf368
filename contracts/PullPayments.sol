// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IPullPayments} from "./interfaces/IPullPayments.sol";

/// @title PullPayments
/// @notice Credited balances withdrawn by their owners; the only place where this protocol sends value.
abstract contract PullPayments is IPullPayments, ReentrancyGuard {
    mapping(address account => uint256 amount) private _withdrawable;
    uint256 private _totalWithdrawable;

    /// @inheritdoc IPullPayments
    function withdraw() external returns (uint256) {
        return _withdraw(payable(msg.sender));
    }

    /// @inheritdoc IPullPayments
    function withdrawTo(address payable to) external returns (uint256) {
        return _withdraw(to);
    }

    /// @inheritdoc IPullPayments
    function withdrawable(address account) external view returns (uint256) {
        return _withdrawable[account];
    }

    /// @inheritdoc IPullPayments
    function totalWithdrawable() public view returns (uint256) {
        return _totalWithdrawable;
    }

    /// @dev Credits `amount` to `account`; never transfers.
    function _credit(address account, uint256 amount) internal {
        if (amount == 0) return;
        _withdrawable[account] += amount;
        _totalWithdrawable += amount;
        emit BalanceCredited(account, amount);
    }

    function _withdraw(address payable to) private nonReentrant returns (uint256 amount) {
        amount = _withdrawable[msg.sender];
        if (amount == 0) revert PaymentNothingToWithdraw(msg.sender);
        // Effects before the interaction; the guard also blocks cross-function re-entry.
        _withdrawable[msg.sender] = 0;
        _totalWithdrawable -= amount;
        emit Withdrawn(msg.sender, to, amount);
        (bool ok, ) = to.call{value: amount}("");
        if (!ok) revert PaymentTransferFailed(to, amount);
    }
}
