/**
 * The application client: submits a task and follows it through the whole lifecycle of the source document
 * (`docs/protocol.md`), over ethers v6 and the relay's HTTP API.
 *
 * `submitTask(request)`:
 * 1. **create**: `createTask` with a random GUID and nonce, the fee as `msg.value` and the app's Baby Jubjub key;
 * 2. **sampling**: the app's VRF (its own secp256k1 key) over the sampling seed of `TaskCreated`; when the output is
 *    divisible by `samplingDivisor`, two validation tasks with the same GUID and parameters (new nonces) right away;
 * 3. **dispatch / parameters**: for each task, once a node is selected (`TaskStarted`), the parameters are encrypted
 *    to that node's registered key, uploaded to the relay, and `reportTaskParametersUploaded` is sent with the relay's
 *    Merkle proof. For a group, the ParamsConsistency proof is started as soon as the three blobs exist, so it is
 *    made while the nodes execute;
 * 4. **execution**: waits for `TaskScoreReady` / `TaskErrorReported` of every member;
 * 5. **validation**: `validateSingleTask` with the VRF proof, or `validateTaskGroup` with the VRF proof, the GUID and
 *    the ParamsConsistency proof (the zero proof when a member was aborted: the contract does not check it then);
 * 6. **result**: waits for `TaskSuccess` of the validated task;
 * 7. **download**: fetches the result blob from the relay, checks that the bytes hash to the result hash on-chain
 *    (the relay client refuses other bytes with `RelayBlobMismatchError` before anything is decrypted), decrypts it
 *    with the app's key, and checks that its sim hash is the score on-chain.
 *
 * The relay is trusted for availability only (docs/relay-trust.md): the client computes every blob hash it reports
 * itself, and checks every blob it downloads against the hash the chain holds.
 *
 * Every stage is reported as an {@link AppStageEvent}. When a stage's on-chain deadline passes while the other
 * party must act (no node took the queued task, the node never scored, the node never uploaded its result), the
 * client calls `abortTask` itself and the fee is refunded. Each bad ending throws its own {@link TaskFailedError}
 * subclass (./errors.ts); a reverted call throws `ContractCallError` with the decoded custom error.
 */
import { EventEmitter } from "node:events";
import { getAddress, hexlify, toUtf8Bytes, type Provider, type Wallet } from "ethers";
import type { TaskManager } from "../../typechain-types/index.js";
import { ANY_GPU, gpuId, modelId, newTaskIdentity, randomGUID } from "../crypto/commitment.js";
import { generateKeyPair, randomScalar, subgroupWitness, type KeyPair, type PublicKey } from "../crypto/babyjub.js";
import {
  PARAMS_CAPACITY,
  RESULT_CAPACITY,
  blobFromBytes,
  blobHash,
  blobToBytes,
  byteCapacity,
  decryptBytes,
  encryptBlob,
  packBytes,
  randomNonce128,
  toBytes32,
  type Blob,
} from "../crypto/blob.js";
import { isSampled, proveVRF, toSolidityProof, vrfOutput, type SolidityVRFProof } from "../crypto/vrf.js";
import { RelayBlobMismatchError, RelayClient } from "../relay/client.js";
import { ProofCache, ZERO_PROOF, proveGroupParams, type Groth16ProofStruct } from "../zk/proofs.js";
import { TaskAbortReason, TaskStatus, TaskType, isFinal } from "../types.js";
import { connectContracts, type NetworkAddresses } from "../chain/contracts.js";
import { ChainWatcher } from "../chain/watcher.js";
import { ContractCallError, TxSender, type GasRecorder } from "../chain/tx.js";
import { beaconOf, pendingInputs } from "../chain/dispatch.js";
import { scoreOf } from "../node/executor.js";
import {
  GroupDisagreementError,
  ResultBlobMismatchError,
  ResultMismatchError,
  TaskAbortedError,
  TaskFailedError,
  TaskParametersRejectedError,
  TaskTimeoutError,
  type AppStage,
} from "./errors.js";

