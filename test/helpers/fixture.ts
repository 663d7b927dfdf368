/**
 * The one test fixture: deploys the network through the Ignition module, funds deterministic application and node
 * wallets (applications need their secret key for the VRF), and offers small helpers for each lifecycle step.
 *
 * Everything is real: VRF proofs, relay roots and Merkle proofs, Baby Jubjub keys (nodes and applications have
 * deterministic key pairs derived from their labels), encrypted parameter and result blobs, and the Groth16 proofs
 * of both circuits (DESIGN §4). Proofs take seconds, so:
 * - ephemeral keys and nonces are derived deterministically from what is encrypted and to whom, so the same
 *   parameters sent to the same node (or the same result sent to the same application) give the same blob and the
 *   same circuit input in every test;
 * - proofs are memoised by circuit input ({@link proofs}, a `ProofCache`): each distinct input is proven once per run;
 * - image scores are the pHashes of fixed procedural images (`SCORE_A` …), so the result behind a score is known
 *   ({@link resultFor}).
 */
import { network } from "hardhat";
import {
  Contract,
  Wallet,
  ZeroAddress,
  ZeroHash,
  getBytes,
  hexlify,
  keccak256,
  parseEther,
  toUtf8Bytes,
  type ContractTransactionResponse,
  type Signer,
} from "ethers";
import VSSNetwork from "../../deploy/modules/VSSLocalNetwork.js";
import {
  BEACON_ABI,
  LocalFulfiller,
  MOCK_COORDINATOR_ABI,
  dispatchPending,
  taskRandomness,
} from "../../src/chain/dispatch.js";
import {
  NodeRegistry__factory,
  ParamsConsistencyVerifier__factory,
  RelayRoots__factory,
  ResultAvailabilityVerifier__factory,
  SamplingVerifier__factory,
  TaskManager__factory,
  VSSTimelock__factory,
  type NodeRegistry,
  type ParamsConsistencyVerifier,
  type RelayRoots,
  type ResultAvailabilityVerifier,
  type SamplingVerifier,
  type TaskManager,
  type VSSTimelock,
} from "../../typechain-types/index.js";
import { TimelockSigner } from "./governance.js";
import { ANY_GPU, modelId, taskIDCommitment, taskNonce, type Bytes32 } from "../../src/crypto/commitment.js";
import { BlobBatch, type BlobInclusion } from "../../src/crypto/merkle.js";
import { isSampled, proveVRF, toSolidityProof, verifyVRF } from "../../src/crypto/vrf.js";
import {
  keyPairFromSeed,
  scalarFromSeed,
  isValidPublicKey,
  subgroupWitness,
  type KeyPair,
  type PublicKey,
} from "../../src/crypto/babyjub.js";
import {
  PARAMS_CAPACITY,
  RESULT_CAPACITY,
  encryptBlob,
  packBytes,
  paramsHash,
  toBytes32,
  blobHash as poseidonBlobHash,
  type Blob,
} from "../../src/crypto/blob.js";
import { imageScore, textScore } from "../../src/crypto/phash.js";
import { scoresMatch } from "../../src/crypto/simhash.js";
import {
  ProofCache,
  ZERO_PROOF,
  paramsConsistencyInput,
  resultAvailabilityInput,
  resultBinding,
  terminateProver,
  toProofStruct,
  type Groth16ProofStruct,
} from "../../src/zk/proofs.js";
import { scene, withNoise } from "../../src/sim/images.js";
import { DEFAULT_TASK_PARAMETERS } from "../../src/config.js";
import { TaskStatus, TaskType } from "../../src/types.js";

export const connection = await network.getOrCreate();
export const { ethers, networkHelpers } = connection;

export const GPU_4090 = "NVIDIA GeForce RTX 4090";
export const MODEL_SDXL = modelId("stabilityai/sdxl-turbo");
export const MODEL_LLAMA = modelId("meta-llama/Llama-3.2-1B");
export const STAKE = parseEther("400");
export const FEE = parseEther("1");
// ---------------------------------------------------------------------------------------------------------------
// Baby Jubjub keys
// ---------------------------------------------------------------------------------------------------------------

