/**
 * A reference model of the on-chain network (TaskManager + NodeRegistry + PullPayments), written from DESIGN §2,
 * §5, §7, §8 and §9 independently of the Solidity code, for model-based testing: a test applies the same action to
 * the chain and to the model and compares states and balances after every step (`test/model/`).
 *
 * The model is deterministic except where the protocol is random or leaves a choice open: which eligible node a
 * new task is dispatched to (a weighted draw), which of several equally valued queued tasks a freed node takes, and
 * which of several equally valued queued tasks a full queue evicts. There the model takes the chain's choice as an
 * {@link Observation} and checks that it was an allowed one ({@link ModelMismatch} otherwise). So the model stays
 * valid when the selection or the queue internals change, as long as their external behaviour does not.
 *
 * Scope: one hardware profile and one model set (every node is eligible for every task while Available and
 * healthy), image tasks (SD) of one size and one set of requirements (so the requirements hash of DESIGN §13.2 and
 * the text-task GPU rule never decide), one configuration (never changed), well-formed scores. Calls the model
 * does not know throw.
 */
import { TaskAbortReason, TaskError, TaskStatus, TaskType, NodeStatus, ReleaseOutcome } from "../types.js";
import { scoresMatch } from "../crypto/simhash.js";
import { taskNonce } from "../crypto/commitment.js";

/** Health scale of the registry (H = 1 is 10,000). */
export const HEALTH_ONE = 10_000;
/** Nodes below this health are not selected (H < 0.1). */
export const HEALTH_MIN = 1_000;
const HEALTH_SUCCESS_STEP = 1_500;
const WAD = 10n ** 18n;

/** The parameters the model needs (a subset of `TaskConfig` and `RegistryConfig`). */
export interface ModelConfig {
  minimumStake: bigint;
  samplingDivisor: bigint;
  distanceThreshold: number;
  queueTimeout: bigint;
  executionTimeout: bigint;
  validationTimeout: bigint;
  resultUploadTimeout: bigint;
  queueSizeFactor: bigint;
  minQueueCapacity: bigint;
  overhead: readonly [bigint, bigint, bigint];
  unitTime: readonly [bigint, bigint, bigint];
  /** DESIGN §13.3: the application's timer from start to the parameter upload. */
  uploadTimeout: bigint;
  /** DESIGN §13.2: validation tasks are created within this span after the original. */
  siblingWindow: bigint;
  /** Basis points of the fee a node is credited when the application never uploads. */
  noShowShare: bigint;
  minimumFee: readonly [bigint, bigint, bigint];
  treasury: string;
}

export interface ModelTask {
  id: string;
  nonce: string;
  creator: string;
  taskType: TaskType;
  status: TaskStatus;
  abortReason: TaskAbortReason;
  error: TaskError;
  fee: bigint;
  /** Queue value V = fee / T. */
  value: bigint;
  node: string | null;
  sequence: number;
  scoreSequence: number;
  createdAt: bigint;
  startedAt: bigint;
  uploadedAt: bigint;
  scoreReadyAt: bigint;
  validatedAt: bigint;
  score: string | null;
  qosScore: number;
  /** For a GroupValidated task: the other agreeing members, whose nodes share its fee. */
  peers: string[];
  /** What was credited for this task (payouts + refund); a fee must be settled exactly once. */
  settled: bigint;
}

export interface ModelNode {
  address: string;
  status: NodeStatus;
  stake: bigint;
  /** H as last written (×10,000); it recovers lazily from `healthAt` (see {@link recoveredHealth}). */
  health: number;
  /** When `health` was last brought up to date; 0: never joined. */
  healthAt: bigint;
}

/** `NodeRegistry.HEALTH_HALF_LIFE`: the health deficit 1 − H halves in this many seconds. */
export const HEALTH_HALF_LIFE = 6n * 60n * 60n;

/**
 * H after recovering from `since` to `now`, as `NodeRegistry._recoveredHealth` computes it: the deficit halves every
 * {@link HEALTH_HALF_LIFE}, linearly between two halvings, in integers.
 */
