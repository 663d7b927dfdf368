/**
 * THE blob format (DESIGN §3-4). `circuits/lib/blob.circom` implements exactly the same math; the tests in
 * `test/circuits/params-consistency.test.ts` check that both agree element for element.
 *
 * 1. Byte packing (`packBytes` / `unpackBytes`), a message of `capacity` BN254 field elements:
 *      element 0            = the byte length L (0 ≤ L ≤ 31 · (capacity − 1))
 *      element 1 + k        = bytes[31k .. 31k + 31) read as a 31-byte BIG-ENDIAN integer (< 2^248); the last
 *                             chunk is ZERO-PADDED ON THE RIGHT to 31 bytes, i.e. byte 31k + j is
 *                             `(element[1 + k] >> (8 · (30 − j))) & 0xff` for j = 0..30
 *      remaining elements   = 0, up to `capacity` elements in total
 *    Capacities: PARAMS_CAPACITY = 68 (1 + 67 chunks = 2,077 bytes ≥ 2 KiB of task parameters),
 *                RESULT_CAPACITY = 134 (1 + 133 chunks = 4,123 bytes ≥ one 64×64 8-bit grayscale image, 4,096 bytes).
 *    Task parameters stay packed elements in the circuit; only the result circuit unpacks bytes.
 *
 * 2. Encryption (`encryptBlob`): ECDH on Baby Jubjub, then Poseidon encryption (@zk-kit/poseidon-cipher 0.3.2).
 *      ephemeralPublicKey = e · Base8                        (0 < e < subOrder; see ./babyjub.ts)
 *      sharedKey          = e · recipientPublicKey           (a point [k0, k1])
 *      ciphertext         = poseidonEncrypt(message, [k0, k1], nonce)     (0 ≤ nonce < 2^128)
 *    Poseidon cipher, for message length L (padded with zeros to L' = 3·ceil(L/3)): state
 *    S = [0, k0, k1, nonce + L·2^128]; for each triple i: S = Perm4(S); S[1..3] += m[3i..3i+2]; release S[1..3];
 *    finally S = Perm4(S) and release S[1] as the authentication element. So `ciphertext.length = L' + 1`.
 *
 * 3. Blob = { ephemeralPublicKey: [x, y], nonce, ciphertext[L' + 1] }, serialised as the field elements
 *      blobElements(blob) = [epk.x, epk.y, nonce, ...ciphertext]
 *    and as bytes (`blobToBytes`) by writing each of those elements as 32 bytes big-endian, concatenated.
 *
 * 4. Hashes. spongeHash(elements) over n ≥ 1 field elements:
 *      h := n
 *      for each consecutive chunk of 15 elements (the last chunk zero-padded to 15):
 *        h := Poseidon16([h, ...chunk])          (circomlib `Poseidon(16)`: poseidon-lite, or circomlibjs's WASM
 *                                                 build after `useWasmPoseidon()`)
 *      return h
 *    blobHash(blob)     = spongeHash(blobElements(blob))   — the relay's leaf and the circuits' public `blobHash`
 *    paramsHash(message) = spongeHash(message)             — the packed parameters (PARAMS_CAPACITY elements)
 *    On-chain, these field elements are `bytes32` values: `toBytes32(x)`, 32 bytes big-endian.
 */
import { poseidon16 } from "poseidon-lite";
import { buildPoseidon } from "circomlibjs";
import { poseidonDecrypt, poseidonEncrypt } from "@zk-kit/poseidon-cipher";
import { inCurve, r as FIELD_MODULUS } from "@zk-kit/baby-jubjub";
import { randomBytes } from "node:crypto";
import { assertSecretScalar, deriveSharedKey, publicKeyOf, randomScalar, type PublicKey } from "./babyjub.js";

/** The BN254 scalar field modulus: every element is below it. */
export const FIELD_SIZE: bigint = FIELD_MODULUS;
/** Bytes per packed chunk element. */
export const BYTES_PER_ELEMENT = 31;
/** Message capacity (field elements) of task parameters: 1 length element + 67 chunks (2,077 bytes). */
export const PARAMS_CAPACITY = 68;
/** Message capacity (field elements) of a result: 1 length element + 133 chunks (4,123 bytes). */
export const RESULT_CAPACITY = 134;
/** Elements absorbed per Poseidon(16) call of the sponge (the 16th input is the running hash). */
export const SPONGE_RATE = 15;

