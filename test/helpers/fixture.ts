/**
 * The one test fixture: deploys the network through the Ignition module, funds deterministic application and node
 * wallets (applications need their secret key for the VRF), and offers small helpers for each lifecycle step.
 */
import { network } from "hardhat";
import { Wallet, keccak256, parseEther, toUtf8Bytes, type ContractTransactionResponse, type Signer } from "ethers";
import VSSNetwork from "../../deploy/modules/VSSNetwork.js";
import {
  NodeRegistry__factory,
  RelayRoots__factory,
  SamplingVerifier__factory,
  TaskManager__factory,
  type NodeRegistry,
  type RelayRoots,
  type SamplingVerifier,
  type TaskManager,
} from "../../typechain-types/index.js";
import { ANY_GPU, modelId, taskIDCommitment, type Bytes32 } from "../../src/crypto/commitment.js";
import { BlobBatch, type BlobInclusion } from "../../src/crypto/merkle.js";
import { isSampled, proveVRF, toSolidityProof, verifyVRF } from "../../src/crypto/vrf.js";
import { DEFAULT_TASK_PARAMETERS } from "../../src/config.js";
import { TaskType } from "../../src/types.js";

export const connection = await network.getOrCreate();
export const { ethers, networkHelpers } = connection;

export const GPU_4090 = "NVIDIA GeForce RTX 4090";
export const MODEL_SDXL = modelId("stabilityai/sdxl-turbo");
export const MODEL_LLAMA = modelId("meta-llama/Llama-3.2-1B");
export const STAKE = parseEther("400");
export const FEE = parseEther("1");
/** A valid (non-zero) Baby Jubjub key placeholder for nodes and apps; the encryption arrives with the ZK issue. */
export const BJJ_KEY: [bigint, bigint] = [1n, 2n];

/** A deterministic funded wallet (tests need secret keys for the VRF). */
async function fundedWallet(label: string): Promise<Wallet> {
  const wallet = new Wallet(keccak256(toUtf8Bytes(`vss-test:${label}`)), ethers.provider);
  await networkHelpers.setBalance(wallet.address, parseEther("100000"));
  return wallet;
}

export interface Network {
  taskManager: TaskManager;
  registry: NodeRegistry;
  relayRoots: RelayRoots;
  samplingVerifier: SamplingVerifier;
  admin: Signer;
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
    parameters: { VSSNetwork: { relay: relay.address, treasury: treasury.address, ...parameters } },
  });
  const apps = await Promise.all([0, 1].map((i) => fundedWallet(`app-${i}`)));
  const nodes = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => fundedWallet(`node-${i}`)));
  return {
    taskManager: TaskManager__factory.connect(await deployed.taskManager.getAddress(), admin),
    registry: NodeRegistry__factory.connect(await deployed.nodeRegistry.getAddress(), admin),
    relayRoots: RelayRoots__factory.connect(await deployed.relayRoots.getAddress(), admin),
    samplingVerifier: SamplingVerifier__factory.connect(await deployed.samplingVerifier.getAddress(), admin),
    admin,
    relay,
    treasury,
    apps,
    nodes,
    stranger: await fundedWallet("stranger"),
  };
}

export interface JoinOptions {
  gpuName?: string;
  vram?: number;
  version?: [number, number, number];
  models?: Bytes32[];
  stake?: bigint;
}

/** Joins `node` with sensible defaults (RTX 4090, 24 GB, v2.5.0, SDXL held locally). */
export async function joinNode(
  net: Network,
  node: Wallet,
  options: JoinOptions = {},
): Promise<ContractTransactionResponse> {
  return net.registry
    .connect(node)
    .join(
      options.gpuName ?? GPU_4090,
      options.vram ?? 24,
      options.version ?? [2, 5, 0],
      BJJ_KEY,
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
    appPublicKey: BJJ_KEY,
  };
}

export interface CreatedTask {
  commitment: Bytes32;
  taskGUID: Bytes32;
  nonce: Bytes32;
  seed: Bytes32;
}

let prevrandaoCounter = 1n;
let nonceCounter = 0n;