export function recoveredHealth(health: number, since: bigint, now: bigint): number {
  if (since === 0n || health >= HEALTH_ONE) return health;
  const elapsed = now - since;
  const halvings = elapsed / HEALTH_HALF_LIFE;
  if (halvings >= 14n) return HEALTH_ONE;
  let deficit = BigInt(HEALTH_ONE - health) >> halvings;
  deficit -= (deficit * (elapsed % HEALTH_HALF_LIFE)) / (2n * HEALTH_HALF_LIFE);
  return HEALTH_ONE - Number(deficit);
}

/** A revert the model predicts, by custom error name. */
export class ModelRevert extends Error {
  constructor(readonly errorName: string) {
    super(`model predicts revert ${errorName}`);
  }
}

/** The chain did something the model does not allow (a bug in one of them). */
export class ModelMismatch extends Error {}

/** The chain's choices during one transaction, in log order. */
export interface Observation {
  /** `TaskStarted(id, node)` events. */
  started: { id: string; node: string }[];
  /** `TaskAborted` events with reason `TaskFeeTooLow` (queue eviction). */
  evicted: string[];
}

export class NetworkModel {
  readonly tasks = new Map<string, ModelTask>();
  readonly nodes = new Map<string, ModelNode>();
  readonly usedNonces = new Set<string>();
  /** Queued task ids. */
  queue: string[] = [];
  /** Withdrawable balances in the task manager and in the registry. */
  readonly tmBalances = new Map<string, bigint>();
  readonly regBalances = new Map<string, bigint>();
  escrow = 0n;
  totalStaked = 0n;
  nodeCount = 0n;
  taskCount = 0;
  scoreCount = 0;
  /** Ether held by each contract (deposits minus withdrawals). */
  tmHeld = 0n;
  regHeld = 0n;
  /** Total slashed to the treasury. */
  slashed = 0n;

  protected obs: Observation = { started: [], evicted: [] };
  protected now = 0n;
  protected caller = "";

  constructor(readonly config: ModelConfig) {}

  /** A deep copy, so a predicted revert can be discarded. */
  clone(): NetworkModel {
    const copy = new (this.constructor as new (config: ModelConfig) => NetworkModel)(this.config);
    for (const [k, t] of this.tasks) copy.tasks.set(k, { ...t, peers: [...t.peers] });
    for (const [k, n] of this.nodes) copy.nodes.set(k, { ...n });
    for (const n of this.usedNonces) copy.usedNonces.add(n);
    copy.queue = [...this.queue];
    for (const [k, v] of this.tmBalances) copy.tmBalances.set(k, v);
    for (const [k, v] of this.regBalances) copy.regBalances.set(k, v);
    copy.escrow = this.escrow;
    copy.totalStaked = this.totalStaked;
    copy.nodeCount = this.nodeCount;
    copy.taskCount = this.taskCount;
    copy.scoreCount = this.scoreCount;
    copy.tmHeld = this.tmHeld;
    copy.regHeld = this.regHeld;
    copy.slashed = this.slashed;
    return copy;
  }

  /** Sets the caller, the block time and the chain's choices for the next action. */
  begin(caller: string, now: bigint, observation: Observation = { started: [], evicted: [] }): this {
    this.caller = caller.toLowerCase();
    this.now = now;
    this.obs = { started: [...observation.started], evicted: [...observation.evicted] };
    return this;
  }

  /** Fails unless every choice the chain reported was consumed by the action. */
  end(): void {
    if (this.obs.started.length || this.obs.evicted.length) {
      throw new ModelMismatch(`chain made choices the model did not expect: ${JSON.stringify(this.obs)}`);
    }
  }

  node(address: string): ModelNode {
    const key = address.toLowerCase();
    let node = this.nodes.get(key);
    if (!node) {
      node = { address: key, status: NodeStatus.Quit, stake: 0n, health: 0, healthAt: 0n };
      this.nodes.set(key, node);
    }
    return node;
  }

  task(id: string): ModelTask {
    const task = this.tasks.get(id);
    if (!task) throw new ModelRevert("TaskNotFound");
    return task;
  }

