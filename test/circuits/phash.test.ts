/**
 * pHash: src/crypto/phash.ts against circuits/lib/phash.circom (STYLE §15), and the hash's robustness.
 *
 * - The TypeScript definition: the literal basis table, the comparison bound the circuit relies on, the score
 *   encodings, and robustness (±2 pixel noise moves the hash by a few bits; different images are ≥ 24 bits apart
 *   for typical pairs, the network's default distanceThreshold).
 * - Agreement: `PHash64(64)` alone (test/circuits/PHash64.circom; the DCT is linear so it compiles in ~20 s) outputs
 *   the same 64 bits and packed hash as `imagePHash` for scenes, noise, flat images and adversarial images that
 *   push single coefficients to their extremes.
 * - `UnpackBytes(3)` (test/circuits/UnpackBytes3.circom) inverts blob.ts `packBytes` byte for byte and rejects a
 *   chunk of 2^248 or more.
 *
 * Circuits compile through circom_tester, which runs `circom`: tools/bin/circom is a shim over the npm circom2 package.
 */
import { expect } from "chai";
import { createRequire } from "node:module";
import path from "node:path";
import { getBytes } from "ethers";
import {
  DCT_COS_QUARTER,
  PHASH_COMPARE_BITS,
  dctBasis,
  imagePHash,
  imageScore,
  phashBits,
  phashCoefficients,
  phashCompareBound,
  textScore,
} from "../../src/crypto/phash.js";
import { RESULT_CAPACITY, packBytes, spongeHash } from "../../src/crypto/blob.js";
import { hammingDistance64, scoresMatch, DEFAULT_DISTANCE_THRESHOLD } from "../../src/crypto/simhash.js";
import { TaskType } from "../../src/types.js";
import { imageFrom, noiseImage, scene, withNoise } from "../helpers/images.js";

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

/** The image whose (v, u) coefficient is as large as a byte image allows: 255 where the basis product is positive. */
function extremeImage(v: number, u: number, sign: 1 | -1): Uint8Array {
  return imageFrom(64, (x, y) => (sign * dctBasis(v, y) * dctBasis(u, x) > 0 ? 255 : 0));
}

