/**
 * Dispatch and queue at network scale: `npm run bench:scale` (= `hardhat run scripts/bench-scale.ts`).
 *
 * Measures `receipt.gasUsed` on Hardhat's in-process network (the local deployment, `VSSLocalNetwork`: Chainlink's
 * `VRFCoordinatorV2_5Mock` behind the `VRFBeacon`) of
 *   - the dispatch of one task with 10, 100, 1,000 and 10,000 Available nodes: `createTask` leaves the task Pending
 *     and requests its epoch's word, the bench delivers the word through the mock coordinator, and the measured call
 *     is `dispatchTasks([input])`, which draws the node (`TaskStarted` is checked). `createTask`'s own gas (with the
 *     VRF request, as the first task of its epoch) is printed beside it;
 *   - the dequeue a finished task triggers, with 10, 100, 1,000 and 10,000 queued tasks: the whole `abortTask`
 *     transaction that ends a Started task whose application never uploaded its parameters (upload timeout), frees
 *     its node, and hands it the best queued task (`TaskStarted` of the queued task is checked, and that the release
 *     was not deferred: the node pool is open at that moment, no word in flight and no task pending);
 * and ends with `scale dispatch_ratio=<gas at 10000 / gas at 10> dequeue_ratio=<same>` (DESIGN §6, §10; target
 * below 1.5 for both), the dispatch ratio being that of `dispatchTasks`.
 *
 * Setup. Thousands of joins and queued tasks as single transactions would take long, so `contracts/mocks/ScaleBench`
 * makes them in batches: each node is a `BenchNode` contract whose constructor calls the real `NodeRegistry.join`
 * (stakes from 1 to 10 × the minimum, so the sum trees hold different weights); tasks are created by the real
 * `TaskManager.createTask` with fees from 1 to 1,000 × the minimum fee (so the heaps hold different values), which
 * leaves them Pending in two epochs (the first task of a batch run requests a word, the others enrol in the next
 * epoch while it is in flight); the bench delivers each word requested, and `ScaleBench.dispatchTasks` passes them,
 * oldest first, to the real `TaskManager.dispatchTasks`, in batches sized under the transaction gas cap. The only
 * node is Busy with the running task meanwhile, so every one of them queues. Nothing is written to storage
 * directly: the state is exactly what that many real calls leave. All nodes share one GPU model and one VRAM tier,
 * and all tasks one group, which is the worst case for the depth of the trees and heaps.
 *
 * Measurement. The measured calls are sent by plain accounts (an application, a dispatcher and a node) after a
 * snapshot, and the snapshot is restored after each run, so every run starts from the same state; the figure is the
 * median of RUNS runs. Each dispatch run delivers another beacon word (the task's randomness, hence the drawn node
 * and the number of rejection-sampling attempts, follows from it); the dequeue, which draws nothing, runs at another
 * timestamp each time.
 */
import { network } from "hardhat";
import { Contract, Wallet, keccak256, parseEther, solidityPackedKeccak256, toUtf8Bytes } from "ethers";
import type { TransactionReceipt } from "ethers";
import VSSNetwork from "../deploy/modules/VSSLocalNetwork.js";
import { ANY_GPU, modelId } from "../src/crypto/commitment.js";
import { keyPairFromSeed, subgroupWitness } from "../src/crypto/babyjub.js";
import { DEFAULT_REGISTRY_PARAMETERS, DEFAULT_TASK_PARAMETERS } from "../src/config.js";
import { BEACON_ABI, MOCK_COORDINATOR_ABI } from "../src/chain/dispatch.js";
import type { ScaleBench } from "../typechain-types/index.js";

