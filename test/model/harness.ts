/**
 * Model-based testing harness: applies random sequences of application, node, relay and clock actions to the chain
 * and to the reference model of `src/model/network.ts`, and compares them after every step.
 *
 * Proofs are not the subject here, so the VRF and Groth16 verifiers are the test-only mocks
 * (`contracts/mocks/MockSamplingVerifier.sol`, `MockGroth16Verifier.sol`); the seed/key binding, the Merkle proofs
 * against posted relay roots and every state rule run on the real contracts. Each step also checks, from the chain
 * alone: money conservation, each fee settled exactly once (from `TaskFeePaid`/`TaskFeeRefunded` events), slashes
 * only with EndInvalidated, and status moves only along DESIGN §2. Every sequence ends by showing that anyone can
 * end every open task once its deadline passes, and that the contracts then hold exactly the stakes.
 */
import { network } from "hardhat";
import { readFile, readdir } from "node:fs/promises";
import {
  Contract,
  ContractFactory,
  Interface,
  SigningKey,
  ZeroHash,
  Wallet,
  ZeroAddress,
  keccak256,
  parseEther,
  solidityPacked,
  toUtf8Bytes,
  zeroPadValue,
  toBeHex,
  type ContractTransactionReceipt,
  type ContractTransactionResponse,
  type Signer,
} from "ethers";
import {
  MockGroth16Verifier__factory,
  MockSamplingVerifier__factory,
  NetworkLens__factory,
  NodeRegistry__factory,
  RelayRoots__factory,
  TaskDispatch__factory,
  TaskManager__factory,
  TaskRules__factory,
  VRFBeacon__factory,
  type NetworkLens,
  type NodeRegistry,
  type RelayRoots,
  type TaskManager,
  type VRFBeacon,
} from "../../typechain-types/index.js";
import type { ITaskManager } from "../../typechain-types/TaskManager.js";
import { BlobBatch } from "../../src/crypto/merkle.js";
import { modelId, taskNonce } from "../../src/crypto/commitment.js";
import { subgroupWitness } from "../../src/crypto/babyjub.js";
import { DEFAULT_REGISTRY_PARAMETERS, DEFAULT_TASK_PARAMETERS } from "../../src/config.js";
import {
  NetworkModel,
  ModelMismatch,
  ModelRevert,
  type ModelConfig,
  type Observation,
} from "../../src/model/network.js";
import { NodeStatus, TaskAbortReason, TaskStatus, TaskType, isFinal } from "../../src/types.js";

export const connection = await network.create();
const { ethers, networkHelpers } = connection;

// ---------------------------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------------------------

/** One step. Task and actor fields are indices, taken modulo what exists when the step runs. */
export type Action =
  | { t: "create"; app: number; fee: number }
  | { t: "group"; app: number; fee: number }
  | { t: "replay"; app: number; task: number; sameCommitment: boolean }
  | { t: "advance"; task: number; pick: number }
  | { t: "params"; task: number; byStranger: boolean; inRoot: boolean }
  | { t: "score"; task: number; byOtherNode: boolean; score: number }
  | { t: "error"; task: number }
  | { t: "validate"; task: number; byStranger: boolean; lie: boolean }
  | { t: "result"; task: number; byOtherNode: boolean; inRoot: boolean; proofValid: boolean }
  | { t: "abort"; task: number; by: number }
  | { t: "warp"; seconds: number }
  | { t: "join"; node: number; stake: number }
  | { t: "quit"; node: number }
  | { t: "pause"; node: number }
  | { t: "resume"; node: number }
  | { t: "withdraw"; who: number; registry: boolean };

/** The steps every sequence starts with. */
export const SETUP: readonly Action[] = [
  { t: "join", node: 0, stake: 1 },
  { t: "join", node: 1, stake: 2 },
  { t: "join", node: 2, stake: 0 },
];
export const FEES = [1n, 2n, 3n, 5n].map((k) => k * 10n ** 15n);
export const STAKES = [parseEther("400"), parseEther("800"), parseEther("4000"), parseEther("100")];
export const WARPS = [30, 10 * 60, 16 * 60, 31 * 60, 61 * 60];
const SCORE_A = 0x0123456789abcdefn;
/** A (twice, so agreement is common), a near-A that matches A (8 bits away), and B (matches neither). */
export const SCORES = [SCORE_A, SCORE_A, SCORE_A ^ 0xffn, SCORE_A ^ 0xffffffffffffffffn].map((s) =>
  zeroPadValue(toBeHex(s), 8),
);
const SAMPLED = 10n;
const NOT_SAMPLED = 11n;
export const MODEL_SDXL = modelId("stabilityai/sdxl-turbo");
/** A valid Baby Jubjub key (the subgroup generator Base8). */
export const BJJ: [bigint, bigint] = [
  5299619240641551281634865583518297030282874472190772894086521144482721001553n,
  16950150798460657717958625567821834550301663161624707787222815936182638968203n,
];
/** The subgroup witness of {@link BJJ}: R with [8]R = BJJ (DESIGN §13.4). */
export const BJJ_WITNESS: [bigint, bigint] = subgroupWitness(BJJ);
export type Proof = { a: [bigint, bigint]; b: [[bigint, bigint], [bigint, bigint]]; c: [bigint, bigint] };
/** The mock Groth16 verifier accepts a proof iff a[0] == 1. */
export const VALID_PROOF: Proof = {
  a: [1n, 0n],
  b: [
    [0n, 0n],
    [0n, 0n],
  ],
  c: [0n, 0n],
};
export const INVALID_PROOF: Proof = {
  a: [0n, 0n],
  b: [
    [0n, 0n],
    [0n, 0n],
  ],
  c: [0n, 0n],
};

