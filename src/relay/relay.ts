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
 *
 * Hardening (issue 15; docs/relay-operations.md): an upload is authenticated from its headers alone (signature over
 * the claimed blob hash, duplicates free, then the signer's rate limit) before its body is read and hashed; client
 * IPs that send rejected uploads, connections and slow requests are limited; the database is pinned to an anchor
 * block of its chain, so a reset chain is refused (or re-posted to on request), and a batch counts as posted only
 * after its confirmations.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import {
  STATUS_CODES,
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from "node:http";
import type { Socket } from "node:net";
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
  HEADER_BLOB_HASH,
  type HealthResponse,
  type Hex32,
  type PosterState,
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
  /** Largest accepted body in bytes (default 8 KiB). */
  maxBlobBytes?: number;
  /** Per-address token bucket (default burst 200, 50/s); null disables rate limiting. Duplicates are free. */
  rateLimit?: RateLimit | null;
  /** Per client IP bucket of rejected uploads (default burst 50, 5/s); when empty, 429 before any check. */
  errorLimit?: RateLimit | null;
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
  /** Blocks (its own included) a postRoot needs before its batch counts as posted (default 1). */
  confirmations?: number;
  /**
   * What to do when the chain is not the one the database was pinned to (a reset chain, contracts redeployed at
   * the same addresses): `refuse` (default) fails `start` with a `ChainIdentityError`; `repost` re-pins the
   * database to this chain and posts every batch again.
   */
  onChainReset?: "refuse" | "repost";
  /** A post sending or confirming for longer than this makes health `degraded` (default 30 s). */
  stallMs?: number;
  /** HTTP timeouts: whole request (default 30 s), headers (10 s), idle keep-alive (5 s), check interval (1 s). */
  requestTimeoutMs?: number;
  headersTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  timeoutCheckMs?: number;
  /** Largest request head in bytes (default 8 KiB; 431 above). */
  maxHeaderBytes?: number;
  /** Open connections in total (default 1024) and per client IP (default 128); 0 = unlimited. */
  maxConnections?: number;
  maxConnectionsPerIp?: number;
  /** Authenticated uploads in progress at once (default 256); 503 `busy` beyond. */
  maxPendingUploads?: number;
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

/** The chain is not the one this database belongs to (see `onChainReset`). The CLI exits with code 2. */
export class ChainIdentityError extends Error {}

/** A `BlobStore` operation failed (the database is unreachable, full, or gone): uploads answer 503 meanwhile. */
export class StoreUnavailableError extends Error {}

/** `store` with every failure of its operations turned into a `StoreUnavailableError` carrying the cause. */
function guardStore(store: BlobStore): BlobStore {
  const wrap = (error: unknown): StoreUnavailableError =>
    error instanceof StoreUnavailableError
      ? error
      : new StoreUnavailableError(errorMessage(error), { cause: error as Error });
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        try {
          const out = (value as (...a: unknown[]) => unknown).apply(target, args);
          return out instanceof Promise ? out.catch((error: unknown) => Promise.reject(wrap(error))) : out;
        } catch (error) {
          throw wrap(error);
        }
      };
    },
  });
}

/** An upload whose headers and signature passed `authenticate`. */
interface UploadAuth {
  blobHash: Hex32;
  signer: string;
  timestamp: number;
  /** The relay already holds (or is receiving) this blob: the upload is a replay, not charged. */
  duplicate: boolean;
  /** Counted in `pendingUploads` (released when the answer is sent). */
  counted: boolean;
  /** For the first upload of a hash: ends its entry in `uploading`, which concurrent replays wait for. */
  settle?: () => void;
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

/**
 * A readable message of an error, with the node's own JSON-RPC error when ethers could only wrap it (ethers calls
 * an error it cannot classify "could not coalesce error"; the node's message, e.g. a nonce error, is inside).
 */
export function errorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const e = error as Error & {
    shortMessage?: string;
    error?: { message?: string };
    info?: { error?: { message?: string } };
    cause?: unknown;
  };
  const base = e.shortMessage ?? e.message;
  const inner = e.error?.message ?? e.info?.error?.message ?? (e.cause instanceof Error ? e.cause.message : undefined);
  if (!inner || base.includes(inner)) return base;
  return /could not coalesce/i.test(base) ? inner : `${base}: ${inner}`;
}

/** Meta key of the chain anchor: `<blockNumber>:<blockHash>`. */
const ANCHOR_KEY = "chainAnchor";

/** The client's IP (the socket's peer; put per-client limits in the proxy when there is one). */
function clientIp(req: FastifyRequest): string {
  return req.socket?.remoteAddress ?? "?";
}

