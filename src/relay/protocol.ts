/**
 * The relay's wire protocol (see ./README.md): the blob body format, the upload signature and the JSON shapes.
 *
 * Blob body: the blob's field elements, each 32 bytes big-endian, concatenated (`blobToBytes` of
 * src/crypto/blob.ts). The relay accepts any sequence of at least MIN_BLOB_ELEMENTS elements, each below the BN254
 * scalar field modulus; it does not decrypt or otherwise interpret them. `blobHash` is the Poseidon sponge of the
 * elements (`spongeHash`), the leaf of the batch Merkle tree and the circuits' public input.
 *
 * Upload signature: the uploader signs, with EIP-191 `personal_sign` (ethers `signMessage`), the 32 bytes
 *   digest = keccak256(abi.encode(string "vss-relay-upload-v1", bytes32 blobHash, uint256 timestamp))
 * where `timestamp` is the unix time in seconds sent in `x-vss-timestamp`. The upload also names its signer in
 * `x-vss-address` and its blob hash in `x-vss-blob-hash` (both required). That lets the relay check everything that
 * costs little before it reads or hashes the body: the headers, the timestamp (±300 s), the signature (one
 * secp256k1 recovery over the 32-byte digest of the claimed hash, which must give `x-vss-address`), whether the blob
 * is already stored (a replay, never charged), and the signer's rate limit. Only then is the body read and its
 * Poseidon hash compared with the claimed one.
 */
import { AbiCoder, getBytes, hashMessage, keccak256, type Signer } from "ethers";
import { FIELD_SIZE, spongeHash, toBytes32 } from "../crypto/blob.js";

/** Version string inside the signed digest; a new signature scheme gets a new string. */
export const UPLOAD_DOMAIN = "vss-relay-upload-v1";
/** The API prefix. */
export const API_PREFIX = "/v1";
/** Header: unix seconds of the upload. */
export const HEADER_TIMESTAMP = "x-vss-timestamp";
/** Header: EIP-191 signature (65 bytes, 0x hex) over `uploadDigest(blobHash, timestamp)`. */
export const HEADER_SIGNATURE = "x-vss-signature";
/** Header: the address that signed (required; a signature by anyone else is a 401). */
export const HEADER_ADDRESS = "x-vss-address";
/** Header: the blob's Poseidon hash, which the signature covers (required; the body must hash to it). */
export const HEADER_BLOB_HASH = "x-vss-blob-hash";
/** Largest accepted difference between the upload timestamp and the relay's clock, in seconds. */
export const MAX_CLOCK_SKEW_S = 300;
/** A blob has at least the ephemeral key (2 elements), the nonce and one ciphertext element. */
export const MIN_BLOB_ELEMENTS = 4;
/** Bytes per serialised field element. */
export const ELEMENT_BYTES = 32;

/** A 0x-prefixed 32-byte hex string. */
export type Hex32 = string;

/** Why a body is not a blob; `message` says what was wrong and what to send instead. */
export class BlobFormatError extends Error {}

const MODULUS_BYTES = Buffer.from(FIELD_SIZE.toString(16).padStart(64, "0"), "hex");

/**
 * Checks a blob body; throws `BlobFormatError` unless it is a multiple of 32 bytes, has at least MIN_BLOB_ELEMENTS
 * elements, and every element is below the BN254 field modulus.
 */
export function checkBlobBytes(bytes: Uint8Array): void {
  if (bytes.length % ELEMENT_BYTES !== 0) {
    throw new BlobFormatError(
      `the body is ${bytes.length} bytes, not a multiple of 32: a blob is a sequence of 32-byte big-endian field ` +
        `elements [epk.x, epk.y, nonce, ...ciphertext] (blobToBytes in src/crypto/blob.ts)`,
    );
  }
  const n = bytes.length / ELEMENT_BYTES;
  if (n < MIN_BLOB_ELEMENTS) {
    throw new BlobFormatError(
      `the body has ${n} field element(s); a blob has at least ${MIN_BLOB_ELEMENTS} ` +
        `(ephemeral key x and y, nonce, ciphertext)`,
    );
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) {
    // Big-endian: below the modulus iff lexicographically below its 32 bytes (the top byte decides almost always).
    if (buf[32 * i] < MODULUS_BYTES[0]) continue;
    if (buf.compare(MODULUS_BYTES, 0, 32, 32 * i, 32 * i + 32) >= 0) {
      throw new BlobFormatError(
        `field element ${i} (bytes ${32 * i}..${32 * i + 31}) is not below the BN254 scalar field modulus; ` +
          `every 32-byte element must be reduced modulo ${FIELD_SIZE}`,
      );
    }
  }
}

/** The field elements of a blob body (checked as by `checkBlobBytes`). */
export function blobElementsFromBytes(bytes: Uint8Array): bigint[] {
  checkBlobBytes(bytes);
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
  return Array.from({ length: bytes.length / ELEMENT_BYTES }, (_, i) => BigInt("0x" + hex.slice(64 * i, 64 * i + 64)));
}

