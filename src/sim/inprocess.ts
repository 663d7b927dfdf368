/**
 * In-process actors of the VSS task network, over ethers v6: a DA/relay, an application and a GPU node.
 *
 * They are deliberately small and driven explicitly, one step per method (no background loops, no event
 * subscriptions), so that the demo (`scripts/demo.ts`) and the gas benchmark (`scripts/bench-gas.ts`) can walk the
 * task lifecycle of `docs/protocol.md` step by step and look at every receipt.
 *
 * - {@link SimChain}: the three contracts, a name book for addresses, one `send` path for every transaction (with
 *   optional hooks before and after it) and a decoder of receipt logs into named events.
 * - {@link InProcessRelay}: holds encrypted blobs by their Poseidon blob hash, batches the pending hashes, posts each
 *   batch's Merkle root with `RelayRoots.postRoot` from the relay wallet and answers with inclusion proofs (DESIGN §3).
 * - {@link App}: creates tasks (random GUID and nonce) with its Baby Jubjub key as `appPublicKey`, runs its VRF over
 *   the sampling seed of `TaskCreated`, creates the two validation tasks when sampled, encrypts the parameters to
 *   each selected node's registered key, uploads and reports them, validates single tasks and groups (with the
 *   ParamsConsistency proof), and downloads and decrypts results.
 * - {@link Node}: joins with a stake and its Baby Jubjub key, decrypts the parameters and executes them
 *   deterministically (honest or dishonest), submits the score, encrypts the result to the application, proves
 *   ResultAvailability, uploads and reports it, and withdraws.
 *
 * Everything on the wire is real (DESIGN §4): blobs are Baby Jubjub ECDH + Poseidon ciphertexts (`src/crypto/blob.ts`),
 * their hash is the Poseidon sponge of their elements, and both Groth16 proofs are made with the circuits' built
 * artefacts (`build/zk/`, `npm run zk:build`) and checked on-chain. Ephemeral keys and nonces come from the actor's
 * `ephemeralRandom` source (cryptographically random by default; the demo and the benchmark pass deterministic ones).
 * Only execution is a stand-in: a deterministic function of the parameters ({@link executeTask}) that "renders" a
 * 64×64 procedural image (image tasks) or a short text (LLM tasks); its score is the image's pHash or the text hash.
 */
import {
  Contract,
  ZeroAddress,
  getAddress,
  getBytes,
  hexlify,
  keccak256,
  randomBytes,
  solidityPackedKeccak256,
  toUtf8Bytes,
  type BytesLike,
  type ContractTransactionReceipt,
  type ContractTransactionResponse,
  type EventFragment,
  type Interface,
  type Log,
  type Result,
  type Signer,
  type Wallet,
} from "ethers";
import {
  NodeRegistry__factory,
  RelayRoots__factory,
  TaskManager__factory,
  type NodeRegistry,
  type RelayRoots,
  type TaskManager,
} from "../../typechain-types/index.js";
import { ANY_GPU, modelId, taskIDCommitment, taskNonce, type Bytes32 } from "../crypto/commitment.js";
import { BlobBatch, type BlobInclusion } from "../crypto/merkle.js";
import { isSampled, proveVRF, toSolidityProof, vrfOutput, type SolidityVRFProof } from "../crypto/vrf.js";
import { generateKeyPair, scalarFromSeed, subgroupWitness, type KeyPair, type PublicKey } from "../crypto/babyjub.js";
import {
  PARAMS_CAPACITY,
  RESULT_CAPACITY,
  blobFromBytes,
  blobHash,
  blobToBytes,
  decryptBytes,
  encryptBlob,
  packBytes,
  toBytes32,
  type Blob,
} from "../crypto/blob.js";
import { imageScore, textScore } from "../crypto/phash.js";
import {
  ProofCache,
  ZERO_PROOF,
  proveGroupParams,
  resultAvailabilityInput,
  resultBinding,
  toProofStruct,
  type Groth16ProofStruct,
} from "../zk/proofs.js";
import { scene } from "./images.js";
import { BEACON_ABI, MOCK_COORDINATOR_ABI, taskRandomness } from "../chain/dispatch.js";
import { TaskStatus, TaskType } from "../types.js";

// =================================================================================================================
// Chain access
// =================================================================================================================

/** The contracts the actors talk to. */
export interface SimContracts {
  taskManager: TaskManager;
  registry: NodeRegistry;
  relayRoots: RelayRoots;
}

