/** Defaults of `RelayOptions` (./relay.ts) and of the CLI flags. */
import type { RateLimit } from "./ratelimit.js";

export const RELAY_DEFAULTS = {
  host: "127.0.0.1",
  port: 8787,
  batchSize: 256,
  batchIntervalMs: 2000,
  /**
   * Largest accepted body. The protocol's blobs are task parameters (2,336 bytes) and results (about 4.4 KiB):
   * 8 KiB leaves headroom without letting one request cost more than two honest ones to read and hash.
   */
  maxBlobBytes: 8 * 1024,
  rateLimit: { burst: 200, perSecond: 50 } as RateLimit,
  /** Per client IP: rejected uploads (4xx) allowed before the IP gets 429 without any further check. */
  errorLimit: { burst: 50, perSecond: 5 } as RateLimit,
  maxWaitMs: 60_000,
  retryBaseMs: 500,
  retryMaxMs: 30_000,
  confirmTimeoutMs: 180_000,
  pollMs: 250,
  maxInFlight: 4,
  /** Blocks (the one holding the postRoot included) before a batch counts as posted; 1 suits a local chain. */
  confirmations: 1,
  /** A sending or confirming post older than this makes /v1/health `degraded`. */
  stallMs: 30_000,
  /** Whole request (headers and body) must arrive within this time (408 after). */
  requestTimeoutMs: 30_000,
  /** Headers must arrive within this time. */
  headersTimeoutMs: 10_000,
  /** Idle keep-alive connections are closed after this time. */
  keepAliveTimeoutMs: 5_000,
  /** How often the server looks for requests past their timeout. */
  timeoutCheckMs: 1_000,
  /** Largest request head (request line and headers); 431 above it. */
  maxHeaderBytes: 8 * 1024,
  /** Open connections, in total and per client IP (further ones are closed at once); 0 = no limit. */
  maxConnections: 1024,
  maxConnectionsPerIp: 128,
  /** Authenticated uploads being received, hashed or committed at once; 503 `busy` beyond. */
  maxPendingUploads: 256,
};
