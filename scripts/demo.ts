/**
 * The whole network on one machine: `npm run demo` (= `hardhat run scripts/demo.ts`).
 *
 * Deploys the contracts on Hardhat's in-process network with the Ignition module, joins five nodes (node-5 is
 * dishonest), and walks two tasks through the lifecycle with the in-process actors of `src/sim/inprocess.ts`:
 *   (a) alice's single task, not sampled: create → parameters → score → validateSingleTask → result → paid;
 *   (b) bob's sampled task and its two validation tasks, one of them on the dishonest node: validateTaskGroup
 *       validates the honest majority, refunds the second honest member and slashes the dishonest node.
 * Everything on the wire is real: parameters are encrypted to each node's registered Baby Jubjub key and results to
 * the application's, blobs are proven in relay roots, `validateTaskGroup` checks a ParamsConsistency proof and
 * `reportTaskResultUploaded` a ResultAvailability proof (Groth16, made here; each takes several seconds).
 * Every contract event is printed as its transaction is mined, then tables of the tasks and the balances.
 * Deterministic: fixed keys, fixed prevrandao and deterministic GUIDs/nonces/ephemeral keys, so every run prints
 * the same story (the Groth16 proofs themselves are randomised, so gas may differ by a few units).
 */
import { network } from "hardhat";
import { Wallet, formatEther, getBytes, hexlify, keccak256, parseEther, toUtf8Bytes, type Result } from "ethers";
import VSSNetwork from "../deploy/modules/VSSNetwork.js";
import { modelId } from "../src/crypto/commitment.js";
import { keyPairFromSeed } from "../src/crypto/babyjub.js";
import { imageScore } from "../src/crypto/phash.js";
import { ProofCache, terminateProver } from "../src/zk/proofs.js";
import {
  App,
  DEFAULT_NODE_PROFILE,
  InProcessRelay,
  Node,
  SimChain,
  deterministicRandom32,
  samplingSeedOf,
  shortHex,
  type AppTask,
  type DecodedEvent,
  type SentTx,
  type TaskSpec,
} from "../src/sim/inprocess.js";
import { NodeStatus, TaskAbortReason, TaskError, TaskStatus, TaskType } from "../src/types.js";

const started = Date.now();
const conn = await network.getOrCreate();
const { ethers, networkHelpers } = conn;

const STAKE = parseEther("400");
const FEE = parseEther("1");

// ---------------------------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------------------------

const taskLabels = new Map<string, string>();
/** T1, T2, ... in order of creation, so the log and the tables can say which task is which. */
function taskLabel(commitment: string): string {
  const key = commitment.toLowerCase();
  if (!taskLabels.has(key)) taskLabels.set(key, `T${taskLabels.size + 1}`);
  return taskLabels.get(key)!;
}

let chain: SimChain;

const ENUM_ARGS: Record<string, Record<string, Record<number, string>>> = {
  TaskAborted: { lastStatus: TaskStatus, reason: TaskAbortReason },
  TaskErrorReported: { error: TaskError },
  NodeStatusChanged: { from: NodeStatus, to: NodeStatus },
};
const AMOUNT_ARGS = new Set(["amount", "stake", "stakeReturned"]);
const ARG_NAMES: Record<string, string> = { taskIDCommitment: "task", selectedNode: "node" };

function formatArg(event: DecodedEvent, name: string, type: string, value: unknown): string {
  const enumNames = ENUM_ARGS[event.name]?.[name];
  if (enumNames) return enumNames[Number(value)] ?? String(value);
  if (name === "taskIDCommitment") return `${taskLabel(value as string)}(${shortHex(value as string)})`;
  if (type === "address") return chain.nameOf(value as string);
  if (type === "bytes32" || type === "bytes") return shortHex(value as string);
  if (AMOUNT_ARGS.has(name)) return `${formatEther(value as bigint)} ETH`;
  if (type === "string") return JSON.stringify(value);
  if (type.startsWith("tuple")) return "{…}";
  return String(value);
}

