/**
 * Circuits: circuits/lib/blob.circom and circuits/ParamsConsistency.circom against src/crypto/blob.ts (STYLE §15).
 *
 * - Agreement: SpongeHash, BlobHash/EncryptedBlob and the ephemeral key equal the TypeScript values element for element.
 * - Witness tests on small instances (test/circuits/ParamsConsistency5.circom: the real template with msgLen = 5,
 *   EncryptedBlob(4)): honest inputs satisfy every constraint; tampered inputs make witness generation throw, and
 *   so do recipient keys of small order (order 8 and 4: issue 17, the reason the registry must check keys).
 * - The public signals are the node keys and blob hashes only: no hash of the parameters (issue 17).
 * - The real main (msgLen = 68): a Groth16 proof with the artefacts of `npm run zk:build` verifies off-chain and in
 *   the generated ParamsConsistencyVerifier on the in-process Hardhat network. Skipped, with a message, when
 *   build/zk/ParamsConsistency has not been built.
 *
 * Circuits compile through circom_tester, which runs `circom`: tools/bin/circom is a shim over the npm circom2 package.
 */
import { expect } from "chai";
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import * as snarkjs from "snarkjs";
import { network } from "hardhat";
import { poseidonEncrypt, poseidonPerm } from "@zk-kit/poseidon-cipher";
import { subOrder } from "@zk-kit/baby-jubjub";
import {
  deriveSharedKey,
  generateKeyPair,
  isValidPublicKey,
  publicKeyOf,
  type KeyPair,
} from "../../src/crypto/babyjub.js";
import {
  FIELD_SIZE,
  PARAMS_CAPACITY,
  blobElements,
  blobHash,
  ciphertextLength,
  decryptBlob,
  encryptBlob,
  packBytes,
  spongeHash,
  type Blob,
} from "../../src/crypto/blob.js";
import { encryptToAnyKey, smallOrderKeys } from "../helpers/small-order.js";

/** The part of circom_tester's API used here (the package ships no types). */
interface WasmTester {
  calculateWitness(input: Record<string, unknown>, sanityCheck?: boolean): Promise<bigint[]>;
  checkConstraints(witness: bigint[]): Promise<void>;
  assertOut(witness: bigint[], expected: Record<string, unknown>): Promise<void>;
}
const require = createRequire(import.meta.url);
const circomTester: {
  wasm(file: string, options?: Record<string, unknown>): Promise<WasmTester>;
} = require("circom_tester");

process.env.PATH = `${path.resolve("tools/bin")}:${process.env.PATH}`;
const COMPILE = { include: [path.resolve("node_modules")], O: 2 };
const TWO_128 = 1n << 128n;

async function compile(file: string, extra: Record<string, unknown> = {}): Promise<WasmTester> {
  return circomTester.wasm(path.resolve(file), { ...COMPILE, ...extra });
}

/** Resolves when witness generation fails on a constraint of the circuit (not on malformed input). */
async function expectNoWitness(circuit: WasmTester, input: Record<string, unknown>): Promise<void> {
  let message = "";
  try {
    await circuit.calculateWitness(input, true);
  } catch (e) {
    message = String((e as Error).message);
  }
  expect(message, "witness generation should fail on an assertion").to.match(/Assert Failed/);
}

/**
 * Poseidon encryption of an already padded message with an explicit declared length, re-implemented on
 * `poseidonPerm` so that tests can build ciphertexts whose padding is NOT zero.
 */
function encryptPadded(padded: bigint[], key: [bigint, bigint], nonce: bigint, length: number): bigint[] {
  const add = (a: bigint, b: bigint) => (a + b) % FIELD_SIZE;
  let state = [0n, key[0], key[1], add(nonce, BigInt(length) * TWO_128)];
  const out: bigint[] = [];
  for (let i = 0; i < padded.length; i += 3) {
    state = poseidonPerm(state);
    for (let j = 0; j < 3; j++) {
      state[1 + j] = add(state[1 + j], padded[i + j]);
      out.push(state[1 + j]);
    }
  }
  state = poseidonPerm(state);
  out.push(state[1]);
  return out;
}