/**
 * `blobHash` of a serialised blob: the Poseidon sponge of its elements (`spongeHash` of src/crypto/blob.ts, on
 * poseidon-lite), as bytes32 hex; checks the format first.
 */
export function blobHashOfBytes(bytes: Uint8Array): Hex32 {
  return toBytes32(spongeHash(blobElementsFromBytes(bytes)));
}

/** The 32-byte digest an uploader signs (EIP-191) for `blobHash` at `timestamp` (unix seconds). */
export function uploadDigest(blobHash: Hex32, timestamp: number | bigint): Hex32 {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(["string", "bytes32", "uint256"], [UPLOAD_DOMAIN, blobHash, BigInt(timestamp)]),
  );
}

/** The EIP-191 message hash of `uploadDigest` (what ecrecover sees). */
export function uploadMessageHash(blobHash: Hex32, timestamp: number | bigint): Hex32 {
  return hashMessage(getBytes(uploadDigest(blobHash, timestamp)));
}

/** The headers of a signed upload. */
export interface SignedUpload {
  blobHash: Hex32;
  timestamp: number;
  signature: string;
  address: string;
  headers: Record<string, string>;
}

/**
 * Signs the upload of `blobBytes` at `timestamp` (unix seconds, default now) with `wallet` (any ethers Signer):
 * returns the blob hash, the signature and the HTTP headers to send with `POST /v1/blobs`.
 */
export async function signUpload(
  wallet: Signer,
  blobBytes: Uint8Array,
  timestamp: number = Math.floor(Date.now() / 1000),
): Promise<SignedUpload> {
  const blobHash = blobHashOfBytes(blobBytes);
  const signature = await wallet.signMessage(getBytes(uploadDigest(blobHash, timestamp)));
  const address = await wallet.getAddress();
  return {
    blobHash,
    timestamp,
    signature,
    address,
    headers: {
      "content-type": "application/octet-stream",
      [HEADER_TIMESTAMP]: String(timestamp),
      [HEADER_SIGNATURE]: signature,
      [HEADER_ADDRESS]: address,
      [HEADER_BLOB_HASH]: blobHash,
    },
  };
}

/** Body of `POST /v1/blobs` (201). */
export interface UploadResponse {
  blobHash: Hex32;
  status: "pending" | "committed";
  /** True when the relay already held this blob (idempotent re-upload). */
  duplicate: boolean;
  root?: Hex32;
  proof?: Hex32[];
  batchId?: number;
  txHash?: string | null;
}

/** Body of `GET /v1/blobs/:hash/proof` (200). */
export interface ProofResponse {
  blobHash: Hex32;
  root: Hex32;
  proof: Hex32[];
  batchId: number;
  txHash: string | null;
  blockNumber: number | null;
  postedAt: number | null;
}

/** Body of `GET /v1/blobs/:hash/proof` while the blob has no posted root yet (202). */
export interface PendingResponse {
  blobHash: Hex32;
  status: "pending";
  batchId: number | null;
  batchStatus: "open" | "pending" | "posting";
  retryAfterMs: number;
}

/**
 * What the root poster is doing: `idle` (nothing to post), `sending` (a postRoot is being signed and sent),
 * `confirming` (waiting for a sent transaction to be mined and confirmed), `retrying` (the last attempt failed; the
 * next one waits for its backoff), `halted` (the chain is not the one this database belongs to; nothing is posted
 * until the operator acts, see `lastError`).
 */
export type PosterState = "idle" | "sending" | "confirming" | "retrying" | "halted";

/** Body of `GET /v1/health`. */
export interface HealthResponse {
  /** `ok`; `degraded` while posting fails or stalls (see `poster` and `lastError`); `error` when halted. */
  status: "ok" | "degraded" | "error";
  chainId: string;
  relayAddress: string;
  relayRoots: string;
  pendingBlobs: number;
  unbatchedBlobs: number;
  pendingBatches: number;
  totalBlobs: number;
  postedBatches: number;
  lastRoot: { root: Hex32; batchId: number; txHash: string | null; postedAt: number | null } | null;
  lastError: string | null;
  /** The poster's state, since when (ms since the epoch), and the batch and transaction it is working on. */
  poster: {
    state: PosterState;
    since: number;
    batchId: number | null;
    txHash: string | null;
    attempts: number;
  };
  /** Blocks a postRoot needs (its own included) before its batch counts as posted. */
  confirmations: number;
  /** The block that pins this database to its chain (see the operator's guide). */
  chainAnchor: { blockNumber: number; blockHash: string } | null;
  batchSize: number;
  batchIntervalMs: number;
}

/** Every error body: `{ error: { code, message } }`. */
export interface ErrorResponse {
  error: { code: string; message: string };
}