  deadline(task: ModelTask): bigint {
    const c = this.config;
    switch (task.status) {
      case TaskStatus.Pending:
      case TaskStatus.Queued:
        return task.createdAt + c.queueTimeout;
      case TaskStatus.Started:
        return task.startedAt + c.uploadTimeout;
      case TaskStatus.ParametersUploaded:
        return task.uploadedAt + c.executionTimeout;
      case TaskStatus.ScoreReady:
      case TaskStatus.ErrorReported:
        // DESIGN §13.3: the latest moment a group holding the task could still be validated.
        return (
          task.createdAt + c.siblingWindow + c.queueTimeout + c.uploadTimeout + c.executionTimeout + c.validationTimeout
        );
      case TaskStatus.Validated:
        return task.validatedAt + c.resultUploadTimeout;
      case TaskStatus.GroupValidated:
        // DESIGN §13.8: the node's own window, then one in which an agreeing member may upload instead.
        return task.validatedAt + 2n * c.resultUploadTimeout;
      default:
        return 0n;
    }
  }

  queueCapacity(): bigint {
    const scaled = this.config.queueSizeFactor * this.nodeCount;
    return scaled > this.config.minQueueCapacity ? scaled : this.config.minQueueCapacity;
  }

  taskValue(taskType: TaskType, size: bigint, fee: bigint): bigint {
    const t = this.config.overhead[taskType] + this.config.unitTime[taskType] * size;
    return t === 0n ? fee * WAD : (fee * WAD) / t;
  }

  // ===========================================================================================================
  // Applications
  // ===========================================================================================================

  /**
   * `createTask` (docs/randomness.md, commit first): the task is stored Pending with its fee in escrow and its nonce
   * used; no node is selected and nothing is queued until {@link dispatch}. (The harness runs with a beacon fee and a
   * dispatch bounty of 0, so the fee is the whole value sent.)
   */
  createTask(id: string, nonce: string, fee: bigint, taskType: TaskType, size: bigint): void {
    if (fee === 0n) throw new ModelRevert("TaskFeeZero");
    if (fee < this.config.minimumFee[taskType]) throw new ModelRevert("TaskFeeBelowMinimum");
    if (size === 0n) throw new ModelRevert("TaskSizeZero");
    if (this.tasks.has(id)) throw new ModelRevert("TaskAlreadyExists");
    if (this.usedNonces.has(nonce)) throw new ModelRevert("TaskNonceUsed");
    this.usedNonces.add(nonce);
    const task: ModelTask = {
      id,
      nonce,
      creator: this.caller,
      taskType,
      status: TaskStatus.Pending,
      abortReason: TaskAbortReason.None,
      error: TaskError.None,
      fee,
      value: this.taskValue(taskType, size, fee),
      node: null,
      sequence: ++this.taskCount,
      scoreSequence: 0,
      createdAt: this.now,
      startedAt: 0n,
      uploadedAt: 0n,
      scoreReadyAt: 0n,
      validatedAt: 0n,
      score: null,
      qosScore: 0,
      peers: [],
      settled: 0n,
    };
    this.tasks.set(id, task);
    this.escrow += fee;
    this.tmHeld += fee;
  }