/** Which contract emitted a decoded event. */
export type ContractName = "TaskManager" | "NodeRegistry" | "RelayRoots";

/** A receipt log decoded with the ABI of the contract that emitted it. */
export interface DecodedEvent {
  contract: ContractName;
  name: string;
  args: Result;
  fragment: EventFragment;
  log: Log;
}

/** A mined transaction, with its logs decoded. */
export interface SentTx {
  actor: string;
  call: string;
  receipt: ContractTransactionReceipt;
  events: DecodedEvent[];
}

/** Optional observers of every transaction the actors send. */
export interface SimHooks {
  /** Runs right before a transaction is submitted (e.g. to fix the next block's timestamp). */
  beforeTx?: (actor: string, call: string) => void | Promise<void>;
  /** Runs once the transaction is mined (e.g. to print its events or record its gas). */
  afterTx?: (tx: SentTx) => void | Promise<void>;
}

/** The contracts, a name book for addresses, and the single path every actor's transaction goes through. */
export class SimChain {
  /** `TaskConfig.samplingDivisor`: a task is sampled iff its VRF output is divisible by it. */
  readonly samplingDivisor: bigint;
  private readonly names = new Map<string, string>();
  private readonly decoders: Map<string, { contract: ContractName; iface: Interface }>;

  private constructor(
    readonly contracts: SimContracts,
    readonly hooks: SimHooks,
    samplingDivisor: bigint,
    addresses: { taskManager: string; registry: string; relayRoots: string },
    /** The mock VRF coordinator the benchmark answers as the VRF service (docs/randomness.md). */
    readonly coordinator: string,
  ) {
    this.samplingDivisor = samplingDivisor;
    this.decoders = new Map([
      [addresses.taskManager.toLowerCase(), { contract: "TaskManager", iface: contracts.taskManager.interface }],
      [addresses.registry.toLowerCase(), { contract: "NodeRegistry", iface: contracts.registry.interface }],
      [addresses.relayRoots.toLowerCase(), { contract: "RelayRoots", iface: contracts.relayRoots.interface }],
    ]);
    this.setName(addresses.taskManager, "TaskManager");
    this.setName(addresses.registry, "NodeRegistry");
    this.setName(addresses.relayRoots, "RelayRoots");
  }

  /** Connects to deployed contracts (any runner: actors reconnect them with their own wallets). */
  static async create(
    addresses: { taskManager: string; registry: string; relayRoots: string },
    runner: Signer,
    hooks: SimHooks = {},
    coordinator: string = ZeroAddress,
  ): Promise<SimChain> {
    const contracts: SimContracts = {
      taskManager: TaskManager__factory.connect(addresses.taskManager, runner),
      registry: NodeRegistry__factory.connect(addresses.registry, runner),
      relayRoots: RelayRoots__factory.connect(addresses.relayRoots, runner),
    };
    const config = await contracts.taskManager.config();
    return new SimChain(contracts, hooks, config.samplingDivisor, addresses, coordinator);
  }

  /** Gives `address` a readable name in logs and tables. */
  setName(address: string, name: string): void {
    this.names.set(address.toLowerCase(), name);
  }

  /** The name of `address`, or a short hex form when it has none. */
  nameOf(address: string): string {
    if (address === ZeroAddress) return "none";
    return this.names.get(address.toLowerCase()) ?? shortHex(address);
  }

  /** Decodes the logs of the known contracts in `receipt` (others are skipped). */
  decode(receipt: ContractTransactionReceipt): DecodedEvent[] {
    const events: DecodedEvent[] = [];
    for (const log of receipt.logs) {
      const decoder = this.decoders.get(log.address.toLowerCase());
      if (!decoder) continue;
      const parsed = decoder.iface.parseLog({ topics: [...log.topics], data: log.data });
      if (!parsed) continue;
      events.push({ contract: decoder.contract, name: parsed.name, args: parsed.args, fragment: parsed.fragment, log });
    }
    return events;
  }

  /** Sends a transaction through the hooks, waits for it, and decodes its logs. Throws when it reverts. */
  async send(actor: string, call: string, submit: () => Promise<ContractTransactionResponse>): Promise<SentTx> {
    await this.hooks.beforeTx?.(actor, call);
    const response = await submit();
    const receipt = await response.wait();
    if (receipt === null) throw new Error(`${actor} ${call}: no receipt`);
    const tx: SentTx = { actor, call, receipt, events: this.decode(receipt) };
    await this.hooks.afterTx?.(tx);
    return tx;
  }
}

