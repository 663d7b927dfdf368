/**
 * A minimal relay over HTTP for the in-process tests of the node agent and the app client: it speaks the relay's
 * API (`POST /v1/blobs`, `GET /v1/blobs/:hash`, `GET /v1/blobs/:hash/proof`), posts one root per upload straight to
 * `RelayRoots` with the fixture's relay wallet, and can LIE: `lie(hash, bytes)` makes it serve other bytes under a
 * blob hash, as a malicious relay or a man in the middle on plain HTTP would. Signatures are not checked (they are
 * the real relay's business, tested in test/relay/).
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { blobHashOfBytes } from "../../src/relay/protocol.js";
import type { BlobInclusion } from "../../src/crypto/merkle.js";
import { publishBlobs, type Network } from "./fixture.js";

async function body(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

export class FakeRelay {
  private server: Server | null = null;
  private readonly blobs = new Map<string, Uint8Array>();
  private readonly proofs = new Map<string, BlobInclusion>();
  private readonly lies = new Map<string, Uint8Array>();
  /** Serialises root posts (one relay wallet, one nonce sequence). */
  private posting: Promise<unknown> = Promise.resolve();
  /** Every `GET /v1/blobs/:hash` served, in order (lower-case hashes), and whether it was a lie. */
  readonly served: { hash: string; lie: boolean }[] = [];
  /** Uploads, in order: blob hash and the uploader named by the `x-vss-address` header. */
  readonly uploads: { hash: string; uploader: string }[] = [];
  url = "";
  /** Called on every upload, before the answer (a test may set up a lie about the new blob here). */
  onUpload: ((hash: string, bytes: Uint8Array, uploader: string) => void) | null = null;

  constructor(private readonly net: Network) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(
        ({ status, type, payload }) => {
          res.writeHead(status, { "content-type": type });
          res.end(payload);
        },
        (error: Error) => {
          res.writeHead(500, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: { code: "internal", message: error.message } }));
        },
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Stores `bytes` (as if uploaded) and posts their root; returns the inclusion. */
  async put(bytes: Uint8Array): Promise<BlobInclusion> {
    const hash = blobHashOfBytes(bytes).toLowerCase();
    this.blobs.set(hash, bytes);
    const existing = this.proofs.get(hash);
    if (existing) return existing;
    const posted = this.posting.then(() => publishBlobs(this.net, [hash]));
    this.posting = posted.catch(() => undefined);
    const [inclusion] = await posted;
    this.proofs.set(hash, inclusion);
    return inclusion;
  }

  /** From now on, serve `bytes` whenever `hash` is asked for. */
  lie(hash: string, bytes: Uint8Array): void {
    this.lies.set(hash.toLowerCase(), bytes);
  }

  /** Back to honest answers. */
  honest(): void {
    this.lies.clear();
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; type: string; payload: string | Uint8Array }> {
    const path = (req.url ?? "").split("?")[0];
    const json = (status: number, value: unknown) => ({
      status,
      type: "application/json",
      payload: JSON.stringify(value),
    });
    if (req.method === "POST" && path === "/v1/blobs") {
      const bytes = await body(req);
      const inclusion = await this.put(bytes);
      const uploader = String(req.headers["x-vss-address"]);
      this.uploads.push({ hash: inclusion.blobHash.toLowerCase(), uploader });
      this.onUpload?.(inclusion.blobHash.toLowerCase(), bytes, uploader);
      return json(201, { ...inclusion, status: "committed", duplicate: false, batchId: 1, txHash: null });
    }
    const proof = /^\/v1\/blobs\/(0x[0-9a-fA-F]{64})\/proof$/.exec(path);
    if (req.method === "GET" && proof) {
      const inclusion = this.proofs.get(proof[1].toLowerCase());
      if (!inclusion) return json(404, { error: { code: "not_found", message: "unknown blob" } });
      return json(200, { ...inclusion, batchId: 1, txHash: null, blockNumber: null, postedAt: null });
    }
    const blob = /^\/v1\/blobs\/(0x[0-9a-fA-F]{64})$/.exec(path);
    if (req.method === "GET" && blob) {
      const hash = blob[1].toLowerCase();
      const lie = this.lies.get(hash);
      const bytes = lie ?? this.blobs.get(hash);
      if (!bytes) return json(404, { error: { code: "not_found", message: "unknown blob" } });
      this.served.push({ hash, lie: lie !== undefined });
      return { status: 200, type: "application/octet-stream", payload: bytes };
    }
    return json(404, { error: { code: "not_found", message: `no route ${req.method} ${path}` } });
  }
}