  /**
   * `dispatchTasks([input of id])` once the task's beacon word has landed: what `createTask` did after storing the
   * task before the beacon. An eligible node takes it (the chain's draw, checked to be eligible); otherwise it is
   * queued, evicting a lowest-value queued task when the queue is full, or, when it would itself be the lowest of a
   * full queue, it ends EndAborted (`TaskFeeTooLow`) with its fee refunded (dispatch never reverts for a full queue:
   * that would hold every pending task behind it).
   */
  dispatch(id: string): void {
    const task = this.task(id);
    if (task.status !== TaskStatus.Pending) throw new ModelRevert("TaskNotNextPending");
    const eligible = [...this.nodes.values()].filter(
      (n) => n.status === NodeStatus.Available && n.health >= HEALTH_MIN,
    );
    if (eligible.length > 0) {
      const choice = this.obs.started.shift();
      if (!choice || choice.id !== id) throw new ModelMismatch(`task ${id} should have started on an eligible node`);
      const node = this.nodes.get(choice.node.toLowerCase());
      if (!node || !eligible.includes(node)) throw new ModelMismatch(`task ${id} started on ineligible ${choice.node}`);
      node.status = NodeStatus.Busy;
      this.start(task, node.address);
      return;
    }
    if (BigInt(this.queue.length) >= this.queueCapacity()) {
      const lowest = this.queue.reduce(
        (min, q) => (this.tasks.get(q)!.value < min ? this.tasks.get(q)!.value : min),
        task.value * 2n + 1n,
      );
      if (task.value <= lowest) {
        // Rejected by the full queue: the chain reports it as its own TaskFeeTooLow abort.
        const rejected = this.obs.evicted.shift();
        if (rejected !== id) throw new ModelMismatch(`task ${id} should have been rejected by the full queue`);
        this.abort(task, TaskAbortReason.TaskFeeTooLow);
        this.refund(task);
        return;
      }
      const evicted = this.obs.evicted.shift();
      if (!evicted || !this.queue.includes(evicted) || this.tasks.get(evicted)!.value !== lowest) {
        throw new ModelMismatch(`eviction of ${evicted} is not of a lowest-value queued task`);
      }
      const victim = this.tasks.get(evicted)!;
      this.queue = this.queue.filter((q) => q !== evicted);
      this.abort(victim, TaskAbortReason.TaskFeeTooLow);
      this.refund(victim);
    }
    this.move(task, TaskStatus.Queued);
    this.queue.push(id);
  }

  reportTaskParametersUploaded(id: string, blobInRoot: boolean): void {
    const task = this.task(id);
    this.onlyCreator(task);
    this.move(task, TaskStatus.ParametersUploaded);
    if (!blobInRoot) throw new ModelRevert("TaskBlobNotInRoot");
    task.uploadedAt = this.now;
  }

  validateSingleTask(id: string, samplingNumber: bigint): void {
    const task = this.task(id);
    this.onlyCreator(task);
    if (task.status !== TaskStatus.ScoreReady && task.status !== TaskStatus.ErrorReported) {
      throw new ModelRevert("TaskInvalidState");
    }
    if (samplingNumber % this.config.samplingDivisor === 0n) throw new ModelRevert("TaskSampled");
    if (task.status === TaskStatus.ScoreReady) {
      this.move(task, TaskStatus.Validated);
      task.validatedAt = this.now;
    } else {
      this.abort(task, TaskAbortReason.None);
      this.refund(task);
      this.release(task.node!, ReleaseOutcome.Neutral);
    }
  }

  /** `ids`: members k = 0, 1, 2 of `taskGUID` (the harness always reveals the right GUID). */
  validateTaskGroup(
    ids: readonly [string, string, string],
    taskGUID: string,
    samplingNumber: bigint,
    paramsProofValid: boolean,
  ): void {
    if (ids[0] === ids[1] || ids[0] === ids[2] || ids[1] === ids[2]) throw new ModelRevert("TaskGroupDuplicateMember");
    const original = this.task(ids[0]);
    this.onlyCreator(original);
    const members = ids.map((id) => this.task(id));
    for (const [k, m] of members.entries()) {
      if (m.creator !== original.creator) throw new ModelRevert("TaskGroupCreatorMismatch");
      if (m.nonce !== taskNonce(taskGUID, k as 0 | 1 | 2)) throw new ModelRevert("TaskGroupNonceMismatch");
      if (k !== 0) {
        if (m.sequence < original.sequence) throw new ModelRevert("TaskGroupNotOriginal");
        if (m.createdAt > original.createdAt + this.config.siblingWindow) {
          throw new ModelRevert("TaskGroupOutsideWindow");
        }
      }
      if (![TaskStatus.ScoreReady, TaskStatus.ErrorReported, TaskStatus.EndAborted].includes(m.status)) {
        throw new ModelRevert("TaskInvalidState");
      }
    }
    if (samplingNumber % this.config.samplingDivisor !== 0n) throw new ModelRevert("TaskNotSampled");
    const anyAborted = members.some((m) => m.status === TaskStatus.EndAborted);
    if (!anyAborted && !paramsProofValid) throw new ModelRevert("TaskParamsProofInvalid");
    this.settleGroup(members);
  }

