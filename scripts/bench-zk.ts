/**
 * `npm run bench:zk`: for each circuit, the constraint count, the median proving time over 5 runs (snarkjs
 * `groth16.fullProve` in this process: witness generation + proving), and the gas of the generated Solidity verifier
 * (`estimateGas` of `verifyProof` on the in-process Hardhat network, so it includes the 21,000 base cost and the
 * calldata). Ends with `zk prove_ms params=<N> result=<N> verify_gas params=<N> result=<N>`.
 *
 * Needs the artefacts of `npm run zk:build` (build/zk/).
 */
import { existsSync } from "node:fs";
import { network } from "hardhat";
import * as snarkjs from "snarkjs";
import { generateKeyPair, type PublicKey } from "../src/crypto/babyjub.js";
import { PARAMS_CAPACITY, RESULT_CAPACITY, encryptBlob, packBytes, type Blob } from "../src/crypto/blob.js";
import { imagePHash, PHASH_SIDE } from "../src/crypto/phash.js";
import {
  circuitArtefacts,
  paramsConsistencyInput,
  prove,
  resultAvailabilityInput,
  resultBinding,
  terminateProver,
  verify,
  type CircuitInput,
  type CircuitName,
} from "../src/zk/proofs.js";

const RUNS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** 2,000 bytes of parameters (a JSON prompt padded with a deterministic tail). */
function parameters(): Uint8Array {
  const json = JSON.stringify({
    version: "2.0.0",
    base_model: "stabilityai/sdxl-turbo",
    prompt: "a lighthouse at dusk",
  });
  const bytes = new Uint8Array(2000);
  bytes.set(new TextEncoder().encode(json));
  for (let i = json.length; i < bytes.length; i++) bytes[i] = (i * 131) % 251;
  return bytes;
}

/** A deterministic 64×64 grayscale test image. */
function image(): Uint8Array {
  const pixels = new Uint8Array(PHASH_SIDE * PHASH_SIDE);
  for (let y = 0; y < PHASH_SIDE; y++)
    for (let x = 0; x < PHASH_SIDE; x++) pixels[y * PHASH_SIDE + x] = (x * 3 + y * 5 + ((x * y) % 17)) & 0xff;
  return pixels;
}

function paramsInput(): CircuitInput {
  const message = packBytes(parameters(), PARAMS_CAPACITY);
  const nodes = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const secrets = nodes.map(() => generateKeyPair().secretKey) as [bigint, bigint, bigint];
  const blobs = nodes.map((n, i) => encryptBlob(message, n.publicKey, secrets[i])) as [Blob, Blob, Blob];
  return paramsConsistencyInput(
    message,
    nodes.map((n) => n.publicKey) as [PublicKey, PublicKey, PublicKey],
    blobs,
    secrets,
  );
}

function resultInput(): CircuitInput {
  const pixels = image();
  const message = packBytes(pixels, RESULT_CAPACITY);
  const app = generateKeyPair();
  const secret = generateKeyPair().secretKey;
  return resultAvailabilityInput(
    message,
    app.publicKey,
    encryptBlob(message, app.publicKey, secret),
    secret,
    false,
    imagePHash(pixels),
    // Any task binding will do: proving cost does not depend on it.
    resultBinding({
      chainId: 31337n,
      taskManager: "0x" + "11".repeat(20),
      creator: "0x" + "22".repeat(20),
      taskIDCommitment: "0x" + "33".repeat(32),
      node: "0x" + "44".repeat(20),
    }),
  );
}

const { ethers } = await network.getOrCreate();
const figures: Record<CircuitName, { constraints: number; proveMs: number; verifyGas: bigint }> = {} as never;

for (const [name, makeInput] of [
  ["ParamsConsistency", paramsInput],
  ["ResultAvailability", resultInput],
] as const) {
  const files = circuitArtefacts(name);
  if (!existsSync(files.zkey)) throw new Error(`${files.zkey} is missing: run \`npm run zk:build\` first`);
  const info = (await snarkjs.r1cs.info(files.r1cs)) as { nConstraints: number };
  const input = makeInput();
  const times: number[] = [];
  let last;
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    last = await prove(name, input);
    times.push(performance.now() - start);
  }
  if (!last || !(await verify(name, last))) throw new Error(`${name}: the proof does not verify off-chain`);
  const verifier = await ethers.deployContract(`${name}Verifier`);
  const { a, b, c, publicSignals } = last.solidity;
  const args = [a, b, c, publicSignals] as const;
  if (!(await verifier.getFunction("verifyProof").staticCall(...args))) throw new Error(`${name}: rejected on-chain`);
  const gas = await verifier.getFunction("verifyProof").estimateGas(...args);
  figures[name] = { constraints: info.nConstraints, proveMs: Math.round(median(times)), verifyGas: gas };
  console.log(
    `${name.padEnd(20)} constraints=${info.nConstraints}  public=${publicSignals.length}  ` +
      `prove median=${Math.round(median(times))} ms (runs: ${times.map((t) => Math.round(t)).join(", ")})  ` +
      `verifyProof gas=${gas}`,
  );
}
await terminateProver();

console.log(
  `zk prove_ms params=${figures.ParamsConsistency.proveMs} result=${figures.ResultAvailability.proveMs} ` +
    `verify_gas params=${figures.ParamsConsistency.verifyGas} result=${figures.ResultAvailability.verifyGas}`,
);
