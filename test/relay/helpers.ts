/** Shared helpers of the relay tests: valid blobs, temp directories, raw uploads, proof checks. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import type { Contract, Signer } from "ethers";
import { verifyInclusion } from "../../src/crypto/merkle.js";
import { API_PREFIX, blobHashOfBytes, signUpload, type ProofResponse } from "../../src/relay/protocol.js";

/** A blob of `elements` random field elements (31 random bytes each, so always below the modulus). */
export function randomBlob(elements = 8): Uint8Array {
  const out = new Uint8Array(32 * elements);
  for (let i = 0; i < elements; i++) out.set(randomBytes(31), 32 * i + 1);
  return out;
}

/** A fresh temporary directory, removed by the returned function. */
export function tempDir(prefix = "vss-relay-"): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A raw `POST /v1/blobs` with a valid signature (headers overridable), returning status, headers and JSON. */
export async function post(
  url: string,
  signer: Signer,
  blob: Uint8Array,
  options: { headers?: Record<string, string | undefined>; timestamp?: number; query?: string } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  // A malformed body cannot be hashed: sign it as if it were some other blob (the relay rejects it before).
  let hashable = blob;
  try {
    blobHashOfBytes(blob);
  } catch {
    hashable = new Uint8Array(128);
  }
  const signed = await signUpload(signer, hashable, options.timestamp);
  const headers: Record<string, string> = { ...signed.headers };
  for (const [k, v] of Object.entries(options.headers ?? {})) {
    if (v === undefined) delete headers[k];
    else headers[k] = v;
  }
  const res = await fetch(`${url}${API_PREFIX}/blobs${options.query ?? ""}`, {
    method: "POST",
    headers,
    body: blob,
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** A raw GET returning status and JSON (or bytes when binary). */
export async function get(url: string): Promise<{ status: number; body: any; bytes?: Uint8Array }> {
  const res = await fetch(url);
  if (res.headers.get("content-type")?.startsWith("application/octet-stream")) {
    return { status: res.status, body: null, bytes: new Uint8Array(await res.arrayBuffer()) };
  }
  return { status: res.status, body: await res.json() };
}

/** Checks a proof off-chain (OpenZeppelin's tree) and on-chain (`RelayRoots.verifyBlob`). */
export async function expectValidProof(relayRoots: Contract | any, proof: ProofResponse, blobHash?: string) {
  if (blobHash) expect(proof.blobHash.toLowerCase()).to.equal(blobHash.toLowerCase());
  expect(verifyInclusion({ blobHash: proof.blobHash, root: proof.root, proof: proof.proof })).to.equal(true);
  expect(await relayRoots.verifyBlob(proof.blobHash, proof.root, proof.proof)).to.equal(true);
  expect(await relayRoots.rootPostedAt(proof.root)).to.be.greaterThan(0n);
}

/** Polls `fn` until it returns a truthy value (or throws after `timeoutMs`). */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 20_000, stepMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