  abortTask(id: string): void {
    const task = this.task(id);
    // No cancel while Queued (DESIGN §13.1): the creator waits for a node or the queue timeout like anyone.
    const deadline = this.deadline(task);
    if (deadline === 0n) throw new ModelRevert("TaskInvalidState");
    if (this.now < deadline) throw new ModelRevert("TaskDeadlineNotReached");
    const node = task.node;
    switch (task.status) {
      case TaskStatus.Pending:
        // The model does not follow the beacon: a task is Pending in it only between `createTask` and `dispatch`,
        // and the harness delivers the word in between. An abort there is the no-word case (the chain reverts
        // `TaskDispatchable` once the word landed; the harness never aborts a task it has not dispatched).
        this.abort(task, TaskAbortReason.QueueTimeout);
        this.refund(task);
        break;
      case TaskStatus.Queued:
        this.queue = this.queue.filter((q) => q !== id);
        this.abort(task, TaskAbortReason.QueueTimeout);
        this.refund(task);
        break;
      case TaskStatus.Started: {
        // DESIGN §13.3: the application's no-show; the node keeps its health and is credited noShowShare.
        this.abort(task, TaskAbortReason.Timeout);
        const share = (task.fee * this.config.noShowShare) / 10_000n;
        this.escrow -= task.fee;
        this.creditTm(node!, share);
        this.creditTm(task.creator, task.fee - share);
        task.settled += task.fee;
        this.release(node!, ReleaseOutcome.Neutral);
        break;
      }
      case TaskStatus.ParametersUploaded:
        this.abort(task, TaskAbortReason.Timeout);
        this.refund(task);
        this.release(node!, ReleaseOutcome.Timeout);
        break;
      case TaskStatus.ScoreReady:
      case TaskStatus.ErrorReported:
        this.abort(task, TaskAbortReason.ValidationTimeout);
        this.pay(task, node!, task.fee);
        this.release(node!, ReleaseOutcome.Success);
        break;
      default:
        this.abort(task, TaskAbortReason.ResultUploadTimeout);
        this.refund(task);
        this.release(node!, ReleaseOutcome.Timeout);
    }
  }

  // ===========================================================================================================
  // Nodes
  // ===========================================================================================================

  submitTaskScore(id: string, score: string): void {
    const task = this.task(id);
    this.onlySelectedNode(task);
    this.move(task, TaskStatus.ScoreReady);
    task.score = score;
    task.scoreReadyAt = this.now;
    task.scoreSequence = ++this.scoreCount;
  }

  reportTaskError(id: string): void {
    const task = this.task(id);
    this.onlySelectedNode(task);
    this.move(task, TaskStatus.ErrorReported);
    task.error = TaskError.ParametersValidationFailed;
    task.scoreReadyAt = this.now;
    task.scoreSequence = ++this.scoreCount;
  }

  reportTaskResultUploaded(id: string, blobInRoot: boolean, proofValid: boolean): void {
    const task = this.task(id);
    // The task's own node, or (DESIGN §13.8) an agreeing member's node once the task's own window has passed.
    const own = this.caller === task.node;
    if (!own) {
      const peer =
        task.status === TaskStatus.GroupValidated
          ? task.peers.map((p) => this.tasks.get(p)!).find((p) => p.node === this.caller)
          : undefined;
      if (!peer) throw new ModelRevert("TaskNotSelectedNode");
      if (this.now < task.validatedAt + this.config.resultUploadTimeout)
        throw new ModelRevert("TaskResultFallbackNotOpen");
    }
    const group = task.status === TaskStatus.GroupValidated;
    this.move(task, group ? TaskStatus.EndGroupSuccess : TaskStatus.EndSuccess);
    if (!blobInRoot) throw new ModelRevert("TaskBlobNotInRoot");
    if (!proofValid) throw new ModelRevert("TaskResultProofInvalid");
    if (group) {
      this.escrow -= task.fee;
      const peers = task.peers.map((p) => this.tasks.get(p)!);
      const total = peers.reduce((s, p) => s + BigInt(p.qosScore), own ? BigInt(task.qosScore) : 0n);
      let paid = 0n;
      for (const peer of peers) {
        const share = (task.fee * BigInt(peer.qosScore)) / total;
        paid += share;
        this.creditTm(peer.node!, share);
      }
      if (own || task.fee !== paid) this.creditTm(this.caller, task.fee - paid);
      task.settled += task.fee;
    } else {
      this.pay(task, task.node!, task.fee);
    }
    this.release(task.node!, own ? ReleaseOutcome.Success : ReleaseOutcome.Timeout);
  }