/** The network parameters of the model runs: a small queue, so that eviction and a full queue's rejection happen. */
export const TASK_CONFIG = { ...DEFAULT_TASK_PARAMETERS, queueSizeFactor: 1n, minQueueCapacity: 3n };

// ---------------------------------------------------------------------------------------------------------------
// World
// ---------------------------------------------------------------------------------------------------------------

export interface Actor {
  address: string;
  signer: Signer;
  publicKey: [bigint, bigint];
}

export interface World {
  admin: Signer;
  tm: TaskManager;
  /** The randomness beacon and Chainlink's mock coordinator behind it (fee 0, no dispatch bounty). */
  beacon: VRFBeacon;
  coordinator: Contract;
  registry: NodeRegistry;
  relayRoots: RelayRoots;
  lens: NetworkLens;
  apps: Actor[];
  nodes: Actor[];
  stranger: Actor;
  relay: Actor;
  treasury: Actor;
  config: ModelConfig;
  errors: Interface;
}

export async function actor(label: string): Promise<Actor> {
  const key = new SigningKey(keccak256(toUtf8Bytes(`vss-model:${label}`)));
  const address = new Wallet(key).address;
  await networkHelpers.impersonateAccount(address);
  await networkHelpers.setBalance(address, parseEther("1000000"));
  const pub = key.publicKey; // 0x04 ‖ x ‖ y
  return {
    address,
    signer: await ethers.getSigner(address),
    publicKey: [BigInt("0x" + pub.slice(4, 68)), BigInt("0x" + pub.slice(68))],
  };
}

export async function deployWorld(): Promise<World> {
  const [admin] = await ethers.getSigners();
  const relay = await actor("relay");
  const treasury = await actor("treasury");
  const stranger = await actor("stranger");
  const apps = [await actor("app-0"), await actor("app-1")];
  const nodes = [await actor("node-0"), await actor("node-1"), await actor("node-2"), await actor("node-3")];
  const sampling = await new MockSamplingVerifier__factory(admin).deploy();
  const groth = await new MockGroth16Verifier__factory(admin).deploy();
  const relayRoots = await new RelayRoots__factory(admin).deploy(await admin.getAddress());
  const registry = await new NodeRegistry__factory(admin).deploy(await admin.getAddress(), {
    ...DEFAULT_REGISTRY_PARAMETERS,
    treasury: treasury.address,
  });
  const rules = await new TaskRules__factory(admin).deploy();
  const dispatch = await new TaskDispatch__factory(admin).deploy();
  const coordinator = await deployMockCoordinator(admin);
  const beacon = await new VRFBeacon__factory(admin).deploy(coordinator, ZeroHash, 3, 600, 0);
  const tm = await new TaskManager__factory(
    {
      "project/contracts/libraries/TaskRules.sol:TaskRules": await rules.getAddress(),
      "project/contracts/libraries/TaskDispatch.sol:TaskDispatch": await dispatch.getAddress(),
    },
    admin,
  ).deploy(await admin.getAddress(), registry, relayRoots, sampling, groth, groth, beacon, 0n, TASK_CONFIG);
  await (await beacon.bind(tm)).wait();
  await (await registry.setTaskManager(tm)).wait();
  await (await relayRoots.grantRole(await relayRoots.RELAY_ROLE(), relay.address)).wait();
  await (await tm.registerAppKey(BJJ, BJJ_WITNESS)).wait();
  const lens = await new NetworkLens__factory(admin).deploy();
  const errors = new Interface([
    ...TaskManager__factory.abi.filter((f) => f.type === "error"),
    ...NodeRegistry__factory.abi.filter((f) => f.type === "error"),
    ...RelayRoots__factory.abi.filter((f) => f.type === "error"),
  ]);
  const config: ModelConfig = {
    minimumStake: DEFAULT_REGISTRY_PARAMETERS.minimumStake,
    samplingDivisor: TASK_CONFIG.samplingDivisor,
    distanceThreshold: Number(TASK_CONFIG.distanceThreshold),
    queueTimeout: TASK_CONFIG.queueTimeout,
    executionTimeout: TASK_CONFIG.executionTimeout,
    validationTimeout: TASK_CONFIG.validationTimeout,
    resultUploadTimeout: TASK_CONFIG.resultUploadTimeout,
    queueSizeFactor: TASK_CONFIG.queueSizeFactor,
    minQueueCapacity: TASK_CONFIG.minQueueCapacity,
    overhead: TASK_CONFIG.overhead,
    unitTime: TASK_CONFIG.unitTime,
    uploadTimeout: TASK_CONFIG.uploadTimeout,
    siblingWindow: TASK_CONFIG.siblingWindow,
    noShowShare: TASK_CONFIG.noShowShare,
    minimumFee: TASK_CONFIG.minimumFee,
    treasury: treasury.address.toLowerCase(),
  };
  return {
    admin,
    tm,
    beacon,
    coordinator,
    registry,
    relayRoots,
    lens,
    apps,
    nodes,
    stranger,
    relay,
    treasury,
    config,
    errors,
  };
}