const SIZES = [10, 100, 1_000, 10_000];
const RUNS = 7;
/** Gas per bulk-setup transaction (below the 2^24 transaction cap of current hardforks). */
const BATCH_GAS = 14_000_000;
const BATCH_GAS_LIMIT = 16_000_000;
const MODEL = modelId("stabilityai/sdxl-turbo");
const STAKE = DEFAULT_REGISTRY_PARAMETERS.minimumStake;
/** The queued tasks' fees are 1 to 1,000 × the smallest fee an SD task may pay. */
const FEE_UNIT = DEFAULT_TASK_PARAMETERS.minimumFee[0];
const FEE = parseEther("1");

const conn = await network.getOrCreate();
const { ethers, networkHelpers } = conn;

async function wallet(label: string): Promise<Wallet> {
  const w = new Wallet(keccak256(toUtf8Bytes(`vss-bench-scale:${label}`)), ethers.provider);
  await networkHelpers.setBalance(w.address, parseEther("100000000"));
  return w;
}

// A queue large enough for 10,000 tasks whatever the node count (α · N would need 2,000 nodes).
const deployed = await conn.ignition.deploy(VSSNetwork, {
  parameters: { VSSNetwork: { minQueueCapacity: 20_000n } },
});
const tm = await ethers.getContractAt("TaskManager", await deployed.taskManager.getAddress());
const registry = await ethers.getContractAt("NodeRegistry", await deployed.nodeRegistry.getAddress());
const [deployer] = await ethers.getSigners();
// Stakes of up to 10,000 nodes at up to 10 × the minimum, and 10,000 fees of up to 1,000 × the minimum fee.
await networkHelpers.setBalance(deployer.address, parseEther("100000000"));
const beaconAddress = await deployed.beacon.getAddress();
const beacon = new Contract(beaconAddress, BEACON_ABI, deployer);
// The mock coordinator takes any word from anyone: the bench plays the VRF service.
const coordinator = new Contract(await deployed.vrfCoordinator.getAddress(), MOCK_COORDINATOR_ABI, deployer);
const dispatchCost = await tm.dispatchCost();
const bench = (await ethers.deployContract("ScaleBench")) as unknown as ScaleBench;
const app = await wallet("app");
const dispatcher = await wallet("dispatcher");
const appKey = keyPairFromSeed("vss-bench-scale:app").publicKey;
// createTask accepts only registered app keys (DESIGN §13.4).
await (await tm.registerAppKey(appKey, subgroupWitness(appKey))).wait();
const afterDeploy = await networkHelpers.takeSnapshot();

let taskCounter = 0;
function taskInput(label: string) {
  const guid = keccak256(toUtf8Bytes(`scale-guid:${label}:${taskCounter}`));
  const nonce = keccak256(toUtf8Bytes(`scale-nonce:${label}:${taskCounter++}`));
  return {
    taskType: 0,
    taskIDCommitment: solidityPackedKeccak256(["bytes32", "bytes32"], [guid, nonce]),
    nonce,
    modelIDs: [MODEL],
    minimumVRAM: 8,
    requiredGPU: ANY_GPU,
    requiredGPUVRAM: 0,
    taskVersion: [2, 0, 0] as [number, number, number],
    taskSize: 1,
    appPublicKey: appKey,
  };
}

/** The beacon word of a label: fixed, so two runs of the bench give the same numbers. */
const word = (label: string) => BigInt(keccak256(toUtf8Bytes(`vss-bench-scale:word:${label}`)));

/** Delivers `value` as the word of the beacon's request in flight (there must be one), as the VRF service would. */
async function deliverWord(value: bigint): Promise<void> {
  if (!(await beacon.inFlight())) throw new Error("bench: no beacon word in flight");
  const requestId: bigint = await beacon.requestId();
  await (await coordinator.fulfillRandomWordsWithOverride(requestId, beaconAddress, [value])).wait();
  if (await beacon.inFlight()) throw new Error("bench: the beacon did not take the word");
}