/** What an application asks for. */
export interface TaskRequest {
  taskType: TaskType;
  /** The task parameters: bytes, a string (UTF-8) or an object (JSON). At most 2,077 bytes (the circuit's size). */
  params: Uint8Array | string | object;
  /** The fee, in wei. */
  fee: bigint;
  /** Names of the models the task needs (e.g. "stabilityai/sdxl-turbo"). */
  models?: string[];
  minimumVRAM?: number;
  /** An exact GPU model name (e.g. "NVIDIA GeForce RTX 4090"); any GPU with `minimumVRAM` when omitted. */
  requiredGPU?: string;
  requiredGPUVRAM?: number;
  /** The minimum node version (default 2.0.0). */
  version?: [number, number, number];
  taskSize?: number;
}

/** What happened to one task of a submission. */
export interface MemberOutcome {
  taskIDCommitment: string;
  role: "original" | "validation";
  node: string | null;
  status: TaskStatus;
  abortReason: TaskAbortReason;
  score: string;
  refunded: boolean;
}

/** A delivered, verified result. */
export interface TaskOutcome {
  /** The original task's commitment. */
  taskIDCommitment: string;
  taskGUID: string;
  sampled: boolean;
  samplingNumber: bigint;
  members: MemberOutcome[];
  /** The member whose node delivered the result, and that node. */
  deliveredBy: { taskIDCommitment: string; node: string };
  result: Uint8Array;
  score: string;
  resultHash: string;
  /** Fees sent with the tasks, and the part refunded (to withdraw with {@link AppClient.withdraw}). */
  feesPaid: bigint;
  refunded: bigint;
}

/** The stage events of `submitTask` (the first member's commitment identifies the submission). */
export type AppStageEvent = { taskIDCommitment: string } & (
  | { type: "created"; member: string; role: "original" | "validation"; node: string | null }
  | { type: "sampled"; sampled: boolean; samplingNumber: bigint }
  | { type: "started"; member: string; node: string }
  | { type: "parametersUploaded"; member: string; paramsHash: string }
  | { type: "executed"; member: string; status: TaskStatus; score: string }
  | { type: "validated"; statuses: TaskStatus[] }
  | { type: "aborted"; member: string; lastStatus: TaskStatus }
  | { type: "succeeded"; member: string; resultHash: string }
  | { type: "downloaded"; bytes: number }
);

export interface AppClientOptions {
  /** The application's account: a Wallet, because its secret key is also its VRF key. Connected to a provider. */
  wallet: Wallet;
  addresses: NetworkAddresses;
  relayUrl: string;
  /** The Baby Jubjub key results are encrypted to (default: a fresh random one). */
  bjjKey?: KeyPair;
  /** A shared watcher (started if needed; stopped only if the client owns it). */
  watcher?: ChainWatcher;
  pollMs?: number;
  /** Proof maker for the ParamsConsistency proof (default: a private `ProofCache`). */
  prover?: Pick<ProofCache, "prove">;
  /** Give up waiting for any one stage after this many ms (default: no limit, the chain's deadlines bound it). */
  stageTimeoutMs?: number;
  /** Abort a task whose counterparty missed its deadline (default true). */
  abortOnDeadline?: boolean;
  /**
   * At most this many validation groups open at once (default: no limit). A group holds its nodes until all three
   * members are scored, so groups whose validation tasks wait in the queue could hold every node; keeping this below
   * half the number of nodes rules that out. A sampled task waits for a slot before creating its validation tasks.
   */
  maxOpenGroups?: number;
  /**
   * A sampled task's validation tasks are created together at a uniformly random moment in the first
   * `min(maxSiblingDelayMs, siblingWindow)` after the original (DESIGN §13.2), so the original's node cannot tell
   * from the timing that they belong to it. Default 3,000 ms, which keeps local runs short; a live deployment sets it
   * to its sibling window (`config().siblingWindow` seconds, in ms) minus a margin for inclusion.
   */
  maxSiblingDelayMs?: number;
  gasRecorder?: GasRecorder;
  name?: string;
}

