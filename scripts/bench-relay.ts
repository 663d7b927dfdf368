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
 *
 * `npm run bench:relay -- --junk` measures instead what unauthenticated junk costs the relay (issue 15): the relay
 * CLI runs as a child process (verification on its main thread, rate limits off, so that all of its CPU is in one
 * process and read from /proc), honest 4 KiB uploads are timed alone, then during a flood of one fixed junk request
 * (arbitrary signature) over 16 connections, for a 64 KiB and an 8 KiB body. It prints the relay's CPU per junk
 * request and the honest latencies. BENCH_RELAY_ROOT=<checkout> runs another checkout's relay (e.g. main, for the
 * figures before the fix); BENCH_RELAY_ARGS adds relay flags (e.g. "--error-burst 0": an attacker with many IPs);
 * BENCH_JUNK_SECONDS (5) sets each flood's length.
 */
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { Agent, request } from "node:http";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Wallet } from "ethers";
import { createRelay } from "../src/relay/relay.js";
import { RelayClient } from "../src/relay/client.js";
import { verifyInclusion } from "../src/crypto/merkle.js";
import { API_PREFIX, signUpload } from "../src/relay/protocol.js";
import { WorkerVerifier } from "../src/relay/verify-pool.js";
import { ROOT, deployRelayRoots, startHardhatNode, waitForOutput, type Child } from "../test/relay/local-chain.js";
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

if (process.argv.includes("--junk")) {
  const code = await junkBench().then(
    () => 0,
    (error: unknown) => {
      console.error(error);
      return 1;
    },
  );
  clearTimeout(guard);
  process.exit(code);
}

/** CPU time (ms) a process has used so far (utime + stime of /proc/<pid>/stat, in clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function junkBench(): Promise<void> {
  const seconds = env("BENCH_JUNK_SECONDS", 5);
  const root = process.env.BENCH_RELAY_ROOT ?? ROOT;
  const tmp = tempDir("vss-relay-junk-");
  const node = await startHardhatNode(await freePort());
  let relayChild: Child | null = null;
  try {
    const { provider, relayRoots, relayKey } = await deployRelayRoots(node.url);
    const keyFile = join(tmp.dir, "relay.key");
    writeFileSync(keyFile, relayKey + "\n", { mode: 0o600 });
    const proc = spawn(
      process.execPath,
      [
        "--import",
        import.meta.resolve("tsx/esm"),
        join(root, "src/relay/cli.ts"),
        ...["--rpc", node.url, "--db", join(tmp.dir, "relay.sqlite"), "--port", String(await freePort())],
        ...["--relay-roots", await relayRoots.getAddress(), "--key-file", keyFile],
        ...["--verify-workers", "0", "--rate-burst", "0", "--quiet"],
        ...(process.env.BENCH_RELAY_ARGS ?? "").split(" ").filter(Boolean),
      ],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, NODE_OPTIONS: "", NODE_NO_WARNINGS: "1" },
      },
    );
    let out = "";
    proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | string | null>((r) => proc.once("exit", (c, sig) => r(c ?? sig)));
    relayChild = {
      proc,
      output: () => out,
      exited,
      kill: async (signal: NodeJS.Signals = "SIGKILL") => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
        await exited;
      },
    };
    const [, url] = await waitForOutput(relayChild, /relay listening on (http:\/\/\S+)/, 60_000);
    const pid = proc.pid!;
    console.log(`relay under test: ${join(root, "src/relay/cli.ts")} (pid ${pid})`);

    const honestKey = Wallet.createRandom();
    const honestUpload = async (): Promise<number> => {
      const bytes = blob();
      const signed = await signUpload(honestKey, bytes);
      const t = performance.now();
      const res = await fetch(`${url}${API_PREFIX}/blobs`, { method: "POST", headers: signed.headers, body: bytes });
      if (res.status !== 201) throw new Error(`honest upload: HTTP ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      return performance.now() - t;
    };
    const summary = (xs: number[]) => {
      xs.sort((a, b) => a - b);
      return `p50 ${pct(xs, 50).toFixed(0)} ms, p99 ${pct(xs, 99).toFixed(0)} ms, max ${xs[xs.length - 1].toFixed(0)} ms`;
    };

    // Honest uploads alone: latency and the relay's CPU per upload.
    for (let i = 0; i < 10; i++) await honestUpload(); // warm-up
    const alone: number[] = [];
    let cpu0 = cpuMs(pid);
    for (let i = 0; i < 100; i++) alone.push(await honestUpload());
    const honestCpu = (cpuMs(pid) - cpu0) / 100;
    console.log(`honest 4 KiB uploads alone:  ${summary(alone)}; relay CPU ${honestCpu.toFixed(2)} ms per upload`);

    for (const size of [65536, 8192]) {
      const body = new Uint8Array(size);
      for (let i = 0; i < size / 32; i++) body.set(randomBytes(31), 32 * i + 1);
      const headers = {
        "content-type": "application/octet-stream",
        "x-vss-timestamp": String(Math.floor(Date.now() / 1000)),
        "x-vss-signature": "0x" + randomBytes(65).toString("hex"),
        "x-vss-address": Wallet.createRandom().address,
        "x-vss-blob-hash": "0x" + randomBytes(32).toString("hex"),
      };
      const statuses = new Map<number, number>();
      let junk = 0;
      let flooding = true;
      // The attacker's own address (127.0.0.2), as a different host would be: the relay's per-IP limits apply to it,
      // not to the honest client on 127.0.0.1.
      const agent = new Agent({ keepAlive: true, maxSockets: 16, localAddress: "127.0.0.2" });
      const target = new URL(`${url}${API_PREFIX}/blobs`);
      const send = () =>
        new Promise<number | null>((resolve) => {
          const req = request(target, { method: "POST", headers, agent }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? null));
            res.on("error", () => resolve(null));
          });
          req.on("error", () => resolve(null));
          req.end(body);
        });
      cpu0 = cpuMs(pid);
      const t0 = performance.now();
      const flood = Promise.all(
        Array.from({ length: 16 }, async () => {
          while (flooding) {
            const status = await send();
            if (status !== null) statuses.set(status, (statuses.get(status) ?? 0) + 1);
            junk++;
          }
        }),
      );
      const during: number[] = [];
      while (performance.now() - t0 < seconds * 1000) during.push(await honestUpload());
      flooding = false;
      await flood;
      agent.destroy();
      const elapsed = (performance.now() - t0) / 1000;
      const cpu = cpuMs(pid) - cpu0 - honestCpu * during.length;
      const codes = [...statuses].map(([s, n]) => `${n}× ${s}`).join(", ");
      console.log(
        `junk ${size / 1024} KiB × 16 connections: ${junk} requests in ${elapsed.toFixed(1)} s ` +
          `(${(junk / elapsed).toFixed(0)}/s; ${codes}); relay CPU ${(cpu / junk).toFixed(2)} ms per junk request; ` +
          `honest uploads meanwhile: ${during.length}, ${summary(during)}`,
      );
    }
    provider.destroy();
  } finally {
    await relayChild?.kill("SIGKILL");
    await node.child.kill("SIGKILL");
    tmp.remove();
  }
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