/** The first event named `name` in `tx`, or throws. */
export function eventOf(tx: SentTx, name: string): DecodedEvent {
  const event = tx.events.find((e) => e.name === name);
  if (!event) throw new Error(`${tx.actor} ${tx.call}: no ${name} event`);
  return event;
}

/** `0x1234…abcd`: a short form of a long hex string for logs and tables. */
export function shortHex(hex: string, chars = 4): string {
  return hex.length <= 2 + 2 * chars + 1 ? hex : `${hex.slice(0, 2 + chars)}…${hex.slice(-chars)}`;
}

// =================================================================================================================
// Blobs and proofs
// =================================================================================================================

/** The blob hash the chain sees: the Poseidon sponge of the blob's field elements, as `bytes32`. */
export function blobHashOf(blob: Blob): Bytes32 {
  return toBytes32(blobHash(blob));
}

const TWO_128 = 1n << 128n;

/** An ephemeral secret and a 128-bit nonce for one encryption, drawn from an actor's 32-byte random source. */
export function ephemeralFrom(random: () => Bytes32): { secret: bigint; nonce: bigint } {
  return { secret: scalarFromSeed(random()), nonce: BigInt(random()) % TWO_128 };
}

/** `bytes` packed into `capacity` elements and encrypted to `recipient` with an ephemeral key from `random`. */
export function sealBytes(
  bytes: Uint8Array,
  capacity: number,
  recipient: PublicKey,
  random: () => Bytes32,
): { message: bigint[]; blob: Blob; ephemeralSecret: bigint } {
  const message = packBytes(bytes, capacity);
  const { secret, nonce } = ephemeralFrom(random);
  return { message, blob: encryptBlob(message, recipient, secret, nonce), ephemeralSecret: secret };
}

// =================================================================================================================
// Relay
// =================================================================================================================

/** The outcome of closing a batch. */
export interface RelayBatch {
  batch: BlobBatch;
  tx: SentTx;
  inclusions: BlobInclusion[];
}

/**
 * The DA/relay, in process: stores encrypted blobs (serialised, `blobToBytes`) by blob hash, batches the pending
 * hashes, and posts each batch's Merkle root with `RelayRoots.postRoot` from the relay wallet (which holds
 * `RELAY_ROLE`). Batches close when {@link flush} is called (the HTTP relay closes them after B blobs or T ms).
 */
export class InProcessRelay {
  private readonly blobs = new Map<string, Uint8Array>();
  private readonly inclusions = new Map<string, BlobInclusion>();
  private pending: Bytes32[] = [];

  constructor(
    readonly chain: SimChain,
    readonly wallet: Wallet,
    readonly name = "relay",
  ) {
    chain.setName(wallet.address, name);
  }

  /** Stores a blob (a `Blob` or its bytes, which must parse as one) and adds its hash to the open batch. */
  upload(blob: Blob | BytesLike): Bytes32 {
    const parsed = isBlob(blob) ? blob : blobFromBytes(getBytes(blob));
    const bytes = blobToBytes(parsed);
    const hash = blobHashOf(parsed);
    const key = hash.toLowerCase();
    if (!this.blobs.has(key)) {
      this.blobs.set(key, bytes);
      this.pending.push(hash);
    }
    return hash;
  }

  /** Anyone may read a blob by hash (only its recipient can decrypt it). */
  get(hash: Bytes32): Blob {
    const bytes = this.blobs.get(hash.toLowerCase());
    if (!bytes) throw new Error(`relay: no blob ${hash}`);
    return blobFromBytes(bytes);
  }

  /** Number of blobs waiting for the next batch. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Closes the open batch: posts its root on-chain and returns the inclusion of every blob in it. */
  async flush(): Promise<RelayBatch | null> {
    if (this.pending.length === 0) return null;
    const hashes = this.pending;
    this.pending = [];
    const batch = new BlobBatch(hashes);
    const relayRoots = this.chain.contracts.relayRoots.connect(this.wallet);
    const tx = await this.chain.send(this.name, "postRoot", () => relayRoots.postRoot(batch.root, batch.size));
    const inclusions = hashes.map((h) => batch.inclusion(h));
    for (const inclusion of inclusions) this.inclusions.set(inclusion.blobHash.toLowerCase(), inclusion);
    return { batch, tx, inclusions };
  }

