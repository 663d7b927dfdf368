/**
 * Dispatch and queue at network scale: `npm run bench:scale` (= `hardhat run scripts/bench-scale.ts`).
 *
 * Measures `receipt.gasUsed` on Hardhat's in-process network of
 *   - `createTask` with an immediate dispatch, with 10, 100, 1,000 and 10,000 Available nodes;
 *   - the dequeue a finished task triggers, with 10, 100, 1,000 and 10,000 queued tasks: the whole `abortTask`
 *     transaction that ends a task by execution timeout, frees its node, and hands it the best queued task
 *     (`TaskStarted` of the queued task is checked);
 * and ends with `scale dispatch_ratio=<gas at 10000 / gas at 10> dequeue_ratio=<same>` (DESIGN §6, §10; target
 * below 1.5 for both).
 *
 * Setup. Thousands of joins and queued tasks as single transactions would take long, so `contracts/mocks/ScaleBench`
 * makes them in batches: each node is a `BenchNode` contract whose constructor calls the real `NodeRegistry.join`
 * (stakes from 1 to 10 × the minimum, so the sum trees hold different weights), and queued tasks are created by the
 * real `TaskManager.createTask` with fees from 1 to 1,000 gwei (so the heaps hold different values). Nothing is
 * written to storage directly: the state is exactly what that many real calls leave. All nodes share one GPU model
 * and one VRAM tier, and all tasks one group, which is the worst case for the depth of the trees and heaps.
 *
 * Measurement. The measured calls are sent by plain accounts (an application and a node) after a snapshot, and the
 * snapshot is restored after each run, so every run starts from the same state; the figure is the median of RUNS
 * runs with different prevrandao values (the draw, and so the number of rejection-sampling attempts, depends on it).
 */
import { network } from "hardhat";
import { Wallet, keccak256, parseEther, solidityPackedKeccak256, toUtf8Bytes } from "ethers";
import VSSNetwork from "../deploy/modules/VSSNetwork.js";
import { ANY_GPU, modelId } from "../src/crypto/commitment.js";
import { keyPairFromSeed, subgroupWitness } from "../src/crypto/babyjub.js";
import { DEFAULT_REGISTRY_PARAMETERS } from "../src/config.js";
import type { ScaleBench } from "../typechain-types/index.js";

const SIZES = [10, 100, 1_000, 10_000];
const RUNS = 7;
/** Gas per bulk-setup transaction (below the 2^24 transaction cap of current hardforks). */
const BATCH_GAS = 14_000_000;
const MODEL = modelId("stabilityai/sdxl-turbo");
const STAKE = DEFAULT_REGISTRY_PARAMETERS.minimumStake;

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
// Stakes of up to 10,000 nodes at up to 10 × the minimum.
await networkHelpers.setBalance(deployer.address, parseEther("100000000"));
const bench = (await ethers.deployContract("ScaleBench")) as unknown as ScaleBench;
const app = await wallet("app");
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
// Dispatch: createTask with N Available nodes
// ---------------------------------------------------------------------------------------------------------------

const dispatchGas: number[] = [];
let joined = 0;
for (const size of SIZES) {
  joined = await fill(joined, size, async (first, count) => {
    const tx = await bench.joinNodes(await registry.getAddress(), count, first, STAKE, MODEL, {
      value: BigInt(count) * 10n * STAKE,
      gasLimit: 16_000_000,
    });
    return (await tx.wait())!.gasUsed;
  });
  if ((await registry.availableNodeCount()) !== BigInt(size)) throw new Error("bench: node count");
  const snapshot = await networkHelpers.takeSnapshot();
  const samples: number[] = [];
  for (let run = 0; run < RUNS; ++run) {
    await networkHelpers.setPrevRandao(BigInt(1_000 + run));
    const input = taskInput(`dispatch-${size}`);
    const receipt = (await (await tm.connect(app).createTask(input, { value: parseEther("1") })).wait())!;
    const started = receipt.logs.some((log) => tm.interface.parseLog(log)?.name === "TaskStarted");
    if (!started) throw new Error(`bench: the task was not dispatched at ${size} nodes`);
    samples.push(Number(receipt.gasUsed));
    await snapshot.restore();
  }
  dispatchGas.push(median(samples));
  console.log(`dispatch: ${size} nodes, createTask gas ${samples.join(" ")} (median ${median(samples)})`);
}

// ---------------------------------------------------------------------------------------------------------------
// Dequeue: a finished task frees its node, which takes the best of q queued tasks
// ---------------------------------------------------------------------------------------------------------------

await afterDeploy.restore();
const node = await wallet("node");
await (
  await registry
    .connect(node)
    .join(
      "NVIDIA GeForce RTX 4090",
      24,
      [2, 5, 0],
      keyPairFromSeed("vss-bench-scale:node").publicKey,
      subgroupWitness(keyPairFromSeed("vss-bench-scale:node").publicKey),
      [MODEL],
      { value: STAKE },
    )
).wait();
const running = taskInput("running");
await (await tm.connect(app).createTask(running, { value: parseEther("1") })).wait();
if ((await tm.getTask(running.taskIDCommitment)).selectedNode !== node.address) throw new Error("bench: not started");
const deadline = await tm.deadlineOf(running.taskIDCommitment);

const queue = await ethers.getContractAt("TaskQueue", await tm.QUEUE());
const dequeueGas: number[] = [];
let queued = 0;
for (const size of SIZES) {
  queued = await fill(queued, size, async (first, count) => {
    const tx = await bench.createTasks(await tm.getAddress(), count, first, MODEL, {
      value: BigInt(count) * 1_000n * 10n ** 9n,
      gasLimit: 16_000_000,
    });
    return (await tx.wait())!.gasUsed;
  });
  if ((await queue.size()) !== BigInt(size)) throw new Error("bench: queue size");
  const snapshot = await networkHelpers.takeSnapshot();
  const samples: number[] = [];
  for (let run = 0; run < RUNS; ++run) {
    await networkHelpers.time.increaseTo(deadline + BigInt(run));
    const receipt = (await (await tm.connect(app).abortTask(running.taskIDCommitment)).wait())!;
    const started = receipt.logs.filter((log) => tm.interface.parseLog(log)?.name === "TaskStarted");
    if (started.length !== 1) throw new Error(`bench: the freed node took no queued task at ${size}`);
    samples.push(Number(receipt.gasUsed));
    await snapshot.restore();
  }
  dequeueGas.push(median(samples));
  console.log(`dequeue: ${size} queued, abortTask gas ${samples.join(" ")} (median ${median(samples)})`);
}

// ---------------------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------------------

const fmt = (n: number) => n.toLocaleString("en-US");
console.log("");
console.log(`| size   | createTask, immediate dispatch (N nodes) | dequeue on a finished task (q queued) |`);
console.log(`| -----: | ---------------------------------------: | ------------------------------------: |`);
SIZES.forEach((size, i) =>
  console.log(
    `| ${fmt(size).padStart(6)} | ${fmt(dispatchGas[i]).padStart(40)} | ${fmt(dequeueGas[i]).padStart(37)} |`,
  ),
);
const ratio = (values: number[]) => (values[values.length - 1] / values[0]).toFixed(2);
console.log(`scale dispatch_ratio=${ratio(dispatchGas)} dequeue_ratio=${ratio(dequeueGas)}`);