function formatEvent(event: DecodedEvent): string {
  const args = event.fragment.inputs.map(
    (input, i) =>
      `${ARG_NAMES[input.name] ?? input.name}=${formatArg(event, input.name, input.type, (event.args as Result)[i])}`,
  );
  return `      ${event.name.padEnd(24)} ${args.join(" ")}`;
}

function printTx(tx: SentTx): void {
  console.log(`  ${tx.actor} ▸ ${tx.call}  (gas ${tx.receipt.gasUsed.toLocaleString("en-US")})`);
  for (const event of tx.events) console.log(formatEvent(event));
  collect(tx);
}

function section(title: string): void {
  console.log(`\n== ${title} ${"=".repeat(Math.max(0, 100 - title.length))}`);
}

function note(text: string): void {
  console.log(`  · ${text}`);
}

// Money flows, from the events (for the balance table).
const refunded = new Map<string, bigint>();
const earned = new Map<string, bigint>();
const withdrawn = new Map<string, bigint>();
const slashes: { node: string; task: string; amount: bigint }[] = [];
function add(map: Map<string, bigint>, account: string, amount: bigint): void {
  map.set(account.toLowerCase(), (map.get(account.toLowerCase()) ?? 0n) + amount);
}
function collect(tx: SentTx): void {
  for (const e of tx.events) {
    if (e.name === "TaskFeeRefunded") add(refunded, e.args.creator, e.args.amount);
    if (e.name === "TaskFeePaid") add(earned, e.args.node, e.args.amount);
    if (e.name === "Withdrawn") add(withdrawn, e.args.account, e.args.amount);
    if (e.name === "NodeSlashed")
      slashes.push({ node: e.args.node, task: e.args.taskIDCommitment, amount: e.args.amount });
  }
}