  /** The inclusion proof of a blob whose batch was posted. */
  inclusion(hash: Bytes32): BlobInclusion {
    const inclusion = this.inclusions.get(hash.toLowerCase());
    if (!inclusion) throw new Error(`relay: blob ${hash} is not in a posted batch yet`);
    return inclusion;
  }
}

function isBlob(value: Blob | BytesLike): value is Blob {
  return typeof value === "object" && value !== null && "ciphertext" in value;
}

// =================================================================================================================
// Application
// =================================================================================================================

/** What an application asks for. */
export interface TaskSpec {
  taskType: TaskType;
  /** The task parameters (e.g. the SD JSON of the lifecycle document); a string is UTF-8 encoded. */
  params: string | Uint8Array;
  fee: bigint;
  modelIDs?: Bytes32[];
  minimumVRAM?: number;
  requiredGPU?: Bytes32;
  requiredGPUVRAM?: number;
  version?: [number, number, number];
  taskSize?: number;
}

/** A task's identity: `commitment = keccak256(taskGUID, nonce)`. */
export interface TaskIdentity {
  taskGUID: Bytes32;
  nonce: Bytes32;
  commitment: Bytes32;
}

/** The application's VRF over a sampling seed. */
export interface SamplingOutcome {
  proof: SolidityVRFProof;
  samplingNumber: bigint;
  sampled: boolean;
}

/** The parameter blob an application sent for a task (kept for the group's ParamsConsistency proof). */
export interface ParamsUpload {
  message: bigint[];
  nodeKey: PublicKey;
  blob: Blob;
  ephemeralSecret: bigint;
  blobHash: Bytes32;
}

/** A task as its application tracks it. */
export interface AppTask extends TaskIdentity {
  spec: TaskSpec;
  params: Uint8Array;
  /** From `TaskCreated` (emitted by the dispatch). */
  seed: Bytes32;
  /** The app's VRF over `seed`. */
  sampling: SamplingOutcome;
  /** `original` when sampled (it then has two validation tasks), `validation` for those two, else `single`. */
  role: "single" | "original" | "validation";
  validationTasks?: [AppTask, AppTask];
  /** The node from `TaskStarted` (null while queued). */
  selectedNode: string | null;
  created: SentTx;
  /** The mock coordinator's answer (the beacon's callback stores the word): one per task here, see bench-gas. */
  fulfilled: SentTx;
  /** `dispatchTasks` of this task alone. */
  dispatched: SentTx;
  /** Set by `uploadParameters`. */
  paramsUpload?: ParamsUpload;
}

/** The default source of GUIDs and nonces: 32 cryptographically random bytes. */
export function secureRandom32(): Bytes32 {
  return hexlify(randomBytes(32));
}

/** A deterministic source of 32-byte values (`keccak256(label:i)`), for reproducible demos and benchmarks. */
export function deterministicRandom32(label: string): () => Bytes32 {
  let counter = 0;
  return () => keccak256(toUtf8Bytes(`${label}:${counter++}`));
}

/** Options of an actor: its Baby Jubjub key pair, its random source and where its proofs come from. */
export interface ActorOptions {
  /** Default: a fresh random key pair. */
  bjjKey?: KeyPair;
  /** Source of GUIDs and nonces. Default: 32 cryptographically random bytes. */
  random?: () => Bytes32;
  /** Source of the ephemeral keys and nonces of encryptions. Default: 32 cryptographically random bytes. */
  ephemeralRandom?: () => Bytes32;
  /** Default: a cache of its own. Share one to reuse proofs of repeated inputs. */
  prover?: ProofCache;
}

/**
 * An application: a wallet whose secret key is also its VRF key (DESIGN §1), and a Baby Jubjub key pair that
 * results are encrypted to.
 */
export class App {
  readonly tasks: AppTask[] = [];
  readonly bjjKey: KeyPair;
  private readonly random: () => Bytes32;
  private readonly ephemeralRandom: () => Bytes32;
  private readonly prover: ProofCache;

  constructor(
    readonly chain: SimChain,
    readonly relay: InProcessRelay,
    readonly wallet: Wallet,
    readonly name: string,
    options: ActorOptions = {},
  ) {
    chain.setName(wallet.address, name);
    this.bjjKey = options.bjjKey ?? generateKeyPair();
    this.random = options.random ?? secureRandom32;
    this.ephemeralRandom = options.ephemeralRandom ?? secureRandom32;
    this.prover = options.prover ?? new ProofCache();
  }

  get address(): string {
    return this.wallet.address;
  }