interface GroupFixture {
  nodes: KeyPair[];
  message: bigint[];
  secrets: bigint[];
  blobs: Blob[];
  input: Record<string, unknown>;
  publicSignals: bigint[];
}

/** Three blobs of the same packed parameters, each to one node, and the circuit input that proves it. */
function group(
  capacity: number,
  bytes: Uint8Array,
  override: (i: number) => { message?: bigint[]; to?: [bigint, bigint] } = () => ({}),
): GroupFixture {
  const nodes = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const message = packBytes(bytes, capacity);
  const secrets: bigint[] = [];
  const blobs = nodes.map((node, i) => {
    const o = override(i);
    if (o.to && !isValidPublicKey(o.to)) {
      // A small-order key (refused by the TypeScript library): encrypt without the library's key check.
      const { blob, secret } = encryptToAnyKey(o.message ?? message, o.to);
      secrets.push(secret);
      return blob;
    }
    const secret = generateKeyPair().secretKey;
    secrets.push(secret);
    return encryptBlob(o.message ?? message, o.to ?? node.publicKey, secret);
  });
  const input = {
    nodePublicKey: nodes.map((n) => n.publicKey),
    blobHash: blobs.map(blobHash),
    message,
    ephemeralSecret: secrets,
    nonce: blobs.map((b) => b.nonce),
    ciphertexts: blobs.map((b) => b.ciphertext),
  };
  const publicSignals = [...nodes.flatMap((n) => n.publicKey), ...blobs.map(blobHash)];
  return { nodes, message, secrets, blobs, input, publicSignals };
}

const PARAMS_TEXT = new TextEncoder().encode(
  JSON.stringify({ prompt: "a lighthouse at dusk, oil painting", steps: 4, seed: 42, w: 512, h: 512 }),
);

after(async function () {
  await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
});

describe("circuits: blob.circom agrees with src/crypto/blob.ts", function () {
  this.timeout(600_000);

  it("SpongeHash(1|15|16|31) equals spongeHash for random field elements", async function () {
    const circuit = await compile("test/circuits/SpongeHashes.circom");
    const xs = Array.from({ length: 31 }, () => (generateKeyPair().secretKey * 7n) % FIELD_SIZE);
    const witness = await circuit.calculateWitness({ in: xs }, true);
    await circuit.checkConstraints(witness);
    await circuit.assertOut(witness, {
      out1: spongeHash(xs.slice(0, 1)),
      out15: spongeHash(xs.slice(0, 15)),
      out16: spongeHash(xs.slice(0, 16)),
      out31: spongeHash(xs),
    });
    // The sponge is length-separated: a trailing zero changes the hash.
    expect(spongeHash([...xs.slice(0, 15), 0n])).to.not.equal(spongeHash(xs.slice(0, 15)));
  });

  describe("EncryptedBlob(4) (msgLen % 3 == 1: two padding zeros, the case @zk-kit's PoseidonDecrypt leaves unchecked)", function () {
    let circuit: WasmTester;
    let app: KeyPair;
    let message: bigint[];
    let secret: bigint;
    let blob: Blob;
    let input: Record<string, unknown>;

    before(async function () {
      circuit = await compile("circuits/lib/blob.circom", { templateName: "EncryptedBlob", templateParams: [4] });
      app = generateKeyPair();
      message = [3n, 1n << 247n, FIELD_SIZE - 1n, 0n];
      secret = generateKeyPair().secretKey;
      blob = encryptBlob(message, app.publicKey, secret);
      input = {
        message,
        ephemeralSecret: secret,
        recipientPublicKey: app.publicKey,
        nonce: blob.nonce,
        ciphertext: blob.ciphertext,
      };
    });

    it("outputs the blob's ephemeral key and blobHash = spongeHash([epk.x, epk.y, nonce, ...ciphertext])", async function () {
      expect(blob.ciphertext).to.have.length(ciphertextLength(4)).and.to.have.length(7);
      expect(blobElements(blob)).to.have.length(10);
      const witness = await circuit.calculateWitness(input, true);
      await circuit.checkConstraints(witness);
      await circuit.assertOut(witness, { ephemeralPublicKey: publicKeyOf(secret), blobHash: blobHash(blob) });
      expect(decryptBlob(blob, app.secretKey, 4)).to.deep.equal(message);
    });

    it("rejects a ciphertext whose padding decrypts to a non-zero element (either padding slot)", async function () {
      const key = deriveSharedKey(secret, app.publicKey);
      // Sanity: the raw helper reproduces poseidonEncrypt when the padding is zero.
      expect(encryptPadded([...message, 0n, 0n], key, blob.nonce, 4)).to.deep.equal(
        poseidonEncrypt(message, key, blob.nonce),
      );
      for (const padded of [
        [...message, 1n, 0n],
        [...message, 0n, 1n],
      ]) {
        const ciphertext = encryptPadded(padded, key, blob.nonce, 4);
        await expectNoWitness(circuit, { ...input, ciphertext });
        expect(() => decryptBlob({ ...blob, ciphertext }, app.secretKey, 4)).to.throw();
      }
    });

    it("rejects a wrong authentication element, an off-curve or x = 0 recipient key, and secrets outside (0, subOrder)", async function () {
      const ct = [...blob.ciphertext];
      ct[6] = (ct[6] + 1n) % FIELD_SIZE;
      await expectNoWitness(circuit, { ...input, ciphertext: ct });
      await expectNoWitness(circuit, { ...input, recipientPublicKey: [app.publicKey[0], app.publicKey[1] + 1n] });
      await expectNoWitness(circuit, { ...input, recipientPublicKey: [0n, 1n] });
      // e + subOrder gives the same points (so the same ciphertext) but is outside the allowed range.
      await expectNoWitness(circuit, { ...input, ephemeralSecret: secret + subOrder });
      await expectNoWitness(circuit, { ...input, ephemeralSecret: 0n });
    });

    it("rejects a nonce of 2^128 or more", async function () {
      const key = deriveSharedKey(secret, app.publicKey);
      const nonce = blob.nonce + TWO_128;
      const ciphertext = encryptPadded([...message, 0n, 0n], key, nonce, 4);
      await expectNoWitness(circuit, { ...input, nonce, ciphertext });
    });
  });
});