/**
 * For tests that use the world without the model: delivers the beacon word in flight (as the VRF service would) and
 * dispatches the oldest pending task, whose `createTask` input is `input`; returns the dispatch receipt, which holds
 * the task's `TaskCreated` (its sampling seed) and `TaskStarted` or `TaskQueued`.
 */
export async function deliverAndDispatch(
  world: World,
  input: ITaskManager.TaskInputStruct,
): Promise<ContractTransactionReceipt> {
  if (await world.beacon.inFlight()) {
    const fulfil = world.coordinator.connect(world.stranger.signer).getFunction("fulfillRandomWords");
    await (await fulfil(await world.beacon.requestId(), world.beacon)).wait();
  }
  return (await (await world.tm.connect(world.stranger.signer).dispatchTasks([input])).wait())!;
}

/**
 * Chainlink's `VRFCoordinatorV2_5Mock(0, 0, 1e18)`: it charges nothing, and whoever calls it chooses when the word
 * lands. The build compiles it (`contracts/mocks/VRFCoordinatorMock.sol` imports it) but emits no artifact for a
 * contract of an npm package, so its ABI and bytecode are read from the build info.
 */
async function deployMockCoordinator(admin: Signer): Promise<Contract> {
  const source = "npm/@chainlink/contracts@1.5.0/src/v0.8/vrf/mocks/VRFCoordinatorV2_5Mock.sol";
  const dir = new URL("../../artifacts/build-info/", import.meta.url);
  for (const file of (await readdir(dir)).filter((f) => f.endsWith(".output.json"))) {
    const build = JSON.parse(await readFile(new URL(file, dir), "utf8"));
    const compiled = build.output?.contracts?.[source]?.VRFCoordinatorV2_5Mock;
    if (!compiled) continue;
    const factory = new ContractFactory(compiled.abi, compiled.evm.bytecode.object, admin);
    const coordinator = await factory.deploy(0n, 0n, 10n ** 18n);
    await coordinator.waitForDeployment();
    return coordinator as Contract;
  }
  throw new Error(`no build info holds ${source}: run npx hardhat build`);
}

// ---------------------------------------------------------------------------------------------------------------
// Running a sequence
// ---------------------------------------------------------------------------------------------------------------

/** A divergence between chain and model, or a broken property, at a step. */
export class SequenceFailure extends Error {
  constructor(
    readonly step: number,
    readonly action: Action | { t: "liveness" },
    message: string,
  ) {
    super(`step ${step} ${JSON.stringify(action)}: ${message}`);
  }
}

interface Group {
  guid: string;
  ids: string[];
}

type ModelFactory = (config: ModelConfig) => NetworkModel;

/** One sequence against a fresh copy of the deployed world (the caller restores a snapshot around it). */
export class SequenceRun {
  model: NetworkModel;
  readonly ids: string[] = [];
  readonly nonces = new Map<string, string>();
  readonly guids = new Map<string, string>();
  readonly groups = new Map<string, Group>();
  readonly seeds = new Map<string, bigint>();
  readonly settledByEvents = new Map<string, bigint>();
  readonly lastStatus = new Map<string, TaskStatus>();
  private counter = 0;
  private now = 0n;
  private step = 0;
  private current: Action | { t: "liveness" } = { t: "liveness" };

  constructor(
    readonly world: World,
    makeModel: ModelFactory,
    readonly label: string,
  ) {
    this.model = makeModel(world.config);
  }

  async init(): Promise<void> {
    const block = await ethers.provider.getBlock("latest");
    this.now = BigInt(block!.timestamp);
  }

  async run(actions: readonly Action[]): Promise<void> {
    await this.init();
    // Every sequence starts with three nodes (part of the world, not of the sequence), so that groups can run.
    this.current = { t: "liveness" };
    for (const a of SETUP) await this.apply(a);
    for (let i = 0; i < actions.length; i++) {
      this.step = i;
      this.current = actions[i];
      await this.apply(actions[i]);
    }
    this.step = actions.length;
    this.current = { t: "liveness" };
    await this.endEverything();
  }

