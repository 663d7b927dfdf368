/**
 * The node agent: a long-running program that runs a GPU node of the network (DESIGN §0), over ethers v6, the relay's
 * HTTP API and a pluggable {@link Executor}.
 *
 * - `start(stake)` joins with the stake, the GPU profile and the node's Baby Jubjub key (or checks that the node is
 *   already registered with that key), subscribes to the chain's events, and recovers the node's task from chain
 *   state: every `TaskStarted` naming the node since `fromBlock` (or the state directory's checkpoint) whose task is
 *   not final is picked up where it stands.
 * - Each event naming the node's task (TaskStarted, TaskParametersUploaded, TaskValidated, TaskAborted, ...) wakes
 *   the task's step function, which re-reads the task from the chain and acts on its status:
 *   Started / ParametersUploaded with an application key outside the prime-order subgroup → `declineTask`
 *   (AppKeyInvalid: no result proof can exist for such a key, and the decline is neutral, where `reportTaskError`
 *   could get the node slashed); ParametersUploaded → fetch the parameter blob from the relay (the relay client
 *   refuses bytes that do not hash to the blob hash on-chain: the step is then retried like any relay failure, and
 *   nothing is decrypted or reported), decrypt it, run the executor, `submitTaskScore`
 *   (or `reportTaskError` when the executor says the parameters can never run, or `declineTask(ModelDownloadFailed)`
 *   when it says a model the task names cannot be downloaded); Validated / GroupValidated →
 *   encrypt the result to the application's key, upload it to the relay, prove ResultAvailability (the two overlap),
 *   and `reportTaskResultUploaded` with the relay's Merkle proof; a final status → forget the task.
 * - Deadlines: when the application never validates a scored task, the agent calls `abortTask` after the
 *   validation deadline (ValidationTimeout: the node is paid); when the application never uploads parameters, it
 *   aborts after the execution deadline to be free for other tasks.
 * - Results are kept in memory and, with `stateDir`, on disk, so a restarted agent reports the exact result it
 *   scored (an executor need not be deterministic). Without one, a restarted agent re-runs the parameters.
 * - `withdraw()` moves earned fees to the node's account (automatically with `autoWithdraw`).
 *
 * The agent emits typed {@link NodeAgentEvent}s for logs, progress bars and tests.
 */
import { EventEmitter } from "node:events";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { ZeroAddress, getAddress, getBytes, hexlify, type Provider, type Signer } from "ethers";
import type { NodeRegistry, TaskManager } from "../../typechain-types/index.js";
import { modelId } from "../crypto/commitment.js";
import type { KeyPair, PublicKey } from "../crypto/babyjub.js";
import { isValidPublicKey, randomScalar, subgroupWitness } from "../crypto/babyjub.js";
import {
  PARAMS_CAPACITY,
  RESULT_CAPACITY,
  blobFromBytes,
  blobToBytes,
  decryptBytes,
  encryptBlob,
  packBytes,
  randomNonce128,
} from "../crypto/blob.js";
import { RelayClient } from "../relay/client.js";
import { ProofCache, resultAvailabilityInput, resultBinding, toProofStruct } from "../zk/proofs.js";
import { TaskAbortReason, TaskStatus, TaskType, NodeStatus, TaskError, isFinal } from "../types.js";
import { connectContracts, type NetworkAddresses } from "../chain/contracts.js";
import { ChainWatcher, type ChainBlock, type ChainEvent } from "../chain/watcher.js";
import { TxSender, type GasRecorder } from "../chain/tx.js";
import { InvalidParametersError, ModelUnavailableError, isImageTask, scoreOf, type Executor } from "./executor.js";

/** What a node runs on (sent at join). */
export interface NodeProfile {
  gpuName: string;
  gpuVRAM: number;
  version: [number, number, number];
  /** Names of the models held locally. */
  models: string[];
}

export const DEFAULT_PROFILE: NodeProfile = {
  gpuName: "NVIDIA GeForce RTX 4090",
  gpuVRAM: 24,
  version: [2, 5, 0],
  models: ["stabilityai/sdxl-turbo"],
};