describe("circuits: ParamsConsistency(5) witness tests", function () {
  this.timeout(600_000);
  let circuit: WasmTester;
  const CAP = 5; // 124 bytes of parameters, ctLen 7

  before(async function () {
    circuit = await compile("test/circuits/ParamsConsistency5.circom");
  });

  it("accepts three encryptions of the same parameters to the three nodes", async function () {
    const g = group(CAP, PARAMS_TEXT);
    const witness = await circuit.calculateWitness(g.input, true);
    await circuit.checkConstraints(witness);
    // No outputs; witness[1..9] are the public inputs in declaration order (the publicSignals order): the three
    // keys and the three blob hashes, nothing computed from the parameters alone.
    expect(witness.slice(1, 10)).to.deep.equal(g.publicSignals);
    expect(g.publicSignals).to.not.include(spongeHash(g.message));
    g.nodes.forEach((node, i) => expect(decryptBlob(g.blobs[i], node.secretKey, CAP)).to.deep.equal(g.message));
  });

  it("rejects a tampered ciphertext element (a data element, and the authentication element)", async function () {
    const g = group(CAP, PARAMS_TEXT);
    for (const [blobIndex, element] of [
      [0, 2],
      [1, 6],
    ] as const) {
      const ciphertexts = g.blobs.map((b) => [...b.ciphertext]);
      ciphertexts[blobIndex][element] = (ciphertexts[blobIndex][element] + 1n) % FIELD_SIZE;
      // Also re-hash, so that only the encryption check can catch it.
      const hashes = ciphertexts.map((ct, i) => blobHash({ ...g.blobs[i], ciphertext: ct }));
      await expectNoWitness(circuit, { ...g.input, ciphertexts, blobHash: hashes });
    }
  });

  it("rejects a blob encrypted to another key than the node's", async function () {
    const stranger = generateKeyPair();
    const g = group(CAP, PARAMS_TEXT, (i) => (i === 1 ? { to: stranger.publicKey } : {}));
    await expectNoWitness(circuit, g.input);
    // The same blobs with the stranger's key in the public input are fine: the key is what binds the blob to a node.
    const keys = g.nodes.map((n, i) => (i === 1 ? stranger.publicKey : n.publicKey));
    await circuit.calculateWitness({ ...g.input, nodePublicKey: keys }, true);
  });

  it("rejects parameters that differ in one byte for one recipient", async function () {
    const changed = PARAMS_TEXT.slice();
    changed[40] ^= 0x01;
    const g = group(CAP, PARAMS_TEXT, (i) => (i === 2 ? { message: packBytes(changed, CAP) } : {}));
    await expectNoWitness(circuit, g.input);
    // Proving the changed parameters instead fails on the two other blobs.
    await expectNoWitness(circuit, { ...g.input, message: packBytes(changed, CAP) });
  });

  it("rejects a wrong blobHash", async function () {
    const g = group(CAP, PARAMS_TEXT);
    const hashes = g.blobs.map(blobHash);
    hashes[0] += 1n;
    await expectNoWitness(circuit, { ...g.input, blobHash: hashes });
  });

  it("issue 17: a node key of order 8 or 4 has no witness, even for blobs honestly encrypted to it (the registry must refuse such keys)", async function () {
    const { order8, order4 } = smallOrderKeys();
    for (const key of [order8, order4]) {
      // The app encrypts to the small-order key exactly as to any key (the TypeScript cipher accepts it) ...
      const g = group(CAP, PARAMS_TEXT, (i) => (i === 0 ? { to: key } : {}));
      const keys = g.nodes.map((n, i) => (i === 0 ? key : n.publicKey));
      // ... but no proof exists: such a node could never be proven to have received the group's parameters.
      await expectNoWitness(circuit, { ...g.input, nodePublicKey: keys });
    }
  });
});