  join(stake: bigint): void {
    const node = this.node(this.caller);
    if (node.status !== NodeStatus.Quit) throw new ModelRevert("NodeInvalidStatus");
    if (stake < this.config.minimumStake) throw new ModelRevert("NodeStakeTooLow");
    node.stake = stake;
    // QoS history stays with the address across quit and re-join (DESIGN §13.3); a new node starts at H = 1.
    node.health = node.healthAt === 0n ? HEALTH_ONE : recoveredHealth(node.health, node.healthAt, this.now);
    node.healthAt = this.now;
    this.nodeCount += 1n;
    this.totalStaked += stake;
    this.regHeld += stake;
    node.status = NodeStatus.Available;
    this.dispatchQueuedTo(node);
  }

  quit(): void {
    const node = this.node(this.caller);
    if (node.status === NodeStatus.Available || node.status === NodeStatus.Paused) this.removeNode(node);
    else if (node.status === NodeStatus.Busy || node.status === NodeStatus.PendingPause) {
      node.status = NodeStatus.PendingQuit;
    } else throw new ModelRevert("NodeInvalidStatus");
  }

  pause(): void {
    const node = this.node(this.caller);
    if (node.status === NodeStatus.Available) node.status = NodeStatus.Paused;
    else if (node.status === NodeStatus.Busy) node.status = NodeStatus.PendingPause;
    else throw new ModelRevert("NodeInvalidStatus");
  }

  resume(): void {
    const node = this.node(this.caller);
    if (node.status === NodeStatus.Paused) {
      node.status = NodeStatus.Available;
      this.dispatchQueuedTo(node);
    } else if (node.status === NodeStatus.PendingPause) node.status = NodeStatus.Busy;
    else throw new ModelRevert("NodeInvalidStatus");
  }

  /** `withdraw()` from the task manager (`registry` false) or the registry. */
  withdraw(registry: boolean): bigint {
    const balances = registry ? this.regBalances : this.tmBalances;
    const amount = balances.get(this.caller) ?? 0n;
    if (amount === 0n) throw new ModelRevert("PaymentNothingToWithdraw");
    balances.delete(this.caller);
    if (registry) this.regHeld -= amount;
    else this.tmHeld -= amount;
    return amount;
  }

  // ===========================================================================================================
  // Internals
  // ===========================================================================================================

  /** The moves of DESIGN §2 (one table, as the spec's). */
  static readonly ALLOWED: ReadonlyMap<TaskStatus, readonly TaskStatus[]> = new Map([
    [TaskStatus.Queued, [TaskStatus.Pending]],
    [TaskStatus.Started, [TaskStatus.Pending, TaskStatus.Queued]],
    [TaskStatus.ParametersUploaded, [TaskStatus.Started]],
    [TaskStatus.ErrorReported, [TaskStatus.ParametersUploaded]],
    [TaskStatus.ScoreReady, [TaskStatus.ParametersUploaded]],
    [TaskStatus.Validated, [TaskStatus.ScoreReady]],
    [TaskStatus.GroupValidated, [TaskStatus.ScoreReady]],
    [TaskStatus.EndInvalidated, [TaskStatus.ScoreReady, TaskStatus.ErrorReported]],
    [TaskStatus.EndSuccess, [TaskStatus.Validated]],
    [
      TaskStatus.EndAborted,
      [
        TaskStatus.Pending,
        TaskStatus.Queued,
        TaskStatus.Started,
        TaskStatus.ParametersUploaded,
        TaskStatus.ErrorReported,
        TaskStatus.ScoreReady,
        TaskStatus.Validated,
        TaskStatus.GroupValidated,
      ],
    ],
    [TaskStatus.EndGroupRefund, [TaskStatus.ScoreReady]],
    [TaskStatus.EndGroupSuccess, [TaskStatus.GroupValidated]],
  ]);

