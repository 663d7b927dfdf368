/**
 * The whole network on one machine: `npm run demo` (= `hardhat run scripts/demo.ts`).
 *
 * 1. Connects to Hardhat's in-process network (default) or to the JSON-RPC endpoint in `DEMO_RPC_URL`, and deploys
 *    every contract with the Ignition module `deploy/modules/VSSNetwork.ts`.
 * 2. Starts the DA/relay HTTP service (`src/relay`) on a loopback port with a temporary SQLite database.
 * 3. Starts `DEMO_NODES` node agents (`src/node/agent.ts`); the last `DEMO_DISHONEST` of them run the dishonest
 *    executor. Each joins with a 400 ETH stake.
 * 4. One application (`src/app/client.ts`) submits `DEMO_TASKS` tasks, two image tasks for every text task, a few
 *    at a time. Each travels the full lifecycle: VRF sampling, validation groups for sampled tasks, encrypted
 *    parameters through the relay, execution, scores, validation (the group's ParamsConsistency proof), the node's
 *    encrypted result with its ResultAvailability proof, and the app's download and sim-hash check.
 * 5. Prints a table of the tasks by final state, the validation groups, the slashes, the fees paid and refunded,
 *    the median gas per call, the proofs and the wall time.
 *
 * Every proof is a real Groth16 proof made here, checked on-chain by the generated verifiers.
 *
 * Options (environment variables; `hardhat run` does not forward arguments):
 *   DEMO_NODES=6              node agents (at least 3: a validation group needs three nodes)
 *   DEMO_DISHONEST=1          how many of them are dishonest
 *   DEMO_TASKS=20             tasks the application submits
 *   DEMO_CONCURRENCY=<nodes>  submissions in flight at once
 *   DEMO_SAMPLING_DIVISOR=5   the network's samplingDivisor (a task is validated by a group with probability 1/d;
 *                             the network default is 10, the demo samples more so that 20 tasks show groups)
 *   DEMO_FEE=1                fee per task, in ETH
 *   DEMO_PROVERS=2            Groth16 proofs made at once (the agents and the app share one prover; each proof
 *                             already uses every core, so more at once only adds memory and contention)
 *   DEMO_RPC_URL=<url>        use this chain instead of the in-process one (e.g. `npx hardhat node`'s
 *                             http://127.0.0.1:8545); its accounts fund the demo's wallets, or DEMO_PRIVATE_KEY's
 *   DEMO_VERBOSE=1            print every agent and relay log line
 */
import "../src/relay/quiet-sqlite-warning.js"; // before node:sqlite loads
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import { Wallet, formatEther, keccak256, parseEther, toUtf8Bytes, type Signer } from "ethers";
import VSSNetwork from "../deploy/modules/VSSLocalNetwork.js";
import { LocalFulfiller } from "../src/chain/dispatch.js";
import { TaskManager__factory } from "../typechain-types/index.js";
import { keyPairFromSeed } from "../src/crypto/babyjub.js";
import { ProofCache, terminateProver, type CircuitInput, type CircuitName } from "../src/zk/proofs.js";
import { createRelay } from "../src/relay/relay.js";
import { ChainWatcher } from "../src/chain/watcher.js";
import type { NetworkAddresses } from "../src/chain/contracts.js";
import type { GasRecorder } from "../src/chain/tx.js";
import { AppClient, TaskFailedError, type TaskOutcome, type TaskRequest } from "../src/app/index.js";
import { DishonestExecutor, NodeAgent, StandInExecutor, DEFAULT_PROFILE } from "../src/node/index.js";
import { NodeStatus, TaskStatus, TaskType } from "../src/types.js";

const t0 = Date.now();

// ---------------------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------------------

function intOption(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) {
    console.error(`demo: ${name} must be a whole number ≥ ${min}, got "${raw}"`);
    process.exit(2);
  }
  return Number(raw);
}

const NODES = intOption("DEMO_NODES", 6, 3);
const DISHONEST = intOption("DEMO_DISHONEST", 1, 0);
const TASKS = intOption("DEMO_TASKS", 20, 1);
const CONCURRENCY = intOption("DEMO_CONCURRENCY", NODES, 1);
const DIVISOR = intOption("DEMO_SAMPLING_DIVISOR", 5, 1);
/** What each task prepays to whoever dispatches it. */
const DISPATCH_BOUNTY = parseEther("0.0001");
const PROVERS = intOption("DEMO_PROVERS", 2, 1);
const FEE = parseEther(process.env.DEMO_FEE || "1");
const RPC_URL = process.env.DEMO_RPC_URL || "";
const VERBOSE = process.env.DEMO_VERBOSE === "1";
if (DISHONEST > NODES - 2) {
  console.error(
    `demo: DEMO_DISHONEST=${DISHONEST} leaves fewer than 2 honest nodes of ${NODES}; a group needs an honest majority`,
  );
  process.exit(2);
}
const STAKE = parseEther("400");
const tty = process.stderr.isTTY === true;
const log = (line: string) => {
  if (VERBOSE) process.stderr.write(`${line}\n`);
};