/** The deterministic Baby Jubjub key pair of a test label (secret = keccak256(label) mod subgroup order). */
export function bjjKeyPair(label: string): KeyPair {
  return keyPairFromSeed(`vss-test-bjj:${label}`);
}

/** A valid Baby Jubjub public key for callers without their own (contract-implemented actors, `taskInput`). */
export const BJJ_KEY: PublicKey = bjjKeyPair("shared").publicKey;

const bjjKeys = new Map<string, KeyPair>();

/** The Baby Jubjub key pair of a fixture wallet (apps and nodes), by address. */
export function bjjKeyOf(address: string): KeyPair {
  const key = bjjKeys.get(address.toLowerCase());
  if (!key) throw new Error(`fixture: ${address} has no Baby Jubjub key`);
  return key;
}

/** A deterministic funded wallet (tests need secret keys for the VRF), with its Baby Jubjub key pair. */
async function fundedWallet(label: string): Promise<Wallet> {
  const wallet = new Wallet(keccak256(toUtf8Bytes(`vss-test:${label}`)), ethers.provider);
  bjjKeys.set(wallet.address.toLowerCase(), bjjKeyPair(label));
  await networkHelpers.setBalance(wallet.address, parseEther("100000"));
  return wallet;
}

export interface Network {
  taskManager: TaskManager;
  registry: NodeRegistry;
  relayRoots: RelayRoots;
  samplingVerifier: SamplingVerifier;
  paramsVerifier: ParamsConsistencyVerifier;
  resultVerifier: ResultAvailabilityVerifier;
  /** The deployer: the contracts' first admin, which handed the admin role to {@link timelock} (DESIGN §13.6). */
  admin: Signer;
  /** The contracts' admin: a `VSSTimelock` (delay 1 s in tests unless `timelockDelay` is given). */
  timelock: VSSTimelock;
  /** Signs as the admin: each call is scheduled on the timelock by the deployer, then executed. */
  governor: TimelockSigner;
  /** The randomness beacon (`VRFBeacon`) and Chainlink's mock coordinator behind it (docs/randomness.md). */
  beacon: Contract;
  coordinator: Contract;
  relay: Wallet;
  treasury: Wallet;
  apps: Wallet[];
  nodes: Wallet[];
  stranger: Wallet;
}

/** Deploys everything with the default parameters (overridable) and funds 2 apps, 8 nodes and a stranger. */
export async function deployNetwork(parameters: Record<string, unknown> = {}): Promise<Network> {
  const [admin] = await ethers.getSigners();
  const relay = await fundedWallet("relay");
  const treasury = await fundedWallet("treasury");
  const deployed = await connection.ignition.deploy(VSSNetwork, {
    // Local networks use a 1-second timelock (DESIGN §13.6 allows a short delay there).
    parameters: { VSSNetwork: { relay: relay.address, treasury: treasury.address, timelockDelay: 1, ...parameters } },
  });
  const apps = await Promise.all([0, 1].map((i) => fundedWallet(`app-${i}`)));
  const nodes = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => fundedWallet(`node-${i}`)));
  const taskManager = TaskManager__factory.connect(await deployed.taskManager.getAddress(), admin);
  // App keys are checked once, on registration (DESIGN §13.4): the shared test key and each app's own.
  for (const key of [BJJ_KEY, ...apps.map((app) => bjjKeyOf(app.address).publicKey)]) {
    await registerAppKey(taskManager, key);
  }
  const timelock = VSSTimelock__factory.connect(await deployed.timelock.getAddress(), admin);
  return {
    beacon: new Contract(await deployed.beacon.getAddress(), BEACON_ABI, admin),
    coordinator: new Contract(await deployed.vrfCoordinator.getAddress(), MOCK_COORDINATOR_ABI, admin),
    timelock,
    governor: new TimelockSigner(timelock, admin, ethers.provider),
    taskManager,
    registry: NodeRegistry__factory.connect(await deployed.nodeRegistry.getAddress(), admin),
    relayRoots: RelayRoots__factory.connect(await deployed.relayRoots.getAddress(), admin),
    samplingVerifier: SamplingVerifier__factory.connect(await deployed.samplingVerifier.getAddress(), admin),
    paramsVerifier: ParamsConsistencyVerifier__factory.connect(await deployed.paramsVerifier.getAddress(), admin),
    resultVerifier: ResultAvailabilityVerifier__factory.connect(await deployed.resultVerifier.getAddress(), admin),
    admin,
    relay,
    treasury,
    apps,
    nodes,
    stranger: await fundedWallet("stranger"),
  };
}

