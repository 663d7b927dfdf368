/**
 * Unit tests of the blob format (src/crypto/blob.ts) and Baby Jubjub keys (src/crypto/babyjub.ts). The circuit side
 * of the same math is tested in test/circuits/params-consistency.test.ts.
 */
import { expect } from "chai";
import { poseidon16 } from "poseidon-lite";
import { Base8, mulPointEscalar, subOrder } from "@zk-kit/baby-jubjub";
import { deriveSharedKey, generateKeyPair, isValidPublicKey, publicKeyOf } from "../../src/crypto/babyjub.js";
import {
  FIELD_SIZE,
  PARAMS_CAPACITY,
  RESULT_CAPACITY,
  blobElements,
  blobFromBytes,
  blobFromJSON,
  blobHash,
  blobToBytes,
  blobToJSON,
  byteCapacity,
  ciphertextLength,
  decryptBlob,
  decryptBytes,
  encryptBlob,
  encryptBytes,
  packBytes,
  paramsHash,
  spongeHash,
  toBytes32,
  unpackBytes,
  useWasmPoseidon,
} from "../../src/crypto/blob.js";
import { buildPoseidon } from "circomlibjs";
import { randomBytes } from "node:crypto";

const utf8 = (s: string) => new TextEncoder().encode(s);

