/**
 * Gas of the on-chain task lifecycle: `npm run bench:gas` (= `hardhat run scripts/bench-gas.ts`).
 *
 * Measures `receipt.gasUsed` of every lifecycle call on Hardhat's in-process network, under the conditions of
 * DESIGN §12 (3 nodes, image tasks, median of 5): five nodes join (the join figure is the median of those five),
 * two of them quit, and then, on the remaining three nodes,
 *   - 5 single tasks, each with fresh identities: createTask, the beacon word (the VRF coordinator's callback),
 *     dispatchTasks, reportTaskParametersUploaded, submitTaskScore, validateSingleTask, reportTaskResultUploaded,
 *     and the node's withdraw;
 *   - 5 validation groups (all three nodes honest, outcome AAA): for each member createTask, its word and its
 *     dispatch, then 3 reportTaskParametersUploaded, 3 submitTaskScore, validateTaskGroup, reportTaskResultUploaded.
 * Randomness (docs/randomness.md): here every task is alone in its epoch, so each pays a whole VRF request (inside
 * its createTask, which finds no word in flight) and a whole callback, and is dispatched alone: the worst case. On a
 * busy network one request and one callback serve every task created while the previous word was in flight, and
 * one dispatchTasks call serves several tasks; the per-task share of those three rows then falls accordingly.
 * With every proof real (DESIGN §4): validateTaskGroup verifies a ParamsConsistency Groth16 proof and
 * reportTaskResultUploaded a ResultAvailability proof (15 proofs in all, several seconds each: the run takes minutes).
 * Each relay batch holds BATCH_SIZE blobs (the task's own plus deterministic "other traffic"), so every Merkle proof
 * has log2(BATCH_SIZE) siblings, as on a network with other applications, instead of the empty proof of a one-blob
 * batch. The relay's own postRoot is reported separately; it is paid once per batch by the relay.
 *
 * Reproducibility: keys, GUIDs, nonces, ephemeral keys, the beacon word of every task and every block timestamp
 * are fixed, so two runs give the same numbers (the VRF's gas depends on the seed, dispatch on the seed and QoS
 * ranking on the timestamps). Groth16 proofs are randomised: their calldata, hence the gas of the two proof-carrying
 * calls, can move by a few dozen gas between runs, far inside the tolerance. The snapshot check:
 *   GAS_SNAPSHOT=write  writes gas-snapshot.json (call → median gas) in the repository root (`npm run gas:snapshot`);
 *   GAS_SNAPSHOT=check  compares with it and exits non-zero listing every call off by more than TOLERANCE
 *                       (`npm run gas:check`). (`hardhat run` does not forward CLI arguments, hence the variable.)
 * The last line of the output is always `lifecycle gas single=<N> group=<N>`.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { network } from "hardhat";
import { Wallet, keccak256, parseEther, toUtf8Bytes } from "ethers";
import VSSNetwork from "../deploy/modules/VSSLocalNetwork.js";
import { modelId } from "../src/crypto/commitment.js";
import { keyPairFromSeed } from "../src/crypto/babyjub.js";
import { ProofCache, terminateProver } from "../src/zk/proofs.js";
import {
  App,
  DEFAULT_NODE_PROFILE,
  InProcessRelay,
  Node,
  SimChain,
  deterministicRandom32,
  sealBytes,
  type AppTask,
  type SentTx,
  type TaskSpec,
} from "../src/sim/inprocess.js";
import { TaskStatus, TaskType } from "../src/types.js";

/** Runs per measured call (the figure is the median). */
const RUNS = 5;
/** Nodes that join (all measured), and nodes that stay for the task runs (DESIGN §12 measures with 3). */
const JOINING_NODES = 5;
const ACTIVE_NODES = 3;
/** Blobs per relay batch: proofs have log2(BATCH_SIZE) = 3 siblings. */
const BATCH_SIZE = 8;
/** A snapshot check fails when a call's median differs from the snapshot by more than this fraction. */
const TOLERANCE = 0.01;
/** First block timestamp of the measured transactions; each transaction is one second after the previous one. */
const START_TIMESTAMP = 2_000_000_000;
const SNAPSHOT_PATH = fileURLToPath(new URL("../gas-snapshot.json", import.meta.url));

const mode = process.env.GAS_SNAPSHOT ?? "";
if (!["", "write", "check"].includes(mode)) {
  console.error(`GAS_SNAPSHOT must be "write" or "check" (or unset), not "${mode}"`);
  process.exit(2);
}

const conn = await network.getOrCreate();
const { ethers, networkHelpers } = conn;