describe("circuits: ParamsConsistency main (msgLen 68) Groth16 proof, off-chain and on-chain", function () {
  this.timeout(600_000);
  const dir = path.resolve("build/zk/ParamsConsistency");
  const wasm = path.join(dir, "ParamsConsistency_js/ParamsConsistency.wasm");
  const zkey = path.join(dir, "ParamsConsistency_final.zkey");
  const vkeyFile = path.join(dir, "verification_key.json");

  before(function () {
    if (![wasm, zkey, vkeyFile].every(existsSync)) {
      console.log("      (skipped: run `npm run zk:build` first to build build/zk/ParamsConsistency)");
      this.skip();
    }
  });

  it("proves 2 KiB of parameters sent to three nodes; verifyProof accepts it and rejects a changed public signal", async function () {
    const bytes = new Uint8Array(2048).map((_, i) => (i * 31 + 7) & 0xff);
    const g = group(PARAMS_CAPACITY, bytes);
    const t0 = performance.now();
    const { proof, publicSignals } = await snarkjs.groth16.fullProve(g.input as snarkjs.CircuitSignals, wasm, zkey);
    const proveMs = performance.now() - t0;
    expect(publicSignals.map(BigInt)).to.deep.equal(g.publicSignals);

    const vkey = JSON.parse(readFileSync(vkeyFile, "utf8"));
    expect(vkey.nPublic).to.equal(9);
    expect(await snarkjs.groth16.verify(vkey, publicSignals, proof)).to.equal(true);

    const { ethers } = await network.getOrCreate();
    const verifier = await ethers.deployContract("ParamsConsistencyVerifier");
    const [a, b, c, pub] = JSON.parse(`[${await snarkjs.groth16.exportSolidityCallData(proof, publicSignals)}]`);
    expect(await verifier.verifyProof(a, b, c, pub)).to.equal(true);
    const gas = await verifier.verifyProof.estimateGas(a, b, c, pub);
    for (const index of [0, 6, 8]) {
      const bad = [...pub];
      bad[index] = (BigInt(bad[index]) + 1n).toString();
      expect(await verifier.verifyProof(a, b, c, bad)).to.equal(false);
    }
    console.log(
      `      fullProve ${(proveMs / 1000).toFixed(2)} s, verifyProof ${gas} gas (estimateGas, incl. 21k base)`,
    );
  });
});