  private fail(message: string): never {
    throw new SequenceFailure(this.step, this.current, message);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Chain + model in lockstep
  // -------------------------------------------------------------------------------------------------------------

  /** Sends one transaction at the model's next second and applies `modelOp` with the chain's observed choices. */
  private async both(
    from: Actor,
    send: () => Promise<ContractTransactionResponse>,
    modelOp: (m: NetworkModel) => unknown,
    created?: string,
  ): Promise<ContractTransactionReceipt | null> {
    this.now += 1n;
    await ethers.provider.send("evm_setNextBlockTimestamp", [Number(this.now)]);
    let receipt: ContractTransactionReceipt | null = null;
    let chainError: string | null = null;
    try {
      receipt = await (await send()).wait();
    } catch (e) {
      chainError = this.revertName(e);
    }
    const next = this.model.clone();
    let modelError: string | null = null;
    try {
      next.begin(from.address, this.now, receipt ? this.observe(receipt) : undefined);
      const result = modelOp(next);
      next.end();
      if (receipt && typeof result === "bigint") this.checkWithdrawn(receipt, result);
    } catch (e) {
      if (e instanceof ModelRevert) modelError = e.errorName;
      else if (e instanceof ModelMismatch) this.fail(e.message);
      else throw e;
    }
    if (chainError !== modelError) {
      this.fail(
        `chain ${chainError ? `reverted ${chainError}` : "succeeded"}, model ${modelError ? `predicts ${modelError}` : "predicts success"}`,
      );
    }
    if (receipt) {
      this.model = next;
      // A task the transaction created is compared from this step on (its Pending state included).
      if (created !== undefined && !this.ids.includes(created)) this.ids.push(created);
      this.checkEvents(receipt);
    } else {
      // A transaction that reverted was not mined: the chain's clock did not move.
      this.now -= 1n;
    }
    await this.compare();
    return receipt;
  }

  private revertName(e: unknown): string {
    const err = e as { data?: string; message?: string; info?: { error?: { data?: string } } };
    const data = err.data ?? err.info?.error?.data;
    if (typeof data === "string" && data.length >= 10) {
      const parsed = this.world.errors.parseError(data);
      if (parsed) return parsed.name;
    }
    const m =
      /custom error '(\w+)\(/.exec(err.message ?? "") ??
      /reverted with reason string '([^']*)'/.exec(err.message ?? "");
    if (m) return m[1];
    throw e;
  }

  private observe(receipt: ContractTransactionReceipt): Observation {
    const obs: Observation = { started: [], evicted: [] };
    const tmAddress = this.world.tm.target.toString().toLowerCase();
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== tmAddress) continue;
      const parsed = this.world.tm.interface.parseLog(log);
      if (parsed?.name === "TaskStarted") obs.started.push({ id: parsed.args[0], node: parsed.args[1] });
      if (parsed?.name === "TaskAborted" && Number(parsed.args[3]) === TaskAbortReason.TaskFeeTooLow) {
        obs.evicted.push(parsed.args[0]);
      }
    }
    return obs;
  }

  private checkWithdrawn(receipt: ContractTransactionReceipt, expected: bigint): void {
    const topic = this.world.tm.interface.getEvent("Withdrawn").topicHash;
    const log = receipt.logs.find((l) => l.topics[0] === topic);
    if (!log) this.fail("withdraw emitted no Withdrawn");
    const amount = BigInt(this.world.tm.interface.parseLog(log)!.args[2]);
    if (amount !== expected) this.fail(`withdrew ${amount}, model ${expected}`);
  }

  /** Chain-only properties: fees settled once (events), slashes only with EndInvalidated. */
  private checkEvents(receipt: ContractTransactionReceipt): void {
    const tmAddress = this.world.tm.target.toString().toLowerCase();
    const invalidated = new Set<string>();
    const slashed: string[] = [];
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() === tmAddress) {
        const parsed = this.world.tm.interface.parseLog(log);
        if (parsed?.name === "TaskFeePaid" || parsed?.name === "TaskFeeRefunded") {
          const id = parsed.args[0] as string;
          this.settledByEvents.set(id, (this.settledByEvents.get(id) ?? 0n) + BigInt(parsed.args[2]));
        }
        if (parsed?.name === "TaskEndInvalidated") invalidated.add(parsed.args[0]);
      } else {
        const parsed = this.world.registry.interface.parseLog(log);
        if (parsed?.name === "NodeSlashed") slashed.push(parsed.args[1]);
      }
    }
    for (const id of slashed) {
      if (!invalidated.has(id)) this.fail(`NodeSlashed for ${id} without TaskEndInvalidated in the same transaction`);
    }
    if (invalidated.size !== slashed.length) this.fail("an EndInvalidated task without exactly one slash");
  }

  /** Compares every task, node, balance and total, and the chain-only properties. */
  async compare(): Promise<void> {
    const w = this.world;
    const nodes = w.nodes.map((n) => n.address);
    const accounts = [...w.apps, ...w.nodes, w.stranger, w.treasury].map((a) => a.address);
    const [tasks, nodeViews, tmW, regW, totals, queued] = await w.lens.read(
      w.tm,
      w.registry,
      this.ids,
      nodes,
      accounts,
    );
    const m = this.model;
    for (let i = 0; i < this.ids.length; i++) {
      const id = this.ids[i];
      const t = m.tasks.get(id)!;
      const c = tasks[i];
      const status = Number(c.status) as TaskStatus;
      if (status !== t.status) this.fail(`task ${i} status ${TaskStatus[status]}, model ${TaskStatus[t.status]}`);
      if (Number(c.abortReason) !== t.abortReason)
        this.fail(`task ${i} abort reason ${c.abortReason}, model ${t.abortReason}`);
      if (c.selectedNode.toLowerCase() !== (t.node ?? ZeroAddress))
        this.fail(`task ${i} node ${c.selectedNode}, model ${t.node}`);
      if (c.fee !== t.fee) this.fail(`task ${i} fee ${c.fee}, model ${t.fee}`);
      // Each fee is paid out or refunded exactly once, and only when the task is final.
      const settled = this.settledByEvents.get(id) ?? 0n;
      const expected = isFinal(status) ? t.fee : 0n;
      if (settled !== expected)
        this.fail(`task ${i} (${TaskStatus[status]}) settled ${settled} by events, expected ${expected}`);
      if (t.settled !== expected) this.fail(`task ${i} settled ${t.settled} in the model, expected ${expected}`);
      // States only move along DESIGN §2.
      const before = this.lastStatus.get(id);
      if (before !== undefined && before !== status && !NetworkModel.allowed(before, status)) {
        this.fail(`task ${i} moved ${TaskStatus[before]} → ${TaskStatus[status]}`);
      }
      this.lastStatus.set(id, status);
    }
    for (let i = 0; i < nodes.length; i++) {
      const n = m.node(nodes[i]);
      const c = nodeViews[i];
      if (Number(c.status) !== n.status)
        this.fail(`node ${i} status ${NodeStatus[Number(c.status)]}, model ${NodeStatus[n.status]}`);
      if (c.stake !== n.stake) this.fail(`node ${i} stake ${c.stake}, model ${n.stake}`);
      if (n.status !== NodeStatus.Quit && Number(c.health) !== n.health)
        this.fail(`node ${i} health ${c.health}, model ${n.health}`);
    }
    for (let i = 0; i < accounts.length; i++) {
      const key = accounts[i].toLowerCase();
      if (tmW[i] !== (m.tmBalances.get(key) ?? 0n))
        this.fail(`account ${i} task-manager balance ${tmW[i]}, model ${m.tmBalances.get(key) ?? 0n}`);
      if (regW[i] !== (m.regBalances.get(key) ?? 0n))
        this.fail(`account ${i} registry balance ${regW[i]}, model ${m.regBalances.get(key) ?? 0n}`);
    }
    // Money conservation: each contract holds exactly what it owes (the treasury's slashed stake is a registry
    // balance), and both hold what the model says was deposited and not withdrawn.
    if (totals.tmBalance !== totals.tmEscrowed + totals.tmWithdrawable)
      this.fail("task manager balance ≠ escrow + withdrawable");
    if (totals.regBalance !== totals.regStaked + totals.regWithdrawable)
      this.fail("registry balance ≠ stakes + withdrawable");
    if (totals.tmEscrowed !== m.escrow) this.fail(`escrow ${totals.tmEscrowed}, model ${m.escrow}`);
    if (totals.tmBalance !== m.tmHeld) this.fail(`task manager holds ${totals.tmBalance}, model ${m.tmHeld}`);
    if (totals.regBalance !== m.regHeld) this.fail(`registry holds ${totals.regBalance}, model ${m.regHeld}`);
    if (totals.regStaked !== m.totalStaked) this.fail(`staked ${totals.regStaked}, model ${m.totalStaked}`);
    if (totals.nodeCount !== m.nodeCount) this.fail(`node count ${totals.nodeCount}, model ${m.nodeCount}`);
    const q = [...queued].map(String).sort();
    const mq = [...m.queue].sort();
    if (q.join() !== mq.join()) this.fail(`queue ${q.length} tasks, model ${mq.length}`);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Actions
  // -------------------------------------------------------------------------------------------------------------

  private taskAt(index: number): string | null {
    return this.ids.length === 0 ? null : this.ids[index % this.ids.length];
  }

  private appOf(id: string): Actor {
    const creator = this.model.tasks.get(id)!.creator;
    return this.world.apps.find((a) => a.address.toLowerCase() === creator)!;
  }

  private nodeActor(address: string | null, other: boolean): Actor {
    const nodes = this.world.nodes;
    const index = nodes.findIndex((n) => n.address.toLowerCase() === address);
    if (index < 0) return nodes[0];
    return other ? nodes[(index + 1) % nodes.length] : nodes[index];
  }

  private fresh(label: string): string {
    return keccak256(toUtf8Bytes(`${this.label}:${label}:${++this.counter}`));
  }

  private async create(app: Actor, guid: string, nonce: string, fee: bigint): Promise<string | null> {
    const id = keccak256(solidityPacked(["bytes32", "bytes32"], [guid, nonce]));
    const input = {
      taskType: TaskType.SD,
      taskIDCommitment: id,
      nonce,
      modelIDs: [MODEL_SDXL],
      minimumVRAM: 8n,
      requiredGPU: zeroPadValue("0x", 32),
      requiredGPUVRAM: 0n,
      taskVersion: [2, 0, 0] as [number, number, number],
      taskSize: 1n,
      appPublicKey: BJJ,
    };
    const tm = this.world.tm;
    // Commit first (docs/randomness.md): the task is Pending, its node and seed not drawn yet.
    const receipt = await this.both(
      app,
      () => tm.connect(app.signer).createTask(input, { value: fee }),
      (m) => m.createTask(id, nonce, fee, TaskType.SD, 1n),
      id,
    );
    if (!receipt) return null;
    const events = (r: ContractTransactionReceipt) =>
      r.logs.map((l) => (l.address === tm.target ? tm.interface.parseLog(l) : null)).filter((p) => p !== null);
    const names = events(receipt).map((p) => p.name);
    if (!names.includes("TaskPending")) this.fail("createTask emitted no TaskPending");
    for (const early of ["TaskCreated", "TaskStarted", "TaskQueued"]) {
      if (names.includes(early)) this.fail(`createTask emitted ${early} before the word landed`);
    }
    // The VRF service answers (outside the model), then anyone dispatches.
    const beacon = this.world.beacon;
    const requestId = await beacon.requestId();
    await this.tx(this.world.stranger, () =>
      this.world.coordinator.connect(this.world.stranger.signer).getFunction("fulfillRandomWords")(requestId, beacon),
    );
    const dispatched = await this.both(
      this.world.stranger,
      () => tm.connect(this.world.stranger.signer).dispatchTasks([input]),
      (m) => m.dispatch(id),
    );
    if (!dispatched) this.fail(`dispatchTasks reverted for task ${this.ids.indexOf(id)}`);
    const created = events(dispatched).find((p) => p.name === "TaskCreated");
    if (!created || created.args[0] !== id) this.fail("dispatchTasks emitted no TaskCreated for the task");
    this.seeds.set(id, BigInt(created.args[2]));
    this.nonces.set(id, nonce);
    this.guids.set(id, guid);
    return id;
  }

  private async postRoot(blob: string): Promise<{ root: string; proof: string[] }> {
    const batch = new BlobBatch([blob, this.fresh("other-blob")]);
    const root = batch.root;
    await this.tx(this.world.relay, () => this.world.relayRoots.connect(this.world.relay.signer).postRoot(root, 2));
    return { root, proof: batch.inclusion(blob).proof };
  }

  /** A transaction outside the model (relay roots, beacon words): it must succeed. */
  private async tx(from: Actor, send: () => Promise<ContractTransactionResponse>): Promise<void> {
    this.now += 1n;
    await ethers.provider.send("evm_setNextBlockTimestamp", [Number(this.now)]);
    try {
      await (await send()).wait();
    } catch (e) {
      this.fail(`transaction outside the model from ${from.address} failed: ${(e as Error).message}`);
    }
  }

  private vrfProof(app: Actor, id: string, number: bigint) {
    return {
      pk: app.publicKey,
      gamma: [number, 0n] as [bigint, bigint],
      c: 1n,
      s: 0n,
      seed: this.seeds.get(id)!,
      uWitness: ZeroAddress,
      cGammaWitness: [0n, 0n] as [bigint, bigint],
      sHashWitness: [0n, 0n] as [bigint, bigint],
      zInv: 0n,
    };
  }

  async apply(a: Action): Promise<void> {
    const w = this.world;
    switch (a.t) {
      case "create": {
        const guid = this.fresh("guid");
        await this.create(w.apps[a.app % w.apps.length], guid, taskNonce(guid, 0), FEES[a.fee % FEES.length]);
        return;
      }
      case "group": {
        const app = w.apps[a.app % w.apps.length];
        const guid = this.fresh("group-guid");
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) {
          const id = await this.create(app, guid, taskNonce(guid, i as 0 | 1 | 2), FEES[a.fee % FEES.length]);
          if (!id) break;
          ids.push(id);
        }
        // A member the full queue rejected at dispatch is EndAborted: the group is validated with it (DESIGN §5).
        // An incomplete group (a creation reverted) is validated member by member, like single tasks.
        if (ids.length === 3) for (const id of ids) this.groups.set(id, { guid, ids });
        return;
      }
      case "replay": {
        const id = this.taskAt(a.task);
        if (!id) return this.compare();
        const nonce = this.nonces.get(id)!;
        // The same nonce under a new GUID (TaskNonceUsed), or the very same commitment (TaskAlreadyExists).
        const guid = a.sameCommitment ? this.guids.get(id)! : this.fresh("guid");
        await this.create(w.apps[a.app % w.apps.length], guid, nonce, FEES[0]);
        return;
      }
      case "advance": {
        const id = this.taskAt(a.task);
        if (!id) return this.compare();
        const status = this.model.tasks.get(id)!.status;
        switch (status) {
          case TaskStatus.Queued:
            return this.apply({ t: "abort", task: this.ids.indexOf(id), by: 0 });
          case TaskStatus.Started:
            return this.apply({ t: "params", task: this.ids.indexOf(id), byStranger: false, inRoot: true });
          case TaskStatus.ParametersUploaded:
            return a.pick % 6 === 0
              ? this.apply({ t: "error", task: this.ids.indexOf(id) })
              : this.apply({ t: "score", task: this.ids.indexOf(id), byOtherNode: false, score: a.pick });
          case TaskStatus.ScoreReady:
          case TaskStatus.ErrorReported:
            return this.apply({ t: "validate", task: this.ids.indexOf(id), byStranger: false, lie: false });
          case TaskStatus.Validated:
          case TaskStatus.GroupValidated:
            return this.apply({
              t: "result",
              task: this.ids.indexOf(id),
              byOtherNode: false,
              inRoot: true,
              proofValid: true,
            });
          default:
            return this.compare();
        }
      }
      case "params": {
        const id = this.taskAt(a.task);
        if (!id) return this.compare();
        const app = a.byStranger ? w.stranger : this.appOf(id);
        const blob = this.fresh("params");
        // A root for data the relay does not hold is modelled by a proof for a blob that is not in the root.
        const { root, proof } = await this.postRoot(a.inRoot ? blob : this.fresh("held-blob"));
        await this.both(
          app,
          () => w.tm.connect(app.signer).reportTaskParametersUploaded(id, blob, root, proof),
          (m) => m.reportTaskParametersUploaded(id, a.inRoot),
        );
        return;
      }
      case "score": {
        const id = this.taskAt(a.task);
        if (!id) return this.compare();
        const node = this.nodeActor(this.model.tasks.get(id)!.node, a.byOtherNode);
        const score = SCORES[a.score % SCORES.length];
        await this.both(
          node,
          () => w.tm.connect(node.signer).submitTaskScore(id, score),
          (m) => m.submitTaskScore(id, score),
        );
        return;
      }
      case "error": {
        const id = this.taskAt(a.task);
        if (!id) return this.compare();
        const node = this.nodeActor(this.model.tasks.get(id)!.node, false);
        await this.both(
          node,
          () => w.tm.connect(node.signer).reportTaskError(id, 1),
          (m) => m.reportTaskError(id),
        );
        return;
      }
      case "validate": {
        const id = this.taskAt(a.task);
        if (!id) return this.compare();
        const app = this.appOf(id);
        const caller = a.byStranger ? w.stranger : app;
        const group = this.groups.get(id);
        if (group) {
          const [c1, c2, c3] = group.ids;
          const number = a.lie ? NOT_SAMPLED : SAMPLED;
          await this.both(
            caller,
            () =>
              w.tm
                .connect(caller.signer)
                .validateTaskGroup(c1, c2, c3, group.guid, this.vrfProof(app, c1, number), VALID_PROOF),
            (m) => m.validateTaskGroup([c1, c2, c3], group.guid, number, true),
          );
        } else {
          const number = a.lie ? SAMPLED * 2n : NOT_SAMPLED;
          await this.both(
            caller,
            () => w.tm.connect(caller.signer).validateSingleTask(id, this.vrfProof(app, id, number)),
            (m) => m.validateSingleTask(id, number),
          );
        }
        return;
      }
      case "result": {
        const id = this.taskAt(a.task);
        if (!id) return this.compare();
        const node = this.nodeActor(this.model.tasks.get(id)!.node, a.byOtherNode);
        const blob = this.fresh("result");
        const { root, proof } = await this.postRoot(a.inRoot ? blob : this.fresh("held-blob"));
        await this.both(
          node,
          () =>
            w.tm
              .connect(node.signer)
              .reportTaskResultUploaded(id, blob, root, proof, a.proofValid ? VALID_PROOF : INVALID_PROOF),
          (m) => m.reportTaskResultUploaded(id, a.inRoot, a.proofValid),
        );
        return;
      }
      case "abort": {
        const id = this.taskAt(a.task);
        if (!id) return this.compare();
        const t = this.model.tasks.get(id)!;
        const by = a.by % 3 === 0 ? this.appOf(id) : a.by % 3 === 1 ? w.stranger : this.nodeActor(t.node, false);
        await this.both(
          by,
          () => w.tm.connect(by.signer).abortTask(id),
          (m) => m.abortTask(id),
        );
        return;
      }
      case "warp": {
        this.now += BigInt(a.seconds);
        return this.compare();
      }
      case "join": {
        const node = w.nodes[a.node % w.nodes.length];
        const stake = STAKES[a.stake % STAKES.length];
        await this.both(
          node,
          () =>
            w.registry
              .connect(node.signer)
              .join("NVIDIA GeForce RTX 4090", 24n, [2, 5, 0], BJJ, BJJ_WITNESS, [MODEL_SDXL], { value: stake }),
          (m) => m.join(stake),
        );
        return;
      }
      case "quit":
      case "pause":
      case "resume": {
        const node = w.nodes[a.node % w.nodes.length];
        const op = a.t;
        await this.both(
          node,
          () => w.registry.connect(node.signer)[op](),
          (m) => m[op](),
        );
        return;
      }
      case "withdraw": {
        const accounts = [...w.apps, ...w.nodes, w.stranger, w.treasury];
        const who = accounts[a.who % accounts.length];
        const contract = a.registry ? w.registry : w.tm;
        await this.both(
          who,
          () => contract.connect(who.signer).withdraw(),
          (m) => m.withdraw(a.registry),
        );
        return;
      }
    }
  }

  /**
   * Liveness: once every deadline has passed, a stranger can end every task that is not final, repeatedly (ending
   * one task can hand its node a queued task). Then every account withdraws, and the contracts hold only the stakes
   * of the nodes still joined.
   */
  async endEverything(): Promise<void> {
    const c = this.world.config;
    const longest = [c.queueTimeout, c.executionTimeout, c.validationTimeout, c.resultUploadTimeout].reduce((x, y) =>
      x > y ? x : y,
    );
    for (let round = 0; round < 8; round++) {
      const open = this.ids.filter((id) => !isFinal(this.model.tasks.get(id)!.status));
      if (open.length === 0) break;
      this.now += longest + 1n;
      for (const id of open) {
        const task = this.model.tasks.get(id)!;
        // Ending one task can hand its node a queued task, whose new stage deadline is then in the future.
        if (isFinal(task.status) || this.model.deadline(task) > this.now + 1n) continue;
        const receipt = await this.both(
          this.world.stranger,
          () => this.world.tm.connect(this.world.stranger.signer).abortTask(id),
          (m) => m.abortTask(id),
        );
        if (!receipt) this.fail(`a stranger could not end task ${this.ids.indexOf(id)} after its deadline`);
      }
    }
    const stillOpen = this.ids.filter((id) => !isFinal(this.model.tasks.get(id)!.status));
    if (stillOpen.length) this.fail(`${stillOpen.length} tasks could not be ended`);
    const w = this.world;
    for (const who of [...w.apps, ...w.nodes, w.stranger, w.treasury]) {
      for (const registry of [false, true]) {
        const balances = registry ? this.model.regBalances : this.model.tmBalances;
        if (!balances.get(who.address.toLowerCase())) continue;
        const contract = registry ? w.registry : w.tm;
        await this.both(
          who,
          () => contract.connect(who.signer).withdraw(),
          (m) => m.withdraw(registry),
        );
      }
    }
    const tmBalance = await ethers.provider.getBalance(w.tm.target);
    const regBalance = await ethers.provider.getBalance(w.registry.target);
    const staked = await w.registry.totalStaked();
    if (tmBalance !== 0n)
      this.fail(`task manager still holds ${tmBalance} after every task ended and everyone withdrew`);
    if (regBalance !== staked) this.fail(`registry holds ${regBalance}, stakes are ${staked}`);
  }
}