describe("pHash: the TypeScript definition (src/crypto/phash.ts)", function () {
  it("the basis folds the literal quarter-wave table round(256·cos(jπ/128))", function () {
    expect(DCT_COS_QUARTER).to.have.length(65);
    DCT_COS_QUARTER.forEach((t, j) => expect(t).to.equal(Math.round(256 * Math.cos((j * Math.PI) / 128))));
    for (const side of [16, 32, 64]) {
      for (let u = 0; u < 8; u++) {
        for (let x = 0; x < side; x++) {
          const exact = 256 * Math.cos(((2 * x + 1) * u * Math.PI) / (2 * side));
          expect(Math.abs(dctBasis(u, x, side) - exact)).to.be.at.most(0.5 + 1e-9);
        }
      }
    }
    expect(() => dctBasis(1, 0, 48)).to.throw(RangeError);
  });

  it("|63·D_i − S| stays below 2^(PHASH_COMPARE_BITS − 1), the offset the circuit's comparison needs", function () {
    const bound = phashCompareBound();
    expect(bound < 1n << BigInt(PHASH_COMPARE_BITS - 1)).to.equal(true);
    expect(bound > 1n << BigInt(PHASH_COMPARE_BITS - 2)).to.equal(true); // the bound is tight enough to matter
    // Extreme images reach large coefficients without crossing it.
    for (const [v, u] of [
      [0, 1],
      [1, 0],
      [7, 7],
      [3, 5],
    ]) {
      for (const sign of [1, -1] as const) {
        const d = phashCoefficients(extremeImage(v, u, sign));
        const s = d.slice(1).reduce((a, b) => a + b, 0);
        for (let i = 1; i < 64; i++) expect(BigInt(Math.abs(63 * d[i] - s)) <= bound).to.equal(true);
      }
    }
  });

  it("packs bit i (i = 8v + u, bit 0 = DC brightness) as bit 63 − i; the score is 8 bytes big-endian", function () {
    const img = scene(1);
    const bits = phashBits(img);
    const h = imagePHash(img);
    bits.forEach((b, i) => expect(Number((h >> BigInt(63 - i)) & 1n)).to.equal(b));
    const score = imageScore(img);
    expect(score).to.match(/^0x[0-9a-f]{16}$/);
    expect(BigInt(score)).to.equal(h);
    expect(getBytes(score)[0] >> 7).to.equal(bits[0]);
  });

  it("flat images: the DC bit is mean brightness ≥ 128, every AC bit is 0 (no ties to break)", function () {
    expect(imagePHash(new Uint8Array(4096).fill(127))).to.equal(0n);
    expect(imagePHash(new Uint8Array(4096).fill(128))).to.equal(1n << 63n);
    expect(imagePHash(new Uint8Array(4096).fill(255))).to.equal(1n << 63n);
  });

  it("±2 noise on 30 % of the pixels moves the hash by only a few bits", function () {
    let worst = 0;
    for (let i = 0; i < 10; i++) {
      const img = scene(1000 + i);
      const h = imagePHash(img);
      for (let k = 0; k < 3; k++) {
        const d = hammingDistance64(h, imagePHash(withNoise(img, 97 * i + k)));
        worst = Math.max(worst, d);
        expect(scoresMatch(TaskType.SD, imageScore(img), imageScore(withNoise(img, 97 * i + k)))).to.equal(true);
      }
    }
    expect(worst).to.be.at.most(4);
  });

  it("different images are far apart: typical pairs ≥ 24 bits (median distance of 66 pairs)", function () {
    const hashes = Array.from({ length: 12 }, (_, i) => imagePHash(scene(1000 + i)));
    const distances: number[] = [];
    for (let i = 0; i < hashes.length; i++) {
      for (let j = i + 1; j < hashes.length; j++) distances.push(hammingDistance64(hashes[i], hashes[j]));
    }
    distances.sort((a, b) => a - b);
    expect(distances[Math.floor(distances.length / 2)]).to.be.at.least(DEFAULT_DISTANCE_THRESHOLD + 6);
    expect(distances.filter((d) => d >= DEFAULT_DISTANCE_THRESHOLD).length / distances.length).to.be.at.least(0.9);
    // A scene against its own noisy copy stays far below those.
    expect(hammingDistance64(hashes[0], imagePHash(withNoise(scene(1000), 5)))).to.be.below(distances[0]);
  });

  it("textScore is spongeHash(packBytes(output, RESULT_CAPACITY)) as 32 bytes", function () {
    const out = new TextEncoder().encode("The lighthouse stood alone at dusk.");
    const score = textScore(out);
    expect(score).to.match(/^0x[0-9a-f]{64}$/);
    expect(BigInt(score)).to.equal(spongeHash(packBytes(out, RESULT_CAPACITY)));
    expect(textScore(out.subarray(1))).to.not.equal(score);
  });
});

describe("circuits: PHash64(64) and UnpackBytes agree with the TypeScript", function () {
  this.timeout(600_000);

  it("PHash64(64) outputs imagePHash bit for bit on scenes, noise, flat and extreme images", async function () {
    const circuit = await circomTester.wasm(path.resolve("test/circuits/PHash64.circom"), COMPILE);
    const images: Uint8Array[] = [
      scene(1000),
      scene(1001),
      withNoise(scene(1001), 3),
      noiseImage(7),
      new Uint8Array(4096).fill(128),
      new Uint8Array(4096),
      extremeImage(0, 1, 1),
      extremeImage(7, 7, -1),
      extremeImage(3, 5, 1),
      imageFrom(64, (x, y) => (((x >> 3) + (y >> 3)) % 2 ? 255 : 0)),
    ];
    for (const img of images) {
      const witness = await circuit.calculateWitness({ pixels: Array.from(img) }, true);
      await circuit.checkConstraints(witness);
      await circuit.assertOut(witness, { bits: phashBits(img), hash: imagePHash(img) });
    }
  });

  it("UnpackBytes(3) inverts packBytes byte for byte and rejects a chunk ≥ 2^248", async function () {
    const circuit = await circomTester.wasm(path.resolve("test/circuits/UnpackBytes3.circom"), COMPILE);
    const bytes = Uint8Array.from({ length: 80 }, (_, i) => (i * 89 + 255) & 0xff);
    bytes[0] = 0xff;
    bytes[30] = 0x01;
    const packed = packBytes(bytes, 4); // [length, chunk0, chunk1, chunk2]; bytes 80..92 are zero padding
    const witness = await circuit.calculateWitness({ in: packed.slice(1) }, true);
    await circuit.checkConstraints(witness);
    const expected = [...bytes, ...new Array(93 - 80).fill(0)];
    await circuit.assertOut(witness, { out: expected });
    let failed = false;
    try {
      await circuit.calculateWitness({ in: [1n << 248n, 0n, 0n] }, true);
    } catch {
      failed = true;
    }
    expect(failed, "a 249-bit chunk must not unpack").to.equal(true);
  });
});