// ---------------------------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------------------------

function section(title: string): void {
  console.log(`\n== ${title} ${"=".repeat(Math.max(0, 100 - title.length))}`);
}

function table(headers: string[], rows: string[][], rightAligned: number[] = []): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    "  " + cells.map((c, i) => (rightAligned.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
  console.log(line(headers));
  console.log("  " + widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(row));
}

const eth = (wei: bigint) => formatEther(wei);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// ---------------------------------------------------------------------------------------------------------------
// 1. Chain and deployment
// ---------------------------------------------------------------------------------------------------------------

const conn = RPC_URL
  ? await network.create({
      network: "localhost",
      override: {
        url: RPC_URL,
        ...(process.env.DEMO_PRIVATE_KEY ? { accounts: [process.env.DEMO_PRIVATE_KEY] } : {}),
      },
    })
  : await network.getOrCreate();
const { ethers } = conn;
const provider = ethers.provider;
const [funder] = await ethers.getSigners();
section(
  `1. Deploy (Ignition module deploy/modules/VSSLocalNetwork.ts: the network + a mock VRF coordinator) on ${RPC_URL || "the in-process Hardhat network"}`,
);

/** A deterministic wallet per label (applications need their secret key: it is also their VRF key). */
async function wallet(label: string, balance: bigint): Promise<Wallet> {
  const w = new Wallet(keccak256(toUtf8Bytes(`vss-demo:${label}`)), provider);
  if (!RPC_URL) {
    await conn.networkHelpers.setBalance(w.address, balance);
  } else {
    const have = await provider.getBalance(w.address);
    if (have < balance)
      await (await (funder as Signer).sendTransaction({ to: w.address, value: balance - have })).wait();
  }
  return w;
}

const relayWallet = await wallet("relay", parseEther("10"));
const treasury = await wallet("treasury", 0n);
const deployStarted = Date.now();
const deployed = await conn.ignition.deploy(VSSNetwork, {
  parameters: {
    VSSNetwork: {
      relay: relayWallet.address,
      treasury: treasury.address,
      samplingDivisor: DIVISOR,
      // Each task prepays a bounty to whoever dispatches it (docs/randomness.md).
      dispatchBounty: DISPATCH_BOUNTY,
    },
  },
  ...(RPC_URL ? { deploymentId: `demo-${Date.now()}` } : {}),
});
const addresses: NetworkAddresses = {
  taskManager: await deployed.taskManager.getAddress(),
  registry: await deployed.nodeRegistry.getAddress(),
  relayRoots: await deployed.relayRoots.getAddress(),
};
const deployMs = Date.now() - deployStarted;
console.log(
  `  TaskManager ${addresses.taskManager}, NodeRegistry ${addresses.registry}, RelayRoots ${addresses.relayRoots}`,
);
console.log(`  samplingDivisor ${DIVISOR}: a task is validated by a group of three with probability 1/${DIVISOR}`);

// The VRF service stand-in: answers the mock coordinator's requests and dispatches pending tasks (docs/randomness.md).
const fulfillerWallet = await wallet("fulfiller", parseEther("10"));
const fulfiller = await LocalFulfiller.connect(
  TaskManager__factory.connect(addresses.taskManager, fulfillerWallet),
  await deployed.vrfCoordinator.getAddress(),
  fulfillerWallet,
  200,
  (line) => log(line),
);
fulfiller.start();
console.log(
  `  randomness: VRFBeacon ${await deployed.beacon.getAddress()} on a mock VRF coordinator, answered every 200 ms ` +
    `by a local fulfiller that also dispatches (bounty ${formatEther(DISPATCH_BOUNTY)} ETH per task)`,
);

// ---------------------------------------------------------------------------------------------------------------
// 2. Relay, 3. nodes, 4. application
// ---------------------------------------------------------------------------------------------------------------

const tmp = mkdtempSync(join(tmpdir(), "vss-demo-"));
const relay = createRelay({
  signer: relayWallet,
  relayRoots: addresses.relayRoots,
  dbPath: join(tmp, "relay.sqlite"),
  port: 0,
  batchSize: 64,
  batchIntervalMs: 150,
  pollMs: 50,
  rateLimit: null,
  log: (level, message) => log(`relay ${level}: ${message}`),
});
const relayUrl = await relay.start();
console.log(`  relay listening at ${relayUrl} (batches close after 64 blobs or 150 ms)`);

const gas: { call: string; gasUsed: bigint }[] = [];
const recordGas: GasRecorder = ({ call, gasUsed }) => gas.push({ call, gasUsed });
const proofTimes: Record<CircuitName, number[]> = { ParamsConsistency: [], ResultAvailability: [] };
const cache = new ProofCache();
let proving = 0;
const proverQueue: (() => void)[] = [];
/** The shared prover: at most PROVERS proofs at once, each timed from its start. */
const prover = {
  async prove(name: CircuitName, input: CircuitInput) {
    while (proving >= PROVERS) await new Promise<void>((resolve) => proverQueue.push(resolve));
    proving += 1;
    const started = Date.now();
    try {
      const proof = await cache.prove(name, input);
      proofTimes[name].push(Date.now() - started);
      return proof;
    } finally {
      proving -= 1;
      proverQueue.shift()?.();
    }
  },
};
const watcher = new ChainWatcher(provider, addresses, { pollMs: 100, onError: (e) => log(`watcher: ${e}`) });
await watcher.start();

const names = new Map<string, string>();
const nameOf = (address: string | null) =>
  address ? (names.get(address.toLowerCase()) ?? address.slice(0, 10)) : "none";
const dishonestAddresses = new Set<string>();
const agents: NodeAgent[] = [];
for (let i = 1; i <= NODES; i++) {
  const dishonest = i > NODES - DISHONEST;
  const label = `node-${i}`;
  const w = await wallet(label, STAKE + parseEther("10"));
  names.set(w.address.toLowerCase(), label + (dishonest ? " (dishonest)" : ""));
  if (dishonest) dishonestAddresses.add(w.address.toLowerCase());
  agents.push(
    new NodeAgent({
      wallet: w,
      addresses,
      relayUrl,
      name: label,
      executor: dishonest ? new DishonestExecutor() : new StandInExecutor(label),
      bjjKey: keyPairFromSeed(`vss-demo-bjj:${label}`),
      profile: DEFAULT_PROFILE,
      watcher,
      prover,
      gasRecorder: recordGas,
      log,
    }),
  );
}
section(`2. ${NODES} node agents join with a 400 ETH stake each (${DISHONEST} dishonest)`);
for (const agent of agents) await agent.start(STAKE);
console.log(`  ${agents.map((a) => nameOf(a.nodeAddress)).join(", ")}`);

const appWallet = await wallet("app", FEE * BigInt(3 * TASKS) + parseEther("100"));
names.set(appWallet.address.toLowerCase(), "app");
const app = new AppClient({
  wallet: appWallet,
  addresses,
  relayUrl,
  name: "app",
  bjjKey: keyPairFromSeed("vss-demo-bjj:app"),
  watcher,
  prover,
  gasRecorder: recordGas,
  // Groups hold their nodes until all three members are scored: fewer open groups than half the honest nodes
  // means they can never hold every node while their validation tasks wait in the queue.
  maxOpenGroups: Math.max(1, Math.floor((NODES - DISHONEST - 1) / 2)),
});

// Events for the tables.
const refunds: bigint[] = [];
const feesToNodes = new Map<string, bigint>();
const slashes: { node: string; amount: bigint; task: string }[] = [];
const created: string[] = [];
watcher.onEvent((e) => {
  if (e.name === "TaskCreated") created.push(e.commitment!);
  if (e.name === "TaskFeeRefunded") refunds.push(e.args.amount as bigint);
  if (e.name === "TaskFeePaid") {
    const node = (e.args.node as string).toLowerCase();
    feesToNodes.set(node, (feesToNodes.get(node) ?? 0n) + (e.args.amount as bigint));
  }
  if (e.name === "NodeSlashed") slashes.push({ node: e.args.node, amount: e.args.amount, task: e.commitment! });
});

// ---------------------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------------------

const PROMPTS = [
  "a lighthouse at dawn, oil painting",
  "a red fox in the snow, photorealistic",
  "a desert at dusk, a figure in a dark stillsuit",
  "a paper boat on a quiet river",
  "an ancient stone bridge in the fog",
  "a city of glass under two moons",
  "a small robot reading in a library",
];

function requestFor(i: number): TaskRequest {
  const prompt = PROMPTS[i % PROMPTS.length];
  if (i % 3 === 2) {
    return {
      taskType: TaskType.LLM,
      params: {
        version: "2.0.0",
        base_model: { name: "meta-llama/Llama-3.2-1B" },
        prompt: `Tell a story: ${prompt}`,
        seed: i,
      },
      fee: FEE,
      minimumVRAM: 8,
    };
  }
  return {
    taskType: TaskType.SD,
    params: {
      version: "2.0.0",
      base_model: { name: "stabilityai/sdxl-turbo" },
      prompt,
      seed: i,
      task_config: { num_images: 1, steps: 1, cfg: 0 },
    },
    fee: FEE,
    models: ["stabilityai/sdxl-turbo"],
    minimumVRAM: 8,
  };
}

interface Submission {
  index: number;
  type: TaskType;
  outcome?: TaskOutcome;
  error?: unknown;
  ms: number;
}
const submissions: Submission[] = [];
let finished = 0;
let groupsSeen = 0;
app.on("stage", (e) => {
  if (e.type === "sampled" && e.sampled) groupsSeen += 1;
});

function progress(final = false): void {
  const width = 30;
  const filled = Math.round((finished / TASKS) * width);
  const proofs = proofTimes.ParamsConsistency.length + proofTimes.ResultAvailability.length;
  const line =
    `  [${"█".repeat(filled)}${"░".repeat(width - filled)}] ${finished}/${TASKS} tasks · ${groupsSeen} groups · ` +
    `${slashes.length} slashed · ${proofs} proofs · ${secs(Date.now() - t0)}`;
  if (tty) process.stderr.write(`\r${line}${final ? "\n" : ""}`);
  else if (final !== (finished % 5 === 0)) process.stderr.write(`${line}\n`);
}

section(`3. The application submits ${TASKS} tasks (image and text), ${CONCURRENCY} at a time`);
const runStarted = Date.now();
const ticker = tty ? setInterval(() => progress(), 500) : null;
let next = 0;
async function worker(): Promise<void> {
  while (next < TASKS) {
    const index = next++;
    const request = requestFor(index);
    const started = Date.now();
    const submission: Submission = { index, type: request.taskType, ms: 0 };
    try {
      submission.outcome = await app.submitTask(request);
    } catch (error) {
      submission.error = error;
      log(`task ${index}: ${(error as Error).message}`);
    }
    submission.ms = Date.now() - started;
    submissions.push(submission);
    finished += 1;
    if (!tty) progress();
  }
}
await Promise.all(Array.from({ length: Math.min(CONCURRENCY, TASKS) }, () => worker()));
if (ticker) clearInterval(ticker);
progress(true);
const runMs = Date.now() - runStarted;

// Pull payments: nodes withdraw their fees, the application its refunds.
for (const agent of agents) await agent.withdraw();
await app.withdraw();
await watcher.poll();

// ---------------------------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------------------------

const tm = deployed.taskManager;
const registry = deployed.nodeRegistry;

section("Tasks by final state (every task on-chain, validation tasks included)");
const byState = new Map<string, number[]>();
for (const c of created) {
  const info = await tm.getTask(c);
  const state = TaskStatus[Number(info.status)] ?? String(info.status);
  const counts = byState.get(state) ?? [0, 0];
  counts[Number(info.taskType) === TaskType.LLM ? 1 : 0] += 1;
  byState.set(state, counts);
}
table(
  ["final state", "image", "text", "total"],
  [...byState.entries()].map(([state, [image, text]]) => [state, String(image), String(text), String(image + text)]),
  [1, 2, 3],
);

section("Submissions");
const ok = submissions.filter((s) => s.outcome);
const failedBy = new Map<string, number>();
for (const s of submissions) {
  if (!s.error) continue;
  const name = s.error instanceof TaskFailedError ? s.error.name : ((s.error as Error)?.name ?? "Error");
  failedBy.set(name, (failedBy.get(name) ?? 0) + 1);
}
console.log(
  `  ${ok.length} of ${TASKS} delivered a verified result (decrypted by the app, sim hash = the score on-chain); ` +
    `median time per submission ${secs(median(submissions.map((s) => s.ms)))}`,
);
for (const [name, count] of failedBy) console.log(`  ${count} ended with ${name}`);
for (const s of submissions.filter((x) => x.error).slice(0, 5))
  console.log(`    task ${s.index}: ${(s.error as Error).message}`);

section("Validation groups");
const groups = ok.filter((s) => s.outcome!.sampled);
const failedGroups = submissions.filter((s) => s.error instanceof TaskFailedError && s.error.members.length === 3);
if (groups.length + failedGroups.length === 0) console.log("  none: no task was sampled this run");
table(
  ["task", "type", "members: final state (node)"],
  groups.map((s) => [
    String(s.index),
    TaskType[s.type],
    s.outcome!.members.map((m) => `${TaskStatus[m.status]} (${nameOf(m.node)})`).join(", "),
  ]),
);
for (const s of failedGroups) console.log(`  task ${s.index}: ${(s.error as Error).message}`);

section("Slashes");
if (slashes.length === 0) {
  console.log(
    DISHONEST > 0
      ? "  none: the dishonest node was not drawn into a validation group this run (only sampled tasks are checked)"
      : "  none",
  );
}
for (const s of slashes) {
  console.log(`  ${nameOf(s.node)} lost its ${eth(s.amount)} ETH stake to the treasury (task ${s.task.slice(0, 10)}…)`);
}

section("Fees (ETH)");
const feesSent = FEE * BigInt(created.length);
const refunded = refunds.reduce((a, b) => a + b, 0n);
console.log(`  the app paid ${eth(feesSent)} for ${created.length} tasks; ${eth(refunded)} came back as refunds`);
const nodeRows: string[][] = [];
for (const agent of agents) {
  const info = await registry.getNode(agent.nodeAddress);
  nodeRows.push([
    nameOf(agent.nodeAddress),
    NodeStatus[Number(info.status)],
    eth(info.stake),
    eth(feesToNodes.get(agent.nodeAddress.toLowerCase()) ?? 0n),
  ]);
}
table(["node", "status", "stake", "fees earned"], nodeRows, [2, 3]);
console.log(`  treasury (slashed stakes, withdrawable): ${eth(await registry.withdrawable(treasury.address))}`);

section("Median gas per call");
const roots = await deployed.relayRoots.queryFilter(deployed.relayRoots.filters.RootPosted());
for (const r of roots) {
  const receipt = await provider.getTransactionReceipt(r.transactionHash);
  if (receipt) gas.push({ call: "relay postRoot", gasUsed: receipt.gasUsed });
}
const calls = new Map<string, number[]>();
for (const g of gas) calls.set(g.call, [...(calls.get(g.call) ?? []), Number(g.gasUsed)]);
table(
  ["call", "count", "median gas"],
  [...calls.entries()].map(([call, xs]) => [call, String(xs.length), Math.round(median(xs)).toLocaleString("en-US")]),
  [1, 2],
);

section("Proofs and time");
for (const name of ["ParamsConsistency", "ResultAvailability"] as const) {
  const xs = proofTimes[name];
  console.log(
    `  ${name}: ${xs.length} real Groth16 proofs, median ${secs(median(xs))} each (${PROVERS} at a time, while everything else ran)`,
  );
}

// The money invariant (DESIGN §9).
const tmBalance = await provider.getBalance(addresses.taskManager);
const tmOwed = (await tm.totalEscrowed()) + (await tm.totalWithdrawable());
const regBalance = await provider.getBalance(addresses.registry);
const regOwed = (await registry.totalStaked()) + (await registry.totalWithdrawable());
console.log(
  `  TaskManager holds ${eth(tmBalance)} = escrow + withdrawable ${eth(tmOwed)}; ` +
    `NodeRegistry holds ${eth(regBalance)} = stakes + withdrawable ${eth(regOwed)}`,
);
if (tmBalance !== tmOwed || regBalance !== regOwed) {
  console.error("demo: the money invariant does not hold");
  process.exitCode = 1;
}

fulfiller.stop();
console.log(
  `  beacon: ${fulfiller.stats.words} words delivered, ${fulfiller.stats.dispatchCalls} dispatch calls by the fulfiller`,
);
for (const agent of agents) await agent.stop();
await watcher.stop();
await relay.stop();
rmSync(tmp, { recursive: true, force: true });
await terminateProver(); // snarkjs' worker threads would keep the process alive
console.log(
  `\n  wall time ${secs(Date.now() - t0)} (deploy ${secs(deployMs)}, ${TASKS} tasks ${secs(runMs)}); ` +
    `nodes ${NODES}, dishonest ${DISHONEST}, concurrency ${CONCURRENCY}`,
);
console.log(
  `demo tasks=${TASKS} ok=${ok.length} groups=${groups.length} slashed=${slashes.length} wall_s=${((Date.now() - t0) / 1000).toFixed(1)}`,
);
// Everything is stopped; if a stray handle (a socket of a stopped server, say) still holds the event loop, name it
// with DEMO_VERBOSE=1 and exit anyway: the demo's work is done.
setTimeout(() => {
  const handles = (process as unknown as { _getActiveHandles(): object[] })._getActiveHandles();
  log(`demo: exiting with ${handles.length} open handle(s): ${handles.map((h) => h.constructor?.name).join(", ")}`);
  process.exit();
}, 5_000).unref();