// ---------------------------------------------------------------------------------------------------------------
// What is measured, in table order, with the DESIGN §12 figures
// ---------------------------------------------------------------------------------------------------------------

interface Row {
  key: string;
  target?: number;
  reference?: number;
}

const ROWS: Row[] = [
  { key: "node join", target: 250_000, reference: 970_759 },
  { key: "single: createTask (with the VRF request)", target: 150_000, reference: 975_902 },
  { key: "single: VRF callback (one word per task here)" },
  { key: "single: dispatchTasks (one task)" },
  { key: "single: reportTaskParametersUploaded" },
  { key: "single: submitTaskScore", target: 60_000, reference: 80_474 },
  { key: "single: validateSingleTask", target: 120_000, reference: 1_664_353 },
  { key: "single: reportTaskResultUploaded", target: 320_000, reference: 397_155 },
  { key: "single: withdraw (node fee)" },
  { key: "group: createTask #1 (original)", target: 150_000 },
  { key: "group: createTask #2", target: 150_000 },
  { key: "group: createTask #3", target: 150_000 },
  { key: "group: VRF callback + dispatchTasks, 3 members" },
  { key: "group: reportTaskParametersUploaded #1" },
  { key: "group: reportTaskParametersUploaded #2" },
  { key: "group: reportTaskParametersUploaded #3" },
  { key: "group: submitTaskScore #1", target: 60_000 },
  { key: "group: submitTaskScore #2", target: 60_000 },
  { key: "group: submitTaskScore #3", target: 60_000 },
  { key: "group: validateTaskGroup (AAA)" },
  { key: "group: reportTaskResultUploaded", target: 320_000 },
  { key: "relay: postRoot (per batch, paid by the relay)" },
];

/**
 * The lifecycle sums: every call of the task's own lifecycle, from createTask to the result upload that settles the
 * fee. Excluded: node join and withdraw (per node, not per task) and the relay's postRoot (per batch, amortised
 * over all its blobs, paid by the relay).
 */
const SINGLE_LIFECYCLE = ROWS.slice(1, 8).map((r) => r.key);
const GROUP_LIFECYCLE = ROWS.slice(9, 21).map((r) => r.key);
const SINGLE_TARGET = 600_000;
const SINGLE_REFERENCE = 3_176_656;
const GROUP_TARGET = 1_600_000;
const GROUP_REFERENCE = 6_186_482;

const samples = new Map<string, number[]>(ROWS.map((r) => [r.key, []]));
function record(key: string, tx: SentTx | null): void {
  if (!tx) throw new Error(`bench: ${key}: no transaction`);
  const list = samples.get(key);
  if (!list) throw new Error(`bench: unknown call ${key}`);
  list.push(Number(tx.receipt.gasUsed));
}

function median(values: number[]): number {
  if (values.length === 0) throw new Error("bench: no samples");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
}

// ---------------------------------------------------------------------------------------------------------------
// Network and actors
// ---------------------------------------------------------------------------------------------------------------

async function wallet(label: string): Promise<Wallet> {
  const w = new Wallet(keccak256(toUtf8Bytes(`vss-bench:${label}`)), ethers.provider);
  await networkHelpers.setBalance(w.address, parseEther("100000"));
  return w;
}

const relayWallet = await wallet("relay");
const treasuryWallet = await wallet("treasury");
const deployed = await conn.ignition.deploy(VSSNetwork, {
  parameters: { VSSNetwork: { relay: relayWallet.address, treasury: treasuryWallet.address } },
});
const [admin] = await ethers.getSigners();

let clock = START_TIMESTAMP;
const chain = await SimChain.create(
  {
    taskManager: await deployed.taskManager.getAddress(),
    registry: await deployed.nodeRegistry.getAddress(),
    relayRoots: await deployed.relayRoots.getAddress(),
  },
  admin,
  {
    // Every transaction gets its own block, one second after the previous one: reproducible timestamps.
    beforeTx: async () => networkHelpers.time.setNextBlockTimestamp(++clock),
    afterTx: (tx) => {
      if (tx.call === "postRoot") record("relay: postRoot (per batch, paid by the relay)", tx);
    },
  },
  await deployed.vrfCoordinator.getAddress(),
);
const relay = new InProcessRelay(chain, relayWallet);
const prover = new ProofCache();
const actorOptions = (label: string) => ({
  random: deterministicRandom32(`bench:${label}`),
  ephemeralRandom: deterministicRandom32(`bench:${label}:ephemeral`),
  bjjKey: keyPairFromSeed(`vss-bench-bjj:${label}`),
  prover,
});
const app = new App(chain, relay, await wallet("app"), "app", actorOptions("app"));
const nodes: Node[] = [];
for (let i = 0; i < JOINING_NODES; ++i) {
  const label = `node-${i}`;
  nodes.push(new Node(chain, relay, await wallet(label), label, true, DEFAULT_NODE_PROFILE, actorOptions(label)));
}