export interface NodeAgentOptions {
  /** The node's account, connected to a provider. */
  wallet: Signer;
  addresses: NetworkAddresses;
  /** Base URL of the relay, e.g. http://127.0.0.1:8787. */
  relayUrl: string;
  executor: Executor;
  /** The node's Baby Jubjub key pair (the public key is registered at join; keep the secret across restarts). */
  bjjKey: KeyPair;
  profile?: NodeProfile;
  /** A name for logs (default: the address). */
  name?: string;
  /** A shared watcher (the agent starts it if needed, and stops only its own). */
  watcher?: ChainWatcher;
  /** Poll interval of the agent's own watcher in ms (default 250). */
  pollMs?: number;
  /** Directory for results and the recovery checkpoint (optional). */
  stateDir?: string;
  /** First block of the recovery scan when there is no checkpoint (default 0). */
  fromBlock?: number;
  /** Call `abortTask` on the node's task once its deadline passed (default true). */
  abortOnDeadline?: boolean;
  /** Withdraw earned fees after every paid task (default false: call `withdraw()`). */
  autoWithdraw?: boolean;
  /** Proof maker (default: a private `ProofCache`). */
  prover?: Pick<ProofCache, "prove">;
  /** Delay before retrying a failed step, in ms (default 2,000). */
  retryMs?: number;
  /**
   * Never upload the result of the node's own GroupValidated task: a faulty node, for tests and the demo (default
   * false). The node still stands in for another withholding node of a group it agreed with.
   */
  withholdResults?: boolean;
  gasRecorder?: GasRecorder;
  log?: (message: string) => void;
}

/** What the agent reports. */
export type NodeAgentEvent =
  | { type: "joined"; stake: bigint }
  | { type: "recovered"; taskIDCommitment: string; status: TaskStatus }
  | { type: "taskStarted"; taskIDCommitment: string }
  | { type: "executed"; taskIDCommitment: string; score: string; ms: number }
  | { type: "scoreSubmitted"; taskIDCommitment: string; score: string }
  | { type: "errorReported"; taskIDCommitment: string; reason: string }
  | { type: "declined"; taskIDCommitment: string; reason: TaskAbortReason; message: string }
  | { type: "resultUploaded"; taskIDCommitment: string; resultHash: string; proveMs: number }
  /** The node uploaded its own result for `validated`, whose node withheld it (docs/game.md, DESIGN §13.8). */
  | { type: "stoodIn"; taskIDCommitment: string; validated: string; resultHash: string }
  | { type: "aborted"; taskIDCommitment: string; lastStatus: TaskStatus }
  | { type: "taskEnded"; taskIDCommitment: string; status: TaskStatus }
  | { type: "paid"; taskIDCommitment: string; amount: bigint }
  | { type: "slashed"; taskIDCommitment: string; amount: bigint }
  | { type: "withdrawn"; amount: bigint }
  | { type: "error"; taskIDCommitment: string | null; error: unknown };

interface Job {
  taskType: TaskType;
  /** Hex of the result bytes, or null when the parameters are invalid. */
  result: string | null;
  score: string | null;
  invalidReason: string | null;
  /** Why the node declines the task (a model it names cannot be downloaded), or null/absent. */
  declineReason?: string | null;
}

class AgentStopped extends Error {
  constructor() {
    super("agent stopped");
  }
}

/** See the file comment. */
export class NodeAgent extends EventEmitter<{ event: [NodeAgentEvent] }> {
  readonly name: string;
  readonly relay: RelayClient;
  private readonly taskManager: TaskManager;
  private readonly registry: NodeRegistry;
  private readonly provider: Provider;
  private readonly tx: TxSender;
  private readonly prover: Pick<ProofCache, "prove">;
  private readonly watcher: ChainWatcher;
  private readonly ownWatcher: boolean;
  private address = ZeroAddress;
  private running = false;
  private unsubscribe: (() => void)[] = [];
  /** Tasks the agent follows, with their cached deadline (0 = unknown). */
  private readonly tracked = new Map<string, bigint>();
  private readonly jobs = new Map<string, Job>();
  private readonly inFlight = new Set<string>();
  private readonly again = new Set<string>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  /** Tasks of this node that ended EndGroupRefund, with the group's validated task it may stand in for. */
  private readonly standby = new Map<string, string>();
  private checkpointBlock = -1;

