/**
 * A small HTTP client of the relay API (fetch-based), for applications, nodes, tests and the benchmark.
 *
 * The relay is trusted for availability only, never for integrity (docs/relay-trust.md): every answer that names a
 * blob is checked here, so that no caller can skip the check.
 * - `get(blobHash)` hashes the served bytes itself (the Poseidon sponge of src/crypto/blob.ts) and throws
 *   {@link RelayBlobMismatchError} unless they hash to `blobHash`: a relay, or anyone on a plain-HTTP path, cannot make
 *   a node decrypt and run other parameters than those the chain recorded, nor give an application another result.
 * - `upload` checks that the relay acknowledges the hash the uploader computed; `proof` and `waitForProof` check that a
 *   proof is for the blob asked about and that it verifies against its root (else {@link RelayProofInvalidError}).
 */
import type { Signer } from "ethers";
import { verifyInclusion } from "../crypto/merkle.js";
import {
  API_PREFIX,
  BlobFormatError,
  blobHashOfBytes,
  signUpload,
  type ErrorResponse,
  type HealthResponse,
  type Hex32,
  type PendingResponse,
  type ProofResponse,
  type UploadResponse,
} from "./protocol.js";

/** A non-2xx answer of the relay, with its `{ error: { code, message } }`. */
export class RelayHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`relay ${status} ${code}: ${message}`);
  }
}

/**
 * The relay answered for a blob with something else: bytes that do not hash to the requested blob hash (or are not a
 * blob at all: `actual` is null then), or an upload / proof answer naming another blob. Nothing it served was used.
 */
export class RelayBlobMismatchError extends Error {
  constructor(
    /** The blob hash that was asked for (or that the uploader computed). */
    readonly expected: Hex32,
    /** The Poseidon blob hash of what the relay served or named; null when the bytes are not a well-formed blob. */
    readonly actual: Hex32 | null,
    /** The relay's base URL. */
    readonly relayUrl: string,
    /** What was checked: the served bytes, an upload acknowledgement or a proof answer. */
    readonly what: "bytes" | "upload" | "proof",
    detail?: string,
  ) {
    super(
      `relay ${relayUrl} answered for blob ${expected} with ${what === "bytes" ? "bytes that" : `an ${what} answer that`} ` +
        (actual === null ? `are not a well-formed blob (${detail ?? "malformed"})` : `hash to ${actual}`) +
        `: refused, nothing was used`,
    );
    this.name = "RelayBlobMismatchError";
  }
}

/** The relay's Merkle proof for a blob does not verify against the root it names. */
export class RelayProofInvalidError extends Error {
  constructor(
    readonly blobHash: Hex32,
    readonly root: Hex32,
    readonly relayUrl: string,
  ) {
    super(`relay ${relayUrl} sent a Merkle proof for blob ${blobHash} that does not verify against root ${root}`);
    this.name = "RelayProofInvalidError";
  }
}

