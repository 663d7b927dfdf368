/**
 * Helpers on top of the shared fixture for the deadline, error and regression suites: exact block timestamps, tasks
 * driven to a given state, validation groups, contract-implemented applications and nodes (mocks), and a snapshot
 * of every observable piece of state so that a test can assert that a revert changed nothing.
 */
import { expect } from "chai";
import { ZeroAddress, type BaseContract, type ContractTransactionResponse, type Signer, type Wallet } from "ethers";
import {
  SCORE_A,
  createTask,
  ethers,
  networkHelpers,
  paramsProof,
  samplingProof,
  selectedNode,
  uploadParameters,
  uploadResult,
  type CreatedTask,
  type Network,
  type TaskOptions,
} from "./fixture.js";
import {
  ReentrantReceiver__factory,
  RevertingReceiver__factory,
  type ReentrantReceiver,
  type RevertingReceiver,
} from "../../typechain-types/index.js";
import { TaskError, TaskStatus } from "../../src/types.js";
import type { Bytes32 } from "../../src/crypto/commitment.js";

/** keccak256("TASK_MANAGER_ROLE"), the registry role of the task manager. */
export const TASK_MANAGER_ROLE = ethers.id("TASK_MANAGER_ROLE");
/** keccak256("RELAY_ROLE"), the role of accounts allowed to post relay roots. */
export const RELAY_ROLE = ethers.id("RELAY_ROLE");
/** OpenZeppelin's `DEFAULT_ADMIN_ROLE`. */
export const DEFAULT_ADMIN_ROLE = ethers.ZeroHash;
/** `NodeRegistry` health (H scaled by 10,000) of a new node, and after one timeout penalty (H ← 0.3·H). */
export const HEALTH_ONE = 10_000n;
export const HEALTH_AFTER_TIMEOUT = 3_000n;
/** What a release as `Success` adds to a node's health (capped at {@link HEALTH_ONE}). */
export const HEALTH_SUCCESS_STEP = 1_500n;

// ---------------------------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------------------------

/** Makes the next transaction (and the pending block that calls and gas estimates run on) happen at `timestamp`. */
export async function at(timestamp: bigint | number): Promise<void> {
  await networkHelpers.time.setNextBlockTimestamp(timestamp);
}

/** The timestamp of the block that mined `tx`. */
export async function minedAt(
  tx: Promise<{ wait(): Promise<unknown> }> | { wait(): Promise<unknown> },
): Promise<bigint> {
  const receipt = (await (await tx).wait()) as { blockNumber: number };
  const block = await ethers.provider.getBlock(receipt.blockNumber);
  return BigInt(block!.timestamp);
}

/** The latest block's timestamp. */
export async function latestTimestamp(): Promise<bigint> {
  return BigInt(await networkHelpers.time.latest());
}

// ---------------------------------------------------------------------------------------------------------------
// Tasks driven to a state
// ---------------------------------------------------------------------------------------------------------------

/** The non-final states a single (not sampled) task can be driven to, plus its two successful ends. */
export type DrivableStatus =
  | TaskStatus.Started
  | TaskStatus.ParametersUploaded
  | TaskStatus.ScoreReady
  | TaskStatus.ErrorReported
  | TaskStatus.Validated
  | TaskStatus.EndSuccess;

/** A task with the node that runs it. */
export interface RunningTask {
  task: CreatedTask;
  node: Wallet;
}

/**
 * Creates a not-sampled task for `app` and drives it to `target`; an eligible node must be Available. Scores are
 * `SCORE_A`; `ErrorReported` reports `ParametersValidationFailed`.
 */
