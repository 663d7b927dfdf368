// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Pull payments
/// @notice Payouts, refunds and returned stakes are credited to balances that their owners withdraw, so a
/// recipient that reverts (or re-enters) can never block a state transition (defect B10 of the reference).
interface IPullPayments {
    /// @notice Emitted when `amount` is credited to `account`.
    /// @param account The beneficiary.
    /// @param amount The amount credited, in wei.
    event BalanceCredited(address indexed account, uint256 amount);

    /// @notice Emitted when `account` withdraws `amount` to `to`.
    /// @param account The owner of the balance.
    /// @param to The receiver of the transfer.
    /// @param amount The amount withdrawn, in wei.
    event Withdrawn(address indexed account, address indexed to, uint256 amount);

    /// @notice `account` has nothing to withdraw.
    error PaymentNothingToWithdraw(address account);
    /// @notice The transfer to `to` failed; the balance is left untouched.
    error PaymentTransferFailed(address to, uint256 amount);

    /// @notice Withdraws the caller's whole balance to the caller.
    /// @return amount The amount sent.
    function withdraw() external returns (uint256 amount);

    /// @notice Withdraws the caller's whole balance to `to`.
    /// @param to The receiver.
    /// @return amount The amount sent.
    function withdrawTo(address payable to) external returns (uint256 amount);

    /// @notice The balance `account` can withdraw.
    /// @param account The account.
    /// @return The withdrawable amount, in wei.
    function withdrawable(address account) external view returns (uint256);

    /// @notice The sum of every account's withdrawable balance.
    /// @return The total, in wei.
    function totalWithdrawable() external view returns (uint256);
}
