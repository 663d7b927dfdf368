/**
 * Upload verification: parse the blob, hash it, recover the signer. This is the relay's CPU-heavy step (a Poseidon
 * sponge over every element and one secp256k1 public-key recovery per upload), so it sits behind an interface that
 * runs it either on the main thread (`InlineVerifier`) or on a pool of worker threads (./verify-pool.ts).
 */
import { getAddress, getBytes } from "ethers";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { blobHashOfBytes, uploadMessageHash, type Hex32 } from "./protocol.js";

/** The signature does not recover, or recovers to another address than the declared one. */
export class SignatureError extends Error {}

/** A verified upload. */
export interface VerifiedUpload {
  blobHash: Hex32;
  /** The recovered uploader address (checksummed). */
  signer: string;
}

/**
 * Verifies uploads; throws `BlobFormatError` (bad body) or `SignatureError` (bad signature). The relay calls
 * `recover` first (headers only: cheap) and `hash` only for an authenticated upload; `verify` does both.
 */
export interface UploadVerifier {
  verify(body: Uint8Array, timestamp: number, signature: string, expected?: string): Promise<VerifiedUpload>;
  /** The signer of `blobHash` at `timestamp` (checked to be `expected`); see `recoverUploader`. */
  recover(blobHash: Hex32, timestamp: number, signature: string, expected: string): Promise<string>;
  /** The blob hash of a body (validates the format). */
  hash(body: Uint8Array): Promise<Hex32>;
  close(): Promise<void>;
}

/** The blob hash of a body (validates the format). */
export function hashBody(body: Uint8Array): Hex32 {
  return blobHashOfBytes(body);
}

/** ecrecover of an EIP-191 hash and a 65-byte r‖s‖v signature (noble-curves; throws when it does not recover). */
function recover(messageHash: Hex32, signature: string): string {
  const sig = getBytes(signature);
  const v = sig[64];
  const bit = v >= 27 ? v - 27 : v;
  if (bit !== 0 && bit !== 1) throw new Error("invalid v");
  const point = secp256k1.Signature.fromBytes(sig.subarray(0, 64), "compact")
    .addRecoveryBit(bit)
    .recoverPublicKey(getBytes(messageHash));
  const address = keccak_256(point.toBytes(false).subarray(1)).subarray(12);
  return getAddress("0x" + Buffer.from(address).toString("hex"));
}

/** Recovers the uploader of `blobHash` at `timestamp`; checks it equals `expected` when given. */
export function recoverUploader(blobHash: Hex32, timestamp: number, signature: string, expected?: string): string {
  let signer: string;
  try {
    signer = recover(uploadMessageHash(blobHash, timestamp), signature);
  } catch (error) {
    throw new SignatureError(
      `x-vss-signature does not recover to an address (${(error as Error).message.split(" (")[0]}); sign the 32-byte ` +
        `digest keccak256(abi.encode("vss-relay-upload-v1", blobHash, timestamp)) with EIP-191 signMessage`,
    );
  }
  if (expected !== undefined && signer.toLowerCase() !== expected.toLowerCase()) {
    throw new SignatureError(
      `the signature was made by ${signer}, not by ${expected} (x-vss-address) for blob ${blobHash} at timestamp ` +
        `${timestamp}: the body, the timestamp or the signature was altered, or the wrong key signed; sign ` +
        `keccak256(abi.encode("vss-relay-upload-v1", blobHash, timestamp)) of exactly these bytes`,
    );
  }
  return signer;
}

/** The whole check, synchronously. */
export function verifyUpload(
  body: Uint8Array,
  timestamp: number,
  signature: string,
  expected?: string,
): VerifiedUpload {
  const blobHash = hashBody(body);
  return { blobHash, signer: recoverUploader(blobHash, timestamp, signature, expected) };
}

/** Verification on the calling thread. */
export class InlineVerifier implements UploadVerifier {
  async verify(body: Uint8Array, timestamp: number, signature: string, expected?: string): Promise<VerifiedUpload> {
    return verifyUpload(body, timestamp, signature, expected);
  }
  async recover(blobHash: Hex32, timestamp: number, signature: string, expected: string): Promise<string> {
    return recoverUploader(blobHash, timestamp, signature, expected);
  }
  async hash(body: Uint8Array): Promise<Hex32> {
    return hashBody(body);
  }
  async close(): Promise<void> {}
}
