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

/** The randomness beacon's deployment parameters (`VRFBeacon`, docs/randomness.md). */
export interface BeaconParameters {
  /** Chainlink VRF v2.5 gas lane; any value for the local mock coordinator. */
  vrfKeyHash: string;
  /** Block confirmations before the coordinator answers (Chainlink's minimum is 3 on most networks). */
  vrfConfirmations: bigint;
  /** Seconds after which a word that has not landed may be requested again. */
  beaconRetryAfter: bigint;
  /** Wei each task pays toward the words (forwarded to the VRF subscription). */
  beaconFeePerTask: bigint;
  /** Wei each task prepays to whoever dispatches it. */
  dispatchBounty: bigint;
}

export const DEFAULT_BEACON_PARAMETERS: BeaconParameters = {
  vrfKeyHash: "0x" + "00".repeat(32),
  vrfConfirmations: 3n,
  beaconRetryAfter: 10n * 60n,
  beaconFeePerTask: 0n,
  dispatchBounty: 0n,
};
