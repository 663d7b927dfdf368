/**
 * How a task submitted with `AppClient.submitTask` can end badly: one error class per ending, all subclasses of
 * {@link TaskFailedError}, each carrying the task's commitments and what happened to the fee.
 */
import { TaskAbortReason, TaskStatus } from "../types.js";

/** The stages of `submitTask`, in order. */
export type AppStage =
  "create" | "sampling" | "dispatch" | "parameters" | "execution" | "validation" | "result" | "download";

/** Base class: the task (or its validation group) did not deliver a verified result. */
export class TaskFailedError extends Error {
  constructor(
    message: string,
    /** The stage at which it failed. */
    readonly stage: AppStage,
    /** The original task's commitment (the first member of a group). */
    readonly taskIDCommitment: string,
    /** Every member's commitment (one for a task that was not sampled). */
    readonly members: string[] = [taskIDCommitment],
    /** Fees refunded to the application for these tasks (withdraw them with `AppClient.withdraw`). */
    readonly refunded: bigint = 0n,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The task ended in `EndAborted` (a deadline passed, the app cancelled it, or it was evicted from the queue). */
export class TaskAbortedError extends TaskFailedError {
  constructor(
    stage: AppStage,
    taskIDCommitment: string,
    readonly reason: TaskAbortReason,
    readonly lastStatus: TaskStatus | null,
    members?: string[],
    refunded?: bigint,
  ) {
    super(
      `task ${taskIDCommitment} was aborted (${TaskAbortReason[reason] ?? reason}` +
        `${lastStatus !== null ? ` in ${TaskStatus[lastStatus]}` : ""}) during ${stage}`,
      stage,
      taskIDCommitment,
      members,
      refunded,
    );
  }
}

/**
 * The node reported that the parameters can never run (`ParametersValidationFailed`) and nobody contradicted it: the
 * task ended in EndAborted and the fee was refunded. Fix the parameters and submit again.
 */
export class TaskParametersRejectedError extends TaskFailedError {
  constructor(taskIDCommitment: string, members?: string[], refunded?: bigint) {
    super(
      `the node reported that the parameters of task ${taskIDCommitment} can never run (ParametersValidationFailed); ` +
        `the fee was refunded: check the parameters and submit again`,
      "validation",
      taskIDCommitment,
      members,
      refunded,
    );
  }
}

/** A validation group had no agreeing majority (e.g. three different scores): every member was aborted. */
export class GroupDisagreementError extends TaskFailedError {
  constructor(
    taskIDCommitment: string,
    members: string[],
    readonly statuses: TaskStatus[],
    refunded: bigint,
  ) {
    super(
      `the validation group of ${taskIDCommitment} did not agree (${statuses.map((s) => TaskStatus[s]).join(", ")}); ` +
        `the fees were refunded`,
      "validation",
      taskIDCommitment,
      members,
      refunded,
    );
  }
}

/** The downloaded result does not hash to the score the chain holds (should be impossible: the proof binds them). */
export class ResultMismatchError extends TaskFailedError {
  constructor(
    taskIDCommitment: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `the result of ${taskIDCommitment} hashes to ${actual}, not to the score on-chain ${expected}`,
      "download",
      taskIDCommitment,
    );
  }
}

/**
 * The relay served bytes for the result that do not hash to the result hash on-chain (a lying relay or a man in the
 * middle): they were refused before decryption. The task ended well on-chain and the node was paid; the result
 * blob is provably in a relay root, so fetch it again (from this relay later, or another copy) with
 * `RelayClient.get(resultHash)`, which checks the bytes.
 */
export class ResultBlobMismatchError extends TaskFailedError {
  constructor(
    taskIDCommitment: string,
    /** The result hash on-chain. */
    readonly expected: string,
    /** The blob hash of the served bytes (null: not a well-formed blob). */
    readonly actual: string | null,
    readonly relayUrl: string,
    members?: string[],
    options?: { cause?: unknown },
  ) {
    super(
      `the relay ${relayUrl} served the result of ${taskIDCommitment} as bytes that ` +
        `${actual === null ? "are not a blob" : `hash to ${actual}`}, not to the result hash on-chain ${expected}: ` +
        `refused before decryption; the task succeeded on-chain, fetch the result again`,
      "download",
      taskIDCommitment,
      members,
    );
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

/**
 * The client stopped waiting (its own `stageTimeoutMs`, or `stop()`): the task is still open on-chain. Once the
 * stage's deadline passes, `abortTask` ends it and refunds the fee.
 */
export class TaskTimeoutError extends TaskFailedError {
  constructor(
    stage: AppStage,
    taskIDCommitment: string,
    readonly status: TaskStatus,
    waitedMs: number,
    members?: string[],
  ) {
    super(
      `gave up waiting for task ${taskIDCommitment} in ${TaskStatus[status]} after ${waitedMs} ms (stage ${stage}); ` +
        `the task is still open on-chain: after its deadline, abortTask ends it and refunds the fee`,
      stage,
      taskIDCommitment,
      members,
    );
  }
}