describe("unit: blob format (src/crypto/blob.ts)", function () {
  describe("packing", function () {
    it("capacities hold 2 KiB of parameters and one 64×64 grayscale image", function () {
      expect(byteCapacity(PARAMS_CAPACITY)).to.equal(2077);
      expect(byteCapacity(RESULT_CAPACITY)).to.equal(4123);
      expect(byteCapacity(PARAMS_CAPACITY)).to.be.at.least(2048);
      expect(byteCapacity(RESULT_CAPACITY)).to.be.at.least(64 * 64);
      expect(ciphertextLength(PARAMS_CAPACITY)).to.equal(70);
      expect(ciphertextLength(RESULT_CAPACITY)).to.equal(136);
    });

    it("element 0 is the length, then 31-byte big-endian chunks, the last zero-padded on the right, then zeros", function () {
      const bytes = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
      const packed = packBytes(bytes, 4);
      expect(packed).to.have.length(4);
      expect(packed[0]).to.equal(32n);
      expect(packed[1]).to.equal(BigInt("0x" + Buffer.from(bytes.subarray(0, 31)).toString("hex")));
      expect(packed[2]).to.equal(0x20n << 240n); // byte 31 = 0x20, then 30 zero bytes
      expect(packed[3]).to.equal(0n);
      expect(packBytes(utf8("hello, vss"), 3).map((x) => x.toString(16))).to.deep.equal([
        "a",
        "68656c6c6f2c20767373000000000000000000000000000000000000000000",
        "0",
      ]);
      expect(packBytes(new Uint8Array(0), 2)).to.deep.equal([0n, 0n]);
    });

    it("round-trips every length up to the capacity and refuses one byte more", function () {
      for (const n of [0, 1, 30, 31, 32, 61, 62, 63, 93]) {
        const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 97 + 13) & 0xff);
        expect(Buffer.from(unpackBytes(packBytes(bytes, 4)))).to.deep.equal(Buffer.from(bytes));
      }
      expect(() => packBytes(new Uint8Array(94), 4)).to.throw(RangeError);
      expect(() => packBytes(new Uint8Array(2078), PARAMS_CAPACITY)).to.throw(RangeError);
    });

    it("unpacking is strict: non-zero padding bytes, trailing elements or a too large length are rejected", function () {
      const packed = packBytes(utf8("abc"), 3);
      expect(() => unpackBytes([packed[0], packed[1] | 1n, 0n])).to.throw(/padding/);
      expect(() => unpackBytes([packed[0], packed[1], 1n])).to.throw(/must be 0/);
      expect(() => unpackBytes([63n, packed[1], 0n])).to.throw(RangeError);
      expect(() => unpackBytes([3n, 1n << 248n, 0n])).to.throw(RangeError);
    });
  });

  describe("sponge hash", function () {
    it("is h := n; h := Poseidon16([h, ...15 elements zero-padded]) per chunk", function () {
      const zeros = (k: number) => new Array<bigint>(k).fill(0n);
      expect(spongeHash([1n])).to.equal(poseidon16([1n, 1n, ...zeros(14)]));
      const xs = Array.from({ length: 17 }, (_, i) => BigInt(i) * 1000003n);
      const h1 = poseidon16([17n, ...xs.slice(0, 15)]);
      expect(spongeHash(xs)).to.equal(poseidon16([h1, xs[15], xs[16], ...zeros(13)]));
      expect(() => spongeHash([])).to.throw(RangeError);
      expect(() => spongeHash([FIELD_SIZE])).to.throw(RangeError);
    });

    it("matches the pinned known-answer vectors", function () {
      expect(spongeHash([1n])).to.equal(19618917380378167123964167204218337008939521349129721815063599687834844599159n);
      expect(spongeHash([1n, 2n, 3n])).to.equal(
        15061949095353350328928475144300281558933378188384111869729618770914093769028n,
      );
    });
  });

  describe("WebAssembly Poseidon (useWasmPoseidon)", function () {
    const randomField = () => BigInt("0x" + randomBytes(32).toString("hex")) % FIELD_SIZE;

    it("circomlibjs's WASM Poseidon(16) equals poseidon-lite on random and edge inputs", async function () {
      const wasm = await buildPoseidon();
      const cases = Array.from({ length: 40 }, () => Array.from({ length: 16 }, randomField));
      cases.push(new Array<bigint>(16).fill(FIELD_SIZE - 1n), new Array<bigint>(16).fill(0n));
      for (const inputs of cases) expect(wasm.F.toObject(wasm(inputs))).to.equal(poseidon16(inputs));
    });

    it("after the switch, spongeHash still gives the known answers and poseidon-lite's chain", async function () {
      await useWasmPoseidon();
      await useWasmPoseidon(); // idempotent
      expect(spongeHash([1n])).to.equal(19618917380378167123964167204218337008939521349129721815063599687834844599159n);
      const xs = Array.from({ length: 140 }, randomField); // a 4 KiB blob's worth of elements
      let h = BigInt(xs.length);
      for (let i = 0; i < xs.length; i += 15) {
        const chunk = xs.slice(i, i + 15);
        h = poseidon16([h, ...chunk, ...new Array<bigint>(15 - chunk.length).fill(0n)]);
      }
      expect(spongeHash(xs)).to.equal(h);
    });
  });

  describe("keys and encryption", function () {
    it("ECDH is symmetric and keys are valid subgroup points", function () {
      const a = generateKeyPair();
      const b = generateKeyPair();
      expect(deriveSharedKey(a.secretKey, b.publicKey)).to.deep.equal(deriveSharedKey(b.secretKey, a.publicKey));
      expect(isValidPublicKey(a.publicKey)).to.equal(true);
      expect(a.publicKey).to.deep.equal(mulPointEscalar(Base8, a.secretKey));
      expect(isValidPublicKey([0n, 1n])).to.equal(false);
      expect(isValidPublicKey([1n, 2n])).to.equal(false);
      expect(() => publicKeyOf(0n)).to.throw(RangeError);
      expect(() => publicKeyOf(subOrder)).to.throw(RangeError);
    });

    it("encrypts to the recipient only, and decrypts exactly the ciphertexts the circuit accepts", function () {
      const app = generateKeyPair();
      const other = generateKeyPair();
      const message = [5n, 1n << 247n, FIELD_SIZE - 1n, 0n];
      const blob = encryptBlob(message, app.publicKey);
      expect(blob.ciphertext).to.have.length(7);
      expect(blob.nonce < 1n << 128n).to.equal(true);
      expect(decryptBlob(blob, app.secretKey, 4)).to.deep.equal(message);
      expect(() => decryptBlob(blob, other.secretKey, 4)).to.throw();
      expect(() => decryptBlob(blob, app.secretKey, 5)).to.throw(); // wrong length: different state
      const tampered = { ...blob, ciphertext: blob.ciphertext.map((c, i) => (i === 1 ? (c + 1n) % FIELD_SIZE : c)) };
      expect(() => decryptBlob(tampered, app.secretKey, 4)).to.throw();
      // A one-element message: the padding of short messages is checked too (poseidonDecrypt skips it).
      const one = encryptBlob([9n], app.publicKey);
      expect(decryptBlob(one, app.secretKey, 1)).to.deep.equal([9n]);
      expect(() => encryptBlob([1n], app.publicKey, undefined, 1n << 128n)).to.throw(RangeError);
    });

    it("encryptBytes/decryptBytes round-trip 2 KiB of parameters and a 4 KiB image", function () {
      const node = generateKeyPair();
      for (const [size, capacity] of [
        [2048, PARAMS_CAPACITY],
        [4096, RESULT_CAPACITY],
      ]) {
        const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 31 + 7) & 0xff);
        const blob = encryptBytes(bytes, capacity, node.publicKey);
        expect(Buffer.from(decryptBytes(blob, node.secretKey, capacity))).to.deep.equal(Buffer.from(bytes));
      }
    });

    it("matches the pinned known-answer blob (secret 12345, ephemeral 67890, nonce 42, 'hello, vss' in 5 elements)", function () {
      const blob = encryptBytes(utf8("hello, vss"), 5, publicKeyOf(12345n), 67890n, 42n);
      expect(blob.ephemeralPublicKey).to.deep.equal(publicKeyOf(67890n));
      expect(toBytes32(blobHash(blob))).to.equal("0x2cafeb53483e17769ccd476588e44d73baee64ff66de26d026a459e5d1fdeb6f");
      expect(toBytes32(paramsHash(packBytes(utf8("hello, vss"), 5)))).to.equal(
        "0x0afb062f5f895664fa2070e85adc74cb621292e23dfabc899386335736ce7c75",
      );
      expect(Buffer.from(decryptBytes(blob, 12345n, 5)).toString()).to.equal("hello, vss");
    });
  });

  describe("serialisation", function () {
    it("bytes are the 32-byte big-endian elements [epk.x, epk.y, nonce, ...ciphertext]; JSON round-trips", function () {
      const blob = encryptBytes(utf8("parameters"), PARAMS_CAPACITY, generateKeyPair().publicKey);
      const bytes = blobToBytes(blob);
      expect(bytes.length).to.equal(32 * (3 + 70));
      expect("0x" + Buffer.from(bytes.subarray(64, 96)).toString("hex")).to.equal(toBytes32(blob.nonce));
      expect(blobFromBytes(bytes)).to.deep.equal(blob);
      expect(blobFromJSON(JSON.parse(JSON.stringify(blobToJSON(blob))))).to.deep.equal(blob);
      expect(blobHash(blob)).to.equal(spongeHash(blobElements(blob)));
      expect(() => blobFromBytes(bytes.subarray(0, bytes.length - 32))).to.throw(/element count/);
      expect(() => blobFromBytes(bytes.subarray(1))).to.throw(/multiple of 32/);
    });

    it("toBytes32 is 0x + 64 hex digits", function () {
      expect(toBytes32(1n)).to.equal("0x" + "0".repeat(63) + "1");
      expect(toBytes32(FIELD_SIZE - 1n)).to.have.length(66);
      expect(() => toBytes32(-1n)).to.throw(RangeError);
    });
  });
});
