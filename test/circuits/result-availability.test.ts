/**
 * Circuits: ResultAvailability (circuits/ResultAvailability.circom, templates in circuits/lib/result_availability.circom)
 * against src/crypto/blob.ts and src/crypto/phash.ts (STYLE §15).
 *
 * - Witness tests on a reduced instance, test/circuits/ResultAvailability10.circom: the real template
 *   `ResultAvailabilitySized` with a 10-element message (279 bytes) and a 16×16 image (256 bytes), compiled by
 *   circom_tester in ~30 s. Honest image and text results satisfy every constraint (text of every length class:
 *   empty, a multiple of 31, the full capacity); a tampered ciphertext element, a wrong app key, a wrong sim hash,
 *   isText = 2, a wrong image length, non-zero padding and a chunk ≥ 2^248 make witness generation throw. Issue 17:
 *   a text result the app cannot decode (length above the capacity, a non-zero element after the data, a non-zero
 *   padding byte) has no witness any more, nor has an app key of order 8 or 4; the task binding is a public
 *   signal (witness[6]).
 * - The real main (msgLen 134, 64×64 image) with the artefacts of `npm run zk:build` (`bash scripts/zk/build.sh`):
 *   the same accept/reject cases through snarkjs witness calculation (each rejection is checked to fail at the
 *   constraint meant to catch it: the error names the template and source line), then Groth16 proofs (image and text) that
 *   verify off-chain and in the generated ResultAvailabilityVerifier on the in-process Hardhat network, which
 *   rejects a changed public signal. Skipped, with a message, when build/zk/ResultAvailability has not been built.
 *   (Compiling the full circuit takes 1.5-2 min, too slow for the test run; the build script does it.)
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
import { generateKeyPair, type KeyPair } from "../../src/crypto/babyjub.js";
import {
  FIELD_SIZE,
  RESULT_CAPACITY,
  blobHash,
  decryptBytes,
  encryptBlob,
  packBytes,
  spongeHash,
  type Blob,
} from "../../src/crypto/blob.js";
import { imagePHash, imageScore, textScore } from "../../src/crypto/phash.js";
import { resultBinding } from "../../src/zk/proofs.js";
import { scene } from "../helpers/images.js";
import { encryptToAnyKey, smallOrderKeys } from "../helpers/small-order.js";

/** The part of circom_tester's API used here (the package ships no types). */
interface WasmTester {
  calculateWitness(input: Record<string, unknown>, sanityCheck?: boolean): Promise<bigint[]>;
  checkConstraints(witness: bigint[]): Promise<void>;
}
const require = createRequire(import.meta.url);
const circomTester: {
  wasm(file: string, options?: Record<string, unknown>): Promise<WasmTester>;
} = require("circom_tester");

process.env.PATH = `${path.resolve("tools/bin")}:${process.env.PATH}`;
const COMPILE = { include: [path.resolve("node_modules")], O: 2 };

/** One circuit size: message capacity (elements) and image side. */
interface Size {
  capacity: number;
  side: number;
}
const REDUCED: Size = { capacity: 10, side: 16 };
const MAIN: Size = { capacity: RESULT_CAPACITY, side: 64 };

interface ResultFixture {
  app: KeyPair;
  message: bigint[];
  blob: Blob;
  input: Record<string, unknown>;
  /** isText, appPublicKey.x, appPublicKey.y, blobHash, simHash, binding: the publicSignals order. */
  publicSignals: bigint[];
}

/** An honest ResultAvailability input: `bytes` packed, encrypted to a fresh app key, with the right sim hash. */
/** A task binding (any value below 2^253 will do for the circuit; this one is computed like the chain's). */
const BINDING = resultBinding({
  chainId: 31337n,
  taskManager: "0x" + "a1".repeat(20),
  creator: "0x" + "b2".repeat(20),
  taskIDCommitment: "0x" + "c3".repeat(32),
  node: "0x" + "d4".repeat(20),
});

