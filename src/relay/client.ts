/**
 * A small HTTP client of the relay API (fetch-based), for applications, nodes, tests and the benchmark.
 */
import type { Signer } from "ethers";
import {
  API_PREFIX,
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

async function failure(res: Response): Promise<RelayHttpError> {
  const body = (await res.json().catch(() => null)) as ErrorResponse | null;
  return new RelayHttpError(res.status, body?.error?.code ?? "unknown", body?.error?.message ?? res.statusText);
}

/** Client of one relay at `baseUrl` (e.g. http://127.0.0.1:8787). */
export class RelayClient {
  constructor(readonly baseUrl: string) {}

  /** Signs and uploads a blob; with `waitMs`, waits up to that long for the committed root and proof. */
  async upload(signer: Signer, blob: Uint8Array, waitMs = 0): Promise<UploadResponse> {
    const signed = await signUpload(signer, blob);
    return this.uploadSigned(blob, signed.headers, waitMs);
  }

  /** Uploads with precomputed headers (see `signUpload`). */
  async uploadSigned(blob: Uint8Array, headers: Record<string, string>, waitMs = 0): Promise<UploadResponse> {
    const query = waitMs > 0 ? `?wait=${waitMs}` : "";
    const res = await fetch(`${this.baseUrl}${API_PREFIX}/blobs${query}`, { method: "POST", headers, body: blob });
    if (res.status !== 201) throw await failure(res);
    return (await res.json()) as UploadResponse;
  }

  /** The bytes of a blob. */
  async get(blobHash: Hex32): Promise<Uint8Array> {
    const res = await fetch(`${this.baseUrl}${API_PREFIX}/blobs/${blobHash}`);
    if (res.status !== 200) throw await failure(res);
    return new Uint8Array(await res.arrayBuffer());
  }

  /** The proof when the root is on-chain, else the pending status (after waiting up to `waitMs`). */
  async proof(blobHash: Hex32, waitMs = 0): Promise<ProofResponse | PendingResponse> {
    const query = waitMs > 0 ? `?wait=${waitMs}` : "";
    const res = await fetch(`${this.baseUrl}${API_PREFIX}/blobs/${blobHash}/proof${query}`);
    if (res.status !== 200 && res.status !== 202) throw await failure(res);
    return (await res.json()) as ProofResponse | PendingResponse;
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
    const res = await fetch(`${this.baseUrl}${API_PREFIX}/health`);
    if (res.status !== 200) throw await failure(res);
    return (await res.json()) as HealthResponse;
  }
}
