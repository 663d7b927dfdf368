// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Shared task enums of the VSS task network
/// @notice Numbering is kept from the reference implementation (DESIGN §2) so that existing clients read it.
interface ITaskTypes {
    /// @notice The task state machine. `End*` states are final.
    enum TaskStatus {
        Queued, // 0: waiting in the queue for an eligible node
        Started, // 1: a node was selected; waiting for the app to upload parameters
        ParametersUploaded, // 2: the encrypted parameters are provably in a relay root; the node executes
        ErrorReported, // 3: the node reported that the parameters can never run
        ScoreReady, // 4: the node submitted the result's similarity hash
        Validated, // 5: single task validated; waiting for the node to upload the result
        GroupValidated, // 6: group member whose result will be uploaded
        EndInvalidated, // 7: disagreed with its group; the node was slashed
        EndSuccess, // 8: single task, result uploaded, node paid
        EndAborted, // 9: aborted, fee refunded (or paid to the node after a validation timeout)
        EndGroupRefund, // 10: agreeing group member whose fee was refunded
        EndGroupSuccess, // 11: group result uploaded, fee split among the agreeing nodes
        Pending // 12: created, waiting for its epoch's beacon word; then dispatched to Started or Queued
    }

    /// @notice `SD` and `SD_FT` are image tasks compared by similarity; `LLM` text tasks are compared exactly.
    enum TaskType {
        SD,
        LLM,
        SD_FT
    }

    /// @notice Why a task ended in `EndAborted`. `ModelDownloadFailed` and `AppKeyInvalid` are the reasons a node
    /// may give to `declineTask` (a neutral end: something the application caused).
    enum TaskAbortReason {
        None,
        Timeout,
        ModelDownloadFailed,
        IncorrectResult,
        TaskFeeTooLow,
        CreatorCancelled,
        ValidationTimeout,
        ResultUploadTimeout,
        QueueTimeout,
        AppKeyInvalid // 9: the node declined: the app's Baby Jubjub key is outside the prime-order subgroup
    }

    /// @notice The only error a node may report: one that is certain to be in the parameters.
    enum TaskError {
        None,
        ParametersValidationFailed
    }
}