function sameHash(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

async function failure(res: Response): Promise<RelayHttpError> {
  const body = (await res.json().catch(() => null)) as ErrorResponse | null;
  return new RelayHttpError(res.status, body?.error?.code ?? "unknown", body?.error?.message ?? res.statusText);
}

/** Options of {@link RelayClient}. */
export interface RelayClientOptions {
  /** The HTTP transport (default: the global `fetch`); tests replace it to play a lying relay. */
  fetch?: typeof fetch;
}

/** Client of one relay at `baseUrl` (e.g. http://127.0.0.1:8787). */
export class RelayClient {
  private readonly fetch: typeof fetch;

  constructor(
    readonly baseUrl: string,
    options: RelayClientOptions = {},
  ) {
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /**
   * Signs and uploads a blob; with `waitMs`, waits up to that long for the committed root and proof. Throws
   * {@link RelayBlobMismatchError} when the relay acknowledges another blob hash than the one signed.
   */
  async upload(signer: Signer, blob: Uint8Array, waitMs = 0): Promise<UploadResponse> {
    const signed = await signUpload(signer, blob);
    return this.uploadSigned(blob, signed.headers, waitMs, signed.blobHash);
  }

  /**
   * Uploads with precomputed headers (see `signUpload`). With `expectedBlobHash` (the `blobHash` of `signUpload`),
   * the acknowledgement must name it (else {@link RelayBlobMismatchError}).
   */
  async uploadSigned(
    blob: Uint8Array,
    headers: Record<string, string>,
    waitMs = 0,
    expectedBlobHash?: Hex32,
  ): Promise<UploadResponse> {
    const query = waitMs > 0 ? `?wait=${waitMs}` : "";
    const res = await this.fetch(`${this.baseUrl}${API_PREFIX}/blobs${query}`, { method: "POST", headers, body: blob });
    if (res.status !== 201) throw await failure(res);
    const body = (await res.json()) as UploadResponse;
    if (expectedBlobHash !== undefined) {
      if (!sameHash(body.blobHash, expectedBlobHash)) {
        throw new RelayBlobMismatchError(expectedBlobHash, body.blobHash, this.baseUrl, "upload");
      }
      if (body.root !== undefined && body.proof !== undefined) this.checkProof(body.blobHash, body.root, body.proof);
    }
    return body;
  }

  /**
   * The bytes of the blob `blobHash`, checked: they must be a well-formed blob whose Poseidon blob hash is
   * `blobHash`, else {@link RelayBlobMismatchError} (the bytes are dropped). HTTP failures throw `RelayHttpError`.
   */
  async get(blobHash: Hex32): Promise<Uint8Array> {
    const res = await this.fetch(`${this.baseUrl}${API_PREFIX}/blobs/${blobHash}`);
    if (res.status !== 200) throw await failure(res);
    const bytes = new Uint8Array(await res.arrayBuffer());
    let actual: Hex32;
    try {
      actual = blobHashOfBytes(bytes);
    } catch (error) {
      if (!(error instanceof BlobFormatError)) throw error;
      throw new RelayBlobMismatchError(blobHash, null, this.baseUrl, "bytes", error.message);
    }
    if (!sameHash(actual, blobHash)) throw new RelayBlobMismatchError(blobHash, actual, this.baseUrl, "bytes");
    return bytes;
  }

  /**
   * The proof when the root is on-chain, else the pending status (after waiting up to `waitMs`). The answer must be
   * about `blobHash` ({@link RelayBlobMismatchError}) and a proof must verify against its root
   * ({@link RelayProofInvalidError}); whether the root is posted (and not revoked) is for the contract to check.
   */
  async proof(blobHash: Hex32, waitMs = 0): Promise<ProofResponse | PendingResponse> {
    const query = waitMs > 0 ? `?wait=${waitMs}` : "";
    const res = await this.fetch(`${this.baseUrl}${API_PREFIX}/blobs/${blobHash}/proof${query}`);
    if (res.status !== 200 && res.status !== 202) throw await failure(res);
    const body = (await res.json()) as ProofResponse | PendingResponse;
    if (!sameHash(body.blobHash, blobHash)) {
      throw new RelayBlobMismatchError(blobHash, body.blobHash, this.baseUrl, "proof");
    }
    if ("root" in body) this.checkProof(blobHash, body.root, body.proof);
    return body;
  }

  private checkProof(blobHash: Hex32, root: Hex32, proof: Hex32[]): void {
    let valid = false;
    try {
      valid = verifyInclusion({ blobHash, root, proof });
    } catch {
      valid = false; // malformed hex: not a proof
    }
    if (!valid) throw new RelayProofInvalidError(blobHash, root, this.baseUrl);
  }

  /** Polls (long-polling `wait` requests) until the blob's root is on-chain; throws after `timeoutMs`. */
  async waitForProof(blobHash: Hex32, timeoutMs = 120_000): Promise<ProofResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no proof for ${blobHash} within ${timeoutMs} ms`);
      const r = await this.proof(blobHash, Math.min(left, 30_000));
      if ("root" in r) return r;
    }
  }

  async health(): Promise<HealthResponse> {
    const res = await this.fetch(`${this.baseUrl}${API_PREFIX}/health`);
    if (res.status !== 200) throw await failure(res);
    return (await res.json()) as HealthResponse;
  }
}