export async function driveTask(
  net: Network,
  app: Wallet,
  target: DrivableStatus,
  options: TaskOptions = {},
): Promise<RunningTask> {
  const tm = net.taskManager;
  const task = await createTask(net, app, { ...options, sampled: false });
  const node = await selectedNode(net, task.commitment);
  if (target === TaskStatus.Started) return { task, node };
  await uploadParameters(net, app, task.commitment);
  if (target === TaskStatus.ParametersUploaded) return { task, node };
  if (target === TaskStatus.ErrorReported) {
    await (await tm.connect(node).reportTaskError(task.commitment, TaskError.ParametersValidationFailed)).wait();
    return { task, node };
  }
  await (await tm.connect(node).submitTaskScore(task.commitment, SCORE_A)).wait();
  if (target === TaskStatus.ScoreReady) return { task, node };
  await (await tm.connect(app).validateSingleTask(task.commitment, samplingProof(app, task.seed))).wait();
  if (target === TaskStatus.Validated) return { task, node };
  await uploadResult(net, node, task.commitment);
  return { task, node };
}

// ---------------------------------------------------------------------------------------------------------------
// Validation groups
// ---------------------------------------------------------------------------------------------------------------

/** A validation group: the sampled original task and its two validation tasks, with their nodes. */
export interface Group {
  taskGUID: Bytes32;
  tasks: [CreatedTask, CreatedTask, CreatedTask];
  nodes: [Wallet, Wallet, Wallet];
  commitments: [Bytes32, Bytes32, Bytes32];
}

/** Creates a sampled task and its two validation tasks (same GUID); three eligible nodes must be Available. */
export async function createGroup(net: Network, app: Wallet, options: TaskOptions = {}): Promise<Group> {
  const first = await createTask(net, app, { ...options, sampled: true });
  const second = await createTask(net, app, { ...options, taskGUID: first.taskGUID, k: 1 });
  const third = await createTask(net, app, { ...options, taskGUID: first.taskGUID, k: 2 });
  const tasks: [CreatedTask, CreatedTask, CreatedTask] = [first, second, third];
  const nodes = (await Promise.all(tasks.map((t) => selectedNode(net, t.commitment)))) as [Wallet, Wallet, Wallet];
  return {
    taskGUID: first.taskGUID,
    tasks,
    nodes,
    commitments: [first.commitment, second.commitment, third.commitment],
  };
}

/** What a group member's node does once the parameters are uploaded: submit a score, or report the error. */
export type MemberOutcome = string | "error";

/** Uploads the parameters of member `i` and lets its node submit `outcome`. */
export async function playMember(
  net: Network,
  app: Wallet,
  group: Group,
  i: number,
  outcome: MemberOutcome,
): Promise<void> {
  const tm = net.taskManager;
  const c = group.commitments[i];
  await uploadParameters(net, app, c);
  if (outcome === "error") {
    await (await tm.connect(group.nodes[i]).reportTaskError(c, TaskError.ParametersValidationFailed)).wait();
  } else {
    await (await tm.connect(group.nodes[i]).submitTaskScore(c, outcome)).wait();
  }
}

/**
 * `validateTaskGroup` for `group` in argument order (original first), sent by its creator, with the real
 * ParamsConsistency proof when the contract checks one (see `paramsProof`).
 */
export async function validateGroup(
  net: Network,
  app: Wallet,
  group: Group,
  order: [number, number, number] = [0, 1, 2],
): Promise<ContractTransactionResponse> {
  const [a, b, c] = order.map((i) => group.commitments[i]);
  const proof = await paramsProof(net, [a, b, c]);
  return net.taskManager
    .connect(app)
    .validateTaskGroup(a, b, c, group.taskGUID, samplingProof(app, group.tasks[0].seed), proof);
}

// ---------------------------------------------------------------------------------------------------------------
// Contract-implemented actors (mocks)
// ---------------------------------------------------------------------------------------------------------------

/** Deploys a forwarding actor whose `receive` reverts (until `setAcceptPayments(true)`). */
export async function deployRevertingReceiver(net: Network): Promise<RevertingReceiver> {
  const contract = await new RevertingReceiver__factory(net.admin).deploy();
  await contract.waitForDeployment();
  return contract;
}

/** Deploys a forwarding actor whose `receive` re-enters the withdraw path of the contract that pays it. */
export async function deployReentrantReceiver(net: Network): Promise<ReentrantReceiver> {
  const contract = await new ReentrantReceiver__factory(net.admin).deploy();
  await contract.waitForDeployment();
  return contract;
}

