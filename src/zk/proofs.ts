/**
 * Groth16 proofs of the two circuits (DESIGN §4), made with snarkjs from the artefacts that `scripts/zk/build.sh`
 * derives into `build/zk/<Circuit>/` (wasm witness generator and final zkey).
 *
 * - ParamsConsistency: the three blobs of a validation group encrypt the same parameters to the three nodes.
 *   Public signals: nodePublicKey[3][2] (flattened), blobHash[3]. Nothing computed from the parameters alone.
 * - ResultAvailability: the result blob encrypts a canonically packed result to the application and the result's
 *   sim hash is the score. Public signals: isText, appPublicKey[2], blobHash, simHash, binding (the task and the
 *   node settling it, {@link resultBinding}).
 *
 * The input builders here are the single place that turns SDK objects (messages, keys, blobs) into circuit inputs;
 * they compute the public signals with the same TypeScript functions the chain's inputs come from.
 */
import path from "node:path";
import { AbiCoder, keccak256 } from "ethers";
import * as snarkjs from "snarkjs";
import { blobHash, type Blob } from "../crypto/blob.js";
import type { PublicKey } from "../crypto/babyjub.js";

/** The circuits the build script produces. */
export type CircuitName = "ParamsConsistency" | "ResultAvailability";

/** Where a circuit's artefacts live (relative to the repository root unless `root` is given). */
export function circuitArtefacts(name: CircuitName, root: string = process.cwd()) {
  const dir = path.join(root, "build", "zk", name);
  return {
    dir,
    wasm: path.join(dir, `${name}_js`, `${name}.wasm`),
    zkey: path.join(dir, `${name}_final.zkey`),
    vkey: path.join(dir, "verification_key.json"),
    r1cs: path.join(dir, `${name}.r1cs`),
  };
}

/** A circuit input with the public signals it implies, in the circuit's order. */
export interface CircuitInput {
  input: Record<string, unknown>;
  publicSignals: bigint[];
}

/** Inputs of ParamsConsistency: the packed parameters and, per node, its key, its blob and the blob's secret. */
export function paramsConsistencyInput(
  message: readonly bigint[],
  nodeKeys: readonly [PublicKey, PublicKey, PublicKey],
  blobs: readonly [Blob, Blob, Blob],
  ephemeralSecrets: readonly [bigint, bigint, bigint],
): CircuitInput {
  const hashes = blobs.map(blobHash);
  return {
    input: {
      nodePublicKey: nodeKeys,
      blobHash: hashes,
      message,
      ephemeralSecret: ephemeralSecrets,
      nonce: blobs.map((b) => b.nonce),
      ciphertexts: blobs.map((b) => b.ciphertext),
    },
    publicSignals: [...nodeKeys.flat(), ...hashes],
  };
}

/** What the application kept of one group member's parameter upload: enough to prove ParamsConsistency. */
export interface ParamsUploadSecret {
  /** The packed parameters (the same for the three members). */
  message: readonly bigint[];
  nodeKey: PublicKey;
  blob: Blob;
  ephemeralSecret: bigint;
}

/**
 * The ParamsConsistency proof of a validation group, in the order of `validateTaskGroup`'s members: what both the
 * application client and the step-by-step simulation send on-chain.
 */
export async function proveGroupParams(
  prover: Pick<ProofCache, "prove">,
  uploads: readonly [ParamsUploadSecret, ParamsUploadSecret, ParamsUploadSecret],
): Promise<Groth16ProofStruct> {
  const input = paramsConsistencyInput(
    uploads[0].message,
    uploads.map((u) => u.nodeKey) as [PublicKey, PublicKey, PublicKey],
    uploads.map((u) => u.blob) as [Blob, Blob, Blob],
    uploads.map((u) => u.ephemeralSecret) as [bigint, bigint, bigint],
  );
  const proof = await prover.prove("ParamsConsistency", input);
  return toProofStruct(proof.solidity);
}

/** The task a result proof settles, and the node settling it: what {@link resultBinding} hashes. */
export interface ResultTaskRef {
  /** The chain id of the deployment. */
  chainId: bigint;
  /** The TaskManager's address. */
  taskManager: string;
  /** The task's creator (the application account). */
  creator: string;
  /** The task's commitment. */
  taskIDCommitment: string;
  /** The task's selected node, which reports the result. */
  node: string;
}

/**
 * ResultAvailability's `binding` public input: keccak256(abi.encode(chainid, taskManager, creator,
 * taskIDCommitment, node)) >> 3, which is below the BN254 scalar field (253 bits), exactly as TaskManager
 * `_checkResultProof` computes it. A proof for one task, or made out for another node, verifies for no other.
 */
export function resultBinding(ref: ResultTaskRef): bigint {
  const encoded = AbiCoder.defaultAbiCoder().encode(
    ["uint256", "address", "address", "bytes32", "address"],
    [ref.chainId, ref.taskManager, ref.creator, ref.taskIDCommitment, ref.node],
  );
  return BigInt(keccak256(encoded)) >> 3n;
}