/** The task manager's events of a receipt, by name. */
function events(receipt: TransactionReceipt, name: string) {
  const address = (tm.target as string).toLowerCase();
  return receipt.logs.filter(
    (log) => log.address.toLowerCase() === address && tm.interface.parseLog(log)?.name === name,
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
}

/** Runs `call` in batches until `target` items exist, sizing batches from the gas of the first one. */
async function fill(current: number, target: number, call: (first: number, count: number) => Promise<bigint>) {
  let perItem = 0n;
  while (current < target) {
    const count =
      perItem === 0n ? Math.min(10, target - current) : Math.min(Number(BigInt(BATCH_GAS) / perItem), target - current);
    const gas = await call(current, count);
    perItem = (gas * 11n) / 10n / BigInt(count) + 1n;
    current += count;
  }
  return current;
}

// ---------------------------------------------------------------------------------------------------------------
// Dispatch: dispatchTasks of one task with N Available nodes, once its word has landed
// ---------------------------------------------------------------------------------------------------------------

const createGas: number[] = [];
const dispatchGas: number[] = [];
let joined = 0;
for (const size of SIZES) {
  joined = await fill(joined, size, async (first, count) => {
    const tx = await bench.joinNodes(await registry.getAddress(), count, first, STAKE, MODEL, {
      value: BigInt(count) * 10n * STAKE,
      gasLimit: BATCH_GAS_LIMIT,
    });
    return (await tx.wait())!.gasUsed;
  });
  if ((await registry.availableNodeCount()) !== BigInt(size)) throw new Error("bench: node count");
  const snapshot = await networkHelpers.takeSnapshot();
  // The same task in every run; only the word differs.
  const input = taskInput(`dispatch-${size}`);
  const creates: number[] = [];
  const samples: number[] = [];
  for (let run = 0; run < RUNS; ++run) {
    const created = (await (await tm.connect(app).createTask(input, { value: FEE + dispatchCost })).wait())!;
    if (events(created, "TaskPending").length !== 1) throw new Error("bench: createTask left no pending task");
    creates.push(Number(created.gasUsed));
    await deliverWord(word(`dispatch-run-${run}`));
    const receipt = (await (await tm.connect(dispatcher).dispatchTasks([input])).wait())!;
    if (events(receipt, "TaskStarted").length !== 1)
      throw new Error(`bench: the task was not dispatched at ${size} nodes`);
    samples.push(Number(receipt.gasUsed));
    await snapshot.restore();
  }
  createGas.push(median(creates));
  dispatchGas.push(median(samples));
  console.log(
    `dispatch: ${size} nodes, dispatchTasks gas ${samples.join(" ")} (median ${median(samples)}); ` +
      `createTask gas ${creates.join(" ")} (median ${median(creates)})`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Dequeue: a finished task frees its node, which takes the best of q queued tasks
// ---------------------------------------------------------------------------------------------------------------

await afterDeploy.restore();
const node = await wallet("node");
const nodeKey = keyPairFromSeed("vss-bench-scale:node").publicKey;
await (
  await registry
    .connect(node)
    .join("NVIDIA GeForce RTX 4090", 24, [2, 5, 0], nodeKey, subgroupWitness(nodeKey), [MODEL], { value: STAKE })
).wait();
const running = taskInput("running");
await (await tm.connect(app).createTask(running, { value: FEE + dispatchCost })).wait();
await deliverWord(word("running"));
await (await tm.connect(dispatcher).dispatchTasks([running])).wait();
if ((await tm.getTask(running.taskIDCommitment)).selectedNode !== node.address) throw new Error("bench: not started");
const deadline = await tm.deadlineOf(running.taskIDCommitment);

let created = 0;
let dispatched = 0;
let words = 0;
/**
 * Dispatches every task ScaleBench created and has not dispatched yet, oldest first, delivering each word the beacon
 * requests (the first of a batch run, then the next epoch's, which `dispatchTasks` requests itself once the pool
 * opens again); the batches are sized from the gas per task of the previous one. Each dispatched task must queue.
 */
async function dispatchCreated(): Promise<void> {
  let perItem = 0n;
  while (dispatched < created) {
    if (await beacon.inFlight()) await deliverWord(word(`queue-${words++}`));
    const left = created - dispatched;
    const count = perItem === 0n ? Math.min(10, left) : Math.min(Number(BigInt(BATCH_GAS) / perItem), left);
    const tx = await bench.dispatchTasks(await tm.getAddress(), count, dispatched, MODEL, {
      gasLimit: BATCH_GAS_LIMIT,
    });
    const receipt = (await tx.wait())!;
    const n = events(receipt, "TaskCreated").length;
    if (events(receipt, "TaskQueued").length !== n) throw new Error("bench: a dispatched task did not queue");
    if (n === 0) {
      if (!(await beacon.inFlight())) throw new Error("bench: nothing dispatched and no word in flight");
      continue;
    }
    perItem = (receipt.gasUsed * 11n) / 10n / BigInt(n) + 1n;
    dispatched += n;
  }
}

const queue = await ethers.getContractAt("TaskQueue", await tm.QUEUE());
const dequeueGas: number[] = [];
for (const size of SIZES) {
  created = await fill(created, size, async (first, count) => {
    const tx = await bench.createTasks(await tm.getAddress(), count, first, MODEL, FEE_UNIT, {
      value: BigInt(count) * (1_000n * FEE_UNIT + dispatchCost),
      gasLimit: BATCH_GAS_LIMIT,
    });
    return (await tx.wait())!.gasUsed;
  });
  await dispatchCreated();
  if ((await queue.size()) !== BigInt(size)) throw new Error("bench: queue size");
  // The pool is open: no word in flight, no task pending, so the freed node is released (and served) at once.
  if ((await beacon.inFlight()) || (await tm.poolFrozen()) || (await tm.pendingTasks(1)).length !== 0) {
    throw new Error("bench: the node pool is not open before the dequeue");
  }
  const snapshot = await networkHelpers.takeSnapshot();
  const samples: number[] = [];
  for (let run = 0; run < RUNS; ++run) {
    // At the running task's deadline, or just after the latest block if setting up the queue took longer.
    const latest = BigInt(await networkHelpers.time.latest());
    await networkHelpers.time.increaseTo((deadline > latest ? deadline : latest + 1n) + BigInt(run));
    const receipt = (await (await tm.connect(app).abortTask(running.taskIDCommitment)).wait())!;
    if (events(receipt, "NodeReleaseDeferred").length !== 0) throw new Error("bench: the node release was deferred");
    if (events(receipt, "TaskStarted").length !== 1)
      throw new Error(`bench: the freed node took no queued task at ${size}`);
    samples.push(Number(receipt.gasUsed));
    await snapshot.restore();
  }
  dequeueGas.push(median(samples));
  console.log(`dequeue: ${size} queued, abortTask gas ${samples.join(" ")} (median ${median(samples)})`);
}
console.log(`setup: ${words} beacon words delivered to queue ${created} tasks`);

// ---------------------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------------------

const fmt = (n: number) => n.toLocaleString("en-US");
console.log("");
console.log(
  `| size   | createTask (with the VRF request) | dispatchTasks, one task (N nodes) | dequeue on a finished task (q queued) |`,
);
console.log(
  `| -----: | --------------------------------: | --------------------------------: | ------------------------------------: |`,
);
SIZES.forEach((size, i) =>
  console.log(
    `| ${fmt(size).padStart(6)} | ${fmt(createGas[i]).padStart(33)} | ${fmt(dispatchGas[i]).padStart(33)} | ${fmt(dequeueGas[i]).padStart(37)} |`,
  ),
);
const ratio = (values: number[]) => (values[values.length - 1] / values[0]).toFixed(2);
console.log(`scale dispatch_ratio=${ratio(dispatchGas)} dequeue_ratio=${ratio(dequeueGas)}`);