/** Registers an app key with its subgroup witness (anyone may; `createTask` accepts only registered keys). */
export async function registerAppKey(taskManager: TaskManager, key: PublicKey): Promise<void> {
  await (await taskManager.registerAppKey(key, subgroupWitness(key))).wait();
}

/** The subgroup witness of `key`, or (for a key outside the subgroup, which has none) Base8's: tests of bad keys. */
export function witnessOrAny(key: PublicKey): PublicKey {
  return isValidPublicKey(key) ? subgroupWitness(key) : subgroupWitness(BJJ_KEY);
}

export interface JoinOptions {
  gpuName?: string;
  vram?: number;
  version?: [number, number, number];
  models?: Bytes32[];
  stake?: bigint;
  /** Default: the node's own Baby Jubjub key ({@link bjjKeyOf}). */
  publicKey?: PublicKey;
  /** The key's subgroup witness R ([8]R = key). Default: {@link subgroupWitness} of the key. */
  keyWitness?: PublicKey;
}

/** Joins `node` with sensible defaults (RTX 4090, 24 GB, v2.5.0, SDXL held locally, its own Baby Jubjub key). */
export async function joinNode(
  net: Network,
  node: Wallet,
  options: JoinOptions = {},
): Promise<ContractTransactionResponse> {
  const publicKey = options.publicKey ?? bjjKeyOf(node.address).publicKey;
  return net.registry
    .connect(node)
    .join(
      options.gpuName ?? GPU_4090,
      options.vram ?? 24,
      options.version ?? [2, 5, 0],
      publicKey,
      options.keyWitness ?? witnessOrAny(publicKey),
      options.models ?? [MODEL_SDXL],
      { value: options.stake ?? STAKE },
    );
}

export interface TaskOptions {
  taskType?: TaskType;
  fee?: bigint;
  models?: Bytes32[];
  minimumVRAM?: number;
  requiredGPU?: Bytes32;
  requiredGPUVRAM?: number;
  version?: [number, number, number];
  taskSize?: number;
  /** The key the result is encrypted to. `createTask`: the app's own key; `taskInput`: {@link BJJ_KEY}. */
  appPublicKey?: PublicKey;
}

/** The `TaskInput` struct for a commitment and nonce. */
export function taskInput(commitment: Bytes32, nonce: Bytes32, options: TaskOptions = {}) {
  return {
    taskType: options.taskType ?? TaskType.SD,
    taskIDCommitment: commitment,
    nonce,
    modelIDs: options.models ?? [MODEL_SDXL],
    minimumVRAM: options.minimumVRAM ?? 8,
    requiredGPU: options.requiredGPU ?? ANY_GPU,
    requiredGPUVRAM: options.requiredGPUVRAM ?? 0,
    taskVersion: options.version ?? [2, 0, 0],
    taskSize: options.taskSize ?? 1,
    appPublicKey: options.appPublicKey ?? BJJ_KEY,
  };
}

export interface CreatedTask {
  commitment: Bytes32;
  taskGUID: Bytes32;
  nonce: Bytes32;
  seed: Bytes32;
}

let wordCounter = 1n;
let nonceCounter = 0n;

/**
 * Restarts the prevrandao and nonce sequences of {@link createTask}. Only right after `loadFixture` of a fixture
 * without tasks: the tasks of the test are then the same in every test that does the same, so their groups land on
 * the same nodes and their proofs are computed once (see {@link proofs}).
 */
export function resetTaskSequences(): void {
  wordCounter = 1n;
  nonceCounter = 0n;
  membersOfGUID.clear();
}