function result(
  size: Size,
  isText: 0 | 1,
  bytes: Uint8Array,
  message: bigint[] = packBytes(bytes, size.capacity),
): ResultFixture {
  const app = generateKeyPair();
  const secret = generateKeyPair().secretKey;
  const blob = encryptBlob(message, app.publicKey, secret);
  const simHash = isText ? spongeHash(message) : imagePHash(bytes, size.side);
  const input = {
    isText,
    appPublicKey: app.publicKey,
    blobHash: blobHash(blob),
    simHash,
    binding: BINDING,
    message,
    ephemeralSecret: secret,
    nonce: blob.nonce,
    ciphertext: blob.ciphertext,
  };
  return {
    app,
    message,
    blob,
    input,
    publicSignals: [BigInt(isText), ...app.publicKey, blobHash(blob), simHash, BINDING],
  };
}

/** `result` for a message that is NOT what packBytes makes of the image (encrypted and hashed honestly). */
function resultWithMessage(size: Size, image: Uint8Array, message: bigint[]): ResultFixture {
  return result(size, 0, image, message);
}

/**
 * Runs `fn`, which generates a witness, with the witness calculator's console output silenced; returns the error
 * message ("Assert Failed. Error in template <Name>_<id> line: <n>" and the call chain), or undefined on success.
 */