/**
 * Inputs of ResultAvailability: the packed result, the app's key, the blob, its secret, the score, and the
 * task binding ({@link resultBinding}).
 */
export function resultAvailabilityInput(
  message: readonly bigint[],
  appPublicKey: PublicKey,
  blob: Blob,
  ephemeralSecret: bigint,
  isText: boolean,
  simHash: bigint,
  binding: bigint,
): CircuitInput {
  const hash = blobHash(blob);
  const flag = isText ? 1n : 0n;
  return {
    input: {
      isText: flag,
      appPublicKey,
      blobHash: hash,
      simHash,
      binding,
      message,
      ephemeralSecret,
      nonce: blob.nonce,
      ciphertext: blob.ciphertext,
    },
    publicSignals: [flag, ...appPublicKey, hash, simHash, binding],
  };
}

/** A Groth16 proof in the shape the generated Solidity verifiers take. */
export interface SolidityProof {
  a: [bigint, bigint];
  b: [[bigint, bigint], [bigint, bigint]];
  c: [bigint, bigint];
  publicSignals: bigint[];
}

/** The `ITaskManager.Groth16Proof` struct: a proof's points without its public signals. */
export interface Groth16ProofStruct {
  a: [bigint, bigint];
  b: [[bigint, bigint], [bigint, bigint]];
  c: [bigint, bigint];
}

/** The struct `TaskManager` takes, from a proof's Solidity form. */
export function toProofStruct(proof: SolidityProof): Groth16ProofStruct {
  return { a: proof.a, b: proof.b, c: proof.c };
}

/**
 * An all-zero proof, for calls whose proof is not checked (`validateTaskGroup` with an aborted member) or that
 * revert before the check. The verifiers reject it.
 */
export const ZERO_PROOF: Groth16ProofStruct = Object.freeze({
  a: [0n, 0n],
  b: [
    [0n, 0n],
    [0n, 0n],
  ],
  c: [0n, 0n],
}) as Groth16ProofStruct;

/** A proof as snarkjs returns it, with its Solidity form. */
export interface Groth16Result {
  proof: snarkjs.Groth16Proof;
  publicSignals: string[];
  solidity: SolidityProof;
}

/** Proves `input` with the circuit's built artefacts; throws when the witness cannot be computed. */
export async function prove(name: CircuitName, input: CircuitInput, root?: string): Promise<Groth16Result> {
  const files = circuitArtefacts(name, root);
  const { proof, publicSignals } = await snarkjs.groth16.fullProve(
    input.input as snarkjs.CircuitSignals,
    files.wasm,
    files.zkey,
  );
  return { proof, publicSignals, solidity: toSolidityProof(proof, publicSignals) };
}

/**
 * Memoised {@link prove}: a proof per (circuit, JSON of the circuit input). Groth16 proofs are randomised, but any
 * valid proof of an input will do, so callers whose inputs repeat (deterministic keys, nonces and messages in tests
 * and benchmarks) pay for each distinct input once. In memory only.
 */
export class ProofCache {
  private readonly proofs = new Map<string, Promise<Groth16Result>>();
  /** Proofs actually computed (cache misses). */
  computed = 0;
  /** Calls answered from the cache. */
  hits = 0;

  constructor(private readonly root?: string) {}

  /** The proof of `input`, computed at most once. */
  prove(name: CircuitName, input: CircuitInput): Promise<Groth16Result> {
    const key = `${name}:${JSON.stringify(input.input, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}`;
    const cached = this.proofs.get(key);
    if (cached) {
      this.hits += 1;
      return cached;
    }
    this.computed += 1;
    const proof = prove(name, input, this.root);
    this.proofs.set(key, proof);
    proof.catch(() => this.proofs.delete(key));
    return proof;
  }
}

/** Checks a proof off-chain against the circuit's verification key. */
export async function verify(name: CircuitName, result: Groth16Result, root?: string): Promise<boolean> {
  const { readFile } = await import("node:fs/promises");
  const vkey = JSON.parse(await readFile(circuitArtefacts(name, root).vkey, "utf8"));
  return snarkjs.groth16.verify(vkey, result.publicSignals, result.proof);
}

/** snarkjs' proof in the verifier's argument order (note the swapped coordinates of `b`, as snarkjs exports them). */
export function toSolidityProof(proof: snarkjs.Groth16Proof, publicSignals: string[]): SolidityProof {
  const n = (x: string | number) => BigInt(x);
  return {
    a: [n(proof.pi_a[0]), n(proof.pi_a[1])],
    b: [
      [n(proof.pi_b[0][1]), n(proof.pi_b[0][0])],
      [n(proof.pi_b[1][1]), n(proof.pi_b[1][0])],
    ],
    c: [n(proof.pi_c[0]), n(proof.pi_c[1])],
    publicSignals: publicSignals.map(n),
  };
}

/** Ends snarkjs' worker threads; a process that proved anything must call this or it never exits. */
export async function terminateProver(): Promise<void> {
  await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
}