/** How many tasks each GUID has had: a task created under a given GUID without `k` is member k = that count. */
const membersOfGUID = new Map<Bytes32, number>();

/**
 * Creates member `k` (default 0, an original) of a GUID, delivers its epoch's beacon word and dispatches it, with
 * the VRF outcome chosen in advance: the fixture plays the VRF service (the mock coordinator takes any word) and
 * picks the first word of its sequence for which `isSampled(VRF(app, seed))` equals `sampled` (`undefined`: any
 * outcome), the seed following from the word as on-chain (`taskRandomness`). GUIDs come from a sequence too (the
 * nonce is keccak256(GUID, k), DESIGN §13.2). With `taskGUID` given, `k` defaults to the number of tasks created
 * under that GUID so far (so `createTask` twice more after an original makes members 1 and 2; a fourth gets k = 3,
 * a nonce of the GUID that no group accepts). With `dispatch: false` the task is left Pending, its word undelivered.
 */
export async function createTask(
  net: Network,
  app: Wallet,
  options: TaskOptions & { sampled?: boolean; taskGUID?: Bytes32; k?: number; dispatch?: boolean } = {},
): Promise<CreatedTask> {
  const k = options.k ?? (options.taskGUID === undefined ? 0 : (membersOfGUID.get(options.taskGUID) ?? 0));
  const taskGUID = options.taskGUID ?? keccak256(toUtf8Bytes(`guid-${nonceCounter++}`));
  const nonce =
    k <= 2 ? taskNonce(taskGUID, k as 0 | 1 | 2) : ethers.solidityPackedKeccak256(["bytes32", "uint8"], [taskGUID, k]);
  const commitment = taskIDCommitment(taskGUID, nonce);
  membersOfGUID.set(taskGUID, Math.max(membersOfGUID.get(taskGUID) ?? 0, k + 1));
  const input = taskInput(commitment, nonce, { appPublicKey: bjjKeyOf(app.address).publicKey, ...options });
  const value = (options.fee ?? FEE) + (await net.taskManager.dispatchCost());
  if (options.dispatch !== false) {
    // Tasks left pending before this one go first (their word, then their dispatch), so that this task's word is
    // the next one requested.
    await deliverWord(net);
    await dispatchPending(net.taskManager, net.stranger);
  }
  await (await net.taskManager.connect(app).createTask(input, { value })).wait();
  if (options.dispatch === false) return { commitment, taskGUID, nonce, seed: ZeroHash };
  let word: bigint;
  for (;;) {
    word = BigInt(keccak256(toUtf8Bytes(`word-${wordCounter++}`)));
    if (options.sampled === undefined) break;
    const { seed } = taskRandomness(word, app.address, commitment);
    if (isSampled(verifyVRF(proveVRF(app.privateKey, seed))) === options.sampled) break;
  }
  await deliverWord(net, word);
  await dispatchPending(net.taskManager, net.stranger);
  const seed = (await net.taskManager.getTask(commitment)).samplingSeed;
  if (seed !== taskRandomness(word, app.address, commitment).seed) {
    throw new Error("fixture: the task was not dispatched with the word the fixture delivered");
  }
  return { commitment, taskGUID, nonce, seed };
}

/**
 * Starts the local VRF service stand-in (answers the mock coordinator, dispatches, frees deferred releases) with a
 * wallet of its own, for tests that run the app client or node agents, which wait for their tasks' dispatch.
 */
export async function startFulfiller(net: Network, intervalMs = 100): Promise<LocalFulfiller> {
  const wallet = await fundedWallet("fulfiller");
  const fulfiller = await LocalFulfiller.connect(
    TaskManager__factory.connect(await net.taskManager.getAddress(), wallet),
    await net.coordinator.getAddress(),
    wallet,
    intervalMs,
  );
  fulfiller.start();
  return fulfiller;
}

/** Delivers `word` (default: the mock's own) for the beacon's request in flight, if any, as the VRF service would. */
export async function deliverWord(net: Network, word?: bigint): Promise<void> {
  if (!(await net.beacon.inFlight())) return;
  const requestId: bigint = await net.beacon.requestId();
  const beacon = await net.beacon.getAddress();
  const tx =
    word === undefined
      ? await net.coordinator.fulfillRandomWords(requestId, beacon)
      : await net.coordinator.fulfillRandomWordsWithOverride(requestId, beacon, [word]);
  await tx.wait();
}