/**
 * Creates a task whose VRF outcome is chosen in advance: it fixes the next block's prevrandao, then searches nonces
 * until `isSampled(VRF(app, keccak256(prevrandao, commitment)))` equals `sampled` (`undefined`: any outcome).
 */
export async function createTask(
  net: Network,
  app: Wallet,
  options: TaskOptions & { sampled?: boolean; taskGUID?: Bytes32 } = {},
): Promise<CreatedTask> {
  const prevrandao = prevrandaoCounter++;
  const taskGUID = options.taskGUID ?? keccak256(toUtf8Bytes(`guid-${prevrandao}`));
  let nonce: Bytes32;
  let commitment: Bytes32;
  let seed: Bytes32;
  for (;;) {
    nonce = keccak256(toUtf8Bytes(`nonce-${nonceCounter++}`));
    commitment = taskIDCommitment(taskGUID, nonce);
    seed = ethers.solidityPackedKeccak256(["uint256", "bytes32"], [prevrandao, commitment]);
    if (options.sampled === undefined) break;
    if (isSampled(verifyVRF(proveVRF(app.privateKey, seed))) === options.sampled) break;
  }
  await networkHelpers.setPrevRandao(prevrandao);
  await (
    await net.taskManager.connect(app).createTask(taskInput(commitment, nonce, options), { value: options.fee ?? FEE })
  ).wait();
  const stored = await net.taskManager.getTask(commitment);
  if (stored.samplingSeed !== seed) throw new Error("fixture: prevrandao was not applied to the creating block");
  return { commitment, taskGUID, nonce, seed };
}

/** The creator's VRF proof for a task, in the contract's struct shape. */
export function samplingProof(app: Wallet, seed: Bytes32) {
  return toSolidityProof(proveVRF(app.privateKey, seed));
}

/** Posts one relay batch with `blobHashes` and returns the inclusion of each. */
export async function publishBlobs(net: Network, blobHashes: Bytes32[]): Promise<BlobInclusion[]> {
  const batch = new BlobBatch(blobHashes);
  await (await net.relayRoots.connect(net.relay).postRoot(batch.root, batch.size)).wait();
  return blobHashes.map((h) => batch.inclusion(h));
}

let blobCounter = 0;
/** A fresh blob hash (stand-in content hash for parameter and result blobs). */
export function blobHash(label = "blob"): Bytes32 {
  return keccak256(toUtf8Bytes(`${label}-${blobCounter++}`));
}

/** Started → ParametersUploaded, with a real relay root and Merkle proof. */
export async function uploadParameters(net: Network, app: Wallet, commitment: Bytes32): Promise<Bytes32> {
  const [inclusion] = await publishBlobs(net, [blobHash("params")]);
  await (
    await net.taskManager
      .connect(app)
      .reportTaskParametersUploaded(commitment, inclusion.blobHash, inclusion.root, inclusion.proof)
  ).wait();
  return inclusion.blobHash;
}

/** Validated/GroupValidated → EndSuccess/EndGroupSuccess, with a real relay root and Merkle proof. */
export async function uploadResult(net: Network, node: Signer, commitment: Bytes32): Promise<Bytes32> {
  const [inclusion] = await publishBlobs(net, [blobHash("result")]);
  await (
    await net.taskManager
      .connect(node)
      .reportTaskResultUploaded(commitment, inclusion.blobHash, inclusion.root, inclusion.proof)
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

/** 8-byte image score helpers. */
export const SCORE_A = "0x0123456789abcdef";
export const SCORE_A_NEAR = "0x0123456789abcdee"; // 1 bit away from A: matches
export const SCORE_B = "0xfedcba9876543210"; // 64 bits away from A: does not match
export const SCORE_C = "0x00ff00ff00ff00ff";

/** The default timeouts, as numbers of seconds. */
export const TIMEOUTS = {
  queue: Number(DEFAULT_TASK_PARAMETERS.queueTimeout),
  execution: Number(DEFAULT_TASK_PARAMETERS.executionTimeout),
  validation: Number(DEFAULT_TASK_PARAMETERS.validationTimeout),
  resultUpload: Number(DEFAULT_TASK_PARAMETERS.resultUploadTimeout),
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