  constructor(private readonly options: NodeAgentOptions) {
    super();
    const provider = options.wallet.provider;
    if (!provider) throw new Error("NodeAgent: the wallet must be connected to a provider");
    this.provider = provider;
    const contracts = connectContracts(options.addresses, options.wallet);
    this.taskManager = contracts.taskManager;
    this.registry = contracts.registry;
    this.relay = new RelayClient(options.relayUrl);
    this.name = options.name ?? "node";
    this.tx = new TxSender(this.name, options.gasRecorder);
    this.prover = options.prover ?? new ProofCache();
    this.ownWatcher = !options.watcher;
    this.watcher = options.watcher ?? new ChainWatcher(provider, options.addresses, { pollMs: options.pollMs ?? 250 });
  }

  get nodeAddress(): string {
    return this.address;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Commitments of the tasks the agent currently follows (at most one live task per node, by the contract). */
  get tasks(): string[] {
    return [...this.tracked.keys()];
  }

  /**
   * Joins (when not registered yet; `stake` is then required) or checks the registration, subscribes to the chain
   * and recovers the node's unfinished task. Throws when the node is registered with another Baby Jubjub key.
   */
  async start(stake?: bigint): Promise<void> {
    if (this.running) return;
    this.address = getAddress(await this.options.wallet.getAddress());
    const info = await this.registry.getNode(this.address);
    const key = this.options.bjjKey.publicKey;
    if (Number(info.status) === NodeStatus.Quit) {
      if (stake === undefined) {
        throw new Error(`${this.name}: ${this.address} is not a registered node; start(stake) joins with a stake`);
      }
      const p = this.options.profile ?? DEFAULT_PROFILE;
      this.running = true;
      // The witness R ([8]R = key) proves the key in the prime-order subgroup (DESIGN §13.4).
      const witness = subgroupWitness(key);
      await this.tx.call(
        "join",
        this.registry.join,
        [p.gpuName, p.gpuVRAM, p.version, key, witness, p.models.map(modelId)],
        {
          value: stake,
        },
      );
      this.emitEvent({ type: "joined", stake });
    } else if (info.publicKey[0] !== key[0] || info.publicKey[1] !== key[1]) {
      throw new Error(
        `${this.name}: ${this.address} is registered with another Baby Jubjub key; start the agent with the key ` +
          `it joined with (parameters are encrypted to that key)`,
      );
    }
    this.running = true;
    this.unsubscribe.push(this.watcher.onEvent((e) => this.onEvent(e)));
    this.unsubscribe.push(this.watcher.onBlock((b) => this.onBlock(b)));
    await this.watcher.start();
    await this.recover();
  }

  /** Stops following the chain (like a crash: nothing is sent on-chain; `start` again recovers). */
  async stop(): Promise<void> {
    this.running = false;
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    for (const t of this.retries.values()) clearTimeout(t);
    this.retries.clear();
    if (this.ownWatcher) await this.watcher.stop();
    this.saveCheckpoint();
  }

  /** Withdraws the node's earned fees from the task manager; returns the amount (0 when there was nothing). */
  async withdraw(): Promise<bigint> {
    const amount = await this.taskManager.withdrawable(this.address);
    if (amount === 0n) return 0n;
    await this.tx.send("withdraw", () => this.taskManager.withdraw());
    this.emitEvent({ type: "withdrawn", amount });
    return amount;
  }

  /** Quits the network (at once when idle, else when the current task ends); the stake becomes withdrawable. */
  async quit(): Promise<void> {
    await this.tx.call("quit", this.registry.quit, []);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Following the chain
  // ---------------------------------------------------------------------------------------------------------------

  private isMe(address: unknown): boolean {
    return typeof address === "string" && address.toLowerCase() === this.address.toLowerCase();
  }

  private onEvent(event: ChainEvent): void {
    if (!this.running) return;
    const c = event.commitment;
    switch (event.name) {
      case "TaskStarted":
        if (this.isMe(event.args.selectedNode)) {
          this.track(c!);
          this.emitEvent({ type: "taskStarted", taskIDCommitment: c! });
          this.wake(c!);
        }
        return;
      case "TaskFeePaid":
        if (this.isMe(event.args.node)) {
          this.emitEvent({ type: "paid", taskIDCommitment: c!, amount: event.args.amount as bigint });
          if (this.options.autoWithdraw) void this.withdraw().catch((error) => this.fail(null, error));
        }
        return;
      case "NodeSlashed":
        if (this.isMe(event.args.node)) {
          this.emitEvent({ type: "slashed", taskIDCommitment: c!, amount: event.args.amount as bigint });
        }
        return;
      default:
        if (c && this.tracked.has(c.toLowerCase())) this.wake(c);
    }
  }

  private onBlock(block: ChainBlock): void {
    if (!this.running) return;
    for (const [c, deadline] of this.tracked) if (deadline > 0n && block.timestamp >= deadline) this.wake(c);
    if (block.number - this.checkpointBlock >= 50) this.saveCheckpoint();
  }

  private track(commitment: string): void {
    const c = commitment.toLowerCase();
    if (!this.tracked.has(c)) this.tracked.set(c, 0n);
  }

  private untrack(c: string): void {
    this.tracked.delete(c);
    this.standby.delete(c);
    this.jobs.delete(c);
    const file = this.jobFile(c);
    if (file && existsSync(file)) rmSync(file);
  }

  /** Picks up every unfinished task of this node: from the state directory and from `TaskStarted` logs. */
  private async recover(): Promise<void> {
    const dir = this.stateDirectory();
    let from = this.options.fromBlock ?? 0;
    if (dir) {
      const checkpoint = join(dir, "checkpoint.json");
      if (existsSync(checkpoint))
        from = Math.max(0, (JSON.parse(readFileSync(checkpoint, "utf8")).block as number) - 1);
      for (const file of readdirSync(dir)) {
        if (file.startsWith("0x") && file.endsWith(".json")) this.track(file.slice(0, -5));
      }
    }
    const logs = await this.taskManager.queryFilter(
      this.taskManager.filters.TaskStarted(undefined, this.address),
      from,
    );
    for (const log of logs) this.track(log.args.taskIDCommitment);
    for (const c of [...this.tracked.keys()]) {
      const status = Number(await this.taskManager.taskStatus(c)) as TaskStatus;
      if (isFinal(status)) {
        this.untrack(c);
        continue;
      }
      this.emitEvent({ type: "recovered", taskIDCommitment: c, status });
      this.wake(c);
    }
  }

  /** Runs the task's step function now, or once more after the running one. */
  private wake(commitment: string): void {
    const c = commitment.toLowerCase();
    if (!this.running) return;
    if (this.inFlight.has(c)) {
      this.again.add(c);
      return;
    }
    this.inFlight.add(c);
    void (async () => {
      try {
        do {
          this.again.delete(c);
          await this.step(c);
        } while (this.again.has(c) && this.running);
      } catch (error) {
        if (!(error instanceof AgentStopped)) {
          this.fail(c, error);
          if (this.running && this.tracked.has(c)) {
            this.retries.set(
              c,
              setTimeout(() => this.wake(c), this.options.retryMs ?? 2_000),
            );
          }
        }
      } finally {
        this.inFlight.delete(c);
      }
    })();
  }

  private ensureRunning(): void {
    if (!this.running) throw new AgentStopped();
  }

  /** One look at the task on-chain and the action its status calls for. */
  private async step(c: string): Promise<void> {
    this.ensureRunning();
    const info = await this.taskManager.getTask(c);
    if (!this.isMe(info.selectedNode)) {
      this.untrack(c);
      return;
    }
    const status = Number(info.status) as TaskStatus;
    if (status === TaskStatus.EndGroupRefund && (await this.standIn(c))) return;
    if (isFinal(status)) {
      const followed = this.tracked.has(c);
      this.untrack(c);
      if (followed) this.emitEvent({ type: "taskEnded", taskIDCommitment: c, status });
      return;
    }
    const deadline = await this.taskManager.deadlineOf(c);
    this.tracked.set(c, deadline);
    const taskType = Number(info.taskType) as TaskType;
    if (status === TaskStatus.Started || status === TaskStatus.ParametersUploaded) {
      const appKey: PublicKey = [info.appPublicKey[0], info.appPublicKey[1]];
      if (!isValidPublicKey(appKey)) {
        const message =
          `task ${c} names an application Baby Jubjub key (${appKey[0]}, ${appKey[1]}) outside the prime-order ` +
          `subgroup: no result proof can exist for it, so the node declines the task (refund, no penalty)`;
        await this.declineTask(c, TaskAbortReason.AppKeyInvalid, message, status, deadline);
        return;
      }
    }
    switch (status) {
      case TaskStatus.ParametersUploaded: {
        const job = await this.ensureJob(c, taskType, info.paramsHash);
        this.ensureRunning();
        if (job.declineReason) {
          await this.declineTask(c, TaskAbortReason.ModelDownloadFailed, job.declineReason, status, deadline);
        } else if (job.invalidReason !== null) {
          await this.tx.send("reportTaskError", () =>
            this.taskManager.reportTaskError(c, TaskError.ParametersValidationFailed),
          );
          this.emitEvent({ type: "errorReported", taskIDCommitment: c, reason: job.invalidReason });
        } else {
          await this.tx.send("submitTaskScore", () => this.taskManager.submitTaskScore(c, job.score!));
          this.emitEvent({ type: "scoreSubmitted", taskIDCommitment: c, score: job.score! });
        }
        return;
      }
      case TaskStatus.Validated:
      case TaskStatus.GroupValidated: {
        if (status === TaskStatus.GroupValidated && this.options.withholdResults) return;
        const job = await this.ensureJob(c, taskType, info.paramsHash);
        if (job.result === null) throw new Error(`task ${c} was validated but its parameters were invalid here`);
        await this.uploadResult(c, job, [info.appPublicKey[0], info.appPublicKey[1]], info.creator);
        return;
      }
      default: {
        // Started (waiting for parameters), ScoreReady / ErrorReported (waiting for validation).
        const latest = this.watcher.latest.timestamp;
        if (this.options.abortOnDeadline !== false && deadline > 0n && latest >= deadline) {
          this.ensureRunning();
          await this.tx.call("abortTask", this.taskManager.abortTask, [c]);
          this.emitEvent({ type: "aborted", taskIDCommitment: c, lastStatus: status });
        }
      }
    }
  }

  /**
   * Ends the task neutrally for a reason the application caused (DESIGN §13.3): an app key outside the prime-order
   * subgroup (the node could compute, but never prove its result: circomlib has no witness for small-order keys),
   * or a model the task names that cannot be downloaded. Only before the deadline: from then on `declineTask`
   * reverts and `abortTask` settles the task (the agent's deadline path).
   */
  private async declineTask(
    c: string,
    reason: TaskAbortReason,
    message: string,
    status: TaskStatus,
    deadline: bigint,
  ): Promise<void> {
    const latest = this.watcher.latest.timestamp;
    if (deadline > 0n && latest >= deadline) {
      this.options.log?.(`${this.name}: ${message}; too late to decline, ending it by its deadline instead`);
      if (this.options.abortOnDeadline === false) return;
      this.ensureRunning();
      await this.tx.call("abortTask", this.taskManager.abortTask, [c]);
      this.emitEvent({ type: "aborted", taskIDCommitment: c, lastStatus: status });
      return;
    }
    this.options.log?.(`${this.name}: ${message} [${TaskAbortReason[reason]}]`);
    this.ensureRunning();
    await this.tx.call("declineTask", this.taskManager.declineTask, [c, reason]);
    this.emitEvent({ type: "declined", taskIDCommitment: c, reason, message });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Execution and result
  // ---------------------------------------------------------------------------------------------------------------

  private stateDirectory(): string | null {
    if (!this.options.stateDir) return null;
    const dir = join(this.options.stateDir, this.address.toLowerCase());
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  private jobFile(c: string): string | null {
    const dir = this.stateDirectory();
    return dir ? join(dir, `${c}.json`) : null;
  }

  private saveCheckpoint(): void {
    const dir = this.stateDirectory();
    if (!dir || this.watcher.latest.number < 0) return;
    this.checkpointBlock = this.watcher.latest.number;
    // Tasks still followed keep their own files, so the checkpoint may move past their TaskStarted.
    writeFileSync(join(dir, "checkpoint.json"), JSON.stringify({ block: this.checkpointBlock }));
  }

  /** The task's execution: from memory, from the state directory, or by fetching, decrypting and running it. */
  private async ensureJob(c: string, taskType: TaskType, paramsHash: string): Promise<Job> {
    const cached = this.jobs.get(c);
    if (cached) return cached;
    const file = this.jobFile(c);
    if (file && existsSync(file)) {
      const stored = JSON.parse(readFileSync(file, "utf8")) as Partial<Job>;
      if (stored.score !== undefined) {
        this.jobs.set(c, stored as Job);
        return stored as Job;
      }
    }
    const started = Date.now();
    let job: Job;
    let params: Uint8Array | null = null;
    // A relay that cannot serve the blob (down, or lost it), or serves bytes that do not hash to `paramsHash`
    // (RelayBlobMismatchError: a lying relay or a man in the middle), is not the parameters' fault: the error
    // propagates and the step is retried; nothing is decrypted or reported. Only the blob the chain recorded, when
    // it does not decrypt to this node's key, can never run anywhere.
    const bytes = await this.relay.get(paramsHash);
    try {
      params = decryptBytes(blobFromBytes(bytes), this.options.bjjKey.secretKey, PARAMS_CAPACITY);
    } catch (error) {
      job = {
        taskType,
        result: null,
        score: null,
        invalidReason: `the parameters do not decrypt: ${(error as Error).message}`,
      };
    }
    if (params !== null) {
      try {
        const { result } = await this.options.executor.execute({ taskIDCommitment: c, taskType, params });
        const score = scoreOf(taskType, result);
        job = { taskType, result: hexlify(result), score, invalidReason: null };
        this.emitEvent({ type: "executed", taskIDCommitment: c, score, ms: Date.now() - started });
      } catch (error) {
        if (error instanceof ModelUnavailableError) {
          job = {
            taskType,
            result: null,
            score: null,
            invalidReason: null,
            declineReason: `task ${c} needs model ${error.model}, which cannot be downloaded: ${error.message}`,
          };
        } else if (error instanceof InvalidParametersError) {
          job = { taskType, result: null, score: null, invalidReason: error.message };
        } else {
          throw error; // the node's own failure: retry, never report
        }
      }
    }
    this.jobs.set(c, job!);
    if (file) writeFileSync(file, JSON.stringify(job!));
    return job!;
  }

  /** Encrypts the result to the application, uploads it, proves it, and reports it with the relay's proof. */
  /**
   * DESIGN §13.8 (docs/game.md): the node's task agreed with the group's validated member (EndGroupRefund). The
   * agent keeps the result; if the validated member's node has not uploaded its own by its deadline, the agent
   * uploads this node's result in its place (the proof is made for this node's task and score) and the agreeing
   * members share the fee. Returns false once there is nothing (left) to do. Not resumed after a restart.
   */
  private async standIn(c: string): Promise<boolean> {
    const job = this.jobs.get(c);
    if (!job?.result) return false;
    let validated = this.standby.get(c);
    if (!validated) {
      const [ended] = await this.taskManager.queryFilter(this.taskManager.filters.TaskEndGroupRefund(c));
      const receipt = ended ? await this.provider.getTransactionReceipt(ended.transactionHash) : null;
      for (const log of receipt?.logs ?? []) {
        const parsed = this.taskManager.interface.parseLog(log);
        if (parsed?.name === "TaskValidated") validated = (parsed.args.taskIDCommitment as string).toLowerCase();
      }
      if (!validated) return false;
      this.standby.set(c, validated);
    }
    const info = await this.taskManager.getTask(validated);
    if (Number(info.status) !== TaskStatus.GroupValidated) return false;
    // deadlineOf is validatedAt + 2 × resultUploadTimeout; the stand-in window opens halfway.
    const deadline = await this.taskManager.deadlineOf(validated);
    const opensAt = info.validatedAt + (deadline - info.validatedAt) / 2n;
    this.tracked.set(c, opensAt);
    if (this.watcher.latest.timestamp < opensAt) return true;
    this.ensureRunning();
    try {
      const resultHash = await this.uploadResult(
        validated,
        job,
        [info.appPublicKey[0], info.appPublicKey[1]],
        info.creator,
        c,
      );
      this.emitEvent({ type: "stoodIn", taskIDCommitment: c, validated, resultHash });
    } catch (error) {
      // Another agreeing member, or the withholder itself, was first: nothing left to do.
      if (Number(await this.taskManager.taskStatus(validated)) !== TaskStatus.GroupValidated) return false;
      throw error;
    }
    return false;
  }

  /**
   * Encrypts the job's result to the app, uploads it, proves ResultAvailability for `member` (the task whose score
   * and node the proof is bound to: `c` itself, or this node's task when it stands in for `c`'s node) and reports it
   * for `c`. Returns the result's blob hash.
   */
  private async uploadResult(
    c: string,
    job: Job,
    appKey: PublicKey,
    creator: string,
    member: string = c,
  ): Promise<string> {
    const result = getBytes(job.result!);
    const message = packBytes(result, RESULT_CAPACITY);
    const ephemeralSecret = randomScalar();
    const blob = encryptBlob(message, appKey, ephemeralSecret, randomNonce128());
    const input = resultAvailabilityInput(
      message,
      appKey,
      blob,
      ephemeralSecret,
      !isImageTask(job.taskType),
      BigInt(job.score!),
      resultBinding({
        chainId: (await this.provider.getNetwork()).chainId,
        taskManager: await this.taskManager.getAddress(),
        creator,
        taskIDCommitment: member,
        node: this.address,
      }),
    );
    const bytes = blobToBytes(blob);
    const proveStarted = Date.now();
    const [proof, inclusion] = await Promise.all([
      this.prover.prove("ResultAvailability", input).then((p) => ({ proof: p, ms: Date.now() - proveStarted })),
      this.relay.upload(this.options.wallet, bytes).then((up) => this.relay.waitForProof(up.blobHash)),
    ]);
    this.ensureRunning();
    await this.tx.call("reportTaskResultUploaded", this.taskManager.reportTaskResultUploaded, [
      c,
      inclusion.blobHash,
      inclusion.root,
      inclusion.proof,
      toProofStruct(proof.proof.solidity),
    ]);
    this.emitEvent({ type: "resultUploaded", taskIDCommitment: c, resultHash: inclusion.blobHash, proveMs: proof.ms });
    return inclusion.blobHash;
  }

  private emitEvent(event: NodeAgentEvent): void {
    this.options.log?.(
      `${this.name}: ${event.type}${"taskIDCommitment" in event && event.taskIDCommitment ? ` ${event.taskIDCommitment.slice(0, 10)}` : ""}`,
    );
    this.emit("event", event);
  }

  private fail(c: string | null, error: unknown): void {
    this.options.log?.(`${this.name}: error${c ? ` on ${c.slice(0, 10)}` : ""}: ${(error as Error)?.message ?? error}`);
    if (this.listenerCount("event") > 0) this.emit("event", { type: "error", taskIDCommitment: c, error });
  }
}
