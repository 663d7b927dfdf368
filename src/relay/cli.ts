/**
 * The relay as a program: `npm run relay -- [options]` (= `tsx src/relay/cli.ts [options]`). `--help` lists the
 * options; ./README.md explains them.
 */
import "./quiet-sqlite-warning.js";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { JsonRpcProvider, Network, Wallet, isAddress } from "ethers";
import { RELAY_DEFAULTS } from "./defaults.js";

const DEFAULT_WORKERS = Math.min(8, availableParallelism());

const USAGE = `Usage: npm run relay -- [options]

  --rpc <url>               JSON-RPC endpoint of the chain            (default http://127.0.0.1:8545)
  --db <path>               SQLite database file                      (default data/relay.sqlite)
  --host <addr>             listen address                            (default 127.0.0.1)
  --port <n>                listen port, 0 for any free port          (default 8787)
  --relay-roots <address>   RelayRoots contract                       (default: VSSNetwork#RelayRoots in
                            deploy/deployments/chain-<chainId>/deployed_addresses.json)
  --key-file <path>         file holding the relay account's private key (0x hex); or set RELAY_PRIVATE_KEY
  --batch-size <n>          a batch closes after n blobs ...          (default ${RELAY_DEFAULTS.batchSize})
  --batch-interval-ms <ms>  ... or ms after its first blob            (default ${RELAY_DEFAULTS.batchIntervalMs})
  --max-blob-bytes <n>      largest accepted blob                     (default ${RELAY_DEFAULTS.maxBlobBytes})
  --rate-burst <n>          per-address token bucket size, 0 = off    (default ${RELAY_DEFAULTS.rateLimit.burst})
  --rate-per-s <n>          per-address refill per second             (default ${RELAY_DEFAULTS.rateLimit.perSecond})
  --error-burst <n>         per client IP: rejected uploads before 429, 0 = off (default ${RELAY_DEFAULTS.errorLimit.burst})
  --error-per-s <n>         per client IP: refill per second            (default ${RELAY_DEFAULTS.errorLimit.perSecond})
  --max-wait-ms <ms>        cap of ?wait=                             (default ${RELAY_DEFAULTS.maxWaitMs})
  --max-in-flight <n>       batches posted concurrently               (default ${RELAY_DEFAULTS.maxInFlight})
  --verify-workers <n>      worker processes hashing and checking uploads, 0 = main thread
                            (default: the number of cores, at most 8; here ${DEFAULT_WORKERS})
  --confirmations <n>       blocks a postRoot needs before its batch counts as posted (default ${RELAY_DEFAULTS.confirmations})
  --on-chain-reset <what>   the chain is not the one the database was pinned to: refuse (exit 2) or
                            repost (re-pin the database and post every batch again)  (default refuse)
  --request-timeout-ms <ms> a request must arrive whole within this time (default ${RELAY_DEFAULTS.requestTimeoutMs})
  --max-connections-per-ip <n>  open connections per client IP, 0 = no limit (default ${RELAY_DEFAULTS.maxConnectionsPerIp})
  --quiet                   log errors only
  --help                    this text
`;

class UsageError extends Error {}

function fail(message: string): never {
  console.error(`relay: ${message}`);
  process.exit(2);
}

function int(name: string, raw: string | undefined, fallback: number, min = 0): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min)
    throw new UsageError(`--${name} must be a whole number ≥ ${min}, got "${raw}"`);
  return Number(raw);
}

async function chainIdOf(rpc: string): Promise<bigint> {
  let response: Response;
  try {
    response = await fetch(rpc, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new UsageError(
      `cannot reach the chain at ${rpc} (${(error as Error).cause ?? (error as Error).message}); start a node ` +
        `(npx hardhat node) or pass --rpc <url>`,
    );
  }
  const body = (await response.json().catch(() => null)) as { result?: string } | null;
  if (!response.ok || typeof body?.result !== "string") {
    throw new UsageError(`${rpc} is not an Ethereum JSON-RPC endpoint (eth_chainId failed, HTTP ${response.status})`);
  }
  return BigInt(body.result);
}

function relayKey(keyFile: string | undefined): string {
  let key: string;
  if (keyFile !== undefined) {
    if (!existsSync(keyFile)) throw new UsageError(`--key-file ${keyFile} does not exist`);
    key = readFileSync(keyFile, "utf8").trim();
  } else if (process.env.RELAY_PRIVATE_KEY) {
    key = process.env.RELAY_PRIVATE_KEY.trim();
  } else {
    throw new UsageError(
      "no key for the relay account: pass --key-file <path> (a file holding its 0x-prefixed private key) or set " +
        "RELAY_PRIVATE_KEY; the account must hold RELAY_ROLE on RelayRoots",
    );
  }
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(key)) {
    throw new UsageError(
      `the relay key ${keyFile ? `in ${keyFile} ` : "in RELAY_PRIVATE_KEY "}is not a 32-byte hex private key`,
    );
  }
  return key.startsWith("0x") ? key : `0x${key}`;
}

