/**
 * TypeScript mirrors of the contracts' enums. This file is the only place they are written out;
 * `test/unit/enums.test.ts` parses the Solidity interfaces and fails if the two ever differ.
 */

/** `ITaskTypes.TaskStatus`. */
export enum TaskStatus {
  Queued = 0,
  Started = 1,
  ParametersUploaded = 2,
  ErrorReported = 3,
  ScoreReady = 4,
  Validated = 5,
  GroupValidated = 6,
  EndInvalidated = 7,
  EndSuccess = 8,
  EndAborted = 9,
  EndGroupRefund = 10,
  EndGroupSuccess = 11,
  Pending = 12,
}

/** `ITaskTypes.TaskType`. */
export enum TaskType {
  SD = 0,
  LLM = 1,
  SD_FT = 2,
}

/** `ITaskTypes.TaskAbortReason`. */
export enum TaskAbortReason {
  None = 0,
  Timeout = 1,
  ModelDownloadFailed = 2,
  IncorrectResult = 3,
  TaskFeeTooLow = 4,
  CreatorCancelled = 5,
  ValidationTimeout = 6,
  ResultUploadTimeout = 7,
  QueueTimeout = 8,
  AppKeyInvalid = 9,
}

/** `ITaskTypes.TaskError`. */
export enum TaskError {
  None = 0,
  ParametersValidationFailed = 1,
}

/** `INodeRegistry.NodeStatus`. */
export enum NodeStatus {
  Quit = 0,
  Available = 1,
  Busy = 2,
  PendingPause = 3,
  PendingQuit = 4,
  Paused = 5,
}

/** `INodeRegistry.ReleaseOutcome`. */
export enum ReleaseOutcome {
  Neutral = 0,
  Success = 1,
  Timeout = 2,
}

/** Final task states. */
export const FINAL_STATUSES: readonly TaskStatus[] = [
  TaskStatus.EndInvalidated,
  TaskStatus.EndSuccess,
  TaskStatus.EndAborted,
  TaskStatus.EndGroupRefund,
  TaskStatus.EndGroupSuccess,
];

/** Whether a task in `status` can no longer change. */
export function isFinal(status: TaskStatus): boolean {
  return FINAL_STATUSES.includes(status);
}