/** The creator's VRF proof for a task, in the contract's struct shape. */
export function samplingProof(app: Wallet, seed: Bytes32) {
  return toSolidityProof(proveVRF(app.privateKey, seed));
}

let blobCounter = 0;
/** A fresh made-up blob hash (keccak256 of a label, not a Poseidon blob hash), for tests that never prove it. */
export function blobHash(label = "blob"): Bytes32 {
  return keccak256(toUtf8Bytes(`${label}-${blobCounter++}`));
}

/**
 * Posts one relay batch with `blobHashes` and returns the inclusion of each. Deterministic blobs repeat across
 * tasks; when a batch's root was already posted, a made-up filler blob is added so that the root is new.
 */
export async function publishBlobs(net: Network, blobHashes: Bytes32[]): Promise<BlobInclusion[]> {
  let batch = new BlobBatch(blobHashes);
  while ((await net.relayRoots.rootPostedAt(batch.root)) !== 0n) {
    batch = new BlobBatch([...blobHashes, blobHash("filler")]);
  }
  await (await net.relayRoots.connect(net.relay).postRoot(batch.root, batch.size)).wait();
  return blobHashes.map((h) => batch.inclusion(h));
}

// ---------------------------------------------------------------------------------------------------------------
// Proofs
// ---------------------------------------------------------------------------------------------------------------

/** Every Groth16 proof of the test run, memoised by circuit input. */
export const proofs = new ProofCache();

// snarkjs keeps worker threads alive: end them once every test has run (a root-level hook).
after(async function () {
  if (proofs.computed + proofs.hits > 0) {
    console.log(`    (Groth16: ${proofs.computed} proofs computed, ${proofs.hits} reused from the cache)`);
  }
  await terminateProver();
});

/** An all-zero proof: for calls that revert before their proof is checked (the verifiers reject it). */
export const NO_PROOF: Groth16ProofStruct = ZERO_PROOF;
/** `validateTaskGroup`'s last argument (to spread) when the proof is not checked (or the call reverts before). */
export const NO_PARAMS_PROOF: [Groth16ProofStruct] = [ZERO_PROOF];

const TWO_128 = 1n << 128n;

/** A deterministic ephemeral secret and nonce for an encryption, from a description of what and to whom. */
function ephemeral(what: string): { secret: bigint; nonce: bigint } {
  return {
    secret: scalarFromSeed(`vss-test-ephemeral:${what}`),
    nonce: BigInt(keccak256(toUtf8Bytes(`vss-test-nonce:${what}`))) % TWO_128,
  };
}

const keyString = (key: readonly bigint[]) => key.map(String).join(",");

// ---------------------------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------------------------

/** The SD parameters every task sends unless a test says otherwise. */
export const DEFAULT_PARAMS = JSON.stringify({
  version: "2.0.0",
  base_model: { name: "stabilityai/sdxl-turbo" },
  prompt: "a red fox in the snow, photorealistic",
  task_config: { num_images: 1, steps: 1, cfg: 0 },
});

/** An encrypted parameter blob and what proving things about it needs. */
export interface ParamsBlob {
  message: bigint[];
  nodeKey: PublicKey;
  blob: Blob;
  ephemeralSecret: bigint;
  blobHash: Bytes32;
}

const paramsBlobs = new Map<string, ParamsBlob>();
async function taskKey(net: Network, commitment: Bytes32): Promise<string> {
  return `${(await net.taskManager.getAddress()).toLowerCase()}:${commitment.toLowerCase()}`;
}

/**
 * `params` encrypted to the registered key of the task's selected node (the ephemeral key and nonce derive from
 * the node key and the parameters, so the blob is the same whenever they are).
 */