/** A contract-implemented application or node: it calls the protocol as itself through `forward`. */
export type ContractActor = RevertingReceiver | ReentrantReceiver;

/** Makes `actor` call `contract.method(...args)` (with `value`), the forwarding transaction sent by `sender`. */
export async function actAs(
  actor: ContractActor,
  sender: Signer,
  contract: BaseContract,
  method: string,
  args: readonly unknown[],
  value = 0n,
): Promise<ContractTransactionResponse> {
  const data = contract.interface.encodeFunctionData(method, args);
  return actor.connect(sender).forward(await contract.getAddress(), data, { value });
}

// ---------------------------------------------------------------------------------------------------------------
// State snapshots
// ---------------------------------------------------------------------------------------------------------------

/** What a snapshot covers beyond the contracts' global state. */
export interface SnapshotScope {
  commitments?: Bytes32[];
  nonces?: Bytes32[];
  accounts?: string[];
  roots?: Bytes32[];
}

/** A JSON-comparable copy of `value` (bigints as decimal strings; ethers `Result`s as arrays). */
export function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
}

async function orMissing<T>(promise: Promise<T>): Promise<T | "missing"> {
  try {
    return await promise;
  } catch {
    return "missing";
  }
}

/**
 * Every observable piece of state: both contracts' totals, balances, configs and queue; every known node's record;
 * every listed task, nonce, root, and account balance (withdrawable in both contracts).
 */
export async function captureState(net: Network, scope: SnapshotScope = {}): Promise<unknown> {
  const tm = net.taskManager;
  const reg = net.registry;
  const known = [
    ...net.apps.map((a) => a.address),
    ...net.nodes.map((n) => n.address),
    net.stranger.address,
    net.treasury.address,
    net.relay.address,
    ...(scope.accounts ?? []),
  ];
  const state = {
    taskManager: {
      balance: await ethers.provider.getBalance(await tm.getAddress()),
      totalEscrowed: await tm.totalEscrowed(),
      totalWithdrawable: await tm.totalWithdrawable(),
      queued: [...(await tm.queuedTasks())].sort(),
      queueCapacity: await tm.queueCapacity(),
      config: await tm.config(),
    },
    registry: {
      balance: await ethers.provider.getBalance(await reg.getAddress()),
      totalStaked: await reg.totalStaked(),
      totalWithdrawable: await reg.totalWithdrawable(),
      nodeCount: await reg.nodeCount(),
      availableNodeCount: await reg.availableNodeCount(),
      config: await reg.config(),
      taskManager: await reg.taskManager(),
    },
    relayRoots: { rootCount: await net.relayRoots.rootCount() },
    accounts: await Promise.all(
      known.map(async (a) => ({
        account: a,
        tmWithdrawable: await tm.withdrawable(a),
        regWithdrawable: await reg.withdrawable(a),
        node: await reg.getNode(a),
      })),
    ),
    tasks: await Promise.all(
      (scope.commitments ?? []).map(async (c) => ({
        task: await orMissing(tm.getTask(c)),
        deadline: await orMissing(tm.deadlineOf(c)),
      })),
    ),
    nonces: await Promise.all((scope.nonces ?? []).map((n) => tm.isNonceUsed(n))),
    roots: await Promise.all(
      (scope.roots ?? []).map(async (r) => ({
        postedAt: await net.relayRoots.rootPostedAt(r),
        revokedAt: await net.relayRoots.rootRevokedAt(r),
      })),
    ),
  };
  return plain(state);
}

/** Runs `action` (an assertion that a call reverts) and asserts that no observable state changed. */
export async function expectUnchanged(
  net: Network,
  scope: SnapshotScope,
  action: () => Promise<unknown>,
): Promise<void> {
  const before = await captureState(net, scope);
  await action();
  const after = await captureState(net, scope);
  expect(after).to.deep.equal(before);
}

/** The zero address, re-exported for readability in argument lists. */
export const NO_NODE = ZeroAddress;