  private appKeyRegistered = false;

  private get taskManager(): TaskManager {
    return this.chain.contracts.taskManager.connect(this.wallet);
  }

  /** A fresh identity: new nonce, under `taskGUID` (a new GUID when omitted). */
  newIdentity(taskGUID: Bytes32 = this.random(), k: 0 | 1 | 2 = 0): TaskIdentity {
    const nonce = taskNonce(taskGUID, k); // DESIGN §13.2: member k of the GUID
    return { taskGUID, nonce, commitment: taskIDCommitment(taskGUID, nonce) };
  }

  /** The VRF over a sampling seed with the app's key, and the sampling decision. */
  sampling(seed: Bytes32): SamplingOutcome {
    const proof = proveVRF(this.wallet.privateKey, seed);
    const samplingNumber = vrfOutput(proof.gamma);
    return {
      proof: toSolidityProof(proof),
      samplingNumber,
      sampled: isSampled(samplingNumber, this.chain.samplingDivisor),
    };
  }

  /**
   * BENCHMARK ONLY. The first word of the app's deterministic sequence for which the VRF over the resulting seed
   * gives `sampled` (any word when undefined). A real application cannot do this: the VRF service chooses the word
   * after the task is committed (docs/randomness.md); the benchmark plays the mock VRF service to run both paths.
   */
  pickWord(commitment: Bytes32, sampled?: boolean, maxTries = 10_000): bigint {
    for (let i = 0; i < maxTries; ++i) {
      const word = BigInt(this.random());
      if (sampled === undefined) return word;
      if (this.sampling(taskRandomness(word, this.address, commitment).seed).sampled === sampled) return word;
    }
    throw new Error(`${this.name}: no word with sampled=${sampled} in ${maxTries} tries`);
  }

  /** Creates a task (fee as `msg.value`), reads its seed from `TaskCreated` and runs the VRF over it. */
  async createTask(spec: TaskSpec, identity: TaskIdentity = this.newIdentity(), sampled?: boolean): Promise<AppTask> {
    return this.create(spec, identity, "single", sampled);
  }

  /** Creates the two validation tasks of a sampled task: same GUID, same parameters, new nonces (DESIGN §1). */
  async createValidationTasks(original: AppTask): Promise<[AppTask, AppTask]> {
    if (!original.sampling.sampled) throw new Error(`${this.name}: task ${original.commitment} was not sampled`);
    const second = await this.create(original.spec, this.newIdentity(original.taskGUID, 1), "validation");
    const third = await this.create(original.spec, this.newIdentity(original.taskGUID, 2), "validation");
    original.validationTasks = [second, third];
    return original.validationTasks;
  }

  private async create(
    spec: TaskSpec,
    identity: TaskIdentity,
    role: AppTask["role"],
    sampled?: boolean,
  ): Promise<AppTask> {
    const input = {
      taskType: spec.taskType,
      taskIDCommitment: identity.commitment,
      nonce: identity.nonce,
      modelIDs: spec.modelIDs ?? [],
      minimumVRAM: spec.minimumVRAM ?? 8,
      requiredGPU: spec.requiredGPU ?? ANY_GPU,
      requiredGPUVRAM: spec.requiredGPUVRAM ?? 0,
      taskVersion: spec.version ?? [2, 0, 0],
      taskSize: spec.taskSize ?? 1,
      appPublicKey: this.bjjKey.publicKey,
    };
    if (!this.appKeyRegistered) {
      // createTask accepts only app keys registered (checked) once (DESIGN §13.4).
      const key = this.bjjKey.publicKey;
      await this.chain.send(this.name, "registerAppKey", () =>
        this.taskManager.registerAppKey(key, subgroupWitness(key)),
      );
      this.appKeyRegistered = true;
    }
    const cost = await this.taskManager.dispatchCost();
    const created = await this.chain.send(this.name, "createTask", () =>
      this.taskManager.createTask(input, { value: spec.fee + cost }),
    );
    // The VRF service answers the beacon (here the app plays it, choosing the word for the outcome it wants), then
    // the task is dispatched alone: the benchmark counts one word per task, the worst case.
    const beacon = new Contract(await this.taskManager.BEACON(), BEACON_ABI, this.wallet);
    const coordinator = new Contract(this.chain.coordinator, MOCK_COORDINATOR_ABI, this.wallet);
    const word = this.pickWord(identity.commitment, sampled);
    const requestId: bigint = await beacon.requestId();
    const fulfilled = await this.chain.send(this.name, "fulfillRandomWords", () =>
      coordinator.fulfillRandomWordsWithOverride(requestId, beacon.target, [word]),
    );
    const dispatched = await this.chain.send(this.name, "dispatchTasks", () => this.taskManager.dispatchTasks([input]));
    const seed: Bytes32 = eventOf(dispatched, "TaskCreated").args.samplingSeed;
    const started = dispatched.events.find((e) => e.name === "TaskStarted");
    const sampling = this.sampling(seed);
    const task: AppTask = {
      ...identity,
      spec,
      params: typeof spec.params === "string" ? toUtf8Bytes(spec.params) : spec.params,
      seed,
      sampling,
      role: role === "single" && sampling.sampled ? "original" : role,
      selectedNode: started ? (started.args.selectedNode as string) : null,
      created,
      fulfilled,
      dispatched,
    };
    this.tasks.push(task);
    return task;
  }