interface ParamsUpload {
  message: bigint[];
  nodeKey: PublicKey;
  blob: Blob;
  ephemeralSecret: bigint;
  blobHash: string;
}

interface Member {
  taskIDCommitment: string;
  role: "original" | "validation";
  node: string | null;
  seed: string;
  upload?: ParamsUpload;
}

/** Default upper bound of the random delay before a sampled task's validation tasks are created. */
const DEFAULT_MAX_SIBLING_DELAY_MS = 3_000;

/** Statuses in which the other party must act, so that the app ends the task when the deadline passes. */
const APP_ABORTS: ReadonlySet<TaskStatus> = new Set([
  TaskStatus.Queued,
  TaskStatus.Started,
  TaskStatus.ParametersUploaded,
  TaskStatus.Validated,
  TaskStatus.GroupValidated,
]);

/** Gas added to `createTask`'s estimate for the beacon's VRF request it may have to make. */
export const VRF_REQUEST_GAS = 150_000n;

/** How long a client lets other dispatchers (who race for the bounty) go first once its task's word has landed. */
export const DISPATCH_GRACE_MS = 1_000;

/** Whether the fee of a task that ended in `status` went back to its creator. */
export function feeRefunded(status: TaskStatus, reason: TaskAbortReason): boolean {
  if (status === TaskStatus.EndGroupRefund || status === TaskStatus.EndInvalidated) return true;
  return status === TaskStatus.EndAborted && reason !== TaskAbortReason.ValidationTimeout;
}

/** See the file comment. */
export class AppClient extends EventEmitter<{ stage: [AppStageEvent] }> {
  readonly name: string;
  readonly bjjKey: KeyPair;
  readonly relay: RelayClient;
  readonly taskManager: TaskManager;
  readonly watcher: ChainWatcher;
  private readonly tx: TxSender;
  private readonly prover: Pick<ProofCache, "prove">;
  private readonly ownWatcher: boolean;
  private readonly provider: Provider;
  private openGroups = 0;
  private readonly groupWaiters: (() => void)[] = [];
  /** The one `registerAppKey` of this client's key (shared by concurrent `create`s). */
  private appKeyRegistration: Promise<unknown> | null = null;

  constructor(private readonly options: AppClientOptions) {
    super();
    const provider = options.wallet.provider;
    if (!provider) throw new Error("AppClient: the wallet must be connected to a provider");
    this.provider = provider;
    this.name = options.name ?? "app";
    this.bjjKey = options.bjjKey ?? generateKeyPair();
    this.relay = new RelayClient(options.relayUrl);
    this.taskManager = connectContracts(options.addresses, options.wallet).taskManager;
    this.tx = new TxSender(this.name, options.gasRecorder);
    this.prover = options.prover ?? new ProofCache();
    this.ownWatcher = !options.watcher;
    this.watcher = options.watcher ?? new ChainWatcher(provider, options.addresses, { pollMs: options.pollMs ?? 250 });
  }

  get address(): string {
    return this.options.wallet.address;
  }

  /** Starts following the chain (also done by the first `submitTask`). */
  async start(): Promise<void> {
    await this.watcher.start();
  }

  /** Stops the client's own watcher; pending `submitTask` calls end with TaskTimeoutError. */
  async stop(): Promise<void> {
    if (this.ownWatcher) await this.watcher.stop();
  }

  /** Withdraws refunded fees; returns the amount (0 when there was nothing). */
  async withdraw(): Promise<bigint> {
    const amount = await this.taskManager.withdrawable(this.address);
    if (amount > 0n) await this.tx.send("withdraw", () => this.taskManager.withdraw());
    return amount;
  }

