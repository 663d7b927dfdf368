/**
 * The DA/Relay service (DESIGN §3): an HTTP API on Fastify that stores signed blob uploads durably, closes them in
 * batches, posts each batch's Merkle root to `RelayRoots`, and serves blobs and inclusion proofs. See ./README.md.
 *
 *   POST /v1/blobs                 upload (raw bytes, signed headers) → 201 once durable
 *   GET  /v1/blobs/:hash           the bytes
 *   GET  /v1/blobs/:hash/proof     200 { root, proof, ... } once the root is on-chain, else 202 (or wait)
 *   GET  /v1/health                status, chain, relay account, queue, last root
 *
 * Lifecycle of a blob: acknowledged (row committed, `batch_id` NULL) → in a closed batch (composition committed,
 * status `pending`) → `posting` (a postRoot transaction may be in flight) → `posted` (root on-chain). Every step is
 * in the database before the next one starts, so a restarted relay picks up exactly where it stopped, and it checks
 * `rootPostedAt(root)` before every post so that no root is posted twice.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { Contract, getAddress, id as keccakId, type Provider, type Signer, type TransactionReceipt } from "ethers";
import { BlobBatch } from "../crypto/merkle.js";
import { useWasmPoseidon } from "../crypto/blob.js";
import {
  API_PREFIX,
  BlobFormatError,
  HEADER_ADDRESS,
  HEADER_SIGNATURE,
  HEADER_TIMESTAMP,
  MAX_CLOCK_SKEW_S,
  type ErrorResponse,
  type HealthResponse,
  type Hex32,
  type PendingResponse,
  type ProofResponse,
  type UploadResponse,
} from "./protocol.js";
import { SqliteBlobStore, type BatchRecord, type BlobStore } from "./store.js";
import { TokenBuckets, type RateLimit } from "./ratelimit.js";
import { InlineVerifier, SignatureError, type UploadVerifier } from "./verify.js";
import { RELAY_DEFAULTS } from "./defaults.js";

export { RELAY_DEFAULTS };

/** The part of `RelayRoots` the relay uses (no build artifacts needed at run time). */
export const RELAY_ROOTS_ABI = [
  "function postRoot(bytes32 root, uint256 blobCount)",
  "function rootPostedAt(bytes32 root) view returns (uint256)",
  "function rootCount() view returns (uint256)",
  "function verifyBlob(bytes32 blobHash, bytes32 root, bytes32[] proof) view returns (bool)",
  "function hasRole(bytes32 role, address account) view returns (bool)",
  "event RootPosted(bytes32 indexed root, address indexed relay, uint256 index, uint256 blobCount)",
  "error RelayRootAlreadyPosted(bytes32 root)",
  "error RelayRootZero()",
  "error AccessControlUnauthorizedAccount(address account, bytes32 neededRole)",
];
export const RELAY_ROLE = keccakId("RELAY_ROLE");

/** Options of `createRelay`. */
export interface RelayOptions {
  /** The account that posts roots (must hold RELAY_ROLE), connected to a provider. */
  signer: Signer;
  /** Address of the `RelayRoots` contract. */
  relayRoots: string;
  /** SQLite file (created if missing). Ignored when `store` is given. */
  dbPath?: string;
  /** A custom store (e.g. object storage for the bytes); the relay closes it on stop. */
  store?: BlobStore;
  /** Listen address (default 127.0.0.1) and port (default 8787; 0 picks a free port). */
  host?: string;
  port?: number;
  /** A batch closes after this many blobs (default 256) ... */
  batchSize?: number;
  /** ... or this many milliseconds after its first blob arrived (default 2000). */
  batchIntervalMs?: number;
  /** Largest accepted body in bytes (default 64 KiB). */
  maxBlobBytes?: number;
  /** Per-address token bucket (default burst 200, 50/s); null disables rate limiting. */
  rateLimit?: RateLimit | null;
  /** Upper bound of `?wait=` in milliseconds (default 60 s). */
  maxWaitMs?: number;
  /** Backoff of failed posts: base (default 500 ms), doubled per attempt up to max (default 30 s), with jitter. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** How long to wait for a sent postRoot to be mined before checking again (default 180 s). */
  confirmTimeoutMs?: number;
  /** Receipt polling interval (default 250 ms). */
  pollMs?: number;
  /** Batches posted concurrently (default 4); sends are serialised, so nonces stay in order. */
  maxInFlight?: number;
  /** Allowed clock skew of x-vss-timestamp in seconds (default 300). */
  maxClockSkewS?: number;
  /** Upload verification (default: on the main thread). */
  verifier?: UploadVerifier;
  /** Diagnostics sink (default: silent). */
  log?: (level: "info" | "warn" | "error", message: string) => void;
}

