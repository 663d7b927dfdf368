/**
 * Relay throughput and gas: `npm run bench:relay` (= `tsx scripts/bench-relay.ts`).
 *
 * Starts a `hardhat node` child process on a free loopback port (automine), deploys `RelayRoots`, runs the relay
 * in this process (SQLite in a temp directory, worker-thread verification, default batch size and interval), and
 * uploads N blobs of SIZE bytes (random field elements: the valid blob format) from CONCURRENCY clients with
 * distinct keys. Signing happens before the clock starts (it is the clients' cost, not the relay's). Latencies per
 * blob:
 *   ack       = POST sent → 201 (durable);
 *   committed = POST sent → its batch recorded as posted (postRoot mined), when the proof becomes available; observed
 *               by watching the relay's store every 20 ms rather than by a long-poll per blob, which would double the
 *               HTTP load on the machine. Afterwards the proofs of the first 50 blobs are fetched and checked.
 * Gas per blob = Σ postRoot gasUsed / Σ blobs over the batches of the run.
 *
 * Environment (all optional): BENCH_N (2000), BENCH_CONCURRENCY (32), BENCH_SIZE (4096), BENCH_BATCH_SIZE (256),
 * BENCH_INTERVAL_MS (2000), BENCH_VERIFY_WORKERS (2). The last line is always
 * `relay uploads_per_s=<N> gas_per_blob=<N>`. Bounded: gives up after 10 minutes.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Wallet } from "ethers";
import { createRelay } from "../src/relay/relay.js";
import { RelayClient } from "../src/relay/client.js";
import { verifyInclusion } from "../src/crypto/merkle.js";
import { API_PREFIX, signUpload } from "../src/relay/protocol.js";
import { WorkerVerifier } from "../src/relay/verify-pool.js";
import { deployRelayRoots, startHardhatNode } from "../test/relay/local-chain.js";
import { freePort, tempDir } from "../test/relay/helpers.js";

const env = (name: string, fallback: number) => {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  if (!/^\d+$/.test(v)) throw new Error(`${name} must be a whole number, got ${v}`);
  return Number(v);
};
const N = env("BENCH_N", 2000);
const CONCURRENCY = env("BENCH_CONCURRENCY", 32);
const SIZE = env("BENCH_SIZE", 4096);
const BATCH_SIZE = env("BENCH_BATCH_SIZE", 256);
const INTERVAL_MS = env("BENCH_INTERVAL_MS", 2000);
const VERIFY_WORKERS = env("BENCH_VERIFY_WORKERS", 2);
if (SIZE % 32 !== 0 || SIZE < 128) throw new Error("BENCH_SIZE must be a multiple of 32, at least 128");

const guard = setTimeout(() => {
  console.error("bench-relay: did not finish within 10 minutes");
  process.exit(1);
}, 600_000);

function blob(): Uint8Array {
  const out = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE / 32; i++) out.set(randomBytes(31), 32 * i + 1);
  return out;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const tmp = tempDir("vss-relay-bench-");
const node = await startHardhatNode(await freePort());
let exitCode = 0;
try {
  const { provider, relayRoots, relayKey } = await deployRelayRoots(node.url);
  const relay = createRelay({
    signer: new Wallet(relayKey, provider),
    relayRoots: await relayRoots.getAddress(),
    dbPath: join(tmp.dir, "relay.sqlite"),
    port: 0,
    batchSize: BATCH_SIZE,
    batchIntervalMs: INTERVAL_MS,
    rateLimit: null,
    pollMs: 50,
    verifier: VERIFY_WORKERS > 0 ? new WorkerVerifier(VERIFY_WORKERS) : undefined,
  });
  const url = await relay.start();
  const client = new RelayClient(url);

  // Prepare: blobs and signatures (client-side work, outside the measurement).
  const clients = Array.from({ length: CONCURRENCY }, () => Wallet.createRandom());
  const t0prep = performance.now();
  const jobs = await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      const bytes = blob();
      return { bytes, signed: await signUpload(clients[i % CONCURRENCY], bytes) };
    }),
  );
  console.log(
    `prepared ${N} blobs of ${SIZE} bytes, signed by ${CONCURRENCY} keys in ${((performance.now() - t0prep) / 1000).toFixed(1)} s`,
  );

  const ack: number[] = [];
  const committed: number[] = [];
  const sentAt = new Map<string, number>();
  let next = 0;
  let lastAck = 0;

  // Commit times: the relay's store is watched in-process (every 20 ms) for batches that became posted, instead of
  // a long-poll per blob, so that measuring does not double the HTTP load. GET /proof then serves each such blob.
  let watching = true;
  const watcher = (async () => {
    let seen = 0;
    while (watching || committed.length < N) {
      const { postedBatches } = await relay.store.stats();
      for (; seen < postedBatches; seen++) {
        const now = performance.now();
        for (const h of await relay.store.batchMembers(seen + 1)) {
          const t = sentAt.get(h);
          if (t !== undefined) committed.push(now - t);
        }
      }
      if (committed.length >= N) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();

  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (;;) {
        const i = next++;
        if (i >= N) return;
        const { bytes, signed } = jobs[i];
        const sent = performance.now();
        sentAt.set(signed.blobHash, sent);
        const res = await fetch(`${url}${API_PREFIX}/blobs`, { method: "POST", headers: signed.headers, body: bytes });
        if (res.status !== 201) throw new Error(`upload ${i}: HTTP ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
        const acked = performance.now();
        ack.push(acked - sent);
        lastAck = acked;
      }
    }),
  );
  const uploadSeconds = (lastAck - start) / 1000;
  watching = false;
  await watcher;
  const allCommitted = (performance.now() - start) / 1000;
  // Every proof is served and valid (off-chain check; the tests check on-chain too).
  for (const { signed } of jobs.slice(0, 50)) {
    const proof = await client.waitForProof(signed.blobHash, 60_000);
    if (!verifyInclusion(proof)) throw new Error(`invalid proof for ${signed.blobHash}`);
  }

  // Gas of the run's postRoot transactions.
  const stats = await relay.store.stats();
  let gas = 0n;
  let blobs = 0;
  for (let id = 1; id <= stats.postedBatches; id++) {
    const batch = (await relay.store.getBatch(id))!;
    const receipt = await provider.getTransactionReceipt(batch.txHash!);
    gas += receipt!.gasUsed;
    blobs += batch.blobCount;
  }
  await relay.stop();
  provider.destroy();

  ack.sort((a, b) => a - b);
  committed.sort((a, b) => a - b);
  const uploadsPerS = Math.round(N / uploadSeconds);
  const gasPerBlob = Math.round(Number(gas) / blobs);
  console.log(
    `uploads:        ${N} × ${SIZE} B from ${CONCURRENCY} concurrent clients in ${uploadSeconds.toFixed(2)} s`,
  );
  console.log(`throughput:     ${uploadsPerS} uploads/s (${((N * SIZE) / uploadSeconds / 2 ** 20).toFixed(2)} MiB/s)`);
  console.log(`ack latency:    p50 ${pct(ack, 50).toFixed(1)} ms, p99 ${pct(ack, 99).toFixed(1)} ms`);
  console.log(
    `commit latency: p50 ${pct(committed, 50).toFixed(1)} ms, p99 ${pct(committed, 99).toFixed(1)} ms (all committed after ${allCommitted.toFixed(2)} s)`,
  );
  console.log(
    `batches:        ${stats.postedBatches} (batch size ${BATCH_SIZE}, interval ${INTERVAL_MS} ms), ${blobs} blobs`,
  );
  console.log(`gas:            ${gas} postRoot gas in total, ${gasPerBlob} per blob`);
  console.log(`relay uploads_per_s=${uploadsPerS} gas_per_blob=${gasPerBlob}`);
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  await node.child.kill("SIGKILL");
  tmp.remove();
  clearTimeout(guard);
}
process.exit(exitCode);