const TWO_128 = 1n << 128n;

/** An encrypted blob. */
export interface Blob {
  ephemeralPublicKey: [bigint, bigint];
  nonce: bigint;
  ciphertext: bigint[];
}

/** The JSON form of a blob: every element as a 0x-prefixed 32-byte hex string. */
export interface BlobJSON {
  ephemeralPublicKey: [string, string];
  nonce: string;
  ciphertext: string[];
}

/** Bytes a message of `capacityElements` elements can hold. */
export function byteCapacity(capacityElements: number): number {
  return BYTES_PER_ELEMENT * (capacityElements - 1);
}

/** `3 · ceil(length / 3) + 1`: the ciphertext length of a message of `length` elements. */
export function ciphertextLength(length: number): number {
  return Math.ceil(length / 3) * 3 + 1;
}

// ---------------------------------------------------------------------------------------------------------------
// Byte packing
// ---------------------------------------------------------------------------------------------------------------

/** Packs `bytes` into exactly `capacityElements` field elements (see the header); throws if they do not fit. */
export function packBytes(bytes: Uint8Array, capacityElements: number): bigint[] {
  if (!Number.isInteger(capacityElements) || capacityElements < 1) throw new RangeError("capacity must be ≥ 1");
  if (bytes.length > byteCapacity(capacityElements)) {
    throw new RangeError(`${bytes.length} bytes do not fit in ${capacityElements} elements`);
  }
  const out: bigint[] = new Array<bigint>(capacityElements).fill(0n);
  out[0] = BigInt(bytes.length);
  for (let k = 0; 31 * k < bytes.length; k++) {
    let v = 0n;
    for (let j = 0; j < BYTES_PER_ELEMENT; j++) {
      const idx = BYTES_PER_ELEMENT * k + j;
      v = (v << 8n) | BigInt(idx < bytes.length ? bytes[idx] : 0);
    }
    out[1 + k] = v;
  }
  return out;
}

/**
 * Inverse of `packBytes`. Strict: throws unless the elements are exactly what `packBytes` would produce for some
 * byte string (length in range, chunks < 2^248, zero padding bytes, zero trailing elements).
 */