  /**
   * Encrypts each task's parameters to its selected node's registered Baby Jubjub key, uploads the blobs to the
   * relay (one batch), and reports each upload with its Merkle proof: Started → ParametersUploaded.
   */
  async uploadParameters(...tasks: AppTask[]): Promise<SentTx[]> {
    const hashes: Bytes32[] = [];
    for (const task of tasks) {
      const node = (await this.chain.contracts.taskManager.getTask(task.commitment)).selectedNode;
      if (node === ZeroAddress) throw new Error(`${this.name}: task ${task.commitment} has no node yet (queued)`);
      task.selectedNode = node;
      const [x, y] = await this.chain.contracts.registry.nodePublicKey(node);
      const nodeKey: PublicKey = [x, y];
      const sealed = sealBytes(task.params, PARAMS_CAPACITY, nodeKey, this.ephemeralRandom);
      const hash = this.relay.upload(sealed.blob);
      task.paramsUpload = { ...sealed, nodeKey, blobHash: hash };
      hashes.push(hash);
    }
    await this.relay.flush();
    const sent: SentTx[] = [];
    for (const [i, task] of tasks.entries()) {
      const { blobHash, root, proof } = this.relay.inclusion(hashes[i]);
      sent.push(
        await this.chain.send(this.name, "reportTaskParametersUploaded", () =>
          this.taskManager.reportTaskParametersUploaded(task.commitment, blobHash, root, proof),
        ),
      );
    }
    return sent;
  }

  /** Validates a task that was not sampled: ScoreReady → Validated (ErrorReported → EndAborted). */
  async validateSingle(task: AppTask): Promise<SentTx> {
    return this.chain.send(this.name, "validateSingleTask", () =>
      this.taskManager.validateSingleTask(task.commitment, task.sampling.proof),
    );
  }

  /**
   * The ParamsConsistency proof that the three members' parameter blobs encrypt the same parameters to their three
   * nodes; the zero proof when a member is EndAborted (the contract does not check it then).
   */
  async paramsProof(group: readonly [AppTask, AppTask, AppTask]): Promise<Groth16ProofStruct> {
    const statuses = await Promise.all(group.map((t) => this.chain.contracts.taskManager.taskStatus(t.commitment)));
    if (statuses.some((s) => s === BigInt(TaskStatus.EndAborted))) return ZERO_PROOF;
    const uploads = group.map((t) => {
      if (!t.paramsUpload) throw new Error(`${this.name}: the parameters of ${t.commitment} were not uploaded`);
      return t.paramsUpload;
    });
    return proveGroupParams(this.prover, [uploads[0], uploads[1], uploads[2]]);
  }

  /**
   * Validates a sampled task with its two validation tasks, revealing the GUID and proving that the three nodes
   * were sent the same parameters (outcome table of DESIGN §5).
   */
  async validateGroup(original: AppTask): Promise<SentTx> {
    const members = original.validationTasks;
    if (!members) throw new Error(`${this.name}: task ${original.commitment} has no validation tasks`);
    const proof = await this.paramsProof([original, members[0], members[1]]);
    return this.chain.send(this.name, "validateTaskGroup", () =>
      this.taskManager.validateTaskGroup(
        original.commitment,
        members[0].commitment,
        members[1].commitment,
        original.taskGUID,
        original.sampling.proof,
        proof,
      ),
    );
  }