/** Runs `actions` from a snapshot of the deployed world and restores it; returns the failure, if any. */
export async function runSequence(
  world: World,
  actions: readonly Action[],
  makeModel: ModelFactory = (c) => new NetworkModel(c),
  label = "seq",
  inspect?: (model: NetworkModel) => void,
): Promise<SequenceFailure | null> {
  const snapshot = await networkHelpers.takeSnapshot();
  try {
    const run = new SequenceRun(world, makeModel, label);
    await run.run(actions);
    inspect?.(run.model);
    return null;
  } catch (e) {
    if (e instanceof SequenceFailure) return e;
    throw e;
  } finally {
    await snapshot.restore();
  }
}

/** Delta debugging: removes steps while the sequence still fails, down to a 1-minimal failing sequence. */
export async function shrink(
  world: World,
  actions: readonly Action[],
  makeModel?: ModelFactory,
): Promise<{ actions: Action[]; failure: SequenceFailure }> {
  let current = [...actions];
  let failure = await runSequence(world, current, makeModel);
  if (!failure) throw new Error("shrink: the sequence does not fail");
  // Steps after the failing one never matter.
  current = current.slice(0, failure.step + 1);
  let chunks = 2;
  while (current.length >= 2) {
    const size = Math.ceil(current.length / chunks);
    let reduced = false;
    for (let start = 0; start < current.length; start += size) {
      const candidate = [...current.slice(0, start), ...current.slice(start + size)];
      const f = await runSequence(world, candidate, makeModel);
      if (f) {
        current = candidate.slice(0, f.step + 1);
        failure = f;
        chunks = Math.max(chunks - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (size === 1) break;
      chunks = Math.min(current.length, chunks * 2);
    }
  }
  return { actions: current, failure: failure! };
}
