/** The application client: see ./client.ts. */
export {
  AppClient,
  encodeParams,
  feeRefunded,
  type AppClientOptions,
  type AppStageEvent,
  type MemberOutcome,
  type TaskOutcome,
  type TaskRequest,
} from "./client.js";
export {
  GroupDisagreementError,
  ResultBlobMismatchError,
  ResultMismatchError,
  TaskAbortedError,
  TaskFailedError,
  TaskParametersRejectedError,
  TaskTimeoutError,
  type AppStage,
} from "./errors.js";