  /** Downloads and decrypts the result of a task that ended in EndSuccess / EndGroupSuccess. */
  async fetchResult(task: AppTask): Promise<Uint8Array> {
    const info = await this.chain.contracts.taskManager.getTask(task.commitment);
    if (info.status !== BigInt(TaskStatus.EndSuccess) && info.status !== BigInt(TaskStatus.EndGroupSuccess)) {
      throw new Error(
        `${this.name}: task ${task.commitment} has no result (status ${TaskStatus[Number(info.status)]})`,
      );
    }
    return decryptBytes(this.relay.get(info.resultHash), this.bjjKey.secretKey, RESULT_CAPACITY);
  }

  /** Withdraws refunded fees from the task manager; null when there is nothing to withdraw. */
  async withdraw(): Promise<SentTx | null> {
    if ((await this.chain.contracts.taskManager.withdrawable(this.address)) === 0n) return null;
    return this.chain.send(this.name, "withdraw", () => this.taskManager.withdraw());
  }
}

// =================================================================================================================
// Node
// =================================================================================================================

/** What a node runs on. */
export interface NodeProfile {
  gpuName: string;
  gpuVRAM: number;
  version: [number, number, number];
  /** Names of the models held locally. */
  models: string[];
}

export const DEFAULT_NODE_PROFILE: NodeProfile = {
  gpuName: "NVIDIA GeForce RTX 4090",
  gpuVRAM: 24,
  version: [2, 5, 0],
  models: ["stabilityai/sdxl-turbo"],
};

/** A task's output and its similarity hash (the score the node submits). */
export interface Execution {
  /** 8 bytes (the image's pHash) for image tasks, 32 bytes (the text hash) for LLM tasks. */
  score: Uint8Array;
  /** A 64×64 grayscale image (4,096 bytes) for image tasks, UTF-8 text for LLM tasks. */
  result: Uint8Array;
  isText: boolean;
}

/**
 * Deterministic stand-in executor. Image tasks (SD, SD_FT): "renders" a 64×64 procedural scene seeded by
 * `keccak256(params)`; the score is its pHash (`imageScore`). Text tasks (LLM): a short text derived from the
 * parameters; the score is its text hash (`textScore`). Both are what the ResultAvailability circuit recomputes.
 */
export function executeTask(taskType: TaskType, params: BytesLike): Execution {
  const digest = keccak256(params);
  if (taskType === TaskType.LLM) {
    const result = toUtf8Bytes(`text result of params ${digest}`);
    return { score: getBytes(textScore(result)), result, isText: true };
  }
  const image = scene(Number(BigInt(digest) % 2_147_483_647n));
  return { score: getBytes(imageScore(image)), result: image, isText: false };
}

/**
 * A dishonest node's "execution": skips the work and makes up a result, which it can still prove (its score is
 * the made-up result's own hash). Images: the honest image's negative, whose pHash differs in nearly every bit.
 */
export function cheatTask(taskType: TaskType, params: BytesLike): Execution {
  const honest = executeTask(taskType, params);
  if (honest.isText) {
    const result = toUtf8Bytes("made-up result");
    return { score: getBytes(textScore(result)), result, isText: true };
  }
  const image = honest.result.map((p) => 255 - p);
  return { score: getBytes(imageScore(image)), result: image, isText: false };
}

/** A GPU node. `honest: false` makes it submit a score that disagrees with every honest node. */
export class Node {
  private readonly jobs = new Map<string, Execution & { creator: string }>();
  readonly bjjKey: KeyPair;
  private readonly ephemeralRandom: () => Bytes32;
  private readonly prover: ProofCache;

  /** `options.random` is not used by nodes (they draw no identities). */
  constructor(
    readonly chain: SimChain,
    readonly relay: InProcessRelay,
    readonly wallet: Wallet,
    readonly name: string,
    readonly honest = true,
    readonly profile: NodeProfile = DEFAULT_NODE_PROFILE,
    options: ActorOptions = {},
  ) {
    chain.setName(wallet.address, name);
    this.bjjKey = options.bjjKey ?? generateKeyPair();
    this.ephemeralRandom = options.ephemeralRandom ?? secureRandom32;
    this.prover = options.prover ?? new ProofCache();
  }

  get address(): string {
    return this.wallet.address;
  }

  private get taskManager(): TaskManager {
    return this.chain.contracts.taskManager.connect(this.wallet);
  }

  private get registry(): NodeRegistry {
    return this.chain.contracts.registry.connect(this.wallet);
  }