export async function parametersBlob(
  net: Network,
  commitment: Bytes32,
  params: string | Uint8Array = DEFAULT_PARAMS,
): Promise<ParamsBlob> {
  const node = (await net.taskManager.getTask(commitment)).selectedNode;
  // A queued task has no node yet: encrypt to BJJ_KEY so that the report still reaches the chain (and reverts).
  const [x, y] = node === ZeroAddress ? BJJ_KEY : await net.registry.nodePublicKey(node);
  const nodeKey: PublicKey = [x, y];
  const message = packBytes(typeof params === "string" ? toUtf8Bytes(params) : params, PARAMS_CAPACITY);
  const { secret, nonce } = ephemeral(`params:${keyString(nodeKey)}:${paramsHash(message)}`);
  const blob = encryptBlob(message, nodeKey, secret, nonce);
  return { message, nodeKey, blob, ephemeralSecret: secret, blobHash: toBytes32(poseidonBlobHash(blob)) };
}

/**
 * Started → ParametersUploaded: encrypts `params` to the selected node, posts the blob hash in a relay batch and
 * reports it with its Merkle proof. Remembers the blob for {@link paramsProof}.
 */
export async function uploadParameters(
  net: Network,
  app: Wallet,
  commitment: Bytes32,
  params: string | Uint8Array = DEFAULT_PARAMS,
): Promise<Bytes32> {
  const upload = await parametersBlob(net, commitment, params);
  const [inclusion] = await publishBlobs(net, [upload.blobHash]);
  await (
    await net.taskManager
      .connect(app)
      .reportTaskParametersUploaded(commitment, inclusion.blobHash, inclusion.root, inclusion.proof)
  ).wait();
  paramsBlobs.set(await taskKey(net, commitment), upload);
  return inclusion.blobHash;
}

/** The parameter blob {@link uploadParameters} reported for a task. */
export async function uploadedParameters(net: Network, commitment: Bytes32): Promise<ParamsBlob> {
  const upload = paramsBlobs.get(await taskKey(net, commitment));
  const onChain = (await net.taskManager.getTask(commitment)).paramsHash;
  if (!upload || upload.blobHash !== onChain) {
    throw new Error(`fixture: the parameters of ${commitment} were not uploaded by uploadParameters`);
  }
  return upload;
}

/** The ParamsConsistency proof of three parameter blobs (members in this order). */
export async function proveParams(uploads: readonly [ParamsBlob, ParamsBlob, ParamsBlob]): Promise<Groth16ProofStruct> {
  const message = uploads[0].message;
  for (const u of uploads) {
    if (u.message.length !== message.length || u.message.some((m, i) => m !== message[i])) {
      throw new Error("fixture: the three blobs do not hold the same parameters: no ParamsConsistency proof exists");
    }
  }
  const input = paramsConsistencyInput(
    message,
    uploads.map((u) => u.nodeKey) as [PublicKey, PublicKey, PublicKey],
    uploads.map((u) => u.blob) as [Blob, Blob, Blob],
    uploads.map((u) => u.ephemeralSecret) as [bigint, bigint, bigint],
  );
  const proof = await proofs.prove("ParamsConsistency", input);
  return toProofStruct(proof.solidity);
}

/**
 * `validateTaskGroup`'s `paramsProof` for the members in argument order: a real proof over the uploaded blobs
 * when the contract checks it (no member EndAborted), else the zero proof.
 */
export async function paramsProof(
  net: Network,
  ids: readonly [Bytes32, Bytes32, Bytes32],
): Promise<Groth16ProofStruct> {
  const statuses = await Promise.all(ids.map((c) => net.taskManager.taskStatus(c)));
  if (statuses.some((s) => s === BigInt(TaskStatus.EndAborted))) return ZERO_PROOF;
  const uploads = await Promise.all(ids.map((c) => uploadedParameters(net, c)));
  return proveParams(uploads as [ParamsBlob, ParamsBlob, ParamsBlob]);
}

// ---------------------------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------------------------

/** What a node produced: a 64×64 grayscale image (image tasks) or a text (LLM tasks). */
export interface TaskResult {
  isText: boolean;
  bytes: Uint8Array;
}

const resultsByScore = new Map<string, TaskResult>();