/** A running relay. */
export interface Relay {
  /** Starts the chain checks, resumes unposted batches and listens; returns the base URL. */
  start(): Promise<string>;
  /** Stops listening and posting (in-flight posts are resumed by the next start) and closes the store. */
  stop(): Promise<void>;
  /** Base URL, e.g. http://127.0.0.1:8787 (after start). */
  readonly url: string;
  readonly store: BlobStore;
  /** The relay account's address (after start). */
  readonly address: string;
  /** Closes every open blob into batches now (ignoring T) and waits until they are posted. */
  flush(): Promise<void>;
  /** Resolves when every closed batch is posted. */
  idle(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const HASH_RE = /^0x[0-9a-fA-F]{64}$/;
const SIGNATURE_RE = /^0x[0-9a-fA-F]{130}$/;
const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;

function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const e = error as Error & { shortMessage?: string };
    return e.shortMessage ?? e.message;
  }
  return String(error);
}

/** Creates (does not start) a relay. */
export function createRelay(options: RelayOptions): Relay {
  return new RelayService(options);
}

class RelayService implements Relay {
  readonly store: BlobStore;
  private readonly o: Required<
    Omit<RelayOptions, "store" | "dbPath" | "rateLimit" | "verifier" | "log" | "signer" | "relayRoots">
  >;
  private readonly signer: Signer;
  private readonly provider: Provider;
  private readonly roots: Contract;
  private readonly verifier: UploadVerifier;
  private readonly buckets: TokenBuckets | null;
  private readonly log: (level: "info" | "warn" | "error", message: string) => void;
  private app: FastifyInstance | null = null;
  private baseUrl = "";
  private relayAddress = "";
  private chainId = "";
  private stopping = false;
  private stopSignal!: Promise<void>;
  private fireStop!: () => void;
  private readonly timers = new Set<NodeJS.Timeout>();

  // batching
  private unbatchedHint = 0;
  private closeTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> = Promise.resolve();
  private readonly trees = new Map<number, BlobBatch>();

  // posting
  private readonly queue: BatchRecord[] = [];
  private readonly inFlight = new Map<number, Promise<void>>();
  private sendChain: Promise<unknown> = Promise.resolve();
  private nextNonce: number | null = null;
  private lastError: { message: string; at: number } | null = null;
  private idleWaiters: (() => void)[] = [];

  // uploaders waiting for a root
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(options: RelayOptions) {
    if (!options.signer.provider) throw new Error("the relay signer must be connected to a provider");
    this.signer = options.signer;
    this.provider = options.signer.provider;
    this.o = {
      host: options.host ?? RELAY_DEFAULTS.host,
      port: options.port ?? RELAY_DEFAULTS.port,
      batchSize: options.batchSize ?? RELAY_DEFAULTS.batchSize,
      batchIntervalMs: options.batchIntervalMs ?? RELAY_DEFAULTS.batchIntervalMs,
      maxBlobBytes: options.maxBlobBytes ?? RELAY_DEFAULTS.maxBlobBytes,
      maxWaitMs: options.maxWaitMs ?? RELAY_DEFAULTS.maxWaitMs,
      retryBaseMs: options.retryBaseMs ?? RELAY_DEFAULTS.retryBaseMs,
      retryMaxMs: options.retryMaxMs ?? RELAY_DEFAULTS.retryMaxMs,
      confirmTimeoutMs: options.confirmTimeoutMs ?? RELAY_DEFAULTS.confirmTimeoutMs,
      pollMs: options.pollMs ?? RELAY_DEFAULTS.pollMs,
      maxInFlight: options.maxInFlight ?? RELAY_DEFAULTS.maxInFlight,
      maxClockSkewS: options.maxClockSkewS ?? MAX_CLOCK_SKEW_S,
    };
    if (!Number.isInteger(this.o.batchSize) || this.o.batchSize < 1) throw new RangeError("batchSize must be ≥ 1");
    if (!(this.o.batchIntervalMs >= 0)) throw new RangeError("batchIntervalMs must be ≥ 0");
    if (!(this.o.maxBlobBytes >= 128)) throw new RangeError("maxBlobBytes must be ≥ 128 (4 field elements)");
    if (!Number.isInteger(this.o.maxInFlight) || this.o.maxInFlight < 1)
      throw new RangeError("maxInFlight must be ≥ 1");
    if (!options.store && !options.dbPath) throw new Error("createRelay needs dbPath or store");
    if (!ADDRESS_RE.test(options.relayRoots)) throw new Error(`relayRoots is not an address: ${options.relayRoots}`);
    this.store = options.store ?? new SqliteBlobStore(options.dbPath!);
    this.roots = new Contract(options.relayRoots, RELAY_ROOTS_ABI, options.signer);
    this.verifier = options.verifier ?? new InlineVerifier();
    const rateLimit = options.rateLimit === undefined ? RELAY_DEFAULTS.rateLimit : options.rateLimit;
    this.buckets = rateLimit ? new TokenBuckets(rateLimit) : null;
    this.log = options.log ?? (() => {});
    this.resetStopSignal();
  }