function table(headers: string[], rows: string[][], rightAligned: number[] = []): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    "  " + cells.map((c, i) => (rightAligned.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
  console.log(line(headers));
  console.log("  " + widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(row));
}

const eth = (wei: bigint) => `${formatEther(wei)}`;

// ---------------------------------------------------------------------------------------------------------------
// 1. Deploy
// ---------------------------------------------------------------------------------------------------------------

section("1. Deploy (Ignition module deploy/modules/VSSNetwork.ts) on the in-process Hardhat network");

/** A deterministic funded wallet (applications need their secret key: it is also their VRF key). */
async function wallet(label: string): Promise<Wallet> {
  const w = new Wallet(keccak256(toUtf8Bytes(`vss-demo:${label}`)), ethers.provider);
  await networkHelpers.setBalance(w.address, parseEther("10000"));
  return w;
}

const relayWallet = await wallet("relay");
const treasuryWallet = await wallet("treasury");
const deployed = await conn.ignition.deploy(VSSNetwork, {
  parameters: { VSSNetwork: { relay: relayWallet.address, treasury: treasuryWallet.address } },
});
const addresses = {
  taskManager: await deployed.taskManager.getAddress(),
  registry: await deployed.nodeRegistry.getAddress(),
  relayRoots: await deployed.relayRoots.getAddress(),
};
const [admin] = await ethers.getSigners();
chain = await SimChain.create(addresses, admin, { afterTx: printTx });
chain.setName(treasuryWallet.address, "treasury");
chain.setName(await deployed.samplingVerifier.getAddress(), "SamplingVerifier");
for (const [name, address] of Object.entries({
  ...addresses,
  samplingVerifier: await deployed.samplingVerifier.getAddress(),
})) {
  note(`${name.padEnd(16)} ${address}`);
}
note(`relay ${relayWallet.address} holds RELAY_ROLE; slashed stakes go to treasury ${treasuryWallet.address}`);
note(`sampling: a task is validated as a group iff VRF output % ${chain.samplingDivisor} == 0`);

const relay = new InProcessRelay(chain, relayWallet);
const prover = new ProofCache();
// Deterministic GUIDs, nonces, ephemeral keys and Baby Jubjub keys keep the demo reproducible; the actors' defaults
// are cryptographically random.
const actorOptions = (label: string) => ({
  random: deterministicRandom32(`demo:${label}`),
  ephemeralRandom: deterministicRandom32(`demo:${label}:ephemeral`),
  bjjKey: keyPairFromSeed(`vss-demo-bjj:${label}`),
  prover,
});
const alice = new App(chain, relay, await wallet("alice"), "alice", actorOptions("alice"));
const bob = new App(chain, relay, await wallet("bob"), "bob", actorOptions("bob"));
const apps = [alice, bob];

// ---------------------------------------------------------------------------------------------------------------
// 2. Nodes join
// ---------------------------------------------------------------------------------------------------------------

section("2. Five nodes join with a 400 ETH stake each (node-5 is dishonest)");
const nodes: Node[] = [];
for (let i = 1; i <= 5; ++i) {
  const label = `node-${i}`;
  nodes.push(new Node(chain, relay, await wallet(label), label, i !== 5, DEFAULT_NODE_PROFILE, actorOptions(label)));
}
for (const node of nodes) await node.join(STAKE);

function nodeAt(address: string | null): Node {
  const node = nodes.find((n) => n.address.toLowerCase() === address?.toLowerCase());
  if (!node) throw new Error(`no node at ${address}`);
  return node;
}

const sdParams = (prompt: string) =>
  JSON.stringify({
    version: "2.0.0",
    base_model: { name: "stabilityai/sdxl-turbo" },
    prompt,
    task_config: { num_images: 1, steps: 1, cfg: 0 },
  });
const specFor = (prompt: string): TaskSpec => ({
  taskType: TaskType.SD,
  params: sdParams(prompt),
  fee: FEE,
  modelIDs: [modelId("stabilityai/sdxl-turbo")],
  minimumVRAM: 8,
  version: [2, 0, 0],
  taskSize: 1,
});

function describeSampling(app: App, task: AppTask): void {
  const n = task.sampling.samplingNumber;
  note(
    `${app.name} runs its VRF over the sampling seed ${shortHex(task.seed)}: output ${shortHex("0x" + n.toString(16))}, ` +
      `% ${chain.samplingDivisor} = ${n % chain.samplingDivisor} → ${task.sampling.sampled ? "SAMPLED: validate as a group" : "not sampled: validate alone"}`,
  );
}

async function executeAndScore(node: Node, task: AppTask): Promise<void> {
  const { score } = await node.execute(task.commitment);
  note(
    `${node.name} fetches ${taskLabel(task.commitment)}'s parameters from the relay, decrypts and runs them${node.honest ? "" : " (cheating: a made-up image)"}: pHash ${hexlify(score)}`,
  );
  await node.submitScore(task.commitment);
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

async function proveAndUploadResult(node: Node, task: AppTask, app: App): Promise<void> {
  note(
    `${node.name} encrypts the result to ${app.name}'s Baby Jubjub key, uploads it to the relay and proves ` +
      `ResultAvailability (the blob is the result for ${app.name}, and its pHash is the score ${node.name} submitted)`,
  );
  const started = Date.now();
  await node.uploadResult(task.commitment);
  note(`(Groth16 proof made in ${seconds(started)}; ResultAvailabilityVerifier checked it in the transaction above)`);
}

async function fetchAndShow(app: App, task: AppTask): Promise<void> {
  const result = await app.fetchResult(task);
  const score = hexlify((await chain.contracts.taskManager.getTask(task.commitment)).score);
  note(
    `${app.name} downloads the result of ${taskLabel(task.commitment)} from the relay and decrypts it: a 64×64 image ` +
      `(${result.length} bytes) whose pHash ${imageScore(result)} is the score on-chain (${score})`,
  );
  if (imageScore(result) !== score) throw new Error("demo: the result does not hash to the score");
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Single task
// ---------------------------------------------------------------------------------------------------------------

section("3. alice: a single task that the VRF does not sample");
// DEMO ONLY: a real application cannot choose the outcome of its VRF. The sampling seed is
// keccak256(prevrandao, commitment) and the application neither chooses prevrandao nor knows it before the task is
// mined. To show both paths deterministically, the demo fixes the next block's prevrandao and draws nonces until
// alice's VRF says "not sampled" (and, in part 4, until bob's says "sampled").
const PREVRANDAO_SINGLE = 1_001n;
const singleIdentity = alice.findIdentity(PREVRANDAO_SINGLE, false);
note(
  `(demo) prevrandao fixed to ${PREVRANDAO_SINGLE}; predicted seed ${shortHex(samplingSeedOf(PREVRANDAO_SINGLE, singleIdentity.commitment))}`,
);
await networkHelpers.setPrevRandao(PREVRANDAO_SINGLE);
const single = await alice.createTask(specFor("a lighthouse at dawn, oil painting"), singleIdentity);
describeSampling(alice, single);
const singleNode = nodeAt(single.selectedNode);
note(
  `${singleNode.name} was selected; alice encrypts the parameters to its registered Baby Jubjub key and uploads them to the relay`,
);
await alice.uploadParameters(single);
await executeAndScore(singleNode, single);
await alice.validateSingle(single);
await proveAndUploadResult(singleNode, single, alice);
await fetchAndShow(alice, single);

// ---------------------------------------------------------------------------------------------------------------
// 4. Validation group
// ---------------------------------------------------------------------------------------------------------------

section("4. bob: a sampled task and its two validation tasks, one landing on the dishonest node-5");
// DEMO ONLY: dispatch is random (weighted by stake and QoS), so a dishonest node is caught only when it happens to
// be drawn for a sampled group. To make sure it is, two honest nodes pause for the group, leaving exactly three
// available nodes: two honest ones and node-5.
const available: Node[] = [];
for (const node of nodes)
  if ((await chain.contracts.registry.nodeStatus(node.address)) === BigInt(NodeStatus.Available)) available.push(node);
const pausing = available.filter((n) => n.honest).slice(0, available.length - 3);
for (const node of pausing)
  await chain.send(node.name, "pause", () => chain.contracts.registry.connect(node.wallet).pause());

const PREVRANDAO_GROUP = 2_002n;
const groupIdentity = bob.findIdentity(PREVRANDAO_GROUP, true);
note(`(demo) prevrandao fixed to ${PREVRANDAO_GROUP}; nonces drawn until bob's VRF says "sampled"`);
await networkHelpers.setPrevRandao(PREVRANDAO_GROUP);
const original = await bob.createTask(specFor("a red fox in the snow, photorealistic"), groupIdentity);
describeSampling(bob, original);
note("bob creates two validation tasks with the same GUID and parameters (new nonces): nobody can link them yet");
const [second, third] = await bob.createValidationTasks(original);
const group = [original, second, third];
note(
  `nodes: ${group.map((t) => `${taskLabel(t.commitment)}→${nodeAt(t.selectedNode).name}`).join(", ")}; bob uploads the three parameter blobs in one relay batch`,
);
await bob.uploadParameters(...group);
for (const task of group) await executeAndScore(nodeAt(task.selectedNode), task);
note(
  "bob reveals the GUID, proves with his VRF that the original task was sampled, and proves ParamsConsistency: the " +
    "three parameter blobs encrypt the same parameters to the three nodes' keys",
);
const validating = Date.now();
await bob.validateGroup(original);
note(`(Groth16 proof made in ${seconds(validating)}; ParamsConsistencyVerifier checked it in the transaction above)`);
let groupValidated: AppTask | undefined;
for (const task of group) {
  if ((await chain.contracts.taskManager.taskStatus(task.commitment)) === BigInt(TaskStatus.GroupValidated))
    groupValidated = task;
}
if (!groupValidated) throw new Error("demo: no member of the group was validated");
const winner = nodeAt(groupValidated.selectedNode);
note(
  `${winner.name} holds the GroupValidated task ${taskLabel(groupValidated.commitment)} and uploads its result; the fee is split 10/5/2 by speed`,
);
await proveAndUploadResult(winner, groupValidated, bob);
await fetchAndShow(bob, groupValidated);
for (const node of pausing)
  await chain.send(node.name, "resume", () => chain.contracts.registry.connect(node.wallet).resume());

// ---------------------------------------------------------------------------------------------------------------
// 5. Withdrawals
// ---------------------------------------------------------------------------------------------------------------

section("5. Pull payments: nodes withdraw their fees, applications their refunds");
for (const node of nodes) await node.withdraw();
for (const app of apps) await app.withdraw();

// ---------------------------------------------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------------------------------------------

section("Tasks");
const tm = chain.contracts.taskManager;
const registry = chain.contracts.registry;
const allTasks = [...alice.tasks, ...bob.tasks];
const taskRows: string[][] = [];
for (const task of allTasks) {
  const info = await tm.getTask(task.commitment);
  const app = apps.find((a) => a.tasks.includes(task))!;
  taskRows.push([
    taskLabel(task.commitment),
    shortHex(task.commitment),
    app.name,
    task.role,
    TaskType[Number(info.taskType)],
    TaskStatus[Number(info.status)] + (info.qosScore > 0n ? ` (QoS ${info.qosScore})` : ""),
    chain.nameOf(info.selectedNode),
    hexlify(getBytes(info.score)),
    eth(info.fee),
  ]);
}
table(["task", "commitment", "app", "role", "type", "final state", "node", "score", "fee (ETH)"], taskRows, [8]);

section("Balances (ETH)");
const appRows: string[][] = [];
for (const app of apps) {
  const key = app.address.toLowerCase();
  const paid = app.tasks.reduce((sum, t) => sum + t.spec.fee, 0n);
  const back = refunded.get(key) ?? 0n;
  appRows.push([
    app.name,
    eth(paid),
    eth(back),
    eth(paid - back),
    eth(withdrawn.get(key) ?? 0n),
    eth(await tm.withdrawable(app.address)),
  ]);
}
table(["app", "fees paid", "refunded", "net cost", "withdrawn", "withdrawable"], appRows, [1, 2, 3, 4, 5]);
console.log();
const nodeRows: string[][] = [];
for (const node of nodes) {
  const info = await registry.getNode(node.address);
  const key = node.address.toLowerCase();
  nodeRows.push([
    node.name,
    node.honest ? "honest" : "DISHONEST",
    NodeStatus[Number(info.status)],
    eth(info.stake),
    eth(earned.get(key) ?? 0n),
    eth(withdrawn.get(key) ?? 0n),
    eth(await tm.withdrawable(node.address)),
  ]);
}
table(["node", "behaviour", "status", "stake", "fees earned", "withdrawn", "withdrawable"], nodeRows, [3, 4, 5, 6]);
console.log();
note(`treasury withdrawable (registry): ${eth(await registry.withdrawable(treasuryWallet.address))} ETH`);
for (const s of slashes) {
  note(
    `slashed: ${chain.nameOf(s.node)} lost its ${eth(s.amount)} ETH stake to the treasury over task ${taskLabel(s.task)} (${shortHex(s.task)})`,
  );
}
if (slashes.length === 0) note("slashed: none");

// The money invariant (DESIGN §9).
const tmBalance = await ethers.provider.getBalance(addresses.taskManager);
const tmOwed = (await tm.totalEscrowed()) + (await tm.totalWithdrawable());
const regBalance = await ethers.provider.getBalance(addresses.registry);
const regOwed = (await registry.totalStaked()) + (await registry.totalWithdrawable());
note(
  `TaskManager holds ${eth(tmBalance)} = escrow + withdrawable ${eth(tmOwed)}; NodeRegistry holds ${eth(regBalance)} = stakes + withdrawable ${eth(regOwed)}`,
);
if (tmBalance !== tmOwed || regBalance !== regOwed) {
  console.error("demo: the money invariant does not hold");
  process.exitCode = 1;
}
await terminateProver(); // snarkjs' worker threads would keep the process alive
console.log(`\ndemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