/** Makes `score` known as the score of `result` (so that {@link uploadResult} can prove it); returns the score. */
export function registerResult(result: TaskResult): string {
  const score = result.isText ? textScore(result.bytes) : imageScore(result.bytes);
  resultsByScore.set(score.toLowerCase(), result);
  return score;
}

/** The result whose score is `score` (one registered with {@link registerResult}). */
export function resultFor(score: string): TaskResult {
  const result = resultsByScore.get(hexlify(getBytes(score)).toLowerCase());
  if (!result) throw new Error(`fixture: no known result has score ${score}`);
  return result;
}

/** An encrypted result blob with its ResultAvailability proof. */
export interface ResultBlob {
  message: bigint[];
  appKey: PublicKey;
  blob: Blob;
  ephemeralSecret: bigint;
  blobHash: Bytes32;
  isText: boolean;
  simHash: bigint;
  proof: Groth16ProofStruct;
  publicSignals: bigint[];
}

/** ResultAvailability's `binding` for a task of `net` and the node that settles it (default: its selected node). */
export async function taskBinding(net: Network, commitment: Bytes32, node?: string): Promise<bigint> {
  const task = await net.taskManager.getTask(commitment);
  return resultBinding({
    chainId: (await ethers.provider.getNetwork()).chainId,
    taskManager: await net.taskManager.getAddress(),
    creator: task.creator,
    taskIDCommitment: commitment,
    node: node ?? task.selectedNode,
  });
}

/**
 * The result behind the task's stored score, encrypted to the task's `appPublicKey`, and its ResultAvailability
 * proof, bound to the task and its selected node. `result` overrides what is encrypted (the proof must then exist:
 * the sim hash is still the stored score).
 */
export async function resultBlob(net: Network, commitment: Bytes32, result?: TaskResult): Promise<ResultBlob> {
  const task = await net.taskManager.getTask(commitment);
  const score = hexlify(task.score);
  const isText = Number(task.taskType) === TaskType.LLM;
  const content = result ?? resultFor(score);
  const appKey: PublicKey = [task.appPublicKey[0], task.appPublicKey[1]];
  const message = packBytes(content.bytes, RESULT_CAPACITY);
  const { secret, nonce } = ephemeral(`result:${keyString(appKey)}:${keccak256(content.bytes)}`);
  const blob = encryptBlob(message, appKey, secret, nonce);
  const simHash = BigInt(score);
  const binding = await taskBinding(net, commitment);
  const input = resultAvailabilityInput(message, appKey, blob, secret, isText, simHash, binding);
  const proof = await proofs.prove("ResultAvailability", input);
  return {
    message,
    appKey,
    blob,
    ephemeralSecret: secret,
    blobHash: toBytes32(poseidonBlobHash(blob)),
    isText,
    simHash,
    proof: toProofStruct(proof.solidity),
    publicSignals: input.publicSignals,
  };
}

/**
 * Validated/GroupValidated → EndSuccess/EndGroupSuccess: encrypts the result behind the stored score to the app,
 * posts the blob hash in a relay batch, proves ResultAvailability and reports it with the Merkle proof.
 */
export async function uploadResult(net: Network, node: Signer, commitment: Bytes32): Promise<Bytes32> {
  const result = await resultBlob(net, commitment);
  const [inclusion] = await publishBlobs(net, [result.blobHash]);
  await (
    await net.taskManager
      .connect(node)
      .reportTaskResultUploaded(commitment, inclusion.blobHash, inclusion.root, inclusion.proof, result.proof)
  ).wait();
  return inclusion.blobHash;
}

/** The wallet of the node selected for a task. */
export async function selectedNode(net: Network, commitment: Bytes32): Promise<Wallet> {
  const address = (await net.taskManager.getTask(commitment)).selectedNode;
  const node = net.nodes.find((n) => n.address === address);
  if (!node) throw new Error(`fixture: task ${commitment} has no known selected node (${address})`);
  return node;
}

// ---------------------------------------------------------------------------------------------------------------
// Scores: pHashes of fixed images and text hashes of fixed outputs
// ---------------------------------------------------------------------------------------------------------------