function relayRootsFromIgnition(chainId: bigint): string {
  const file = resolve("deploy", "deployments", `chain-${chainId}`, "deployed_addresses.json");
  if (!existsSync(file)) {
    throw new UsageError(
      `no --relay-roots given and no deployment at ${file}; pass --relay-roots <address>, or deploy the ` +
        `VSSNetwork Ignition module (deploy/modules/VSSNetwork.ts) to this chain first`,
    );
  }
  const address = (JSON.parse(readFileSync(file, "utf8")) as Record<string, string>)["VSSNetwork#RelayRoots"];
  if (!address || !isAddress(address)) throw new UsageError(`${file} has no VSSNetwork#RelayRoots address`);
  return address;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rpc: { type: "string", default: "http://127.0.0.1:8545" },
      db: { type: "string", default: "data/relay.sqlite" },
      host: { type: "string", default: RELAY_DEFAULTS.host },
      port: { type: "string" },
      "relay-roots": { type: "string" },
      "key-file": { type: "string" },
      "batch-size": { type: "string" },
      "batch-interval-ms": { type: "string" },
      "max-blob-bytes": { type: "string" },
      "rate-burst": { type: "string" },
      "rate-per-s": { type: "string" },
      "error-burst": { type: "string" },
      "error-per-s": { type: "string" },
      "max-wait-ms": { type: "string" },
      "max-in-flight": { type: "string" },
      "verify-workers": { type: "string" },
      confirmations: { type: "string" },
      "on-chain-reset": { type: "string", default: "refuse" },
      "request-timeout-ms": { type: "string" },
      "max-connections-per-ip": { type: "string" },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = int("port", values.port, RELAY_DEFAULTS.port);
  const batchSize = int("batch-size", values["batch-size"], RELAY_DEFAULTS.batchSize, 1);
  const batchIntervalMs = int("batch-interval-ms", values["batch-interval-ms"], RELAY_DEFAULTS.batchIntervalMs);
  const maxBlobBytes = int("max-blob-bytes", values["max-blob-bytes"], RELAY_DEFAULTS.maxBlobBytes, 128);
  const burst = int("rate-burst", values["rate-burst"], RELAY_DEFAULTS.rateLimit.burst);
  const perSecond = int("rate-per-s", values["rate-per-s"], RELAY_DEFAULTS.rateLimit.perSecond, 1);
  const errorBurst = int("error-burst", values["error-burst"], RELAY_DEFAULTS.errorLimit.burst);
  const errorPerSecond = int("error-per-s", values["error-per-s"], RELAY_DEFAULTS.errorLimit.perSecond, 1);
  const maxWaitMs = int("max-wait-ms", values["max-wait-ms"], RELAY_DEFAULTS.maxWaitMs);
  const maxInFlight = int("max-in-flight", values["max-in-flight"], RELAY_DEFAULTS.maxInFlight, 1);
  const verifyWorkers = int("verify-workers", values["verify-workers"], DEFAULT_WORKERS);
  const confirmations = int("confirmations", values.confirmations, RELAY_DEFAULTS.confirmations, 1);
  const requestTimeoutMs = int("request-timeout-ms", values["request-timeout-ms"], RELAY_DEFAULTS.requestTimeoutMs, 1);
  const maxConnectionsPerIp = int(
    "max-connections-per-ip",
    values["max-connections-per-ip"],
    RELAY_DEFAULTS.maxConnectionsPerIp,
  );
  const onChainReset = values["on-chain-reset"];
  if (onChainReset !== "refuse" && onChainReset !== "repost") {
    throw new UsageError(`--on-chain-reset must be refuse or repost, got "${onChainReset}"`);
  }
  const key = relayKey(values["key-file"]);

  const rpc = values.rpc!;
  const chainId = await chainIdOf(rpc);
  const relayRoots = values["relay-roots"] ?? relayRootsFromIgnition(chainId);
  if (!isAddress(relayRoots)) throw new UsageError(`--relay-roots ${relayRoots} is not an address`);
  const provider = new JsonRpcProvider(rpc, Network.from(chainId), { staticNetwork: true, cacheTimeout: -1 });
  const signer = new Wallet(key, provider);

  const quiet = values.quiet;
  // Loaded after the warning filter (static imports of node:sqlite would warn before any code runs).
  const { createRelay } = await import("./relay.js");
  const { WorkerVerifier } = await import("./verify-pool.js");
  let relay: ReturnType<typeof createRelay>;
  try {
    relay = createRelay({
      signer,
      relayRoots,
      dbPath: values.db!,
      host: values.host,
      port,
      batchSize,
      batchIntervalMs,
      maxBlobBytes,
      rateLimit: burst === 0 ? null : { burst, perSecond },
      errorLimit: errorBurst === 0 ? null : { burst: errorBurst, perSecond: errorPerSecond },
      maxWaitMs,
      maxInFlight,
      confirmations,
      onChainReset,
      requestTimeoutMs,
      maxConnectionsPerIp,
      verifier: verifyWorkers > 0 ? new WorkerVerifier(verifyWorkers) : undefined,
      log: (level, message) => {
        if (quiet && level !== "error") return;
        const line = `${new Date().toISOString()} ${level} ${message}`;
        if (level === "info") console.log(line);
        else console.error(line);
      },
    });
  } catch (error) {
    throw new UsageError(
      `cannot open the relay database ${resolve(values.db!)}: ${(error as Error).message}; check the path and its ` +
        `permissions, or pass another --db`,
    );
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`relay: ${signal}, stopping`);
    relay.stop().then(
      () => process.exit(0),
      (error) => {
        console.error(`relay: stop failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  try {
    const url = await relay.start();
    console.log(`relay listening on ${url} (db ${resolve(values.db!)})`);
  } catch (error) {
    await relay.stop().catch(() => {});
    throw new UsageError((error as Error).message);
  }
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) fail(error.message);
  if (error instanceof Error && "code" in error && error.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    fail(`${error.message}\n\n${USAGE}`);
  }
  fail(error instanceof Error ? (error.stack ?? error.message) : String(error));
});