let fillerCounter = 0;
const otherApp = keyPairFromSeed("vss-bench-bjj:other-traffic");
const otherRandom = deterministicRandom32("bench:other-traffic");
/** Deterministic (encrypted) blobs of other applications, so that the next batch holds BATCH_SIZE blobs. */
function otherTraffic(ownBlobs: number): void {
  for (let i = ownBlobs; i < BATCH_SIZE; ++i) {
    const bytes = toUtf8Bytes(`other traffic #${fillerCounter++}`);
    relay.upload(sealBytes(bytes, 4, otherApp.publicKey, otherRandom).blob);
  }
}

function nodeAt(address: string | null): Node {
  const node = nodes.find((n) => n.address.toLowerCase() === address?.toLowerCase());
  if (!node) throw new Error(`bench: no node at ${address}`);
  return node;
}

const spec: TaskSpec = {
  taskType: TaskType.SD,
  params: JSON.stringify({
    version: "2.0.0",
    base_model: { name: "stabilityai/sdxl-turbo" },
    prompt: "a lighthouse at dawn",
  }),
  fee: parseEther("1"),
  modelIDs: [modelId("stabilityai/sdxl-turbo")],
  minimumVRAM: 8,
  version: [2, 0, 0],
  taskSize: 1,
};

/** Creates a task whose VRF decision is `sampled` (the bench plays the VRF service: see App.pickWord). */
async function createWithOutcome(sampled: boolean): Promise<AppTask> {
  const task = await app.createTask(spec, app.newIdentity(), sampled);
  if (task.sampling.sampled !== sampled) throw new Error("bench: the word did not give the wanted outcome");
  if (!task.selectedNode) throw new Error("bench: the task was queued instead of dispatched");
  return task;
}

// ---------------------------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------------------------

for (const node of nodes) record("node join", await node.join(parseEther("400")));
for (const node of nodes.slice(ACTIVE_NODES)) await node.quit();

for (let run = 0; run < RUNS; ++run) {
  const task = await createWithOutcome(false);
  record("single: createTask (with the VRF request)", task.created);
  record("single: VRF callback (one word per task here)", task.fulfilled);
  record("single: dispatchTasks (one task)", task.dispatched);
  otherTraffic(1);
  record("single: reportTaskParametersUploaded", (await app.uploadParameters(task))[0]);
  const node = nodeAt(task.selectedNode);
  await node.execute(task.commitment);
  record("single: submitTaskScore", await node.submitScore(task.commitment));
  record("single: validateSingleTask", await app.validateSingle(task));
  otherTraffic(1);
  record("single: reportTaskResultUploaded", await node.uploadResult(task.commitment));
  record("single: withdraw (node fee)", await node.withdraw());
}

for (let run = 0; run < RUNS; ++run) {
  const original = await createWithOutcome(true);
  const group = [original, ...(await app.createValidationTasks(original))];
  group.forEach((task, i) => record(`group: createTask #${i + 1}${i === 0 ? " (original)" : ""}`, task.created));
  const words = group.reduce((sum, t) => sum + t.fulfilled.receipt.gasUsed + t.dispatched.receipt.gasUsed, 0n);
  samples.get("group: VRF callback + dispatchTasks, 3 members")!.push(Number(words));
  otherTraffic(3);
  const uploads = await app.uploadParameters(...group);
  uploads.forEach((tx, i) => record(`group: reportTaskParametersUploaded #${i + 1}`, tx));
  for (const [i, task] of group.entries()) {
    const node = nodeAt(task.selectedNode);
    await node.execute(task.commitment);
    record(`group: submitTaskScore #${i + 1}`, await node.submitScore(task.commitment));
  }
  record("group: validateTaskGroup (AAA)", await app.validateGroup(original));
  const statuses = await Promise.all(group.map((t) => chain.contracts.taskManager.taskStatus(t.commitment)));
  const winner = group[statuses.findIndex((s) => s === BigInt(TaskStatus.GroupValidated))];
  if (!winner || statuses.filter((s) => s === BigInt(TaskStatus.EndGroupRefund)).length !== 2) {
    throw new Error(`bench: group outcome is not AAA (GV, GR, GR): ${statuses.map((s) => TaskStatus[Number(s)])}`);
  }
  otherTraffic(1);
  record("group: reportTaskResultUploaded", await nodeAt(winner.selectedNode).uploadResult(winner.commitment));
}