  /** Joins with `stake` and its Baby Jubjub key; the node becomes Available (and may take a queued task at once). */
  async join(stake: bigint): Promise<SentTx> {
    const p = this.profile;
    const key = this.bjjKey.publicKey;
    return this.chain.send(this.name, "join", () =>
      this.registry.join(p.gpuName, p.gpuVRAM, p.version, key, subgroupWitness(key), p.models.map(modelId), {
        value: stake,
      }),
    );
  }

  /** Fetches the task's parameters from the relay, decrypts and runs them (after `TaskParametersUploaded`). */
  async execute(commitment: Bytes32): Promise<Execution> {
    const info = await this.chain.contracts.taskManager.getTask(commitment);
    if (getAddress(info.selectedNode) !== this.address) throw new Error(`${this.name}: task ${commitment} is not mine`);
    if (info.status !== BigInt(TaskStatus.ParametersUploaded)) {
      throw new Error(`${this.name}: task ${commitment} is ${TaskStatus[Number(info.status)]}, not ParametersUploaded`);
    }
    const payload = decryptBytes(this.relay.get(info.paramsHash), this.bjjKey.secretKey, PARAMS_CAPACITY);
    const taskType = Number(info.taskType) as TaskType;
    const execution = this.honest ? executeTask(taskType, payload) : cheatTask(taskType, payload);
    this.jobs.set(commitment.toLowerCase(), { ...execution, creator: info.creator });
    return execution;
  }

  /** Submits the score of an executed task: ParametersUploaded → ScoreReady. */
  async submitScore(commitment: Bytes32): Promise<SentTx> {
    const job = this.job(commitment);
    return this.chain.send(this.name, "submitTaskScore", () => this.taskManager.submitTaskScore(commitment, job.score));
  }

  /**
   * After `TaskValidated`: encrypts the result to the task's `appPublicKey`, proves ResultAvailability (the blob is
   * the result for the app, and its sim hash is the submitted score), uploads the blob to the relay, and reports it
   * with its Merkle proof and the proof: Validated → EndSuccess, GroupValidated → EndGroupSuccess (fee credited).
   */
  async uploadResult(commitment: Bytes32): Promise<SentTx> {
    const job = this.job(commitment);
    const info = await this.chain.contracts.taskManager.getTask(commitment);
    const appKey: PublicKey = [info.appPublicKey[0], info.appPublicKey[1]];
    const sealed = sealBytes(job.result, RESULT_CAPACITY, appKey, this.ephemeralRandom);
    const simHash = BigInt(hexlify(job.score));
    const binding = resultBinding({
      chainId: (await this.wallet.provider!.getNetwork()).chainId,
      taskManager: await this.chain.contracts.taskManager.getAddress(),
      creator: info.creator,
      taskIDCommitment: commitment,
      node: this.address,
    });
    const input = resultAvailabilityInput(
      sealed.message,
      appKey,
      sealed.blob,
      sealed.ephemeralSecret,
      job.isText,
      simHash,
      binding,
    );
    const resultProof = toProofStruct((await this.prover.prove("ResultAvailability", input)).solidity);
    const hash = this.relay.upload(sealed.blob);
    await this.relay.flush();
    const { blobHash, root, proof } = this.relay.inclusion(hash);
    return this.chain.send(this.name, "reportTaskResultUploaded", () =>
      this.taskManager.reportTaskResultUploaded(commitment, blobHash, root, proof, resultProof),
    );
  }

  /** Withdraws earned fees from the task manager; null when there is nothing to withdraw. */
  async withdraw(): Promise<SentTx | null> {
    if ((await this.chain.contracts.taskManager.withdrawable(this.address)) === 0n) return null;
    return this.chain.send(this.name, "withdraw", () => this.taskManager.withdraw());
  }

  /** Quits the network (now, or when the current task ends); the stake becomes withdrawable from the registry. */
  async quit(): Promise<SentTx> {
    return this.chain.send(this.name, "quit", () => this.registry.quit());
  }

  /** Withdraws a returned stake from the registry; null when there is nothing to withdraw. */
  async withdrawStake(): Promise<SentTx | null> {
    if ((await this.chain.contracts.registry.withdrawable(this.address)) === 0n) return null;
    return this.chain.send(this.name, "withdraw", () => this.registry.withdraw());
  }

  private job(commitment: Bytes32): Execution & { creator: string } {
    const job = this.jobs.get(commitment.toLowerCase());
    if (!job) throw new Error(`${this.name}: task ${commitment} was not executed here`);
    return job;
  }
}