  /**
   * Runs one task (and its validation group when sampled) to a verified result; see the file comment. Throws a
   * {@link TaskFailedError} subclass for each bad ending, `RangeError` for parameters too large for the circuit
   * (before anything is sent), and `ContractCallError` when the chain rejects a call.
   */
  async submitTask(request: TaskRequest): Promise<TaskOutcome> {
    const params = encodeParams(request.params);
    const limit = byteCapacity(PARAMS_CAPACITY);
    if (params.length > limit) {
      throw new RangeError(`the task parameters are ${params.length} bytes; at most ${limit} fit in a parameter blob`);
    }
    await this.start();

    // 1-2. create, sample, and create the validation tasks
    const taskGUID = randomGUID();
    const config = await this.taskManager.config();
    const original = await this.create(request, taskGUID, 0, "original", null);
    const id = original.taskIDCommitment;
    const vrf = proveVRF(this.options.wallet.privateKey, original.seed);
    const samplingNumber = vrfOutput(vrf.gamma);
    const sampled = isSampled(samplingNumber, config.samplingDivisor);
    this.stage({ type: "sampled", taskIDCommitment: id, sampled, samplingNumber });
    const members: Member[] = [original];
    if (!sampled) return this.run(request, params, taskGUID, vrf, samplingNumber, members);
    await this.acquireGroupSlot();
    try {
      // Members 1 and 2 of the GUID (nonces keccak256(GUID, k)), at a random moment inside the sibling window.
      const windowMs = Number(config.siblingWindow) * 1000;
      const spanMs = Math.min(this.options.maxSiblingDelayMs ?? DEFAULT_MAX_SIBLING_DELAY_MS, windowMs);
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * spanMs)));
      members.push(await this.create(request, taskGUID, 1, "validation", id));
      members.push(await this.create(request, taskGUID, 2, "validation", id));
      return await this.run(request, params, taskGUID, vrf, samplingNumber, members);
    } finally {
      this.releaseGroupSlot();
    }
  }

  private async acquireGroupSlot(): Promise<void> {
    const max = this.options.maxOpenGroups ?? Infinity;
    while (this.openGroups >= max) await new Promise<void>((resolve) => this.groupWaiters.push(resolve));
    this.openGroups += 1;
  }

  private releaseGroupSlot(): void {
    this.openGroups -= 1;
    this.groupWaiters.shift()?.();
  }

  /** Stages 3-7 for the created members (one, or a group of three). */
  private async run(
    request: TaskRequest,
    params: Uint8Array,
    taskGUID: string,
    vrf: ReturnType<typeof proveVRF>,
    samplingNumber: bigint,
    members: Member[],
  ): Promise<TaskOutcome> {
    const original = members[0];
    const id = original.taskIDCommitment;
    const sampled = members.length === 3;
    const all = members.map((m) => m.taskIDCommitment);

    // 3. parameters, as each task is dispatched; the group's params proof starts once all three blobs exist
    await Promise.all(members.map((m) => this.uploadParameters(id, m, params, all)));
    const paramsProof =
      sampled && members.every((m) => m.upload) ? this.proveParams(members as [Member, Member, Member]) : null;
    paramsProof?.catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile

    // 4. execution
    await Promise.all(
      members.map(async (m) => {
        const info = await this.waitFor(m, [TaskStatus.ScoreReady, TaskStatus.ErrorReported], "execution", id, all);
        this.stage({
          type: "executed",
          taskIDCommitment: id,
          member: m.taskIDCommitment,
          status: Number(info.status),
          score: hexlify(info.score),
        });
      }),
    );

    // 5. validation
    const solidityVRF: SolidityVRFProof = toSolidityProof(vrf);
    const validatedBlock = await this.provider.getBlockNumber();
    let winner: Member;
    if (!sampled) {
      const status = Number(await this.taskManager.taskStatus(id)) as TaskStatus;
      if (status === TaskStatus.EndAborted) throw await this.abortedError("execution", original, members);
      await this.tx.call("validateSingleTask", this.taskManager.validateSingleTask, [id, solidityVRF]);
      const after = Number(await this.taskManager.taskStatus(id)) as TaskStatus;
      this.stage({ type: "validated", taskIDCommitment: id, statuses: [after] });
      if (after !== TaskStatus.Validated) {
        throw new TaskParametersRejectedError(id, all, await this.refundedOf(members));
      }
      winner = original;
    } else {
      const before = await Promise.all(
        all.map(async (c) => Number(await this.taskManager.taskStatus(c)) as TaskStatus),
      );
      // Every member already aborted (deadlines): nothing to validate.
      if (before.every((st) => st === TaskStatus.EndAborted))
        throw await this.abortedError("execution", original, members);
      let proof: Groth16ProofStruct = ZERO_PROOF;
      if (!before.includes(TaskStatus.EndAborted)) {
        if (!paramsProof) throw new Error(`${this.name}: no parameters proof for the group of ${id}`);
        proof = await paramsProof;
      }
      await this.tx.call("validateTaskGroup", this.taskManager.validateTaskGroup, [
        ...all,
        taskGUID,
        solidityVRF,
        proof,
      ]);
      const after = await Promise.all(all.map(async (c) => Number(await this.taskManager.taskStatus(c)) as TaskStatus));
      this.stage({ type: "validated", taskIDCommitment: id, statuses: after });
      const at = after.indexOf(TaskStatus.GroupValidated);
      if (at < 0) {
        const refunded = await this.refundedOf(members);
        if (before.every((s) => s !== TaskStatus.ScoreReady)) throw new TaskParametersRejectedError(id, all, refunded);
        throw new GroupDisagreementError(id, all, after, refunded);
      }
      winner = members[at];
    }

    // 6. result
    const done = await this.waitFor(winner, [TaskStatus.EndSuccess, TaskStatus.EndGroupSuccess], "result", id, all);
    const doneStatus = Number(done.status) as TaskStatus;
    if (doneStatus !== TaskStatus.EndSuccess && doneStatus !== TaskStatus.EndGroupSuccess) {
      throw await this.abortedError("result", winner, members);
    }
    this.stage({
      type: "succeeded",
      taskIDCommitment: id,
      member: winner.taskIDCommitment,
      resultHash: done.resultHash,
    });

    // 7. download and check: `relay.get` refuses bytes that do not hash to the result hash the chain holds.
    let bytes: Uint8Array;
    try {
      bytes = await this.relay.get(done.resultHash);
    } catch (error) {
      if (!(error instanceof RelayBlobMismatchError)) throw error;
      throw new ResultBlobMismatchError(winner.taskIDCommitment, error.expected, error.actual, error.relayUrl, all, {
        cause: error,
      });
    }
    const blob = blobFromBytes(bytes);
    const result = decryptBytes(blob, this.bjjKey.secretKey, RESULT_CAPACITY);
    const actual = scoreOf(Number(done.taskType) as TaskType, result);
    // The validated member's own result or, when its node withheld it (docs/game.md, DESIGN §13.8), an agreeing
    // member's, uploaded in its place: the chain checked the blob against that member's score.
    const deliverer = await this.delivererOf(winner, done, members, validatedBlock);
    const score = hexlify(deliverer.info.score);
    if (actual.toLowerCase() !== score.toLowerCase()) throw new ResultMismatchError(deliverer.id, score, actual);
    this.stage({ type: "downloaded", taskIDCommitment: id, bytes: result.length });

    const outcomes = await this.outcomes(members);
    return {
      taskIDCommitment: id,
      taskGUID,
      sampled,
      samplingNumber,
      members: outcomes,
      deliveredBy: { taskIDCommitment: deliverer.id, node: getAddress(deliverer.info.selectedNode) },
      result,
      score,
      resultHash: done.resultHash,
      feesPaid: request.fee * BigInt(members.length),
      refunded: outcomes.reduce((sum, m) => sum + (m.refunded ? request.fee : 0n), 0n),
    };
  }

  /**
   * The member whose result `winner`'s settlement delivered: `winner` itself, or (a group whose validated node
   * withheld its result: docs/game.md, DESIGN §13.8) the agreeing member whose node `TaskEndGroupSuccess` names.
   */
  private async delivererOf(
    winner: Member,
    done: Awaited<ReturnType<TaskManager["getTask"]>>,
    members: Member[],
    fromBlock: number,
  ) {
    const own = { id: winner.taskIDCommitment, info: done };
    if (Number(done.status) !== TaskStatus.EndGroupSuccess) return own;
    const [log] = await this.taskManager.queryFilter(
      this.taskManager.filters.TaskEndGroupSuccess(winner.taskIDCommitment),
      fromBlock,
    );
    const uploader = (log?.args.selectedNode ?? done.selectedNode).toLowerCase();
    if (uploader === done.selectedNode.toLowerCase()) return own;
    for (const m of members) {
      const info = await this.taskManager.getTask(m.taskIDCommitment);
      if (Number(info.status) === TaskStatus.EndGroupRefund && info.selectedNode.toLowerCase() === uploader)
        return { id: m.taskIDCommitment, info };
    }
    throw new Error(`task ${winner.taskIDCommitment}: its result was uploaded by ${uploader}, not a member's node`);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Stages
  // ---------------------------------------------------------------------------------------------------------------

  /**
   * `createTask` accepts only app keys checked once by `registerAppKey` (DESIGN §13.4): registers this client's key
   * with its subgroup witness before its first task (anyone may register a key; registering it again is harmless).
   */
  private async ensureAppKeyRegistered(): Promise<void> {
    const key = this.bjjKey.publicKey;
    this.appKeyRegistration ??= this.tx
      .call("registerAppKey", this.taskManager.registerAppKey, [key, subgroupWitness(key)])
      .catch((e: unknown) => {
        this.appKeyRegistration = null;
        throw e;
      });
    await this.appKeyRegistration;
  }

  private stage(event: AppStageEvent): void {
    this.emit("stage", event);
  }

  private async create(
    request: TaskRequest,
    taskGUID: string,
    k: 0 | 1 | 2,
    role: Member["role"],
    originalId: string | null,
  ): Promise<Member> {
    const identity = newTaskIdentity(taskGUID, k);
    const input = {
      taskType: request.taskType,
      taskIDCommitment: identity.commitment,
      nonce: identity.nonce,
      modelIDs: (request.models ?? []).map(modelId),
      minimumVRAM: request.minimumVRAM ?? 8,
      requiredGPU: request.requiredGPU ? gpuId(request.requiredGPU) : ANY_GPU,
      requiredGPUVRAM: request.requiredGPUVRAM ?? 0,
      taskVersion: request.version ?? [2, 0, 0],
      taskSize: request.taskSize ?? 1,
      appPublicKey: this.bjjKey.publicKey,
    };
    await this.ensureAppKeyRegistered();
    // msg.value = fee + the dispatch bounty + the task's share of the beacon's words (docs/randomness.md).
    const value = request.fee + (await this.taskManager.dispatchCost());
    // Whichever createTask finds no beacon word in flight requests the next one (about 100k gas more): the estimate
    // may have been made while a word was in flight and landed before the transaction did.
    await this.tx.call("createTask", this.taskManager.createTask, [input], { value, extraGas: VRF_REQUEST_GAS });
    const { seed, node } = await this.awaitDispatch(identity.commitment);
    const member: Member = { taskIDCommitment: identity.commitment, role, node, seed };
    this.stage({
      type: "created",
      taskIDCommitment: originalId ?? identity.commitment,
      member: identity.commitment,
      role,
      node,
    });
    return member;
  }

  /**
   * Waits until the task leaves Pending: its epoch's beacon word lands (a VRF service answers the beacon), then
   * someone dispatches it. The client dispatches the pending tasks itself once the word has landed and nobody else
   * did within {@link DISPATCH_GRACE_MS} (it then earns their bounties). Returns the seed and the node (null: queued).
   */
  private async awaitDispatch(id: string): Promise<{ seed: string; node: string | null }> {
    const started = Date.now();
    const limit = this.options.stageTimeoutMs;
    const beacon = await beaconOf(this.taskManager, this.provider);
    let landedAt: number | null = null;
    for (;;) {
      const info = await this.taskManager.getTask(id);
      const status = Number(info.status) as TaskStatus;
      if (status !== TaskStatus.Pending) {
        if (isFinal(status)) throw new TaskTimeoutError("dispatch", id, status, Date.now() - started, [id]);
        return { seed: info.samplingSeed, node: status === TaskStatus.Started ? getAddress(info.selectedNode) : null };
      }
      // While Pending, `startedAt` holds the task's epoch.
      if ((await beacon.wordOf(info.startedAt)) !== 0n) {
        landedAt ??= Date.now();
        if (Date.now() - landedAt >= DISPATCH_GRACE_MS) await this.dispatchPendingTasks();
      }
      if (limit !== undefined && Date.now() - started > limit) {
        throw new TaskTimeoutError("dispatch", id, status, Date.now() - started, [id]);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** Dispatches the pending tasks (oldest first) through this client's transaction path; a lost race is ignored. */
  private async dispatchPendingTasks(): Promise<void> {
    const ids = [...(await this.taskManager.pendingTasks(32))];
    if (ids.length === 0) return;
    try {
      const inputs = await pendingInputs(this.taskManager, ids);
      await this.tx.call("dispatchTasks", this.taskManager.dispatchTasks, [inputs]);
    } catch (error) {
      // Another dispatcher was first (`TaskNotNextPending`): the next look sees the task dispatched.
      if (!(error instanceof ContractCallError) || error.errorName !== "TaskNotNextPending") throw error;
    }
  }

  /** Waits for a node, then encrypts the parameters to its key, uploads them and reports the upload. */
  private async uploadParameters(id: string, member: Member, params: Uint8Array, all: string[]): Promise<void> {
    const info = await this.waitFor(member, [TaskStatus.Started], "dispatch", id, all);
    if (Number(info.status) !== TaskStatus.Started) return; // aborted while queued: the group goes on without it
    const node = getAddress(info.selectedNode);
    member.node = node;
    this.stage({ type: "started", taskIDCommitment: id, member: member.taskIDCommitment, node });
    const registry = connectContracts(this.options.addresses, this.provider).registry;
    const [x, y] = await registry.nodePublicKey(node);
    const nodeKey: PublicKey = [x, y];
    const message = packBytes(params, PARAMS_CAPACITY);
    const ephemeralSecret = randomScalar();
    const blob = encryptBlob(message, nodeKey, ephemeralSecret, randomNonce128());
    // The blob hash is computed here, never taken from the relay (whose answers the relay client also checks).
    const hash = toBytes32(blobHash(blob));
    await this.relay.upload(this.options.wallet, blobToBytes(blob));
    const inclusion = await this.relay.waitForProof(hash);
    member.upload = { message, nodeKey, blob, ephemeralSecret, blobHash: hash };
    try {
      await this.tx.send("reportTaskParametersUploaded", () =>
        this.taskManager.reportTaskParametersUploaded(member.taskIDCommitment, hash, inclusion.root, inclusion.proof),
      );
    } catch (error) {
      // The task may have been aborted meanwhile (its deadline passed): the group goes on without it.
      const status = Number(await this.taskManager.taskStatus(member.taskIDCommitment)) as TaskStatus;
      if (status === TaskStatus.EndAborted) return;
      throw error;
    }
    this.stage({
      type: "parametersUploaded",
      taskIDCommitment: id,
      member: member.taskIDCommitment,
      paramsHash: hash,
    });
  }

  private async proveParams(group: [Member, Member, Member]): Promise<Groth16ProofStruct> {
    return proveGroupParams(this.prover, [group[0].upload!, group[1].upload!, group[2].upload!]);
  }

  /**
   * Waits until the member's status is in `accept` or final. Meanwhile, when the member's deadline passes in a
   * status where the other party must act, aborts it (the fee is refunded). Returns the task as last read.
   */
  private async waitFor(member: Member, accept: TaskStatus[], stage: AppStage, id: string, all: string[]) {
    const c = member.taskIDCommitment;
    const started = Date.now();
    const limit = this.options.stageTimeoutMs;
    for (;;) {
      const version = this.watcher.version(c);
      const info = await this.taskManager.getTask(c);
      const status = Number(info.status) as TaskStatus;
      if (accept.includes(status) || isFinal(status)) return info;
      const deadline = await this.taskManager.deadlineOf(c);
      const appMayAbort = this.options.abortOnDeadline !== false && APP_ABORTS.has(status);
      if (appMayAbort && deadline > 0n && this.watcher.latest.timestamp >= deadline) {
        try {
          await this.tx.call("abortTask", this.taskManager.abortTask, [c]);
          this.stage({ type: "aborted", taskIDCommitment: id, member: c, lastStatus: status });
        } catch (error) {
          // Someone else ended it first, or the next block's clock is not past the deadline yet: look again.
          const name = error instanceof ContractCallError ? error.errorName : null;
          if (name !== "TaskInvalidState" && name !== "TaskDeadlineNotReached") throw error;
        }
        continue;
      }
      const left = limit === undefined ? undefined : limit - (Date.now() - started);
      if (left !== undefined && left <= 0) throw new TaskTimeoutError(stage, c, status, Date.now() - started, all);
      const reason = await this.watcher.wait(c, {
        sinceVersion: version,
        until: appMayAbort && deadline > 0n ? deadline : null,
        timeoutMs: left,
      });
      if (reason === "stopped") throw new TaskTimeoutError(stage, c, status, Date.now() - started, all);
    }
  }

  private async outcomes(members: Member[]): Promise<MemberOutcome[]> {
    return Promise.all(
      members.map(async (m) => {
        const info = await this.taskManager.getTask(m.taskIDCommitment);
        const status = Number(info.status) as TaskStatus;
        const reason = Number(info.abortReason) as TaskAbortReason;
        return {
          taskIDCommitment: m.taskIDCommitment,
          role: m.role,
          node: m.node,
          status,
          abortReason: reason,
          score: hexlify(info.score),
          refunded: feeRefunded(status, reason),
        };
      }),
    );
  }

  private async refundedOf(members: Member[]): Promise<bigint> {
    let total = 0n;
    for (const m of members) {
      const info = await this.taskManager.getTask(m.taskIDCommitment);
      if (feeRefunded(Number(info.status), Number(info.abortReason))) total += info.fee;
    }
    return total;
  }

  private async abortedError(stage: AppStage, member: Member, members: Member[]): Promise<TaskFailedError> {
    const info = await this.taskManager.getTask(member.taskIDCommitment);
    const events = await this.taskManager.queryFilter(
      this.taskManager.filters.TaskAborted(member.taskIDCommitment),
      Math.max(0, this.watcher.latest.number - 10_000),
    );
    const last = events.length > 0 ? (Number(events[events.length - 1].args.lastStatus) as TaskStatus) : null;
    return new TaskAbortedError(
      stage,
      member.taskIDCommitment,
      Number(info.abortReason) as TaskAbortReason,
      last,
      members.map((m) => m.taskIDCommitment),
      await this.refundedOf(members),
    );
  }
}

/** The bytes of `params`: as given, UTF-8 of a string, or the JSON of an object. */
export function encodeParams(params: TaskRequest["params"]): Uint8Array {
  if (params instanceof Uint8Array) return params;
  if (typeof params === "string") return toUtf8Bytes(params);
  return toUtf8Bytes(JSON.stringify(params));
}
