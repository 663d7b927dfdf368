/**
 * Default network parameters: the values the deploy module uses when a parameters file does not override them,
 * and the ones tests and the demo run with. Times are seconds, amounts wei.
 */
import { parseEther } from "ethers";

/** `INodeRegistry.RegistryConfig` without the treasury (an address chosen at deployment). */
export interface RegistryParameters {
  minimumStake: bigint;
  stakeCap: bigint;
  sameModelsBonusBps: bigint;
}

/** `ITaskManager.TaskConfig`. */
export interface TaskParameters {
  samplingDivisor: bigint;
  distanceThreshold: bigint;
  queueTimeout: bigint;
  executionTimeout: bigint;
  validationTimeout: bigint;
  resultUploadTimeout: bigint;
  queueSizeFactor: bigint;
  minQueueCapacity: bigint;
  overhead: [bigint, bigint, bigint];
  unitTime: [bigint, bigint, bigint];
  uploadTimeout: bigint;
  siblingWindow: bigint;
  noShowShare: bigint;
  minimumFee: [bigint, bigint, bigint];
}

export const DEFAULT_REGISTRY_PARAMETERS: RegistryParameters = {
  minimumStake: parseEther("400"),
  stakeCap: parseEther("4000"),
  sameModelsBonusBps: 5_000n,
};

export const DEFAULT_TASK_PARAMETERS: TaskParameters = {
  samplingDivisor: 10n,
  distanceThreshold: 24n,
  queueTimeout: 60n * 60n,
  executionTimeout: 15n * 60n,
  validationTimeout: 30n * 60n,
  resultUploadTimeout: 15n * 60n,
  queueSizeFactor: 5n,
  minQueueCapacity: 50n,
  // T = overhead + unitTime · size, per task type (SD, LLM, SD_FT): seconds and seconds per image / per token.
  overhead: [20n, 5n, 60n],
  unitTime: [10n, 1n, 20n],
  // DESIGN §13.3: the application's timer from start to the parameter upload, and what a no-show costs it.
  uploadTimeout: 15n * 60n,
  // Validation tasks are created within this span after the original: at least queue + upload + execution.
  siblingWindow: 90n * 60n,
  noShowShare: 2_000n,
  minimumFee: [parseEther("0.001"), parseEther("0.001"), parseEther("0.001")],
};