  /** Whether DESIGN §2 allows a task to move from `from` to `to` in one step. */
  static allowed(from: TaskStatus, to: TaskStatus): boolean {
    return NetworkModel.ALLOWED.get(to)?.includes(from) ?? false;
  }

  protected move(task: ModelTask, to: TaskStatus): void {
    if (!NetworkModel.allowed(task.status, to)) throw new ModelRevert("TaskInvalidState");
    task.status = to;
  }

  protected onlyCreator(task: ModelTask): void {
    if (this.caller !== task.creator) throw new ModelRevert("TaskNotCreator");
  }

  protected onlySelectedNode(task: ModelTask): void {
    if (this.caller !== task.node) throw new ModelRevert("TaskNotSelectedNode");
  }

  protected start(task: ModelTask, node: string): void {
    this.move(task, TaskStatus.Started);
    task.node = node;
    task.startedAt = this.now;
  }

  protected abort(task: ModelTask, reason: TaskAbortReason): void {
    this.move(task, TaskStatus.EndAborted);
    task.abortReason = reason;
  }

  protected creditTm(account: string, amount: bigint): void {
    if (amount === 0n) return;
    this.tmBalances.set(account, (this.tmBalances.get(account) ?? 0n) + amount);
  }

  protected creditReg(account: string, amount: bigint): void {
    if (amount === 0n) return;
    const key = account.toLowerCase();
    this.regBalances.set(key, (this.regBalances.get(key) ?? 0n) + amount);
  }

  protected refund(task: ModelTask): void {
    this.escrow -= task.fee;
    task.settled += task.fee;
    this.creditTm(task.creator, task.fee);
  }

  protected pay(task: ModelTask, node: string, amount: bigint): void {
    this.escrow -= amount;
    task.settled += amount;
    this.creditTm(node, amount);
  }

  protected removeNode(node: ModelNode): void {
    const stake = node.stake;
    node.stake = 0n;
    this.totalStaked -= stake;
    this.nodeCount -= 1n;
    node.status = NodeStatus.Quit;
    this.creditReg(node.address, stake);
  }

  protected release(address: string, outcome: ReleaseOutcome): void {
    const node = this.node(address);
    if (outcome !== ReleaseOutcome.Neutral && node.health < HEALTH_ONE) {
      node.health = recoveredHealth(node.health, node.healthAt, this.now);
      node.healthAt = this.now;
    }
    // (A Timeout is also a 0 in the node's score window, which the model does not track: a kick-out needs 50 of
    // them, more than a model run gives one node.)
    if (outcome === ReleaseOutcome.Success) node.health = Math.min(HEALTH_ONE, node.health + HEALTH_SUCCESS_STEP);
    else if (outcome === ReleaseOutcome.Timeout) {
      node.health = Math.floor((node.health * 3) / 10);
      node.healthAt = this.now;
    }
    if (node.status === NodeStatus.Busy) {
      node.status = NodeStatus.Available;
      this.dispatchQueuedTo(node);
    } else if (node.status === NodeStatus.PendingPause) node.status = NodeStatus.Paused;
    else if (node.status === NodeStatus.PendingQuit) this.removeNode(node);
    else throw new ModelMismatch(`released node ${address} is ${NodeStatus[node.status]}`);
  }