  get url(): string {
    return this.baseUrl;
  }

  get address(): string {
    return this.relayAddress;
  }

  private resetStopSignal(): void {
    this.stopSignal = new Promise<void>((resolve) => (this.fireStop = resolve));
  }

  // -------------------------------------------------------------------------------------------------------------
  // start / stop
  // -------------------------------------------------------------------------------------------------------------

  async start(): Promise<string> {
    if (this.app) return this.baseUrl;
    await useWasmPoseidon(); // ~6× faster blob hashing for uploads verified on this thread
    const rootsAddress = getAddress(await this.roots.getAddress());
    this.relayAddress = getAddress(await this.signer.getAddress());
    this.chainId = (await this.provider.getNetwork()).chainId.toString();
    if ((await this.provider.getCode(rootsAddress)) === "0x") {
      throw new Error(
        `no contract at RelayRoots address ${rootsAddress} on chain ${this.chainId}; deploy the VSSNetwork ` +
          `Ignition module (deploy/modules/VSSNetwork.ts) to this chain, or pass the right --relay-roots`,
      );
    }
    if (!(await this.roots.hasRole(RELAY_ROLE, this.relayAddress))) {
      throw new Error(
        `the relay account ${this.relayAddress} does not hold RELAY_ROLE on RelayRoots ${rootsAddress} ` +
          `(chain ${this.chainId}); have the admin call grantRole(${RELAY_ROLE}, ${this.relayAddress}) or use the ` +
          `key of the relay account set at deployment`,
      );
    }
    const pinnedChain = await this.store.pin("chainId", this.chainId);
    const pinnedRoots = await this.store.pin("relayRoots", rootsAddress);
    if (pinnedChain !== this.chainId || getAddress(pinnedRoots) !== rootsAddress) {
      throw new Error(
        `this database belongs to chain ${pinnedChain} and RelayRoots ${pinnedRoots}, not chain ${this.chainId} and ` +
          `${rootsAddress}; use another --db for this deployment`,
      );
    }

    // Resume: batches whose root is not known to be on-chain, then blobs not yet in a batch.
    const unposted = await this.store.unpostedBatches();
    if (unposted.length > 0) this.log("info", `resuming ${unposted.length} unposted batch(es)`);
    this.queue.push(...unposted);
    this.pump();
    const { count } = await this.store.unbatched();
    this.unbatchedHint = count;
    this.scheduleClose();

    const app = Fastify({ logger: false, bodyLimit: this.o.maxBlobBytes, return503OnClosing: true });
    this.routes(app);
    await app.listen({ host: this.o.host, port: this.o.port });
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : this.o.port;
    const host = this.o.host.includes(":") ? `[${this.o.host}]` : this.o.host;
    this.baseUrl = `http://${host}:${port}`;
    this.app = app;
    this.log(
      "info",
      `relay ${this.relayAddress} on chain ${this.chainId}, RelayRoots ${rootsAddress}, listening on ${this.baseUrl}`,
    );
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.fireStop();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.closeTimer) clearTimeout(this.closeTimer);
    for (const set of this.waiters.values()) for (const wake of set) wake();
    this.waiters.clear();
    if (this.app) await this.app.close();
    await this.closing.catch(() => {});
    await Promise.allSettled([...this.inFlight.values()]);
    await this.verifier.close();
    await this.store.close();
    for (const w of this.idleWaiters) w();
    this.log("info", "relay stopped");
  }

  // -------------------------------------------------------------------------------------------------------------
  // HTTP
  // -------------------------------------------------------------------------------------------------------------

  private routes(app: FastifyInstance): void {
    // Only raw bytes are accepted; any other content type is a 400 with a message saying so.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      "application/octet-stream",
      { parseAs: "buffer", bodyLimit: this.o.maxBlobBytes },
      (_req, body, done) => done(null, body),
    );

    app.setErrorHandler((error: Error & { code?: string; statusCode?: number }, _req, reply) => {
      if (error instanceof HttpError) return this.fail(reply, error);
      if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
        return this.fail(
          reply,
          new HttpError(
            413,
            "blob_too_large",
            `the body is larger than this relay's limit of ${this.o.maxBlobBytes} bytes; send a smaller blob ` +
              `(the operator can raise --max-blob-bytes)`,
          ),
        );
      }
      if (error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || error.code === "FST_ERR_CTP_EMPTY_JSON_BODY") {
        return this.fail(reply, this.contentTypeError());
      }
      if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) {
        return this.fail(reply, new HttpError(error.statusCode, "bad_request", error.message));
      }
      this.log("error", `internal error: ${error.stack ?? error.message}`);
      return this.fail(
        reply,
        new HttpError(500, "internal_error", `the relay failed: ${errorMessage(error)}; retry later`),
      );
    });

    app.setNotFoundHandler((req, reply) =>
      this.fail(
        reply,
        new HttpError(
          404,
          "not_found",
          `no route ${req.method} ${req.url.split("?")[0]}; the API is POST ${API_PREFIX}/blobs, ` +
            `GET ${API_PREFIX}/blobs/:hash, GET ${API_PREFIX}/blobs/:hash/proof, GET ${API_PREFIX}/health`,
        ),
      ),
    );

    app.post(`${API_PREFIX}/blobs`, (req, reply) => this.upload(req, reply));
    app.get<{ Params: { hash: string } }>(`${API_PREFIX}/blobs/:hash`, (req, reply) => this.getBlob(req, reply));
    app.get<{ Params: { hash: string } }>(`${API_PREFIX}/blobs/:hash/proof`, (req, reply) => this.getProof(req, reply));
    app.get(`${API_PREFIX}/health`, () => this.health());
  }

  private fail(reply: FastifyReply, error: HttpError): FastifyReply {
    const body: ErrorResponse = { error: { code: error.code, message: error.message } };
    return reply.code(error.status).headers(error.headers).send(body);
  }

  private contentTypeError(): HttpError {
    return new HttpError(
      400,
      "bad_content_type",
      "send the blob as the raw request body with Content-Type: application/octet-stream",
    );
  }

  private header(req: FastifyRequest, name: string): string | undefined {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  }

  /** `?wait=<ms>`: 0 when absent, capped at maxWaitMs. */
  private waitParam(req: FastifyRequest): number {
    const raw = (req.query as Record<string, unknown> | undefined)?.wait;
    if (raw === undefined || raw === "") return 0;
    if (typeof raw !== "string" || !/^\d{1,9}$/.test(raw)) {
      throw new HttpError(400, "bad_query", `wait must be a whole number of milliseconds, got ${JSON.stringify(raw)}`);
    }
    return Math.min(Number(raw), this.o.maxWaitMs);
  }

  private hashParam(raw: string): Hex32 {
    if (!HASH_RE.test(raw)) {
      throw new HttpError(
        400,
        "bad_hash",
        `"${raw.slice(0, 80)}" is not a blob hash; use the 0x-prefixed 32-byte hex blobHash returned by the upload`,
      );
    }
    return raw.toLowerCase();
  }

  private async upload(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const contentType = this.header(req, "content-type") ?? "";
    if (!Buffer.isBuffer(req.body) || !contentType.toLowerCase().startsWith("application/octet-stream")) {
      throw this.contentTypeError();
    }
    const body = req.body;
    const wait = this.waitParam(req);

    // Headers: present and well-formed (400), then fresh (401).
    const tsRaw = this.header(req, HEADER_TIMESTAMP);
    const signature = this.header(req, HEADER_SIGNATURE);
    const declared = this.header(req, HEADER_ADDRESS);
    if (tsRaw === undefined || signature === undefined) {
      const missing = [tsRaw === undefined && HEADER_TIMESTAMP, signature === undefined && HEADER_SIGNATURE]
        .filter(Boolean)
        .join(" and ");
      throw new HttpError(
        400,
        "missing_header",
        `missing ${missing}: sign the upload (signUpload in src/relay/protocol.ts) and send ${HEADER_TIMESTAMP} ` +
          `(unix seconds) and ${HEADER_SIGNATURE} (EIP-191 signature, 65 bytes hex)`,
      );
    }
    if (!/^\d{1,12}$/.test(tsRaw)) {
      throw new HttpError(
        400,
        "bad_header",
        `${HEADER_TIMESTAMP} must be the unix time in whole seconds, got "${tsRaw.slice(0, 40)}"`,
      );
    }
    if (!SIGNATURE_RE.test(signature)) {
      throw new HttpError(
        400,
        "bad_header",
        `${HEADER_SIGNATURE} must be a 65-byte signature as 0x-prefixed hex (132 characters), got ` +
          `${signature.length} characters`,
      );
    }
    if (declared !== undefined && !ADDRESS_RE.test(declared)) {
      throw new HttpError(400, "bad_header", `${HEADER_ADDRESS} must be a 0x-prefixed 20-byte address`);
    }
    const timestamp = Number(tsRaw);
    const now = Math.floor(Date.now() / 1000);
    if (Math.abs(timestamp - now) > this.o.maxClockSkewS) {
      throw new HttpError(
        401,
        "stale_timestamp",
        `${HEADER_TIMESTAMP} ${timestamp} is ${timestamp - now} s from the relay's clock (${now}); sign again with ` +
          `the current unix time (allowed skew ±${this.o.maxClockSkewS} s)`,
      );
    }

    // Body and signature.
    let blobHash: Hex32;
    let signer: string;
    try {
      ({ blobHash, signer } = await this.verifier.verify(body, timestamp, signature, declared));
    } catch (error) {
      if (error instanceof BlobFormatError) throw new HttpError(400, "bad_blob", error.message);
      if (error instanceof SignatureError) throw new HttpError(401, "bad_signature", error.message);
      throw error;
    }

    if (this.buckets) {
      const retryMs = this.buckets.take(signer.toLowerCase());
      if (retryMs > 0) {
        const { burst, perSecond } = this.buckets.limit;
        throw new HttpError(
          429,
          "rate_limited",
          `${signer} is over its upload rate limit (${perSecond}/s, burst ${burst}); retry in ${retryMs} ms`,
          { "retry-after": String(Math.ceil(retryMs / 1000)) },
        );
      }
    }
    if (this.stopping) throw new HttpError(503, "shutting_down", "the relay is shutting down; retry shortly");

    const isNew = await this.store.putBlob({ hash: blobHash, bytes: body, uploader: signer, receivedAt: Date.now() });
    if (isNew) this.blobAdded();

    if (wait > 0) await this.waitForRoot(blobHash, wait);
    const proof = await this.proofOf(blobHash);
    const out: UploadResponse = proof
      ? {
          blobHash,
          status: "committed",
          duplicate: !isNew,
          root: proof.root,
          proof: proof.proof,
          batchId: proof.batchId,
          txHash: proof.txHash,
        }
      : { blobHash, status: "pending", duplicate: !isNew };
    return reply.code(201).send(out);
  }

  private async getBlob(req: FastifyRequest<{ Params: { hash: string } }>, reply: FastifyReply) {
    const hash = this.hashParam(req.params.hash);
    const bytes = await this.store.getBlob(hash);
    if (!bytes) throw this.unknown(hash);
    return reply
      .type("application/octet-stream")
      .header("cache-control", "public, max-age=31536000, immutable")
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  private unknown(hash: Hex32): HttpError {
    return new HttpError(
      404,
      "blob_not_found",
      `this relay holds no blob ${hash}; upload it with POST ${API_PREFIX}/blobs (hashes are the Poseidon blobHash)`,
    );
  }

  private async getProof(req: FastifyRequest<{ Params: { hash: string } }>, reply: FastifyReply) {
    const hash = this.hashParam(req.params.hash);
    const wait = this.waitParam(req);
    const info = await this.store.blobInfo(hash);
    if (!info) throw this.unknown(hash);
    let proof = await this.proofOf(hash);
    if (!proof && wait > 0) {
      await this.waitForRoot(hash, wait);
      proof = await this.proofOf(hash);
    }
    if (proof) return reply.code(200).send(proof);
    const now = await this.store.blobInfo(hash);
    const batch = now?.batchId != null ? await this.store.getBatch(now.batchId) : undefined;
    const retryAfterMs = batch ? Math.max(this.o.pollMs, 1000) : this.o.batchIntervalMs;
    const pending: PendingResponse = {
      blobHash: hash,
      status: "pending",
      batchId: batch?.id ?? null,
      batchStatus: batch ? (batch.status === "posted" ? "posting" : batch.status) : "open",
      retryAfterMs,
    };
    return reply
      .code(202)
      .header("retry-after", String(Math.max(1, Math.ceil(retryAfterMs / 1000))))
      .send(pending);
  }

  private async health(): Promise<HealthResponse> {
    const s = await this.store.stats();
    const last = s.lastPosted;
    const failing = this.lastError !== null && s.pendingBatches > 0;
    return {
      status: failing ? "degraded" : "ok",
      chainId: this.chainId,
      relayAddress: this.relayAddress,
      relayRoots: getAddress(await this.roots.getAddress()),
      pendingBlobs: s.pendingBlobs,
      unbatchedBlobs: s.unbatchedBlobs,
      pendingBatches: s.pendingBatches,
      totalBlobs: s.totalBlobs,
      postedBatches: s.postedBatches,
      lastRoot: last ? { root: last.root, batchId: last.id, txHash: last.txHash, postedAt: last.postedAt } : null,
      lastError: failing ? this.lastError!.message : null,
      batchSize: this.o.batchSize,
      batchIntervalMs: this.o.batchIntervalMs,
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Proofs and waiting
  // -------------------------------------------------------------------------------------------------------------

  private async tree(batch: BatchRecord): Promise<BlobBatch> {
    let tree = this.trees.get(batch.id);
    if (!tree) {
      tree = new BlobBatch(await this.store.batchMembers(batch.id));
      if (tree.root.toLowerCase() !== batch.root.toLowerCase()) {
        throw new Error(`batch ${batch.id}: stored members give root ${tree.root}, not the stored ${batch.root}`);
      }
      this.cacheTree(batch.id, tree);
    }
    return tree;
  }

  private cacheTree(id: number, tree: BlobBatch): void {
    this.trees.set(id, tree);
    if (this.trees.size > 64) this.trees.delete(this.trees.keys().next().value!);
  }

  /** The inclusion proof of a blob whose root is on-chain, or null. */
  private async proofOf(hash: Hex32): Promise<ProofResponse | null> {
    const info = await this.store.blobInfo(hash);
    if (!info || info.batchId === null) return null;
    const batch = await this.store.getBatch(info.batchId);
    if (!batch || batch.status !== "posted") return null;
    const inclusion = (await this.tree(batch)).inclusion(hash);
    return {
      blobHash: hash,
      root: inclusion.root,
      proof: inclusion.proof,
      batchId: batch.id,
      txHash: batch.txHash,
      blockNumber: batch.blockNumber,
      postedAt: batch.postedAt,
    };
  }

  /** Resolves when `hash`'s root is posted, after `ms`, or on stop. */
  private waitForRoot(hash: Hex32, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(hash);
      if (!set) this.waiters.set(hash, (set = new Set()));
      const wake = () => {
        clearTimeout(timer);
        set!.delete(wake);
        if (set!.size === 0 && this.waiters.get(hash) === set) this.waiters.delete(hash);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      set.add(wake);
      // The root may have been posted between the caller's check and now.
      void this.proofOf(hash).then((p) => p && wake(), wake);
    });
  }

  private wakeBatch(members: readonly Hex32[]): void {
    for (const h of members) {
      const set = this.waiters.get(h);
      if (set) for (const wake of [...set]) wake();
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Batching
  // -------------------------------------------------------------------------------------------------------------

  private blobAdded(): void {
    this.unbatchedHint++;
    if (this.unbatchedHint >= this.o.batchSize) this.closeBatches(false);
    else this.scheduleClose();
  }

  /** Arms the T timer from the oldest unbatched blob (no-op when armed or nothing is unbatched). */
  private scheduleClose(): void {
    if (this.closeTimer || this.stopping || this.unbatchedHint === 0) return;
    void this.store.unbatched().then(({ oldestReceivedAt }) => {
      if (this.closeTimer || this.stopping || oldestReceivedAt === null) return;
      const delay = Math.max(0, oldestReceivedAt + this.o.batchIntervalMs - Date.now());
      this.closeTimer = setTimeout(() => {
        this.closeTimer = null;
        this.closeBatches(false);
      }, delay);
    });
  }

  /** Closes every due batch (full, or older than T; every open blob when `force`). Serialised. */
  private closeBatches(force: boolean): Promise<void> {
    const run = async () => {
      for (;;) {
        if (this.stopping) return;
        const { count, oldestReceivedAt } = await this.store.unbatched();
        this.unbatchedHint = count;
        if (count === 0) break;
        const due = force || count >= this.o.batchSize || Date.now() >= oldestReceivedAt! + this.o.batchIntervalMs;
        if (!due) break;
        let tree: BlobBatch | null = null;
        const batch = await this.store.closeBatch(this.o.batchSize, (hashes) => (tree = new BlobBatch(hashes)).root);
        if (!batch) break;
        this.cacheTree(batch.id, tree!);
        this.unbatchedHint = Math.max(0, count - batch.blobCount);
        this.log("info", `batch ${batch.id} closed: ${batch.blobCount} blob(s), root ${batch.root}`);
        this.queue.push(batch);
        this.pump();
      }
      if (this.closeTimer) {
        clearTimeout(this.closeTimer);
        this.closeTimer = null;
      }
      this.scheduleClose();
    };
    this.closing = this.closing.then(run, run).catch((error) => {
      this.log("error", `closing a batch failed: ${errorMessage(error)}`);
      this.lastError = { message: `closing a batch failed: ${errorMessage(error)}`, at: Date.now() };
      // Try again later; the blobs stay unbatched and durable.
      this.sleep(this.o.retryBaseMs).then(() => this.closeBatches(false));
    });
    return this.closing;
  }

  async flush(): Promise<void> {
    await this.closeBatches(true);
    await this.idle();
  }

  idle(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // -------------------------------------------------------------------------------------------------------------
  // Posting
  // -------------------------------------------------------------------------------------------------------------

  /** Starts posts up to maxInFlight, oldest batch first. */
  private pump(): void {
    while (!this.stopping && this.inFlight.size < this.o.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.shift()!;
      if (this.inFlight.has(batch.id)) continue;
      const p = this.postBatch(batch).finally(() => {
        this.inFlight.delete(batch.id);
        this.pump();
      });
      this.inFlight.set(batch.id, p);
    }
    if (this.queue.length === 0 && this.inFlight.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Posts one batch's root, retrying with backoff until it is on-chain or the relay stops. */
  private async postBatch(initial: BatchRecord): Promise<void> {
    let batch = initial;
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        if (await this.tryPost(batch)) return;
      } catch (error) {
        const message = errorMessage(error);
        this.lastError = { message: `posting batch ${batch.id} failed: ${message}`, at: Date.now() };
        this.log("warn", `posting batch ${batch.id} (root ${batch.root}) failed, attempt ${attempt + 1}: ${message}`);
        if (this.stopping) return;
        await this.store.recordFailure(batch.id, message).catch(() => {});
      }
      const backoff = Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** Math.min(attempt, 20));
      await this.sleep(backoff / 2 + (Math.random() * backoff) / 2);
      if (this.stopping) return;
      batch = (await this.store.getBatch(batch.id)) ?? batch;
    }
  }

  /** One attempt; true when the root is on-chain and recorded. */
  private async tryPost(batch: BatchRecord): Promise<boolean> {
    // 1. A transaction sent earlier (this run or before a restart): wait for it while it is known to the node.
    if (batch.txHash) {
      const receipt = await this.provider.getTransactionReceipt(batch.txHash);
      if (receipt?.status === 1) return this.finish(batch, receipt.hash, receipt.blockNumber);
      if (!receipt && (await this.provider.getTransaction(batch.txHash))) {
        const mined = await this.waitForReceipt(batch.txHash);
        if (mined?.status === 1) return this.finish(batch, mined.hash, mined.blockNumber);
        if (!mined) return false; // still pending after the timeout, or stopping: try again later
      }
    }
    // 2. Already on-chain? (A lost transaction that was mined, or a post by this relay's earlier life.)
    const postedAt: bigint = await this.roots.rootPostedAt(batch.root);
    if (postedAt !== 0n) return this.finish(batch, null, null, postedAt);
    if (this.stopping) return false;

    // 3. Post. The status goes to `posting` before the transaction exists, its hash right after it is sent.
    await this.store.markPosting(batch.id, null);
    const tx = await this.send(async () => {
      // Our own nonce count too: providers may cache the pending count for a moment (ethers: 250 ms).
      const pending = await this.provider.getTransactionCount(this.relayAddress, "pending");
      const nonce = Math.max(pending, this.nextNonce ?? 0);
      try {
        const sent = await this.roots.postRoot(batch.root, batch.blobCount, { nonce });
        this.nextNonce = nonce + 1;
        return sent;
      } catch (error) {
        this.nextNonce = null;
        throw error;
      }
    });
    await this.store.markPosting(batch.id, tx.hash);
    batch = { ...batch, status: "posting", txHash: tx.hash };
    this.log("info", `batch ${batch.id}: postRoot sent, tx ${tx.hash}`);
    const receipt = await this.waitForReceipt(tx.hash);
    if (!receipt) {
      if (this.stopping) return false;
      throw new Error(`postRoot tx ${tx.hash} not mined within ${this.o.confirmTimeoutMs} ms`);
    }
    if (receipt.status !== 1) throw new Error(`postRoot tx ${tx.hash} reverted`);
    return this.finish(batch, receipt.hash, receipt.blockNumber);
  }

  /** Sends transactions one at a time so that each gets the next nonce. */
  private send<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.sendChain.then(fn, fn);
    this.sendChain = result.catch(() => {});
    return result;
  }

  /** Polls for a receipt until mined, the confirm timeout, or stop (null). */
  private async waitForReceipt(hash: string): Promise<TransactionReceipt | null> {
    const deadline = Date.now() + this.o.confirmTimeoutMs;
    for (;;) {
      const receipt = await this.provider.getTransactionReceipt(hash);
      if (receipt) return receipt;
      if (this.stopping || Date.now() >= deadline) return null;
      await this.sleep(this.o.pollMs);
    }
  }

  /** Records a batch as posted (reading `rootPostedAt` to be sure) and answers its waiting uploaders. */
  private async finish(
    batch: BatchRecord,
    txHash: string | null,
    blockNumber: number | null,
    knownPostedAt?: bigint,
  ): Promise<boolean> {
    const postedAt: bigint = knownPostedAt ?? (await this.roots.rootPostedAt(batch.root));
    if (postedAt === 0n) throw new Error(`root ${batch.root} is not on-chain although its transaction was mined`);
    if (txHash === null) {
      // Posted by a transaction this process did not see mined: find it for the record (best effort).
      try {
        const filter = this.roots.filters.RootPosted(batch.root);
        const logs = await this.roots.queryFilter(filter, 0, "latest");
        if (logs.length > 0) {
          txHash = logs[0].transactionHash;
          blockNumber = logs[0].blockNumber;
        }
      } catch (error) {
        this.log("warn", `batch ${batch.id}: could not find the RootPosted event: ${errorMessage(error)}`);
      }
      txHash ??= batch.txHash;
    }
    await this.store.markPosted(batch.id, txHash, blockNumber, Number(postedAt));
    this.lastError = null;
    this.log("info", `batch ${batch.id} posted: root ${batch.root}, ${batch.blobCount} blob(s), tx ${txHash}`);
    this.wakeBatch(await this.store.batchMembers(batch.id));
    return true;
  }

  /** A timer that the stop signal cuts short. */
  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
      void this.stopSignal.then(() => {
        clearTimeout(t);
        this.timers.delete(t);
        resolve();
      });
    });
  }
}