/** The methods of the API route that `path` names, or null when it names none. */
function allowedMethods(path: string): string[] | null {
  const rest = path.startsWith(API_PREFIX + "/") ? path.slice(API_PREFIX.length) : null;
  if (rest === null) return null;
  if (rest === "/blobs") return ["POST"];
  if (rest === "/health" || /^\/blobs\/[^/]+(\/proof)?$/.test(rest)) return ["GET", "HEAD"];
  return null;
}

function parseAnchor(value: string): { blockNumber: number; blockHash: string } {
  const m = /^(\d+):(0x[0-9a-fA-F]{64})$/.exec(value);
  if (!m) throw new Error(`the database's chain anchor "${value}" is malformed`);
  return { blockNumber: Number(m[1]), blockHash: m[2] };
}

const API_SUMMARY =
  `the API is POST ${API_PREFIX}/blobs, GET ${API_PREFIX}/blobs/:hash, GET ${API_PREFIX}/blobs/:hash/proof, ` +
  `GET ${API_PREFIX}/health`;

/** Creates (does not start) a relay. */
export function createRelay(options: RelayOptions): Relay {
  return new RelayService(options);
}

class RelayService implements Relay {
  readonly store: BlobStore;
  private readonly o: Required<
    Omit<RelayOptions, "store" | "dbPath" | "rateLimit" | "errorLimit" | "verifier" | "log" | "signer" | "relayRoots">
  >;
  private readonly signer: Signer;
  private readonly provider: Provider;
  private readonly roots: Contract;
  private readonly verifier: UploadVerifier;
  private readonly buckets: TokenBuckets | null;
  /** Rejected uploads per client IP. */
  private readonly errorBuckets: TokenBuckets | null;
  /** What `authenticate` learnt about an upload, for its handler. */
  private readonly auth = new WeakMap<FastifyRequest, UploadAuth>();
  /** Recent signature recoveries (a replayed request costs no second recovery): key → signer or error. */
  private readonly recovered = new Map<string, { signer?: string; error?: string }>();
  /** Uploads of a blob hash being received or committed now; a concurrent replay waits for them, uncharged. */
  private readonly uploading = new Map<string, Promise<void>>();
  private pendingUploads = 0;
  private readonly connectionsPerIp = new Map<string, number>();
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
  private anchor: { blockNumber: number; blockHash: string } | null = null;
  /** Set while the chain does not match the anchor: nothing is posted. */
  private halted: string | null = null;
  private posterState: {
    state: PosterState;
    since: number;
    batchId: number | null;
    txHash: string | null;
    attempts: number;
  } = { state: "idle", since: Date.now(), batchId: null, txHash: null, attempts: 0 };
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
      confirmations: options.confirmations ?? RELAY_DEFAULTS.confirmations,
      onChainReset: options.onChainReset ?? "refuse",
      stallMs: options.stallMs ?? RELAY_DEFAULTS.stallMs,
      requestTimeoutMs: options.requestTimeoutMs ?? RELAY_DEFAULTS.requestTimeoutMs,
      headersTimeoutMs: options.headersTimeoutMs ?? RELAY_DEFAULTS.headersTimeoutMs,
      keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? RELAY_DEFAULTS.keepAliveTimeoutMs,
      timeoutCheckMs: options.timeoutCheckMs ?? RELAY_DEFAULTS.timeoutCheckMs,
      maxHeaderBytes: options.maxHeaderBytes ?? RELAY_DEFAULTS.maxHeaderBytes,
      maxConnections: options.maxConnections ?? RELAY_DEFAULTS.maxConnections,
      maxConnectionsPerIp: options.maxConnectionsPerIp ?? RELAY_DEFAULTS.maxConnectionsPerIp,
      maxPendingUploads: options.maxPendingUploads ?? RELAY_DEFAULTS.maxPendingUploads,
    };
    if (!Number.isInteger(this.o.confirmations) || this.o.confirmations < 1)
      throw new RangeError("confirmations must be ≥ 1");
    if (this.o.onChainReset !== "refuse" && this.o.onChainReset !== "repost")
      throw new RangeError(`onChainReset must be "refuse" or "repost", got ${String(this.o.onChainReset)}`);
    if (!Number.isInteger(this.o.batchSize) || this.o.batchSize < 1) throw new RangeError("batchSize must be ≥ 1");
    if (!(this.o.batchIntervalMs >= 0)) throw new RangeError("batchIntervalMs must be ≥ 0");
    if (!(this.o.maxBlobBytes >= 128)) throw new RangeError("maxBlobBytes must be ≥ 128 (4 field elements)");
    if (!Number.isInteger(this.o.maxInFlight) || this.o.maxInFlight < 1)
      throw new RangeError("maxInFlight must be ≥ 1");
    if (!options.store && !options.dbPath) throw new Error("createRelay needs dbPath or store");
    if (!ADDRESS_RE.test(options.relayRoots)) throw new Error(`relayRoots is not an address: ${options.relayRoots}`);
    this.store = guardStore(options.store ?? new SqliteBlobStore(options.dbPath!));
    this.roots = new Contract(options.relayRoots, RELAY_ROOTS_ABI, options.signer);
    this.verifier = options.verifier ?? new InlineVerifier();
    const rateLimit = options.rateLimit === undefined ? RELAY_DEFAULTS.rateLimit : options.rateLimit;
    this.buckets = rateLimit ? new TokenBuckets(rateLimit) : null;
    const errorLimit = options.errorLimit === undefined ? RELAY_DEFAULTS.errorLimit : options.errorLimit;
    this.errorBuckets = errorLimit ? new TokenBuckets(errorLimit) : null;
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

    await this.checkChainIdentity();
    await this.recheckPosted();

    // Resume: batches whose root is not known to be on-chain, then blobs not yet in a batch.
    const unposted = await this.store.unpostedBatches();
    if (unposted.length > 0) this.log("info", `resuming ${unposted.length} unposted batch(es)`);
    this.queue.push(...unposted);
    this.pump();
    const { count } = await this.store.unbatched();
    this.unbatchedHint = count;
    this.scheduleClose();

    const app = Fastify({
      logger: false,
      bodyLimit: this.o.maxBlobBytes,
      // Our own 503 (onRequest below) answers in the API's error shape.
      return503OnClosing: false,
      serverFactory: (handler) => this.createServer(handler),
      frameworkErrors: (error, _req, reply) => {
        const code = (error as { code?: string }).code;
        if (code === "FST_ERR_MAX_PARAM_LENGTH") {
          return this.fail(reply, new HttpError(414, "uri_too_long", `the path is too long; ${API_SUMMARY}`));
        }
        if (code === "FST_ERR_BAD_URL") {
          return this.fail(
            reply,
            new HttpError(400, "bad_url", `the path is not a valid URL (bad %-encoding); ${API_SUMMARY}`),
          );
        }
        return this.fail(reply, new HttpError(400, "bad_request", error.message));
      },
      clientErrorHandler: (error, socket) => this.clientError(error, socket),
    });
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

  /**
   * The HTTP server, with the timeouts and connection limits Fastify leaves open: a request must arrive whole within
   * requestTimeoutMs (headers within headersTimeoutMs), an idle connection closes after the long-poll cap, and
   * connections are limited in total and per client IP.
   */
  private createServer(handler: (req: IncomingMessage, res: ServerResponse) => void): HttpServer {
    const server = createHttpServer(
      {
        requestTimeout: this.o.requestTimeoutMs,
        headersTimeout: Math.min(this.o.headersTimeoutMs, this.o.requestTimeoutMs),
        keepAliveTimeout: this.o.keepAliveTimeoutMs,
        connectionsCheckingInterval: this.o.timeoutCheckMs,
        maxHeaderSize: this.o.maxHeaderBytes,
      },
      handler,
    );
    // Inactivity: longer than the longest answer we may hold back (the ?wait= cap).
    server.setTimeout(this.o.maxWaitMs + this.o.requestTimeoutMs);
    if (this.o.maxConnections > 0) server.maxConnections = this.o.maxConnections;
    if (this.o.maxConnectionsPerIp > 0) {
      server.on("connection", (socket: Socket) => {
        const ip = socket.remoteAddress ?? "?";
        const n = (this.connectionsPerIp.get(ip) ?? 0) + 1;
        if (n > this.o.maxConnectionsPerIp) {
          socket.destroy();
          return;
        }
        this.connectionsPerIp.set(ip, n);
        socket.once("close", () => {
          const left = (this.connectionsPerIp.get(ip) ?? 1) - 1;
          if (left <= 0) this.connectionsPerIp.delete(ip);
          else this.connectionsPerIp.set(ip, left);
        });
      });
    }
    return server;
  }

  /** Errors Node's HTTP parser raises before Fastify sees a request (431, 408, 400), in the API's error shape. */
  private clientError(error: Error & { code?: string }, socket: Socket): void {
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    let status = 400;
    let code = "bad_request";
    let message = `the request is not valid HTTP/1.1 (${error.code ?? error.message}); ${API_SUMMARY}`;
    if (error.code === "HPE_HEADER_OVERFLOW") {
      status = 431;
      code = "headers_too_large";
      message =
        `the request line and headers exceed ${this.o.maxHeaderBytes} bytes; send only the API's headers ` +
        `(${HEADER_TIMESTAMP}, ${HEADER_SIGNATURE}, ${HEADER_ADDRESS}, ${HEADER_BLOB_HASH})`;
    } else if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") {
      status = 408;
      code = "request_timeout";
      message =
        `the request did not arrive within ${this.o.requestTimeoutMs} ms (headers within ` +
        `${Math.min(this.o.headersTimeoutMs, this.o.requestTimeoutMs)} ms); send it whole and promptly`;
    }
    const body = JSON.stringify({ error: { code, message } } satisfies ErrorResponse);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    socket.destroySoon?.();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Chain identity
  // -------------------------------------------------------------------------------------------------------------

  /**
   * Pins the database to this chain beyond its id and the contract's address: on first use it stores an anchor
   * block (number and hash, `confirmations - 1` below the head); later starts check that the chain still has that
   * block. A chain that was reset and got the same contracts at the same addresses fails this check, and then the
   * relay refuses to start (`onChainReset: "refuse"`) or re-pins and re-posts every batch (`"repost"`).
   */
  private async checkChainIdentity(): Promise<void> {
    const mismatch = await this.anchorMismatch();
    if (mismatch === null) return;
    if (this.o.onChainReset === "refuse") {
      throw new ChainIdentityError(
        `${mismatch}. The chain was reset or replaced (for example a restarted hardhat node with the contracts ` +
          `deployed again at the same addresses), so this database's roots and proofs are not on it. Use a new ` +
          `--db for this chain, or restart with --on-chain-reset repost to post every stored batch again on it`,
      );
    }
    const batches = await this.store.postedBatches();
    this.log(
      "warn",
      `${mismatch}; re-pinning the database to this chain and posting ${batches.length} batch(es) again`,
    );
    await this.store.markUnposted(batches.map((b) => b.id));
    const anchor = await this.newAnchor();
    await this.store.setMeta(ANCHOR_KEY, anchor);
    this.anchor = parseAnchor(anchor);
  }

  private async newAnchor(): Promise<string> {
    const head = await this.provider.getBlockNumber();
    const block = await this.provider.getBlock(Math.max(0, head - (this.o.confirmations - 1)));
    if (!block?.hash) throw new Error(`the node did not return block ${head} to anchor the database to the chain`);
    return `${block.number}:${block.hash}`;
  }

  /** Null when the chain has the anchor block (pinning one on first use), else what differs. */
  private async anchorMismatch(): Promise<string | null> {
    if (!this.anchor) {
      const stored = await this.store.pin(ANCHOR_KEY, await this.newAnchor());
      this.anchor = parseAnchor(stored);
    }
    const { blockNumber, blockHash } = this.anchor;
    const block = await this.provider.getBlock(blockNumber);
    if (!block) {
      const head = await this.provider.getBlockNumber();
      return `this database is pinned to block ${blockNumber} (${blockHash}) of chain ${this.chainId}, but the chain's head is block ${head}`;
    }
    if (block.hash?.toLowerCase() !== blockHash.toLowerCase()) {
      return `this database is pinned to block ${blockNumber} = ${blockHash} of chain ${this.chainId}, but that block is now ${block.hash}`;
    }
    return null;
  }

  /**
   * At start: every batch recorded as posted must still have its root on-chain. A root that a reorg dropped sends
   * its batch back to `pending`, so it is posted again (same composition, same root).
   */
  private async recheckPosted(): Promise<void> {
    const posted = await this.store.postedBatches();
    const dropped: BatchRecord[] = [];
    for (let i = 0; i < posted.length; i += 16) {
      const chunk = posted.slice(i, i + 16);
      const at = await Promise.all(chunk.map((b) => this.roots.rootPostedAt(b.root) as Promise<bigint>));
      chunk.forEach((b, j) => at[j] === 0n && dropped.push(b));
    }
    if (dropped.length === 0) return;
    this.log(
      "warn",
      `${dropped.length} posted batch(es) have no root on-chain any more (a reorg dropped them): ` +
        `${dropped.map((b) => b.id).join(", ")}; posting them again`,
    );
    await this.store.markUnposted(dropped.map((b) => b.id));
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
      if (error instanceof StoreUnavailableError) {
        this.log("error", `the database failed: ${error.message}`);
        return this.fail(
          reply,
          new HttpError(
            503,
            "store_unavailable",
            `the relay's database is unavailable (${error.message.slice(0, 200)}); nothing was stored, retry shortly`,
            { "retry-after": "1" },
          ),
        );
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

    app.setNotFoundHandler((req, reply) => {
      const path = req.url.split("?")[0];
      const allowed = allowedMethods(path);
      if (allowed) {
        return this.fail(
          reply,
          new HttpError(
            405,
            "method_not_allowed",
            `${req.method} is not allowed on ${path.slice(0, 100)}; use ${allowed.join(" or ")} (${API_SUMMARY})`,
            { allow: allowed.join(", ") },
          ),
        );
      }
      return this.fail(
        reply,
        new HttpError(404, "not_found", `no route ${req.method} ${path.slice(0, 100)}; ${API_SUMMARY}`),
      );
    });

    // While stopping, every request gets the API's 503 (Fastify's own would not use the error shape).
    app.addHook("onRequest", async (_req, reply) => {
      if (this.stopping) {
        reply.header("connection", "close");
        throw new HttpError(503, "shutting_down", "the relay is shutting down; retry shortly (or at another relay)", {
          "retry-after": "1",
        });
      }
    });
    // While stopping, every answer closes its connection: a keep-alive client must not hold the stop up.
    app.addHook("onSend", async (_req, reply) => {
      if (this.stopping) reply.header("connection", "close");
    });
    // Releases an upload's slot however its request ends (answered, failed, or the client went away).
    app.addHook("onResponse", async (req) => this.release(req));
    app.addHook("onRequestAbort", async (req) => this.release(req));

    app.post(`${API_PREFIX}/blobs`, { onRequest: (req) => this.authenticate(req) }, (req, reply) =>
      this.upload(req, reply),
    );
    app.get<{ Params: { hash: string } }>(`${API_PREFIX}/blobs/:hash`, (req, reply) => this.getBlob(req, reply));
    app.get<{ Params: { hash: string } }>(`${API_PREFIX}/blobs/:hash/proof`, (req, reply) => this.getProof(req, reply));
    app.get(`${API_PREFIX}/health`, () => this.health());
  }

  private fail(reply: FastifyReply, error: HttpError): FastifyReply {
    const body: ErrorResponse = { error: { code: error.code, message: error.message } };
    return reply.code(error.status).headers(error.headers).send(body);
  }

  private mismatch(blobHash: Hex32, detail: string): HttpError {
    return new HttpError(
      400,
      "hash_mismatch",
      `${HEADER_BLOB_HASH} is ${blobHash} but ${detail}; send the Poseidon hash of exactly these bytes ` +
        `(blobHashOfBytes) and sign it`,
    );
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

  /** Counts an IP's rejected upload; the IP gets 429 before any check once its bucket is empty. */
  private rejected(req: FastifyRequest, error: HttpError): HttpError {
    if (this.errorBuckets && error.status !== 429 && error.status !== 503) this.errorBuckets.take(clientIp(req));
    return error;
  }

  private release(req: FastifyRequest): void {
    const auth = this.auth.get(req);
    auth?.settle?.();
    if (auth?.counted) {
      auth.counted = false;
      this.pendingUploads--;
    }
  }

  /**
   * Everything about an upload that can be checked before its body is read, cheapest first, so that a request
   * that is not an honest upload costs little: the client IP's error budget, content type and length, the headers,
   * the timestamp, the signature (one recovery over the 32-byte digest of the claimed blob hash, cached for
   * replays), duplicates (a blob already held, or being received, is never charged), the global cap of uploads in
   * progress, and only then the signer's rate limit. The Poseidon hash of the body comes last, in `upload`.
   */
  private async authenticate(req: FastifyRequest): Promise<void> {
    try {
      await this.authenticateOrThrow(req);
    } catch (error) {
      throw error instanceof HttpError ? this.rejected(req, error) : error;
    }
  }

  private async authenticateOrThrow(req: FastifyRequest): Promise<void> {
    if (this.errorBuckets) {
      const retryMs = this.errorBuckets.peek(clientIp(req));
      if (retryMs > 0) {
        throw new HttpError(
          429,
          "too_many_errors",
          `too many rejected uploads from ${clientIp(req)}; fix the uploads (see the earlier error messages) and ` +
            `retry in ${retryMs} ms`,
          { "retry-after": String(Math.ceil(retryMs / 1000)) },
        );
      }
    }
    const contentType = this.header(req, "content-type") ?? "";
    if (!contentType.toLowerCase().startsWith("application/octet-stream")) throw this.contentTypeError();
    const length = Number(this.header(req, "content-length") ?? "0");
    if (length > this.o.maxBlobBytes) throw this.tooLarge();
    this.waitParam(req);

    // Headers: present and well-formed (400), then fresh (401).
    const tsRaw = this.header(req, HEADER_TIMESTAMP);
    const signature = this.header(req, HEADER_SIGNATURE);
    const declared = this.header(req, HEADER_ADDRESS);
    const claimed = this.header(req, HEADER_BLOB_HASH);
    const missing = [
      tsRaw === undefined && HEADER_TIMESTAMP,
      signature === undefined && HEADER_SIGNATURE,
      declared === undefined && HEADER_ADDRESS,
      claimed === undefined && HEADER_BLOB_HASH,
    ].filter(Boolean);
    if (missing.length > 0) {
      throw new HttpError(
        400,
        "missing_header",
        `missing ${missing.join(" and ")}: sign the upload (signUpload in src/relay/protocol.ts) and send ` +
          `${HEADER_TIMESTAMP} (unix seconds), ${HEADER_SIGNATURE} (EIP-191 signature, 65 bytes hex), ` +
          `${HEADER_ADDRESS} (the signer) and ${HEADER_BLOB_HASH} (the blob's Poseidon hash)`,
      );
    }
    if (!/^\d{1,12}$/.test(tsRaw!)) {
      throw new HttpError(
        400,
        "bad_header",
        `${HEADER_TIMESTAMP} must be the unix time in whole seconds, got "${tsRaw!.slice(0, 40)}"`,
      );
    }
    if (!SIGNATURE_RE.test(signature!)) {
      throw new HttpError(
        400,
        "bad_header",
        `${HEADER_SIGNATURE} must be a 65-byte signature as 0x-prefixed hex (132 characters), got ` +
          `${signature!.length} characters`,
      );
    }
    if (!ADDRESS_RE.test(declared!)) {
      throw new HttpError(400, "bad_header", `${HEADER_ADDRESS} must be a 0x-prefixed 20-byte address`);
    }
    if (!HASH_RE.test(claimed!)) {
      throw new HttpError(
        400,
        "bad_header",
        `${HEADER_BLOB_HASH} must be the blob's Poseidon hash as 0x-prefixed 32-byte hex (blobHashOfBytes)`,
      );
    }
    const blobHash = claimed!.toLowerCase();
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
    const signer = await this.recoverCached(blobHash, timestamp, signature!.toLowerCase(), declared!);

    // A replay of a blob the relay holds, or is receiving right now, is answered without charging the signer.
    const duplicate = this.uploading.has(blobHash) || (await this.store.blobInfo(blobHash)) !== undefined;
    if (!duplicate) {
      if (this.pendingUploads >= this.o.maxPendingUploads) {
        throw new HttpError(
          503,
          "busy",
          `the relay is at its limit of ${this.o.maxPendingUploads} uploads in progress; retry in a second`,
          { "retry-after": "1" },
        );
      }
      this.charge(signer);
    }
    this.pendingUploads++;
    const auth: UploadAuth = { blobHash, signer, timestamp, duplicate, counted: true };
    if (!duplicate) {
      // Replays that arrive while this upload is received, hashed and committed wait for it, uncharged.
      let done!: () => void;
      const settled = new Promise<void>((resolve) => (done = resolve));
      this.uploading.set(blobHash, settled);
      auth.settle = () => {
        auth.settle = undefined;
        if (this.uploading.get(blobHash) === settled) this.uploading.delete(blobHash);
        done();
      };
    }
    this.auth.set(req, auth);
  }

  /** Takes one token of `signer`'s bucket (429 when empty). */
  private charge(signer: string): void {
    if (!this.buckets) return;
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

  /** `recoverUploader` through the verifier, remembering the last few thousand answers (replays cost nothing). */
  private async recoverCached(blobHash: Hex32, timestamp: number, signature: string, declared: string) {
    const key = `${signature}:${blobHash}:${timestamp}:${declared.toLowerCase()}`;
    let hit = this.recovered.get(key);
    if (!hit) {
      try {
        hit = { signer: await this.verifier.recover(blobHash, timestamp, signature, declared) };
      } catch (error) {
        if (!(error instanceof SignatureError)) throw error;
        hit = { error: error.message };
      }
      this.recovered.set(key, hit);
      if (this.recovered.size > 4096) this.recovered.delete(this.recovered.keys().next().value!);
    }
    if (hit.error !== undefined) throw new HttpError(401, "bad_signature", hit.error);
    return hit.signer!;
  }

  private tooLarge(): HttpError {
    return new HttpError(
      413,
      "blob_too_large",
      `the body is larger than this relay's limit of ${this.o.maxBlobBytes} bytes; send a smaller blob ` +
        `(the operator can raise --max-blob-bytes)`,
    );
  }

  private async upload(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const auth = this.auth.get(req)!;
    if (!Buffer.isBuffer(req.body)) throw this.rejected(req, this.contentTypeError());
    const body = req.body;
    const wait = this.waitParam(req);
    const { blobHash, signer } = auth;
    if (this.stopping) throw new HttpError(503, "shutting_down", "the relay is shutting down; retry shortly");

    let isNew = false;
    let duplicate = auth.duplicate;
    if (duplicate) {
      await this.uploading.get(blobHash)?.catch(() => {});
      const stored = await this.store.getBlob(blobHash);
      if (stored) {
        // The same hash is the same blob only if the bytes agree; comparing costs far less than hashing.
        if (!Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).equals(body)) {
          throw this.rejected(req, this.mismatch(blobHash, "the relay holds other bytes under this hash"));
        }
      } else {
        // The concurrent upload this one waited for failed: this one is an upload like any other.
        this.charge(signer);
        duplicate = false;
      }
    }
    if (!duplicate) {
      try {
        let hash: Hex32;
        try {
          hash = (await this.verifier.hash(body)).toLowerCase();
        } catch (error) {
          if (error instanceof BlobFormatError) throw this.rejected(req, new HttpError(400, "bad_blob", error.message));
          throw error;
        }
        if (hash !== blobHash) throw this.rejected(req, this.mismatch(blobHash, `the body hashes to ${hash}`));
        if (this.stopping) throw new HttpError(503, "shutting_down", "the relay is shutting down; retry shortly");
        isNew = await this.store.putBlob({ hash: blobHash, bytes: body, uploader: signer, receivedAt: Date.now() });
        if (isNew) this.blobAdded();
      } finally {
        auth.settle?.();
      }
    }

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
    const p = this.posterState;
    const stalled = (p.state === "sending" || p.state === "confirming") && Date.now() - p.since > this.o.stallMs;
    let lastError = failing || this.halted ? (this.lastError?.message ?? this.halted) : null;
    if (stalled && !lastError) {
      lastError =
        `batch ${p.batchId}: postRoot ${p.txHash ?? "(not sent yet)"} has been ${p.state} for ` +
        `${Math.round((Date.now() - p.since) / 1000)} s`;
    }
    return {
      status: this.halted ? "error" : failing || stalled ? "degraded" : "ok",
      chainId: this.chainId,
      relayAddress: this.relayAddress,
      relayRoots: getAddress(await this.roots.getAddress()),
      pendingBlobs: s.pendingBlobs,
      unbatchedBlobs: s.unbatchedBlobs,
      pendingBatches: s.pendingBatches,
      totalBlobs: s.totalBlobs,
      postedBatches: s.postedBatches,
      lastRoot: last ? { root: last.root, batchId: last.id, txHash: last.txHash, postedAt: last.postedAt } : null,
      lastError,
      poster: { ...p },
      confirmations: this.o.confirmations,
      chainAnchor: this.anchor,
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

  private setPoster(state: PosterState, batchId: number | null, txHash: string | null = null, attempts = 0): void {
    const p = this.posterState;
    if (p.state !== state || p.batchId !== batchId || p.txHash !== txHash) {
      this.posterState = { state, since: Date.now(), batchId, txHash, attempts };
    } else p.attempts = attempts;
  }

  /** Posts one batch's root, retrying with backoff until it is on-chain or the relay stops. */
  private async postBatch(initial: BatchRecord): Promise<void> {
    let batch = initial;
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        if (await this.tryPost(batch)) {
          if (this.inFlight.size <= 1 && this.queue.length === 0) this.setPoster("idle", null);
          return;
        }
      } catch (error) {
        const message = errorMessage(error);
        this.lastError = { message: `posting batch ${batch.id} failed: ${message}`, at: Date.now() };
        this.log("warn", `posting batch ${batch.id} (root ${batch.root}) failed, attempt ${attempt + 1}: ${message}`);
        if (this.stopping) return;
        if (!this.halted) this.setPoster("retrying", batch.id, batch.txHash, attempt + 1);
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
    // 0. Still the chain this database belongs to? (A chain reset under a running relay: post nothing.)
    const mismatch = await this.anchorMismatch();
    if (mismatch) {
      this.halted = mismatch;
      this.nextNonce = null;
      this.setPoster("halted", batch.id, batch.txHash);
      throw new ChainIdentityError(
        `${mismatch}: the chain was reset or replaced under the running relay, so nothing is posted; restart the ` +
          `relay with a new --db, or with --on-chain-reset repost to post every stored batch again on this chain`,
      );
    }
    if (this.halted) {
      this.log("info", "the chain matches this database's anchor again; posting resumes");
      this.halted = null;
    }

    // 1. A transaction sent earlier (this run or before a restart): wait for it while it is known to the node.
    if (batch.txHash) {
      const receipt = await this.provider.getTransactionReceipt(batch.txHash);
      if (receipt?.status === 1) return this.finish(batch, receipt.hash, receipt.blockNumber);
      if (!receipt && (await this.provider.getTransaction(batch.txHash))) {
        this.setPoster("confirming", batch.id, batch.txHash);
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
    this.setPoster("sending", batch.id);
    const tx = await this.send(async () => {
      // Our own nonce count too: providers may cache the pending count for a moment (ethers: 250 ms).
      // Never further ahead of the node than the posts this relay may have in flight: a count left over from a
      // dropped transaction or a reset chain would leave a nonce gap.
      const pending = await this.provider.getTransactionCount(this.relayAddress, "pending");
      const ours = this.nextNonce !== null && this.nextNonce <= pending + this.o.maxInFlight ? this.nextNonce : 0;
      const nonce = Math.max(pending, ours);
      try {
        const sent = await this.roots.postRoot(batch.root, batch.blobCount, { nonce });
        this.nextNonce = nonce + 1;
        return sent;
      } catch (error) {
        this.nextNonce = null;
        throw new Error(
          `sending postRoot with nonce ${nonce} (the node's pending count is ${pending}) failed: ${errorMessage(error)}`,
        );
      }
    });
    await this.store.markPosting(batch.id, tx.hash);
    batch = { ...batch, status: "posting", txHash: tx.hash };
    this.log("info", `batch ${batch.id}: postRoot sent, tx ${tx.hash} (nonce ${tx.nonce})`);
    this.setPoster("confirming", batch.id, tx.hash);
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

  /**
   * Polls for a receipt until mined, the confirm timeout, or stop (null). A transaction that the node no longer
   * knows and that was not mined was dropped (evicted from the pool, or a reset node): that is an error at once,
   * and the next attempt sends again, instead of waiting out the confirm timeout.
   */
  private async waitForReceipt(hash: string): Promise<TransactionReceipt | null> {
    const deadline = Date.now() + this.o.confirmTimeoutMs;
    for (;;) {
      const receipt = await this.provider.getTransactionReceipt(hash);
      if (receipt) return receipt;
      if (!(await this.provider.getTransaction(hash)) && !(await this.provider.getTransactionReceipt(hash))) {
        this.nextNonce = null;
        throw new Error(
          `postRoot tx ${hash} was dropped: the node no longer knows it and it was not mined; sending the root again`,
        );
      }
      if (this.stopping || Date.now() >= deadline) return null;
      await this.sleep(this.o.pollMs);
    }
  }

  /**
   * Waits until the block holding a postRoot has `confirmations` blocks (itself included) and checks the receipt
   * is still the chain's: a reorg that dropped it is an error, and the next attempt posts again.
   */
  private async confirm(txHash: string, blockNumber: number): Promise<boolean> {
    if (this.o.confirmations <= 1) return true;
    const target = blockNumber + this.o.confirmations - 1;
    let seen = blockNumber;
    for (let head = await this.provider.getBlockNumber(); head < target; head = await this.provider.getBlockNumber()) {
      if (this.stopping) return false;
      // New blocks are progress: only a chain that stops growing makes the post look stalled in /v1/health.
      if (head > seen) {
        seen = head;
        this.posterState.since = Date.now();
      }
      await this.sleep(this.o.pollMs);
    }
    const receipt = await this.provider.getTransactionReceipt(txHash);
    if (!receipt || receipt.status !== 1) {
      throw new Error(`postRoot tx ${txHash}, mined in block ${blockNumber}, was dropped by a reorg; posting again`);
    }
    return true;
  }

  /** Records a batch as posted (reading `rootPostedAt` to be sure) and answers its waiting uploaders. */
  private async finish(
    batch: BatchRecord,
    txHash: string | null,
    blockNumber: number | null,
    knownPostedAt?: bigint,
  ): Promise<boolean> {
    let postedAt: bigint = knownPostedAt ?? (await this.roots.rootPostedAt(batch.root));
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
    if (txHash !== null && blockNumber !== null && this.o.confirmations > 1) {
      if (!(await this.confirm(txHash, blockNumber))) return false;
      postedAt = await this.roots.rootPostedAt(batch.root);
      if (postedAt === 0n) throw new Error(`root ${batch.root} left the chain while it was being confirmed`);
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