  /** A node that became Available takes the highest-value queued task (any of the equal best ones). */
  protected dispatchQueuedTo(node: ModelNode): void {
    if (this.queue.length === 0 || node.health < HEALTH_MIN) return;
    const best = this.queue.reduce((max, q) => (this.tasks.get(q)!.value > max ? this.tasks.get(q)!.value : max), 0n);
    const choice = this.obs.started.shift();
    if (!choice || choice.node.toLowerCase() !== node.address) {
      throw new ModelMismatch(`node ${node.address} should have taken a queued task`);
    }
    if (!this.queue.includes(choice.id) || this.tasks.get(choice.id)!.value !== best) {
      throw new ModelMismatch(`node ${node.address} took ${choice.id}, not a highest-value queued task`);
    }
    this.queue = this.queue.filter((q) => q !== choice.id);
    node.status = NodeStatus.Busy;
    this.start(this.tasks.get(choice.id)!, node.address);
  }

  protected slash(task: ModelTask): void {
    const node = this.node(task.node!);
    const amount = node.stake;
    node.stake = 0n;
    this.totalStaked -= amount;
    this.nodeCount -= 1n;
    node.status = NodeStatus.Quit;
    this.slashed += amount;
    this.creditReg(this.config.treasury, amount);
  }

  protected invalidate(task: ModelTask): void {
    this.move(task, TaskStatus.EndInvalidated);
    this.refund(task);
    this.slash(task);
  }

  protected abortMember(task: ModelTask): void {
    if (task.status === TaskStatus.EndAborted) return;
    this.abort(task, TaskAbortReason.IncorrectResult);
    this.refund(task);
    this.release(task.node!, ReleaseOutcome.Neutral);
  }

  /** DESIGN §5: the agreeing set is every scored member that matches another scored member. */
  protected settleGroup(members: ModelTask[]): void {
    const scored = members.map((m) => m.status === TaskStatus.ScoreReady);
    const errored = members.map((m) => m.status === TaskStatus.ErrorReported);
    const scoredCount = scored.filter(Boolean).length;
    const errorCount = errored.filter(Boolean).length;
    const agrees = [false, false, false];
    for (let i = 0; i < 3; i++) {
      for (let j = i + 1; j < 3; j++) {
        if (
          scored[i] &&
          scored[j] &&
          scoresMatch(members[i].taskType, members[i].score!, members[j].score!, this.config.distanceThreshold)
        ) {
          agrees[i] = agrees[j] = true;
        }
      }
    }
    const agreeCount = agrees.filter(Boolean).length;
    if (agreeCount >= 2) {
      this.rewardAgreeing(members, agrees);
      for (let i = 0; i < 3; i++) if (!agrees[i] && (scored[i] || errored[i])) this.invalidate(members[i]);
    } else if (scoredCount === 1 && errorCount === 2) {
      for (let i = 0; i < 3; i++) {
        if (scored[i]) this.invalidate(members[i]);
        else this.abortMember(members[i]);
      }
    } else {
      for (const m of members) this.abortMember(m);
    }
  }

  /** 10/5/2 by speed (score time − upload time, DESIGN §13.7; ties by submission order); the earliest created is
   * validated. */
  protected rewardAgreeing(members: ModelTask[], agrees: boolean[]): void {
    const ladder = [10, 5, 2];
    const speed = (t: ModelTask) => t.scoreReadyAt - t.uploadedAt;
    const faster = (a: ModelTask, b: ModelTask) =>
      speed(a) < speed(b) || (speed(a) === speed(b) && a.scoreSequence < b.scoreSequence);
    const qos = members.map((m, i) =>
      agrees[i] ? ladder[members.filter((o, j) => j !== i && agrees[j] && faster(o, m)).length] : 0,
    );
    let winner = -1;
    for (let i = 0; i < 3; i++) {
      if (agrees[i] && (winner < 0 || members[i].sequence < members[winner].sequence)) winner = i;
    }
    for (let i = 0; i < 3; i++) {
      if (!agrees[i]) continue;
      const m = members[i];
      m.qosScore = qos[i];
      if (i === winner) {
        this.move(m, TaskStatus.GroupValidated);
        m.validatedAt = this.now;
      } else {
        members[winner].peers.push(m.id);
        this.move(m, TaskStatus.EndGroupRefund);
        this.refund(m);
      }
    }
    for (let i = 0; i < 3; i++) {
      if (agrees[i] && i !== winner) this.release(members[i].node!, ReleaseOutcome.Success);
    }
  }
}