async function witnessError(fn: () => Promise<unknown>): Promise<string | undefined> {
  const { log, error } = console;
  console.log = console.error = () => {};
  try {
    await fn();
    return undefined;
  } catch (e) {
    return String((e as Error).message ?? e);
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** Where a constraint of a circuits/lib file lives, as the witness error names it (template and line). */
function locate(file: string, template: string): (constraint: string) => RegExp {
  const source = readFileSync(path.resolve("circuits/lib", file), "utf8").split("\n");
  return (constraint) => {
    const line = source.findIndex((l) => l.includes(constraint)) + 1;
    if (line === 0) throw new Error(`constraint not found: ${constraint}`);
    return new RegExp(`${template}_\\d+ line: ${line}\\b`);
  };
}
const at = locate("result_availability.circom", "ResultAvailabilitySized");
const inPacking = locate("packing.circom", "CanonicalPacking");
const AT = {
  isTextBit: at("isText * (isText - 1) === 0;"),
  blobHash: at("blob.blobHash === blobHash;"),
  length: at("(1 - isText) * (message[0] - nPixels) === 0;"),
  /** The length has no split 31·q + r with q < nChunks: above the capacity. */
  lengthRange: inPacking("qSum === 1;"),
  /** A non-zero element after the data. */
  afterData: inPacking("after * chunk[k] === 0;"),
  /** A non-zero padding byte in the last data chunk. */
  padding: inPacking("zeroFrom * byte === 0;"),
  simHash: at("simHash === image.hash + isText * (text.out - image.hash);"),
  encryption: /BlobEncryption_\d+ line/,
  byteRange: /Num2Bits_\d+ line: \d+\s+Error in template UnpackBytes_/,
};

const TEXT = new TextEncoder().encode(
  "Q: what is a lighthouse? A: a tower with a bright light that guides ships at night.",
);

/**
 * The accept/reject cases, shared by the reduced circuit (circom_tester) and the real main (snarkjs witness).
 * `witness(input)` resolves on success and rejects when a constraint fails.
 */
function behaves(size: Size, witness: () => (input: Record<string, unknown>) => Promise<unknown>): void {
  const image = scene(4242, size.side);
  const nBytes = 31 * (size.capacity - 1);

  /** Witness generation must fail, at one of the `where` places (the assertion that is meant to catch it). */
  async function rejects(input: Record<string, unknown>, ...where: RegExp[]): Promise<void> {
    const message = await witnessError(() => witness()(input));
    expect(message, "witness generation should fail").to.not.equal(undefined);
    expect(
      where.some((w) => w.test(message!)),
      `failed at the wrong place: ${message}`,
    ).to.equal(true);
  }

  it("accepts an image result: blob to the app's key, simHash = pHash of the unpacked pixels", async function () {
    const r = result(size, 0, image);
    await witness()(r.input);
    expect(decryptBytes(r.blob, r.app.secretKey, size.capacity)).to.deep.equal(image);
  });

  it("accepts a text result: simHash = spongeHash(message), any length", async function () {
    const r = result(size, 1, TEXT);
    await witness()(r.input);
    if (size.capacity === RESULT_CAPACITY) expect(r.input.simHash).to.equal(BigInt(textScore(TEXT)));
    // The image score of the same blob is not accepted as the text score.
    await rejects({ ...r.input, simHash: imagePHash(new Uint8Array(size.side * size.side), size.side) }, AT.simHash);
  });

  it("rejects a tampered ciphertext element (blobHash recomputed, so only the encryption check can catch it)", async function () {
    const r = result(size, 0, image);
    for (const index of [0, 5, r.blob.ciphertext.length - 1]) {
      const ciphertext = [...r.blob.ciphertext];
      ciphertext[index] = (ciphertext[index] + 1n) % FIELD_SIZE;
      await rejects({ ...r.input, ciphertext, blobHash: blobHash({ ...r.blob, ciphertext }) }, AT.encryption);
    }
    // And the untouched ciphertext with a wrong blobHash.
    await rejects({ ...r.input, blobHash: (r.publicSignals[3] + 1n) % FIELD_SIZE }, AT.blobHash);
  });

  it("rejects a wrong app key (the blob was encrypted to someone else)", async function () {
    const r = result(size, 0, image);
    await rejects({ ...r.input, appPublicKey: generateKeyPair().publicKey }, AT.encryption);
  });

  it("rejects a wrong sim hash: one pHash bit flipped, a text hash + 1, the other kind's hash", async function () {
    const img = result(size, 0, image);
    const h = img.input.simHash as bigint;
    await rejects({ ...img.input, simHash: h ^ 1n }, AT.simHash);
    await rejects({ ...img.input, simHash: h ^ (1n << 63n) }, AT.simHash);
    await rejects({ ...img.input, simHash: imagePHash(scene(4243, size.side), size.side) }, AT.simHash);
    // The image message with isText = 1 and its pHash: wrong kind.
    await rejects({ ...img.input, isText: 1 }, AT.simHash);
    const text = result(size, 1, TEXT);
    await rejects({ ...text.input, simHash: (text.input.simHash as bigint) + 1n }, AT.simHash);
    // Text claimed as an image (its length is not side², and it has no such pHash).
    await rejects({ ...text.input, isText: 0 }, AT.length, AT.simHash);
  });

  it("rejects isText = 2 even with the simHash that the selection formula would then give", async function () {
    const r = result(size, 0, image);
    const pHash = imagePHash(image, size.side);
    const text = spongeHash(r.message);
    for (const isText of [2n, FIELD_SIZE - 1n]) {
      const simHash = (((pHash + isText * (text - pHash)) % FIELD_SIZE) + FIELD_SIZE) % FIELD_SIZE;
      await rejects({ ...r.input, isText, simHash }, AT.isTextBit);
    }
  });

  it("rejects an image whose length element is not side², or whose padding bytes are not zero", async function () {
    // One byte fewer: honest blob and hash of a 1-byte-shorter image (same first pixels).
    const short = image.subarray(0, image.length - 1);
    const shortMessage = packBytes(short, size.capacity);
    const r1 = resultWithMessage(size, image, shortMessage);
    await rejects({ ...r1.input, simHash: imagePHash(Uint8Array.from([...short, 0]), size.side) }, AT.length);
    // Correct length, but a non-zero byte after the image inside the last chunk.
    const padded = new Uint8Array(nBytes);
    padded.set(image);
    padded[nBytes - 1] = 1;
    const message = packBytes(padded, size.capacity);
    message[0] = BigInt(image.length);
    const r2 = resultWithMessage(size, image, message);
    await rejects(r2.input, AT.padding);
  });

  it("accepts text of every length class: empty, a multiple of 31, the full capacity; the app decodes each", async function () {
    for (const length of [0, 31, 62, nBytes - 1, nBytes]) {
      const bytes = new Uint8Array(length).map((_, i) => 32 + ((i * 7) % 90));
      const r = result(size, 1, bytes);
      await witness()(r.input);
      expect(decryptBytes(r.blob, r.app.secretKey, size.capacity)).to.deep.equal(bytes);
    }
  });

  describe("issue 17: a text result the app cannot decode has no witness (canonical packing, checked per chunk)", function () {
    /** A text result whose message is `message` (encrypted, hashed and scored honestly); the app cannot unpack it. */
    async function undecodable(message: bigint[], appError: RegExp, ...where: RegExp[]): Promise<void> {
      const r = result(size, 1, new Uint8Array(0), message);
      expect(r.input.simHash).to.equal(spongeHash(message));
      expect(() => decryptBytes(r.blob, r.app.secretKey, size.capacity)).to.throw(appError);
      await rejects(r.input, ...where);
    }

    it('rejects a length element above the capacity (the app: "byte length out of range")', async function () {
      const message = packBytes(TEXT, size.capacity);
      for (const length of [nBytes + 1, nBytes + 31, 1n << 64n, FIELD_SIZE - 1n]) {
        message[0] = BigInt(length);
        await undecodable([...message], /byte length out of range/, AT.lengthRange);
      }
    });

    it("rejects a non-zero element after the data", async function () {
      const message = packBytes(TEXT.subarray(0, 40), size.capacity); // two chunks of data
      message[4] = 1n;
      await undecodable([...message], /after the data must be 0/, AT.afterData);
      const empty = packBytes(new Uint8Array(0), size.capacity);
      empty[size.capacity - 1] = 0x41n << 240n;
      await undecodable(empty, /after the data must be 0/, AT.afterData);
    });

    it("rejects a non-zero padding byte in the last data chunk", async function () {
      for (const [length, byte] of [
        [40, 40], // first padding byte of chunk 1
        [40, 61], // last byte of chunk 1
        [0, 0], // empty text: chunk 0 holds no data
        [nBytes - 1, nBytes - 1], // the last byte of the capacity
      ]) {
        const padded = new Uint8Array(nBytes).map((_, i) => (i < length ? 65 : 0));
        padded[byte] = 0x20;
        const message = packBytes(padded, size.capacity);
        message[0] = BigInt(length);
        await undecodable(message, /padding byte \d+ must be 0|after the data must be 0/, AT.padding, AT.afterData);
      }
    });
  });

  it("issue 17: an app key of order 8 or 4 has no witness, even for a blob honestly encrypted to it", async function () {
    const { order8, order4 } = smallOrderKeys();
    const r = result(size, 0, image);
    for (const key of [order8, order4]) {
      const { blob, secret } = encryptToAnyKey(r.message, key);
      const input = {
        ...r.input,
        appPublicKey: key,
        blobHash: blobHash(blob),
        ephemeralSecret: secret,
        nonce: blob.nonce,
        ciphertext: blob.ciphertext,
      };
      await rejects(input, AT.encryption);
    }
  });

  it("rejects a chunk element of 2^248 or more (not 31 bytes), even for text", async function () {
    const message = packBytes(TEXT, size.capacity);
    message[2] += 1n << 248n;
    const r = result(size, 1, TEXT, message);
    await rejects(r.input, AT.byteRange);
  });
}

after(async function () {
  await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
});

describe("circuits: ResultAvailabilitySized(10, 16) witness tests (reduced size)", function () {
  this.timeout(600_000);
  let circuit: WasmTester;

  before(async function () {
    circuit = await circomTester.wasm(path.resolve("test/circuits/ResultAvailability10.circom"), COMPILE);
  });

  it("exposes isText, appPublicKey, blobHash, simHash, binding as witness[1..6] (the publicSignals order)", async function () {
    const r = result(REDUCED, 0, scene(4242, 16));
    const witness = await circuit.calculateWitness(r.input, true);
    await circuit.checkConstraints(witness);
    expect(witness.slice(1, 7)).to.deep.equal(r.publicSignals);
    // The binding is a free public input (the statement does not depend on it): another one gives another witness.
    const other = await circuit.calculateWitness({ ...r.input, binding: BINDING + 1n }, true);
    expect(other[6]).to.equal(BINDING + 1n);
  });

  behaves(REDUCED, () => async (input) => {
    const witness = await circuit.calculateWitness(input, true);
    await circuit.checkConstraints(witness);
  });
});

describe("circuits: ResultAvailability main (msgLen 134, 64×64 image)", function () {
  this.timeout(600_000);
  const dir = path.resolve("build/zk/ResultAvailability");
  const wasm = path.join(dir, "ResultAvailability_js/ResultAvailability.wasm");
  const zkey = path.join(dir, "ResultAvailability_final.zkey");
  const vkeyFile = path.join(dir, "verification_key.json");
  const built = [wasm, zkey, vkeyFile].every(existsSync);

  describe("witness tests with the built wasm", function () {
    before(function () {
      if (!existsSync(wasm)) {
        console.log("      (skipped: run `npm run zk:build` first to build build/zk/ResultAvailability)");
        this.skip();
      }
    });
    // circom's generated witness calculator (CommonJS; build.sh gives the folder a {"type": "commonjs"}
    // package.json), instantiated once: reloading the 60k-constraint wasm per case would dominate the run time.
    let calculator: { calculateWitness(input: unknown, sanityCheck: boolean): Promise<bigint[]> };
    before(async function () {
      const builder = require(path.join(dir, "ResultAvailability_js/witness_calculator.js"));
      calculator = await builder(readFileSync(wasm));
    });
    behaves(MAIN, () => async (input) => calculator.calculateWitness(input, true));
  });

  describe("Groth16 proofs, off-chain and on-chain", function () {
    before(function () {
      if (!built) {
        console.log("      (skipped: run `npm run zk:build` first to build build/zk/ResultAvailability)");
        this.skip();
      }
    });

    it("proves a 64×64 image result and a text result; verifyProof accepts them and rejects a changed public signal", async function () {
      const vkey = JSON.parse(readFileSync(vkeyFile, "utf8"));
      expect(vkey.nPublic).to.equal(6);
      const { ethers } = await network.getOrCreate();
      const verifier = await ethers.deployContract("ResultAvailabilityVerifier");

      const image = scene(7, 64);
      const cases = [result(MAIN, 0, image), result(MAIN, 1, TEXT), result(MAIN, 0, scene(8, 64))];
      expect(cases[0].publicSignals[4]).to.equal(BigInt(imageScore(image)));
      const times: number[] = [];
      const gas: bigint[] = [];
      for (const r of cases) {
        const t0 = performance.now();
        const { proof, publicSignals } = await snarkjs.groth16.fullProve(r.input as snarkjs.CircuitSignals, wasm, zkey);
        times.push(performance.now() - t0);
        expect(publicSignals.map(BigInt)).to.deep.equal(r.publicSignals);
        expect(await snarkjs.groth16.verify(vkey, publicSignals, proof)).to.equal(true);

        const [a, b, c, pub] = JSON.parse(`[${await snarkjs.groth16.exportSolidityCallData(proof, publicSignals)}]`);
        expect(await verifier.verifyProof(a, b, c, pub)).to.equal(true);
        gas.push(await verifier.verifyProof.estimateGas(a, b, c, pub));
        for (let index = 0; index < 6; index++) {
          // A tuple of the six public signals, as typechain wants it; one of them changed (the binding included).
          const bad = [...pub] as [string, string, string, string, string, string];
          bad[index] = (BigInt(bad[index]) + 1n).toString();
          expect(await verifier.verifyProof(a, b, c, bad)).to.equal(false);
        }
      }
      const median = [...times].sort((x, y) => x - y)[1];
      console.log(
        `      fullProve ${times.map((t) => (t / 1000).toFixed(2)).join(" / ")} s (median ${(median / 1000).toFixed(2)} s), ` +
          `verifyProof ${gas.join(" / ")} gas (estimateGas, incl. 21k base)`,
      );
    });
  });
});