// ---------------------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------------------

const medians: Record<string, number> = {};
for (const row of ROWS) medians[row.key] = median(samples.get(row.key)!);
const singleTotal = SINGLE_LIFECYCLE.reduce((sum, key) => sum + medians[key], 0);
const groupTotal = GROUP_LIFECYCLE.reduce((sum, key) => sum + medians[key], 0);

const fmt = (n: number | undefined) => (n === undefined ? "" : n.toLocaleString("en-US"));
const verdict = (gas: number, target?: number) => (target === undefined ? "" : gas <= target ? "ok" : "OVER");
const tableRows: string[][] = ROWS.map((row) => {
  const list = samples.get(row.key)!;
  return [
    row.key,
    fmt(medians[row.key]),
    `${fmt(Math.min(...list))}–${fmt(Math.max(...list))}`,
    row.target === undefined ? "" : `≤ ${fmt(row.target)}`,
    verdict(medians[row.key], row.target),
    fmt(row.reference),
  ];
});
tableRows.push(
  [
    "single-task lifecycle (sum of medians)",
    fmt(singleTotal),
    "",
    `≤ ${fmt(SINGLE_TARGET)}`,
    verdict(singleTotal, SINGLE_TARGET),
    fmt(SINGLE_REFERENCE),
  ],
  [
    "group lifecycle (sum of medians)",
    fmt(groupTotal),
    "",
    `≤ ${fmt(GROUP_TARGET)}`,
    verdict(groupTotal, GROUP_TARGET),
    fmt(GROUP_REFERENCE),
  ],
);
const headers = ["call", "median gas", "min–max", "§12 target", "", "reference"];
const widths = headers.map((h, i) => Math.max(h.length, ...tableRows.map((r) => r[i].length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i === 0 || i === 4 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
console.log(
  `Gas per call: median of ${RUNS} runs on Hardhat's in-process network; ${ACTIVE_NODES} nodes; SD tasks; ` +
    `relay batches of ${BATCH_SIZE} blobs (Merkle proofs of ${Math.log2(BATCH_SIZE)} siblings); real Groth16 proofs ` +
    `(ParamsConsistency in validateTaskGroup, ResultAvailability in reportTaskResultUploaded).`,
);
console.log(line(headers));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
tableRows.forEach((r, i) => {
  if (i === ROWS.length) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  console.log(line(r));
});
console.log(
  "lifecycle = createTask … reportTaskResultUploaded of the task(s); excludes node join, withdraw and the relay's postRoot.",
);

// ---------------------------------------------------------------------------------------------------------------
// Snapshot
// ---------------------------------------------------------------------------------------------------------------

if (mode === "write") {
  writeFileSync(SNAPSHOT_PATH, JSON.stringify(medians, null, 2) + "\n");
  console.log(`gas snapshot: wrote ${ROWS.length} calls to gas-snapshot.json`);
} else if (mode === "check") {
  if (!existsSync(SNAPSHOT_PATH)) {
    console.log("gas snapshot: gas-snapshot.json is missing; run `npm run gas:snapshot`");
    process.exitCode = 1;
  } else {
    const snapshot = JSON.parse(readFileSync(SNAPSHOT_PATH, "utf8")) as Record<string, number>;
    const failures: string[] = [];
    for (const [key, gas] of Object.entries(medians)) {
      const expected = snapshot[key];
      if (typeof expected !== "number") {
        failures.push(`${key}: ${fmt(gas)} (not in the snapshot)`);
      } else if (Math.abs(gas - expected) > TOLERANCE * expected) {
        const change = ((gas - expected) / expected) * 100;
        failures.push(`${key}: ${fmt(expected)} → ${fmt(gas)} (${change >= 0 ? "+" : ""}${change.toFixed(2)} %)`);
      }
    }
    for (const key of Object.keys(snapshot)) {
      if (!(key in medians)) failures.push(`${key}: in the snapshot but no longer measured`);
    }
    if (failures.length === 0) {
      console.log(`gas snapshot: all ${ROWS.length} calls within ${TOLERANCE * 100} % of gas-snapshot.json`);
    } else {
      console.log(
        `gas snapshot: ${failures.length} call(s) differ by more than ${TOLERANCE * 100} % from gas-snapshot.json:`,
      );
      for (const failure of failures) console.log(`  ${failure}`);
      console.log("(if the change is intended, run `npm run gas:snapshot` and commit gas-snapshot.json)");
      process.exitCode = 1;
    }
  }
}

await terminateProver(); // snarkjs' worker threads would keep the process alive
console.log(`lifecycle gas single=${singleTotal} group=${groupTotal}`);