export function unpackBytes(elements: readonly bigint[]): Uint8Array {
  if (elements.length < 1) throw new RangeError("no length element");
  const length = elements[0];
  if (length < 0n || length > BigInt(byteCapacity(elements.length))) throw new RangeError("byte length out of range");
  const len = Number(length);
  const out = new Uint8Array(len);
  const chunks = Math.ceil(len / BYTES_PER_ELEMENT);
  for (let k = 0; k < elements.length - 1; k++) {
    const v = elements[1 + k];
    if (k >= chunks) {
      if (v !== 0n) throw new Error(`element ${1 + k} after the data must be 0`);
      continue;
    }
    if (v < 0n || v >= 1n << 248n) throw new RangeError(`element ${1 + k} is not a 31-byte chunk`);
    for (let j = 0; j < BYTES_PER_ELEMENT; j++) {
      const byte = Number((v >> BigInt(8 * (BYTES_PER_ELEMENT - 1 - j))) & 0xffn);
      const idx = BYTES_PER_ELEMENT * k + j;
      if (idx < len) out[idx] = byte;
      else if (byte !== 0) throw new Error(`padding byte ${idx} must be 0`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Encryption
// ---------------------------------------------------------------------------------------------------------------

/** A random nonce below 2^128. */
export function randomNonce128(): bigint {
  return BigInt("0x" + randomBytes(16).toString("hex"));
}

/**
 * Encrypts `message` (field elements) to `recipientPublicKey` with a fresh (or the given) ephemeral key and nonce.
 */
export function encryptBlob(
  message: readonly bigint[],
  recipientPublicKey: readonly [bigint, bigint],
  ephemeralSecret: bigint = randomScalar(),
  nonce: bigint = randomNonce128(),
): Blob {
  if (message.length === 0) throw new RangeError("empty message");
  if (nonce < 0n || nonce >= TWO_128) throw new RangeError("nonce must be < 2^128");
  for (const m of message) if (m < 0n || m >= FIELD_SIZE) throw new RangeError("message element not in the field");
  assertSecretScalar(ephemeralSecret);
  const sharedKey = deriveSharedKey(ephemeralSecret, recipientPublicKey);
  return {
    ephemeralPublicKey: publicKeyOf(ephemeralSecret),
    nonce,
    ciphertext: poseidonEncrypt([...message], sharedKey, nonce),
  };
}

/**
 * Decrypts a blob of a `length`-element message with the recipient's secret. Accepts exactly the ciphertexts the
 * circuit accepts (`ciphertext == Enc(message)`, including zero padding and the authentication element): it
 * decrypts, re-encrypts and compares, which also covers the padding of short messages that
 * `poseidonDecrypt` skips for `length ≤ 3`.
 */
export function decryptBlob(blob: Blob, recipientSecret: bigint, length: number): bigint[] {
  if (blob.ciphertext.length !== ciphertextLength(length)) {
    throw new Error(`ciphertext has ${blob.ciphertext.length} elements, expected ${ciphertextLength(length)}`);
  }
  if (blob.nonce < 0n || blob.nonce >= TWO_128) throw new RangeError("nonce must be < 2^128");
  const sharedKey = deriveSharedKey(recipientSecret, blob.ephemeralPublicKey);
  const message = poseidonDecrypt(blob.ciphertext, sharedKey, blob.nonce, length);
  const again = poseidonEncrypt(message, sharedKey, blob.nonce);
  if (again.some((c, i) => c !== blob.ciphertext[i])) throw new Error("ciphertext is not a valid encryption");
  return message;
}

/** `encryptBlob(packBytes(bytes, capacity), recipientPublicKey)`. */
export function encryptBytes(
  bytes: Uint8Array,
  capacity: number,
  recipientPublicKey: readonly [bigint, bigint],
  ephemeralSecret?: bigint,
  nonce?: bigint,
): Blob {
  return encryptBlob(packBytes(bytes, capacity), recipientPublicKey, ephemeralSecret, nonce);
}

/** `unpackBytes(decryptBlob(blob, recipientSecret, capacity))`. */
export function decryptBytes(blob: Blob, recipientSecret: bigint, capacity: number): Uint8Array {
  return unpackBytes(decryptBlob(blob, recipientSecret, capacity));
}

// ---------------------------------------------------------------------------------------------------------------
// Serialisation
// ---------------------------------------------------------------------------------------------------------------

/** `[epk.x, epk.y, nonce, ...ciphertext]`: the field elements of a blob, in hashing and serialisation order. */
export function blobElements(blob: Blob): bigint[] {
  return [blob.ephemeralPublicKey[0], blob.ephemeralPublicKey[1], blob.nonce, ...blob.ciphertext];
}

/** Inverse of `blobElements`; checks the shape (ciphertext length ≡ 1 mod 3, epk on the curve, nonce < 2^128). */
export function blobFromElements(elements: readonly bigint[]): Blob {
  if (elements.length < 7 || (elements.length - 3) % 3 !== 1) throw new Error("not a blob: bad element count");
  for (const e of elements) if (e < 0n || e >= FIELD_SIZE) throw new RangeError("blob element not in the field");
  const [x, y, nonce, ...ciphertext] = elements;
  if (!inCurve([x, y])) throw new Error("not a blob: ephemeral key off the curve");
  if (nonce >= TWO_128) throw new RangeError("not a blob: nonce ≥ 2^128");
  return { ephemeralPublicKey: [x, y], nonce, ciphertext };
}

/** A field element as a 0x-prefixed 32-byte big-endian hex string (the on-chain `bytes32`). */
export function toBytes32(x: bigint): string {
  if (x < 0n || x >= 1n << 256n) throw new RangeError("value does not fit in 32 bytes");
  return "0x" + x.toString(16).padStart(64, "0");
}

/** Inverse of `toBytes32` (accepts any 0x hex of at most 32 bytes). */
export function fromBytes32(hex: string): bigint {
  if (!/^0x[0-9a-fA-F]{1,64}$/.test(hex)) throw new Error(`not a bytes32 hex string: ${hex}`);
  return BigInt(hex);
}

/** The blob's elements, each 32 bytes big-endian, concatenated. */
export function blobToBytes(blob: Blob): Uint8Array {
  const elements = blobElements(blob);
  const out = new Uint8Array(32 * elements.length);
  elements.forEach((e, i) => {
    out.set(Buffer.from(toBytes32(e).slice(2), "hex"), 32 * i);
  });
  return out;
}

/** Inverse of `blobToBytes`. */
export function blobFromBytes(bytes: Uint8Array): Blob {
  if (bytes.length % 32 !== 0) throw new Error("blob bytes are not a multiple of 32");
  const elements: bigint[] = [];
  for (let i = 0; i < bytes.length; i += 32) {
    elements.push(BigInt("0x" + Buffer.from(bytes.subarray(i, i + 32)).toString("hex")));
  }
  return blobFromElements(elements);
}

/** The JSON form (0x hex bytes32 strings). */
export function blobToJSON(blob: Blob): BlobJSON {
  return {
    ephemeralPublicKey: [toBytes32(blob.ephemeralPublicKey[0]), toBytes32(blob.ephemeralPublicKey[1])],
    nonce: toBytes32(blob.nonce),
    ciphertext: blob.ciphertext.map(toBytes32),
  };
}

/** Inverse of `blobToJSON` (also accepts decimal strings). */
export function blobFromJSON(json: BlobJSON): Blob {
  const n = (s: string): bigint => BigInt(s);
  return blobFromElements([
    n(json.ephemeralPublicKey[0]),
    n(json.ephemeralPublicKey[1]),
    n(json.nonce),
    ...json.ciphertext.map(n),
  ]);
}

// ---------------------------------------------------------------------------------------------------------------
// Hashes
// ---------------------------------------------------------------------------------------------------------------

/** One Poseidon(16) call: 16 field elements in, one out. */
export type Poseidon16 = (inputs: bigint[]) => bigint;

/** The permutation `spongeHash` uses: poseidon-lite's BigInt code until `useWasmPoseidon` swaps it. */
let poseidon16Call: Poseidon16 = poseidon16;
let wasmLoading: Promise<void> | undefined;

/**
 * Switches `spongeHash` (and so `blobHash`, `paramsHash`) in this thread to circomlibjs's WebAssembly Poseidon: the
 * same function (circomlib's constants; a unit test compares both on random inputs), about 6× faster (0.47 ms
 * instead of 3.1 ms per Poseidon(16) call, 4.7 ms instead of 31 ms per 4 KiB blob). Idempotent; the relay calls it
 * at start-up on its main thread and in each verification worker.
 */
export function useWasmPoseidon(): Promise<void> {
  wasmLoading ??= buildPoseidon().then((p) => {
    poseidon16Call = (inputs) => p.F.toObject(p(inputs));
  });
  return wasmLoading;
}

/**
 * The Poseidon sponge of the header: `h := n`, then `h := Poseidon16([h, ...chunk15])` per chunk of 15
 * (zero-padded). `circuits/lib/blob.circom` `SpongeHash(n)` computes the same value.
 */
export function spongeHash(elements: readonly bigint[]): bigint {
  if (elements.length === 0) throw new RangeError("spongeHash needs at least one element");
  let h = BigInt(elements.length);
  for (let i = 0; i < elements.length; i += SPONGE_RATE) {
    const chunk: bigint[] = [];
    for (let j = 0; j < SPONGE_RATE; j++) {
      const e = i + j < elements.length ? elements[i + j] : 0n;
      if (e < 0n || e >= FIELD_SIZE) throw new RangeError("sponge input not in the field");
      chunk.push(e);
    }
    h = poseidon16Call([h, ...chunk]);
  }
  return h;
}

/** `spongeHash(blobElements(blob))`: the relay leaf and the circuits' public `blobHash`. */
export function blobHash(blob: Blob): bigint {
  return spongeHash(blobElements(blob));
}

/** `spongeHash(message)` of the packed parameters: the circuits' public `paramsHash`. */
export function paramsHash(message: readonly bigint[]): bigint {
  return spongeHash(message);
}

export type { PublicKey };
