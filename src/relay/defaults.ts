/** Defaults of `RelayOptions` (./relay.ts) and of the CLI flags. */
import type { RateLimit } from "./ratelimit.js";

export const RELAY_DEFAULTS = {
  host: "127.0.0.1",
  port: 8787,
  batchSize: 256,
  batchIntervalMs: 2000,
  maxBlobBytes: 64 * 1024,
  rateLimit: { burst: 200, perSecond: 50 } as RateLimit,
  maxWaitMs: 60_000,
  retryBaseMs: 500,
  retryMaxMs: 30_000,
  confirmTimeoutMs: 180_000,
  pollMs: 250,
  maxInFlight: 4,
};