/** Image results: scene A, A with ±2 noise on 30 % of its pixels, and two other scenes. */
export const IMAGE_A = scene(1);
export const IMAGE_A_NEAR = withNoise(IMAGE_A, 2);
export const IMAGE_B = scene(2);
export const IMAGE_C = scene(4);
/** 8-byte image scores: the pHashes of the images above. A and A' match (1 bit apart); no other pair does. */
export const SCORE_A = registerResult({ isText: false, bytes: IMAGE_A });
export const SCORE_A_NEAR = registerResult({ isText: false, bytes: IMAGE_A_NEAR });
export const SCORE_B = registerResult({ isText: false, bytes: IMAGE_B });
export const SCORE_C = registerResult({ isText: false, bytes: IMAGE_C });
/** Text results (LLM tasks) and their 32-byte scores. */
export const TEXT_A = toUtf8Bytes("The fox crossed the snowy field at dawn.");
export const TEXT_B = toUtf8Bytes("A lighthouse stood alone on the cliff.");
export const TEXT_SCORE_A = registerResult({ isText: true, bytes: TEXT_A });
export const TEXT_SCORE_B = registerResult({ isText: true, bytes: TEXT_B });

// The tests' reasoning depends on these relations; check them once, at load.
{
  const match = (a: string, b: string) => scoresMatch(TaskType.SD, a, b);
  if (SCORE_A === SCORE_A_NEAR || !match(SCORE_A, SCORE_A_NEAR)) {
    throw new Error("fixture: SCORE_A_NEAR must differ from SCORE_A and match it");
  }
  const distinct = [SCORE_A, SCORE_B, SCORE_C];
  for (const [a, b] of [
    [SCORE_A, SCORE_B],
    [SCORE_A, SCORE_C],
    [SCORE_B, SCORE_C],
    [SCORE_A_NEAR, SCORE_B],
    [SCORE_A_NEAR, SCORE_C],
  ]) {
    if (match(a, b)) throw new Error(`fixture: scores ${a} and ${b} must not match`);
  }
  if (new Set(distinct).size !== 3) throw new Error("fixture: SCORE_A, SCORE_B, SCORE_C must differ");
}

/** The default timeouts, as numbers of seconds. */
export const TIMEOUTS = {
  queue: Number(DEFAULT_TASK_PARAMETERS.queueTimeout),
  execution: Number(DEFAULT_TASK_PARAMETERS.executionTimeout),
  validation: Number(DEFAULT_TASK_PARAMETERS.validationTimeout),
  resultUpload: Number(DEFAULT_TASK_PARAMETERS.resultUploadTimeout),
  upload: Number(DEFAULT_TASK_PARAMETERS.uploadTimeout),
  /** How long after its creation a scored task waits for its group (DESIGN §13.3, `TaskRules.deadline`). */
  groupSpan: Number(
    DEFAULT_TASK_PARAMETERS.siblingWindow +
      DEFAULT_TASK_PARAMETERS.queueTimeout +
      DEFAULT_TASK_PARAMETERS.uploadTimeout +
      DEFAULT_TASK_PARAMETERS.executionTimeout +
      DEFAULT_TASK_PARAMETERS.validationTimeout,
  ),
};

/**
 * The money invariant (DESIGN §9): each contract's balance equals what it owes. Task manager: escrowed fees +
 * withdrawable balances; registry: stakes + withdrawable balances (returned stakes and the treasury's slashes).
 */
export async function expectSolvent(net: Network): Promise<void> {
  const tmBalance = await ethers.provider.getBalance(await net.taskManager.getAddress());
  const tmOwed = (await net.taskManager.totalEscrowed()) + (await net.taskManager.totalWithdrawable());
  const regBalance = await ethers.provider.getBalance(await net.registry.getAddress());
  const regOwed = (await net.registry.totalStaked()) + (await net.registry.totalWithdrawable());
  if (tmBalance !== tmOwed) throw new Error(`TaskManager balance ${tmBalance} != escrow + withdrawable ${tmOwed}`);
  if (regBalance !== regOwed) throw new Error(`NodeRegistry balance ${regBalance} != stakes + withdrawable ${regOwed}`);
}
